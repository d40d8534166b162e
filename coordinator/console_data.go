package coordinator

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The operator console's data (console.go serves it): small JSON shapes
// read from this node's snapshot of the state, every list paged and
// bounded, so a job of 100,000 tasks costs one walk of its tasks and a
// page of them, never a page of everything.

// Console page sizes.
const (
	consoleJobsPage  = 50
	consoleTasksPage = 100
)

type consoleOverview struct {
	Node      string             `json:"node"`
	Leader    string             `json:"leader"`
	Raft      map[string]uint64  `json:"raft"`
	Insecure  string             `json:"insecure,omitempty"`
	Peers     []consolePeer      `json:"peers"`
	Queue     []consoleQueue     `json:"queue"`
	Workers   []consoleWorker    `json:"workers"`
	Jobs      map[string]int     `json:"jobs"`
	UnixMs    int64              `json:"unix_ms"`
	Tokens    bool               `json:"tokens"`
	Models    []consoleModelLine `json:"models"`
	Schedules []consoleSchedule  `json:"schedules"`
	// The newest runs of no schedule (StartPipeline), like a schedule's.
	AdhocRuns []consoleRun `json:"adhoc_runs"`
}

// consoleSchedule is a schedule with its next slot and its latest runs:
// what happened overnight and why a night did not promote.
type consoleSchedule struct {
	Name        string       `json:"name"`
	Cron        string       `json:"cron"`
	TimeZone    string       `json:"time_zone"`
	Paused      bool         `json:"paused"`
	PauseReason string       `json:"pause_reason,omitempty"`
	NextUnixMs  int64        `json:"next_unix_ms,omitempty"`
	Failures    int32        `json:"failures_in_a_row"`
	Runs        []consoleRun `json:"runs"`
}

type consoleRun struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Trigger  string `json:"trigger"`
	Model    string `json:"model,omitempty"`
	Promoted bool   `json:"promoted"`
	Reason   string `json:"reason,omitempty"`
}

// consoleRunsShown is how many of a schedule's newest runs the console shows.
const consoleRunsShown = 7

type consolePeer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
}

type consoleQueue struct {
	Pool    string `json:"pool"`
	Pending int    `json:"pending"`
	Running int    `json:"running"`
}

type consoleWorker struct {
	ID      string `json:"id"`
	Pool    string `json:"pool"`
	State   string `json:"state"`
	Slots   int32  `json:"slots"`
	Running int    `json:"running"`
	// LastEvent is the newest state change, with who made it.
	LastEvent string `json:"last_event,omitempty"`
}

type consoleModelLine struct {
	Name       string `json:"name"`
	Production int32  `json:"production"`
	Candidate  int32  `json:"candidate"`
	Versions   int    `json:"versions"`
	LastEvent  string `json:"last_event,omitempty"`
}

type consoleJob struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Kind           string  `json:"kind"`
	State          string  `json:"state"`
	Owner          string  `json:"owner,omitempty"`
	TasksTotal     int32   `json:"tasks_total"`
	TasksSucceeded int32   `json:"tasks_succeeded"`
	RowsTotal      int64   `json:"rows_total"`
	RowsDone       int64   `json:"rows_done"`
	RowsPerSecond  float64 `json:"rows_per_second"`
	ETASeconds     float64 `json:"eta_seconds"`
	CreateUnixMs   int64   `json:"create_unix_ms"`
	Error          string  `json:"error,omitempty"`
	TrainStep      int64   `json:"train_step,omitempty"`
}

type consoleJobs struct {
	Jobs  []consoleJob `json:"jobs"`
	Page  int          `json:"page"`
	Pages int          `json:"pages"`
	Total int          `json:"total"`
}

type consoleTask struct {
	Index    int32  `json:"index"`
	State    string `json:"state"`
	Attempts int32  `json:"attempts"`
	Failures int32  `json:"failures"`
	Worker   string `json:"worker,omitempty"`
	Rows     int64  `json:"rows"`
	// The winning attempt's run time and when it applied (succeeded tasks).
	DurationMs   int64  `json:"duration_ms,omitempty"`
	FinishUnixMs int64  `json:"finish_unix_ms,omitempty"`
	Error        string `json:"error,omitempty"`
}

type consoleJobDetail struct {
	Job    consoleJob     `json:"job"`
	Counts map[string]int `json:"task_counts"`
	// The task filter the page shows ("" for all) and the tasks it matched.
	Filter    string         `json:"task_filter,omitempty"`
	Matched   int            `json:"tasks_matched"`
	Tasks     []consoleTask  `json:"tasks"`
	TaskPage  int            `json:"task_page"`
	TaskPages int            `json:"task_pages"`
	Events    []string       `json:"events"`
	Epochs    []consoleEpoch `json:"epochs,omitempty"`
	// Training jobs: the group, the outcome and its evaluation.
	Train    *consoleTrain    `json:"train,omitempty"`
	Timeline *consoleTimeline `json:"timeline,omitempty"`
}

type consoleEpoch struct {
	Epoch     int32              `json:"epoch"`
	TrainLoss *float64           `json:"train_loss"`
	Holdout   map[string]float64 `json:"holdout,omitempty"`
}

func (s *Server) consoleOverview(now time.Time) consoleOverview {
	view := s.store.Snapshot()
	o := consoleOverview{Node: s.cfg.ID, Raft: map[string]uint64{}, Insecure: s.cfg.InsecureWarning(), Jobs: map[string]int{},
		UnixMs: now.UnixMilli(), Tokens: s.tokensOn()}
	if s.raft != nil {
		_, id := s.raft.raft.LeaderWithID()
		o.Leader = string(id)
		stats := s.raft.raft.Stats()
		for _, k := range []string{"term", "commit_index", "applied_index", "last_log_index"} {
			if v, err := strconv.ParseUint(stats[k], 10, 64); err == nil {
				o.Raft[k] = v
			}
		}
		if f := s.raft.raft.GetConfiguration(); f.Error() == nil {
			for _, srv := range f.Configuration().Servers {
				o.Peers = append(o.Peers, consolePeer{ID: string(srv.ID), Address: string(srv.Address), Suffrage: srv.Suffrage.String()})
			}
		}
	}
	running := map[string]int{}
	runningByPool := map[string]int{}
	view.Running(func(t *pb.Task) bool {
		runningByPool[t.Pool]++
		for _, at := range t.Active {
			running[at.WorkerId]++
		}
		return true
	})
	pools := map[string]bool{jobspec.DefaultPool: true}
	for _, w := range view.Workers() {
		pools[w.Pool] = true
		cw := consoleWorker{ID: w.Id, Pool: w.Pool, State: lower(w.State.String(), "WORKER_STATE_"), Slots: w.Slots, Running: running[w.Id]}
		if n := len(w.Events); n > 0 {
			e := w.Events[n-1]
			cw.LastEvent = time.UnixMilli(e.UnixMs).UTC().Format(time.DateTime) + " " + e.Message
		}
		o.Workers = append(o.Workers, cw)
	}
	for _, j := range view.Jobs() {
		o.Jobs[lower(j.State.String(), "JOB_STATE_")]++
		if !terminal(j.State) {
			pools[poolOf(j.Spec)] = true
		}
	}
	for _, pool := range slices.Sorted(maps.Keys(pools)) {
		n := 0
		view.Pending(pool, func(*pb.Task) bool { n++; return true })
		o.Queue = append(o.Queue, consoleQueue{Pool: pool, Pending: n, Running: runningByPool[pool]})
	}
	for _, m := range view.Models() {
		line := consoleModelLine{Name: m.Name, Production: m.Aliases[aliasProduction], Candidate: m.Aliases[aliasCandidate], Versions: len(m.Versions)}
		if n := len(m.Events); n > 0 {
			line.LastEvent = m.Events[n-1].Message
		}
		o.Models = append(o.Models, line)
	}
	for _, sc := range view.Schedules() {
		cs := consoleScheduleOf(sc, now)
		view.RunsNewestFirst(cs.Name, false, nil, func(r *pb.PipelineRun) bool {
			cs.Runs = append(cs.Runs, consoleRunOf(r))
			return len(cs.Runs) < consoleRunsShown
		})
		o.Schedules = append(o.Schedules, cs)
	}
	view.RunsNewestFirst("", false, nil, func(r *pb.PipelineRun) bool {
		o.AdhocRuns = append(o.AdhocRuns, consoleRunOf(r))
		return len(o.AdhocRuns) < consoleRunsShown
	})
	return o
}

// consoleScheduleOf is a schedule's line, without its runs.
func consoleScheduleOf(sc *pb.Schedule, now time.Time) consoleSchedule {
	cs := consoleSchedule{Name: sc.Spec.GetName(), Cron: sc.Spec.GetCron(), TimeZone: sc.Spec.GetTimeZone(), Paused: sc.Paused,
		PauseReason: sc.PauseReason, Failures: sc.ConsecutiveFailures}
	if next := nextSlots(sc, now, 1); len(next) > 0 {
		cs.NextUnixMs = next[0]
	}
	return cs
}

// consoleJobs is a page of jobs, newest first, optionally of one state.
func (s *Server) consoleJobs(page int, state string, now time.Time) consoleJobs {
	jobs := slices.DeleteFunc(s.store.Snapshot().Jobs(), func(j *pb.Job) bool {
		return state != "" && lower(j.State.String(), "JOB_STATE_") != state
	})
	slices.SortFunc(jobs, func(a, b *pb.Job) int {
		return cmp.Or(cmp.Compare(b.CreateUnixMs, a.CreateUnixMs), cmp.Compare(a.Id, b.Id))
	})
	out := consoleJobs{Total: len(jobs), Pages: max(1, (len(jobs)+consoleJobsPage-1)/consoleJobsPage)}
	out.Page = min(max(page, 1), out.Pages)
	lo := (out.Page - 1) * consoleJobsPage
	for _, j := range jobs[lo:min(lo+consoleJobsPage, len(jobs))] {
		out.Jobs = append(out.Jobs, consoleJobOf(j, now))
	}
	return out
}

func consoleJobOf(j *pb.Job, now time.Time) consoleJob {
	c := consoleJob{ID: j.Id, Name: j.Spec.GetName(), Kind: jobspec.Kind(j.Spec), State: lower(j.State.String(), "JOB_STATE_"),
		Owner: j.Spec.GetOwner(), TasksTotal: j.TasksTotal, TasksSucceeded: j.TasksSucceeded, RowsTotal: j.RowsTotal, RowsDone: j.RowsDone,
		CreateUnixMs: j.CreateUnixMs, Error: j.Error}
	if j.Train != nil {
		c.TrainStep = j.Train.Step
	}
	// Rate and ETA from the rows done since the job started.
	if j.StartUnixMs > 0 && j.RowsDone > 0 {
		end := now.UnixMilli()
		if j.EndUnixMs > 0 {
			end = j.EndUnixMs
		}
		if secs := float64(end-j.StartUnixMs) / 1000; secs > 0 {
			c.RowsPerSecond = float64(j.RowsDone) / secs
			if !terminal(j.State) && j.RowsTotal > j.RowsDone {
				c.ETASeconds = float64(j.RowsTotal-j.RowsDone) / c.RowsPerSecond
			}
		}
	}
	return c
}

// consoleJobDetail is one job with its task counts, a page of its tasks
// (those filter selects: taskFilters), its per-worker timeline and its
// latest events; ok is false when there is no such job.
func (s *Server) consoleJobDetail(id string, taskPage int, filter string, now time.Time) (consoleJobDetail, bool) {
	view := s.store.Snapshot()
	j := view.Job(id)
	if j == nil {
		return consoleJobDetail{}, false
	}
	match, known := taskFilters[filter]
	if !known {
		filter, match = "", nil
	}
	d := consoleJobDetail{Job: consoleJobOf(j, now), Counts: map[string]int{}, Filter: filter}
	// One walk: count the states (an array by enum value: no string work
	// per task), fill the timeline and keep the requested page. Without a
	// filter the pages are known before the walk; with one, a page past
	// the end (the matches shrank) costs a second walk for the last page.
	d.TaskPage = max(taskPage, 1)
	if match == nil {
		d.TaskPage = min(d.TaskPage, max(1, (int(j.TasksTotal)+consoleTasksPage-1)/consoleTasksPage))
	}
	// The timeline is drawn from the job's start to its end, or to now;
	// a big job's is rebuilt now and then only (console_timeline.go).
	nowMs, end := now.UnixMilli(), now.UnixMilli()
	if j.EndUnixMs > 0 {
		end = j.EndUnixMs
	}
	key := timelineKey(id)
	d.Timeline = s.timelines.get(key, j, nowMs)
	var tl *timelineBuilder // nil: the kept timeline stands
	if d.Timeline == nil {
		tl = newTimeline(j.StartUnixMs, end)
	}
	var counts [16]int
	d.Matched = walkTasks(view, id, match, d.TaskPage, &d.Tasks, func(t *pb.Task) {
		counts[int(t.State)&15]++
		tl.task(t, nowMs)
	})
	d.TaskPages = max(1, (d.Matched+consoleTasksPage-1)/consoleTasksPage)
	if d.TaskPage > d.TaskPages {
		d.TaskPage, d.Tasks = d.TaskPages, nil
		walkTasks(view, id, match, d.TaskPage, &d.Tasks, nil)
	}
	for st, n := range counts {
		if n > 0 {
			d.Counts[lower(pb.TaskState(st).String(), "TASK_STATE_")] = n
		}
	}
	if tl != nil {
		d.Timeline = tl.finish()
		s.timelines.put(key, j, d.Timeline, nowMs)
	}
	events := j.Events[max(0, len(j.Events)-20):]
	for _, e := range events {
		d.Events = append(d.Events, time.UnixMilli(e.UnixMs).UTC().Format(time.TimeOnly)+" "+e.Message)
	}
	d.Epochs = consoleEpochsOf(j.Train)
	d.Train = consoleTrainOf(j)
	return d, true
}

// taskFilters are the task page's filters: a state, or "errors" (tasks
// that failed at least once, whatever their state now).
var taskFilters = map[string]func(*pb.Task) bool{
	"":          nil,
	"pending":   func(t *pb.Task) bool { return t.State == pb.TaskState_TASK_STATE_PENDING },
	"running":   func(t *pb.Task) bool { return t.State == pb.TaskState_TASK_STATE_RUNNING },
	"succeeded": func(t *pb.Task) bool { return t.State == pb.TaskState_TASK_STATE_SUCCEEDED },
	"failed":    func(t *pb.Task) bool { return t.State == pb.TaskState_TASK_STATE_FAILED },
	"cancelled": func(t *pb.Task) bool { return t.State == pb.TaskState_TASK_STATE_CANCELLED },
	"errors":    func(t *pb.Task) bool { return t.Failures > 0 || t.LastError != "" },
}

// walkTasks walks a job's tasks once, calling each (when not nil) with
// every task and keeping page number page of those match selects (all
// when nil) in *out; it returns how many matched.
func walkTasks(view *View, id string, match func(*pb.Task) bool, page int, out *[]consoleTask, each func(*pb.Task)) int {
	lo, hi := (page-1)*consoleTasksPage, page*consoleTasksPage
	matched := 0
	view.EachTask(id, func(t *pb.Task) bool {
		if each != nil {
			each(t)
		}
		if match != nil && !match(t) {
			return true
		}
		if matched >= lo && matched < hi {
			*out = append(*out, consoleTaskOf(t))
		}
		matched++
		// Without a per-task callback the walk can stop after the page.
		return each != nil || matched < hi
	})
	return matched
}

func consoleTaskOf(t *pb.Task) consoleTask {
	ct := consoleTask{Index: t.Index, State: lower(t.State.String(), "TASK_STATE_"), Attempts: t.Attempts, Failures: t.Failures, Rows: t.Rows, Error: t.LastError}
	switch {
	case len(t.Active) > 0:
		ct.Worker = t.Active[0].WorkerId
	case t.Result != nil:
		ct.Worker, ct.DurationMs, ct.FinishUnixMs = t.Result.WorkerId, t.Result.DurationMs, t.Result.FinishUnixMs
	}
	return ct
}
