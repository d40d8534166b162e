package coordinator

import (
	"context"
	"errors"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
)

// finalizeAttempts bounds the tries of one leader at publishing a job.
const finalizeAttempts = 5

// finalizeLoop publishes the output of every FINALIZING job, one goroutine
// per job, and commits the outcome. Publishing is idempotent, so a new
// leader simply does it again.
func (s *Server) finalizeLoop(ctx context.Context) {
	every(ctx, 50*time.Millisecond, func() bool {
		ls := s.leading()
		if ls == nil {
			return false
		}
		for _, j := range s.store.Snapshot().ActiveJobs() {
			if j.State != pb.JobState_JOB_STATE_FINALIZING {
				continue
			}
			ls.mu.Lock()
			busy := ls.finalizing[j.Id]
			ls.finalizing[j.Id] = true
			ls.mu.Unlock()
			if !busy {
				go s.finalize(ctx, j)
			}
		}
		return true
	})
}

func (s *Server) finalize(ctx context.Context, j *pb.Job) {
	fin := &pb.FinishJob{JobId: j.Id}
	var err error
	for attempt := 1; attempt <= finalizeAttempts; attempt++ {
		fin.ResultUri, fin.SummaryJson, err = s.publish(ctx, j)
		if err == nil || ctx.Err() != nil || permanentPublishError(err) {
			break
		}
		s.log.Warn("publishing job output", "job", j.Id, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	if ctx.Err() != nil {
		return // leadership lost: the next leader publishes
	}
	fin.Succeeded = err == nil
	if err != nil {
		fin.Error = err.Error()
	}
	outcome := "succeeded"
	if !fin.Succeeded {
		outcome = "failed"
	}
	if _, err := s.apply(ctx, &pb.Command{Op: &pb.Command_FinishJob{FinishJob: fin}}); err != nil {
		s.log.Warn("commit job outcome", "job", j.Id, "err", err)
		ls := s.leading()
		if ls != nil {
			ls.mu.Lock()
			delete(ls.finalizing, j.Id) // try again next tick
			ls.mu.Unlock()
		}
		return
	}
	s.metrics.finalized.WithLabelValues(outcome).Inc()
}

// publish writes a job's final output and returns its URI and a summary.
func (s *Server) publish(ctx context.Context, j *pb.Job) (string, []byte, error) {
	k := kindOf(j.Spec)
	if !k.publishes() {
		return "", nil, nil
	}
	return k.publish(ctx, s, j, s.store.Snapshot().Tasks(j.Id))
}

// permanentPublishError reports whether publishing failed in a way another
// try cannot mend: the recorded results cannot make a commit, or the data
// broke a rule (an empty dataset, an ingest's bad-row limit). Storage
// errors are retried.
func permanentPublishError(err error) bool {
	return errors.Is(err, scoreout.ErrBadCommit) || errors.Is(err, shard.ErrEmpty) || errors.Is(err, shard.ErrTooManyBadRows)
}
