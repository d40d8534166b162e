package profile

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// edgeValues are sorted values that stress the key: both zeros,
// denormals, bin boundaries on either side of zero (powers of two and
// their negatives) and the extremes.
var edgeValues = []float64{
	-math.MaxFloat64, -1e300, -3, -2.0000000000000004, -2, -1.9999999999999998, -1.5, -1.0078125, -1,
	-0.9999999999999999, -math.SmallestNonzeroFloat64 * (1 << 52), -1e-310, -math.SmallestNonzeroFloat64 * 2,
	-math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64,
	math.SmallestNonzeroFloat64 * 2, 1e-310, math.SmallestNonzeroFloat64 * (1 << 52), 0.9999999999999999, 1,
	1.0078125, 1.5, 1.9999999999999998, 2, 2.0000000000000004, 3, 1e300, math.MaxFloat64,
}

// testValues are edgeValues plus random values of every magnitude and sign.
func testValues(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	vals := slices.Clone(edgeValues)
	for range n {
		x := math.Float64frombits(r.Uint64()&^(0x7ff<<52) | uint64(r.IntN(2047))<<52) // any finite pattern
		vals = append(vals, x)
	}
	slices.Sort(vals)
	return vals
}

func TestKeyMonotoneAndBounds(t *testing.T) {
	vals := testValues(20000, 1)
	for bits := int32(MinPrecision); bits <= 52; bits++ {
		lo, hi := keyRange(bits)
		for i, x := range vals {
			k := Key(x, bits)
			if i > 0 && k < Key(vals[i-1], bits) {
				t.Fatalf("bits %d: Key(%g) = %d < Key(%g) = %d", bits, x, k, vals[i-1], Key(vals[i-1], bits))
			}
			if l, u := Lower(k, bits), Upper(k, bits); !(l <= x && x < u) {
				t.Fatalf("bits %d: %g (key %d) is outside [Lower %g, Upper %g)", bits, x, k, l, u)
			}
			if k < lo || k > hi {
				t.Fatalf("bits %d: Key(%g) = %d is outside the finite range [%d, %d]", bits, x, k, lo, hi)
			}
			// Bins tile the line: a bin's Upper is the next bin's Lower.
			if k < hi && Upper(k, bits) != Lower(k+1, bits) {
				t.Fatalf("bits %d: Upper(%d) = %g but Lower(%d) = %g", bits, k, Upper(k, bits), k+1, Lower(k+1, bits))
			}
			// Coarsening is a shift of the key.
			if bits > MinPrecision {
				if c := coarserKey(k, 1); c != Key(x, bits-1) {
					t.Fatalf("bits %d: coarserKey(Key(%g)) = %d, Key at %d bits = %d", bits, x, c, bits-1, Key(x, bits-1))
				}
			}
		}
	}
	if Key(math.Copysign(0, -1), Precision) != 0 || Key(0, Precision) != 0 {
		t.Fatal("the zeros are not key 0")
	}
}

// refHist is the straightforward histogram Hist must equal: a map of keys,
// coarsened by one bit whenever it holds more than MaxBins.
func refHist(vals []float64) *pb.Histogram {
	bits := int32(Precision)
	m := map[int64]int64{}
	for _, x := range vals {
		m[Key(x, bits)]++
		for len(m) > MaxBins && bits > MinPrecision {
			next := map[int64]int64{}
			for k, c := range m {
				next[coarserKey(k, 1)] += c
			}
			m, bits = next, bits-1
		}
	}
	out := &pb.Histogram{PrecisionBits: bits}
	for k := range m {
		out.Keys = append(out.Keys, k)
	}
	slices.Sort(out.Keys)
	for _, k := range out.Keys {
		out.Counts = append(out.Counts, m[k])
	}
	return out
}

func histOf(vals []float64) *pb.Histogram {
	h := NewHist()
	for _, x := range vals {
		h.Add(x)
	}
	return h.Proto()
}

// histCases: narrow data that stays at Precision, and wide data that
// makes the histogram coarsen.
func histCases() map[string][]float64 {
	r := rand.New(rand.NewPCG(7, 7))
	narrow := make([]float64, 30000)
	for i := range narrow {
		narrow[i] = r.NormFloat64()*10 + 3
	}
	wide := testValues(30000, 2)
	r.Shuffle(len(wide), func(i, j int) { wide[i], wide[j] = wide[j], wide[i] })
	ints := make([]float64, 20000)
	for i := range ints {
		ints[i] = float64(r.IntN(500) - 100)
	}
	return map[string][]float64{"narrow": narrow, "wide": wide, "ints": ints}
}

func TestHistMatchesReference(t *testing.T) {
	for name, vals := range histCases() {
		got, want := histOf(vals), refHist(vals)
		if !proto.Equal(got, want) {
			t.Errorf("%s: Hist gives %d bins at %d bits, the reference %d at %d", name, len(got.Keys), got.PrecisionBits, len(want.Keys), want.PrecisionBits)
		}
		if err := CheckHistogram(got); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if total(got) != int64(len(vals)) {
			t.Errorf("%s: total %d, want %d", name, total(got), len(vals))
		}
		if name == "wide" && got.PrecisionBits == Precision {
			t.Errorf("wide data did not coarsen")
		}
		if name == "narrow" && got.PrecisionBits != Precision {
			t.Errorf("narrow data coarsened to %d bits", got.PrecisionBits)
		}
	}
}

func TestMergeIsAdd(t *testing.T) {
	for name, vals := range histCases() {
		for _, cut := range []int{0, 1, len(vals) / 3, len(vals) - 5, len(vals)} {
			a, b := histOf(vals[:cut]), histOf(vals[cut:])
			want := histOf(vals)
			if got := MergeHistograms(a, b); !proto.Equal(got, want) {
				t.Errorf("%s cut %d: merge has %d bins at %d bits, the histogram of all %d at %d", name, cut, len(got.Keys), got.PrecisionBits, len(want.Keys), want.PrecisionBits)
			}
			if got := MergeHistograms(b, a); !proto.Equal(got, want) {
				t.Errorf("%s cut %d: merge in the other order differs", name, cut)
			}
		}
	}
	if MergeHistograms(nil, nil) != nil {
		t.Error("merge of nothing is not nil")
	}
	e := &pb.Histogram{PrecisionBits: Precision}
	if got := MergeHistograms(e, nil); !proto.Equal(got, e) {
		t.Errorf("empty + nil = %v", got)
	}
}

func TestCoarsenExact(t *testing.T) {
	vals := histCases()["narrow"]
	h := histOf(vals)
	for bits := int32(MinPrecision); bits <= Precision; bits++ {
		c := Coarsen(h, bits)
		if c.PrecisionBits != bits {
			t.Fatalf("Coarsen to %d gives %d bits", bits, c.PrecisionBits)
		}
		// Exact: the same as keying every value at that precision.
		want := map[int64]int64{}
		for _, x := range vals {
			want[Key(x, bits)]++
		}
		if len(c.Keys) != len(want) {
			t.Fatalf("bits %d: %d bins, want %d", bits, len(c.Keys), len(want))
		}
		for i, k := range c.Keys {
			if c.Counts[i] != want[k] {
				t.Fatalf("bits %d: key %d counts %d, want %d", bits, k, c.Counts[i], want[k])
			}
		}
		if err := CheckHistogram(c); err != nil {
			t.Fatal(err)
		}
	}
	if c := Coarsen(h, Precision+3); !proto.Equal(c, h) {
		t.Error("Coarsen to a finer precision changed the histogram")
	}
}

// exactQuantile is QuantileKey's definition on the raw values: the value
// of rank ceil(q·n), at least 1.
func exactQuantile(sorted []float64, q float64) float64 {
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return sorted[rank-1]
}

func TestQuantileRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	dists := map[string]func() float64{
		"normal":    func() float64 { return r.NormFloat64()*5 + 1 },
		"negative":  func() float64 { return -math.Exp(r.NormFloat64() * 3) },
		"lognormal": func() float64 { return math.Exp(r.NormFloat64() * 4) },
		"ints":      func() float64 { return float64(r.IntN(1000) - 500) },
		"huge":      func() float64 { return math.Copysign(math.MaxFloat64*r.Float64(), r.NormFloat64()) },
	}
	levels := append(slices.Clone(Levels), 0, 0.001, 0.333, 0.999, 1)
	for name, gen := range dists {
		vals := make([]float64, 20000)
		for i := range vals {
			vals[i] = gen()
		}
		h := histOf(vals)
		if h.PrecisionBits != Precision {
			t.Fatalf("%s: coarsened to %d bits", name, h.PrecisionBits)
		}
		slices.Sort(vals)
		for _, q := range levels {
			got, ok := Quantile(h, q)
			want := exactQuantile(vals, q)
			if !ok || math.Abs(got-want) > math.Abs(want)/(1<<Precision) {
				t.Errorf("%s: quantile %g = %g, exact %g: relative error %g > 2^-%d", name, q, got, want, math.Abs(got-want)/math.Abs(want), Precision)
			}
			if got > want {
				t.Errorf("%s: quantile %g = %g is above the exact %g (it is its bin's lower bound)", name, q, got, want)
			}
		}
	}
	if _, ok := Quantile(&pb.Histogram{PrecisionBits: Precision}, 0.5); ok {
		t.Error("quantile of an empty histogram")
	}
}

func TestCompareBins(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	// Integers and halves put many values exactly on bin boundaries,
	// negative ones included, where a cut between keys must still be a
	// cut between values.
	gen := func(n int, shift float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(r.IntN(64)-32)/2 + shift
		}
		return v
	}
	wide := testValues(8000, 9) // coarsens: the comparison goes to its precision
	for _, tc := range []struct {
		name     string
		ref, cur []float64
		bins     int
	}{
		{"same", gen(5000, 0), gen(4000, 0), 10},
		{"shifted", gen(5000, 0), gen(3000, 3), 10},
		{"coarse current", gen(5000, 0), append(gen(3000, 1), wide...), 7},
		{"coarse reference", wide, gen(3000, 0), 10},
		{"one bin", gen(100, 0), gen(50, 0), 1},
		{"empty current", gen(100, 0), nil, 4},
	} {
		ref, cur := histOf(tc.ref), histOf(tc.cur)
		rc, cc := CompareBins(ref, cur, tc.bins)
		if len(rc) != len(cc) || len(rc) > tc.bins {
			t.Fatalf("%s: %d and %d bins for %d", tc.name, len(rc), len(cc), tc.bins)
		}
		if sum(rc) != int64(len(tc.ref)) || sum(cc) != int64(len(tc.cur)) {
			t.Fatalf("%s: counts sum to %d and %d, want %d and %d", tc.name, sum(rc), sum(cc), len(tc.ref), len(tc.cur))
		}
		// Brute force: the cuts as values (the Lower of each cut key at the
		// common precision), and the raw values counted against them.
		bits := min(ref.PrecisionBits, cur.PrecisionBits)
		if len(tc.cur) == 0 {
			bits = ref.PrecisionBits
		}
		cref := Coarsen(ref, bits)
		var cuts []float64
		for i := 1; i < tc.bins; i++ {
			k, _ := QuantileKey(cref, float64(i)/float64(tc.bins))
			if c := Lower(k+1, bits); len(cuts) == 0 || c > cuts[len(cuts)-1] {
				cuts = append(cuts, c)
			}
		}
		for _, side := range []struct {
			vals []float64
			got  []int64
		}{{tc.ref, rc}, {tc.cur, cc}} {
			want := make([]int64, len(cuts)+1)
			for _, x := range side.vals {
				j := 0
				for j < len(cuts) && x >= cuts[j] {
					j++
				}
				want[j]++
			}
			if !slices.Equal(side.got, want) {
				t.Errorf("%s: CompareBins counts %v, counting the values against the cuts %v gives %v", tc.name, side.got, cuts, want)
			}
		}
	}
}

func sum(s []int64) int64 {
	var n int64
	for _, x := range s {
		n += x
	}
	return n
}

func TestCheckHistogram(t *testing.T) {
	ok := histOf([]float64{-1, 0, 1, 2})
	if err := CheckHistogram(ok); err != nil {
		t.Fatal(err)
	}
	_, hi := keyRange(Precision)
	for name, h := range map[string]*pb.Histogram{
		"precision":     {PrecisionBits: 1},
		"lengths":       {PrecisionBits: Precision, Keys: []int64{1}, Counts: []int64{1, 2}},
		"order":         {PrecisionBits: Precision, Keys: []int64{2, 1}, Counts: []int64{1, 1}},
		"duplicate key": {PrecisionBits: Precision, Keys: []int64{2, 2}, Counts: []int64{1, 1}},
		"zero count":    {PrecisionBits: Precision, Keys: []int64{1}, Counts: []int64{0}},
		"non-finite":    {PrecisionBits: Precision, Keys: []int64{hi + 1}, Counts: []int64{1}},
		"overflow":      {PrecisionBits: Precision, Keys: []int64{1, 2}, Counts: []int64{math.MaxInt64, 1}},
	} {
		if CheckHistogram(h) == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// addN(x, k) is k Adds of x, coarsening included.
func TestHistAddN(t *testing.T) {
	for name, vals := range histCases() {
		counts := map[float64]int64{}
		var order []float64
		for _, x := range vals {
			if counts[x] == 0 {
				order = append(order, x)
			}
			counts[x]++
		}
		h := NewHist()
		for _, x := range order {
			h.addN(x, counts[x])
		}
		if got, want := h.Proto(), refHist(vals); !proto.Equal(got, want) {
			t.Errorf("%s: addN gives %d bins at %d bits, the reference %d at %d", name, len(got.Keys), got.PrecisionBits, len(want.Keys), want.PrecisionBits)
		}
	}
}
