package worker

import (
	"context"
	"time"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/storage"
)

// maxReportBatch caps the reports of one call, keeping messages small.
const maxReportBatch = 1024

// pendingReport is a report not yet accepted or rejected by a coordinator.
type pendingReport struct {
	rep *nightshiftv1.TaskReport
	// written are the URIs of the objects only this attempt wrote, deleted
	// when the report is rejected as stale.
	written []string
}

// Reports reach the coordinator by one of two routes. When the lease loop
// is about to call Lease anyway, they ride on it (one round trip, one
// commit); otherwise — the lease loop is waiting inside a long poll,
// backing off, or not leasing at all (drain, no slot) — the flush loop
// sends them with Report at once. Whatever accumulates while a call is in
// flight goes in the next batch, so nothing waits on a timer.

// enqueueLocked queues a report for delivery.
func (a *Agent) enqueueLocked(p *pendingReport) {
	a.pending = append(a.pending, p)
	if a.unsettled == nil {
		a.unsettled = map[*pendingReport]struct{}{}
	}
	a.unsettled[p] = struct{}{}
	a.notifyLocked()
}

// takeReportsLocked removes up to maxReportBatch queued reports.
func (a *Agent) takeReportsLocked() []*pendingReport {
	n := min(len(a.pending), maxReportBatch)
	if n == 0 {
		return nil
	}
	batch := a.pending[:n:n]
	a.pending = append([]*pendingReport(nil), a.pending[n:]...)
	return batch
}

// requeue puts reports whose call failed back at the head of the queue:
// they are retried until a coordinator answers for them.
func (a *Agent) requeue(batch []*pendingReport) {
	if len(batch) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(batch, a.pending...)
	a.notifyLocked()
}

// flushLoop sends the reports the lease loop will not carry.
func (a *Agent) flushLoop() {
	log := a.base.With("subsystem", "worker-reports")
	bo := rpc.Backoff{Min: 50 * time.Millisecond, Max: 2 * time.Second}
	for {
		batch, ok := a.nextFlush()
		if !ok {
			return
		}
		req := &nightshiftv1.ReportRequest{WorkerId: a.cfg.ID, Reports: reportsOf(batch)}
		var resp *nightshiftv1.ReportResponse
		err := a.client.call(a.life, a.cfg.RPCTimeout, "report", func(ctx context.Context, c nightshiftv1.WorkerServiceClient) (err error) {
			resp, err = c.Report(ctx, req)
			return err
		})
		if err != nil {
			a.requeue(batch)
			a.setReporting(false)
			if unknownWorker(err) {
				a.markUnknown()
			}
			if a.life.Err() != nil {
				return
			}
			log.Warn("delivering reports failed; retrying", "reports", len(batch), "err", err)
			rpc.Sleep(a.life, bo.Next())
			continue
		}
		bo.Reset()
		a.settle(batch, resp.GetAccepted())
		a.setReporting(false)
	}
}

// nextFlush waits for reports the lease loop will not carry soon and takes
// them; false when the agent stops.
func (a *Agent) nextFlush() ([]*pendingReport, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if a.dead || a.life.Err() != nil {
			return nil, false
		}
		if len(a.pending) > 0 && !a.leaseWillCarryLocked() {
			a.reporting = true
			return a.takeReportsLocked(), true
		}
		ch := a.changed
		a.mu.Unlock()
		waitChange(a.life, ch)
		a.mu.Lock()
	}
}

func (a *Agent) setReporting(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reporting = on
	a.notifyLocked()
}

// settle applies a coordinator's verdicts on delivered reports. A rejected
// report is from a stale attempt (lost lease, aborted, beaten by a backup):
// its output must never be used, so the object it wrote is deleted.
func (a *Agent) settle(batch []*pendingReport, accepted []bool) {
	a.mu.Lock()
	for _, p := range batch {
		delete(a.unsettled, p)
	}
	a.mu.Unlock()
	if len(accepted) != len(batch) {
		a.log.Warn("coordinator answered for a different number of reports; treating the rest as accepted",
			"reports", len(batch), "answers", len(accepted))
	}
	for i, p := range batch {
		if i >= len(accepted) || accepted[i] {
			continue
		}
		ref := p.rep.GetAttempt()
		a.metrics.rejected.Inc()
		a.log.Info("coordinator rejected a stale attempt's report", "job", ref.GetJobId(), "task", ref.GetTask(),
			"attempt", ref.GetAttempt(), "objects", len(p.written))
		for _, uri := range p.written {
			a.deleteStale(uri)
		}
	}
}

// deleteStale deletes a rejected attempt's object in the background; best
// effort, as the object lies under _temporary and is never committed.
func (a *Agent) deleteStale(uri string) {
	a.mu.Lock()
	if a.dead {
		a.mu.Unlock()
		return
	}
	a.deletions.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.deletions.Done()
		ctx, cancel := context.WithTimeout(a.cleanup, time.Minute)
		defer cancel()
		b, key, err := storage.Open(ctx, uri, a.cfg.Storage)
		if err == nil {
			err = b.Delete(ctx, key)
		}
		if err != nil {
			a.log.Warn("deleting a stale attempt's output", "uri", uri, "err", err)
			return
		}
		a.log.Info("deleted a stale attempt's output", "uri", uri)
	}()
}

// waitDeletions lets running deletes finish within FlushTimeout, then
// cancels them.
func (a *Agent) waitDeletions() {
	done := make(chan struct{})
	go func() {
		a.deletions.Wait()
		close(done)
	}()
	t := time.NewTimer(a.cfg.FlushTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-a.killed:
	}
	a.cleanupCancel()
	<-done
}

// flushAll waits until every queued report was delivered, at most
// FlushTimeout; what is left then is lost with the worker (the coordinator
// requeues those attempts when their leases expire).
func (a *Agent) flushAll() {
	t := time.NewTimer(a.cfg.FlushTimeout)
	defer t.Stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	for (len(a.pending) > 0 || a.reporting) && !a.dead {
		ch := a.changed
		a.mu.Unlock()
		expired := false
		select {
		case <-ch:
		case <-t.C:
			expired = true
		case <-a.killed:
		}
		a.mu.Lock()
		if expired && (len(a.pending) > 0 || a.reporting) {
			a.log.Warn("stopping with reports undelivered", "reports", len(a.pending))
			return
		}
	}
}

func reportsOf(batch []*pendingReport) []*nightshiftv1.TaskReport {
	out := make([]*nightshiftv1.TaskReport, len(batch))
	for i, p := range batch {
		out[i] = p.rep
	}
	return out
}
