package coordinator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/cron"
	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Pipeline steps (jobspec owns their names and order).
const (
	stepIngest   = jobspec.StepIngest
	stepValidate = jobspec.StepValidate
	stepTrain    = jobspec.StepTrain
	stepPromote  = jobspec.StepPromote
	stepScore    = jobspec.StepScore
)

// maxRunsPerSchedule bounds the run history of each schedule (and of the
// ad-hoc runs): the oldest finished records go first.
const maxRunsPerSchedule = 1000

// Run triggers: why a run (or slot record) exists.
const (
	triggerScheduled = "scheduled"
	triggerCatchup   = "catchup"
	triggerBackfill  = "backfill"
	triggerManual    = "manual"
	triggerAdhoc     = "adhoc"
)

// pipelineSteps lists every step for a new run: the ones the pipeline
// does not have are skipped from the start.
func pipelineSteps(p *pb.PipelineSpec) []*pb.StepRun {
	var steps []*pb.StepRun
	for _, name := range jobspec.Steps {
		st := &pb.StepRun{Name: name, State: pb.StepState_STEP_STATE_PENDING}
		if !jobspec.HasStep(p, name) {
			st.State, st.Detail = pb.StepState_STEP_STATE_SKIPPED, "not in the pipeline"
		}
		steps = append(steps, st)
	}
	return steps
}

func stepOf(r *pb.PipelineRun, name string) *pb.StepRun {
	for _, st := range r.Steps {
		if st.Name == name {
			return st
		}
	}
	return nil
}

// currentStep is the first step that has not succeeded: the one a running
// run works on (nil when every step is done).
func currentStep(r *pb.PipelineRun) *pb.StepRun {
	for _, st := range r.Steps {
		if !stepDone(st.State) {
			return st
		}
	}
	return nil
}

func stepDone(st pb.StepState) bool {
	return st == pb.StepState_STEP_STATE_SUCCEEDED || st == pb.StepState_STEP_STATE_REUSED || st == pb.StepState_STEP_STATE_SKIPPED
}

// newRun returns a claimed slot's record, not yet stored.
func (a *applier) newRun(id, schedule string, slot int64, trigger string, p *pb.PipelineSpec, zone, owner string) *pb.PipelineRun {
	return &pb.PipelineRun{
		Id: id, Schedule: schedule, SlotUnixMs: slot, Trigger: trigger, Pipeline: p, TimeZone: zone,
		Steps: pipelineSteps(p), Seq: a.index, CreateUnixMs: a.now, Owner: owner,
	}
}

func (a *applier) startRun(r *pb.PipelineRun) {
	r.State, r.Reason, r.StartUnixMs = pb.RunState_RUN_STATE_RUNNING, "", a.now
	a.insert(tableRuns, r)
	a.pruneRuns(r.Schedule)
}

// endRun ends a run (or records a slot that does not run) and does what
// follows from it: the schedule's failure count and auto-pause, the
// alerts, and the next queued run.
func (a *applier) endRun(r *pb.PipelineRun, st pb.RunState, reason string) {
	r.State, r.Reason, r.EndUnixMs = st, reason, a.now
	a.insert(tableRuns, r)
	switch st {
	case pb.RunState_RUN_STATE_SKIPPED:
		if r.Trigger != "" && !isPauseSkip(reason) {
			a.raise(r, alertSlotSkipped, "slot %s skipped: %s", fmtMs(r.SlotUnixMs), reason)
		}
	case pb.RunState_RUN_STATE_MISSED:
		a.raise(r, alertSlotMissed, "slot %s missed: %s", fmtMs(r.SlotUnixMs), reason)
	case pb.RunState_RUN_STATE_FAILED:
		a.raise(r, alertRunFailed, "run %s failed: %s", r.Id, reason)
	}
	a.countOutcome(r)
	a.pruneRuns(r.Schedule)
	a.startQueued(r.Schedule)
}

func isPauseSkip(reason string) bool {
	return len(reason) >= 24 && reason[:24] == "the schedule was paused:"
}

// countOutcome keeps the schedule's run of failures and pauses it after
// pause_after_failures failed runs in a row.
func (a *applier) countOutcome(r *pb.PipelineRun) {
	if r.Schedule == "" || (r.State != pb.RunState_RUN_STATE_FAILED && r.State != pb.RunState_RUN_STATE_SUCCEEDED) {
		return
	}
	old := getSchedule(a.txn, r.Schedule)
	if old == nil || r.Seq < old.CreateIndex {
		return // deleted while the run ran (and maybe created again since)
	}
	s := proto.Clone(old).(*pb.Schedule)
	if r.State == pb.RunState_RUN_STATE_SUCCEEDED {
		s.ConsecutiveFailures = 0
	} else {
		s.ConsecutiveFailures++
		if limit := s.Spec.GetPolicy().GetPauseAfterFailures(); limit > 0 && s.ConsecutiveFailures >= limit && !s.Paused {
			s.Paused = true
			s.PauseReason = fmt.Sprintf("auto-paused after %d failed runs in a row (the last: %s)", s.ConsecutiveFailures, r.Id)
			a.scheduleEvent(s, "%s", s.PauseReason)
			a.raiseSchedule(s, alertSchedulePaused, "schedule %s %s", s.Spec.Name, s.PauseReason)
		}
	}
	a.insert(tableSchedules, s)
}

// startQueued starts the schedule's oldest queued run once none runs.
func (a *applier) startQueued(schedule string) {
	s := getSchedule(a.txn, schedule)
	if s == nil || s.Paused {
		return // a paused schedule's queue waits for the resume
	}
	active := a.scheduleActive(s, schedule)
	for _, r := range active {
		if r.State == pb.RunState_RUN_STATE_RUNNING {
			return
		}
	}
	if len(active) > 0 {
		a.startRun(proto.Clone(active[0]).(*pb.PipelineRun))
	}
}

// pruneRuns drops the oldest finished records of a schedule beyond the cap.
func (a *applier) pruneRuns(schedule string) {
	var all []*pb.PipelineRun
	runsNewestFirst(a.txn, schedule, false, nil, func(r *pb.PipelineRun) bool { all = append(all, r); return true })
	for i := len(all) - 1; i >= maxRunsPerSchedule; i-- {
		if runOver(all[i].State) {
			_ = a.txn.Delete(tableRuns, all[i])
		}
	}
}

func sortRunsBySeq(runs []*pb.PipelineRun) {
	slices.SortFunc(runs, func(x, y *pb.PipelineRun) int { return compareBytes(runSeqKey(x), runSeqKey(y)) })
}

func compareBytes(x, y []byte) int {
	switch sx, sy := string(x), string(y); {
	case sx < sy:
		return -1
	case sx > sy:
		return 1
	}
	return 0
}

// cancelRunState cancels a queued or running run and the job of its
// running step, in the same command.
func (a *applier) cancelRunState(r *pb.PipelineRun, reason string) {
	if st := currentStep(r); st != nil && (st.State == pb.StepState_STEP_STATE_RUNNING || st.State == pb.StepState_STEP_STATE_PENDING) {
		id := st.JobId
		if st.State == pb.StepState_STEP_STATE_PENDING {
			// The leader may have submitted the next try and not yet
			// recorded it: its job is found by its key.
			id = ""
			if obj, _ := a.txn.First(tableJobs, "idem", []byte(stepJobKey(r, st.Name, st.Tries+1))); obj != nil {
				id = obj.(*pb.Job).Id
			}
		}
		a.cancelOrphan(id, r.Id)
		if st.State == pb.StepState_STEP_STATE_RUNNING {
			st.State, st.Error, st.EndUnixMs = pb.StepState_STEP_STATE_FAILED, "cancelled: "+reason, a.now
		}
	}
	a.endRun(r, pb.RunState_RUN_STATE_CANCELLED, reason)
}

// cancelOrphan cancels a step's job whose run is over.
func (a *applier) cancelOrphan(jobID, runID string) {
	if jobID == "" {
		return
	}
	if j := a.job(jobID); j != nil && !terminal(j.State) {
		a.cancelJob(&pb.CancelJob{JobId: jobID, Reason: "pipeline run " + runID + " is over"})
	}
}

// stepJobKey is the idempotency key of a step's job: one job per run,
// step, resume and try, whichever leader submits it.
func stepJobKey(r *pb.PipelineRun, step string, try int32) string {
	return fmt.Sprintf("run/%s/%s/%d.%d", r.Id, step, r.Resumes, try)
}

func (a *applier) cancelRun(c *pb.CancelRun) *applyResult {
	old := getRun(a.txn, c.RunId)
	if old == nil {
		return &applyResult{err: fmt.Errorf("%w: no run %s", errNotFound, c.RunId)}
	}
	if runOver(old.State) {
		return &applyResult{run: old}
	}
	reason := c.Reason
	if reason == "" {
		reason = "cancelled by an operator"
	}
	r := proto.Clone(old).(*pb.PipelineRun)
	a.cancelRunState(r, reason)
	return &applyResult{run: getRun(a.txn, r.Id)}
}

// resumeRun restarts a failed or cancelled run from its first step that
// did not succeed: the steps that did are kept, with their artifacts.
func (a *applier) resumeRun(c *pb.ResumeRun) *applyResult {
	old := getRun(a.txn, c.RunId)
	if old == nil {
		return &applyResult{err: fmt.Errorf("%w: no run %s", errNotFound, c.RunId)}
	}
	if old.State != pb.RunState_RUN_STATE_FAILED && old.State != pb.RunState_RUN_STATE_CANCELLED {
		return &applyResult{err: fmt.Errorf("%w: run %s is %s; only a failed or cancelled run resumes", errFailedPrecond, old.Id, runWord(old.State))}
	}
	r := proto.Clone(old).(*pb.PipelineRun)
	r.Resumes++
	r.EndUnixMs = 0
	for _, st := range r.Steps {
		if !stepDone(st.State) {
			st.State, st.Tries, st.Error, st.NotBeforeUnixMs, st.JobId = pb.StepState_STEP_STATE_PENDING, 0, "", 0, ""
		}
	}
	var s *pb.Schedule
	if r.Schedule != "" {
		s = getSchedule(a.txn, r.Schedule)
	}
	a.admit(s, r, true)
	return &applyResult{run: getRun(a.txn, r.Id)}
}

// startRuns claims slots outside the cron cursor: a backfill, a run-now,
// or an ad-hoc run. Each slot goes through planStart, the rule a dry run
// shows too.
func (a *applier) startRuns(c *pb.StartRuns) *applyResult {
	res := &applyResult{}
	if c.Trigger == triggerAdhoc {
		if c.RunId == "" || c.Pipeline == nil {
			return &applyResult{err: fmt.Errorf("%w: an ad-hoc run needs an ID and a pipeline", errInvalid)}
		}
		if r := getRun(a.txn, c.RunId); r != nil {
			return &applyResult{run: r} // a retried start
		}
		r := a.newRun(c.RunId, "", firstOr(c.SlotsUnixMs), triggerAdhoc, c.Pipeline, c.TimeZone, c.Owner)
		a.startRun(r)
		return &applyResult{run: r}
	}
	s := getSchedule(a.txn, c.Schedule)
	if s == nil {
		return &applyResult{err: fmt.Errorf("%w: no schedule named %s", errNotFound, c.Schedule)}
	}
	for _, slot := range c.SlotsUnixMs {
		p := planStart(a.txn, s.Spec.Name, slot, c.Reprocess)
		res.backfill = append(res.backfill, p)
		if p.Action == backfillKeep {
			continue
		}
		r := a.newRun(p.RunId, s.Spec.Name, slot, c.Trigger, s.Spec.Pipeline, s.Spec.TimeZone, c.Owner)
		a.admit(s, r, true)
		res.run = getRun(a.txn, r.Id)
	}
	return res
}

func firstOr(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[0]
}

// Backfill actions per slot.
const (
	backfillStart = "start" // the slot has no run yet
	backfillRerun = "rerun" // reprocess: a new run of a slot that had one
	backfillKeep  = "keep"  // the slot's run stands
)

// planStart decides what a backfill or run-now does with one slot: start
// its first run, run it again under a new ID ("#N") when reprocess asks
// for it, or keep the run it has. Read-only: the dry run and the FSM share it.
func planStart(txn *memdb.Txn, schedule string, slot int64, reprocess string) *pb.BackfillSlot {
	key := cron.SlotKey(schedule, time.UnixMilli(slot))
	runs := slotRuns(txn, key)
	p := &pb.BackfillSlot{SlotUnixMs: slot, Action: backfillStart, RunId: key}
	if len(runs) == 0 {
		return p
	}
	last := runs[len(runs)-1]
	p.Action, p.RunId = backfillKeep, last.Id
	switch {
	case !runOver(last.State):
		p.Reason = "its run is still " + runWord(last.State)
	case reprocess == "all",
		reprocess == "failed" && last.State != pb.RunState_RUN_STATE_SUCCEEDED:
		// Numbered after the last one, not by count: history pruning may
		// have dropped the first ones.
		n := 1
		if _, suffix, ok := strings.Cut(last.Id, "#"); ok {
			n, _ = strconv.Atoi(suffix)
		}
		p.Action, p.RunId = backfillRerun, fmt.Sprintf("%s#%d", key, n+1)
		p.Reason = "reprocess " + reprocess + ": the last run " + runWord(last.State)
	default:
		p.Reason = fmt.Sprintf("the slot has a run (%s, reprocess %s)", runWord(last.State), reprocessWord(reprocess))
	}
	return p
}

func reprocessWord(r string) string {
	if r == "" {
		return "none"
	}
	return r
}
