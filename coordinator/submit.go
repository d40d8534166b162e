package coordinator

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// newJobID returns a random, URL- and key-safe job ID. IDs are random, not
// sequential, so two clusters writing into one bucket never collide.
func newJobID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	var b [10]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[b[i]%32]
	}
	return string(b[:])
}

// Submit runs a job from a spec, as JobService.SubmitJob does, on this
// node, which must lead: it normalises and validates the spec (package
// jobspec), plans it, and commits the job. A spec whose idempotency key
// names an existing job returns that job with created false. requestID
// makes a retried call apply once ("" for none). It is how code inside
// the coordinator (pipelines) submits jobs, without the CLI.
func (s *Server) Submit(ctx context.Context, requestID string, spec *pb.JobSpec) (job *pb.Job, created bool, err error) {
	if spec == nil {
		return nil, false, fmt.Errorf("%w: submit: no job spec", errInvalid)
	}
	// An existing job with the key answers without touching storage.
	if key := spec.IdempotencyKey; key != "" {
		if j := s.store.Snapshot().JobByKey(key); j != nil {
			return j, false, nil
		}
	}
	cmd, err := s.planJob(ctx, spec)
	if err != nil {
		return nil, false, err
	}
	res, err := s.apply(ctx, &pb.Command{RequestId: requestID, Op: &pb.Command_SubmitJob{SubmitJob: cmd}})
	if err != nil {
		return nil, false, err
	}
	if res.created {
		s.log.Info("job submitted", "job", res.job.Id, "kind", jobspec.Kind(res.job.Spec), "tasks", res.job.TasksTotal, "pool", poolOf(res.job.Spec))
	}
	return res.job, res.created, nil
}

// planJob turns a submitted spec into the SubmitJob command: it puts the
// spec in its canonical form and validates it (jobspec.Normalize), then
// the job's kind reads what it must from storage (the dataset manifest,
// the model, the ingest plan) so the FSM never does I/O.
func (s *Server) planJob(ctx context.Context, spec *pb.JobSpec) (*pb.SubmitJob, error) {
	if who := callerName(ctx); who != "" {
		spec.Owner = who // a token names the caller; a client's own claim does not count
	}
	if err := jobspec.Normalize(spec); err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalid, err) // errors.As finds the jobspec.Errors
	}
	if spec.MaxAttempts == 0 {
		spec.MaxAttempts = s.cfg.MaxAttempts
	}
	k := kindOf(spec)
	cmd := &pb.SubmitJob{Job: &pb.Job{Id: newJobID(), Spec: spec}}
	if err := k.plan(ctx, s, spec, cmd); err != nil {
		return nil, err
	}
	return cmd, nil
}
