package coordinator

import (
	"context"
	"slices"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// speculationLoop marks stragglers for a backup attempt: once a job has
// SpeculationQuantile of its tasks done, a task whose only attempt has run
// longer than SpeculationMultiplier × the median task time (and at least
// SpeculationMinRuntime) gets a second attempt on another worker. The
// first to succeed wins; the loser's output is never committed.
func (s *Server) speculationLoop(ctx context.Context) {
	if s.cfg.SpeculationMultiplier <= 0 {
		return
	}
	every(ctx, 250*time.Millisecond, func() bool {
		ls := s.leading()
		if ls == nil {
			return false
		}
		view := s.store.Snapshot()
		slow := map[attemptKey]string{}
		for _, j := range view.ActiveJobs() {
			// Training members are a group, not independent tasks: a
			// backup would be a second member, not a race.
			if j.State != pb.JobState_JOB_STATE_RUNNING || j.TasksTotal == 0 || isGrouped(j) ||
				float64(j.TasksSucceeded) < s.cfg.SpeculationQuantile*float64(j.TasksTotal) {
				continue
			}
			s.findStragglers(view, j, slow)
		}
		ls.mu.Lock()
		ls.speculate = slow
		ls.mu.Unlock()
		return true
	})
}

func (s *Server) findStragglers(view *View, j *pb.Job, slow map[attemptKey]string) {
	var times []int64
	var running []*pb.Task
	for _, t := range view.Tasks(j.Id) {
		switch t.State {
		case pb.TaskState_TASK_STATE_SUCCEEDED:
			times = append(times, t.Result.GetDurationMs())
		case pb.TaskState_TASK_STATE_RUNNING:
			if len(t.Active) == 1 {
				running = append(running, t)
			}
		}
	}
	if len(times) == 0 || len(running) == 0 {
		return
	}
	slices.Sort(times)
	median := time.Duration(times[len(times)/2]) * time.Millisecond
	limit := max(time.Duration(s.cfg.SpeculationMultiplier*float64(median)), s.cfg.SpeculationMinRuntime)
	now := time.Now()
	for _, t := range running {
		at := t.Active[0]
		if now.Sub(time.UnixMilli(at.StartUnixMs)) > limit {
			slow[attemptKey{t.JobId, t.Index, 0}] = at.WorkerId
		}
	}
}
