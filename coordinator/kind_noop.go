package coordinator

import (
	"context"
	"fmt"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// noopKind runs tasks that sleep and may fail on purpose: it measures the
// scheduler and tests it. It has no output.
type noopKind struct{ independentTasks }

func (noopKind) plan(_ context.Context, _ *Server, spec *pb.JobSpec, cmd *pb.SubmitJob) error {
	cmd.TaskCount = spec.GetNoop().GetTasks()
	return nil
}

func (noopKind) taskName(idx int32) string { return fmt.Sprintf("task %d", idx) }

func (noopKind) publishes() bool { return false }

func (noopKind) sweep(context.Context, *Server, *pb.Job) error { return nil }

func (noopKind) publish(context.Context, *Server, *pb.Job, []*pb.Task) (string, []byte, error) {
	return "", nil, nil
}
