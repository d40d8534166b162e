package worker

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// TestNoopThroughput runs 10,000 no-op tasks on 4 workers against the
// fake coordinator: it measures the agents' own overhead (the real
// benchmark adds Raft), which must stay far below the 2,000 tasks/s goal.
func TestNoopThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("throughput run skipped in -short mode")
	}
	f := newFake(t)
	const workers, n = 4, 10_000
	for i := range workers {
		cfg := testConfig(t, fmt.Sprintf("w%d", i), f.addr)
		cfg.Slots = 16
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		runAgent(t, cfg)
	}
	f.waitFor(t, "every worker to register", func(f *fakeCoord) bool { return len(f.registers) == workers })
	batch := make([]*nightshiftv1.Assignment, n)
	for i := range batch {
		batch[i] = noop("bench", int32(i), 0)
	}
	start := time.Now()
	f.add(batch...)
	f.waitFor(t, "every report", func(f *fakeCoord) bool { return f.distinctLocked() == n })
	took := time.Since(start)
	leases, reports := read(f, func(f *fakeCoord) int { return len(f.leases) }), read(f, func(f *fakeCoord) int { return f.reportRPCs })
	rate := float64(n) / took.Seconds()
	t.Logf("%d no-op tasks on %d workers in %s: %.0f tasks/s, %d lease calls, %d report calls", n, workers, took, rate, leases, reports)
	if rate < 2000 && !raceEnabled {
		t.Errorf("%.0f tasks/s against a fake coordinator, want well above 2,000", rate)
	}
}
