package collective

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// inboxDepth is how many chunks may wait for the local member to consume
// them; beyond it the left neighbour's stream is flow-controlled by gRPC.
const inboxDepth = 64

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

// inbox carries the chunks arriving from the left neighbour, in order.
// ch is never closed (the stream handler may still be sending); done is
// closed when no more chunks will come, with err saying why.
type inbox struct {
	ch   chan *rxChunk
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	err  error
}

func (in *inbox) close(err error) {
	in.once.Do(func() {
		in.mu.Lock()
		in.err = err
		in.mu.Unlock()
		close(in.done)
	})
}

func (in *inbox) closeErr() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.err == nil {
		return errors.New("collective: the left neighbour closed the ring")
	}
	return in.err
}

// Hub receives the ring streams of every group this member belongs to and
// routes them to the group's inbox. Register it on the member's gRPC server.
type Hub struct {
	pb.UnimplementedCollectiveServiceServer
	mu      sync.Mutex
	inboxes map[streamKey]*inbox
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{inboxes: map[streamKey]*inbox{}} }

// Register serves the hub on s.
func (h *Hub) Register(s *grpc.Server) { pb.RegisterCollectiveServiceServer(s, h) }

// inbox returns the inbox of one stream of a generation, creating it when
// the left neighbour's stream arrives before the local member joined.
func (h *Hub) inbox(k streamKey) *inbox {
	h.mu.Lock()
	defer h.mu.Unlock()
	in, ok := h.inboxes[k]
	if !ok {
		in = &inbox{ch: make(chan *rxChunk, inboxDepth), done: make(chan struct{})}
		h.inboxes[k] = in
	}
	return in
}

// forget drops a generation's inboxes (the group left it).
func (h *Hub) forget(k groupKey) {
	h.mu.Lock()
	var gone []*inbox
	for sk, in := range h.inboxes {
		if sk.groupKey == k {
			gone = append(gone, in)
			delete(h.inboxes, sk)
		}
	}
	h.mu.Unlock()
	for _, in := range gone {
		in.close(errors.New("collective: group generation closed"))
	}
}

// Ring receives one left neighbour's stream: its first chunk names the
// group generation; every chunk goes to that generation's inbox in order,
// still in grpc's receive buffers (rxChunk).
func (h *Hub) Ring(stream pb.CollectiveService_RingServer) error {
	first := &rxChunk{}
	if err := stream.RecvMsg(first); err != nil {
		return err
	}
	first.free()
	if first.hdr.Group == "" {
		return fmt.Errorf("collective: a ring stream must start with its group")
	}
	in := h.inbox(streamKey{groupKey{first.hdr.Group, first.hdr.Generation}, first.hdr.Stream})
	ctx := stream.Context()
	for {
		msg := &rxChunk{}
		err := stream.RecvMsg(msg)
		if err == io.EOF {
			in.close(nil)
			return stream.SendAndClose(&pb.CollectiveAck{})
		}
		if err != nil {
			in.close(fmt.Errorf("collective: stream from rank %d broke: %w", first.hdr.FromRank, err))
			return err
		}
		select {
		case in.ch <- msg:
		case <-in.done:
			msg.free()
			return in.closeErr()
		case <-ctx.Done():
			msg.free()
			in.close(ctx.Err())
			return ctx.Err()
		}
	}
}
