package coordinator

import (
	"context"
	"slices"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// groupSettle is how long the set of live members must stay unchanged
// before a generation smaller than max_members is committed: members
// lease their tasks within milliseconds of each other, and one generation
// for all of them beats one per arrival (each change costs the group its
// in-flight step).
const groupSettle = 400 * time.Millisecond

// groupLoop forms training groups (docs/architecture.md §8). For every running
// training job it compares the members of the current generation with the
// workers that hold a live attempt of the job's member tasks: a member
// lost (its attempt expired, released or failed) or a worker that leased
// a free member task means a new generation. The loop only proposes; the
// FSM checks every member still holds its attempt. All it keeps in memory
// is when each job's live set last changed.
func (s *Server) groupLoop(ctx context.Context) {
	type seen struct {
		members []*pb.GroupMember
		since   time.Time
	}
	last := map[string]*seen{}
	every(ctx, 100*time.Millisecond, func() bool {
		if s.leading() == nil {
			return false
		}
		view := s.store.Snapshot()
		now := time.Now()
		active := map[string]bool{}
		for _, j := range view.ActiveJobs() {
			sp := j.Spec.GetTrain()
			if sp == nil || j.State != pb.JobState_JOB_STATE_RUNNING {
				continue
			}
			active[j.Id] = true
			live := liveMembers(view, j.Id)
			cur := j.GetTrain().GetMembers()
			l := last[j.Id]
			if l == nil || !sameMembers(l.members, live) {
				l = &seen{members: live, since: now}
				last[j.Id] = l
			}
			if sameMembers(live, cur) || len(live) < int(sp.MinMembers) {
				continue
			}
			if len(live) < int(sp.MaxMembers) && now.Sub(l.since) < groupSettle {
				continue
			}
			gen := j.GetTrain().GetGeneration() + 1
			_, err := s.apply(ctx, &pb.Command{Op: &pb.Command_TrainGeneration{TrainGeneration: &pb.TrainGeneration{
				JobId: j.Id, Generation: gen, Members: live}}})
			if err != nil {
				s.log.Warn("forming a training group generation", "job", j.Id, "generation", gen, "err", err)
				continue
			}
			s.log.Info("training group generation committed", "job", j.Id, "generation", gen, "members", len(live))
		}
		for id := range last {
			if !active[id] {
				delete(last, id)
			}
		}
		return true
	})
}

// liveMembers lists, in rank order (task index), the workers holding a
// live attempt of a training job's member tasks.
func liveMembers(view *View, jobID string) []*pb.GroupMember {
	var live []*pb.GroupMember
	for _, t := range view.Tasks(jobID) {
		if t.State != pb.TaskState_TASK_STATE_RUNNING || len(t.Active) != 1 {
			continue
		}
		at := t.Active[0]
		w := view.Worker(at.WorkerId)
		if w == nil || w.State == pb.WorkerState_WORKER_STATE_DOWN {
			continue
		}
		live = append(live, &pb.GroupMember{WorkerId: at.WorkerId, Addr: w.GrpcAddr, Task: t.Index, Attempt: at.Number})
	}
	return live
}

func sameMembers(a, b []*pb.GroupMember) bool {
	return slices.EqualFunc(a, b, sameMember)
}
