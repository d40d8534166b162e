package profile

import (
	"math"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/bitutil"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// chunkLen is how many finite values a numeric column buffers before it
// folds them into its running statistics.
const chunkLen = 1024

// numericCol accumulates one numeric column.
//
// Finite values are copied into a fixed chunk (a chunk's worth of clean
// float64s at a chunk boundary is folded where it lies, uncopied); a full
// chunk is folded in with two passes (sum, min, max and histogram; then
// the squared
// deviations from the chunk's mean) and combined into the running mean and
// sum of squares with Chan et al.'s parallel formula. Two passes over a
// small chunk are as stable as Welford's update without its division per
// value, and the loops are plain slices the compiler keeps tight. Chunks
// are counted in finite values, not record batches, so the result depends
// only on the column's values in order: FromRecords and Shard agree
// however the records were cut.
//
// Integer columns mostly hold small counts, ages, codes and labels, so an
// integer in [0, smallInts) is only counted in a table, a load and a store
// instead of a chunk's passes; stats turns the table into its exact sum,
// min, max, sum of squares (two-pass, against the table's own mean) and
// histogram bins, and combines them with the chunks' statistics. The table
// depends only on which values occurred, so the result still depends only
// on the values in order.
type numericCol struct {
	nonFinite
	finite   int64   // folded into mean, m2, min, max and hist
	mean, m2 float64 // of the folded chunks
	min, max float64
	hist     *Hist
	small    *[smallInts]int64 // integer columns: counts of the small values
	n        int               // values buffered in buf
	buf      [chunkLen]float64
}

// smallInts bounds the integers an integer column counts in its table.
const smallInts = 4096

func newNumericCol(dt arrow.DataType) *numericCol {
	c := &numericCol{hist: NewHist()}
	if arrow.IsInteger(dt.ID()) {
		c.small = new([smallInts]int64)
	}
	return c
}

// integer is the Go element types of Arrow's integer arrays.
type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// add counts the values of arr, a numeric array. The type switch runs once
// per record; each case is a loop over the typed values.
func (c *numericCol) add(arr arrow.Array) {
	switch a := arr.(type) {
	case *array.Float64:
		addFloats(c, a.Float64Values(), arr)
	case *array.Float32:
		addFloats(c, a.Float32Values(), arr)
	case *array.Int64:
		addInts(c, a.Int64Values(), arr)
	case *array.Int32:
		addInts(c, a.Int32Values(), arr)
	case *array.Int16:
		addInts(c, a.Int16Values(), arr)
	case *array.Int8:
		addInts(c, a.Int8Values(), arr)
	case *array.Uint64:
		addInts(c, a.Uint64Values(), arr)
	case *array.Uint32:
		addInts(c, a.Uint32Values(), arr)
	case *array.Uint16:
		addInts(c, a.Uint16Values(), arr)
	case *array.Uint8:
		addInts(c, a.Uint8Values(), arr)
	case *array.Float16:
		vals := make([]float32, a.Len())
		for i, v := range a.Values() {
			vals[i] = v.Float32()
		}
		addFloats(c, vals, arr)
	}
}

// addInts counts vals, the values of arr (an integer array), skipping
// nulls: small ones in the table, the others through the chunk.
func addInts[T integer](c *numericCol, vals []T, arr arrow.Array) {
	valid, off := validity(arr)
	for len(vals) > 0 {
		var k int
		k, c.n = fillInts(vals, valid, off, c.small, &c.buf, c.n)
		vals, off = vals[k:], off+k
		if c.n == chunkLen {
			c.foldBuffer()
		}
	}
}

// validity is arr's validity bitmap and offset in it, nil without nulls.
func validity(arr arrow.Array) ([]byte, int) {
	if arr.NullN() == 0 {
		return nil, 0
	}
	return arr.NullBitmapBytes(), arr.Data().Offset()
}

// fillInts counts vals (bit off+i of valid says whether vals[i] is
// non-null; all are when valid is nil) until the chunk is full, and
// returns how many it took and the chunk's new length. It calls nothing,
// so its loop keeps everything in registers.
func fillInts[T integer](vals []T, valid []byte, off int, small *[smallInts]int64, buf *[chunkLen]float64, n int) (int, int) {
	for i, v := range vals {
		if valid != nil && !bitutil.BitIsSet(valid, off+i) {
			continue
		}
		if u := uint64(v); u < smallInts { // negatives wrap to huge
			small[u]++
			continue
		}
		buf[n&(chunkLen-1)] = float64(v)
		if n++; n == chunkLen {
			return i + 1, n
		}
	}
	return len(vals), n
}

// addFloats counts vals, the values of arr (a float array), skipping
// nulls.
func addFloats[T ~float32 | ~float64](c *numericCol, vals []T, arr arrow.Array) {
	valid, off := validity(arr)
	for len(vals) > 0 {
		if c.n == 0 && len(vals) >= chunkLen && valid == nil {
			if f, ok := any(vals).([]float64); ok && allFinite(f[:chunkLen]) {
				// A whole chunk of clean float64s: fold it where it lies.
				c.fold(f[:chunkLen])
				vals = vals[chunkLen:]
				continue
			}
		}
		var k int
		k, c.n = fillFloats(vals, valid, off, &c.buf, c.n, &c.nonFinite)
		vals, off = vals[k:], off+k
		if c.n == chunkLen {
			c.foldBuffer()
		}
	}
}

// fillFloats is fillInts for floats: finite values go to the chunk, the
// others are counted in nf.
func fillFloats[T ~float32 | ~float64](vals []T, valid []byte, off int, buf *[chunkLen]float64, n int, nf *nonFinite) (int, int) {
	for i, v := range vals {
		if valid != nil && !bitutil.BitIsSet(valid, off+i) {
			continue
		}
		x := float64(v)
		if x-x != 0 { // NaN and ±Inf give NaN
			nf.count(x)
			continue
		}
		buf[n&(chunkLen-1)] = x
		if n++; n == chunkLen {
			return i + 1, n
		}
	}
	return len(vals), n
}

// allFinite reports whether vals holds no NaN or infinity: x-x is NaN for
// those and 0 for the rest, and NaN survives the sums.
func allFinite(vals []float64) bool {
	var a, b float64
	i := 0
	for ; i+2 <= len(vals); i += 2 {
		a += vals[i] - vals[i]
		b += vals[i+1] - vals[i+1]
	}
	for ; i < len(vals); i++ {
		a += vals[i] - vals[i]
	}
	return a+b == 0
}

// nonFinite counts the values that are in no other statistic.
type nonFinite struct{ nan, posInf, negInf int64 }

func (nf *nonFinite) count(x float64) {
	switch {
	case x > 0:
		nf.posInf++
	case x < 0:
		nf.negInf++
	default:
		nf.nan++
	}
}

// foldBuffer folds the buffered chunk.
func (c *numericCol) foldBuffer() {
	n := c.n
	c.n = 0
	c.fold(c.buf[:n])
}

// fold adds a chunk of finite values to the running statistics: one pass
// for the histogram, sum, min and max (Hist.addAll), one for the squared
// deviations from the chunk's mean, in four lanes that break the chain of
// dependent additions (fixed by position in the chunk, so the result is
// too).
func (c *numericCol) fold(vals []float64) {
	if len(vals) == 0 {
		return
	}
	sum, lo, hi := c.hist.addAll(vals)
	n := float64(len(vals))
	mean := sum / n
	if mean-mean != 0 {
		// The sum overflowed (values near ±MaxFloat64): the sum of the
		// values scaled by 2^-11 (exactly, they are far from denormal)
		// cannot, as a chunk holds 2^10 of them.
		var t float64
		for _, v := range vals {
			t += v * 0x1p-11
		}
		mean = t / n * 0x1p11
	}
	// Rounding can take a mean a hair outside the values, and past
	// ±MaxFloat64 to infinity; the true mean is within them.
	mean = min(max(mean, lo), hi)
	var q [4]float64
	i := 0
	for ; i+4 <= len(vals); i += 4 {
		v := vals[i : i+4 : i+4]
		d0, d1, d2, d3 := v[0]-mean, v[1]-mean, v[2]-mean, v[3]-mean
		q[0] += d0 * d0
		q[1] += d1 * d1
		q[2] += d2 * d2
		q[3] += d3 * d3
	}
	for ; i < len(vals); i++ {
		d := vals[i] - mean
		q[0] += d * d
	}
	m2 := (q[0] + q[1]) + (q[2] + q[3])
	if c.finite == 0 {
		c.min, c.max = lo, hi
	} else {
		c.min, c.max = min(c.min, lo), max(c.max, hi)
	}
	c.mean, c.m2 = combineMoments(c.finite, c.mean, c.m2, int64(len(vals)), mean, m2)
	c.mean = min(max(c.mean, c.min), c.max)
	c.finite += int64(len(vals))
}

// foldSmall adds the small integers' table to the running statistics: the
// sum is exact in integers, the squared deviations are taken from the
// table's own mean, and each value enters the histogram once with its
// count.
func (c *numericCol) foldSmall() {
	var n, sum int64
	lo, hi := -1, -1
	for v, k := range c.small {
		if k == 0 {
			continue
		}
		if lo < 0 {
			lo = v
		}
		hi = v
		n += k
		sum += int64(v) * k
		c.hist.addN(float64(v), k)
	}
	if n == 0 {
		return
	}
	mean := float64(sum) / float64(n)
	var m2 float64
	for v := lo; v <= hi; v++ {
		if k := c.small[v]; k > 0 {
			d := float64(v) - mean
			m2 += float64(k) * d * d
		}
	}
	if c.finite == 0 {
		c.min, c.max = float64(lo), float64(hi)
	} else {
		c.min, c.max = min(c.min, float64(lo)), max(c.max, float64(hi))
	}
	c.mean, c.m2 = combineMoments(c.finite, c.mean, c.m2, n, mean, m2)
	c.mean = min(max(c.mean, c.min), c.max)
	c.finite += n
}

// combineMoments is Chan et al.'s combination of two groups' counts, means
// and sums of squared deviations. When the means are so far apart that
// their difference overflows, the mean is the weighted average (which
// cannot) and the sum of squares is +Inf, never NaN.
func combineMoments(na int64, ma, m2a float64, nb int64, mb, m2b float64) (mean, m2 float64) {
	if na == 0 {
		return mb, m2b
	}
	if nb == 0 {
		return ma, m2a
	}
	n := float64(na) + float64(nb)
	delta := mb - ma
	if delta-delta == 0 {
		mean = ma + delta*(float64(nb)/n)
	} else {
		mean = ma*(float64(na)/n) + mb*(float64(nb)/n)
	}
	m2 = m2a + m2b + delta*delta*(float64(na)*(float64(nb)/n))
	return mean, m2
}

// stats is the column's statistics. It does not change c: the partly
// filled chunk and the small integers are folded into a copy.
func (c *numericCol) stats() *pb.NumericStats {
	t := *c
	t.hist = c.hist.clone()
	t.foldBuffer()
	if c.small != nil {
		t.foldSmall()
	}
	s := &pb.NumericStats{Nan: t.nan, PosInf: t.posInf, NegInf: t.negInf, Finite: t.finite, Histogram: t.hist.Proto()}
	if t.finite > 0 {
		s.Min, s.Max, s.Mean = t.min, t.max, t.mean
		s.Std = math.Sqrt(t.m2 / float64(t.finite))
	}
	return s
}
