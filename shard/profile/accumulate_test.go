package profile_test

import (
	"cmp"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"

	"math/rand/v2"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/profile"
)

const mixedRows = 120_000

func partialOf(t *testing.T, schema *arrow.Schema, recs []arrow.Record) *pb.DatasetProfile {
	t.Helper()
	acc := profile.NewAccumulator(schema)
	for _, r := range recs {
		if err := acc.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	return acc.Partial()
}

// TestAccumulatorBruteForce checks every statistic of a partial against
// the raw values.
func TestAccumulatorBruteForce(t *testing.T) {
	tb := genTable(mixedRows, 1, mixedColumns())
	recs := tb.records(0, tb.rows(), 7000)
	defer release(recs)
	p := partialOf(t, tb.schema, recs)
	if err := profile.Check(p); err != nil {
		t.Fatal(err)
	}
	if p.FormatVersion != 1 || p.Rows != mixedRows || p.Shards != 1 || p.Dataset != "" || p.Fingerprint != "" {
		t.Fatalf("header: version %d rows %d shards %d dataset %q fingerprint %q", p.FormatVersion, p.Rows, p.Shards, p.Dataset, p.Fingerprint)
	}
	if len(p.Columns) != len(tb.cols) {
		t.Fatalf("%d columns, want %d", len(p.Columns), len(tb.cols))
	}
	finished := proto.Clone(p).(*pb.DatasetProfile)
	profile.Finish(finished)
	for i, c := range p.Columns {
		f := tb.schema.Field(i)
		vals := tb.cols[i]
		t.Run(f.Name, func(t *testing.T) {
			if c.Name != f.Name || c.Type != f.Type.String() {
				t.Errorf("name %q type %q, want %q %q", c.Name, c.Type, f.Name, f.Type)
			}
			nulls := 0
			for _, v := range vals {
				if v == nil {
					nulls++
				}
			}
			if c.Count != mixedRows || c.Nulls != int64(nulls) {
				t.Errorf("count %d nulls %d, want %d %d", c.Count, c.Nulls, mixedRows, nulls)
			}
			switch f.Name {
			case "i64", "i32", "u8", "u64", "f64", "f32":
				wantKind(t, c, pb.ColumnKind_COLUMN_KIND_NUMERIC)
				checkNumeric(t, c.Numeric, finished.Columns[i].Numeric, vals)
			case "s_low", "s_high", "s_ids", "ls", "b", "dict":
				wantKind(t, c, pb.ColumnKind_COLUMN_KIND_CATEGORICAL)
				checkCategorical(t, c.Categorical, vals)
			default:
				wantKind(t, c, pb.ColumnKind_COLUMN_KIND_OTHER)
				if c.Numeric != nil || c.Categorical != nil {
					t.Error("an OTHER column has statistics")
				}
			}
		})
	}
	// The columns that must have gone each way did.
	byName := map[string]*pb.ColumnProfile{}
	for _, c := range p.Columns {
		byName[c.Name] = c
	}
	for name, exact := range map[string]bool{"s_low": true, "b": true, "dict": true, "ls": true, "s_high": false, "s_ids": false} {
		if got := byName[name].Categorical.Exact; got != exact {
			t.Errorf("%s: exact %v, want %v", name, got, exact)
		}
	}
	if got := byName["b"].Categorical.Top; len(got) != 2 || !slices.ContainsFunc(got, func(c *pb.CategoryCount) bool { return c.Value == "true" }) {
		t.Errorf("bool top %v, want true and false", got)
	}
}

func wantKind(t *testing.T, c *pb.ColumnProfile, k pb.ColumnKind) {
	t.Helper()
	if c.Kind != k {
		t.Fatalf("kind %s, want %s", c.Kind, k)
	}
}

func checkNumeric(t *testing.T, n, finished *pb.NumericStats, vals []any) {
	t.Helper()
	var finite []float64
	var nan, pinf, ninf int64
	for _, v := range vals {
		if v == nil {
			continue
		}
		switch x := asFloat(v); {
		case math.IsNaN(x):
			nan++
		case math.IsInf(x, 1):
			pinf++
		case math.IsInf(x, -1):
			ninf++
		default:
			finite = append(finite, x)
		}
	}
	if n.Nan != nan || n.PosInf != pinf || n.NegInf != ninf || n.Finite != int64(len(finite)) {
		t.Errorf("nan %d +inf %d -inf %d finite %d, want %d %d %d %d", n.Nan, n.PosInf, n.NegInf, n.Finite, nan, pinf, ninf, len(finite))
	}
	mean, std := exactMoments(finite)
	if !within(n.Mean, mean, 1e-9) || !within(n.Std, std, 1e-9) {
		t.Errorf("mean %v std %v, want %v %v", n.Mean, n.Std, mean, std)
	}
	sorted := slices.Clone(finite)
	slices.Sort(sorted)
	if n.Min != sorted[0] || n.Max != sorted[len(sorted)-1] {
		t.Errorf("min %v max %v, want %v %v", n.Min, n.Max, sorted[0], sorted[len(sorted)-1])
	}
	if len(n.Quantiles) != 0 {
		t.Error("a partial has quantiles")
	}
	if n.Histogram.PrecisionBits != profile.Precision {
		t.Fatalf("histogram coarsened to %d bits", n.Histogram.PrecisionBits)
	}
	if len(finished.Quantiles) != len(profile.Levels) {
		t.Fatalf("%d quantiles after Finish", len(finished.Quantiles))
	}
	for i, q := range profile.Levels {
		want := sorted[max(int(math.Ceil(q*float64(len(sorted)))), 1)-1]
		if got := finished.Quantiles[i]; math.Abs(got-want) > math.Abs(want)/(1<<profile.Precision) {
			t.Errorf("quantile %g = %v, exact %v", q, got, want)
		}
	}
}

// exactMoments is the mean and population standard deviation computed in
// 256-bit floats.
func exactMoments(xs []float64) (mean, std float64) {
	prec := uint(256)
	sum := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		sum.Add(sum, big.NewFloat(x))
	}
	n := new(big.Float).SetPrec(prec).SetInt64(int64(len(xs)))
	m := new(big.Float).SetPrec(prec).Quo(sum, n)
	ss := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		d := new(big.Float).SetPrec(prec).Sub(big.NewFloat(x), m)
		ss.Add(ss, d.Mul(d, d))
	}
	ss.Quo(ss, n)
	mean, _ = m.Float64()
	v, _ := ss.Float64()
	return mean, math.Sqrt(v)
}

func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

// trueCounts is the non-null values of a categorical column counted.
func trueCounts(vals []any) (map[string]int64, int64) {
	m := map[string]int64{}
	var n int64
	for _, v := range vals {
		if v != nil {
			m[asCategory(v)]++
			n++
		}
	}
	return m, n
}

func checkCategorical(t *testing.T, c *pb.CategoricalStats, vals []any) {
	t.Helper()
	counts, nonNull := trueCounts(vals)
	checkSummary(t, c, counts, nonNull)
}

// checkSummary checks a categorical summary against the true counts of
// nonNull values: exactly when it is exact, else the Misra–Gries bounds
// and the HyperLogLog's 5%.
func checkSummary(t *testing.T, c *pb.CategoricalStats, counts map[string]int64, nonNull int64) {
	t.Helper()
	if len(counts) <= profile.TopCapacity {
		if !c.Exact {
			t.Fatalf("%d distinct values, but the summary is not exact", len(counts))
		}
		want := make([]*pb.CategoryCount, 0, len(counts))
		for v, n := range counts {
			want = append(want, &pb.CategoryCount{Value: v, Count: n})
		}
		slices.SortFunc(want, func(a, b *pb.CategoryCount) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
		})
		if len(c.Top) != len(want) {
			t.Fatalf("top has %d values, want %d", len(c.Top), len(want))
		}
		for i := range want {
			if !proto.Equal(c.Top[i], want[i]) {
				t.Fatalf("top[%d] = %v, want %v", i, c.Top[i], want[i])
			}
		}
		if c.Distinct != int64(len(counts)) || c.Other != 0 || c.ErrorBound != 0 || len(c.Hll) != 0 {
			t.Errorf("distinct %d other %d error_bound %d hll %d bytes, want %d 0 0 0", c.Distinct, c.Other, c.ErrorBound, len(c.Hll), len(counts))
		}
		return
	}
	if c.Exact {
		t.Fatalf("%d distinct values, but the summary is exact", len(counts))
	}
	reported := map[string]int64{}
	var sum int64
	for _, tc := range c.Top {
		reported[tc.Value] = tc.Count
		sum += tc.Count
	}
	if len(c.Top) > profile.TopCapacity {
		t.Errorf("%d values in top", len(c.Top))
	}
	if sum+c.Other != nonNull {
		t.Errorf("sum(top) %d + other %d != %d", sum, c.Other, nonNull)
	}
	if c.ErrorBound > nonNull/(profile.TopCapacity+1) {
		t.Errorf("error bound %d is above n/(k+1) = %d", c.ErrorBound, nonNull/(profile.TopCapacity+1))
	}
	heavy := 0
	for v, n := range counts {
		r := reported[v]
		if r > n || r < n-c.ErrorBound {
			t.Fatalf("%q: reported %d, true %d, error bound %d", v, r, n, c.ErrorBound)
		}
		if n > nonNull/(profile.TopCapacity+1) {
			heavy++
			if _, ok := reported[v]; !ok {
				t.Fatalf("%q: true count %d > n/(k+1) = %d, but not in top", v, n, nonNull/(profile.TopCapacity+1))
			}
		}
	}
	for v := range reported {
		if _, ok := counts[v]; !ok {
			t.Fatalf("%q is reported but never occurs", v)
		}
	}
	if heavy == 0 && int64(len(counts)) < nonNull/2 {
		// Skewed data (not unique ids) must have values the summary is
		// bound to keep, or the check above tests nothing.
		t.Error("no heavy hitter was checked: the data do not test the summary")
	}
	if rel := float64(c.Distinct-int64(len(counts))) / float64(len(counts)); math.Abs(rel) > 0.05 {
		t.Errorf("distinct estimate %d, true %d (%.1f%% off)", c.Distinct, len(counts), 100*rel)
	}
}

// TestBatchIndependence: the partial depends on the rows only, not on how
// they are cut into record batches.
func TestBatchIndependence(t *testing.T) {
	tb := genTable(30_000, 2, mixedColumns())
	var want *pb.DatasetProfile
	for _, batch := range []int{30_000, 1, 777, 1024, 4096} {
		n := tb.rows()
		if batch == 1 {
			n = 3000 // a batch per row is slow to build: a prefix, checked against the prefix cut at 1000
		}
		recs := tb.records(0, n, batch)
		got := partialOf(t, tb.schema, recs)
		release(recs)
		if batch == 1 {
			ref := tb.records(0, n, 1000)
			if w := partialOf(t, tb.schema, ref); !proto.Equal(got, w) {
				t.Errorf("batches of 1 and of 1000 give different partials")
			}
			release(ref)
			continue
		}
		if want == nil {
			want = got
		} else if !proto.Equal(got, want) {
			t.Errorf("batches of %d give a different partial", batch)
		}
	}
}

// TestDictionaryMatchesString: a dictionary column profiles as its
// decoded strings do.
func TestDictionaryMatchesString(t *testing.T) {
	mem := memory.DefaultAllocator
	db := array.NewDictionaryBuilder(mem, dictType).(*array.BinaryDictionaryBuilder)
	sb := array.NewStringBuilder(mem)
	for i := range 5000 {
		if i%17 == 0 {
			db.AppendNull()
			sb.AppendNull()
			continue
		}
		v := []string{"x", "y", "zz", "ü"}[i*i%4]
		_ = db.AppendString(v)
		sb.Append(v)
	}
	d, s := db.NewArray(), sb.NewArray()
	defer d.Release()
	defer s.Release()
	one := func(a arrow.Array) *pb.ColumnProfile {
		schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: a.DataType(), Nullable: true}}, nil)
		rec := array.NewRecord(schema, []arrow.Array{a}, int64(a.Len()))
		defer rec.Release()
		return partialOf(t, schema, []arrow.Record{rec}).Columns[0]
	}
	dc, sc := one(d), one(s)
	if dc.Kind != pb.ColumnKind_COLUMN_KIND_CATEGORICAL || dc.Nulls != sc.Nulls || !proto.Equal(dc.Categorical, sc.Categorical) {
		t.Errorf("dictionary column %v, string column %v", dc, sc)
	}
}

// TestNonFiniteExtremes: values near ±MaxFloat64 overflow naive sums; the
// profile keeps a finite mean and passes Check.
func TestNonFiniteExtremes(t *testing.T) {
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	for i := range 5000 {
		b.Append(math.MaxFloat64 * float64(1-2*(i%2)) * 0.9)
	}
	for range 3000 {
		b.Append(math.MaxFloat64)
	}
	a := b.NewArray()
	defer a.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64}}, nil)
	rec := array.NewRecord(schema, []arrow.Array{a}, int64(a.Len()))
	defer rec.Release()
	p := partialOf(t, schema, []arrow.Record{rec})
	profile.Finish(p)
	if err := profile.Check(p); err != nil {
		t.Fatal(err)
	}
	n := p.Columns[0].Numeric
	if math.IsInf(n.Mean, 0) || n.Max != math.MaxFloat64 || n.Finite != 8000 {
		t.Errorf("mean %v max %v finite %d", n.Mean, n.Max, n.Finite)
	}
}

func TestAddRejectsOtherSchema(t *testing.T) {
	tb := genTable(10, 3, mixedColumns())
	acc := profile.NewAccumulator(tb.schema)
	narrow := genTable(10, 3, mixedColumns()[:5])
	rec := narrow.record(0, 10)
	defer rec.Release()
	if err := acc.Add(rec); err == nil || !strings.Contains(err.Error(), "5 columns") {
		t.Errorf("a record of 5 columns: %v", err)
	}
	// Same width, one type changed: the error names the column.
	cols := mixedColumns()
	cols[4] = genColumn{arrow.Field{Name: "f64", Type: arrow.PrimitiveTypes.Float32, Nullable: true}, func(*rand.Rand, int) any { return float32(1) }}
	changed := genTable(10, 3, cols)
	rec2 := changed.record(0, 10)
	defer rec2.Release()
	if err := acc.Add(rec2); err == nil || !strings.Contains(err.Error(), `"f64"`) {
		t.Errorf("a record with f64 as float32: %v", err)
	}
	cols = mixedColumns()
	cols[1].field.Name = "renamed"
	renamed := genTable(10, 3, cols)
	rec3 := renamed.record(0, 10)
	defer rec3.Release()
	if err := acc.Add(rec3); err == nil || !strings.Contains(err.Error(), `"renamed"`) {
		t.Errorf("a record with a renamed column: %v", err)
	}
	if p := acc.Partial(); p.Rows != 0 {
		t.Errorf("rejected records were counted: %d rows", p.Rows)
	}
}
