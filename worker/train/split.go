package train

import (
	"fmt"
	"math"
)

// Sample accounting. Every member of a group must agree, without talking,
// on which rows an epoch visits in which order, which rows are held out,
// and which slice of a global batch is its own: after a membership change
// the survivors and the newcomer recompute the same answers from the seed,
// the epoch and the offset in the replicated State, so no row of the epoch
// is processed twice or skipped. Hence everything here is a pure function
// of its arguments, built from integer arithmetic whose results are fixed
// by this file alone (not by math/rand, whose algorithms may change between
// Go versions, nor by the platform).

// Domain constants keep the permutation and the holdout streams of one
// seed independent of each other.
const (
	permDomain    = 0x6e73_7065_726d_7574 // "nspermut"
	holdoutDomain = 0x6e73_686f_6c64_6f75 // "nsholdou"
)

// mix64Gamma is SplitMix64's increment: the odd integer nearest
// 2^64/φ.
const mix64Gamma = 0x9e37_79b9_7f4a_7c15

// mix64 is SplitMix64's output function (Stafford's "variant 13"
// of the MurmurHash3 finaliser): a bijection of uint64 with full
// avalanche, used both to derive seeds and as a stateless hash.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58_476d_1ce4_e5b9
	z = (z ^ z>>27) * 0x94d0_49bb_1331_11eb
	return z ^ z>>31
}

// permRNG is the SplitMix64 generator (Steele, Lea, Flood 2014): tiny,
// fast, and passing BigCrush, which is all a shuffle needs. It is its own
// type, not shared with other generators of the package, so that nothing
// else can change the permutation's stream.
type permRNG struct{ s uint64 }

func (r *permRNG) next() uint64 {
	r.s += mix64Gamma
	return mix64(r.s)
}

// below returns a uniform integer in [0, bound) for 0 < bound ≤ 2^32 by
// Lemire's multiply-and-reject method (Lemire 2019, "Fast random integer
// generation in an interval"): unbiased, and usually one draw without a
// division. The high 32 bits of each draw are used.
func (r *permRNG) below(bound uint64) uint64 {
	m := (r.next() >> 32) * bound
	if low := m & math.MaxUint32; low < bound {
		thresh := (1 << 32) % bound // (2^32 − bound) mod bound rejects the partial last interval
		for low < thresh {
			m = (r.next() >> 32) * bound
			low = m & math.MaxUint32
		}
	}
	return m >> 32
}

// Permutation returns a permutation of 0..n-1 that depends only on (seed,
// epoch): the order in which an epoch visits the dataset's rows (or row
// blocks). It is a Fisher–Yates shuffle driven by SplitMix64 seeded from
// seed and epoch, with Lemire's unbiased bounded integers, all defined
// here, so the order is the same on every Go version and platform — a
// requirement for replaying a run bit for bit from its membership history.
// It panics when n is negative or above 2^31 (the values are int32 to halve
// the memory of large datasets' permutations).
func Permutation(seed uint64, epoch int, n int) []int32 {
	if n < 0 || n > math.MaxInt32+1 {
		panic(fmt.Sprintf("train: Permutation of %d rows", n))
	}
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	r := permRNG{s: mix64(mix64(seed^permDomain) ^ uint64(int64(epoch)))}
	for i := n - 1; i > 0; i-- {
		j := r.below(uint64(i) + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// HoldoutBlock is how many consecutive rows (in dataset order) share one
// holdout decision: row r is in block r/HoldoutBlock. Deciding per block
// rather than per row keeps held-out rows in runs that a reader can skip
// cheaply, and keeps the split independent of how rows are sharded or
// batched; 64 rows is small enough that the held-out fraction stays close
// to the requested one on modest datasets.
const HoldoutBlock = 64

// Held reports whether the row block numbered block is held out for
// evaluation: a hash of (seed, block) mapped to [0, 1) is compared with
// fraction, so the same blocks are held out in every epoch, on every
// member and in every replay, and raising the fraction only adds blocks.
// Fraction 0 holds out nothing.
// It panics unless 0 ≤ fraction < 1 (holding out everything leaves nothing
// to train on; validate the spec before training).
func Held(seed uint64, block int64, fraction float64) bool {
	if !(fraction >= 0 && fraction < 1) {
		panic(fmt.Sprintf("train: holdout fraction %v is not in [0, 1)", fraction))
	}
	h := mix64(mix64(seed^holdoutDomain) ^ uint64(block))
	return float64(h>>11)*0x1p-53 < fraction
}

// Share returns member rank's half-open range [lo, hi) of a global batch
// of size rows split among n members: contiguous ranges in rank order whose
// sizes differ by at most one, the first size%n ranks taking one more row.
// Contiguity lets each member read one run of the batch's slice of the
// permutation; the fixed rule lets every member know every other's range.
// Valid for size < n (the last ranks get empty ranges). It panics unless
// n > 0, 0 ≤ rank < n and size ≥ 0.
func Share(size, n, rank int) (lo, hi int) {
	if n <= 0 || rank < 0 || rank >= n || size < 0 {
		panic(fmt.Sprintf("train: Share(size %d, n %d, rank %d)", size, n, rank))
	}
	q, extra := size/n, size%n
	lo = rank*q + min(rank, extra)
	hi = lo + q
	if rank < extra {
		hi++
	}
	return lo, hi
}
