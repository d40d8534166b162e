package worker

import (
	"testing"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func TestSlotsAndMemoryBound(t *testing.T) {
	tests := []struct {
		name        string
		slots       int
		memory, est int64
		wantPeak    int
	}{
		{name: "slots", slots: 3, wantPeak: 3},
		{name: "memory", slots: 4, memory: 100, est: 40, wantPeak: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			cfg := testConfig(t, "w1", f.addr)
			cfg.Slots, cfg.MemoryBytes = tt.slots, tt.memory
			a, _ := runAgent(t, cfg)
			const n = 12
			for i := range int32(n) {
				as := noop("j1", i, 20)
				as.EstBytes = tt.est
				f.add(as)
			}
			f.waitFor(t, "every report", func(f *fakeCoord) bool { return f.distinctLocked() == n })
			peak, peakBytes := agentState(a, func(a *Agent) int { return a.peakRunning }),
				agentState(a, func(a *Agent) int64 { return a.peakBytes })
			if peak != tt.wantPeak {
				t.Errorf("at most %d attempts ran at once, want %d", peak, tt.wantPeak)
			}
			if tt.memory > 0 && peakBytes > tt.memory {
				t.Errorf("running attempts held %d bytes, bound %d", peakBytes, tt.memory)
			}
			for _, l := range read(f, func(f *fakeCoord) []*nightshiftv1.LeaseRequest { return f.leases }) {
				if l.GetMaxTasks() < 1 || l.GetMaxTasks() > int32(tt.slots) {
					t.Errorf("lease asked for %d tasks with %d slots", l.GetMaxTasks(), tt.slots)
				}
				if tt.memory > 0 && (l.GetFreeBytes() <= 0 || l.GetFreeBytes() > tt.memory) {
					t.Errorf("lease offered %d free bytes of %d", l.GetFreeBytes(), tt.memory)
				}
				if tt.memory == 0 && l.GetFreeBytes() != 0 {
					t.Errorf("unbounded worker offered %d free bytes, want 0 (no limit)", l.GetFreeBytes())
				}
			}
		})
	}
}

// TestExtraAssignmentsReleased: a coordinator that hands out more attempts
// than free slots gets the extra ones back unstarted.
func TestExtraAssignmentsReleased(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(t, "w1", f.addr)
	cfg.Slots = 1
	a, _ := runAgent(t, cfg)
	f.waitFor(t, "registration", func(f *fakeCoord) bool { return len(f.registers) == 1 })
	a.start(noop("j1", 0, 100))
	a.start(noop("j1", 1, 100))
	f.waitFor(t, "both reports", func(f *fakeCoord) bool { return f.distinctLocked() == 2 })
	r := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j1", 1, 1) })
	if len(r) != 1 || r[0].GetReleased() == "" {
		t.Errorf("extra attempt reported %v, want released", r)
	}
}
