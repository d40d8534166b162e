package coordinator

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// workerAPI serves WorkerService: the calls workers make. Every call runs
// on the leader (followers forward), because heartbeats and leases live in
// the leader's memory and its batcher.
type workerAPI struct {
	pb.UnimplementedWorkerServiceServer
	s *Server
}

func (a *workerAPI) Register(ctx context.Context, req *pb.RegisterRequest) (*pb.RegisterResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewWorkerServiceClient(conn).Register(fctx, req)
	}
	w := req.GetWorker()
	if w.GetId() == "" || w.Slots < 1 {
		return nil, status.Error(codes.InvalidArgument, "register: worker id and slots ≥ 1 are required")
	}
	if w.Pool == "" {
		w.Pool = jobspec.DefaultPool
	}
	res, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId, Op: &pb.Command_RegisterWorker{RegisterWorker: &pb.RegisterWorker{Worker: w}}})
	if err != nil {
		return nil, toStatus(err)
	}
	a.s.hb.seen(w.Id, time.Now())
	a.s.log.Info("worker registered", "worker", w.Id, "pool", w.Pool, "slots", w.Slots, "addr", w.GrpcAddr)
	return &pb.RegisterResponse{Worker: res.worker, LeaseTtlMs: a.s.cfg.LeaseTTL.Milliseconds(),
		HeartbeatIntervalMs: a.s.cfg.HeartbeatInterval.Milliseconds()}, nil
}

func (a *workerAPI) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewWorkerServiceClient(conn).Heartbeat(fctx, req)
	}
	a.s.metrics.heartbeats.Inc()
	view := a.s.store.Snapshot()
	w := view.Worker(req.WorkerId)
	if w == nil || w.State == pb.WorkerState_WORKER_STATE_DOWN {
		return &pb.HeartbeatResponse{UnknownWorker: true, Abort: req.Running}, nil
	}
	now := time.Now()
	a.s.hb.seen(w.Id, now)
	resp := &pb.HeartbeatResponse{Drain: w.State == pb.WorkerState_WORKER_STATE_DRAINING, Keyring: keyringFor(view, req.KeyringVersion)}
	reported := map[attemptKey]bool{}
	for _, r := range req.Running {
		k := attemptKey{r.JobId, r.Task, r.Attempt}
		reported[k] = true
		if t := view.Task(r.JobId, r.Task); t != nil && holds(t, r.Attempt, w.Id) {
			a.s.hb.extend(k, now.Add(a.s.cfg.LeaseTTL))
			continue
		}
		resp.Abort = append(resp.Abort, r)
	}
	a.releaseForgotten(ctx, view, w.Id, reported, now)
	return resp, nil
}

// holds reports whether attempt is live on worker.
func holds(t *pb.Task, attempt int32, worker string) bool {
	if t.State != pb.TaskState_TASK_STATE_RUNNING {
		return false
	}
	for _, at := range t.Active {
		if at.Number == attempt && at.WorkerId == worker {
			return true
		}
	}
	return false
}

// releaseForgotten expires attempts the state gives a worker but the worker
// does not run: their lease answer was lost (leadership changed mid-call,
// or the worker restarted). Young attempts may still be in flight to it.
func (a *workerAPI) releaseForgotten(ctx context.Context, view *View, worker string, reported map[attemptKey]bool, now time.Time) {
	grace := 2 * a.s.cfg.HeartbeatInterval
	var ops []*pb.TaskOp
	view.Running(func(t *pb.Task) bool {
		for _, at := range t.Active {
			k := attemptKey{t.JobId, t.Index, at.Number}
			if at.WorkerId == worker && !reported[k] && now.Sub(time.UnixMilli(at.StartUnixMs)) > grace {
				ops = append(ops, &pb.TaskOp{JobId: t.JobId, Task: t.Index, Attempt: at.Number, WorkerId: worker,
					Op: &pb.TaskOp_Expire{Expire: &pb.ExpireOp{Reason: "worker does not run it (lease answer lost)"}}})
			}
		}
		return true
	})
	if len(ops) > 0 {
		if _, err := a.s.batch.submit(ctx, ops); err != nil {
			a.s.log.Warn("release forgotten attempts", "worker", worker, "err", err)
		}
	}
}

func (a *workerAPI) Report(ctx context.Context, req *pb.ReportRequest) (*pb.ReportResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewWorkerServiceClient(conn).Report(fctx, req)
	}
	ops, err := a.reportOps(req.WorkerId, req.Reports)
	if err != nil {
		return nil, toStatus(err)
	}
	res, err := a.s.batch.submit(ctx, ops)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.ReportResponse{Accepted: make([]bool, len(res))}
	for i, r := range res {
		resp.Accepted[i] = r.Ok
	}
	return resp, nil
}

// reportOps turns worker reports into task transitions. A malformed report
// becomes an op the FSM rejects, so it is answered accepted=false without
// holding up the others in the call.
func (a *workerAPI) reportOps(worker string, reports []*pb.TaskReport) ([]*pb.TaskOp, error) {
	ops := make([]*pb.TaskOp, 0, len(reports))
	for _, r := range reports {
		at := r.GetAttempt()
		op := &pb.TaskOp{JobId: at.GetJobId(), Task: at.GetTask(), Attempt: at.GetAttempt(), WorkerId: worker}
		switch o := r.Outcome.(type) {
		case *pb.TaskReport_Success:
			op.Op = &pb.TaskOp_Succeed{Succeed: &pb.SucceedOp{Result: o.Success}}
		case *pb.TaskReport_Failure:
			op.Op = &pb.TaskOp_Fail{Fail: &pb.FailOp{Error: o.Failure.GetError(), Permanent: o.Failure.GetPermanent(),
				RetryBaseMs: a.s.cfg.RetryBackoff.Milliseconds(), RetryMaxMs: a.s.cfg.MaxRetryBackoff.Milliseconds()}}
		case *pb.TaskReport_Released:
			op.Op = &pb.TaskOp_Release{Release: &pb.ReleaseOp{Reason: o.Released}}
		}
		ops = append(ops, op)
	}
	return ops, nil
}
