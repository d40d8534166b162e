package coordinator

import (
	"fmt"
	"testing"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// TestTimelineBuckets: an attempt is spread over the buckets it overlaps
// and clipped to the job's span; a running attempt counts up to now; the
// busiest workers get rows, by name, and the rest one "other" row.
func TestTimelineBuckets(t *testing.T) {
	b := newTimeline(1000, 1000+60*1000) // 60 buckets of 1 s
	ok := func(w string, finish, dur int64) *pb.Task {
		return &pb.Task{State: pb.TaskState_TASK_STATE_SUCCEEDED, Result: &pb.TaskResult{WorkerId: w, FinishUnixMs: finish, DurationMs: dur}}
	}
	b.task(ok("a", 1000+2500, 2000), 0)                                                                                                       // 0.5..2.5 s: half of bucket 0, all of 1, half of 2
	b.task(ok("a", 1000+500, 1500), 0)                                                                                                        // starts before the job: clipped to 0..0.5 s
	b.task(&pb.Task{State: pb.TaskState_TASK_STATE_RUNNING, Active: []*pb.Attempt{{WorkerId: "b", StartUnixMs: 1000 + 59_000}}}, 1000+70_000) // clipped at the end
	b.task(&pb.Task{State: pb.TaskState_TASK_STATE_SUCCEEDED, Result: &pb.TaskResult{WorkerId: "c"}}, 0)                                      // no finish time: not drawn
	tl := b.finish()
	if tl.Workers != 2 || len(tl.Rows) != 2 || tl.Rows[0].Worker != "a" || tl.Rows[1].Worker != "b" {
		t.Fatalf("rows %+v", tl.Rows)
	}
	a := tl.Rows[0].BusyMs
	if a[0] != 1000 || a[1] != 1000 || a[2] != 500 || a[3] != 0 || tl.Rows[0].TotalMs != 2500 {
		t.Fatalf("worker a: %v total %v", a[:4], tl.Rows[0].TotalMs)
	}
	if bb := tl.Rows[1].BusyMs; bb[59] != 1000 || tl.Rows[1].TotalMs != 1000 || tl.MaxMs != 1000 {
		t.Fatalf("worker b: last bucket %v total %v max %v", bb[59], tl.Rows[1].TotalMs, tl.MaxMs)
	}

	// 45 workers: the 40 busiest by name, the 5 least busy summed.
	b = newTimeline(1000, 61_000)
	for w := range 45 {
		b.task(ok(fmt.Sprintf("w%02d", w), 61_000, int64(1000*(w+1))), 0)
	}
	tl = b.finish()
	last := tl.Rows[len(tl.Rows)-1]
	if len(tl.Rows) != consoleTimelineRows+1 || tl.Rows[0].Worker != "w05" || last.Others != 5 || last.TotalMs != 1000*(1+2+3+4+5) || tl.Workers != 45 {
		t.Fatalf("%d rows, first %s, last %+v", len(tl.Rows), tl.Rows[0].Worker, last)
	}
	if newTimeline(0, 1000) != nil || (*timelineBuilder)(nil).finish() != nil {
		t.Fatal("a job that has not started has a timeline")
	}
}

// TestTimelineKept: a big job's timeline is kept a second per 10,000
// tasks (or half a bucket, if longer) and then rebuilt; a job that ended
// since is drawn once more, to its end, and that one is kept; the cache
// holds a bounded number of jobs.
func TestTimelineKept(t *testing.T) {
	c := newTimelineCache()
	k := timelineKey("j")
	j := &pb.Job{Id: "j", TasksTotal: 50_000}
	running := &consoleTimeline{BucketMs: 1000}
	c.put(k, j, running, 10_000)
	if c.get(k, j, 14_999) != running || c.get(k, j, 15_000) != nil {
		t.Fatal("a 50,000-task job's timeline is not kept exactly 5 s")
	}
	j.EndUnixMs = 12_000
	if c.get(k, j, 12_500) != nil {
		t.Fatal("a job that ended since shows the timeline drawn while it ran")
	}
	final := &consoleTimeline{BucketMs: 1000}
	c.put(k, j, final, 12_500)
	if c.get(k, j, 1e12) != final {
		t.Fatal("an ended job's timeline is rebuilt")
	}
	for i := range timelineCacheJobs + 1 {
		c.put(timelineKey(fmt.Sprint(i)), j, final, 0)
	}
	if len(c.jobs) > timelineCacheJobs {
		t.Fatalf("%d timelines kept", len(c.jobs))
	}
}
