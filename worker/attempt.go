package worker

import (
	"context"
	"time"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// attemptKey names one attempt of one task.
type attemptKey struct {
	job           string
	task, attempt int32
}

func keyOf(r *nightshiftv1.AttemptRef) attemptKey {
	return attemptKey{job: r.GetJobId(), task: r.GetTask(), attempt: r.GetAttempt()}
}

// stopReason says why an attempt's context was cancelled before it ended,
// which decides what (if anything) is reported.
type stopReason int

const (
	stopNone    stopReason = iota
	stopAbort              // the coordinator said abort: report nothing
	stopRelease            // the drain grace ran out: report released
)

// attempt is one leased attempt running on this worker.
type attempt struct {
	as     *nightshiftv1.Assignment
	key    attemptKey
	kind   string
	ctx    context.Context
	cancel context.CancelFunc
	begin  time.Time
	stop   stopReason // guarded by Agent.mu
	// written lists the URIs of objects only this attempt wrote (a score
	// attempt's output and quarantine), deleted if its report is rejected.
	// Only the attempt's goroutine touches it.
	written []string
}

// start runs an assignment on its own goroutine, or hands it straight back
// when the worker is stopping or (a coordinator bug) has no free slot, so
// that Slots is never exceeded.
func (a *Agent) start(as *nightshiftv1.Assignment) {
	key := keyOf(as.GetAttempt())
	a.mu.Lock()
	if _, dup := a.running[key]; dup {
		a.mu.Unlock()
		a.log.Warn("lease returned an attempt already running; ignoring it", "job", key.job, "task", key.task, "attempt", key.attempt)
		return
	}
	var why string
	switch {
	case a.dead:
		a.mu.Unlock()
		return
	case a.shutdown:
		why = "worker is shutting down"
	case len(a.running) >= a.cfg.Slots:
		why = "worker has no free slot"
	}
	if why != "" {
		a.enqueueLocked(&pendingReport{rep: released(as.GetAttempt(), why)})
		a.mu.Unlock()
		a.log.Warn("handing an assignment back unstarted", "job", key.job, "task", key.task, "attempt", key.attempt, "reason", why)
		return
	}
	ctx, cancel := context.WithCancel(a.work)
	at := &attempt{as: as, key: key, kind: jobspec.Kind(as.GetSpec()), ctx: ctx, cancel: cancel, begin: time.Now()}
	a.running[key] = at
	a.usedBytes += as.GetEstBytes()
	a.peakRunning = max(a.peakRunning, len(a.running))
	a.peakBytes = max(a.peakBytes, a.usedBytes)
	a.tasks.Add(1)
	a.metrics.running.Set(float64(len(a.running))) // under mu: sets stay in order
	a.notifyLocked()
	a.mu.Unlock()
	a.metrics.started.WithLabelValues(at.kind).Inc()
	a.log.Debug("attempt started", "job", key.job, "task", key.task, "attempt", key.attempt, "kind", at.kind)
	go a.runAttempt(at)
}

// runAttempt runs the task, holds it while the agent is paused, then
// queues its report.
func (a *Agent) runAttempt(at *attempt) {
	defer a.tasks.Done()
	res, err := a.runTask(at)
	_ = a.hold(at.ctx) // a cancelled hold ends the wait; finish sees why
	a.finish(at, res, err)
}

// finish removes the attempt and queues what it must report: its result,
// its failure, "released" when the drain grace stopped it, or nothing when
// it was aborted or the worker was killed. A task that succeeded reports
// success even if it was aborted meanwhile: the coordinator rejects a stale
// report, and the rejection is what deletes the output it wrote.
func (a *Agent) finish(at *attempt, res *nightshiftv1.TaskResult, err error) {
	at.cancel()
	took := time.Since(at.begin)
	ref := at.as.GetAttempt()
	var rep *nightshiftv1.TaskReport
	var outcome string
	a.mu.Lock()
	delete(a.running, at.key)
	a.usedBytes -= at.as.GetEstBytes()
	switch {
	case a.dead:
		outcome = "killed"
	case err == nil:
		outcome = "succeeded"
		rep = &nightshiftv1.TaskReport{Attempt: ref, Outcome: &nightshiftv1.TaskReport_Success{Success: res}}
	case at.stop == stopAbort:
		outcome = "aborted"
	case at.stop == stopRelease:
		outcome = "released"
		rep = released(ref, "worker draining: the task did not finish within the drain grace")
	default:
		outcome = "failed"
		rep = &nightshiftv1.TaskReport{Attempt: ref, Outcome: &nightshiftv1.TaskReport_Failure{
			Failure: &nightshiftv1.TaskFailure{Error: err.Error(), Permanent: isPermanent(err)}}}
	}
	// Counted before the report can leave, so the metrics never lag what
	// the coordinator was told.
	a.metrics.finished(at.kind, outcome, took, len(a.running), res.GetRows())
	if rep != nil {
		a.enqueueLocked(&pendingReport{rep: rep, written: at.written})
	}
	a.notifyLocked()
	a.mu.Unlock()

	log := a.log.With("job", at.key.job, "task", at.key.task, "attempt", at.key.attempt, "kind", at.kind, "took", took)
	switch outcome {
	case "succeeded":
		log.Debug("attempt succeeded")
	case "aborted":
		log.Info("attempt aborted by the coordinator")
	case "released":
		log.Info("attempt handed back: drain grace expired")
	case "failed":
		log.Warn("attempt failed", "err", err, "permanent", isPermanent(err))
	}
}

// abort cancels the named attempts; they report nothing.
func (a *Agent) abort(refs []*nightshiftv1.AttemptRef) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range refs {
		at := a.running[keyOf(r)]
		if at == nil || at.stop != stopNone {
			continue
		}
		at.stop = stopAbort
		at.cancel()
		a.log.Info("aborting attempt", "job", r.GetJobId(), "task", r.GetTask(), "attempt", r.GetAttempt())
	}
}

// releaseRunning stops every running attempt so it is reported released.
func (a *Agent) releaseRunning() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, at := range a.running {
		if at.stop == stopNone {
			at.stop = stopRelease
		}
		at.cancel()
	}
}

// runningRefs lists the attempts running now and those whose report no
// coordinator has answered for yet, for a heartbeat. Leaving the latter
// out made the leader expire them as forgotten (releaseForgotten) between
// their end and their report's delivery, and run them again.
func (a *Agent) runningRefs() []*nightshiftv1.AttemptRef {
	a.mu.Lock()
	defer a.mu.Unlock()
	refs := make([]*nightshiftv1.AttemptRef, 0, len(a.running)+len(a.unsettled))
	for _, at := range a.running {
		refs = append(refs, at.as.GetAttempt())
	}
	for p := range a.unsettled {
		refs = append(refs, p.rep.GetAttempt())
	}
	return refs
}

func released(ref *nightshiftv1.AttemptRef, why string) *nightshiftv1.TaskReport {
	return &nightshiftv1.TaskReport{Attempt: ref, Outcome: &nightshiftv1.TaskReport_Released{Released: why}}
}
