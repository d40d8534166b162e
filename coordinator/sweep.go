package coordinator

import (
	"context"
	"time"
)

// sweepWindow bounds the ended jobs a leader sweeps: jobs that ended
// longer ago were swept by an earlier leader (each sweeps every job once
// per term), so a failover does not walk a week of history in storage.
const sweepWindow = 24 * time.Hour

// sweepLoop removes, through each job's kind, what attempts left in
// storage after their job ended: a zombie attempt (a paused or cut-off
// worker) may still write for up to a lease TTL after the coordinator gave
// its task away, and a writer killed mid-object leaves a temp file or an
// unfinished multipart upload. A job is swept once per term, two lease
// TTLs after it ended, when the attempts of every live worker have fenced
// themselves (a paused process may write later still). The sweep is
// idempotent, so a new leader simply sweeps again.
func (s *Server) sweepLoop(ctx context.Context) {
	if s.cfg.SweepInterval <= 0 {
		return
	}
	swept := map[string]bool{}
	every(ctx, s.cfg.SweepInterval, func() bool {
		now := time.Now()
		settled := now.Add(-2 * s.cfg.LeaseTTL).UnixMilli()
		oldest := now.Add(-sweepWindow).UnixMilli()
		for _, j := range s.store.Snapshot().Jobs() {
			if swept[j.Id] || !terminal(j.State) || j.EndUnixMs > settled || j.EndUnixMs < oldest {
				continue
			}
			if j.OutputDir == "" {
				continue
			}
			if err := kindOf(j.Spec).sweep(ctx, s, j); err != nil {
				if ctx.Err() != nil {
					return false
				}
				s.log.Warn("sweep: storage left by the job's attempts", "job", j.Id, "err", err)
				continue // try again next interval
			}
			swept[j.Id] = true
		}
		return ctx.Err() == nil
	})
}
