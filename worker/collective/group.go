package collective

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"

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
	cfg  Config
	hub  *Hub
	key  groupKey
	in   []*inbox
	send []pb.CollectiveService_RingClient
	// sent and got count chunks sent and received over the generation's
	// life; chunk i travels on stream i mod len(send).
	sent, got uint64
	close     func()
	// cut cancels the outgoing stream; safe while a Send is in flight.
	cut func()
	op  uint64
	// small is smallAllReduce's scratch: every member's vector.
	small []float32
	mu    sync.Mutex // one collective at a time
	err   error      // sticky: a broken generation stays broken
}

// Join enters a group generation: it opens the stream to the right
// neighbour. Every member must Join before the first collective; one that
// joins late only delays the others.
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
	g := &Group{cfg: cfg, hub: h, key: groupKey{cfg.Group, cfg.Generation}, close: func() {}, cut: func() {}}
	if n == 1 {
		return g, nil
	}
	if cfg.Streams <= 0 {
		g.cfg.Streams = DefaultStreams
	}
	right := (cfg.Rank + 1) % n
	sctx, cancel := context.WithCancel(context.Background())
	var conns []*grpc.ClientConn
	closeAll := func() {
		for _, s := range g.send {
			_, _ = s.CloseAndRecv()
		}
		cancel()
		for _, c := range conns {
			_ = c.Close()
		}
	}
	for i := range g.cfg.Streams {
		g.in = append(g.in, h.inbox(streamKey{g.key, int32(i)}))
		conn, err := rpc.DialVia(cfg.Addrs[right], cfg.TLS, cfg.Dialer)
		if err != nil {
			closeAll()
			return nil, err
		}
		conns = append(conns, conn)
		// MaxRetryRPCBufferSize(0) commits the stream on its first message:
		// grpc then keeps no reference on sent payloads for replay, so a
		// zero-copy payload is handed back as soon as it is written.
		stream, err := pb.NewCollectiveServiceClient(conn).Ring(sctx, grpc.CallContentSubtype(codecName), grpc.MaxRetryRPCBufferSize(0))
		if err == nil {
			err = stream.Send(&pb.CollectiveChunk{Group: cfg.Group, Generation: cfg.Generation, FromRank: int32(cfg.Rank), Stream: int32(i)})
		}
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("collective: open the ring to rank %d at %s: %w", right, cfg.Addrs[right], err)
		}
		g.send = append(g.send, stream)
	}
	g.cut = cancel
	g.close = closeAll
	return g, nil
}

// sendChunk sends the next chunk of the generation on its stream; the
// payload is copied (the caller may reuse it on return).
func (g *Group) sendChunk(c *pb.CollectiveChunk) error {
	s := g.send[g.sent%uint64(len(g.send))]
	g.sent++
	return s.Send(c)
}

// sendTx sends the next chunk of the generation without copying its
// payload: c.done closes when the transport is done with it.
func (g *Group) sendTx(c *txChunk) error {
	s := g.send[g.sent%uint64(len(g.send))]
	g.sent++
	return s.SendMsg(c)
}

// Size returns the number of members; Rank this member's index.
func (g *Group) Size() int { return len(g.cfg.Addrs) }

// Rank returns this member's index in the ring.
func (g *Group) Rank() int { return g.cfg.Rank }

// Close leaves the generation: the stream to the right neighbour ends and
// the inbox is dropped.
func (g *Group) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = errors.New("collective: group closed")
	}
	g.close()
	g.close = func() {}
	if len(g.in) > 0 {
		g.hub.forget(g.key)
	}
}

// begin starts a collective: it serialises collectives and numbers them.
func (g *Group) begin() (uint64, error) {
	g.mu.Lock()
	if g.err != nil {
		g.mu.Unlock()
		return 0, g.err
	}
	g.op++
	return g.op, nil
}

// end finishes a collective, making a failure sticky.
func (g *Group) end(err error) error {
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
	var msg *rxChunk
	select {
	case msg = <-in.ch:
	default:
		select {
		case msg = <-in.ch:
		case <-in.done:
			select {
			case msg = <-in.ch: // drain what arrived before the end
			default:
				return nil, in.closeErr()
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if msg.hdr.Op != op || int(msg.hdr.Step) != step {
		msg.free()
		return nil, fmt.Errorf("collective: out of order: got op %d step %d, want op %d step %d (members called collectives in different orders?)", msg.hdr.Op, msg.hdr.Step, op, step)
	}
	return msg, nil
}
