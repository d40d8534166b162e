package coordinator

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// FuzzApplyCommand feeds arbitrary log entries to the FSM: decoding never
// panics, and whatever decodes applies without panicking.
func FuzzApplyCommand(f *testing.F) {
	seed := []*pb.Command{
		{Version: 1, RequestId: "r", Op: &pb.Command_SubmitJob{SubmitJob: &pb.SubmitJob{Job: &pb.Job{Id: "j", Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 2}}}}, TaskCount: 2}}},
		{Version: 1, Op: &pb.Command_RegisterWorker{RegisterWorker: &pb.RegisterWorker{Worker: &pb.Worker{Id: "w", Pool: "default", Slots: 1}}}},
		{Version: 1, Op: &pb.Command_TaskBatch{TaskBatch: &pb.TaskBatch{Ops: []*pb.TaskOp{leaseOp("j", 0, "w", false), succeedOp("j", 0, 1, "w", "o"), failOp("j", 1, 1, "w", true)}}}},
		{Version: 1, Op: &pb.Command_CancelJob{CancelJob: &pb.CancelJob{JobId: "j"}}},
		{Version: 1, Op: &pb.Command_FinishJob{FinishJob: &pb.FinishJob{JobId: "j", Succeeded: true}}},
		{Version: 1, Op: &pb.Command_SetWorkerState{SetWorkerState: &pb.SetWorkerState{WorkerId: "w", State: pb.WorkerState_WORKER_STATE_DOWN}}},
		{Version: 1, RequestId: "m", Op: &pb.Command_SetModelAlias{SetModelAlias: &pb.SetModelAlias{Name: "churn", Alias: "production", Version: 2}}},
		{Version: 1, Op: &pb.Command_SetModelAlias{SetModelAlias: &pb.SetModelAlias{Name: "churn", Rollback: true, Reason: "r"}}},
		{Version: 1, Op: &pb.Command_SubmitJob{SubmitJob: &pb.SubmitJob{Job: &pb.Job{Id: "t", Train: &pb.TrainStatus{},
			Spec: &pb.JobSpec{Kind: &pb.JobSpec_Train{Train: &pb.TrainSpec{ModelName: "churn", MinMembers: 1, MaxMembers: 2, MaxRestarts: 1}}}}, TaskCount: 2}}},
		{Version: 1, Op: &pb.Command_TaskBatch{TaskBatch: &pb.TaskBatch{Ops: []*pb.TaskOp{leaseOp("t", 0, "w", false),
			{JobId: "t", Task: 0, Attempt: 1, WorkerId: "w", Op: &pb.TaskOp_Succeed{Succeed: &pb.SucceedOp{Result: &pb.TaskResult{Train: &pb.TrainResult{ArtifactUri: "file:///m", Metrics: map[string]float64{"logloss": 0.4}}}}}}}}}},
		{Version: 1, Op: &pb.Command_TrainGeneration{TrainGeneration: &pb.TrainGeneration{JobId: "t", Generation: 1, Members: []*pb.GroupMember{{WorkerId: "w", Task: 0, Attempt: 1}}}}},
		{Version: 1, Op: &pb.Command_TrainProgress{TrainProgress: &pb.TrainProgress{JobId: "t", Generation: 1, Step: 5, ResumedFromStep: 3, CheckpointUri: "c", CheckpointStep: 3,
			EpochMetrics: &pb.EpochMetrics{Epoch: 0, Holdout: map[string]float64{"auc": 0.7}}}}},
	}
	for _, c := range seed {
		b, _ := proto.Marshal(c)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewStore()
		// A little state first, so ops have something to act on.
		for i, c := range append(seed[:3:3], seed[8]) {
			s.apply(uint64(i+1), c)
		}
		for i, job := range []string{"j1", "j2"} {
			registerAt(s, uint64(5+i), 1, &pb.ModelVersion{Name: "churn", JobId: job, Metrics: map[string]float64{"logloss": 0.5}}, nil)
		}
		cmd, err := DecodeCommand(data)
		if err != nil {
			return
		}
		if n := len(cmd.GetSubmitJob().GetTaskRows()) + int(cmd.GetSubmitJob().GetTaskCount()); n > 10000 {
			return // a giant job is valid, just slow to fuzz
		}
		s.apply(10, cmd)
		// State stays readable.
		v := s.Snapshot()
		_ = v.Jobs()
		_ = v.Workers()
		_ = v.Models()
	})
}
