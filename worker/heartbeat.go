package worker

import (
	"context"
	"time"

	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// heartbeatLoop tells the coordinator every heartbeat interval which
// attempts run here, which keeps their leases alive; the answer aborts
// attempts, drains or undrains the worker, or asks it to register again.
// It also performs re-registrations that other calls asked for.
func (a *Agent) heartbeatLoop() {
	log := a.base.With("subsystem", "worker-heartbeat")
	iv := a.heartbeatInterval()
	t := time.NewTicker(iv)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-a.life.Done():
			return
		case <-t.C:
		case <-a.kick:
		}
		if a.paused() {
			continue // the Pause hook: the coordinator hears nothing
		}
		if a.needsRegister() {
			if err := a.register(a.life); err != nil && a.life.Err() == nil {
				log.Error("registering again failed", "err", err)
			}
			continue
		}
		resp, err := a.heartbeat(iv)
		switch {
		case err != nil && unknownWorker(err):
			a.markUnknown()
		case err != nil:
			if a.life.Err() == nil {
				log.Warn("heartbeat failed", "err", err)
			}
			a.fence(log, lastOK)
		case resp.GetUnknownWorker():
			// A worker marked down lost its attempts: stop them too.
			log.Warn("coordinator does not know this worker; registering again", "aborting", len(resp.GetAbort()))
			a.abort(resp.GetAbort())
			a.markUnknown()
		default:
			lastOK = time.Now()
			a.abort(resp.GetAbort())
			a.setOpDrain(resp.GetDrain())
			a.applyKeyring(log, resp.GetKeyring())
		}
		if n := a.heartbeatInterval(); n != iv {
			iv = n
			t.Reset(iv)
		}
	}
}

// fence stops every running attempt once no heartbeat has reached a
// coordinator for a whole lease TTL: the coordinator has expired those
// leases and handed the tasks to other workers, so finishing them here
// would only waste the slots (their results would be rejected anyway).
func (a *Agent) fence(log interface{ Warn(string, ...any) }, lastOK time.Time) {
	a.mu.Lock()
	ttl := a.leaseTTL
	a.mu.Unlock()
	if ttl <= 0 || time.Since(lastOK) <= ttl {
		return
	}
	if running := a.runningRefs(); len(running) > 0 {
		log.Warn("no heartbeat reached a coordinator for a lease TTL: stopping this worker's attempts", "attempts", len(running), "ttl", ttl)
		a.abort(running)
	}
}

// heartbeat sends one heartbeat. Each try is short (a heartbeat is cheap
// and outside Raft) so a dead coordinator is left quickly for another;
// all tries together stay within the lease TTL.
func (a *Agent) heartbeat(iv time.Duration) (*nightshiftv1.HeartbeatResponse, error) {
	a.mu.Lock()
	overall := a.leaseTTL
	a.mu.Unlock()
	if overall <= 0 {
		overall = a.cfg.RPCTimeout
	}
	try := min(max(2*iv, 500*time.Millisecond), a.cfg.RPCTimeout)
	ctx, cancel := context.WithTimeout(a.life, overall)
	defer cancel()
	req := &nightshiftv1.HeartbeatRequest{WorkerId: a.cfg.ID, Running: a.runningRefs(), KeyringVersion: a.keyringVersion.Load()}
	var resp *nightshiftv1.HeartbeatResponse
	err := a.client.call(ctx, try, "heartbeat", func(ctx context.Context, c nightshiftv1.WorkerServiceClient) (err error) {
		resp, err = c.Heartbeat(ctx, req)
		return err
	})
	return resp, err
}

func (a *Agent) heartbeatInterval() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hbInterval <= 0 {
		return defaultHeartbeat
	}
	return a.hbInterval
}

// markUnknown stops leasing until the heartbeat loop registered again.
func (a *Agent) markUnknown() {
	a.mu.Lock()
	a.reregister = true
	a.notifyLocked()
	a.mu.Unlock()
	a.kickHeartbeat()
}

func (a *Agent) needsRegister() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reregister
}

// kickHeartbeat makes the heartbeat loop run now rather than at its next tick.
func (a *Agent) kickHeartbeat() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}
