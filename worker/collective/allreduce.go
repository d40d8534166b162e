package collective

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// segment returns the bounds of segment k of n over length l: as equal as
// possible, empty when l < n.
func segment(l, n, k int) (lo, hi int) { return k * l / n, (k + 1) * l / n }

func mod(a, n int) int { return ((a % n) + n) % n }

// AllReduce sums v element-wise across the group, in place: on return
// every member holds the same sums, bit for bit. Every member must pass a
// vector of the same length.
func (g *Group) AllReduce(ctx context.Context, v []float32) error {
	if g.Size() == 1 {
		return nil
	}
	op, err := g.begin()
	if err != nil {
		return err
	}
	return g.end(g.allReduce(ctx, op, v))
}

// allReduce runs the ring: n-1 reduce-scatter steps, after which member r
// holds the sum of segment r+1, then n-1 all-gather steps passing the sums
// on. Step t sends the segment received at step t-1, chunk by chunk, so
// chunk c is forwarded as soon as it has been reduced.
func (g *Group) allReduce(ctx context.Context, op uint64, v []float32) error {
	n, r, l := g.Size(), g.Rank(), len(v)
	steps := 2 * (n - 1)
	per := g.cfg.ChunkBytes / 4
	sendSeg := func(t int) int {
		if t < n-1 {
			return mod(r-t, n)
		}
		return mod(r+1-(t-(n-1)), n)
	}
	recvSeg := func(t int) int {
		if t < n-1 {
			return mod(r-t-1, n)
		}
		return mod(r-(t-(n-1)), n)
	}
	chunks := func(seg int) int {
		lo, hi := segment(l, n, seg)
		return (hi - lo + per - 1) / per
	}
	// ready[t] gets a token per chunk of step t reduced (or copied); the
	// sender of step t+1 takes them in order.
	ready := make([]chan struct{}, steps)
	for t := range ready {
		ready[t] = make(chan struct{}, chunks(recvSeg(t)))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sent := make(chan error, 1)
	go func() { sent <- g.sendSteps(ctx, op, v, steps, per, sendSeg, ready) }()

	err := g.recvSteps(ctx, op, v, steps, per, n, recvSeg, ready)
	if err != nil {
		cancel()
		g.abort() // unblock a sender stuck in flow control
		<-sent
		return err
	}
	return <-sent
}

func (g *Group) sendSteps(ctx context.Context, op uint64, v []float32, steps, per int, sendSeg func(int) int, ready []chan struct{}) error {
	n, l := g.Size(), len(v)
	for t := range steps {
		lo, hi := segment(l, n, sendSeg(t))
		for c := lo; c < hi; c += per {
			if t > 0 {
				select {
				case <-ready[t-1]:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			end := min(c+per, hi)
			if err := g.sendChunk(&pb.CollectiveChunk{Op: op, Step: int32(t), Data: f32bytes(v[c:end])}); err != nil {
				return fmt.Errorf("collective: send to rank %d: %w", (g.Rank()+1)%n, err)
			}
		}
	}
	return nil
}

func (g *Group) recvSteps(ctx context.Context, op uint64, v []float32, steps, per, n int, recvSeg func(int) int, ready []chan struct{}) error {
	l := len(v)
	for t := range steps {
		lo, hi := segment(l, n, recvSeg(t))
		for c := lo; c < hi; c += per {
			msg, err := g.recv(ctx, op, t)
			if err != nil {
				return err
			}
			dst := v[c:min(c+per, hi)]
			if len(msg.Data) != 4*len(dst) {
				return fmt.Errorf("collective: step %d chunk has %d bytes, want %d (members passed vectors of different lengths?)", t, len(msg.Data), 4*len(dst))
			}
			if t < n-1 {
				addBytes(dst, msg.Data)
			} else {
				copyBytes(dst, msg.Data)
			}
			releaseChunk(msg)
			ready[t] <- struct{}{}
		}
	}
	return nil
}

// abort cuts the generation's outgoing stream after a failed collective,
// so a send blocked in flow control returns; the generation is broken.
func (g *Group) abort() { g.cut() }

// f32bytes views float32s as their little-endian bytes without copying.
func f32bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	if !littleEndian {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// asFloats views little-endian bytes as float32s when they are aligned;
// ok is false when they are not (or the machine is big-endian).
func asFloats(b []byte) ([]float32, bool) {
	if len(b) == 0 {
		return nil, true
	}
	if !littleEndian || uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4), true
}

// addBytes adds little-endian float32s to dst.
func addBytes(dst []float32, src []byte) {
	if f, ok := asFloats(src); ok {
		f = f[:len(dst)]
		i := 0
		for ; i+4 <= len(dst); i += 4 {
			dst[i] += f[i]
			dst[i+1] += f[i+1]
			dst[i+2] += f[i+2]
			dst[i+3] += f[i+3]
		}
		for ; i < len(dst); i++ {
			dst[i] += f[i]
		}
		return
	}
	for i := range dst {
		dst[i] += math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// copyBytes copies little-endian float32s into dst.
func copyBytes(dst []float32, src []byte) {
	if littleEndian {
		copy(f32bytes(dst), src)
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
