package coordinator

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// commandVersion is the envelope version this code writes and reads.
const commandVersion = 1

// Windows and caps of the replicated state.
const (
	requestWindowMs = 15 * 60 * 1000 // a retried request is recognised this long
	maxJobEvents    = 64
	maxWorkerEvents = 32
	// expiryFactor bounds attempts lost to expired leases (dead workers)
	// at this many times max_attempts, so a task that kills every worker
	// it lands on still ends.
	expiryFactor = 3
)

// applyResult is what applying one command returns to its proposer.
type applyResult struct {
	job     *pb.Job
	created bool
	worker  *pb.Worker
	batch   *pb.TaskBatchResult
	model   *pb.RegisteredModel
	// Schedules and runs (docs/architecture.md §11).
	schedule *pb.Schedule
	run      *pb.PipelineRun
	backfill []*pb.BackfillSlot
	token    *pb.Token
	keyring  *pb.GossipKeyring
	err      error
	ended    []*pb.Job // jobs this command ended, for the leader's log (jobend.go)
}

// apply runs one decoded command against the store at a Raft index. It is
// deterministic: everything it needs is in the command and the state.
func (s *Store) apply(index uint64, cmd *pb.Command) *applyResult {
	if cmd.Version != commandVersion {
		return &applyResult{err: fmt.Errorf("%w %d (this node knows %d)", errBadVersion, cmd.Version, commandVersion)}
	}
	txn := s.write()
	defer txn.Abort()
	a := &applier{txn: txn, index: index, now: cmd.UnixMs}
	if id := cmd.RequestId; id != "" {
		a.pruneRequests()
		if rec := getRequest(txn, id); rec != nil {
			res := a.replay(rec)
			txn.Commit()
			return res
		}
	}
	var res *applyResult
	switch op := cmd.Op.(type) {
	case *pb.Command_SubmitJob:
		res = a.submitJob(op.SubmitJob)
	case *pb.Command_CancelJob:
		res = a.cancelJob(op.CancelJob)
	case *pb.Command_TaskBatch:
		res = a.taskBatch(op.TaskBatch)
	case *pb.Command_RegisterWorker:
		res = a.registerWorker(op.RegisterWorker)
	case *pb.Command_SetWorkerState:
		res = a.setWorkerState(op.SetWorkerState)
	case *pb.Command_FinishJob:
		res = a.finishJob(op.FinishJob)
	case *pb.Command_ForgetJobs:
		res = a.forgetJobs(op.ForgetJobs)
	case *pb.Command_TrainGeneration:
		res = a.trainGeneration(op.TrainGeneration)
	case *pb.Command_TrainProgress:
		res = a.trainProgress(op.TrainProgress)
	case *pb.Command_SetModelAlias:
		res = a.setModelAlias(op.SetModelAlias)
	case *pb.Command_PutSchedule:
		res = a.putSchedule(op.PutSchedule)
	case *pb.Command_DeleteSchedule:
		res = a.deleteSchedule(op.DeleteSchedule)
	case *pb.Command_PauseSchedule:
		res = a.pauseSchedule(op.PauseSchedule)
	case *pb.Command_TickSchedule:
		res = a.tickSchedule(op.TickSchedule)
	case *pb.Command_StartRuns:
		res = a.startRuns(op.StartRuns)
	case *pb.Command_RunStep:
		res = a.runStep(op.RunStep)
	case *pb.Command_ResumeRun:
		res = a.resumeRun(op.ResumeRun)
	case *pb.Command_CancelRun:
		res = a.cancelRun(op.CancelRun)
	case *pb.Command_AckAlerts:
		res = a.ackAlerts(op.AckAlerts)
	case *pb.Command_PutToken:
		res = a.putToken(op.PutToken)
	case *pb.Command_RevokeToken:
		res = a.revokeToken(op.RevokeToken)
	case *pb.Command_InstallGossipKey:
		res = a.installGossipKey(op.InstallGossipKey)
	case *pb.Command_UseGossipKey:
		res = a.useGossipKey(op.UseGossipKey)
	case *pb.Command_RemoveGossipKey:
		res = a.removeGossipKey(op.RemoveGossipKey)
	default:
		return &applyResult{err: fmt.Errorf("%w %T at index %d", errUnknownOp, cmd.Op, index)}
	}
	res.ended = a.endedJobs(res)
	a.flushJobs()
	if cmd.RequestId != "" && res.err == nil {
		a.remember(cmd.RequestId, res)
	}
	txn.Commit()
	return res
}

// Remembered answers of schedule and run commands (jobs and workers are
// remembered bare, models with modelResponsePrefix).
const (
	runResponsePrefix      = "run\x00"
	scheduleResponsePrefix = "schedule\x00"
	backfillResponsePrefix = "backfill\x00" // a marshalled BackfillResponse
)

// applier holds one command's write transaction and the jobs it changed,
// so a batch of task ops clones each job once.
type applier struct {
	txn   *memdb.Txn
	index uint64
	now   int64
	jobs  map[string]*pb.Job
	// alerts counts the alerts this command raised (their order).
	alerts uint32
}

func (a *applier) insert(table string, obj any) {
	if err := a.txn.Insert(table, obj); err != nil {
		panic(fmt.Sprintf("state store insert into %s: %v", table, err)) // schema invariant broken
	}
}

// job returns a private, writable copy of a job for this command.
func (a *applier) job(id string) *pb.Job {
	if j, ok := a.jobs[id]; ok {
		return j
	}
	j := getJob(a.txn, id)
	if j == nil {
		return nil
	}
	j = proto.Clone(j).(*pb.Job)
	if a.jobs == nil {
		a.jobs = map[string]*pb.Job{}
	}
	a.jobs[id] = j
	return j
}

func (a *applier) flushJobs() {
	for _, j := range a.jobs {
		a.insert(tableJobs, j)
	}
}

func (a *applier) event(j *pb.Job, format string, args ...any) {
	j.Events = a.appendEvent(j.Events, maxJobEvents, format, args...)
}

// appendEvent adds a line stamped with the command's time to a capped
// history (jobs, schedules, workers), dropping the oldest beyond max.
func (a *applier) appendEvent(events []*pb.JobEvent, max int, format string, args ...any) []*pb.JobEvent {
	events = append(events, &pb.JobEvent{UnixMs: a.now, Message: fmt.Sprintf(format, args...)})
	if n := len(events) - max; n > 0 {
		events = slices.Delete(events, 0, n)
	}
	return events
}

// pruneRequests forgets request IDs older than the window. It runs on
// every command carrying a request ID, so every replica prunes the same.
func (a *applier) pruneRequests() {
	it, err := a.txn.Get(tableRequests, "time_prefix", []byte{})
	if err != nil {
		return
	}
	var old []any
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if r := obj.(*pb.RequestRecord); r.UnixMs >= a.now-requestWindowMs {
			break
		}
		old = append(old, obj)
	}
	for _, o := range old {
		_ = a.txn.Delete(tableRequests, o)
	}
}

func (a *applier) remember(id string, res *applyResult) {
	rec := &pb.RequestRecord{Id: id, Index: a.index, UnixMs: a.now}
	switch {
	case res.job != nil:
		rec.Response = []byte(res.job.Id)
	case res.worker != nil:
		rec.Response = []byte(res.worker.Id)
	case res.model != nil:
		rec.Response = modelResponse(res.model.Name)
	case res.backfill != nil:
		body, _ := proto.Marshal(&pb.BackfillResponse{Slots: res.backfill})
		rec.Response = append([]byte(backfillResponsePrefix), body...)
	case res.run != nil:
		rec.Response = []byte(runResponsePrefix + res.run.Id)
	case res.schedule != nil:
		rec.Response = []byte(scheduleResponsePrefix + res.schedule.Spec.GetName())
	}
	a.insert(tableRequests, rec)
}

// replay answers a retried request from the state it left.
func (a *applier) replay(rec *pb.RequestRecord) *applyResult {
	if m, ok := a.replayModel(rec.Response); ok {
		return &applyResult{model: m}
	}
	if body, ok := bytes.CutPrefix(rec.Response, []byte(backfillResponsePrefix)); ok {
		bf := &pb.BackfillResponse{}
		if err := proto.Unmarshal(body, bf); err == nil {
			res := &applyResult{backfill: bf.Slots}
			for _, sl := range bf.Slots {
				if sl.Action != backfillKeep {
					res.run = getRun(a.txn, sl.RunId)
				}
			}
			return res
		}
	}
	if id, ok := bytes.CutPrefix(rec.Response, []byte(runResponsePrefix)); ok {
		return &applyResult{run: getRun(a.txn, string(id))}
	}
	if name, ok := bytes.CutPrefix(rec.Response, []byte(scheduleResponsePrefix)); ok {
		return &applyResult{schedule: getSchedule(a.txn, string(name))}
	}
	id := string(rec.Response)
	if j := getJob(a.txn, id); j != nil {
		return &applyResult{job: j}
	}
	if w := getWorker(a.txn, id); w != nil {
		return &applyResult{worker: w}
	}
	return &applyResult{}
}

func (a *applier) submitJob(c *pb.SubmitJob) *applyResult {
	j := c.GetJob()
	if j == nil || j.Id == "" || j.Spec == nil {
		return &applyResult{err: fmt.Errorf("%w: submit without job, id or spec", errInvalid)}
	}
	if key := j.Spec.IdempotencyKey; key != "" {
		if obj, _ := a.txn.First(tableJobs, "idem", []byte(key)); obj != nil {
			return &applyResult{job: obj.(*pb.Job)}
		}
	}
	if getJob(a.txn, j.Id) != nil {
		return &applyResult{err: fmt.Errorf("%w: job %s exists", errConflict, j.Id)}
	}
	n := c.TaskCount
	if n < 0 || (len(c.TaskRows) != 0 && len(c.TaskRows) != int(n)) || (len(c.TaskEstBytes) != 0 && len(c.TaskEstBytes) != int(n)) {
		return &applyResult{err: fmt.Errorf("%w: %d tasks with %d row counts and %d estimates", errInvalid, n, len(c.TaskRows), len(c.TaskEstBytes))}
	}
	j = proto.Clone(j).(*pb.Job)
	j.Seq, j.CreateUnixMs, j.StartUnixMs = a.index, a.now, a.now
	j.State, j.TasksTotal = pb.JobState_JOB_STATE_RUNNING, n
	pool := poolOf(j.Spec)
	for i := range n {
		t := &pb.Task{JobId: j.Id, Index: i, State: pb.TaskState_TASK_STATE_PENDING, Pool: pool, JobSeq: j.Seq}
		if len(c.TaskRows) > 0 {
			t.Rows = c.TaskRows[i]
			j.RowsTotal += t.Rows
		}
		if len(c.TaskEstBytes) > 0 {
			t.EstBytes = c.TaskEstBytes[i]
		}
		a.insert(tableTasks, t)
	}
	a.event(j, "submitted: %d tasks in pool %s", n, pool)
	if n == 0 {
		a.allTasksDone(j)
	}
	a.insert(tableJobs, j)
	return &applyResult{job: j, created: true}
}

// poolOf returns the pool a spec runs in.
func poolOf(spec *pb.JobSpec) string {
	if p := spec.GetPool(); p != "" {
		return p
	}
	return jobspec.DefaultPool
}

// allTasksDone moves a job whose tasks all succeeded on: to FINALIZING when
// the leader must publish output, straight to SUCCEEDED otherwise.
func (a *applier) allTasksDone(j *pb.Job) {
	if !kindOf(j.Spec).publishes() {
		j.State, j.EndUnixMs = pb.JobState_JOB_STATE_SUCCEEDED, a.now
		a.event(j, "succeeded")
		return
	}
	j.State = pb.JobState_JOB_STATE_FINALIZING
	a.event(j, "all %d tasks succeeded; publishing output", j.TasksTotal)
}

func (a *applier) cancelJob(c *pb.CancelJob) *applyResult {
	j := a.job(c.JobId)
	if j == nil {
		return &applyResult{err: fmt.Errorf("%w: job %s", errNotFound, c.JobId)}
	}
	if !terminal(j.State) {
		reason := c.Reason
		if reason == "" {
			reason = "cancelled by request"
		}
		a.endJob(j, pb.JobState_JOB_STATE_CANCELLED, "cancelled: "+reason)
		a.event(j, "cancelled: %s", reason)
	}
	return &applyResult{job: j}
}

// endJob puts a job in a terminal state and ends every unfinished task, so
// their attempts are aborted (workers learn it from their heartbeats).
func (a *applier) endJob(j *pb.Job, st pb.JobState, errMsg string) {
	j.State, j.EndUnixMs = st, a.now
	if errMsg != "" && j.Error == "" {
		j.Error = errMsg
	}
	for _, t := range tasksOf(a.txn, j.Id) {
		if taskDone(t.State) {
			continue
		}
		t = proto.Clone(t).(*pb.Task)
		t.State, t.Active = pb.TaskState_TASK_STATE_CANCELLED, nil
		a.insert(tableTasks, t)
	}
}

func (a *applier) finishJob(c *pb.FinishJob) *applyResult {
	j := a.job(c.JobId)
	if j == nil {
		return &applyResult{err: fmt.Errorf("%w: job %s", errNotFound, c.JobId)}
	}
	if j.State != pb.JobState_JOB_STATE_FINALIZING {
		return &applyResult{job: j} // already finished (a retry) or cancelled meanwhile
	}
	if c.Succeeded {
		j.State, j.EndUnixMs, j.ResultUri, j.SummaryJson = pb.JobState_JOB_STATE_SUCCEEDED, a.now, c.ResultUri, c.SummaryJson
		a.event(j, "succeeded: %s", c.ResultUri)
	} else {
		a.endJob(j, pb.JobState_JOB_STATE_FAILED, "publishing output: "+c.Error)
		a.event(j, "failed: publishing output: %s", c.Error)
	}
	return &applyResult{job: j}
}

// forgetJobs deletes finished jobs and their tasks (job GC). Unfinished
// jobs are kept: the leader's view may have been stale.
func (a *applier) forgetJobs(c *pb.ForgetJobs) *applyResult {
	for _, id := range c.JobIds {
		j := getJob(a.txn, id)
		if j == nil || !terminal(j.State) {
			continue
		}
		for _, t := range tasksOf(a.txn, id) {
			if err := a.txn.Delete(tableTasks, t); err != nil {
				panic(fmt.Sprintf("state store delete task: %v", err))
			}
		}
		if err := a.txn.Delete(tableJobs, j); err != nil {
			panic(fmt.Sprintf("state store delete job: %v", err))
		}
		delete(a.jobs, id)
	}
	return &applyResult{}
}

func (a *applier) registerWorker(c *pb.RegisterWorker) *applyResult {
	w := c.GetWorker()
	if w == nil || w.Id == "" {
		return &applyResult{err: fmt.Errorf("%w: register without worker id", errInvalid)}
	}
	w = proto.Clone(w).(*pb.Worker)
	w.State, w.RegisterUnixMs = pb.WorkerState_WORKER_STATE_ACTIVE, a.now
	old := getWorker(a.txn, w.Id)
	w.Events = nil
	if old != nil {
		w.Events = old.Events // the history is the coordinator's, not the worker's to send
		if old.State == pb.WorkerState_WORKER_STATE_DRAINING {
			w.State = old.State // an operator's drain outlives a restart
		}
	}
	w.Events = a.appendEvent(w.Events, maxWorkerEvents, "registered (%s, %d slots, version %s)", w.Pool, w.Slots, orText(w.Version, "unknown"))
	a.insert(tableWorkers, w)
	return &applyResult{worker: w}
}

func (a *applier) setWorkerState(c *pb.SetWorkerState) *applyResult {
	old := getWorker(a.txn, c.WorkerId)
	if old == nil {
		return &applyResult{err: fmt.Errorf("%w: worker %s", errNotFound, c.WorkerId)}
	}
	w := proto.Clone(old).(*pb.Worker)
	w.State = c.State
	msg := lower(c.State.String(), "WORKER_STATE_") + byActor(c.Actor)
	if c.Reason != "" {
		msg += ": " + c.Reason
	}
	w.Events = a.appendEvent(w.Events, maxWorkerEvents, "%s", msg)
	a.insert(tableWorkers, w)
	if c.State == pb.WorkerState_WORKER_STATE_DOWN {
		a.expireWorker(c.WorkerId, c.Reason)
	}
	return &applyResult{worker: w}
}

// expireWorker ends every attempt a worker holds.
func (a *applier) expireWorker(workerID, reason string) {
	var held []*pb.TaskOp
	runningTasks(a.txn, func(t *pb.Task) bool {
		for _, at := range t.Active {
			if at.WorkerId == workerID {
				held = append(held, &pb.TaskOp{JobId: t.JobId, Task: t.Index, Attempt: at.Number, WorkerId: workerID,
					Op: &pb.TaskOp_Expire{Expire: &pb.ExpireOp{Reason: reason}}})
			}
		}
		return true
	})
	for _, op := range held {
		a.taskOp(op)
	}
}
