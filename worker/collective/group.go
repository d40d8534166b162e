package collective

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/status"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// DefaultChunkBytes is the size of the pieces a collective is cut into:
// large enough to amortise per-message costs, small enough to pipeline.
const DefaultChunkBytes = 1 << 20

// DefaultStreams is how many connections carry each ring link; chunks go
// round-robin over them, so sending, framing and receiving can run in
// parallel. On a 2-core machine 1, 2 and 4 measured within noise of each
// other (BENCHMARKS.md); more pays where cores and links are to spare.
const DefaultStreams = 1

// Config describes this member's place in one group generation.
type Config struct {
	Group      string
	Generation uint64
	// Rank is this member's index in Addrs, the members' gRPC addresses in
	// ring order (the same list on every member).
	Rank  int
	Addrs []string
	TLS   rpc.TLSConfig
	// Dialer, when set, opens the ring connections instead of a TCP dial
	// (tests inject faults through it).
	Dialer rpc.Dialer
	// ChunkBytes is the chunk size; 0 means DefaultChunkBytes.
	ChunkBytes int
	// Streams is the number of parallel connections per ring link; 0 means
	// DefaultStreams. Every member must use the same value.
	Streams int
	// SmallBytes: AllReduce sums vectors up to this many bytes by an
	// all-gather (fewer dependent hops) instead of the ring; 0 means
	// DefaultSmallBytes, negative always the ring. Every member must use
	// the same value.
	SmallBytes int
}

// Group is this member's handle on one group generation.
type Group struct {
	cfg Config
	hub *Hub
	key groupKey
	// out are the outlets of the streams the right neighbour pulls; in the
	// streams this member pulls from its left neighbour. Chunk i of the
	// generation travels on stream i mod len(out).
	out []*outlet
	in  []grpc.ServerStreamingClient[pb.CollectiveChunk]
	// sent and got count chunks sent and received over the generation's
	// life.
	sent, got uint64
	// conns are the pull streams' connections; cancelPull ends the streams.
	conns      []*grpc.ClientConn
	cancelPull context.CancelFunc
	closed     bool
	op         uint64
	// small is smallAllReduce's scratch: every member's vector.
	small []float32
	mu    sync.Mutex // one collective at a time
	err   error      // sticky: a broken generation stays broken
	// stopWatch ends the running collective's watch on its context.
	stopWatch func() bool
}

// inPlaceReceive: pull streams over plain TCP receive through an rxConn.
// Tests turn it off to run the path TLS takes.
var inPlaceReceive = true

// pullDialOptions configure the client transport a member receives its
// left neighbour's chunks on. Over plain TCP the connection is an rxConn
// (rxconn.go): grpc's read buffer is off and DATA payloads are read in
// place; over TLS frames are read into recvPool's buffers, which are not
// cleared first.
func pullDialOptions(cfg Config) (rpc.Dialer, []grpc.DialOption) {
	if cfg.TLS.Enabled() || !inPlaceReceive {
		return cfg.Dialer, []grpc.DialOption{experimental.WithBufferPool(recvPool{})}
	}
	pool := newRxPool()
	return pullDialer(cfg.Dialer, pool), []grpc.DialOption{experimental.WithBufferPool(pool), grpc.WithReadBufferSize(0)}
}

// Join enters a group generation: it opens the streams on which it pulls
// its left neighbour's chunks, and readies the ones its right neighbour
// pulls. Every member must Join before the first collective; one that joins
// late only delays the others.
func (h *Hub) Join(ctx context.Context, cfg Config) (*Group, error) {
	n := len(cfg.Addrs)
	if n == 0 || cfg.Rank < 0 || cfg.Rank >= n {
		return nil, fmt.Errorf("collective: rank %d of %d members", cfg.Rank, n)
	}
	if cfg.ChunkBytes <= 0 {
		cfg.ChunkBytes = DefaultChunkBytes
	}
	cfg.ChunkBytes &^= 3 // whole float32 values
	if cfg.ChunkBytes == 0 {
		cfg.ChunkBytes = 4
	}
	g := &Group{cfg: cfg, hub: h, key: groupKey{cfg.Group, cfg.Generation}, cancelPull: func() {}}
	if n == 1 {
		return g, nil
	}
	if cfg.Streams <= 0 {
		g.cfg.Streams = DefaultStreams
	}
	left := (cfg.Rank + n - 1) % n
	pctx, cancel := context.WithCancel(context.Background())
	g.cancelPull = cancel
	for i := range g.cfg.Streams {
		g.out = append(g.out, h.outlet(streamKey{g.key, int32(i)}))
		dial, opts := pullDialOptions(cfg)
		conn, err := rpc.DialVia(cfg.Addrs[left], cfg.TLS, dial, opts...)
		if err != nil {
			g.dropPulls()
			return nil, err
		}
		g.conns = append(g.conns, conn)
		stream, err := pb.NewCollectiveServiceClient(conn).Pull(pctx,
			&pb.CollectivePull{Group: cfg.Group, Generation: cfg.Generation, Rank: int32(cfg.Rank), Stream: int32(i)},
			grpc.CallContentSubtype(codecName))
		if err != nil {
			// The outlets stay: the right neighbour may pull already, and
			// the caller may Join again.
			g.dropPulls()
			return nil, fmt.Errorf("collective: pull from rank %d at %s: %w", left, cfg.Addrs[left], err)
		}
		g.in = append(g.in, stream)
	}
	return g, nil
}

// leave ends the generation's streams: the outlets end with err (nil: the
// right neighbour reads a clean end), the pulls are cancelled.
func (g *Group) leave(err error) {
	for _, o := range g.out {
		o.stop(err)
	}
	g.dropPulls()
	if len(g.out) > 0 {
		g.hub.forget(g.key)
	}
}

// dropPulls ends the pull streams and closes their connections.
func (g *Group) dropPulls() {
	g.cancelPull()
	for _, c := range g.conns {
		_ = c.Close()
	}
	g.conns = nil
}

// send sends the next chunk of the generation on its stream. A
// CollectiveChunk's payload is copied (the caller may reuse it on return);
// a txChunk's is not (its done closes when the transport is done with it),
// and taken says whether the transport has it.
func (g *Group) send(ctx context.Context, m any) (taken bool, err error) {
	o := g.out[g.sent%uint64(len(g.out))]
	g.sent++
	taken, err = o.send(ctx, m)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err() // the outlet stopped because ctx ended
	}
	return taken, err
}

// Size returns the number of members; Rank this member's index.
func (g *Group) Size() int { return len(g.cfg.Addrs) }

// Rank returns this member's index in the ring.
func (g *Group) Rank() int { return g.cfg.Rank }

// left is the rank this member pulls from.
func (g *Group) left() int { return (g.cfg.Rank + g.Size() - 1) % g.Size() }

// Close leaves the generation: the streams to both neighbours end (a
// neighbour still waiting on this member fails at once). It returns once
// the right neighbour has ended its pull, so that it has received all this
// member sent (a collective returns before its last chunks have left the
// transport), or after closeLinger.
func (g *Group) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = errors.New("collective: group closed")
	}
	if g.closed {
		return
	}
	g.closed = true
	g.leave(nil)
	t := time.NewTimer(closeLinger + time.Second/10)
	defer t.Stop()
	for _, o := range g.out {
		select {
		case <-o.attached:
		default:
			continue // nobody pulls
		}
		select {
		case <-o.ended:
		case <-t.C:
			return
		}
	}
}

// errAborted ends the outlets of a generation a failed collective broke:
// the right neighbour's collective fails at once instead of waiting.
var errAborted = status.Error(codes.Aborted, "collective: the left neighbour aborted the generation")

// abort breaks the generation after a failed collective: both neighbours'
// streams end, so a send blocked in flow control or a receive waiting on a
// chunk returns at once, here and at the neighbours.
func (g *Group) abort() {
	for _, o := range g.out {
		o.stop(errAborted)
	}
	g.cancelPull()
}

// begin starts a collective: it serialises collectives and numbers them.
// Until end, ctx ending aborts the generation (a receive does not watch
// ctx itself).
func (g *Group) begin(ctx context.Context) (uint64, error) {
	g.mu.Lock()
	if g.err != nil {
		g.mu.Unlock()
		return 0, g.err
	}
	g.stopWatch = context.AfterFunc(ctx, g.abort)
	g.op++
	return g.op, nil
}

// end finishes a collective, making a failure sticky.
func (g *Group) end(ctx context.Context, err error) error {
	if !g.stopWatch() && err == nil {
		// ctx ended as the collective finished: it succeeded, but the
		// streams are cut.
		g.err = fmt.Errorf("collective: generation aborted when the context of a collective ended: %w", context.Cause(ctx))
	}
	if err != nil && g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	return err
}

// recv returns the next chunk from the left neighbour and checks it
// belongs to the expected collective and step.
func (g *Group) recv(ctx context.Context, op uint64, step int) (*rxChunk, error) {
	in := g.in[g.got%uint64(len(g.in))]
	g.got++
	msg := &rxChunk{}
	if err := in.RecvMsg(msg); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == io.EOF {
			return nil, errors.New("collective: the left neighbour closed the ring")
		}
		return nil, fmt.Errorf("collective: stream from rank %d broke: %w", g.left(), err)
	}
	if msg.hdr.Op == endOp && msg.hdr.Step == endStep {
		msg.free()
		return nil, errors.New("collective: the left neighbour closed the ring")
	}
	if msg.hdr.Op != op || int(msg.hdr.Step) != step {
		msg.free()
		return nil, fmt.Errorf("collective: out of order: got op %d step %d, want op %d step %d (members called collectives in different orders?)", msg.hdr.Op, msg.hdr.Step, op, step)
	}
	return msg, nil
}
