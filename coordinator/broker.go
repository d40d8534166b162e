package coordinator

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Lease hands a worker up to max_tasks attempts: speculative backups of
// slow tasks first, then pending tasks of its pool in FIFO order. Reports
// sent with the call are committed in the same log entry as the leases.
// With nothing to hand out it waits up to wait_ms for work (long poll).
func (a *workerAPI) Lease(ctx context.Context, req *pb.LeaseRequest) (*pb.LeaseResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewWorkerServiceClient(conn).Lease(fctx, req)
	}
	reportOps, err := a.reportOps(req.WorkerId, req.Reports)
	if err != nil {
		return nil, toStatus(err)
	}
	wait := time.Duration(min(max(req.WaitMs, 0), 30_000)) * time.Millisecond
	deadline := time.Now().Add(wait)
	for {
		ls := a.s.leading()
		if ls == nil {
			return nil, toStatus(errNotLeader)
		}
		view := a.s.store.Snapshot()
		w := view.Worker(req.WorkerId)
		if w == nil || w.State == pb.WorkerState_WORKER_STATE_DOWN {
			return nil, status.Errorf(codes.NotFound, "worker %s is not registered (or was marked down): register again", req.WorkerId)
		}
		picks, watch := a.s.pick(ls, view, w, int(req.MaxTasks), req.FreeBytes)
		ops := append(reportOps, picks...)
		res, err := a.s.batch.submit(ctx, ops)
		ls.doneLeasing(picks)
		if err != nil {
			return nil, toStatus(err)
		}
		resp := &pb.LeaseResponse{Drain: w.State == pb.WorkerState_WORKER_STATE_DRAINING}
		for i := range reportOps {
			resp.Accepted = append(resp.Accepted, res[i].Ok)
		}
		now := time.Now()
		for i, op := range picks {
			r := res[len(reportOps)+i]
			if !r.Ok {
				continue
			}
			a.s.hb.extend(attemptKey{op.JobId, op.Task, r.Attempt}, now.Add(a.s.cfg.LeaseTTL))
			a.s.metrics.leases.Inc()
			resp.Assignments = append(resp.Assignments, a.s.assignment(view, op, r.Attempt))
		}
		reportOps = nil
		if len(resp.Assignments) > 0 || len(resp.Accepted) > 0 || resp.Drain || !now.Before(deadline) || req.MaxTasks <= 0 {
			return resp, nil
		}
		if !waitForWork(ctx, watch, deadline, a.s.stop) {
			return resp, nil
		}
	}
}

// waitForWork blocks until the pending set may have changed, the deadline
// passes or the call ends; it reports whether to look again.
func waitForWork(ctx context.Context, watch <-chan struct{}, deadline time.Time, stop <-chan struct{}) bool {
	// Also poll: tasks leave their retry backoff by the clock, not by a write.
	t := time.NewTimer(min(time.Until(deadline), 250*time.Millisecond))
	defer t.Stop()
	select {
	case <-watch:
		return true
	case <-t.C:
		return time.Now().Before(deadline)
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}

// pick chooses up to n tasks for worker w and marks them as being leased.
// It returns lease ops and a channel that closes when pending work changes.
func (s *Server) pick(ls *leaderState, view *View, w *pb.Worker, n int, freeBytes int64) ([]*pb.TaskOp, <-chan struct{}) {
	if w.State != pb.WorkerState_WORKER_STATE_ACTIVE || n <= 0 {
		return nil, nil
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var ops []*pb.TaskOp
	lease := func(t *pb.Task, speculative bool) {
		ls.leasing[attemptKey{t.JobId, t.Index, 0}] = true
		ops = append(ops, &pb.TaskOp{JobId: t.JobId, Task: t.Index, WorkerId: w.Id,
			Op: &pb.TaskOp_Lease{Lease: &pb.LeaseOp{Speculative: speculative}}})
	}
	for k, holder := range ls.speculate {
		if len(ops) >= n {
			break
		}
		t := view.Task(k.job, k.task)
		if holder == w.Id || t == nil || t.Pool != w.Pool || t.State != pb.TaskState_TASK_STATE_RUNNING || len(t.Active) != 1 || ls.leasing[attemptKey{k.job, k.task, 0}] {
			continue
		}
		delete(ls.speculate, k)
		lease(t, true)
	}
	budget, unbounded := freeBytes, freeBytes <= 0 || w.MemoryBytes <= 0
	now := time.Now().UnixMilli()
	// A worker is at most one member of a training group: per training
	// job seen, whether w is (or is becoming) a member.
	member := map[string]bool{}
	grouped := map[string]bool{}
	isGroupMember := func(job string) bool {
		v, ok := grouped[job]
		if !ok {
			v = isGrouped(view.Job(job))
			grouped[job] = v
		}
		return v
	}
	watch := view.Pending(w.Pool, func(t *pb.Task) bool {
		if len(ops) >= n {
			return false
		}
		if ls.leasing[attemptKey{t.JobId, t.Index, 0}] || t.NotBeforeUnixMs > now {
			return true
		}
		if !unbounded && t.EstBytes > budget && !(len(ops) == 0 && freeBytes >= w.MemoryBytes) {
			return true // does not fit now; an idle worker still takes an oversized task
		}
		if isGroupMember(t.JobId) {
			if held, seen := member[t.JobId]; held || (!seen && holdsMember(view.Tasks(t.JobId), w.Id)) {
				member[t.JobId] = true
				return true // one member per worker: a group's members are distinct workers
			}
			member[t.JobId] = true // w becomes a member with this lease
		}
		budget -= t.EstBytes
		lease(t, false)
		return true
	})
	return ops, watch
}

func (ls *leaderState) doneLeasing(ops []*pb.TaskOp) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, op := range ops {
		delete(ls.leasing, attemptKey{op.JobId, op.Task, 0})
	}
}

// assignment describes a leased attempt to its worker.
func (s *Server) assignment(view *View, op *pb.TaskOp, attempt int32) *pb.Assignment {
	j := view.Job(op.JobId)
	t := view.Task(op.JobId, op.Task)
	as := &pb.Assignment{
		Attempt:     &pb.AttemptRef{JobId: op.JobId, Task: op.Task, Attempt: attempt},
		LeaseTtlMs:  s.cfg.LeaseTTL.Milliseconds(),
		Speculative: op.GetLease().GetSpeculative(),
	}
	if j != nil {
		as.Spec, as.OutputDir, as.PlanUri = j.Spec, j.OutputDir, j.PlanUri
	}
	if t != nil {
		as.EstBytes = t.EstBytes
	}
	return as
}
