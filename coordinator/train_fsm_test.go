package coordinator

import (
	"errors"
	"testing"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func (h *fsmHarness) submitTrain(id string, members int32, maxRestarts int32) {
	h.t.Helper()
	sp := &pb.TrainSpec{ModelName: "churn", MinMembers: 1, MaxMembers: members, MaxRestarts: maxRestarts}
	r := h.apply(&pb.Command{Op: &pb.Command_SubmitJob{SubmitJob: &pb.SubmitJob{
		Job: &pb.Job{Id: id, Spec: &pb.JobSpec{Kind: &pb.JobSpec_Train{Train: sp}}, Train: &pb.TrainStatus{}}, TaskCount: members}}})
	if r.err != nil {
		h.t.Fatal(r.err)
	}
}

func (h *fsmHarness) generation(job string, gen uint64, members ...*pb.GroupMember) *applyResult {
	return h.apply(&pb.Command{Op: &pb.Command_TrainGeneration{TrainGeneration: &pb.TrainGeneration{JobId: job, Generation: gen, Members: members}}})
}

func (h *fsmHarness) job(id string) *pb.Job { return h.store.Snapshot().Job(id) }

// TestTrainFSM walks a training job through the replicated state: one
// member task per worker, generations only in sequence and only of
// members holding their attempts, progress that never moves back, a
// whole-group loss counted as a restart (bounded), and the final report
// registering the model and ending the job.
func TestTrainFSM(t *testing.T) {
	h := newHarness(t)
	for _, w := range []string{"w1", "w2", "w3"} {
		h.register(w)
	}
	h.submitTrain("j", 3, 1)
	r := h.ops(leaseOp("j", 0, "w1", false), leaseOp("j", 1, "w1", false), leaseOp("j", 1, "w2", false), leaseOp("j", 0, "w3", true))
	if !r[0].Ok || r[1].Ok || !r[2].Ok || r[3].Ok {
		t.Fatalf("leases %v: want one member task per worker and no speculation", r)
	}
	m1 := &pb.GroupMember{WorkerId: "w1", Task: 0, Attempt: 1}
	m2 := &pb.GroupMember{WorkerId: "w2", Task: 1, Attempt: 1}
	if res := h.generation("j", 2, m1, m2); !errors.Is(res.err, errConflict) {
		t.Fatalf("generation 2 before 1: %v", res.err)
	}
	if res := h.generation("j", 1, m1, &pb.GroupMember{WorkerId: "w3", Task: 2, Attempt: 1}); !errors.Is(res.err, errConflict) {
		t.Fatalf("a member without a lease: %v", res.err)
	}
	if res := h.generation("j", 1, m1, m2); res.err != nil {
		t.Fatal(res.err)
	}
	h.apply(&pb.Command{Op: &pb.Command_TrainProgress{TrainProgress: &pb.TrainProgress{JobId: "j", Step: 50, Loss: 0.4,
		EpochMetrics: &pb.EpochMetrics{Epoch: 0, Step: 50, Holdout: map[string]float64{"logloss": 0.4}}}}})
	h.apply(&pb.Command{Op: &pb.Command_TrainProgress{TrainProgress: &pb.TrainProgress{JobId: "j", Step: 40, Loss: 0.9, CheckpointUri: "ck40", CheckpointStep: 40}}})
	ts := h.job("j").Train
	if ts.Step != 50 || ts.Loss != 0.4 || len(ts.Epochs) != 1 || ts.CheckpointStep != 40 {
		t.Fatalf("progress: step %d loss %v epochs %d checkpoint %d", ts.Step, ts.Loss, len(ts.Epochs), ts.CheckpointStep)
	}

	// Both members die: their attempts expire, a new worker takes a task
	// and, finding no live state, the group resumes from the checkpoint and
	// says so: a restart.
	h.ops(&pb.TaskOp{JobId: "j", Task: 0, Attempt: 1, WorkerId: "w1", Op: &pb.TaskOp_Expire{Expire: &pb.ExpireOp{Reason: "dead"}}},
		&pb.TaskOp{JobId: "j", Task: 1, Attempt: 1, WorkerId: "w2", Op: &pb.TaskOp_Expire{Expire: &pb.ExpireOp{Reason: "dead"}}})
	h.ops(leaseOp("j", 0, "w3", false))
	if res := h.generation("j", 2, &pb.GroupMember{WorkerId: "w3", Task: 0, Attempt: 2}); res.err != nil {
		t.Fatal(res.err)
	}
	if ts := h.job("j").Train; ts.Restarts != 0 {
		t.Fatalf("restarts %d before the group reported a resume", ts.Restarts)
	}
	resumed := func(gen uint64) {
		h.apply(&pb.Command{Op: &pb.Command_TrainProgress{TrainProgress: &pb.TrainProgress{JobId: "j", Generation: gen, Step: 40, ResumedFromStep: 40}}})
	}
	resumed(2)
	resumed(2) // a retried report counts once
	if ts := h.job("j").Train; ts.Restarts != 1 || !ts.History[1].Restart {
		t.Fatalf("restarts %d history %v", ts.Restarts, ts.History)
	}
	// A second whole-group loss exceeds max_restarts 1: the job fails.
	h.ops(&pb.TaskOp{JobId: "j", Task: 0, Attempt: 2, WorkerId: "w3", Op: &pb.TaskOp_Expire{Expire: &pb.ExpireOp{Reason: "dead"}}})
	h.ops(leaseOp("j", 1, "w1", false))
	h.generation("j", 3, &pb.GroupMember{WorkerId: "w1", Task: 1, Attempt: 2})
	resumed(3)
	if j := h.job("j"); j.State != pb.JobState_JOB_STATE_FAILED {
		t.Fatalf("after a second restart with max_restarts 1 the job is %s", j.State)
	}

	// A job that finishes: rank 0's result registers the model.
	h.submitTrain("k", 2, 3)
	h.ops(leaseOp("k", 0, "w2", false), leaseOp("k", 1, "w3", false))
	h.generation("k", 1, &pb.GroupMember{WorkerId: "w2", Task: 0, Attempt: 1}, &pb.GroupMember{WorkerId: "w3", Task: 1, Attempt: 1})
	r = h.ops(&pb.TaskOp{JobId: "k", Task: 1, Attempt: 1, WorkerId: "w3", Op: &pb.TaskOp_Succeed{Succeed: &pb.SucceedOp{Result: &pb.TaskResult{}}}})
	if r[0].Ok {
		t.Fatal("a training success without the trained model was accepted")
	}
	r = h.ops(&pb.TaskOp{JobId: "k", Task: 0, Attempt: 1, WorkerId: "w2", Op: &pb.TaskOp_Succeed{Succeed: &pb.SucceedOp{Result: &pb.TaskResult{
		Train: &pb.TrainResult{ArtifactUri: "file:///m/churn/job-k/model", Metrics: map[string]float64{"logloss": 0.3}, Steps: 99}}}}})
	if !r[0].Ok {
		t.Fatalf("final report rejected: %v", r[0].Error)
	}
	j := h.job("k")
	if j.State != pb.JobState_JOB_STATE_SUCCEEDED || j.Train.Registered.GetVersion() != 1 || !j.Train.Promoted || j.ResultUri != "file:///m/churn/job-k/model" {
		t.Fatalf("finished job: %s registered %v promoted %v", j.State, j.Train.Registered, j.Train.Promoted)
	}
	if other := h.store.Snapshot().Task("k", 1); other.State != pb.TaskState_TASK_STATE_CANCELLED {
		t.Fatalf("the other member's task is %s, want cancelled (its attempt is aborted)", other.State)
	}
}
