package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// jobAPI serves JobService.
type jobAPI struct {
	pb.UnimplementedJobServiceServer
	s *Server
}

func (a *jobAPI) SubmitJob(ctx context.Context, req *pb.SubmitJobRequest) (*pb.SubmitJobResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewJobServiceClient(conn).SubmitJob(fctx, req)
	}
	job, created, err := a.s.Submit(ctx, req.RequestId, req.Spec)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SubmitJobResponse{Job: job, Created: created}, nil
}

func (a *jobAPI) GetJob(ctx context.Context, req *pb.GetJobRequest) (*pb.GetJobResponse, error) {
	if !req.Stale {
		if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
			return nil, toStatus(err)
		} else if conn != nil {
			return pb.NewJobServiceClient(conn).GetJob(fctx, req)
		}
	}
	view := a.s.store.Snapshot()
	j := view.Job(req.Id)
	if j == nil {
		return nil, status.Errorf(codes.NotFound, "job %s not found", req.Id)
	}
	resp := &pb.GetJobResponse{Job: j}
	if req.Tasks {
		resp.Tasks = view.Tasks(req.Id)
	}
	return resp, nil
}

func (a *jobAPI) ListJobs(ctx context.Context, req *pb.ListJobsRequest) (*pb.ListJobsResponse, error) {
	if !req.Stale {
		if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
			return nil, toStatus(err)
		} else if conn != nil {
			return pb.NewJobServiceClient(conn).ListJobs(fctx, req)
		}
	}
	resp := &pb.ListJobsResponse{}
	for _, j := range a.s.store.Snapshot().Jobs() {
		if len(req.States) > 0 && !slices.Contains(req.States, j.State) {
			continue
		}
		resp.Jobs = append(resp.Jobs, summarize(j))
		if req.Limit > 0 && len(resp.Jobs) >= int(req.Limit) {
			break
		}
	}
	return resp, nil
}

// summarize drops a job's event history for listings.
func summarize(j *pb.Job) *pb.Job {
	if len(j.Events) == 0 {
		return j
	}
	c := proto.Clone(j).(*pb.Job)
	c.Events = nil
	return c
}

func (a *jobAPI) CancelJob(ctx context.Context, req *pb.CancelJobRequest) (*pb.CancelJobResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewJobServiceClient(conn).CancelJob(fctx, req)
	}
	res, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId, Op: &pb.Command_CancelJob{CancelJob: &pb.CancelJob{JobId: req.Id, Reason: signedReason(ctx, req.Reason)}}})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CancelJobResponse{Job: res.job}, nil
}

// watchInterval caps how often WatchJob sends: a 10,000-task job changes
// far more often than anyone can read.
const watchInterval = 100 * time.Millisecond

func (a *jobAPI) WatchJob(req *pb.WatchJobRequest, stream pb.JobService_WatchJobServer) error {
	ctx := stream.Context()
	if !req.Stale {
		if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
			return toStatus(err)
		} else if conn != nil {
			return forwardWatch(fctx, pb.NewJobServiceClient(conn), req, stream)
		}
	}
	for {
		view := a.s.store.Snapshot()
		j, changed := view.JobWatch(req.Id)
		if j == nil {
			return status.Errorf(codes.NotFound, "job %s not found", req.Id)
		}
		if err := stream.Send(&pb.WatchJobResponse{Job: j}); err != nil {
			return err
		}
		if terminal(j.State) {
			return nil
		}
		select {
		case <-changed:
		case <-view.Abandoned():
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-a.s.stop:
			return toStatus(errShuttingDown)
		}
		select {
		case <-time.After(watchInterval):
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// forwardWatch relays the leader's watch stream.
func forwardWatch(ctx context.Context, c pb.JobServiceClient, req *pb.WatchJobRequest, out pb.JobService_WatchJobServer) error {
	in, err := c.WatchJob(ctx, req)
	if err != nil {
		return err
	}
	for {
		msg, err := in.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := out.Send(msg); err != nil {
			return fmt.Errorf("relay watch: %w", err)
		}
	}
}
