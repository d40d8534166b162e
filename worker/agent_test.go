package worker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func TestNoopTasksLeaseRunReport(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(t, "w1", f.addr)
	cfg.Slots = 3
	a, stop := runAgent(t, cfg)

	const n = 40
	for i := range int32(n) {
		as := noop("j1", i, i%4, 7, 11)
		if i == 11 {
			as.Spec.GetNoop().FailPermanent = true
			as.Spec.GetNoop().FailTasks = []int32{11}
		}
		f.add(as)
	}
	unknown := &nightshiftv1.Assignment{Attempt: &nightshiftv1.AttemptRef{JobId: "j2", Task: 0, Attempt: 1},
		Spec: &nightshiftv1.JobSpec{}}
	f.add(unknown)
	f.waitFor(t, "a report of every task", func(f *fakeCoord) bool { return f.distinctLocked() == n+1 })

	for i := range int32(n) {
		reps := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j1", i, 1) })
		if len(reps) != 1 {
			t.Fatalf("task %d: %d reports, want 1", i, len(reps))
		}
		r := reps[0]
		switch i {
		case 7, 11:
			want := fmt.Sprintf("noop task %d: injected failure", i)
			if r.GetFailure().GetError() != want || r.GetFailure().GetPermanent() != (i == 11) {
				t.Errorf("task %d: report %v, want failure %q permanent=%v", i, r, want, i == 11)
			}
		default:
			s := r.GetSuccess()
			if s == nil || s.GetAttempt() != 1 || s.GetWorkerId() != "w1" {
				t.Errorf("task %d: report %v, want a success of attempt 1 by w1", i, r)
			}
		}
	}
	r := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j2", 0, 1) })[0]
	if !r.GetFailure().GetPermanent() || !strings.Contains(r.GetFailure().GetError(), `"none"`) {
		t.Errorf("spec without a kind: report %v, want a permanent failure naming the kind", r)
	}

	if p := agentState(a, func(a *Agent) int { return a.peakRunning }); p > cfg.Slots {
		t.Errorf("%d attempts ran at once with %d slots", p, cfg.Slots)
	}
	for _, l := range read(f, func(f *fakeCoord) []*nightshiftv1.LeaseRequest { return f.leases }) {
		if l.GetWorkerId() != "w1" || l.GetMaxTasks() < 1 || l.GetMaxTasks() > int32(cfg.Slots) || l.GetWaitMs() != 100 {
			t.Errorf("lease request %v: want worker w1, 1..%d tasks, wait 100 ms", l, cfg.Slots)
		}
	}
	regs := read(f, func(f *fakeCoord) []*nightshiftv1.RegisterRequest { return f.registers })
	if len(regs) != 1 {
		t.Fatalf("%d registrations, want 1", len(regs))
	}
	w := regs[0].GetWorker()
	if w.GetId() != "w1" || w.GetPool() != "default" || w.GetSlots() != 3 || w.GetGrpcAddr() != a.GRPCAddr() ||
		w.GetGossipAddr() != a.GossipAddr() || w.GetVersion() != "dev" || regs[0].GetRequestId() == "" {
		t.Errorf("registered %v (request %q)", w, regs[0].GetRequestId())
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if got := a.Running(); got != 0 {
		t.Errorf("Running() = %d after Run returned", got)
	}
}

// TestReportsPiggyback checks the fast path: reports of a batch of quick
// tasks ride on the next Lease call instead of costing calls of their own.
func TestReportsPiggyback(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(t, "w1", f.addr)
	cfg.Slots = 8
	runAgent(t, cfg)
	f.waitFor(t, "a lease call", func(f *fakeCoord) bool { return len(f.leases) > 0 })
	const n = 400
	batch := make([]*nightshiftv1.Assignment, n)
	for i := range batch {
		batch[i] = noop("j1", int32(i), 0)
	}
	start := time.Now()
	f.add(batch...)
	f.waitFor(t, "every report", func(f *fakeCoord) bool { return f.distinctLocked() == n })
	took := time.Since(start)
	leases, reports := read(f, func(f *fakeCoord) int { return len(f.leases) }), read(f, func(f *fakeCoord) int { return f.reportRPCs })
	t.Logf("%d no-op tasks in %s: %d lease calls, %d report calls", n, took, leases, reports)
	if reports > n/4 {
		t.Errorf("%d report calls for %d tasks: reports are not riding on lease calls", reports, n)
	}
}

func TestReportsSurviveUnavailable(t *testing.T) {
	for _, lose := range []bool{false, true} {
		name := "request-lost"
		if lose {
			name = "answer-lost"
		}
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.update(func(f *fakeCoord) { f.failReports, f.loseAnswers = 6, lose })
			cfg := testConfig(t, "w1", f.addr)
			runAgent(t, cfg)
			const n = 12
			for i := range int32(n) {
				f.add(noop("j1", i, 2))
			}
			f.waitFor(t, "a report of every task", func(f *fakeCoord) bool { return f.distinctLocked() == n && f.failReports == 0 })
			for i := range int32(n) {
				for _, r := range read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j1", i, 1) }) {
					if r.GetSuccess() == nil {
						t.Errorf("task %d: report %v, want success", i, r)
					}
				}
			}
		})
	}
}

func TestRotatesToAnotherCoordinator(t *testing.T) {
	dead, live := newFake(t), newFake(t)
	dead.update(func(f *fakeCoord) { f.down = true })
	cfg := testConfig(t, "w1", dead.addr, live.addr)
	runAgent(t, cfg)
	live.add(noop("j1", 0, 0), noop("j1", 1, 0))
	live.waitFor(t, "both reports on the live coordinator", func(f *fakeCoord) bool { return f.distinctLocked() == 2 })

	// The live one goes down and the other comes back: the worker follows.
	live.update(func(f *fakeCoord) { f.down = true })
	dead.update(func(f *fakeCoord) { f.down = false })
	dead.add(noop("j1", 2, 0))
	// (Reports of tasks 0 and 1 may arrive again: the live one's answer to
	// the call carrying them was lost when it went down.)
	dead.waitFor(t, "the report on the revived coordinator", func(f *fakeCoord) bool {
		return len(f.reportsForLocked("j1", 2, 1)) > 0
	})
}

func TestAbortViaHeartbeat(t *testing.T) {
	f := newFake(t)
	a, _ := runAgent(t, testConfig(t, "w1", f.addr))
	f.add(noop("j1", 0, 60_000), noop("j1", 1, 300))
	waitUntil(t, "both tasks running", func() bool { return a.Running() == 2 })
	f.update(func(f *fakeCoord) { f.abort = []*nightshiftv1.AttemptRef{{JobId: "j1", Task: 0, Attempt: 1}} })
	f.waitFor(t, "task 1's report", func(f *fakeCoord) bool { return len(f.reportsForLocked("j1", 1, 1)) == 1 })
	waitUntil(t, "the aborted task to end", func() bool {
		return agentState(a, func(a *Agent) bool { return len(a.running) == 0 && len(a.pending) == 0 && !a.reporting })
	})
	if reps := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j1", 0, 1) }); len(reps) != 0 {
		t.Errorf("aborted attempt reported %v, want nothing", reps)
	}
	hb := read(f, func(f *fakeCoord) []*nightshiftv1.HeartbeatRequest { return f.heartbeats })
	if len(hb) == 0 || hb[0].GetWorkerId() != "w1" {
		t.Fatalf("heartbeats %v", hb)
	}
}

func TestOperatorDrainAndUndrain(t *testing.T) {
	f := newFake(t)
	seed := newSeed(t, f.addr)
	cfg := testConfig(t, "w1", f.addr)
	cfg.Seeds = []string{seed.node.Addr()}
	a, _ := runAgent(t, cfg)
	selfState := func(*Agent) string { m, _ := seed.member("w1"); return m.Meta.State }
	f.add(noop("j1", 0, 0))
	f.waitFor(t, "the first report", func(f *fakeCoord) bool { return f.distinctLocked() == 1 })

	f.update(func(f *fakeCoord) { f.drain = true })
	waitUntil(t, "the worker to stop leasing", func() bool {
		return agentState(a, func(a *Agent) bool { return a.opDrain && a.lease == leaseIdle })
	})
	waitUntil(t, "gossip to say draining", func() bool { return selfState(a) == stateDraining })
	leases := read(f, func(f *fakeCoord) int { return len(f.leases) })
	f.add(noop("j1", 1, 0))
	hb := read(f, func(f *fakeCoord) int { return len(f.heartbeats) })
	f.waitFor(t, "three more heartbeats", func(f *fakeCoord) bool { return len(f.heartbeats) >= hb+3 })
	observe(3 * cfg.LeaseWait)
	if got := read(f, func(f *fakeCoord) int { return len(f.leases) }); got != leases {
		t.Fatalf("%d lease calls while drained", got-leases)
	}

	f.update(func(f *fakeCoord) { f.drain = false })
	f.waitFor(t, "the report after undrain", func(f *fakeCoord) bool { return f.distinctLocked() == 2 })
	waitUntil(t, "gossip to say active", func() bool { return selfState(a) == stateActive })
}

func TestLocalDrain(t *testing.T) {
	f := newFake(t)
	a, stop := runAgent(t, testConfig(t, "w1", f.addr))
	f.add(noop("j1", 0, 200))
	waitUntil(t, "the task to run", func() bool { return a.Running() == 1 })
	a.Drain()
	f.waitFor(t, "the running task's report", func(f *fakeCoord) bool { return f.distinctLocked() == 1 })
	waitUntil(t, "the lease loop to idle", func() bool { return agentState(a, func(a *Agent) bool { return a.lease == leaseIdle }) })
	f.add(noop("j1", 1, 0))
	hb := read(f, func(f *fakeCoord) int { return len(f.heartbeats) })
	f.waitFor(t, "three more heartbeats", func(f *fakeCoord) bool { return len(f.heartbeats) >= hb+3 })
	if got := read(f, func(f *fakeCoord) int { return len(f.queue) }); got != 1 {
		t.Errorf("a drained worker leased work")
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestUnknownWorkerRegistersAgain: a worker the coordinator forgot (marked
// down) stops the attempts it was running and registers again.
func TestUnknownWorkerRegistersAgain(t *testing.T) {
	f := newFake(t)
	a, _ := runAgent(t, testConfig(t, "w1", f.addr))
	f.add(noop("j1", 0, 60_000))
	waitUntil(t, "the task to run", func() bool { return a.Running() == 1 })
	f.update(func(f *fakeCoord) { f.unknown = 1 })
	f.waitFor(t, "a second registration", func(f *fakeCoord) bool { return len(f.registers) == 2 })
	waitUntil(t, "the lost attempt to stop", func() bool { return a.Running() == 0 })
	f.add(noop("j1", 1, 0))
	f.waitFor(t, "work after registering again", func(f *fakeCoord) bool { return f.distinctLocked() == 1 })
	if r := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j1", 0, 1) }); len(r) != 0 {
		t.Errorf("the lost attempt reported %v", r)
	}
	regs := read(f, func(f *fakeCoord) []*nightshiftv1.RegisterRequest { return f.registers })
	if regs[0].GetRequestId() == regs[1].GetRequestId() {
		t.Errorf("two registrations share request ID %q", regs[0].GetRequestId())
	}
}

func TestRunTwiceAndBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted an empty config")
	}
	f := newFake(t)
	a, _ := runAgent(t, testConfig(t, "w1", f.addr))
	f.waitFor(t, "registration", func(f *fakeCoord) bool { return len(f.registers) == 1 })
	if err := a.Run(t.Context()); err != errRunTwice {
		t.Errorf("second Run = %v, want %v", err, errRunTwice)
	}
}

func TestKillBeforeRun(t *testing.T) {
	f := newFake(t)
	a, err := New(testConfig(t, "w1", f.addr))
	if err != nil {
		t.Fatal(err)
	}
	a.Kill()
	if err := a.Run(t.Context()); err != nil {
		t.Errorf("Run after Kill = %v", err)
	}
	if n := read(f, func(f *fakeCoord) int { return len(f.registers) }); n != 0 {
		t.Errorf("a killed agent registered %d times", n)
	}
}

// TestFencedWhenCutOff cuts the worker off from every coordinator: once
// no heartbeat got through for a lease TTL (2s from the fake), the worker
// stops its attempts itself, as the coordinator has given them away.
func TestFencedWhenCutOff(t *testing.T) {
	f := newFake(t)
	a, _ := runAgent(t, testConfig(t, "w1", f.addr))
	f.add(noop("j1", 0, 60_000))
	waitUntil(t, "the task to run", func() bool { return a.Running() == 1 })
	cut := time.Now()
	f.update(func(f *fakeCoord) { f.down = true })
	waitUntil(t, "the worker to fence its attempt", func() bool { return a.Running() == 0 })
	if el := time.Since(cut); el < 2*time.Second {
		t.Fatalf("fenced after %s, before the 2s lease TTL ran out", el)
	}
}
