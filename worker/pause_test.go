package worker

import (
	"testing"
	"time"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// TestPauseStopsHeartbeatsAndHoldsReports: a paused worker sends no
// heartbeat and no report, but still leases: what it leases is held too.
func TestPauseStopsHeartbeatsAndHoldsReports(t *testing.T) {
	f := newFake(t)
	a, _ := runAgent(t, testConfig(t, "w1", f.addr))
	f.add(noop("j1", 0, 100))
	waitUntil(t, "the task to run", func() bool { return a.Running() == 1 })
	a.Pause()
	waitUntil(t, "the task to be held before it reports", func() bool {
		return agentState(a, func(a *Agent) int { return a.held }) == 1
	})
	// A heartbeat in flight when Pause came may still land; after it none.
	hb := read(f, func(f *fakeCoord) int { return len(f.heartbeats) })
	f.add(noop("j1", 1, 0))
	waitUntil(t, "the task leased while paused to be held", func() bool {
		return agentState(a, func(a *Agent) int { return a.held }) == 2
	})
	observe(10 * f.hbInterval)
	if got := read(f, func(f *fakeCoord) int { return len(f.heartbeats) }); got > hb+1 {
		t.Errorf("%d heartbeats while paused", got-hb)
	}
	if n := read(f, func(f *fakeCoord) int { return len(f.delivered) }); n != 0 {
		t.Errorf("a paused worker reported %d times", n)
	}

	a.Resume()
	f.waitFor(t, "both reports after Resume", func(f *fakeCoord) bool { return f.distinctLocked() == 2 })
	f.waitFor(t, "heartbeats after Resume", func(f *fakeCoord) bool { return len(f.heartbeats) > hb+2 })
	for task := range int32(2) {
		r := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j1", task, 1) })
		if len(r) != 1 || r[0].GetSuccess() == nil {
			t.Errorf("held task %d reported %v, want one success", task, r)
		}
	}
}

// observe lets d pass so a check that something does NOT happen gives it
// the time to happen. It never stands in for waiting on a condition.
func observe(d time.Duration) { time.Sleep(d) }
