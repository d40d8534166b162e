package coordinator

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The job page's per-worker task timeline: how busy each worker was with
// the job over its life, as a grid of workers × time buckets. It is built
// in the job page's one walk over the tasks (consoleJobDetail), and its
// size is fixed whatever the task count: consoleTimelineRows workers (the
// busiest; the rest summed into one "other" row) × consoleTimelineBuckets
// buckets from the job's start to its end (or now).
//
// A cell is the task-time the worker spent on the job in that bucket:
// a succeeded task's winning attempt (finish_unix_ms - duration_ms ..
// finish_unix_ms) and each running attempt (start .. now). Failed and
// superseded attempts leave no times in the state, so they are not drawn.
//
// Reading every task's result costs about two cache misses per task (the
// result, then its worker ID's bytes): some 25 ms for 100,000 tasks, three
// times the walk without it. So a job's timeline is kept (timelines) and
// rebuilt, in the page's walk, only when it is older than half a bucket
// (it cannot change more than that shows), and no more often than once a
// second per 10,000 tasks; an ended job's is kept until evicted.

const (
	consoleTimelineRows    = 40
	consoleTimelineBuckets = 60
)

type consoleTimeline struct {
	StartUnixMs int64 `json:"start_unix_ms"`
	BucketMs    int64 `json:"bucket_ms"`
	// Workers that ran the job's tasks, all of them (Rows shows at most
	// consoleTimelineRows of them by name).
	Workers int                  `json:"workers"`
	Rows    []consoleTimelineRow `json:"rows"`
	// The largest cell of a worker's own row, so the page can scale its
	// shading (the "other" row is shaded by its mean per worker).
	MaxMs int64 `json:"max_ms"`
}

type consoleTimelineRow struct {
	Worker string `json:"worker"`
	// Workers summed into this row ("other"); 0 for a worker's own row.
	Others int `json:"others,omitempty"`
	// Busy task-milliseconds per bucket (exact: a bucket of a short job
	// may hold a few ms) and in all.
	BusyMs  []int64 `json:"busy_ms"`
	TotalMs int64   `json:"total_ms"`
}

const (
	timelineTasksPerSecond = 10_000
	timelineMaxAge         = 30 * time.Second
	timelineCacheJobs      = 64
)

// timelineCache holds the latest timeline of the jobs whose pages are
// open on this coordinator, by job ID (Server.timelines).
type timelineCache struct {
	mu   sync.Mutex
	jobs map[timelineKey]timelineEntry
}

type timelineKey string

type timelineEntry struct {
	tl      *consoleTimeline
	builtAt int64 // the page's clock when it was built
	end     int64 // the job's end then (0: it ran)
}

func newTimelineCache() *timelineCache { return &timelineCache{jobs: map[timelineKey]timelineEntry{}} }

// get returns the job's timeline when it is fresh enough to show at now.
func (c *timelineCache) get(k timelineKey, j *pb.Job, now int64) *consoleTimeline {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.jobs[k]
	switch {
	case !ok || e.tl == nil:
		return nil
	case e.end != 0 && e.end == j.EndUnixMs:
		return e.tl // the job had ended: its timeline is final
	case j.EndUnixMs != 0:
		return nil // it ended since: draw it to the end once more
	}
	age := max(time.Duration(e.tl.BucketMs/2)*time.Millisecond, time.Duration(j.TasksTotal/timelineTasksPerSecond)*time.Second)
	if time.Duration(now-e.builtAt)*time.Millisecond < min(age, timelineMaxAge) {
		return e.tl
	}
	return nil
}

func (c *timelineCache) put(k timelineKey, j *pb.Job, tl *consoleTimeline, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.jobs[k]; !ok && len(c.jobs) >= timelineCacheJobs {
		clear(c.jobs) // bounded: rebuilding a few timelines beats an LRU here
	}
	c.jobs[k] = timelineEntry{tl: tl, builtAt: now, end: j.EndUnixMs}
}

// timelineBuilder accumulates busy milliseconds per worker and bucket.
// Cells are kept per worker seen (a cluster's workers, not the tasks,
// bound them) and the rows are chosen at the end.
type timelineBuilder struct {
	start, end, bucket int64
	byWorker           map[string]*[consoleTimelineBuckets]int64
}

// newTimeline starts a timeline over [start, end); nil when the job has
// not started (there is no time axis yet).
func newTimeline(start, end int64) *timelineBuilder {
	if start <= 0 || end <= start {
		return nil
	}
	// Round the bucket up, so the last one ends at or after end.
	bucket := max(1, (end-start+consoleTimelineBuckets-1)/consoleTimelineBuckets)
	return &timelineBuilder{start: start, end: end, bucket: bucket, byWorker: map[string]*[consoleTimelineBuckets]int64{}}
}

// task adds a task's attempts that have times (nothing on a nil builder:
// a job that has not started).
func (b *timelineBuilder) task(t *pb.Task, now int64) {
	if b == nil {
		return
	}
	if r := t.Result; r != nil && t.State == pb.TaskState_TASK_STATE_SUCCEEDED && r.FinishUnixMs > 0 {
		b.add(r.WorkerId, r.FinishUnixMs-r.DurationMs, r.FinishUnixMs)
	}
	for _, a := range t.Active {
		b.add(a.WorkerId, a.StartUnixMs, now)
	}
}

// add spreads [from, to) over the buckets it overlaps.
func (b *timelineBuilder) add(worker string, from, to int64) {
	from, to = max(from, b.start), min(to, b.end)
	if to <= from || worker == "" {
		return
	}
	cells := b.byWorker[worker]
	if cells == nil {
		cells = new([consoleTimelineBuckets]int64)
		b.byWorker[worker] = cells
	}
	first := (from - b.start) / b.bucket
	last := min((to-1-b.start)/b.bucket, consoleTimelineBuckets-1)
	for i := first; i <= last; i++ {
		lo := b.start + i*b.bucket
		cells[i] += min(to, lo+b.bucket) - max(from, lo)
	}
}

// finish picks the busiest consoleTimelineRows workers (by name on the
// page, so a row keeps its place from tick to tick) and sums the rest.
func (b *timelineBuilder) finish() *consoleTimeline {
	if b == nil {
		return nil
	}
	type worker struct {
		id    string
		cells *[consoleTimelineBuckets]int64
		total int64
	}
	all := make([]worker, 0, len(b.byWorker))
	for id, cells := range b.byWorker {
		w := worker{id: id, cells: cells}
		for _, ms := range cells {
			w.total += ms
		}
		all = append(all, w)
	}
	slices.SortFunc(all, func(x, y worker) int { return cmp.Or(cmp.Compare(y.total, x.total), cmp.Compare(x.id, y.id)) })
	shown, rest := all[:min(len(all), consoleTimelineRows)], all[min(len(all), consoleTimelineRows):]
	slices.SortFunc(shown, func(x, y worker) int { return cmp.Compare(x.id, y.id) })
	tl := &consoleTimeline{StartUnixMs: b.start, BucketMs: b.bucket, Workers: len(all), Rows: make([]consoleTimelineRow, 0, len(shown)+1)}
	for _, w := range shown {
		tl.Rows = append(tl.Rows, tl.row(w.id, 0, w.cells))
	}
	if len(rest) > 0 {
		var sum [consoleTimelineBuckets]int64
		for _, w := range rest {
			for i, ms := range w.cells {
				sum[i] += ms
			}
		}
		tl.Rows = append(tl.Rows, tl.row("other ("+strconv.Itoa(len(rest))+" workers)", len(rest), &sum))
	}
	return tl
}

func (tl *consoleTimeline) row(worker string, others int, cells *[consoleTimelineBuckets]int64) consoleTimelineRow {
	r := consoleTimelineRow{Worker: worker, Others: others, BusyMs: cells[:]}
	for _, ms := range cells {
		if others == 0 {
			tl.MaxMs = max(tl.MaxMs, ms)
		}
		r.TotalMs += ms
	}
	return r
}
