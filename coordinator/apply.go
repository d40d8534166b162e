package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// applyTimeout bounds how long a proposal waits to be enqueued in Raft.
const applyTimeout = 10 * time.Second

// maxCommandBytes caps one log entry: bulk data never goes through Raft
// (a dataset of a million shards is still far below it).
const maxCommandBytes = 32 << 20

// apply proposes a command on the leader and waits for it to be applied,
// returning the FSM's answer. The leader stamps the version and its clock.
func (s *Server) apply(ctx context.Context, cmd *pb.Command) (*applyResult, error) {
	if s.raft.raft.State() != raft.Leader {
		return nil, errNotLeader
	}
	cmd.Version = commandVersion
	if cmd.UnixMs == 0 {
		cmd.UnixMs = time.Now().UnixMilli()
	}
	data, err := proto.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	if len(data) > maxCommandBytes {
		return nil, fmt.Errorf("%w: the command is %d bytes, the limit is %d", errInvalid, len(data), maxCommandBytes)
	}
	f := s.raft.raft.Apply(data, applyTimeout)
	done := make(chan error, 1)
	go func() { done <- s.awaitApply(f) }()
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		// The command may still commit; a retry with the same request ID
		// is applied once.
		return nil, ctx.Err()
	case <-s.stop:
		return nil, errShuttingDown
	}
	res, ok := f.Response().(*applyResult)
	if !ok || res == nil {
		return nil, fmt.Errorf("apply: unexpected FSM response %T", f.Response())
	}
	if res.err != nil {
		return res, res.err
	}
	return res, nil
}

// batcher merges the task transitions of concurrent callers (lease,
// report, expiry) into one TaskBatch log entry. While one entry is being
// committed the next one fills, so batches grow with load (group commit).
type batcher struct {
	s  *Server
	in chan *batchReq
}

type batchReq struct {
	ops []*pb.TaskOp
	res chan batchRes
}

type batchRes struct {
	results []*pb.TaskOpResult
	err     error
}

const (
	maxBatchOps      = 4096
	batchesInFlight  = 2
	batchQueueLength = 1024
)

func newBatcher(s *Server) *batcher {
	b := &batcher{s: s, in: make(chan *batchReq, batchQueueLength)}
	s.wg.Add(1)
	go b.loop()
	return b
}

// submit proposes ops and returns their results in order.
func (b *batcher) submit(ctx context.Context, ops []*pb.TaskOp) ([]*pb.TaskOpResult, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	req := &batchReq{ops: ops, res: make(chan batchRes, 1)}
	select {
	case b.in <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.s.stop:
		return nil, errShuttingDown
	}
	select {
	case r := <-req.res:
		return r.results, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.s.stop:
		return nil, errShuttingDown
	}
}

func (b *batcher) loop() {
	defer b.s.wg.Done()
	slots := make(chan struct{}, batchesInFlight)
	for {
		var first *batchReq
		select {
		case first = <-b.in:
		case <-b.s.stop:
			return
		}
		reqs, n := []*batchReq{first}, len(first.ops)
	fill:
		for n < maxBatchOps {
			select {
			case r := <-b.in:
				reqs, n = append(reqs, r), n+len(r.ops)
			default:
				break fill
			}
		}
		select {
		case slots <- struct{}{}:
		case <-b.s.stop:
			for _, r := range reqs {
				r.res <- batchRes{err: errShuttingDown}
			}
			return
		}
		b.s.wg.Add(1)
		go func() {
			defer func() { <-slots; b.s.wg.Done() }()
			b.commit(reqs, n)
		}()
	}
}

func (b *batcher) commit(reqs []*batchReq, n int) {
	ops := make([]*pb.TaskOp, 0, n)
	for _, r := range reqs {
		ops = append(ops, r.ops...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	res, err := b.s.apply(ctx, &pb.Command{Op: &pb.Command_TaskBatch{TaskBatch: &pb.TaskBatch{Ops: ops}}})
	b.s.metrics.batchOps.Observe(float64(n))
	off := 0
	for _, r := range reqs {
		if err != nil {
			r.res <- batchRes{err: err}
			continue
		}
		r.res <- batchRes{results: res.batch.Results[off : off+len(r.ops)]}
		off += len(r.ops)
	}
}
