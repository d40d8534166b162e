package coordinator

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// BenchmarkConsoleJob100kTasks times what one open job page costs the
// coordinator per second of its event stream (a snapshot of the overview
// and of the job: task counts, a page of tasks, the per-worker timeline,
// JSON) for a job of 100,000 tasks run by 100 workers, nine in ten of
// them done, and the jobs page beside it. job-page rebuilds the timeline
// (at most every 10 s for this job: console_timeline.go), the ticks
// between show the one kept (job-page-kept-timeline).
//
//	go test ./coordinator -run '^$' -bench Console -benchtime 20x -count 5
func BenchmarkConsoleJob100kTasks(b *testing.B) {
	h := &fsmHarness{t: &testing.T{}, store: NewStore(), now: 1_000_000}
	const workers, tasks = 100, 100_000
	for w := range workers {
		h.register(fmt.Sprintf("w%03d", w))
	}
	h.submit("big", tasks, "")
	for i := range 200 {
		h.submit("small-"+string(rune('a'+i%26))+string(rune('a'+i/26)), 10, "")
	}
	// Lease every task round-robin over the workers, then let nine in ten
	// succeed over the next hour, so the timeline has cells to fill.
	const batch = 1000
	for lo := int32(0); lo < tasks; lo += batch {
		ops := make([]*pb.TaskOp, 0, batch)
		for i := lo; i < lo+batch; i++ {
			ops = append(ops, leaseOp("big", i, fmt.Sprintf("w%03d", i%workers), false))
		}
		h.ops(ops...)
	}
	for lo := int32(0); lo < tasks*9/10; lo += batch {
		h.now += 36_000 // 100 batches over an hour
		ops := make([]*pb.TaskOp, 0, batch)
		for i := lo; i < lo+batch; i++ {
			op := succeedOp("big", i, 1, fmt.Sprintf("w%03d", i%workers), "o")
			op.GetSucceed().Result.DurationMs = 30_000
			ops = append(ops, op)
		}
		h.ops(ops...)
	}
	s := &Server{store: h.store, timelines: newTimelineCache()}
	now := time.UnixMilli(h.now + 60_000)
	page := func(b *testing.B) {
		d, ok := s.consoleJobDetail("big", 500, "", now)
		if !ok || len(d.Tasks) != consoleTasksPage {
			b.Fatal("no page")
		}
		if tl := d.Timeline; tl == nil || len(tl.Rows) != consoleTimelineRows+1 || len(tl.Rows[0].BusyMs) != consoleTimelineBuckets {
			b.Fatalf("timeline %+v", tl)
		}
		if _, err := json.Marshal(d); err != nil {
			b.Fatal(err)
		}
	}
	// A tick that rebuilds the timeline (reads every task's result), and
	// one of the ticks between, which show the kept timeline.
	b.Run("job-page", func(b *testing.B) {
		for b.Loop() {
			clear(s.timelines.jobs)
			page(b)
		}
	})
	b.Run("job-page-kept-timeline", func(b *testing.B) {
		for b.Loop() {
			page(b)
		}
	})
	b.Run("overview", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(s.consoleOverview(now)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jobs-page", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(s.consoleJobs(2, "", now)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
