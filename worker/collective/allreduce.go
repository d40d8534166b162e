package collective

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"
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
	op, err := g.begin(ctx)
	if err != nil {
		return err
	}
	small := g.cfg.SmallBytes
	if small == 0 {
		small = DefaultSmallBytes
	}
	if 4*len(v) <= small {
		return g.end(ctx, g.smallAllReduce(ctx, op, v))
	}
	return g.end(ctx, g.allReduce(ctx, op, v))
}

// allReduce runs the ring: n-1 reduce-scatter steps, after which member r
// holds the sum of segment r+1, then n-1 all-gather steps passing the sums
// on. Step t sends the segment received at step t-1, chunk by chunk, so
// chunk c is forwarded as soon as it has been reduced.
//
// The chunks of all steps share one link, in wavefront order (see
// linkOrder): chunk c of step t goes out right after chunk c+1 of step t-1,
// while it is still in cache from its reduction, rather than after the
// whole of step t-1.
//
// Chunks are sent straight from v (txChunk: grpc reads the vector in
// place) and reduced straight from grpc's receive buffers (rxChunk), so
// the only copies are the transport's own. A region of v sent at
// reduce-scatter step k is overwritten at all-gather step n-1+k, which the
// ring's data dependencies already order after the send; the receiver still
// waits for the transport's release of that chunk (at once, in practice),
// and allReduce returns only when the transport is done with every chunk
// sent, so the caller may then change v.
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
	// The left neighbour's sendSeg.
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
	ring := &ringOp{g: g, op: op, v: v, n: n, per: per, steps: steps}
	ring.copyIn = copyBytes
	if 4*l >= streamingCopyBytes {
		ring.copyIn = copyBytesStreaming
	}
	ring.send = linkOrder(steps, func(t int) int { return chunks(sendSeg(t)) })
	ring.recv = linkOrder(steps, func(t int) int { return chunks(recvSeg(t)) })
	ring.sendSpan = make([][2]int, steps)
	ring.recvSpan = make([][2]int, steps)
	// ready[t] gets a token per chunk of step t reduced (or copied), in
	// chunk order; the sender of step t+1 takes them in the same order.
	ring.ready = make([]chan struct{}, steps)
	// done[t][i] closes when the transport is done with chunk i of step t.
	ring.done = make([][]sendDone, steps)
	for t := range steps {
		ring.sendSpan[t][0], ring.sendSpan[t][1] = segment(l, n, sendSeg(t))
		ring.recvSpan[t][0], ring.recvSpan[t][1] = segment(l, n, recvSeg(t))
		ring.ready[t] = make(chan struct{}, chunks(recvSeg(t)))
		ring.done[t] = make([]sendDone, chunks(sendSeg(t)))
		for i := range ring.done[t] {
			ring.done[t][i] = make(sendDone)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The first failure, of either side, is the collective's; it stops the
	// other side (cancel) and ends the generation's streams, which unblocks
	// a receive and, at the neighbours, whatever waits on this member.
	var (
		failOnce sync.Once
		failErr  error
	)
	fail := func(err error) {
		failOnce.Do(func() {
			failErr = err
			cancel()
			g.abort()
		})
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if err := ring.sendAll(ctx); err != nil {
			fail(err)
		}
	}()
	if err := ring.recvAll(ctx); err != nil {
		fail(err)
	}
	<-sent // ring.issued is ours to read from now on
	if failErr == nil && !waitSent(ctx.Done(), ring.issued, 0) {
		// Cancelled while the last chunks were still queued: drop them.
		fail(ctx.Err())
	}
	if failErr != nil {
		waitSent(nil, ring.issued, releaseGrace)
	}
	return failErr
}

// ringOp is one all-reduce in flight.
type ringOp struct {
	g                  *Group
	op                 uint64
	v                  []float32
	n, per, steps      int
	send, recv         []chunkRef // the order of chunks on the outgoing and incoming links
	sendSpan, recvSpan [][2]int   // step t's segment in v
	ready              []chan struct{}
	done               [][]sendDone
	// copyIn writes the all-gather's finished sums into v.
	copyIn func(dst []float32, src []byte)
	// issued lists, in the sender's goroutine, the done of every chunk
	// grpc has taken (encoded): grpc will hand each of them back.
	issued []sendDone
}

// chunkRef names chunk i of step t.
type chunkRef struct{ t, i int }

// linkLag is how many chunks of step t-1 precede chunk c of step t beyond
// chunk c itself, on a link: the time the left neighbour's chunk c has to
// arrive and be reduced before it is forwarded.
const linkLag = 1

// linkOrder lists the chunks of every step in the order they travel on a
// link: by wavefront c + linkLag·t, then by step. Chunk c of step t (which
// needs chunk c of step t-1 from the left neighbour) thus goes right after
// chunk c+linkLag of step t-1. Sender and receiver derive the same order
// from the same counts, whatever the timing; no member waits on a chunk
// that its left neighbour has not sent before everything it waits on
// itself, so the ring cannot deadlock.
func linkOrder(steps int, count func(t int) int) []chunkRef {
	counts := make([]int, steps)
	total, maxc := 0, 0
	for t := range counts {
		counts[t] = count(t)
		total += counts[t]
		maxc = max(maxc, counts[t])
	}
	out := make([]chunkRef, 0, total)
	for w := 0; len(out) < total; w++ {
		// Steps with c = w - linkLag·t in [0, maxc).
		first := max(0, (w-maxc+linkLag)/linkLag)
		for t := first; t < steps && linkLag*t <= w; t++ {
			if c := w - linkLag*t; c < counts[t] {
				out = append(out, chunkRef{t, c})
			}
		}
	}
	return out
}

// streamingCopyBytes is the vector size from which the all-gather writes
// the finished sums with non-temporal stores: a vector larger than a core's
// cache is out of it by the time it is read again anyway, and skipping the
// read of each destination line beforehand makes the copy about twice as
// fast. Smaller vectors keep their sums in cache for the caller.
const streamingCopyBytes = 4 << 20

// releaseGrace bounds the wait for the transport to hand back payloads
// after a failure: a cancelled stream drops them at once, but a transport
// that died may never hand them back (nor read them again).
const releaseGrace = time.Second

// waitSent waits until the transport is done with every chunk in done; it
// gives up and reports false when stop closes or, with grace > 0, after
// grace.
func waitSent(stop <-chan struct{}, done []sendDone, grace time.Duration) bool {
	var timeout <-chan time.Time
	if grace > 0 {
		t := time.NewTimer(grace)
		defer t.Stop()
		timeout = t.C
	}
	for _, d := range done {
		select {
		case <-d:
		case <-stop:
			return false
		case <-timeout:
			return false
		}
	}
	return true
}

// chunk returns chunk i of a segment.
func (o *ringOp) chunk(span [2]int, i int) []float32 {
	c := span[0] + i*o.per
	return o.v[c:min(c+o.per, span[1])]
}

func (o *ringOp) sendAll(ctx context.Context) error {
	g, n := o.g, o.n
	for _, ch := range o.send {
		if ch.t > 0 {
			select {
			case <-o.ready[ch.t-1]:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		tx := &txChunk{hdr: pb.CollectiveChunk{Op: o.op, Step: int32(ch.t)}, data: f32bytes(o.chunk(o.sendSpan[ch.t], ch.i)), done: o.done[ch.t][ch.i]}
		taken, err := g.send(ctx, tx)
		if taken {
			o.issued = append(o.issued, tx.done)
		}
		if err != nil {
			return fmt.Errorf("collective: send to rank %d: %w", (g.Rank()+1)%n, err)
		}
	}
	return nil
}

func (o *ringOp) recvAll(ctx context.Context) error {
	g, n := o.g, o.n
	for _, ch := range o.recv {
		msg, err := g.recv(ctx, o.op, ch.t)
		if err != nil {
			return err
		}
		dst := o.chunk(o.recvSpan[ch.t], ch.i)
		if msg.n != 4*len(dst) {
			msg.free()
			return fmt.Errorf("collective: step %d chunk has %d bytes, want %d (members passed vectors of different lengths?)", ch.t, msg.n, 4*len(dst))
		}
		if ch.t < n-1 {
			addChunk(dst, msg)
		} else {
			// dst went out at reduce-scatter step t-(n-1), chunk i.
			select {
			case <-o.done[ch.t-(n-1)][ch.i]:
			case <-ctx.Done():
				msg.free()
				return ctx.Err()
			}
			eachRun(dst, msg, o.copyIn)
		}
		msg.free()
		o.ready[ch.t] <- struct{}{}
	}
	return nil
}

// addChunk adds a received chunk's float32s to dst (as many as dst holds).
// The payload lies in grpc's buffers, cut at arbitrary bytes: a value split
// between two buffers is reassembled.
func addChunk(dst []float32, c *rxChunk) {
	eachRun(dst, c, addBytes)
}

// eachRun calls fn on consecutive runs of dst and the payload bytes that
// hold them.
func eachRun(dst []float32, c *rxChunk, fn func(dst []float32, src []byte)) {
	var carry [4]byte
	nc, i := 0, 0
	c.pieces(func(p []byte) {
		if nc > 0 {
			k := copy(carry[nc:], p)
			nc += k
			p = p[k:]
			if nc < 4 {
				return
			}
			fn(dst[i:i+1], carry[:])
			i++
			nc = 0
		}
		m := min(len(p)/4, len(dst)-i)
		if m > 0 {
			fn(dst[i:i+m], p[:4*m])
			i += m
			p = p[4*m:]
		}
		if i < len(dst) {
			nc = copy(carry[:], p)
		}
	})
}

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

// addBytesGeneric adds little-endian float32s to dst: the portable
// addBytes (reduce_amd64.s is the amd64 one).
func addBytesGeneric(dst []float32, src []byte) {
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

// copyBytesGeneric copies little-endian float32s into dst: the portable
// copyBytes (reduce_amd64.s is the amd64 one).
func copyBytesGeneric(dst []float32, src []byte) {
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
