package coordinator

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func (a *applier) taskBatch(b *pb.TaskBatch) *applyResult {
	res := &pb.TaskBatchResult{Results: make([]*pb.TaskOpResult, len(b.Ops))}
	for i, op := range b.Ops {
		res.Results[i] = a.taskOp(op)
	}
	return &applyResult{batch: res}
}

func reject(format string, args ...any) *pb.TaskOpResult {
	return &pb.TaskOpResult{Error: fmt.Sprintf(format, args...)}
}

// taskOp applies one transition; a transition that no longer fits the
// state (a stale attempt, a finished job) is rejected, not an error.
func (a *applier) taskOp(op *pb.TaskOp) *pb.TaskOpResult {
	old := getTask(a.txn, op.JobId, op.Task)
	if old == nil {
		return reject("task %s/%d not found", op.JobId, op.Task)
	}
	j := a.job(op.JobId)
	if j == nil {
		return reject("job %s not found", op.JobId)
	}
	t := proto.Clone(old).(*pb.Task)
	var r *pb.TaskOpResult
	switch o := op.Op.(type) {
	case *pb.TaskOp_Lease:
		r = a.lease(j, t, op.WorkerId, o.Lease.Speculative)
	case *pb.TaskOp_Succeed:
		r = a.succeed(j, t, op, o.Succeed.GetResult())
	case *pb.TaskOp_Fail:
		r = a.fail(j, t, op, o.Fail)
	case *pb.TaskOp_Release:
		r = a.release(j, t, op)
	case *pb.TaskOp_Expire:
		r = a.expire(j, t, op, o.Expire.Reason)
	default:
		return reject("unknown task op %T", op.Op)
	}
	if r.Ok {
		a.insert(tableTasks, t)
	}
	return r
}

func activeIndex(t *pb.Task, attempt int32) int {
	return slices.IndexFunc(t.Active, func(at *pb.Attempt) bool { return at.Number == attempt })
}

func (a *applier) lease(j *pb.Job, t *pb.Task, workerID string, speculative bool) *pb.TaskOpResult {
	if j.State != pb.JobState_JOB_STATE_RUNNING {
		return reject("job %s is %s", j.Id, j.State)
	}
	w := getWorker(a.txn, workerID)
	if w == nil || w.State != pb.WorkerState_WORKER_STATE_ACTIVE {
		return reject("worker %s is not active", workerID)
	}
	if w.Pool != t.Pool {
		return reject("worker %s is in pool %s, task in %s", workerID, w.Pool, t.Pool)
	}
	if isGrouped(j) && (speculative || holdsMember(tasksOf(a.txn, j.Id), workerID)) {
		return reject("worker %s is already a member of training job %s", workerID, j.Id)
	}
	switch {
	case !speculative && t.State == pb.TaskState_TASK_STATE_PENDING:
		if t.NotBeforeUnixMs > a.now {
			return reject("task %s/%d backs off until %d", t.JobId, t.Index, t.NotBeforeUnixMs)
		}
	case speculative && t.State == pb.TaskState_TASK_STATE_RUNNING && len(t.Active) == 1 && t.Active[0].WorkerId != workerID:
		j.Speculative++
		a.event(j, "%s: speculative attempt %d on %s (attempt %d on %s is slow)", taskName(j, t.Index), t.Attempts+1, workerID, t.Active[0].Number, t.Active[0].WorkerId)
	default:
		return reject("task %s/%d is %s with %d attempts", t.JobId, t.Index, t.State, len(t.Active))
	}
	t.Attempts++
	t.State = pb.TaskState_TASK_STATE_RUNNING
	t.Active = append(t.Active, &pb.Attempt{Number: t.Attempts, WorkerId: workerID, StartUnixMs: a.now, Speculative: speculative})
	return &pb.TaskOpResult{Ok: true, Attempt: t.Attempts}
}

func (a *applier) succeed(j *pb.Job, t *pb.Task, op *pb.TaskOp, res *pb.TaskResult) *pb.TaskOpResult {
	if t.State == pb.TaskState_TASK_STATE_SUCCEEDED && t.Result.GetAttempt() == op.Attempt {
		return &pb.TaskOpResult{Ok: true, Attempt: op.Attempt} // a retried report
	}
	if t.State != pb.TaskState_TASK_STATE_RUNNING || activeIndex(t, op.Attempt) < 0 {
		return reject("attempt %d of task %s/%d is not current (task %s)", op.Attempt, t.JobId, t.Index, t.State)
	}
	if res == nil {
		return reject("success without a result")
	}
	k := kindOf(j.Spec)
	if why := k.resultError(res); why != "" {
		return reject("task %s/%d: %s", t.JobId, t.Index, why)
	}
	res = proto.Clone(res).(*pb.TaskResult)
	res.Attempt, res.WorkerId, res.FinishUnixMs = op.Attempt, op.WorkerId, a.now
	t.State, t.Active, t.Result = pb.TaskState_TASK_STATE_SUCCEEDED, nil, res
	j.TasksSucceeded++
	j.RowsDone += res.Rows
	j.BytesDone += res.Bytes
	k.succeeded(a, j, res)
	return &pb.TaskOpResult{Ok: true, Attempt: op.Attempt}
}

// endAttempt removes an attempt; it reports false when the attempt is not current.
func endAttempt(t *pb.Task, attempt int32) bool {
	i := activeIndex(t, attempt)
	if t.State != pb.TaskState_TASK_STATE_RUNNING || i < 0 {
		return false
	}
	t.Active = slices.Delete(t.Active, i, i+1)
	return true
}

func (a *applier) fail(j *pb.Job, t *pb.Task, op *pb.TaskOp, f *pb.FailOp) *pb.TaskOpResult {
	if !endAttempt(t, op.Attempt) {
		return reject("attempt %d of task %s/%d is not current", op.Attempt, t.JobId, t.Index)
	}
	t.Failures++
	t.LastError = f.Error
	name := taskName(j, t.Index)
	switch {
	case f.Permanent:
		t.State = pb.TaskState_TASK_STATE_FAILED
		a.event(j, "%s failed on %s (not retried: the error is deterministic): %s", name, op.WorkerId, f.Error)
		a.endJob(j, pb.JobState_JOB_STATE_FAILED, fmt.Sprintf("%s: %s", name, f.Error))
	case len(t.Active) > 0:
		a.event(j, "%s attempt %d failed on %s; attempt %d still runs: %s", name, op.Attempt, op.WorkerId, t.Active[0].Number, f.Error)
	case t.Failures >= maxAttempts(j):
		t.State = pb.TaskState_TASK_STATE_FAILED
		a.event(j, "%s failed on %s, attempt %d of %d: %s", name, op.WorkerId, t.Failures, maxAttempts(j), f.Error)
		a.endJob(j, pb.JobState_JOB_STATE_FAILED, fmt.Sprintf("%s failed %d times, last: %s", name, t.Failures, f.Error))
	default:
		delay := backoff(t.Failures, f.RetryBaseMs, f.RetryMaxMs)
		t.State, t.NotBeforeUnixMs = pb.TaskState_TASK_STATE_PENDING, a.now+delay
		j.Retries++
		a.event(j, "%s failed on %s (attempt %d); retry in %dms: %s", name, op.WorkerId, op.Attempt, delay, f.Error)
	}
	return &pb.TaskOpResult{Ok: true, Attempt: op.Attempt}
}

func maxAttempts(j *pb.Job) int32 {
	if n := j.Spec.GetMaxAttempts(); n > 0 {
		return n
	}
	return 4
}

// backoff is base × 2^(failures-1), capped at max.
func backoff(failures int32, base, max int64) int64 {
	d := base
	for i := int32(1); i < failures && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

func (a *applier) release(j *pb.Job, t *pb.Task, op *pb.TaskOp) *pb.TaskOpResult {
	if !endAttempt(t, op.Attempt) {
		return reject("attempt %d of task %s/%d is not current", op.Attempt, t.JobId, t.Index)
	}
	if len(t.Active) == 0 {
		t.State, t.NotBeforeUnixMs = pb.TaskState_TASK_STATE_PENDING, 0
	}
	a.event(j, "%s handed back by %s (attempt %d)", taskName(j, t.Index), op.WorkerId, op.Attempt)
	return &pb.TaskOpResult{Ok: true, Attempt: op.Attempt}
}

func (a *applier) expire(j *pb.Job, t *pb.Task, op *pb.TaskOp, reason string) *pb.TaskOpResult {
	if !endAttempt(t, op.Attempt) {
		return reject("attempt %d of task %s/%d is not current", op.Attempt, t.JobId, t.Index)
	}
	name := taskName(j, t.Index)
	lost := t.Attempts - t.Failures // attempts that ended without a reported failure, this one included
	if len(t.Active) == 0 {
		t.State, t.NotBeforeUnixMs = pb.TaskState_TASK_STATE_PENDING, 0
		if lost > expiryFactor*maxAttempts(j) {
			t.State = pb.TaskState_TASK_STATE_FAILED
			a.endJob(j, pb.JobState_JOB_STATE_FAILED, fmt.Sprintf("%s lost %d attempts (workers died or stopped heartbeating); last: %s", name, lost, reason))
		}
	}
	j.Retries++
	a.event(j, "%s attempt %d on %s lost: %s", name, op.Attempt, op.WorkerId, reason)
	return &pb.TaskOpResult{Ok: true, Attempt: op.Attempt}
}
