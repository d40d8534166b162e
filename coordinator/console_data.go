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
	Error    string `json:"error,omitempty"`
}

type consoleJobDetail struct {
	Job       consoleJob     `json:"job"`
	Counts    map[string]int `json:"task_counts"`
	Tasks     []consoleTask  `json:"tasks"`
	TaskPage  int            `json:"task_page"`
	TaskPages int            `json:"task_pages"`
	Events    []string       `json:"events"`
	Epochs    []consoleEpoch `json:"epochs,omitempty"`
}

type consoleEpoch struct {
	Epoch     int32              `json:"epoch"`
	TrainLoss float64            `json:"train_loss"`
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
		o.Workers = append(o.Workers, consoleWorker{ID: w.Id, Pool: w.Pool, State: lower(w.State.String(), "WORKER_STATE_"), Slots: w.Slots, Running: running[w.Id]})
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
		cs := consoleSchedule{Name: sc.Spec.GetName(), Cron: sc.Spec.GetCron(), TimeZone: sc.Spec.GetTimeZone(), Paused: sc.Paused,
			PauseReason: sc.PauseReason, Failures: sc.ConsecutiveFailures}
		if next := nextSlots(sc, now, 1); len(next) > 0 {
			cs.NextUnixMs = next[0]
		}
		view.RunsNewestFirst(cs.Name, false, nil, func(r *pb.PipelineRun) bool {
			cr := consoleRun{ID: r.Id, State: lower(r.State.String(), "RUN_STATE_"), Trigger: r.Trigger, Promoted: r.Promoted, Reason: r.Reason}
			if r.ModelVersion > 0 {
				cr.Model = r.ModelName + "@v" + strconv.Itoa(int(r.ModelVersion))
			}
			cs.Runs = append(cs.Runs, cr)
			return len(cs.Runs) < consoleRunsShown
		})
		o.Schedules = append(o.Schedules, cs)
	}
	return o
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
// and its latest events; ok is false when there is no such job.
func (s *Server) consoleJobDetail(id string, taskPage int, now time.Time) (consoleJobDetail, bool) {
	view := s.store.Snapshot()
	j := view.Job(id)
	if j == nil {
		return consoleJobDetail{}, false
	}
	d := consoleJobDetail{Job: consoleJobOf(j, now), Counts: map[string]int{}}
	// One walk: count the states (an array by enum value: no string work
	// per task) and keep the requested page.
	d.TaskPages = max(1, (int(j.TasksTotal)+consoleTasksPage-1)/consoleTasksPage)
	d.TaskPage = min(max(taskPage, 1), d.TaskPages)
	lo, hi := (d.TaskPage-1)*consoleTasksPage, d.TaskPage*consoleTasksPage
	var counts [16]int
	i := 0
	view.EachTask(id, func(t *pb.Task) bool {
		counts[int(t.State)&15]++
		if i >= lo && i < hi {
			ct := consoleTask{Index: t.Index, State: lower(t.State.String(), "TASK_STATE_"), Attempts: t.Attempts, Failures: t.Failures, Rows: t.Rows, Error: t.LastError}
			if len(t.Active) > 0 {
				ct.Worker = t.Active[0].WorkerId
			}
			d.Tasks = append(d.Tasks, ct)
		}
		i++
		return true
	})
	for st, n := range counts {
		if n > 0 {
			d.Counts[lower(pb.TaskState(st).String(), "TASK_STATE_")] = n
		}
	}
	events := j.Events[max(0, len(j.Events)-20):]
	for _, e := range events {
		d.Events = append(d.Events, time.UnixMilli(e.UnixMs).UTC().Format(time.TimeOnly)+" "+e.Message)
	}
	if t := j.Train; t != nil {
		for _, e := range t.Epochs {
			d.Epochs = append(d.Epochs, consoleEpoch{Epoch: e.Epoch, TrainLoss: e.TrainLoss, Holdout: e.Holdout})
		}
	}
	return d, true
}
