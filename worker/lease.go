package worker

import (
	"context"
	"time"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// leasePhase is where the lease loop is; the flush loop reads it to decide
// whether queued reports can ride on the next Lease call.
type leasePhase int

const (
	leaseOff     leasePhase = iota // the loop is not running
	leaseIdle                      // waiting until it may lease (slots, memory, drain, pause)
	leaseSoon                      // about to call, gathering tasks that are just ending
	leaseCalling                   // a Lease call is in flight
	leaseBackoff                   // waiting after a failed call
)

// coalesceWindow is the longest the lease loop waits, once a slot came
// free, for other tasks to end so that one call carries all their reports
// and asks for as many tasks. It stays far below the ~10 ms in which a
// report must reach the coordinator.
const coalesceWindow = 3 * time.Millisecond

// canLeaseLocked reports whether the worker may ask for more work now.
func (a *Agent) canLeaseLocked() bool {
	return a.registered && !a.reregister && !a.localDrain && !a.opDrain && !a.shutdown && !a.dead &&
		len(a.running) < a.cfg.Slots &&
		(a.cfg.MemoryBytes == 0 || a.usedBytes < a.cfg.MemoryBytes)
}

// leaseWillCarryLocked reports whether the lease loop is about to call
// Lease, and so will carry the queued reports.
func (a *Agent) leaseWillCarryLocked() bool {
	return (a.lease == leaseIdle || a.lease == leaseSoon) && a.canLeaseLocked()
}

// leaseLoop asks for work whenever a slot is free and starts what it gets.
// Only one Lease call is in flight at a time; it long-polls when no work
// is ready, so an idle worker costs the coordinator one call per LeaseWait.
func (a *Agent) leaseLoop() {
	log := a.base.With("subsystem", "worker-lease")
	bo := rpc.Backoff{Min: 50 * time.Millisecond, Max: 2 * time.Second}
	for {
		req, batch, ok := a.nextLease()
		if !ok {
			return
		}
		var resp *nightshiftv1.LeaseResponse
		err := a.client.call(a.work, a.cfg.LeaseWait+a.cfg.RPCTimeout, "lease", func(ctx context.Context, c nightshiftv1.WorkerServiceClient) (err error) {
			resp, err = c.Lease(ctx, req)
			return err
		})
		if err != nil {
			a.requeue(batch)
			a.leaseFailed()
			if unknownWorker(err) {
				a.markUnknown()
			}
			if a.work.Err() != nil {
				return
			}
			log.Warn("lease failed; retrying", "err", err)
			rpc.Sleep(a.work, bo.Next())
			continue
		}
		bo.Reset()
		a.settle(batch, resp.GetAccepted())
		a.setOpDrain(resp.GetDrain())
		// Idle, not calling: reports of tasks that end from now on can wait
		// for the next call, which follows as soon as a slot is free.
		a.mu.Lock()
		a.setLeaseLocked(leaseIdle)
		a.mu.Unlock()
		for _, as := range resp.GetAssignments() {
			a.start(as)
		}
	}
}

// nextLease waits until the worker may lease, then builds the request,
// taking the queued reports with it. It returns false when leasing is
// over for good (shutdown or kill).
func (a *Agent) nextLease() (*nightshiftv1.LeaseRequest, []*pendingReport, bool) {
	var window *time.Timer
	var windowC <-chan time.Time
	defer func() {
		if window != nil {
			window.Stop()
		}
	}()
	fired := false
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if a.shutdown || a.dead || a.work.Err() != nil {
			a.lease = leaseOff
			a.notifyLocked()
			return nil, nil, false
		}
		switch {
		case !a.canLeaseLocked():
			a.setLeaseLocked(leaseIdle)
			windowC = nil
		case a.lease == leaseIdle && len(a.running) > 0 && windowC == nil && !fired:
			// A slot just came free while others run: tasks of one batch
			// tend to end together, so gather them into one call.
			window = time.NewTimer(coalesceWindow)
			windowC = window.C
			a.setLeaseLocked(leaseSoon)
		case windowC == nil || fired || len(a.running) == 0:
			return a.leaseRequestLocked()
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-windowC:
			fired = true
		case <-a.work.Done():
		}
		a.mu.Lock()
	}
}

func (a *Agent) setLeaseLocked(p leasePhase) {
	if a.lease != p {
		a.lease = p
		a.notifyLocked()
	}
}

// leaseRequestLocked builds a Lease request for the free slots and memory.
func (a *Agent) leaseRequestLocked() (*nightshiftv1.LeaseRequest, []*pendingReport, bool) {
	var freeBytes int64
	if a.cfg.MemoryBytes > 0 {
		freeBytes = a.cfg.MemoryBytes - a.usedBytes
	}
	batch := a.takeReportsLocked()
	a.setLeaseLocked(leaseCalling)
	return &nightshiftv1.LeaseRequest{
		WorkerId:  a.cfg.ID,
		MaxTasks:  int32(a.cfg.Slots - len(a.running)),
		FreeBytes: freeBytes,
		Reports:   reportsOf(batch),
		WaitMs:    a.cfg.LeaseWait.Milliseconds(),
	}, batch, true
}

// leaseFailed records a failed Lease call.
func (a *Agent) leaseFailed() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setLeaseLocked(leaseBackoff)
}

// setOpDrain records the coordinator's drain flag (an operator's
// `nightshift workers drain`): while it is set the worker leases nothing.
func (a *Agent) setOpDrain(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.opDrain == on {
		return
	}
	a.opDrain = on
	a.notifyLocked()
	if on {
		a.log.Info("coordinator drains this worker: leasing stops")
	} else {
		a.log.Info("coordinator undrained this worker: leasing resumes")
	}
}
