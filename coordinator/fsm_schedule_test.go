package coordinator

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/cron"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

const minute = int64(time.Minute / time.Millisecond)

// t0 is a whole hour, so "* * * * *" slots fall on t0 + k minutes.
var t0 = time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC).UnixMilli()

func testPipeline() *pb.PipelineSpec {
	return &pb.PipelineSpec{
		Ingest:    &pb.ShardSpec{Sources: []string{"file:///lake/{{ .Slot.Format \"2006-01-02\" }}/"}, Output: "file:///ds/{{ .Slot.Format \"2006-01-02\" }}"},
		Validate:  &pb.ValidateSpec{MinRows: 1},
		StepTries: 2, StepBackoffS: 1,
	}
}

func (h *fsmHarness) putSchedule(name, catchup, overlap string) *pb.Schedule {
	h.t.Helper()
	res := h.apply(&pb.Command{Op: &pb.Command_PutSchedule{PutSchedule: &pb.PutSchedule{Spec: &pb.ScheduleSpec{
		Name: name, Cron: "* * * * *", Pipeline: testPipeline(),
		Policy: &pb.SchedulePolicy{Catchup: catchup, Overlap: overlap, CatchupWindowS: 3600, PauseAfterFailures: 2},
	}}}})
	if res.err != nil {
		h.t.Fatal(res.err)
	}
	return res.schedule
}

// tick proposes the slots from the cursor to now, as the leader does.
func (h *fsmHarness) tick(name string, nowMs int64) *applyResult {
	h.t.Helper()
	s := h.store.Snapshot().Schedule(name)
	cs, err := cron.Parse(s.Spec.Cron, s.Spec.TimeZone)
	if err != nil {
		h.t.Fatal(err)
	}
	late := minute
	if h.late != 0 {
		late = h.late
	}
	c := &pb.TickSchedule{Name: name, ExpectCursorUnixMs: s.CursorUnixMs, NowUnixMs: nowMs, LateMs: late}
	for t := range cs.Slots(time.UnixMilli(s.CursorUnixMs), time.UnixMilli(nowMs)) {
		c.SlotsUnixMs = append(c.SlotsUnixMs, t.UnixMilli())
	}
	h.now = nowMs
	return h.apply(&pb.Command{Op: &pb.Command_TickSchedule{TickSchedule: c}})
}

func (h *fsmHarness) run(name string, slot int64) *pb.PipelineRun {
	return h.store.Snapshot().Run(cron.SlotKey(name, time.UnixMilli(slot)))
}

func (h *fsmHarness) step(run, step string, from, to pb.StepState, mod func(*pb.RunStep)) *applyResult {
	h.t.Helper()
	c := &pb.RunStep{RunId: run, Step: step, From: from, To: to}
	if mod != nil {
		mod(c)
	}
	return h.apply(&pb.Command{Op: &pb.Command_RunStep{RunStep: c}})
}

// finishRun moves a run's ingest and validate steps to success.
func (h *fsmHarness) finishRun(id string) {
	h.t.Helper()
	P, R, S := pb.StepState_STEP_STATE_PENDING, pb.StepState_STEP_STATE_RUNNING, pb.StepState_STEP_STATE_SUCCEEDED
	for _, res := range []*applyResult{
		h.step(id, stepIngest, P, R, func(c *pb.RunStep) { c.JobId = "j-" + id }),
		h.step(id, stepIngest, R, S, func(c *pb.RunStep) { c.DatasetUri, c.DatasetFingerprint = "file:///ds/x", "sha256:ab" }),
		h.step(id, stepValidate, P, S, nil),
	} {
		if res.err != nil {
			h.t.Fatal(res.err)
		}
	}
}

func alertEvents(v *View) []string {
	var out []string
	for _, a := range v.Alerts() {
		out = append(out, a.Event+" "+a.RunId)
	}
	return out
}

func TestFSMTickClaimsEachSlotOnce(t *testing.T) {
	h := newHarness(t)
	h.now = t0
	if s := h.putSchedule("n", "latest", "buffer_all"); s.CursorUnixMs != t0 {
		t.Fatalf("cursor %d, want the creation time %d", s.CursorUnixMs, t0)
	}
	stale := h.store.Snapshot().Schedule("n").CursorUnixMs
	if res := h.tick("n", t0+2*minute); res.err != nil { // the first slot is a minute late: on time
		t.Fatal(res.err)
	}
	// A deposed leader's tick with the old cursor decides nothing.
	res := h.apply(&pb.Command{Op: &pb.Command_TickSchedule{TickSchedule: &pb.TickSchedule{
		Name: "n", ExpectCursorUnixMs: stale, SlotsUnixMs: []int64{t0 + minute, t0 + 2*minute}, NowUnixMs: t0 + 2*minute, LateMs: minute}}})
	if !errors.Is(res.err, errConflict) {
		t.Fatalf("stale tick: %v, want a conflict", res.err)
	}
	var ids []string
	h.store.Snapshot().RunsNewestFirst("n", false, nil, func(r *pb.PipelineRun) bool { ids = append(ids, r.Id+"="+runWord(r.State)); return true })
	want := "n@2026-12-04T02:02:00Z=queued n@2026-12-04T02:01:00Z=running"
	if strings.Join(ids, " ") != want {
		t.Fatalf("runs %v, want %s", ids, want)
	}
	if h.store.Snapshot().Schedule("n").CursorUnixMs != t0+2*minute {
		t.Fatal("cursor did not move to the last slot")
	}
}

func TestFSMOverlapPolicies(t *testing.T) {
	for _, tc := range []struct {
		overlap string
		want    []pb.RunState // slots 1, 2, 3 after three on-time ticks
	}{
		{"skip", []pb.RunState{pb.RunState_RUN_STATE_RUNNING, pb.RunState_RUN_STATE_SKIPPED, pb.RunState_RUN_STATE_SKIPPED}},
		{"buffer_one", []pb.RunState{pb.RunState_RUN_STATE_RUNNING, pb.RunState_RUN_STATE_SKIPPED, pb.RunState_RUN_STATE_QUEUED}},
		{"buffer_all", []pb.RunState{pb.RunState_RUN_STATE_RUNNING, pb.RunState_RUN_STATE_QUEUED, pb.RunState_RUN_STATE_QUEUED}},
		{"cancel_other", []pb.RunState{pb.RunState_RUN_STATE_CANCELLED, pb.RunState_RUN_STATE_CANCELLED, pb.RunState_RUN_STATE_RUNNING}},
	} {
		t.Run(tc.overlap, func(t *testing.T) {
			h := newHarness(t)
			h.now = t0
			h.putSchedule("n", "latest", tc.overlap)
			for k := int64(1); k <= 3; k++ {
				if res := h.tick("n", t0+k*minute+10); res.err != nil {
					t.Fatal(res.err)
				}
			}
			for k, want := range tc.want {
				r := h.run("n", t0+int64(k+1)*minute)
				if r.State != want {
					t.Fatalf("slot %d: %s (%s), want %s", k+1, r.State, r.Reason, want)
				}
				if r.State != pb.RunState_RUN_STATE_RUNNING && r.State != pb.RunState_RUN_STATE_QUEUED && r.Reason == "" {
					t.Fatalf("slot %d %s without a reason", k+1, r.State)
				}
			}
		})
	}
}

func TestFSMCatchupAfterDowntime(t *testing.T) {
	for _, tc := range []struct {
		catchup string
		running int // slots that run or queue, of the 5 missed within the window
		missed  int
	}{
		{"none", 0, 8}, {"latest", 1, 7}, {"all", 5, 3},
	} {
		t.Run(tc.catchup, func(t *testing.T) {
			h := newHarness(t)
			h.now = t0
			h.putSchedule("n", tc.catchup, "skip")
			// No leader from 02:00 to 02:08:30; slots more than 10 s
			// late are missed ones; the window (5 minutes) holds 02:04 to
			// 02:08, the three before are past it.
			h.late = 10_000
			sp := proto.Clone(h.store.Snapshot().Schedule("n").Spec).(*pb.ScheduleSpec)
			sp.Policy.CatchupWindowS = 300
			h.apply(&pb.Command{Op: &pb.Command_PutSchedule{PutSchedule: &pb.PutSchedule{Spec: sp}}})
			if res := h.tick("n", t0+8*minute+30_000); res.err != nil {
				t.Fatal(res.err)
			}
			var run, missed int
			h.store.Snapshot().RunsNewestFirst("n", false, nil, func(r *pb.PipelineRun) bool {
				switch r.State {
				case pb.RunState_RUN_STATE_RUNNING, pb.RunState_RUN_STATE_QUEUED:
					run++
					if r.Trigger != triggerCatchup {
						t.Errorf("%s trigger %s", r.Id, r.Trigger)
					}
				case pb.RunState_RUN_STATE_MISSED:
					missed++
				default:
					t.Errorf("%s is %s: %s", r.Id, r.State, r.Reason)
				}
				return true
			})
			if run != tc.running || missed != tc.missed {
				t.Fatalf("%d run, %d missed; want %d and %d", run, missed, tc.running, tc.missed)
			}
			if n := len(h.store.Snapshot().PendingAlerts(100)); n != tc.missed {
				t.Fatalf("%d alerts for %d missed slots", n, tc.missed)
			}
		})
	}
}

func TestFSMPausedSlotsAreSkippedQuietly(t *testing.T) {
	h := newHarness(t)
	h.now = t0
	h.putSchedule("n", "latest", "skip")
	h.apply(&pb.Command{Op: &pb.Command_PauseSchedule{PauseSchedule: &pb.PauseSchedule{Name: "n", Paused: true, Reason: "migration"}}})
	h.tick("n", t0+minute+1)
	r := h.run("n", t0+minute)
	if r.State != pb.RunState_RUN_STATE_SKIPPED || !strings.Contains(r.Reason, "migration") {
		t.Fatalf("paused slot: %s %q", r.State, r.Reason)
	}
	if n := len(h.store.Snapshot().PendingAlerts(10)); n != 0 {
		t.Fatalf("%d alerts for an operator's pause", n)
	}
	h.apply(&pb.Command{Op: &pb.Command_PauseSchedule{PauseSchedule: &pb.PauseSchedule{Name: "n", Paused: false}}})
	h.tick("n", t0+2*minute+1)
	if r := h.run("n", t0+2*minute); r.State != pb.RunState_RUN_STATE_RUNNING {
		t.Fatalf("after resume: %s", r.State)
	}
}

func TestFSMRunStepsRetryFailResumeAndAutoPause(t *testing.T) {
	P, R, F := pb.StepState_STEP_STATE_PENDING, pb.StepState_STEP_STATE_RUNNING, pb.StepState_STEP_STATE_FAILED
	h := newHarness(t)
	h.now = t0
	h.putSchedule("n", "latest", "skip")
	h.tick("n", t0+minute+1)
	id := h.run("n", t0+minute).Id
	// A try fails; step_tries is 2, so it is retried after the backoff.
	h.step(id, stepIngest, P, R, func(c *pb.RunStep) { c.JobId = "j1" })
	h.step(id, stepIngest, R, F, func(c *pb.RunStep) { c.Error, c.RetryAtUnixMs = "storage down", t0+2*minute })
	r := h.store.Snapshot().Run(id)
	if st := stepOf(r, stepIngest); st.State != P || st.NotBeforeUnixMs != t0+2*minute || r.State != pb.RunState_RUN_STATE_RUNNING {
		t.Fatalf("after one failed try: step %s, run %s", st.State, r.State)
	}
	// The same move again (a deposed leader) is refused.
	if res := h.step(id, stepIngest, R, F, nil); !errors.Is(res.err, errConflict) {
		t.Fatalf("stale step move: %v", res.err)
	}
	h.step(id, stepIngest, P, R, func(c *pb.RunStep) { c.JobId = "j2" })
	h.step(id, stepIngest, R, F, func(c *pb.RunStep) { c.Error = "no objects under file:///lake/2026-12-04/" })
	r = h.store.Snapshot().Run(id)
	if r.State != pb.RunState_RUN_STATE_FAILED || !strings.Contains(r.Reason, "no objects") || !strings.Contains(r.Reason, "try 2 of 2") {
		t.Fatalf("run %s: %q", r.State, r.Reason)
	}
	// Resume restarts from the failed step; the finished ones would stay.
	if res := h.apply(&pb.Command{Op: &pb.Command_ResumeRun{ResumeRun: &pb.ResumeRun{RunId: id}}}); res.err != nil {
		t.Fatal(res.err)
	}
	r = h.store.Snapshot().Run(id)
	if r.State != pb.RunState_RUN_STATE_RUNNING || r.Resumes != 1 || stepOf(r, stepIngest).State != P || stepOf(r, stepIngest).Tries != 0 {
		t.Fatalf("resumed: %v", r)
	}
	h.finishRun(id)
	if r = h.store.Snapshot().Run(id); r.State != pb.RunState_RUN_STATE_SUCCEEDED || r.DatasetFingerprint != "sha256:ab" {
		t.Fatalf("finished: %s %q", r.State, r.DatasetFingerprint)
	}
	// Two failed runs in a row pause the schedule (pause_after_failures 2).
	for k := int64(2); k <= 3; k++ {
		h.tick("n", t0+k*minute+1)
		id := h.run("n", t0+k*minute).Id
		h.step(id, stepIngest, P, F, func(c *pb.RunStep) { c.Error, c.Permanent = "bad template", true })
	}
	s := h.store.Snapshot().Schedule("n")
	if !s.Paused || !strings.Contains(s.PauseReason, "2 failed runs in a row") {
		t.Fatalf("schedule after 2 failures: paused %v %q", s.Paused, s.PauseReason)
	}
	got := strings.Join(alertEvents(h.store.Snapshot()), ", ")
	for _, want := range []string{"run_failed n@2026-12-04T02:01:00Z", "run_failed n@2026-12-04T02:03:00Z", "schedule_paused "} {
		if !strings.Contains(got, want) {
			t.Fatalf("alerts %q lack %q", got, want)
		}
	}
}

func TestFSMBackfillReprocessAndAlertAck(t *testing.T) {
	h := newHarness(t)
	h.now = t0
	h.putSchedule("n", "latest", "skip")
	h.now = t0 + 10*minute
	slots := []int64{t0 + minute, t0 + 2*minute}
	start := func(reprocess string) *applyResult {
		return h.apply(&pb.Command{Op: &pb.Command_StartRuns{StartRuns: &pb.StartRuns{Schedule: "n", SlotsUnixMs: slots, Trigger: triggerBackfill, Reprocess: reprocess}}})
	}
	res := start("none")
	if len(res.backfill) != 2 || res.backfill[0].Action != backfillStart || res.backfill[1].Action != backfillStart {
		t.Fatalf("first backfill: %v", res.backfill)
	}
	// Backfilled slots queue behind each other, whatever the overlap policy.
	if r := h.run("n", slots[1]); r.State != pb.RunState_RUN_STATE_QUEUED {
		t.Fatalf("second slot %s", r.State)
	}
	h.finishRun(h.run("n", slots[0]).Id)
	if r := h.run("n", slots[1]); r.State != pb.RunState_RUN_STATE_RUNNING {
		t.Fatalf("the queued slot did not start after the first: %s", r.State)
	}
	h.step(h.run("n", slots[1]).Id, stepIngest, pb.StepState_STEP_STATE_PENDING, pb.StepState_STEP_STATE_FAILED, func(c *pb.RunStep) { c.Permanent = true })
	res = start("failed")
	if a := res.backfill; a[0].Action != backfillKeep || a[1].Action != backfillRerun || a[1].RunId != "n@2026-12-04T02:02:00Z#2" {
		t.Fatalf("reprocess failed: %v", a)
	}
	if res = start("failed"); res.backfill[1].Action != backfillKeep {
		t.Fatalf("a running rerun was started again: %v", res.backfill[1])
	}
	// The outbox: delivered alerts leave the pending index, once.
	pending := h.store.Snapshot().PendingAlerts(10)
	if len(pending) != 1 || pending[0].Event != alertRunFailed {
		t.Fatalf("pending alerts %v", pending)
	}
	h.apply(&pb.Command{Op: &pb.Command_AckAlerts{AckAlerts: &pb.AckAlerts{Ids: []string{pending[0].Id}, UnixMs: 1}}})
	if n := len(h.store.Snapshot().PendingAlerts(10)); n != 0 {
		t.Fatalf("%d alerts pending after the ack", n)
	}
}

// TestFSMDaylightSavingNights ticks a 02:30 Europe/Berlin schedule through
// both 2026 transitions, one tick per quarter hour as a leader would: the
// spring-forward night (02:30 does not exist) runs once, at 03:00 CEST;
// the fall-back night (02:30 happens twice) runs once, at the first.
func TestFSMDaylightSavingNights(t *testing.T) {
	for _, tc := range []struct {
		night string
		want  string // the one slot key of the night
	}{
		{"2026-03-29", "dst@2026-03-29T01:00:00Z"}, // 03:00 CEST, the gap's end
		{"2026-10-25", "dst@2026-10-25T00:30:00Z"}, // 02:30 CEST, the first of two
	} {
		t.Run(tc.night, func(t *testing.T) {
			h := newHarness(t)
			day, _ := time.Parse("2006-01-02", tc.night)
			h.now = day.Add(-2 * time.Hour).UnixMilli()
			res := h.apply(&pb.Command{Op: &pb.Command_PutSchedule{PutSchedule: &pb.PutSchedule{Spec: &pb.ScheduleSpec{
				Name: "dst", Cron: "30 2 * * *", TimeZone: "Europe/Berlin", Pipeline: testPipeline(),
				Policy: &pb.SchedulePolicy{Catchup: "all", Overlap: "buffer_all", CatchupWindowS: 3600, PauseAfterFailures: 3}}}}})
			if res.err != nil {
				t.Fatal(res.err)
			}
			for now := h.now; now <= day.Add(6*time.Hour).UnixMilli(); now += 15 * minute {
				if res := h.tick("dst", now); res.err != nil {
					t.Fatal(res.err)
				}
			}
			var ids []string
			h.store.Snapshot().RunsNewestFirst("dst", false, nil, func(r *pb.PipelineRun) bool {
				ids = append(ids, r.Id+" "+runWord(r.State))
				return true
			})
			if len(ids) != 1 || ids[0] != tc.want+" running" {
				t.Fatalf("runs of the night %v, want exactly %s running", ids, tc.want)
			}
		})
	}
}

// TestFSMRunsEndCleanly covers the edges a review found: a cancelled
// run's submitted-but-unrecorded job is cancelled with it; a job recorded
// for a run that ended meanwhile is cancelled; a changed cron expression
// starts its slots at the change; the overlap policy never drops an
// operator's queued backfill; a schedule deleted and created again does
// not inherit the old one's running run; a paused schedule holds its
// queue; a retried backfill answers with its plan; reruns are numbered
// after the last one.
func TestFSMRunsEndCleanly(t *testing.T) {
	P, R := pb.StepState_STEP_STATE_PENDING, pb.StepState_STEP_STATE_RUNNING
	jobState := func(h *fsmHarness, id string) pb.JobState { return h.store.Snapshot().Job(id).GetState() }
	submitFor := func(h *fsmHarness, id string, r *pb.PipelineRun, try int32) {
		h.t.Helper()
		res := h.apply(&pb.Command{Op: &pb.Command_SubmitJob{SubmitJob: &pb.SubmitJob{
			Job: &pb.Job{Id: id, Spec: &pb.JobSpec{IdempotencyKey: stepJobKey(r, stepIngest, try), Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 1}}}}, TaskCount: 1}}})
		if res.err != nil {
			h.t.Fatal(res.err)
		}
	}

	t.Run("cancel", func(t *testing.T) {
		h := newHarness(t)
		h.now = t0
		h.putSchedule("n", "latest", "skip")
		h.tick("n", t0+minute)
		r := h.run("n", t0+minute)
		submitFor(h, "j1", r, 1) // submitted; the leader died before its RunStep
		h.apply(&pb.Command{Op: &pb.Command_CancelRun{CancelRun: &pb.CancelRun{RunId: r.Id}}})
		if st := jobState(h, "j1"); st != pb.JobState_JOB_STATE_CANCELLED {
			t.Fatalf("the cancelled run's submitted job is %s", st)
		}
		submitFor(h, "j2", r, 2)
		if res := h.step(r.Id, stepIngest, P, R, func(c *pb.RunStep) { c.JobId = "j2" }); res.err == nil {
			t.Fatal("a step of a cancelled run moved")
		}
		if st := jobState(h, "j2"); st != pb.JobState_JOB_STATE_CANCELLED {
			t.Fatalf("a job recorded for an ended run is %s", st)
		}
	})

	t.Run("cron change", func(t *testing.T) {
		h := newHarness(t)
		h.now = t0
		h.putSchedule("n", "all", "buffer_all")
		sp := proto.Clone(h.store.Snapshot().Schedule("n").Spec).(*pb.ScheduleSpec) // never change the store's objects
		sp.Cron = "*/5 * * * *"
		h.now = t0 + 30*minute
		h.apply(&pb.Command{Op: &pb.Command_PutSchedule{PutSchedule: &pb.PutSchedule{Spec: sp}}})
		if c := h.store.Snapshot().Schedule("n").CursorUnixMs; c != h.now {
			t.Fatalf("cursor %d after the cron changed at %d", c, h.now)
		}
	})

	t.Run("overlap keeps backfills", func(t *testing.T) {
		for _, overlap := range []string{"buffer_one", "cancel_other"} {
			h := newHarness(t)
			h.now = t0
			h.putSchedule("n", "latest", overlap)
			h.now = t0 + 10*minute
			h.apply(&pb.Command{Op: &pb.Command_StartRuns{StartRuns: &pb.StartRuns{Schedule: "n", Trigger: triggerBackfill,
				SlotsUnixMs: []int64{t0 - 2*minute, t0 - minute}}}})
			h.tick("n", t0+10*minute+1)
			if r := h.run("n", t0-minute); r.State != pb.RunState_RUN_STATE_QUEUED && r.State != pb.RunState_RUN_STATE_RUNNING {
				t.Fatalf("%s: the backfilled slot is %s: %s", overlap, r.State, r.Reason)
			}
		}
	})

	t.Run("delete and create again", func(t *testing.T) {
		h := newHarness(t)
		h.now = t0
		h.putSchedule("n", "latest", "skip")
		h.tick("n", t0+minute)
		old := h.run("n", t0+minute)
		h.apply(&pb.Command{Op: &pb.Command_DeleteSchedule{DeleteSchedule: &pb.DeleteSchedule{Name: "n"}}})
		h.now = t0 + minute + 30_000
		h.putSchedule("n", "latest", "skip")
		h.tick("n", t0+2*minute)
		if r := h.run("n", t0+2*minute); r.State != pb.RunState_RUN_STATE_RUNNING {
			t.Fatalf("the new schedule's first slot is %s: %s", r.State, r.Reason)
		}
		h.step(old.Id, stepIngest, P, pb.StepState_STEP_STATE_FAILED, func(c *pb.RunStep) { c.Permanent = true })
		if n := h.store.Snapshot().Schedule("n").ConsecutiveFailures; n != 0 {
			t.Fatalf("the old schedule's failed run counts for the new one: %d", n)
		}
	})

	t.Run("pause holds the queue", func(t *testing.T) {
		h := newHarness(t)
		h.now = t0
		h.putSchedule("n", "latest", "buffer_all")
		h.tick("n", t0+2*minute)
		first, second := h.run("n", t0+minute), h.run("n", t0+2*minute)
		h.apply(&pb.Command{Op: &pb.Command_PauseSchedule{PauseSchedule: &pb.PauseSchedule{Name: "n", Paused: true}}})
		h.step(first.Id, stepIngest, P, pb.StepState_STEP_STATE_FAILED, func(c *pb.RunStep) { c.Permanent = true })
		if r := h.store.Snapshot().Run(second.Id); r.State != pb.RunState_RUN_STATE_QUEUED {
			t.Fatalf("a paused schedule started its queued run: %s", r.State)
		}
		h.apply(&pb.Command{Op: &pb.Command_PauseSchedule{PauseSchedule: &pb.PauseSchedule{Name: "n", Paused: false}}})
		if r := h.store.Snapshot().Run(second.Id); r.State != pb.RunState_RUN_STATE_RUNNING {
			t.Fatalf("the resume did not start the queue: %s", r.State)
		}
	})

	t.Run("backfill replay and rerun numbers", func(t *testing.T) {
		h := newHarness(t)
		h.now = t0
		h.putSchedule("n", "latest", "skip")
		h.now = t0 + 10*minute
		bf := func(reprocess string) *applyResult {
			return h.apply(&pb.Command{RequestId: "bf-" + reprocess, Op: &pb.Command_StartRuns{StartRuns: &pb.StartRuns{
				Schedule: "n", Trigger: triggerBackfill, Reprocess: reprocess, SlotsUnixMs: []int64{t0 + minute}}}})
		}
		first := bf("none")
		if again := bf("none"); len(again.backfill) != 1 || again.backfill[0].Action != backfillStart || again.run.GetId() != first.run.GetId() {
			t.Fatalf("a retried backfill answered %v (run %v)", again.backfill, again.run)
		}
		h.apply(&pb.Command{Op: &pb.Command_CancelRun{CancelRun: &pb.CancelRun{RunId: first.run.Id}}})
		if got := bf("all").backfill[0].RunId; got != first.run.Id+"#2" {
			t.Fatalf("rerun %s", got)
		}
		// After pruning dropped the first run, the next is still #3.
		txn := h.store.write()
		_ = txn.Delete(tableRuns, getRun(txn, first.run.Id))
		txn.Commit()
		h.apply(&pb.Command{Op: &pb.Command_CancelRun{CancelRun: &pb.CancelRun{RunId: first.run.Id + "#2"}}})
		if got := h.apply(&pb.Command{Op: &pb.Command_StartRuns{StartRuns: &pb.StartRuns{Schedule: "n", Trigger: triggerBackfill, Reprocess: "all",
			SlotsUnixMs: []int64{t0 + minute}}}}).backfill[0].RunId; got != first.run.Id+"#3" {
			t.Fatalf("rerun after pruning %s", got)
		}
	})
}

// TestFSMPromoteStepRaisesDecayAlert: a promote step whose evaluation
// says production decayed raises model_decayed (and not_promoted, as the
// challenger stayed candidate), each once, with the run.
func TestFSMPromoteStepRaisesDecayAlert(t *testing.T) {
	h := newHarness(t)
	h.now = t0
	p := testPipeline()
	p.Train = &pb.TrainSpec{ModelName: "churn", Output: "file:///m", Label: "label", Model: &pb.ModelConfig{Family: "logistic"}}
	if res := h.apply(&pb.Command{Op: &pb.Command_PutSchedule{PutSchedule: &pb.PutSchedule{Spec: &pb.ScheduleSpec{
		Name: "n", Cron: "* * * * *", Pipeline: p, Policy: &pb.SchedulePolicy{Catchup: "latest", Overlap: "skip", CatchupWindowS: 3600, PauseAfterFailures: 2},
	}}}}); res.err != nil {
		t.Fatal(res.err)
	}
	if res := h.tick("n", t0+minute); res.err != nil {
		t.Fatal(res.err)
	}
	id := h.run("n", t0+minute).Id
	h.finishRun(id)
	P, R, S := pb.StepState_STEP_STATE_PENDING, pb.StepState_STEP_STATE_RUNNING, pb.StepState_STEP_STATE_SUCCEEDED
	ev := &pb.Evaluation{Metric: "logloss", Rows: 100, ChampionVersion: 1, Challenger: map[string]float64{"logloss": 0.5},
		Champion: map[string]float64{"logloss": 0.48}, DecayMedian: 0.40, Decayed: true}
	for _, res := range []*applyResult{
		h.step(id, stepTrain, P, R, func(c *pb.RunStep) { c.JobId = "t-" + id }),
		h.step(id, stepTrain, R, S, func(c *pb.RunStep) { c.ModelName, c.ModelVersion = "churn", 2 }),
		h.step(id, stepPromote, P, S, func(c *pb.RunStep) {
			c.ModelName, c.ModelVersion, c.PromotionReason, c.Evaluation = "churn", 2, "v2 stays candidate: …", ev
		}),
	} {
		if res.err != nil {
			t.Fatal(res.err)
		}
	}
	if res := h.step(id, stepPromote, P, S, func(c *pb.RunStep) { c.Evaluation = ev }); res.err == nil {
		t.Fatal("a retried promote step was applied twice")
	}
	r := h.store.Snapshot().Run(id)
	if st := stepOf(r, stepPromote); !proto.Equal(st.Evaluation, ev) {
		t.Fatalf("the promote step keeps %v, want the evaluation", st.Evaluation)
	}
	got := alertEvents(h.store.Snapshot())
	want := []string{"not_promoted " + id, "model_decayed " + id}
	if !slices.Equal(got, want) {
		t.Fatalf("alerts %v, want %v", got, want)
	}
	for _, a := range h.store.Snapshot().Alerts() {
		if a.Event == "model_decayed" && !strings.Contains(a.Message, "production v1's logloss on this night's rows is 0.4800, worse than its trailing median 0.4000") {
			t.Errorf("decay alert: %q", a.Message)
		}
	}
}
