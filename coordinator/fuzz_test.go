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
	}
	for _, c := range seed {
		b, _ := proto.Marshal(c)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewStore()
		// A little state first, so ops have something to act on.
		for i, c := range seed[:3] {
			s.apply(uint64(i+1), c)
		}
		for i, job := range []string{"j1", "j2"} {
			registerAt(s, uint64(4+i), 1, &pb.ModelVersion{Name: "churn", JobId: job, Metrics: map[string]float64{"logloss": 0.5}}, nil)
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
