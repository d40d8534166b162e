package train

import (
	"fmt"
	"math/bits"

	"github.com/nightshift-ml/nightshift/shard"
)

// The epoch plan: which member trains on which rows in which order, as a
// pure function of the dataset's layout, the spec and the replicated
// State, so that every member computes every other member's part without
// talking, and a member that reads its rows from storage sees exactly the
// rows, in exactly the order, that one holding the dataset in memory sees.
//
// A chunk is one record batch of one shard (Manifest.BatchRows rows, the
// last of a shard fewer): the unit a streaming member reads. An epoch
// visits the chunks in a permutation drawn from (seed, epoch). A segment
// is a stretch of an epoch at one group size n: the rows of the epoch not
// yet trained on (not held out, not consumed by an earlier segment), in
// chunk order, are cut into n contiguous streams of sizes differing by at
// most one (Share); member r trains on stream r. A member's stream is
// read as windows of Window chunk pieces; a window's rows are shuffled in
// runs of ShuffleBlock rows (a block-then-buffer shuffle: chunk order
// across the epoch, block order inside a window), and step k takes rows
// [k·B, (k+1)·B) of each stream (B = batch_per_member). The segment — and
// with it the epoch — ends when the longest stream is used up.
//
// When the group size changes mid-epoch, the rows the old segment's steps
// used are marked consumed and a new segment cuts what is left among the
// new members: nothing is trained twice or skipped, nothing is padded or
// dropped. A group that keeps its size (a member replaced, a restart from
// a checkpoint) continues the same segment, so the same membership
// history gives the same rows in the same order.

// chunk is one record batch of one shard.
type chunk struct {
	shard int
	start int64 // dataset row of its first row
	rows  int64
}

// chunksOf lists a dataset's chunks in dataset order.
func chunksOf(m *shard.Manifest) []chunk {
	var out []chunk
	var start int64
	per := int64(m.BatchRows)
	for i, s := range m.Shards {
		for lo := int64(0); lo < s.Rows; lo += per {
			out = append(out, chunk{shard: i, start: start + lo, rows: min(per, s.Rows-lo)})
		}
		start += s.Rows
	}
	return out
}

// Domains of the chunk order and the window shuffles, apart from the
// holdout's and the old row permutation's.
const (
	chunkDomain  = 0x6e73_6368_756e_6b73 // "nschunks"
	windowDomain = 0x6e73_7769_6e64_6f77 // "nswindow"
)

// plan is what every member knows of the dataset's layout and the spec.
type plan struct {
	chunks  []chunk
	rows    int64
	seed    uint64
	holdout float64
	window  int   // chunk pieces per window
	batch   int64 // rows per member per step
}

// heldBlocks is a cache of Held decisions for consecutive rows.
type heldBlocks struct {
	p     *plan
	block int64
	held  bool
}

func (h *heldBlocks) at(row int64) bool {
	if h.p.holdout == 0 {
		return false
	}
	if b := row / HoldoutBlock; b != h.block {
		h.block, h.held = b, Held(h.p.seed, b, h.p.holdout)
	}
	return h.held
}

// bitset is a set of dataset rows; nil is empty.
type bitset []uint64

func (b bitset) has(i int64) bool { return b != nil && b[i>>6]&(1<<(i&63)) != 0 }

func (b bitset) set(i int64) { b[i>>6] |= 1 << (i & 63) }

func newBitset(n int64) bitset { return make(bitset, (n+63)/64) }

func (b bitset) count() int64 {
	var c int
	for _, w := range b {
		c += bits.OnesCount64(w)
	}
	return int64(c)
}

// remaining appends to dst the rows of chunk c still to train on in this
// epoch: neither held out nor consumed, in dataset order.
func (p *plan) remaining(dst []int64, c chunk, consumed bitset) []int64 {
	p.eachRemaining(c, consumed, func(r int64) { dst = append(dst, r) })
	return dst
}

// eachRemaining calls fn with every row of chunk c neither held out nor
// consumed, in dataset order: the one filter of the plan.
func (p *plan) eachRemaining(c chunk, consumed bitset, fn func(r int64)) {
	h := heldBlocks{p: p, block: -1}
	for r := c.start; r < c.start+c.rows; r++ {
		if !h.at(r) && !consumed.has(r) {
			fn(r)
		}
	}
}

// segment is one segment's plan (see above).
type segment struct {
	p            *plan
	epoch, index int32
	n            int
	consumed     bitset
	order        []int32 // chunk indices, in the epoch's order
	counts       []int64 // remaining rows per order position
	cum          []int64 // prefix sums of counts
}

func (p *plan) segment(epoch, index int32, n int, consumed bitset) *segment {
	s := &segment{p: p, epoch: epoch, index: index, n: n, consumed: consumed,
		order: Permutation(p.seed^chunkDomain, int(epoch), len(p.chunks))}
	s.counts = make([]int64, len(s.order))
	s.cum = make([]int64, len(s.order)+1)
	for j, ci := range s.order {
		var k int64
		p.eachRemaining(p.chunks[ci], consumed, func(int64) { k++ })
		s.counts[j] = k
		s.cum[j+1] = s.cum[j] + k
	}
	return s
}

// total is the number of rows the segment trains on.
func (s *segment) total() int64 { return s.cum[len(s.cum)-1] }

// stream returns member rank's positions [lo, hi) in the segment's
// sequence.
func (s *segment) stream(rank int) (lo, hi int64) {
	l, h := Share(int(s.total()), s.n, rank)
	return int64(l), int64(h)
}

// steps is the number of steps the segment takes.
func (s *segment) steps() int64 {
	lo, hi := s.stream(0) // rank 0's stream is a longest one
	return (hi - lo + s.p.batch - 1) / s.p.batch
}

// take is how many rows member rank trains on at step k.
func (s *segment) take(rank int, k int64) int64 {
	lo, hi := s.stream(rank)
	return max(0, min(s.p.batch, hi-lo-k*s.p.batch))
}

// batchSize is the global batch of step k: the sum of every member's take.
func (s *segment) batchSize(k int64) int64 {
	var n int64
	for r := range s.n {
		n += s.take(r, k)
	}
	return n
}

// piece is the part of one chunk in one member's stream: positions
// [from, to) of the chunk's remaining rows.
type piece struct {
	chunk    int // index into plan.chunks
	from, to int64
}

// pieces lists member rank's stream as chunk pieces, in order.
func (s *segment) pieces(rank int) []piece {
	lo, hi := s.stream(rank)
	var out []piece
	for j, ci := range s.order {
		a, b := max(lo, s.cum[j]), min(hi, s.cum[j+1])
		if a < b {
			out = append(out, piece{chunk: int(ci), from: a - s.cum[j], to: b - s.cum[j]})
		}
	}
	return out
}

// window is one window of a member's stream: its pieces and, per piece
// row in piece order, where the shuffle puts it.
type window struct {
	pieces []piece
	ids    [][]int64 // per piece, its dataset rows, ascending
	dest   []int32   // per row (pieces concatenated), its position in the window
	order  []int64   // dataset rows in window order
}

func (w *window) len() int { return len(w.dest) }

// windows splits pieces into windows of p.window pieces.
func (p *plan) windows(ps []piece) [][]piece {
	var out [][]piece
	for i := 0; i < len(ps); i += p.window {
		out = append(out, ps[i:min(i+p.window, len(ps))])
	}
	return out
}

// windowLen is the number of rows of a window.
func windowLen(ps []piece) int64 {
	var n int64
	for _, q := range ps {
		n += q.to - q.from
	}
	return n
}

// window builds window number w of member rank's stream in segment s:
// its rows and their shuffled order (metadata only; a source fills in the
// features).
func (s *segment) window(rank, w int, ps []piece) *window {
	win := &window{pieces: ps}
	var all []int64
	var buf []int64
	for _, q := range ps {
		buf = s.p.remaining(buf[:0], s.p.chunks[q.chunk], s.consumed)
		ids := append([]int64(nil), buf[q.from:q.to]...)
		win.ids = append(win.ids, ids)
		all = append(all, ids...)
	}
	n := len(all)
	nb := (n + ShuffleBlock - 1) / ShuffleBlock
	key := mix64(mix64(mix64(mix64(s.p.seed^windowDomain)^uint64(s.epoch))^uint64(s.index))^uint64(rank)) ^ uint64(w)
	win.dest = make([]int32, n)
	win.order = make([]int64, 0, n)
	for _, b := range Permutation(key, 0, nb) {
		for i := int(b) * ShuffleBlock; i < min(int(b+1)*ShuffleBlock, n); i++ {
			win.dest[i] = int32(len(win.order))
			win.order = append(win.order, all[i])
		}
	}
	return win
}

// locate returns the window holding position pos of a stream split into
// wins, and pos's offset in it; pos at the end gives len(wins), 0.
func locate(wins [][]piece, pos int64) (int, int64) {
	for w, ps := range wins {
		l := windowLen(ps)
		if pos < l {
			return w, pos
		}
		pos -= l
	}
	return len(wins), 0
}

// consume marks as consumed the rows the segment's first k steps used,
// on every member, and returns the new consumed set.
func (s *segment) consume(k int64) bitset {
	c := newBitset(s.p.rows)
	copy(c, s.consumed)
	for r := range s.n {
		lo, hi := s.stream(r)
		left := min(k*s.p.batch, hi-lo)
		ps := s.pieces(r)
		for w, win := range s.p.windows(ps) {
			if left <= 0 {
				break
			}
			ww := s.window(r, w, win)
			for _, id := range ww.order[:min(int64(len(ww.order)), left)] {
				c.set(id)
			}
			left -= int64(len(ww.order))
		}
	}
	return c
}

// rowBytes is the memory a window takes per row: the float32 inputs, the
// label and the row id.
func rowBytes(dim int) int64 { return int64(dim)*4 + 4 + 8 }

// windowChunks is how many chunk pieces a window may hold so that two
// windows (the one training and the one being read ahead) and the decoding
// of one chunk (its Arrow buffers, recordBytes, and its inputs, twice) fit
// in a third of budget bytes: the rest is the garbage collector's headroom
// (at GOGC=100 the heap grows to twice what is live before a collection)
// and the garbage of chunk reads. It depends only on the spec and the
// dataset, so every member and both data paths get the same windows.
func windowChunks(budget, batchRows, recordBytes int64, dim int) (int, error) {
	fixed := recordBytes + 2*batchRows*int64(dim)*4
	per := 2 * batchRows * rowBytes(dim)
	if budget/dataShare-fixed < per {
		return 0, fmt.Errorf("a memory budget of %d MiB is too small for windows of %d-row chunks (%.1f MiB, %d times that with the collector's headroom): raise data.memory_budget_mb or ingest the dataset with a smaller batch_rows",
			budget>>20, batchRows, float64(fixed+per)/(1<<20), dataShare)
	}
	return int((budget/dataShare - fixed) / per), nil
}

// dataShare is the fraction (1/dataShare) of the memory budget the data
// itself may take.
const dataShare = 3
