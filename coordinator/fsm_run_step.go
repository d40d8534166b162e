package coordinator

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// runStep moves the current step of a running run. It is a compare-and-set
// on the step's state, so the same move proposed twice (a leader that
// retried, or a deposed one) applies once.
func (a *applier) runStep(c *pb.RunStep) *applyResult {
	old := getRun(a.txn, c.RunId)
	if old == nil {
		return &applyResult{err: fmt.Errorf("%w: no run %s", errNotFound, c.RunId)}
	}
	if old.State != pb.RunState_RUN_STATE_RUNNING {
		if c.To == pb.StepState_STEP_STATE_RUNNING {
			// The job was submitted for a run that ended meanwhile (a
			// cancel): nobody will record it, so it stops here.
			a.cancelOrphan(c.JobId, old.Id)
		}
		return &applyResult{err: fmt.Errorf("%w: run %s is %s", errFailedPrecond, old.Id, runWord(old.State))}
	}
	r := proto.Clone(old).(*pb.PipelineRun)
	st := currentStep(r)
	if st == nil || st.Name != c.Step || st.State != c.From {
		return &applyResult{err: fmt.Errorf("%w: run %s: step %s is not %s now", errConflict, r.Id, c.Step, stepWord(c.From))}
	}
	if st.StartUnixMs == 0 {
		st.StartUnixMs = a.now
	}
	if c.InputKey != "" {
		st.InputKey = c.InputKey
	}
	if c.Validation != nil {
		st.Validation = c.Validation
	}
	if c.Evaluation != nil {
		st.Evaluation = c.Evaluation
	}
	switch c.To {
	case pb.StepState_STEP_STATE_RUNNING:
		st.State, st.JobId, st.Error = c.To, c.JobId, ""
		st.Tries++
		a.insert(tableRuns, r)
	case pb.StepState_STEP_STATE_SUCCEEDED, pb.StepState_STEP_STATE_REUSED:
		if c.From == pb.StepState_STEP_STATE_PENDING && c.To == pb.StepState_STEP_STATE_SUCCEEDED {
			st.Tries++ // a step the leader does itself (validate, promote)
		}
		st.State, st.EndUnixMs, st.Error = c.To, a.now, ""
		st.Artifact, st.Detail, st.ReusedFrom = c.Artifact, c.Detail, c.ReusedFrom
		a.fillRun(r, c)
		if next := currentStep(r); next != nil {
			a.insert(tableRuns, r)
			return &applyResult{run: r}
		}
		a.endRun(r, pb.RunState_RUN_STATE_SUCCEEDED, runSummary(r))
	case pb.StepState_STEP_STATE_FAILED:
		if c.From == pb.StepState_STEP_STATE_PENDING {
			st.Tries++ // failed before a job started (a refused submit, a validation)
		}
		st.Error, st.EndUnixMs = c.Error, a.now
		limit := max(r.Pipeline.GetStepTries(), 1) // jobspec.Pipeline filled the default
		if !c.Permanent && st.Tries < limit {
			st.State, st.NotBeforeUnixMs = pb.StepState_STEP_STATE_PENDING, c.RetryAtUnixMs
			a.insert(tableRuns, r)
			return &applyResult{run: r}
		}
		st.State = pb.StepState_STEP_STATE_FAILED
		// A step's error names its step ("validate: ..."), which the
		// run's reason says already; a permanent failure (a refused
		// spec, a failed data gate) is not retried, so a try count would
		// only mislead.
		why := strings.TrimPrefix(c.Error, st.Name+": ")
		reason := fmt.Sprintf("%s failed (try %d of %d): %s", st.Name, st.Tries, limit, why)
		if c.Permanent {
			reason = fmt.Sprintf("%s failed: %s", st.Name, why)
		}
		a.endRun(r, pb.RunState_RUN_STATE_FAILED, reason)
	default:
		return &applyResult{err: fmt.Errorf("%w: run %s: a step cannot move to %s", errInvalid, r.Id, stepWord(c.To))}
	}
	return &applyResult{run: getRun(a.txn, r.Id)}
}

// fillRun copies what a finished step produced into the run's summary
// fields, and raises the not-promoted alert from the promote step.
func (a *applier) fillRun(r *pb.PipelineRun, c *pb.RunStep) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&r.DatasetUri, c.DatasetUri)
	set(&r.DatasetFingerprint, c.DatasetFingerprint)
	set(&r.ModelName, c.ModelName)
	set(&r.OutputUri, c.OutputUri)
	if c.ModelVersion > 0 {
		r.ModelVersion = c.ModelVersion
	}
	if c.Step == stepPromote {
		r.Promoted, r.PromotionReason = c.Promoted, c.PromotionReason
		if !c.Promoted && c.To == pb.StepState_STEP_STATE_SUCCEEDED {
			a.raise(r, alertNotPromoted, "%s v%d was not promoted: %s", r.ModelName, r.ModelVersion, c.PromotionReason)
		}
		if ev := c.Evaluation; ev.GetDecayed() && c.To == pb.StepState_STEP_STATE_SUCCEEDED {
			a.raise(r, alertModelDecayed, "%s: production v%d's %s on this night's rows is %s, worse than its trailing median %s",
				r.ModelName, ev.ChampionVersion, ev.Metric, formatMetric(ev.Champion[ev.Metric]), formatMetric(ev.DecayMedian))
		}
	}
}

// runSummary is a succeeded run's one-line reason.
func runSummary(r *pb.PipelineRun) string {
	switch {
	case r.ModelVersion > 0 && r.Promoted:
		return fmt.Sprintf("%s v%d promoted to production", r.ModelName, r.ModelVersion)
	case r.ModelVersion > 0:
		return fmt.Sprintf("%s v%d not promoted: %s", r.ModelName, r.ModelVersion, r.PromotionReason)
	case r.OutputUri != "":
		return "scored into " + r.OutputUri
	}
	return "every step succeeded"
}

func stepWord(st pb.StepState) string { return lower(st.String(), "STEP_STATE_") }
