package coordinator

import (
	"context"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// gcBatch caps the jobs one ForgetJobs entry drops.
const gcBatch = 256

// gcLoop forgets jobs that finished longer ago than JobGCAge, so the
// replicated state (and every snapshot) does not grow with history. A
// forgotten job's idempotency key is free again: resubmitting it after
// the GC age runs a new job.
func (s *Server) gcLoop(ctx context.Context) {
	if s.cfg.JobGCAge <= 0 || s.cfg.JobGCInterval <= 0 {
		return
	}
	every(ctx, s.cfg.JobGCInterval, func() bool {
		s.collectJobs(ctx, time.Now())
		return true
	})
}

// collectJobs proposes the jobs due for GC at now.
func (s *Server) collectJobs(ctx context.Context, now time.Time) {
	cutoff := now.Add(-s.cfg.JobGCAge).UnixMilli()
	var ids []string
	for _, j := range s.store.Snapshot().Jobs() {
		if terminal(j.State) && j.EndUnixMs < cutoff {
			ids = append(ids, j.Id)
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), gcBatch)
		if _, err := s.apply(ctx, &pb.Command{Op: &pb.Command_ForgetJobs{ForgetJobs: &pb.ForgetJobs{JobIds: ids[:n]}}}); err != nil {
			s.log.Warn("job GC", "err", err)
			return
		}
		s.log.Info("job GC: forgot finished jobs", "jobs", n, "older_than", s.cfg.JobGCAge)
		ids = ids[n:]
	}
}
