package collective

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// groupKey names one generation of one group.
type groupKey struct {
	group      string
	generation uint64
}

// streamKey names one of the parallel streams of a generation's ring link.
type streamKey struct {
	groupKey
	stream int32
}

// outlet is the sending end of one stream of a ring link: the Pull stream
// the right neighbour opened on this member's server. The handler of that
// RPC owns the stream (grpc allows SendMsg only while the handler runs, and
// only the handler can end the stream), so the group hands it each message
// and waits for the result.
type outlet struct {
	attached chan struct{} // closed once a puller's stream is here
	req      chan sendReq

	quit     chan struct{} // closed by stop: the handler ends the stream
	quitOnce sync.Once
	quitErr  error // the stream's end: nil ends it cleanly

	gone     chan struct{} // closed when the stream can take no more
	goneOnce sync.Once
	goneErr  error

	ended chan struct{} // closed when the handler has returned
}

// sendReq is one message for the handler to send, and where the result goes.
type sendReq struct {
	m   any
	res chan error // buffered: the handler never blocks on it
}

func newOutlet() *outlet {
	return &outlet{attached: make(chan struct{}), req: make(chan sendReq), quit: make(chan struct{}), gone: make(chan struct{}), ended: make(chan struct{})}
}

// stop ends the stream: cleanly (err nil: the puller reads an end marker,
// then io.EOF) or with err. The handler acts at once unless it is inside
// SendMsg.
func (o *outlet) stop(err error) {
	o.quitOnce.Do(func() {
		o.quitErr = err
		close(o.quit)
	})
}

// die records why the stream can take no more messages.
func (o *outlet) die(err error) {
	o.goneOnce.Do(func() {
		o.goneErr = err
		close(o.gone)
	})
}

// closeLinger bounds how long a cleanly stopped outlet waits for its
// puller to end the stream (Group.Close waits as long).
const closeLinger = 2 * time.Second

// endOp and endStep mark the end of a stream the sender closed (ops are
// numbered from 1).
const (
	endOp   = 0
	endStep = -1
)

// errStopped is a send on an outlet the group stopped (it left or aborted
// the generation).
var errStopped = errors.New("collective: the generation's stream to the right neighbour was stopped")

// send hands m to the stream's handler and returns SendMsg's result. taken
// reports whether the handler took m (then grpc has encoded it: a zero-copy
// payload will be handed back). It gives up when ctx ends or the outlet
// stops, even while the handler is still sending.
func (o *outlet) send(ctx context.Context, m any) (taken bool, err error) {
	select {
	case <-o.attached:
	default:
		select {
		case <-o.attached:
		case <-o.gone:
			return false, o.goneErr
		case <-o.quit:
			return false, errStopped
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	r := sendReq{m: m, res: make(chan error, 1)}
	select {
	case o.req <- r:
	case <-o.gone:
		return false, o.goneErr
	case <-o.quit:
		return false, errStopped
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case err := <-r.res:
		return true, err
	case <-o.quit:
		return true, errStopped
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

// Hub serves the Pull streams of every group this member belongs to: the
// right neighbour of each pulls from it. Register it on the member's gRPC
// server.
type Hub struct {
	pb.UnimplementedCollectiveServiceServer
	mu      sync.Mutex
	outlets map[streamKey]*outlet
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{outlets: map[streamKey]*outlet{}} }

// Register serves the hub on s.
func (h *Hub) Register(s *grpc.Server) { pb.RegisterCollectiveServiceServer(s, h) }

// outlet returns the outlet of one stream of a generation, creating it when
// the right neighbour's pull arrives before the local member joined.
func (h *Hub) outlet(k streamKey) *outlet {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.outletLocked(k)
}

func (h *Hub) outletLocked(k streamKey) *outlet {
	o, ok := h.outlets[k]
	if !ok {
		o = newOutlet()
		h.outlets[k] = o
	}
	return o
}

// attach gives a pulled stream to its outlet; nil when the outlet already
// has one.
func (h *Hub) attach(k streamKey) *outlet {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.outletLocked(k)
	select {
	case <-o.attached:
		return nil
	default:
	}
	close(o.attached)
	return o
}

// forget drops a generation's outlets (the group left it).
func (h *Hub) forget(k groupKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sk := range h.outlets {
		if sk.groupKey == k {
			delete(h.outlets, sk)
		}
	}
}

// Pull serves one stream of a generation to the right neighbour: it sends
// what the local member hands its outlet, in order, until the member stops
// the outlet (leaving the generation, or aborting it) or the puller goes.
func (h *Hub) Pull(req *pb.CollectivePull, stream grpc.ServerStreamingServer[pb.CollectiveChunk]) error {
	if req.Group == "" {
		return status.Error(codes.InvalidArgument, "collective: a pull must name its group")
	}
	o := h.attach(streamKey{groupKey{req.Group, req.Generation}, req.Stream})
	if o == nil {
		return status.Errorf(codes.AlreadyExists, "collective: stream %d of %s generation %d is already pulled", req.Stream, req.Group, req.Generation)
	}
	defer close(o.ended)
	ctx := stream.Context()
	for {
		select {
		case r := <-o.req:
			err := stream.SendMsg(r.m)
			r.res <- err
			if err != nil {
				err = fmt.Errorf("collective: stream to rank %d broke: %w", req.Rank, err)
				o.die(err)
				return err
			}
		case <-o.quit:
			o.die(errStopped)
			if o.quitErr == nil {
				// A clean end (Close): what was sent may still be queued
				// in the transport. Mark the end in the stream, so that a
				// puller still waiting on chunks fails at once, and keep the
				// stream until the puller ends it (then it has read all it
				// needs), so that a server stopped once Close returns does
				// not cut the last chunks off.
				if stream.SendMsg(&pb.CollectiveChunk{Op: endOp, Step: endStep}) == nil {
					t := time.NewTimer(closeLinger)
					select {
					case <-ctx.Done():
					case <-t.C:
					}
					t.Stop()
				}
			}
			return o.quitErr
		case <-ctx.Done():
			err := fmt.Errorf("collective: rank %d left the stream: %w", req.Rank, context.Cause(ctx))
			o.die(err)
			return err
		}
	}
}
