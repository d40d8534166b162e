package coordinator

import (
	"context"
	"errors"
	"fmt"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// jobKind is everything the coordinator does differently for one job kind
// (docs/architecture.md §5). Each kind lives in one file,
// kind_<name>.go; adding a kind means that file, a line in kindOf and its
// spec rules in package jobspec. Everything else (the broker, the FSM's
// task transitions, finalizing, the APIs) asks the kind.
type jobKind interface {
	// plan fills the SubmitJob command of a normalised spec: tasks, their
	// row counts and memory estimates, the output folder. It runs on the
	// leader before the command is proposed and may read storage; the FSM
	// never does I/O.
	plan(ctx context.Context, s *Server, spec *pb.JobSpec, cmd *pb.SubmitJob) error
	// taskName is how errors and events name task idx ("shard 3").
	taskName(idx int32) string
	// grouped kinds run their tasks as members of one group: a worker
	// holds at most one member, members are never speculated, and the job
	// ends when its rank 0 succeeds, not when every task has.
	grouped() bool
	// resultError says why a success report's result is unacceptable, or
	// "" when it is fine; it runs before anything changes.
	resultError(res *pb.TaskResult) string
	// succeeded is the FSM's step after a task of j succeeded with res
	// (deterministic: no clock, no I/O).
	succeeded(a *applier, j *pb.Job, res *pb.TaskResult)
	// publish commits the output of a job whose tasks all succeeded (the
	// leader's finalize loop runs it, idempotently, again after a
	// failover) and returns the result URI and a JSON summary.
	publish(ctx context.Context, s *Server, j *pb.Job, tasks []*pb.Task) (uri string, summary []byte, err error)
	// sweep removes what the attempts of an ended job left in storage
	// outside its committed output: late writes of zombie attempts after
	// a commit, the output of the attempts of a job that failed or was
	// cancelled. The
	// leader's sweep loop runs it; it must be idempotent.
	sweep(ctx context.Context, s *Server, j *pb.Job) error
	// publishes reports whether the kind has output to publish: when it
	// has not, a job whose tasks all succeeded ends at once.
	publishes() bool
}

// kindOf returns the kind of a spec. A spec that names no kind this
// binary knows (a snapshot or log entry written by a newer version, or
// before specs were validated) gets unknownKind, so the FSM never calls a
// method on nil: submit refuses such specs before they reach the log.
func kindOf(spec *pb.JobSpec) jobKind {
	switch spec.GetKind().(type) {
	case *pb.JobSpec_Score:
		return scoreKind{}
	case *pb.JobSpec_Shard:
		return shardKind{}
	case *pb.JobSpec_Train:
		return trainKind{}
	case *pb.JobSpec_Noop:
		return noopKind{}
	case *pb.JobSpec_Profile:
		return profileKind{}
	}
	return unknownKind{}
}

// taskName names task idx of j in errors and events.
func taskName(j *pb.Job, idx int32) string { return kindOf(j.GetSpec()).taskName(idx) }

// isGrouped reports whether j's tasks are members of one group.
func isGrouped(j *pb.Job) bool { return kindOf(j.GetSpec()).grouped() }

// independentTasks is embedded by the kinds whose tasks are independent
// of each other: any worker may run any of them (a backup attempt
// included), any success is acceptable, and the job moves on once every
// task has succeeded.
type independentTasks struct{}

func (independentTasks) grouped() bool { return false }

func (independentTasks) resultError(*pb.TaskResult) string { return "" }

func (independentTasks) succeeded(a *applier, j *pb.Job, _ *pb.TaskResult) {
	if j.TasksSucceeded == j.TasksTotal && j.State == pb.JobState_JOB_STATE_RUNNING {
		a.allTasksDone(j)
	}
}

// unknownKind stands for a spec whose kind this binary does not know. Its
// jobs cannot be planned; one already in the state runs its tasks as
// independent ones (a worker that cannot run them fails them) and ends
// without publishing.
type unknownKind struct{ independentTasks }

func (unknownKind) plan(context.Context, *Server, *pb.JobSpec, *pb.SubmitJob) error {
	return fmt.Errorf("%w: the spec names no job kind this coordinator knows", errInvalid)
}

func (unknownKind) taskName(idx int32) string { return fmt.Sprintf("task %d", idx) }

func (unknownKind) publishes() bool { return false }

func (unknownKind) publish(context.Context, *Server, *pb.Job, []*pb.Task) (string, []byte, error) {
	return "", nil, nil
}

func (unknownKind) sweep(context.Context, *Server, *pb.Job) error { return nil }

// openInputDataset opens the dataset a job reads, with the errors a user
// can act on; field names it ("input", "train: dataset").
func openInputDataset(ctx context.Context, s *Server, field, uri string) (*shard.Dataset, error) {
	ds, err := shard.OpenDataset(ctx, s.cfg.Storage, uri)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s %s holds no dataset manifest (ingest it with `nightshift shard` first)", errInvalid, field, uri)
		}
		return nil, fmt.Errorf("%w: %s %s: %v", errInvalid, field, uri, err)
	}
	return ds, nil
}
