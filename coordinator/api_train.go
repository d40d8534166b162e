package coordinator

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// maxGroupWait caps a TrainGroup long poll.
const maxGroupWait = 30 * time.Second

// TrainGroup answers a training member with its job's group generation
// once it is past after_generation, the job ended, or wait_ms passed. Any
// coordinator answers from its own state, a follower's included: members
// keep learning about generations while the leader changes, and a stale
// answer is only late, never wrong (generations only move forward).
func (a *workerAPI) TrainGroup(ctx context.Context, req *pb.TrainGroupRequest) (*pb.TrainGroupResponse, error) {
	wait := time.Duration(min(max(req.WaitMs, 0), maxGroupWait.Milliseconds())) * time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		view := a.s.store.Snapshot()
		j, watch := view.JobWatch(req.JobId)
		if j == nil {
			return nil, status.Errorf(codes.NotFound, "job %s not found", req.JobId)
		}
		if j.Spec.GetTrain() == nil {
			return nil, status.Errorf(codes.InvalidArgument, "job %s is not a training job", req.JobId)
		}
		ts := j.GetTrain()
		resp := &pb.TrainGroupResponse{Generation: ts.GetGeneration(), Members: ts.GetMembers(),
			CheckpointUri: ts.GetCheckpointUri(), CheckpointStep: ts.GetCheckpointStep(), JobState: j.State}
		if resp.Generation > req.AfterGeneration || j.State != pb.JobState_JOB_STATE_RUNNING {
			return resp, nil
		}
		select {
		case <-watch:
		case <-view.Abandoned():
		case <-timer.C:
			return resp, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-a.s.stop:
			return nil, status.Error(codes.Unavailable, "coordinator stopping")
		}
	}
}

// TrainReport commits a group's progress: steps, an epoch's metrics, a
// checkpoint written.
func (a *workerAPI) TrainReport(ctx context.Context, req *pb.TrainReportRequest) (*pb.TrainReportResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewWorkerServiceClient(conn).TrainReport(fctx, req)
	}
	if req.Progress == nil || req.Progress.JobId == "" {
		return nil, status.Error(codes.InvalidArgument, "train report without progress or job id")
	}
	if _, err := a.s.apply(ctx, &pb.Command{Op: &pb.Command_TrainProgress{TrainProgress: req.Progress}}); err != nil {
		return nil, toStatus(err)
	}
	return &pb.TrainReportResponse{}, nil
}
