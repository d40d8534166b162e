package profile

import (
	"math"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// Distinct counts of categorical columns beyond exactness are HyperLogLog
// estimates: 2^hllP one-byte registers (4 KiB a column, a standard error
// of 1.04/64 ≈ 1.6%), register-wise max to merge, so shards merge in any
// grouping. The hash is xxhash64, unseeded: the same value sets the same
// register in every process, which partials written by different workers
// and a profile recomputed later both need (hash/maphash is seeded per
// process and would make registers incomparable).
const (
	hllP = 12
	// HLLSize is the length of CategoricalStats.hll when set.
	HLLSize = 1 << hllP
	// MaxRegister is the largest register value: one plus the leading
	// zeros of the 64-hllP hash bits left after the register index.
	MaxRegister = 64 - hllP + 1
)

// hll is a HyperLogLog sketch's registers.
type hll []byte

func newHLL() hll { return make(hll, HLLSize) }

// hashValue is the hash a category's value enters the sketch with.
func hashValue(s string) uint64 { return xxhash.Sum64String(s) }

// add records the hash x: its top hllP bits pick the register, which keeps
// the largest rank (leading zeros plus one) of the remaining bits seen. The
// guard bit below them caps the rank at MaxRegister.
func (h hll) add(x uint64) {
	r := byte(bits.LeadingZeros64(x<<hllP|1<<(hllP-1)) + 1)
	if i := x >> (64 - hllP); r > h[i] {
		h[i] = r
	}
}

// merge sets h to the register-wise max of h and o.
func (h hll) merge(o hll) {
	for i, r := range o {
		h[i] = max(h[i], r)
	}
}

// estimate is the standard HyperLogLog estimate with linear counting in
// the small range; a 64-bit hash needs no large-range correction at the
// cardinalities a dataset has.
func (h hll) estimate() int64 {
	const m = float64(HLLSize)
	var sum float64
	zeros := 0
	for _, r := range h {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros))
	}
	return int64(math.Round(e))
}
