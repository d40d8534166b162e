package train

import (
	"math/rand/v2"
	"testing"
)

// testPlan is a plan over chunks of uneven sizes (shards whose last
// batch is short), with a holdout.
func testPlan(seed uint64) *plan {
	p := &plan{seed: seed, holdout: 0.2, window: 2, batch: 7}
	for s, rows := range []int64{250, 100, 333, 64, 1} {
		for lo := int64(0); lo < rows; lo += 100 {
			c := chunk{shard: s, start: p.rows + lo, rows: min(100, rows-lo)}
			p.chunks = append(p.chunks, c)
		}
		p.rows += rows
	}
	return p
}

// streamIDs is what member rank trains on in the first k steps of seg:
// its windows' rows in window order, cut at k·B.
func streamIDs(seg *segment, rank int, k int64) []int64 {
	var ids []int64
	for w, ps := range seg.p.windows(seg.pieces(rank)) {
		ids = append(ids, seg.window(rank, w, ps).order...)
	}
	return ids[:min(int64(len(ids)), k*seg.p.batch)]
}

// TestPlanCoversEveryRowOnce changes the group size at random steps of
// many epochs and checks, from the plan alone, that each epoch trains on
// every training row exactly once and never on a held-out row; that
// consume marks exactly the rows the steps used; and that the batch sizes
// add up.
func TestPlanCoversEveryRowOnce(t *testing.T) {
	for seed := range uint64(20) {
		p := testPlan(seed)
		rng := rand.New(rand.NewPCG(seed, 99))
		var want int64
		for _, c := range p.chunks {
			want += int64(len(p.remaining(nil, c, nil)))
		}
		for epoch := range int32(3) {
			used := map[int64]int{}
			var consumed bitset
			var samples int64
			n := 1 + rng.IntN(4)
			for index := int32(0); ; index++ {
				seg := p.segment(epoch, index, n, consumed)
				steps := seg.steps()
				k := steps
				last := rng.IntN(3) == 0 || steps < 2
				if !last {
					k = 1 + rng.Int64N(steps-1) // a membership change mid-segment
				}
				for s := range k {
					samples += seg.batchSize(s)
				}
				for r := range n {
					ids := streamIDs(seg, r, k)
					var took int64
					for s := range k {
						took += seg.take(r, s)
					}
					if took != int64(len(ids)) {
						t.Fatalf("seed %d: rank %d took %d rows in %d steps, its stream gave %d", seed, r, took, k, len(ids))
					}
					for _, id := range ids {
						used[id]++
					}
				}
				if last {
					break
				}
				consumed = seg.consume(k)
				if c := consumed.count(); c != int64(len(used)) {
					t.Fatalf("seed %d epoch %d: %d rows consumed, %d used", seed, epoch, c, len(used))
				}
				n = 1 + rng.IntN(4)
			}
			h := heldBlocks{p: p, block: -1}
			for r := range p.rows {
				if c, held := used[r], h.at(r); (held && c != 0) || (!held && c != 1) {
					t.Fatalf("seed %d epoch %d: row %d (held %v) used %d times", seed, epoch, r, held, c)
				}
			}
			if samples != want || int64(len(used)) != want {
				t.Fatalf("seed %d epoch %d: %d samples over %d rows, want %d", seed, epoch, samples, len(used), want)
			}
		}
	}
}

// TestWindowShuffle checks a window's order is a permutation of its rows
// that moves whole ShuffleBlock runs, the same on every call, and that
// different windows and ranks get different orders.
func TestWindowShuffle(t *testing.T) {
	p := testPlan(7)
	p.window = 3
	seg := p.segment(0, 0, 2, nil)
	ps := p.windows(seg.pieces(0))[0]
	a, b := seg.window(0, 0, ps), seg.window(0, 0, ps)
	if len(a.order) < 3*ShuffleBlock {
		t.Fatalf("window of %d rows", len(a.order))
	}
	var all []int64
	for _, ids := range a.ids {
		all = append(all, ids...)
	}
	seen := map[int64]bool{}
	for i, id := range a.order {
		if b.order[i] != id {
			t.Fatal("the same window shuffled twice differs")
		}
		if seen[id] {
			t.Fatalf("row %d twice in a window", id)
		}
		seen[id] = true
		if a.order[a.dest[i]] != all[i] {
			t.Fatalf("dest[%d] = %d does not hold row %d", i, a.dest[i], all[i])
		}
	}
	if len(seen) != len(all) {
		t.Fatalf("%d rows in the order, %d in the pieces", len(seen), len(all))
	}
	for i := 0; i+ShuffleBlock <= len(all); i += ShuffleBlock {
		d0 := a.dest[i]
		for j := 1; j < ShuffleBlock; j++ {
			if a.dest[i+j] != d0+int32(j) {
				t.Fatalf("block at %d is split by the shuffle", i)
			}
		}
	}
	other := seg.window(1, 0, ps)
	same := 0
	for i := range other.order {
		if other.order[i] == a.order[i] {
			same++
		}
	}
	if same == len(a.order) {
		t.Fatal("two ranks' windows over the same pieces have the same order")
	}
}

// TestWindowChunks sizes windows from the budget and refuses a budget too
// small for one, naming the fix.
func TestWindowChunks(t *testing.T) {
	w, err := windowChunks(64<<20, 4096, 1<<20, 32)
	if err != nil || w < 1 {
		t.Fatalf("64 MiB: %d, %v", w, err)
	}
	if got := 2*int64(w)*4096*rowBytes(32) + 1<<20 + 2*4096*32*4; got > (64<<20)/dataShare {
		t.Fatalf("%d windows take %d bytes, over the budget", w, got)
	}
	if _, err := windowChunks(1<<20, 65536, 1<<20, 64); err == nil {
		t.Fatal("a 1 MiB budget for 65536-row chunks was accepted")
	}
}
