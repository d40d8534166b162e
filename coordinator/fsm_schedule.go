package coordinator

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/cron"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// maxScheduleEvents caps a schedule's event history.
const maxScheduleEvents = 32

// putSchedule creates a schedule or replaces its spec. The spec was
// normalised and validated by the leader (jobspec.Schedule); the FSM only
// guards what it relies on.
func (a *applier) putSchedule(c *pb.PutSchedule) *applyResult {
	sp := c.GetSpec()
	if sp.GetName() == "" || sp.GetPipeline() == nil || sp.GetPolicy() == nil {
		return &applyResult{err: fmt.Errorf("%w: a schedule needs a name, a policy and a pipeline", errInvalid)}
	}
	old := getSchedule(a.txn, sp.Name)
	switch {
	case old != nil && c.CreateOnly:
		return &applyResult{err: fmt.Errorf("%w: schedule %s exists (change it with --update)", errConflict, sp.Name)}
	case old == nil && c.UpdateOnly:
		return &applyResult{err: fmt.Errorf("%w: no schedule named %s", errNotFound, sp.Name)}
	}
	var s *pb.Schedule
	if old == nil {
		// Slots before the schedule existed are not its missed slots.
		s = &pb.Schedule{CursorUnixMs: a.now, CreateUnixMs: a.now, CreateIndex: a.index}
		a.scheduleEvent(s, "created by %s", ownerOr(c.Owner))
	} else {
		s = proto.Clone(old).(*pb.Schedule)
		a.scheduleEvent(s, "updated by %s: %s", ownerOr(c.Owner), specChange(old.Spec, sp))
		if (old.Spec.Cron != sp.Cron || old.Spec.TimeZone != sp.TimeZone) && s.CursorUnixMs < a.now {
			// The new expression's slots start now: the ones it would have
			// had before were never this schedule's.
			s.CursorUnixMs = a.now
		}
	}
	s.Spec, s.UpdateUnixMs, s.Version = sp, a.now, a.index
	a.insert(tableSchedules, s)
	return &applyResult{schedule: s, created: old == nil}
}

// byActor is " by NAME" for a write made with a token, "" otherwise.
func byActor(actor string) string {
	if actor == "" {
		return ""
	}
	return " by " + actor
}

func ownerOr(owner string) string {
	if owner == "" {
		return "an operator"
	}
	return owner
}

// specChange names what an update changed, for the schedule's events.
func specChange(old, sp *pb.ScheduleSpec) string {
	var parts []string
	if old.Cron != sp.Cron || old.TimeZone != sp.TimeZone {
		parts = append(parts, fmt.Sprintf("cron %q %s → %q %s", old.Cron, zoneName(old.TimeZone), sp.Cron, zoneName(sp.TimeZone)))
	}
	if !proto.Equal(old.Policy, sp.Policy) {
		parts = append(parts, "policy")
	}
	if !proto.Equal(old.Pipeline, sp.Pipeline) {
		parts = append(parts, "pipeline")
	}
	if old.Description != sp.Description {
		parts = append(parts, "description")
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

func zoneName(z string) string {
	if z == "" {
		return "UTC"
	}
	return z
}

func (a *applier) scheduleEvent(s *pb.Schedule, format string, args ...any) {
	s.Events = a.appendEvent(s.Events, maxScheduleEvents, format, args...)
}

// deleteSchedule removes a schedule. Its history stays (runs are records
// of what happened); its queued runs are cancelled, a running one finishes.
func (a *applier) deleteSchedule(c *pb.DeleteSchedule) *applyResult {
	s := getSchedule(a.txn, c.Name)
	if s == nil {
		return &applyResult{err: fmt.Errorf("%w: no schedule named %s", errNotFound, c.Name)}
	}
	for _, r := range activeRuns(a.txn, c.Name, false) {
		if r.State == pb.RunState_RUN_STATE_QUEUED {
			r = proto.Clone(r).(*pb.PipelineRun)
			a.endRun(r, pb.RunState_RUN_STATE_CANCELLED, "the schedule was deleted")
		}
	}
	if err := a.txn.Delete(tableSchedules, s); err != nil {
		panic(fmt.Sprintf("state store delete from %s: %v", tableSchedules, err))
	}
	return &applyResult{schedule: s}
}

// pauseSchedule pauses or resumes a schedule. Slots that come while it is
// paused are still decided by ticks, as skipped, so none is lost and none
// runs late after the resume.
func (a *applier) pauseSchedule(c *pb.PauseSchedule) *applyResult {
	old := getSchedule(a.txn, c.Name)
	if old == nil {
		return &applyResult{err: fmt.Errorf("%w: no schedule named %s", errNotFound, c.Name)}
	}
	if old.Paused == c.Paused && (!c.Paused || c.Reason == "" || c.Reason == old.PauseReason) {
		return &applyResult{schedule: old}
	}
	s := proto.Clone(old).(*pb.Schedule)
	s.Paused, s.Version = c.Paused, a.index
	if c.Paused {
		s.PauseReason = c.Reason
		if s.PauseReason == "" {
			s.PauseReason = "paused by " + orText(c.Actor, "an operator")
		}
		a.scheduleEvent(s, "paused%s: %s", byActor(c.Actor), s.PauseReason)
	} else {
		s.PauseReason, s.ConsecutiveFailures = "", 0
		a.scheduleEvent(s, "resumed%s", byActor(c.Actor))
	}
	a.insert(tableSchedules, s)
	a.startQueued(s.Spec.Name) // runs queued while it was paused
	return &applyResult{schedule: s}
}

// tickSchedule decides the slots from the schedule's cursor up to the
// leader's now: the claim. It is a compare-and-set on the cursor, so a
// tick proposed by a deposed leader, or proposed twice, decides nothing a
// second time; and the cursor only moves by deciding every slot it passes.
func (a *applier) tickSchedule(c *pb.TickSchedule) *applyResult {
	old := getSchedule(a.txn, c.Name)
	if old == nil {
		return &applyResult{err: fmt.Errorf("%w: no schedule named %s", errNotFound, c.Name)}
	}
	if c.ExpectVersion != 0 && old.Version != c.ExpectVersion {
		return &applyResult{err: fmt.Errorf("%w: schedule %s changed since its slots were computed", errConflict, c.Name)}
	}
	if old.CursorUnixMs != c.ExpectCursorUnixMs {
		return &applyResult{err: fmt.Errorf("%w: schedule %s: the slots after %d were decided already (cursor %d)",
			errConflict, c.Name, c.ExpectCursorUnixMs, old.CursorUnixMs)}
	}
	prev := old.CursorUnixMs
	for _, slot := range c.SlotsUnixMs {
		if slot <= prev {
			return &applyResult{err: fmt.Errorf("%w: schedule %s: slots must ascend after the cursor", errInvalid, c.Name)}
		}
		prev = slot
	}
	if len(c.SlotsUnixMs) == 0 {
		return &applyResult{schedule: old}
	}
	s := proto.Clone(old).(*pb.Schedule)
	s.CursorUnixMs = prev
	a.insert(tableSchedules, s)
	for _, d := range decideSlots(s, c) {
		a.claimSlot(s, d)
	}
	return &applyResult{schedule: getSchedule(a.txn, c.Name)}
}

// slotDecision is what a tick does with one slot.
type slotDecision struct {
	slot    int64
	trigger string      // "scheduled" or "catchup"
	state   pb.RunState // RUNNING/QUEUED after overlap, or SKIPPED/MISSED
	reason  string
	queue   bool // run it after the runs before it, whatever the overlap policy
}

// decideSlots applies the pause and the catch-up policy to a tick's slots
// (the overlap policy needs the runs, and is applied as each is claimed).
// On time means due less than late_ms ago; a late slot was missed while no
// leader ran the schedule.
func decideSlots(s *pb.Schedule, c *pb.TickSchedule) []slotDecision {
	p := s.Spec.Policy
	window := p.CatchupWindowS * 1000
	out := make([]slotDecision, 0, len(c.SlotsUnixMs))
	// The newest late slot that the window allows: "latest" runs only it,
	// and only when no on-time slot comes in the same tick.
	latest := int64(-1)
	for _, slot := range c.SlotsUnixMs {
		if c.More {
			break // the newest late slot is in a later batch
		}
		late := slot < c.NowUnixMs-c.LateMs
		if !late {
			latest = -1
			break
		}
		if slot >= c.NowUnixMs-window {
			latest = slot
		}
	}
	caughtUp := false // an on-time slot after caught-up ones waits for them
	for _, slot := range c.SlotsUnixMs {
		d := slotDecision{slot: slot, trigger: "scheduled", state: pb.RunState_RUN_STATE_RUNNING}
		late := slot < c.NowUnixMs-c.LateMs
		switch {
		case s.Paused:
			d.state, d.reason = pb.RunState_RUN_STATE_SKIPPED, "the schedule was paused: "+s.PauseReason
		case !late:
			d.queue = caughtUp
		case slot < c.NowUnixMs-window:
			d.state, d.reason = pb.RunState_RUN_STATE_MISSED, fmt.Sprintf("no leader ran the schedule until %s, past the catch-up window (%s)",
				fmtMs(c.NowUnixMs), time.Duration(window)*time.Millisecond)
		case p.Catchup == "none":
			d.state, d.reason = pb.RunState_RUN_STATE_MISSED, fmt.Sprintf("no leader ran the schedule until %s (catchup: none)", fmtMs(c.NowUnixMs))
		case p.Catchup == "latest" && slot != latest:
			d.state, d.reason = pb.RunState_RUN_STATE_MISSED, fmt.Sprintf("no leader ran the schedule until %s; a newer slot runs instead (catchup: latest)", fmtMs(c.NowUnixMs))
		default:
			d.trigger, d.queue = "catchup", p.Catchup == "all"
			caughtUp = d.queue
		}
		out = append(out, d)
	}
	return out
}

func fmtMs(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

// claimSlot records a tick's decision as the slot's run record. A slot
// that already has a record (a run-now or backfill got there first) keeps
// it: one run per slot key.
func (a *applier) claimSlot(s *pb.Schedule, d slotDecision) {
	key := cron.SlotKey(s.Spec.Name, time.UnixMilli(d.slot))
	if getRun(a.txn, key) != nil {
		return
	}
	r := a.newRun(key, s.Spec.Name, d.slot, d.trigger, s.Spec.Pipeline, s.Spec.TimeZone, "")
	switch d.state {
	case pb.RunState_RUN_STATE_SKIPPED, pb.RunState_RUN_STATE_MISSED:
		a.endRun(r, d.state, d.reason)
		return
	}
	a.admit(s, r, d.queue)
}

// admit starts a claimed run, or applies the overlap policy when the
// schedule's previous run is still queued or running. queue (catch-up of
// every slot, a backfill, a run-now) waits its turn whatever the policy.
func (a *applier) admit(s *pb.Schedule, r *pb.PipelineRun, queue bool) {
	active := a.scheduleActive(s, r.Schedule)
	if r.Schedule == "" || len(active) == 0 {
		a.startRun(r)
		return
	}
	policy := "buffer_all"
	if !queue && s != nil {
		policy = s.Spec.Policy.Overlap
	}
	running := active[0].Id
	switch policy {
	case "skip":
		a.endRun(r, pb.RunState_RUN_STATE_SKIPPED, fmt.Sprintf("run %s was still %s (overlap: skip)", running, runWord(active[0].State)))
	case "buffer_one":
		for _, q := range active {
			if q.State == pb.RunState_RUN_STATE_QUEUED && byCron(q) {
				a.endRun(proto.Clone(q).(*pb.PipelineRun), pb.RunState_RUN_STATE_SKIPPED,
					fmt.Sprintf("replaced in the queue by the newer slot %s (overlap: buffer_one)", fmtMs(r.SlotUnixMs)))
			}
		}
		a.queueRun(r, running)
	case "cancel_other":
		for _, q := range active {
			if q.State == pb.RunState_RUN_STATE_RUNNING || byCron(q) {
				a.cancelRunState(proto.Clone(q).(*pb.PipelineRun), fmt.Sprintf("cancelled for the newer slot %s (overlap: cancel_other)", fmtMs(r.SlotUnixMs)))
			}
		}
		if len(a.scheduleActive(s, r.Schedule)) > 0 {
			a.queueRun(r, running) // an operator's queued runs go first
			return
		}
		a.startRun(r)
	default: // buffer_all
		a.queueRun(r, running)
	}
}

// byCron reports whether a queued run came from the cron expression: the
// overlap policy may replace or cancel it; an operator's backfill, run-now
// or resume waits its turn whatever the policy.
func byCron(r *pb.PipelineRun) bool {
	return (r.Trigger == triggerScheduled || r.Trigger == triggerCatchup) && r.Resumes == 0
}

// scheduleActive returns the schedule's queued and running runs, without
// those of an earlier, deleted schedule of the same name.
func (a *applier) scheduleActive(s *pb.Schedule, name string) []*pb.PipelineRun {
	var out []*pb.PipelineRun
	for _, r := range activeRuns(a.txn, name, false) {
		if s == nil || r.Seq >= s.CreateIndex {
			out = append(out, r)
		}
	}
	return out
}

func (a *applier) queueRun(r *pb.PipelineRun, behind string) {
	r.State, r.Reason = pb.RunState_RUN_STATE_QUEUED, "waiting for run "+behind
	a.insert(tableRuns, r)
}

func runWord(st pb.RunState) string { return lower(st.String(), "RUN_STATE_") }

// lower turns an enum value's name into the word users see.
func lower(name, prefix string) string { return strings.ToLower(strings.TrimPrefix(name, prefix)) }
