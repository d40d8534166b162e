package collective

import (
	"context"
	"fmt"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// DefaultSmallBytes is the largest vector AllReduce sums by an all-gather
// rather than the ring. A ring all-reduce takes 2(n−1) dependent hops; for
// the few-KiB gradient of a linear model the hops (a gRPC message and a
// goroutine wake-up each) are the whole cost, and passing every member's
// whole vector around once takes n−1. Larger vectors go the ring's way,
// which moves 2(n−1)/n of the bytes instead of n−1 times them.
const DefaultSmallBytes = 16 << 10

// smallAllReduce sums v by an all-gather: at step t each member sends the
// vector of rank r−t (its own first) to its right neighbour and receives
// the vector of rank r−t−1 from its left; after n−1 steps every member
// holds all n vectors and adds them in rank order, so the sums are
// bit-identical everywhere (a different order from the ring's: which path
// a length takes depends only on the length and the configuration, the
// same on every member).
func (g *Group) smallAllReduce(ctx context.Context, op uint64, v []float32) error {
	n, r, l := g.Size(), g.Rank(), len(v)
	if cap(g.small) < n*l {
		g.small = make([]float32, n*l)
	}
	all := g.small[:n*l]
	copy(all[r*l:(r+1)*l], v)
	for t := 0; t < n-1; t++ {
		from := mod(r-t, n)
		// The codec copies a CollectiveChunk's payload: the scratch may be
		// reused by the next call.
		if _, err := g.send(ctx, &pb.CollectiveChunk{Op: op, Step: int32(t), Data: f32bytes(all[from*l : (from+1)*l])}); err != nil {
			g.abort()
			return fmt.Errorf("collective: all-reduce to rank %d: %w", (r+1)%n, err)
		}
		msg, err := g.recv(ctx, op, t)
		if err != nil {
			return err
		}
		got := mod(r-t-1, n)
		if msg.n != 4*l {
			msg.free()
			return fmt.Errorf("collective: all-reduce: rank %d sent %d bytes, want %d (members passed vectors of different lengths?)", got, msg.n, 4*l)
		}
		dst := f32bytes(all[got*l : (got+1)*l])
		off := 0
		msg.pieces(func(p []byte) { off += copy(dst[off:], p) })
		msg.free()
	}
	for i := range v {
		s := all[i]
		for k := 1; k < n; k++ {
			s += all[k*l+i]
		}
		v[i] = s
	}
	return nil
}
