package worker

import (
	"testing"
	"time"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func TestPauseStopsHeartbeatsAndHoldsReports(t *testing.T) {
	f := newFake(t)
	a, _ := runAgent(t, testConfig(t, "w1", f.addr))
	f.add(noop("j1", 0, 100))
	waitUntil(t, "the task to run", func() bool { return a.Running() == 1 })
	a.Pause()
	waitUntil(t, "the task to be held before it reports", func() bool {
		return agentState(a, func(a *Agent) int { return a.held }) == 1
	})
	// A long poll in flight when Pause came ends by itself (what it returns
	// would run, held before its write); no call follows it.
	waitUntil(t, "the lease loop to idle", func() bool { return agentState(a, func(a *Agent) bool { return a.lease == leaseIdle }) })
	// A heartbeat in flight when Pause came may still land; after it none.
	hb := read(f, func(f *fakeCoord) int { return len(f.heartbeats) })
	f.add(noop("j1", 1, 0)) // wakes the fake's long polls; a paused worker must not lease it
	observe(10 * f.hbInterval)
	if got := read(f, func(f *fakeCoord) int { return len(f.heartbeats) }); got > hb+1 {
		t.Errorf("%d heartbeats while paused", got-hb)
	}
	if n := read(f, func(f *fakeCoord) int { return len(f.delivered) }); n != 0 {
		t.Errorf("a paused worker reported %d times", n)
	}
	if n := read(f, func(f *fakeCoord) int { return len(f.queue) }); n != 1 {
		t.Error("a paused worker leased work")
	}

	a.Resume()
	f.waitFor(t, "both reports after Resume", func(f *fakeCoord) bool { return f.distinctLocked() == 2 })
	f.waitFor(t, "heartbeats after Resume", func(f *fakeCoord) bool { return len(f.heartbeats) > hb+2 })
	r := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j1", 0, 1) })
	if len(r) != 1 || r[0].GetSuccess() == nil {
		t.Errorf("held task reported %v, want one success", r)
	}
}

// observe lets d pass so a check that something does NOT happen gives it
// the time to happen. It never stands in for waiting on a condition.
func observe(d time.Duration) { time.Sleep(d) }
