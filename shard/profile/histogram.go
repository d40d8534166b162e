package profile

import (
	"fmt"
	"math"
	"slices"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The histogram of a numeric column is log-linear, in the manner of HDR
// histograms: a finite value's bin is the top 12+Precision bits of its
// IEEE-754 pattern (sign handled apart), so a bin spans a relative width
// below 2^-Precision of its values, the key is one shift (no logarithm on
// the hot path), and keys are monotone in the value. Counts are integers:
// two histograms merge by addition, exactly and in any order, and one of a
// finer precision coarsens exactly to a coarser one (a right shift of its
// keys), which bounds a profile's size whatever the data.
const (
	// Precision is the mantissa bits of a new histogram: bins under 0.8%
	// wide, about 128 per power of two.
	Precision = 7
	// MinPrecision is the coarsest a histogram gets (bins under 25% wide).
	MinPrecision = 2
	// MaxBins caps the bins of one histogram: beyond it the precision
	// drops a bit at a time until the bins fit.
	MaxBins = 4096
)

// Key is the bin of the finite value x at precision bits, monotone:
// x ≤ y implies Key(x) ≤ Key(y). For x ≥ 0 (both zeros) it is the bit
// pattern of x shifted right by 52-bits. For x < 0 it is -k-1, where k is
// the pattern of |x| minus one, shifted the same way: the "minus one" puts
// a negative value whose magnitude is exactly a bin boundary into the bin
// below it, so that every bin, negative or not, holds the half-open range
// [Lower, Upper) (with the pattern itself, -1.0 would sit in a bin whose
// Upper it equals, and a cut between bins would not be a value boundary).
// Coarsening stays a right shift of k, on either side.
func Key(x float64, bits int32) int64 {
	shift := 52 - uint(bits)
	if x < 0 {
		return -int64((math.Float64bits(-x)-1)>>shift) - 1
	}
	return int64((math.Float64bits(x) &^ signBit) >> shift)
}

const signBit = 1 << 63

// Lower is the smallest value of bin key at precision bits. The most
// negative bin reaches down to -Inf in bit patterns; its Lower is
// -math.MaxFloat64, the smallest value it can hold, so that a quantile read
// off it stays finite and within the bin's relative width.
func Lower(key int64, bits int32) float64 {
	if key < 0 {
		return max(-magnitude(-key, bits), -math.MaxFloat64)
	}
	return magnitude(key, bits)
}

// Upper is the bound just above bin key: every value of the bin is below
// it (+Inf above the largest finite values).
func Upper(key int64, bits int32) float64 {
	if key < 0 {
		return -magnitude(-key-1, bits)
	}
	return magnitude(key+1, bits)
}

// magnitude is the float whose |x| pattern starts bin k (k ≥ 0); past the
// largest finite bin it is +Inf.
func magnitude(k int64, bits int32) float64 {
	return math.Float64frombits(uint64(k) << (52 - uint(bits)))
}

// keyRange is the keys finite values have at precision bits.
func keyRange(bits int32) (lo, hi int64) {
	return Key(-math.MaxFloat64, bits), Key(math.MaxFloat64, bits)
}

// Hist accumulates a histogram of finite values, sorted into a
// pb.Histogram by Proto.
//
// It is dense rather than a map because Add runs once per value of every
// numeric column of a shard: a key splits into its sign and 11 exponent
// bits, which pick a block (allocated on first use), and its top mantissa
// bits, which index the block, so an Add is a few bit operations, two loads
// and an increment, with no branch on the sign. The bins are the ones a
// map of keys would hold, coarsened at the same moments (whenever more than
// MaxBins are non-empty), so the result does not depend on the
// representation.
type Hist struct {
	bits int32
	bins int // non-empty bins
	// blocks[neg<<11 | exponent]; exponent 2047 (Inf and NaN patterns)
	// exists only so that a stray non-finite value cannot index out of
	// range.
	blocks [4096]*histBlock
}

type histBlock [1 << Precision]int64

// NewHist returns an empty histogram at Precision.
func NewHist() *Hist { return &Hist{bits: Precision} }

// Add counts the finite value x.
func (h *Hist) Add(x float64) { h.addAll([]float64{x}) }

// addAll counts the finite values xs (at least one) and returns their sum,
// minimum and maximum: the numeric accumulator's first pass over a chunk
// is this loop, which already has every value's bits at hand.
func (h *Hist) addAll(xs []float64) (sum, lo, hi float64) {
	olo, ohi := int64(math.MaxInt64), int64(math.MinInt64)
	for len(xs) > 0 {
		var n int
		n, sum, olo, ohi = h.addRun(xs, sum, olo, ohi)
		if n == len(xs) {
			break
		}
		// xs[n] opens a bin: counted here, out of the call-free loop.
		x := xs[n]
		sum += x
		o := ordered(x)
		olo, ohi = min(olo, o), max(ohi, o)
		b, i := h.slot(x)
		h.newBin(b, i)
		xs = xs[n+1:]
	}
	return sum, fromOrdered(olo), fromOrdered(ohi)
}

// addRun counts xs until a value falls in an empty bin, and returns how
// many it counted with the running sum and ordered extremes. It calls
// nothing, so the compiler keeps the loop's state in registers.
func (h *Hist) addRun(xs []float64, sum float64, olo, ohi int64) (int, float64, int64, int64) {
	shift := (52 - uint(h.bits)) & 63
	mask := uint64(1)<<uint(h.bits&63) - 1
	for n, x := range xs {
		p := math.Float64bits(x)
		// mag is the pattern Key shifts: |x|'s, less one when x < 0.
		neg := p >> 63
		mag := p &^ signBit
		neg &^= (mag - neg) >> 63 // -0 (mag 0) counts as +0
		mag -= neg
		blk := h.blocks[(neg<<11|mag>>52)&4095]
		i := (mag >> shift) & mask & (1<<Precision - 1)
		if blk == nil || blk[i] == 0 {
			return n, sum, olo, ohi
		}
		blk[i]++
		sum += x
		// The extremes as order-preserving integers: conditional moves,
		// not branches.
		o := int64(p) ^ int64(uint64(int64(p)>>63)>>1)
		if o < olo {
			olo = o
		}
		if o > ohi {
			ohi = o
		}
	}
	return len(xs), sum, olo, ohi
}

// addN counts the finite value x n > 0 times.
func (h *Hist) addN(x float64, n int64) {
	b, i := h.slot(x)
	if blk := h.blocks[b]; blk != nil && blk[i] > 0 {
		blk[i] += n
		return
	}
	h.newBin(b, i)
	b, i = h.slot(x) // newBin may have coarsened
	h.blocks[b][i] += n - 1
}

// slot is the block and index of x's bin.
func (h *Hist) slot(x float64) (block, index uint64) {
	p := math.Float64bits(x)
	neg := p >> 63
	mag := p &^ signBit
	neg &^= (mag - neg) >> 63
	mag -= neg
	return neg<<11 | mag>>52, (mag >> (52 - uint(h.bits))) & (1<<uint(h.bits) - 1)
}

// ordered maps x's bits to an integer that orders as x does: negative
// patterns have their magnitude bits flipped.
func ordered(x float64) int64 {
	p := int64(math.Float64bits(x))
	return p ^ int64(uint64(p>>63)>>1)
}

// fromOrdered inverts addAll's order-preserving map of float64 bits.
func fromOrdered(o int64) float64 {
	return math.Float64frombits(uint64(o ^ int64(uint64(o>>63)>>1)))
}

// newBin counts the first value of bin i of block b, out of addAll's loop.
func (h *Hist) newBin(b, i uint64) {
	if h.blocks[b] == nil {
		h.blocks[b] = new(histBlock)
	}
	h.blocks[b][i] = 1
	if h.bins++; h.bins > MaxBins {
		h.coarsen()
	}
}

// coarsen drops one bit of precision until the bins fit MaxBins: within a
// block, mantissa index m at bits becomes m>>1 at bits-1, as the key's
// right shift does.
func (h *Hist) coarsen() {
	for h.bins > MaxBins && h.bits > MinPrecision {
		half := 1 << uint(h.bits-1)
		h.bins = 0
		for _, blk := range h.blocks {
			if blk == nil {
				continue
			}
			for m := range half {
				blk[m] = blk[2*m] + blk[2*m+1]
				if blk[m] > 0 {
					h.bins++
				}
			}
			clear(blk[half : 2*half])
		}
		h.bits--
	}
}

// clone returns an independent copy of h.
func (h *Hist) clone() *Hist {
	c := &Hist{bits: h.bits, bins: h.bins}
	for b, blk := range h.blocks {
		if blk != nil {
			cp := *blk
			c.blocks[b] = &cp
		}
	}
	return c
}

// Proto returns the histogram sorted by key: the negative blocks from the
// largest magnitude down, then the non-negative ones upwards.
func (h *Hist) Proto() *pb.Histogram {
	out := &pb.Histogram{PrecisionBits: h.bits, Keys: make([]int64, 0, h.bins), Counts: make([]int64, 0, h.bins)}
	bits := uint(h.bits)
	width := 1 << bits
	for e := 2047; e >= 0; e-- {
		if blk := h.blocks[1<<11|e]; blk != nil {
			for m := width - 1; m >= 0; m-- {
				if blk[m] > 0 {
					out.Keys = append(out.Keys, -(int64(e)<<bits|int64(m))-1)
					out.Counts = append(out.Counts, blk[m])
				}
			}
		}
	}
	for e := range 2048 {
		if blk := h.blocks[e]; blk != nil {
			for m := range width {
				if blk[m] > 0 {
					out.Keys = append(out.Keys, int64(e)<<bits|int64(m))
					out.Counts = append(out.Counts, blk[m])
				}
			}
		}
	}
	return out
}

// CheckHistogram reports the first broken invariant of h: a precision out
// of range, keys and counts of different lengths, keys not strictly
// ascending or outside the keys of finite values, a count not positive, a
// total that overflows.
func CheckHistogram(h *pb.Histogram) error {
	bits := h.GetPrecisionBits()
	if bits < MinPrecision || bits > 52 {
		return fmt.Errorf("precision_bits %d is outside [%d, 52]", bits, MinPrecision)
	}
	if len(h.Keys) != len(h.Counts) {
		return fmt.Errorf("%d keys but %d counts", len(h.Keys), len(h.Counts))
	}
	lo, hi := keyRange(bits)
	var n int64
	for i, c := range h.Counts {
		if c <= 0 {
			return fmt.Errorf("bin %d: count %d is not positive", i, c)
		}
		if n += c; n < 0 {
			return fmt.Errorf("bin %d: the total overflows", i)
		}
		if k := h.Keys[i]; k < lo || k > hi {
			return fmt.Errorf("bin %d: key %d is outside the keys of finite values [%d, %d]", i, k, lo, hi)
		}
		if i > 0 && h.Keys[i] <= h.Keys[i-1] {
			return fmt.Errorf("bin %d: key %d does not follow %d", i, h.Keys[i], h.Keys[i-1])
		}
	}
	return nil
}

// MergeHistograms returns the sum of a and b at the coarser of their
// precisions, coarsened further while it holds more than MaxBins bins. An
// empty side (nil or no keys) adds nothing and leaves the other's
// precision; both nil is nil. The sum is exactly the histogram a Hist fed
// the values of both would give: a Hist's final precision is the finest at
// which its values fill at most MaxBins bins, and the coarsening here stops
// at the same one.
func MergeHistograms(a, b *pb.Histogram) *pb.Histogram {
	if a == nil || len(a.Keys) == 0 {
		if b == nil {
			return cloneHist(a)
		}
		return cloneHist(b)
	}
	if b == nil || len(b.Keys) == 0 {
		return cloneHist(a)
	}
	bits := min(a.PrecisionBits, b.PrecisionBits)
	ak, ac := coarserBins(a.Keys, a.Counts, a.PrecisionBits-bits)
	bk, bc := coarserBins(b.Keys, b.Counts, b.PrecisionBits-bits)
	out := &pb.Histogram{PrecisionBits: bits, Keys: make([]int64, 0, len(ak)+len(bk)), Counts: make([]int64, 0, len(ak)+len(bk))}
	i, j := 0, 0
	for i < len(ak) || j < len(bk) {
		switch {
		case j == len(bk) || i < len(ak) && ak[i] < bk[j]:
			out.Keys, out.Counts = append(out.Keys, ak[i]), append(out.Counts, ac[i])
			i++
		case i == len(ak) || bk[j] < ak[i]:
			out.Keys, out.Counts = append(out.Keys, bk[j]), append(out.Counts, bc[j])
			j++
		default:
			out.Keys, out.Counts = append(out.Keys, ak[i]), append(out.Counts, ac[i]+bc[j])
			i, j = i+1, j+1
		}
	}
	for len(out.Keys) > MaxBins && out.PrecisionBits > MinPrecision {
		out.Keys, out.Counts = coarserBins(out.Keys, out.Counts, 1)
		out.PrecisionBits--
	}
	return out
}

// coarserBins lowers sorted bins by drop bits of precision: keys stay
// sorted (the shift is monotone) and runs that meet in one key add up.
func coarserBins(keys, counts []int64, drop int32) ([]int64, []int64) {
	if drop == 0 {
		return keys, counts
	}
	ok := make([]int64, 0, len(keys))
	oc := make([]int64, 0, len(keys))
	for i, k := range keys {
		k = coarserKey(k, drop)
		if n := len(ok); n > 0 && ok[n-1] == k {
			oc[n-1] += counts[i]
			continue
		}
		ok, oc = append(ok, k), append(oc, counts[i])
	}
	return ok, oc
}

// coarserKey is key k with its precision lowered by drop bits.
func coarserKey(k int64, drop int32) int64 {
	if k < 0 {
		return -((-k - 1) >> drop) - 1
	}
	return k >> drop
}

// Coarsen returns h at precision bits (≤ its own; no coarser than
// MinPrecision). A finer bits returns a copy of h.
func Coarsen(h *pb.Histogram, bits int32) *pb.Histogram {
	if h == nil || bits >= h.PrecisionBits {
		return cloneHist(h)
	}
	bits = max(bits, MinPrecision)
	keys, counts := coarserBins(h.Keys, h.Counts, h.PrecisionBits-bits)
	return &pb.Histogram{PrecisionBits: bits, Keys: keys, Counts: counts}
}

func cloneHist(h *pb.Histogram) *pb.Histogram {
	if h == nil {
		return nil
	}
	return &pb.Histogram{PrecisionBits: h.PrecisionBits, Keys: append([]int64{}, h.Keys...), Counts: append([]int64{}, h.Counts...)}
}

// total is the histogram's count.
func total(h *pb.Histogram) int64 {
	var n int64
	for _, c := range h.GetCounts() {
		n += c
	}
	return n
}

// QuantileKey is the key of the bin holding the q-quantile of h (the
// smallest key whose cumulative count reaches q of the total); ok is false
// for an empty histogram.
func QuantileKey(h *pb.Histogram, q float64) (key int64, ok bool) {
	n := total(h)
	if n == 0 {
		return 0, false
	}
	rank := int64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var cum int64
	for i, c := range h.Counts {
		cum += c
		if cum >= rank {
			return h.Keys[i], true
		}
	}
	return h.Keys[len(h.Keys)-1], true
}

// Quantile is the lower bound of the bin holding the q-quantile of h.
func Quantile(h *pb.Histogram, q float64) (float64, bool) {
	k, ok := QuantileKey(h, q)
	if !ok {
		return 0, false
	}
	return Lower(k, h.PrecisionBits), true
}

// CompareBins bins ref and cur over ref's quantile bins, for a stability
// index: both are brought to their common precision, the cut points are
// the bins holding ref's quantiles at i/bins (i = 1..bins-1, duplicates
// dropped), and each returned slice counts the values below the first cut,
// between consecutive cuts, and at or above the last. The counts are exact
// at that precision: a cut is a bin boundary, never inside a bin.
func CompareBins(ref, cur *pb.Histogram, bins int) (refCounts, curCounts []int64) {
	if bins < 1 {
		bins = 1
	}
	bits := int32(52)
	for _, h := range []*pb.Histogram{ref, cur} {
		if h != nil && len(h.Keys) > 0 {
			bits = min(bits, h.PrecisionBits)
		}
	}
	ref, cur = Coarsen(ref, bits), Coarsen(cur, bits)
	var cuts []int64
	for i := 1; i < bins; i++ {
		k, ok := QuantileKey(ref, float64(i)/float64(bins))
		if !ok {
			break
		}
		// The cut is the upper boundary of the quantile's bin, so that bin
		// falls below it, as the quantile's rank does.
		if k++; len(cuts) == 0 || k > cuts[len(cuts)-1] {
			cuts = append(cuts, k)
		}
	}
	return binCounts(ref, cuts), binCounts(cur, cuts)
}

// binCounts counts h's values in the len(cuts)+1 key ranges that cuts
// delimit: keys < cuts[0], cuts[i-1] ≤ key < cuts[i], keys ≥ cuts[last].
func binCounts(h *pb.Histogram, cuts []int64) []int64 {
	out := make([]int64, len(cuts)+1)
	for i, k := range h.GetKeys() {
		j, _ := slices.BinarySearch(cuts, k+1) // cuts ≤ k come before position j
		out[j] += h.Counts[i]
	}
	return out
}
