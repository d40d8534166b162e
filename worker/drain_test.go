package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func TestShutdownDrainsWithinGrace(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(t, "w1", f.addr)
	cfg.DrainGrace = 700 * time.Millisecond
	a, stop := runAgent(t, cfg)
	f.add(noop("j1", 0, 300), noop("j1", 1, 60_000))
	waitUntil(t, "both tasks running", func() bool { return a.Running() == 2 })
	f.add(noop("j1", 2, 0)) // must not be leased once draining

	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if took := time.Since(start); took < cfg.DrainGrace || took > cfg.DrainGrace+cfg.FlushTimeout {
		t.Errorf("Run took %s to stop with a grace of %s", took, cfg.DrainGrace)
	}
	done := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j1", 0, 1) })
	if len(done) != 1 || done[0].GetSuccess() == nil {
		t.Errorf("task that ends within the grace: reports %v, want one success", done)
	}
	rel := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j1", 1, 1) })
	if len(rel) != 1 || !strings.Contains(rel[0].GetReleased(), "drain grace") {
		t.Errorf("task that outlives the grace: reports %v, want one released", rel)
	}
	if n := read(f, func(f *fakeCoord) int { return len(f.queue) }); n != 1 {
		t.Errorf("a draining worker leased new work (%d left queued)", n)
	}
}

// TestShutdownReleasesLateAssignments: an assignment that arrives on a
// long poll already in flight when the drain starts is handed back at once.
func TestShutdownReleasesLateAssignments(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(t, "w1", f.addr)
	cfg.LeaseWait = 5 * time.Second
	a, stop := runAgent(t, cfg)
	f.waitFor(t, "a long poll", func(f *fakeCoord) bool { return len(f.leases) == 1 })
	done := make(chan error, 1)
	go func() { done <- stop() }()
	waitUntil(t, "the drain to start", func() bool { return agentState(a, func(a *Agent) bool { return a.shutdown }) })
	f.add(noop("j1", 0, 60_000))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	reps := read(f, func(f *fakeCoord) []*nightshiftv1.TaskReport { return f.reportsForLocked("j1", 0, 1) })
	if len(reps) != 1 || reps[0].GetReleased() == "" {
		t.Errorf("reports %v, want the late assignment released", reps)
	}
}

func TestKillStopsWithoutReports(t *testing.T) {
	f := newFake(t)
	a, err := New(testConfig(t, "w1", f.addr))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	f.add(noop("j1", 0, 60_000), noop("j1", 1, 60_000))
	waitUntil(t, "both tasks running", func() bool { return a.Running() == 2 })
	a.Kill()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v after Kill", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after Kill")
	}
	if n := read(f, func(f *fakeCoord) int { return len(f.delivered) }); n != 0 {
		t.Errorf("a killed worker delivered %d reports", n)
	}
	if a.Running() != 0 {
		t.Errorf("Running() = %d after Kill", a.Running())
	}
}

// TestGossip finds the coordinator through a gossip seed (no configured
// address), advertises the worker, and leaves gossip on a graceful stop
// but not on Kill. Gossip events do not tell a departure from a death, so
// the seed's failure detector does: only a node that did not leave is
// suspected. (w2 starts after w1 left: a leave message may be spent on
// one peer, and relayed by it to the others, so no peer may die early.)
func TestGossip(t *testing.T) {
	f := newFake(t)
	seed := newSeed(t, f.addr)
	start := func(id string) (*Agent, func() error) {
		cfg := testConfig(t, id)
		cfg.Seeds = []string{seed.node.Addr()}
		cfg.Labels = map[string]string{"zone": "a"}
		return runAgent(t, cfg)
	}
	w1, stop1 := start("w1")
	f.waitFor(t, "w1 to register through gossip", func(f *fakeCoord) bool { return len(f.registers) == 1 })
	waitUntil(t, "the seed to hear of w1", func() bool { _, n := seed.member("w1"); return n > 0 })
	m, _ := seed.member("w1")
	if m.Meta.Role != gossip.RoleWorker || m.Meta.ID != "w1" || m.Meta.GRPC != w1.GRPCAddr() || m.Meta.State != stateActive ||
		m.Meta.Slots != 2 || m.Meta.Pool != "default" || m.Meta.Labels["zone"] != "a" || m.Addr != w1.GossipAddr() {
		t.Errorf("seed sees w1 as %+v at %s (want a worker at %s, gRPC %s)", m.Meta, m.Addr, w1.GossipAddr(), w1.GRPCAddr())
	}
	if err := stop1(); err != nil {
		t.Fatal(err)
	}

	w2, _ := start("w2")
	f.waitFor(t, "w2 to register", func(f *fakeCoord) bool { return len(f.registers) == 2 })
	waitUntil(t, "the seed to hear of w2", func() bool { _, n := seed.member("w2"); return n > 0 })
	w2.Kill()
	waitUntil(t, "the seed to find the killed w2 failed", func() bool { return seed.logged("Marking w2 as failed") })
	if seed.logged("Suspect w1") {
		t.Error("the gracefully stopped worker was suspected: it did not leave gossip")
	}
}
