package worker

import (
	"context"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Drain stops leasing new tasks, as SIGTERM does, but keeps the worker
// running: running tasks finish and report, heartbeats continue, and
// gossip advertises the worker as draining. There is no local undrain;
// an operator's undrain only lifts the coordinator's drain.
func (a *Agent) Drain() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.localDrain {
		a.localDrain = true
		a.notifyLocked()
		a.log.Info("draining: leasing stops")
	}
}

// drainToStop is Run's graceful end: lease nothing more, give running
// tasks DrainGrace to finish, then stop them and hand them back as
// released, and deliver every report (within FlushTimeout).
func (a *Agent) drainToStop() {
	a.mu.Lock()
	a.shutdown = true
	n := len(a.running)
	a.notifyLocked()
	a.mu.Unlock()
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	a.log.Info("stopping: draining", "running", n, "grace", a.cfg.DrainGrace)

	grace := time.NewTimer(a.cfg.DrainGrace)
	defer grace.Stop()
	if !a.waitIdle(grace.C) {
		a.log.Warn("drain grace expired; handing running attempts back", "running", a.Running())
		a.releaseRunning()
	}
	// The lease loop stops at its next turn, after an in-flight long poll
	// returned (or when the grace ended); tasks it got are released.
	a.workCancel()
	<-a.leaseDone
	a.tasks.Wait()
	a.flushAll()
}

// waitIdle waits until no attempt runs and no lease call is in flight (one
// could still return work to hand back); false when expired fired first.
func (a *Agent) waitIdle(expired <-chan time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.running) > 0 || a.lease == leaseCalling {
		if a.dead {
			return true
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-expired:
			a.mu.Lock()
			return len(a.running) == 0 && a.lease != leaseCalling
		case <-a.killed:
		}
		a.mu.Lock()
	}
	return true
}

// Kill emulates a crash, for tests: everything stops at once, running
// tasks are cancelled, nothing more is reported, and the gossip member
// stops without leaving (others find it dead). Run then returns. Kill also
// releases the listeners of an Agent that never ran.
func (a *Agent) Kill() {
	a.killOnce.Do(func() {
		a.mu.Lock()
		a.dead = true
		a.notifyLocked()
		a.mu.Unlock()
		close(a.killed)
		a.log.Info("killed")
		a.lifeCancel()
		a.cleanupCancel()
		a.closeResources(false)
		a.client.close()
	})
}

// Pause is a test hook that turns the worker into a zombie: heartbeats
// stop (so the coordinator lets its leases expire) and every running task,
// and every task leased meanwhile, is held just before it writes its
// output and again before it reports, until Resume. Leasing goes on up to
// the free slots. Held tasks still end when aborted or killed.
func (a *Agent) Pause() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.resume == nil {
		a.resume = make(chan struct{})
		a.notifyLocked()
		a.log.Info("paused")
	}
}

// Resume ends a Pause.
func (a *Agent) Resume() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.resume != nil {
		close(a.resume)
		a.resume = nil
		a.notifyLocked()
		a.log.Info("resumed")
	}
}

func (a *Agent) paused() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.resume != nil
}

// hold blocks a task while the agent is paused; it returns ctx's error
// when the task is cancelled meanwhile.
func (a *Agent) hold(ctx context.Context) error {
	a.mu.Lock()
	resume := a.resume
	if resume == nil {
		a.mu.Unlock()
		return nil
	}
	a.held++
	a.notifyLocked()
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.held--
		a.notifyLocked()
		a.mu.Unlock()
	}()
	select {
	case <-resume:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
