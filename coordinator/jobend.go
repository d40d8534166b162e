package coordinator

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/hashicorp/raft"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// A job's end is logged once, by the leader, after the command that ended
// it was applied: the FSM finds which jobs the command ended (endedJobs,
// deterministic and silent, as on every replica) and returns them in its
// result, which only the proposer receives. Followers, and a node replaying
// its log at start, apply the same command but log nothing. A command
// whose leader lost leadership before it committed is logged by nobody.

// endedJobs returns the jobs this command moved into a terminal state, as
// they are about to be stored, sorted by ID. It must run before flushJobs:
// until then the transaction still holds each changed job as it was
// before the command. A submission that ends at once (no tasks) is in res.
func (a *applier) endedJobs(res *applyResult) []*pb.Job {
	var ended []*pb.Job
	for id, j := range a.jobs {
		if !terminal(j.State) {
			continue
		}
		if old := getJob(a.txn, id); old == nil || !terminal(old.State) {
			ended = append(ended, j)
		}
	}
	if res != nil && res.created && res.job != nil && terminal(res.job.State) {
		ended = append(ended, res.job)
	}
	slices.SortFunc(ended, func(x, y *pb.Job) int { return cmp.Compare(x.Id, y.Id) })
	return ended
}

// awaitApply waits for a command this leader proposed to be applied and
// logs the jobs it ended. It runs apart from the proposer, which may stop
// waiting (its context ended) while the command still commits.
func (s *Server) awaitApply(f raft.ApplyFuture) error {
	if err := f.Error(); err != nil {
		return err
	}
	if res, ok := f.Response().(*applyResult); ok && res != nil {
		s.logJobEnds(res)
	}
	return nil
}

// logJobEnds writes one line per job a command this leader proposed ended:
// its state, how long it ran, its tasks and rows, and its error if any.
func (s *Server) logJobEnds(res *applyResult) {
	for _, j := range res.ended {
		level := slog.LevelInfo
		if j.State == pb.JobState_JOB_STATE_FAILED {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{
			slog.String("job", j.Id),
			slog.String("kind", jobspec.Kind(j.Spec)),
			slog.String("state", lower(j.State.String(), "JOB_STATE_")),
			slog.Duration("duration", time.Duration(j.EndUnixMs-j.StartUnixMs)*time.Millisecond),
			slog.Int("tasks_succeeded", int(j.TasksSucceeded)),
			slog.Int("tasks_total", int(j.TasksTotal)),
			slog.Int64("rows", j.RowsDone),
		}
		if j.RowsTotal > 0 {
			attrs = append(attrs, slog.Int64("rows_total", j.RowsTotal))
		}
		if name := j.Spec.GetName(); name != "" {
			attrs = append(attrs, slog.String("name", name))
		}
		if j.Error != "" {
			attrs = append(attrs, slog.String("error", j.Error))
		}
		s.log.LogAttrs(context.Background(), level, "job ended", attrs...)
	}
}
