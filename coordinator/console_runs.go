package coordinator

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The console's schedule and run pages: a schedule's next slots, its
// changes and its runs, paged (#/schedules/NAME); one run's steps with
// their jobs, the validate step's data-gate report, the evaluation behind
// the promote step and, in one sentence, why the night did or did not
// promote (#/runs/ID). A report holds a finding per column, so the page
// keeps the worst consoleFindingsShown of each kind.

const (
	consoleFindingsShown     = 200
	consoleScheduleRunsPage  = 50
	consoleNextSlots         = 5
	consoleScheduleEventsMax = 20
)

type consoleRunDetail struct {
	consoleRun
	Schedule     string `json:"schedule,omitempty"`
	Owner        string `json:"owner,omitempty"`
	SlotUnixMs   int64  `json:"slot_unix_ms,omitempty"`
	CreateUnixMs int64  `json:"create_unix_ms"`
	StartUnixMs  int64  `json:"start_unix_ms,omitempty"`
	EndUnixMs    int64  `json:"end_unix_ms,omitempty"`
	Resumes      int32  `json:"resumes,omitempty"`
	Dataset      string `json:"dataset,omitempty"`
	Fingerprint  string `json:"fingerprint,omitempty"`
	Output       string `json:"output,omitempty"`
	// Why is one sentence: the promotion decision, or what stopped the
	// run before one (a failed step, a skip, a miss).
	Why        string             `json:"why"`
	Steps      []consoleStep      `json:"steps"`
	Validation *consoleValidation `json:"validation,omitempty"`
	Evaluation *consoleEvaluation `json:"evaluation,omitempty"`
}

type consoleStep struct {
	Name            string `json:"name"`
	State           string `json:"state"`
	JobID           string `json:"job_id,omitempty"`
	Tries           int32  `json:"tries,omitempty"`
	StartUnixMs     int64  `json:"start_unix_ms,omitempty"`
	EndUnixMs       int64  `json:"end_unix_ms,omitempty"`
	NotBeforeUnixMs int64  `json:"not_before_unix_ms,omitempty"`
	Error           string `json:"error,omitempty"`
	Detail          string `json:"detail,omitempty"`
	Artifact        string `json:"artifact,omitempty"`
	ReusedFrom      string `json:"reused_from,omitempty"`
}

// consoleValidation is the validate step's report (pb.ValidationReport):
// contract violations and per-column drift, each worst first.
type consoleValidation struct {
	Dataset         string             `json:"dataset"`
	Reference       string             `json:"reference"`
	Verdict         string             `json:"verdict"`
	Summary         string             `json:"summary,omitempty"`
	DriftedShare    float64            `json:"drifted_share"`
	Violations      []consoleViolation `json:"violations"`
	ViolationsTotal int                `json:"violations_total"`
	Drift           []consoleDrift     `json:"drift"`
	DriftTotal      int                `json:"drift_total"`
}

type consoleViolation struct {
	Column   string `json:"column"`
	Rule     string `json:"rule"`
	Observed string `json:"observed"`
	Allowed  string `json:"allowed"`
	Severity string `json:"severity"`
}

type consoleDrift struct {
	Column   string   `json:"column"`
	Metric   string   `json:"metric"`
	Value    *float64 `json:"value"`
	Linf     *float64 `json:"linf"`
	Warn     float64  `json:"warn"`
	Fail     float64  `json:"fail"`
	Severity string   `json:"severity"`
}

// consoleRunOf is a run's line in a list.
func consoleRunOf(r *pb.PipelineRun) consoleRun {
	cr := consoleRun{ID: r.Id, State: lower(r.State.String(), "RUN_STATE_"), Trigger: r.Trigger, Promoted: r.Promoted, Reason: r.Reason}
	if r.ModelVersion > 0 {
		cr.Model = r.ModelName + "@v" + strconv.Itoa(int(r.ModelVersion))
	}
	return cr
}

// consoleRunPage is one run's page; ok is false when there is no such run.
func (s *Server) consoleRunPage(id string) (consoleRunDetail, bool) {
	view := s.store.Snapshot()
	r := view.Run(id)
	if r == nil {
		return consoleRunDetail{}, false
	}
	d := consoleRunDetail{consoleRun: consoleRunOf(r), Schedule: r.Schedule, Owner: r.Owner, SlotUnixMs: r.SlotUnixMs,
		CreateUnixMs: r.CreateUnixMs, StartUnixMs: r.StartUnixMs, EndUnixMs: r.EndUnixMs, Resumes: r.Resumes,
		Dataset: r.DatasetUri, Fingerprint: r.DatasetFingerprint, Output: r.OutputUri, Why: runWhy(r)}
	var ev *pb.Evaluation
	var version int32
	for _, st := range r.Steps {
		d.Steps = append(d.Steps, consoleStep{Name: st.Name, State: stepWord(st.State), JobID: st.JobId, Tries: st.Tries,
			StartUnixMs: st.StartUnixMs, EndUnixMs: st.EndUnixMs, NotBeforeUnixMs: st.NotBeforeUnixMs, Error: st.Error,
			Detail: st.Detail, Artifact: st.Artifact, ReusedFrom: st.ReusedFrom})
		if st.Validation != nil {
			d.Validation = consoleValidationOf(st.Validation)
		}
		switch {
		case st.Name == stepPromote && st.Evaluation != nil:
			ev, version = st.Evaluation, r.ModelVersion
		case st.Name == stepTrain && ev == nil && st.JobId != "":
			// Before the promote step records it: the train job's own.
			if reg := view.Job(st.JobId).GetTrain().GetRegistered(); reg != nil {
				ev, version = reg.Evaluation, reg.Version
			}
		}
	}
	d.Evaluation = consoleEvaluationOf(ev, version, r.GetPipeline().GetTrain().GetPromotion(), r.PromotionReason)
	return d, true
}

// runWhy says in one sentence why a run did or did not promote.
func runWhy(r *pb.PipelineRun) string {
	if r.PromotionReason != "" {
		return r.PromotionReason // the registry's words, either way
	}
	for _, st := range r.Steps {
		if st.State == pb.StepState_STEP_STATE_FAILED {
			why := "not promoted: the " + st.Name + " step failed"
			if st.Error != "" {
				why += ": " + st.Error
			}
			return why
		}
	}
	switch r.State {
	case pb.RunState_RUN_STATE_QUEUED, pb.RunState_RUN_STATE_RUNNING:
		for _, st := range r.Steps {
			if st.State == pb.StepState_STEP_STATE_RUNNING || st.State == pb.StepState_STEP_STATE_PENDING {
				return "no decision yet: the " + st.Name + " step is " + stepWord(st.State)
			}
		}
		return "no decision yet: the run is " + lower(r.State.String(), "RUN_STATE_")
	case pb.RunState_RUN_STATE_SKIPPED, pb.RunState_RUN_STATE_MISSED, pb.RunState_RUN_STATE_CANCELLED:
		return "not promoted: the run was " + lower(r.State.String(), "RUN_STATE_") + ifNotEmpty(": ", r.Reason)
	}
	if r.GetPipeline().GetTrain() == nil {
		return "the pipeline trains no model" + ifNotEmpty(": ", r.Reason)
	}
	return r.Reason
}

func ifNotEmpty(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

// consoleValidationOf shapes a data-gate report, worst findings first.
func consoleValidationOf(v *pb.ValidationReport) *consoleValidation {
	c := &consoleValidation{Dataset: v.Dataset, Reference: v.Reference, Verdict: severityWord(v.Verdict), Summary: v.Summary,
		DriftedShare: v.DriftedShare, ViolationsTotal: len(v.Violations), DriftTotal: len(v.Drift)}
	vs := slices.Clone(v.Violations)
	slices.SortStableFunc(vs, func(a, b *pb.Violation) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Column, b.Column))
	})
	for _, x := range vs[:min(len(vs), consoleFindingsShown)] {
		c.Violations = append(c.Violations, consoleViolation{Column: x.Column, Rule: x.Rule, Observed: x.Observed, Allowed: x.Allowed, Severity: severityWord(x.Severity)})
	}
	ds := slices.Clone(v.Drift)
	slices.SortStableFunc(ds, func(a, b *pb.ColumnDriftResult) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(b.Value, a.Value), cmp.Compare(a.Column, b.Column))
	})
	for _, x := range ds[:min(len(ds), consoleFindingsShown)] {
		c.Drift = append(c.Drift, consoleDrift{Column: x.Column, Metric: x.Metric, Value: finiteNum(x.Value), Linf: finiteNum(x.Linf),
			Warn: x.Warn, Fail: x.Fail, Severity: severityWord(x.Severity)})
	}
	return c
}

func severityWord(s pb.Severity) string { return lower(s.String(), "SEVERITY_") }

// consoleScheduleDetail is one schedule's page: its next slots, its
// latest changes and a page of its runs, newest first.
type consoleScheduleDetail struct {
	consoleSchedule
	Description string         `json:"description,omitempty"`
	Next        []int64        `json:"next_unix_ms_list"`
	Events      []string       `json:"events"`
	Page        int            `json:"page"`
	More        bool           `json:"more"`
	RunsPage    []consoleRunAt `json:"runs_page"`
}

// consoleRunAt is a run's line with its slot and why it did or did not
// promote, for the schedule's history.
type consoleRunAt struct {
	consoleRun
	SlotUnixMs int64  `json:"slot_unix_ms"`
	Why        string `json:"why"`
}

// consoleSchedulePage is a schedule's page; ok is false when there is no
// such schedule. A page of runs skips the newer pages' runs in the
// schedule's index: the cost grows with the page number, not with the
// schedule's history.
func (s *Server) consoleSchedulePage(name string, page int, now time.Time) (consoleScheduleDetail, bool) {
	view := s.store.Snapshot()
	sc := view.Schedule(name)
	if sc == nil {
		return consoleScheduleDetail{}, false
	}
	d := consoleScheduleDetail{consoleSchedule: consoleScheduleOf(sc, now), Description: sc.Spec.GetDescription(),
		Next: nextSlots(sc, now, consoleNextSlots), Page: max(page, 1)}
	for _, e := range slices.Backward(sc.Events[max(0, len(sc.Events)-consoleScheduleEventsMax):]) {
		d.Events = append(d.Events, time.UnixMilli(e.UnixMs).UTC().Format(time.DateTime)+" "+e.Message)
	}
	lo, hi := (d.Page-1)*consoleScheduleRunsPage, d.Page*consoleScheduleRunsPage
	i := 0
	view.RunsNewestFirst(name, false, nil, func(r *pb.PipelineRun) bool {
		if i >= hi {
			d.More = true
			return false
		}
		if i >= lo {
			d.RunsPage = append(d.RunsPage, consoleRunAt{consoleRun: consoleRunOf(r), SlotUnixMs: r.SlotUnixMs, Why: runWhy(r)})
		}
		i++
		return true
	})
	return d, true
}
