package worker

import (
	"context"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Drain stops leasing new tasks, as SIGTERM does, but keeps the worker
// running: running tasks finish and report, heartbeats continue, and
// gossip advertises the worker as draining. There is no local undrain;
// an operator's undrain only lifts the coordinator's drain. POST /drain
// (http.go; `nightshift worker drain`, a Kubernetes preStop hook) calls it.
//
// A running attempt of any kind keeps running until it ends: a training
// member included, which goes on until its group completes or the worker
// stops. When the worker then stops (SIGTERM), drainToStop gives it
// DrainGrace and hands it back as released; the group reforms at its
// next generation without it (docs/architecture.md §8).
func (a *Agent) Drain() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.localDrain {
		a.localDrain = true
		a.drainStart = time.Now()
		a.notifyLocked()
		a.log.Info("draining: leasing stops")
	}
}

// drainToStop is Run's graceful end: lease nothing more, give running
// tasks DrainGrace to finish, then stop them and hand them back as
// released, and deliver every report (within FlushTimeout). The grace
// counts from the first drain: after a preStop hook's `worker drain`
// spent it, SIGTERM hands back what still runs at once, so a pod's
// termination grace need only exceed DrainGrace plus the flush.
func (a *Agent) drainToStop() {
	a.mu.Lock()
	a.shutdown = true
	n := len(a.running)
	deadline := time.Now().Add(a.cfg.DrainGrace)
	if a.localDrain && a.drainStart.Add(a.cfg.DrainGrace).Before(deadline) {
		deadline = a.drainStart.Add(a.cfg.DrainGrace)
	}
	a.notifyLocked()
	a.mu.Unlock()
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	a.log.Info("stopping: draining", "running", n, "grace_left", time.Until(deadline).Round(time.Millisecond))

	grace, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if !a.waitIdle(grace) {
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

// idleLocked reports whether no attempt runs and no lease call is in
// flight (one could still return work to run or hand back).
func (a *Agent) idleLocked() bool {
	return len(a.running) == 0 && a.lease != leaseCalling
}

// waitIdle waits until the agent is idle (idleLocked) or killed; false
// when ctx ended first. It is the one wait for the end of a drain: Run's
// (drainToStop, bounded by DrainGrace) and POST /drain's (bounded by its
// ?wait=).
func (a *Agent) waitIdle(ctx context.Context) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for !a.idleLocked() {
		if a.dead {
			return true
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			a.mu.Lock()
			return a.idleLocked() || a.dead
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
