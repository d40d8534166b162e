package coordinator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/cron"
	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// drivePipelines moves every running pipeline run one step on where it
// can: submit the current step's job, record a job that ended, validate
// the dataset, record the promote decision. Every move is a RunStep
// compare-and-set; a job's idempotency key is the run, the step and the
// try, so a leader that died between a submit and its RunStep leaves a
// job the next leader finds again instead of submitting a second one.
func (s *Server) drivePipelines(ctx context.Context) {
	view := s.store.Snapshot()
	for _, r := range view.ActiveRuns("", true) {
		if ctx.Err() != nil {
			return
		}
		if r.State != pb.RunState_RUN_STATE_RUNNING {
			continue
		}
		st := currentStep(r)
		if st == nil {
			continue
		}
		move := s.driveRun(ctx, view, r, st)
		if move == nil {
			continue
		}
		move.RunId, move.Step, move.From = r.Id, st.Name, st.State
		if _, err := s.apply(ctx, &pb.Command{Op: &pb.Command_RunStep{RunStep: move}}); err != nil && !errors.Is(err, errConflict) && ctx.Err() == nil {
			s.log.Warn("pipeline: recording a step", "run", r.Id, "step", st.Name, "err", err)
		}
	}
}

// driveTimeout bounds one step's storage work in a round, so one slow
// store does not hold up the other runs.
const driveTimeout = time.Minute

// driveRun decides the move of a run's current step, or nil for none yet.
func (s *Server) driveRun(ctx context.Context, view *View, r *pb.PipelineRun, st *pb.StepRun) *pb.RunStep {
	ctx, cancel := context.WithTimeout(ctx, driveTimeout)
	defer cancel()
	var move *pb.RunStep
	switch {
	case st.State == pb.StepState_STEP_STATE_RUNNING:
		move = s.watchStepJob(ctx, view, r, st)
	case st.NotBeforeUnixMs > s.now().UnixMilli():
	case st.Name == stepValidate:
		move = s.validateStep(ctx, view, r, st)
	case st.Name == stepPromote:
		move = s.promoteStep(view, r, st)
	default:
		move = s.startStepJob(ctx, view, r, st)
	}
	return move
}

// failed is a step's failed try: retried after the run's backoff (doubled
// per try) unless permanent or out of tries.
func (s *Server) failed(r *pb.PipelineRun, st *pb.StepRun, permanent bool, format string, args ...any) *pb.RunStep {
	backoff := time.Duration(max(r.Pipeline.GetStepBackoffS(), 1)) * time.Second << min(max(st.Tries-1, 0), 10)
	return &pb.RunStep{To: pb.StepState_STEP_STATE_FAILED, Error: fmt.Sprintf(format, args...), Permanent: permanent,
		RetryAtUnixMs: s.now().Add(backoff).UnixMilli()}
}

// render gives the run's concrete job specs: its template rendered with
// its slot in the schedule's zone.
func render(r *pb.PipelineRun) (*jobspec.Rendered, error) {
	loc, err := cron.LoadZone(r.TimeZone)
	if err != nil {
		return nil, err
	}
	return jobspec.Render(r.Pipeline, jobspec.SlotData{Slot: time.UnixMilli(r.SlotUnixMs).In(loc), Run: r.Id, Schedule: r.Schedule})
}

// startStepJob submits the current job step (ingest, train, score), or
// reuses an earlier run's result when the step's inputs are the same by
// content.
func (s *Server) startStepJob(ctx context.Context, view *View, r *pb.PipelineRun, st *pb.StepRun) *pb.RunStep {
	rd, err := render(r)
	if err != nil {
		return s.failed(r, st, true, "rendering the pipeline for slot %s: %v", fmtMs(r.SlotUnixMs), err)
	}
	spec := map[string]*pb.JobSpec{stepIngest: rd.Ingest, stepTrain: rd.Train, stepScore: rd.Score}[st.Name]
	if spec == nil {
		return s.failed(r, st, true, "the pipeline has no %s step", st.Name)
	}
	key := inputKey(view, r, st.Name, spec)
	if key != "" {
		if prev, prevStep := findReusable(view, r, st.Name, key); prev != nil {
			return reuse(prev, prevStep, key)
		}
	}
	return s.submitStepJob(ctx, r, st, spec, key)
}

// submitStepJob submits the job of the current step's next try; its
// idempotency key is the run, the step and the try, so a leader that died
// between the submit and the RunStep leaves a job the next leader finds
// again.
func (s *Server) submitStepJob(ctx context.Context, r *pb.PipelineRun, st *pb.StepRun, spec *pb.JobSpec, key string) *pb.RunStep {
	spec.IdempotencyKey = stepJobKey(r, st.Name, st.Tries+1)
	spec.Name = r.Id + " " + st.Name
	spec.Owner = runOwner(r)
	job, _, err := s.Submit(ctx, "", spec)
	switch {
	case err == nil:
		return &pb.RunStep{To: pb.StepState_STEP_STATE_RUNNING, JobId: job.Id, InputKey: key}
	case errors.Is(err, errInvalid):
		// The spec or its inputs are wrong for this slot (no data, a
		// missing model): retrying does not help.
		return s.failed(r, st, true, "%s: %v", st.Name, err)
	case errors.Is(err, errNotLeader), errors.Is(err, errShuttingDown), ctx.Err() != nil:
		return nil // the next leader moves it
	default:
		return s.failed(r, st, false, "%s: submitting the job: %v", st.Name, err)
	}
}

func runOwner(r *pb.PipelineRun) string {
	if r.Schedule != "" {
		return "schedule:" + r.Schedule
	}
	return "pipeline:" + r.Id
}

// inputKey is the content key of a train or score step: the dataset's
// fingerprint and the rendered spec, less the fields that name where the
// result goes. "" when the inputs are not known by content (ingest
// compares its sources itself: an unchanged source plans no task).
func inputKey(view *View, r *pb.PipelineRun, step string, spec *pb.JobSpec) string {
	if step == stepIngest || r.DatasetFingerprint == "" {
		return ""
	}
	c := proto.Clone(spec).(*pb.JobSpec)
	c.Name, c.Owner, c.IdempotencyKey = "", "", ""
	if t := c.GetTrain(); t != nil {
		t.Dataset, t.Output = "", ""
	}
	if sc := c.GetScore(); sc != nil {
		if sc.Input != r.DatasetUri {
			return "" // another dataset than the run's: not known by content here
		}
		sc.Input, sc.Output = "", ""
		// An alias moves: key the version it names now.
		uri, _, _, err := resolveModelRef(view, sc.Model)
		if err != nil {
			return ""
		}
		sc.Model = uri
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(step + "\x00" + r.DatasetFingerprint + "\x00"))
	h.Write(body)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// findReusable finds the newest earlier step of the schedule with the same
// input key that succeeded.
func findReusable(view *View, r *pb.PipelineRun, step, key string) (*pb.PipelineRun, *pb.StepRun) {
	var found *pb.PipelineRun
	var foundStep *pb.StepRun
	view.RunsNewestFirst(r.Schedule, false, nil, func(p *pb.PipelineRun) bool {
		if p.Id == r.Id {
			return true
		}
		if ps := stepOf(p, step); ps != nil && ps.InputKey == key && (ps.State == pb.StepState_STEP_STATE_SUCCEEDED || ps.State == pb.StepState_STEP_STATE_REUSED) {
			found, foundStep = p, ps
			return false
		}
		return true
	})
	return found, foundStep
}

// reuse records an earlier run's step result as this run's.
func reuse(prev *pb.PipelineRun, ps *pb.StepRun, key string) *pb.RunStep {
	from := prev.Id
	if ps.ReusedFrom != "" {
		from = ps.ReusedFrom
	}
	m := &pb.RunStep{To: pb.StepState_STEP_STATE_REUSED, Artifact: ps.Artifact, InputKey: key, ReusedFrom: from, JobId: ps.JobId,
		Detail: "inputs unchanged by content (dataset " + shortFP(prev.DatasetFingerprint) + " and the step's spec): reused " + from}
	switch ps.Name {
	case stepTrain:
		m.ModelName, m.ModelVersion = prev.ModelName, prev.ModelVersion
	case stepScore:
		m.OutputUri = prev.OutputUri
	}
	return m
}

func shortFP(fp string) string {
	fp = strings.TrimPrefix(fp, "sha256:")
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

// watchStepJob records the current step's job once it ended.
func (s *Server) watchStepJob(ctx context.Context, view *View, r *pb.PipelineRun, st *pb.StepRun) *pb.RunStep {
	j := view.Job(st.JobId)
	if j == nil {
		return s.failed(r, st, false, "%s: job %s is gone from the state", st.Name, st.JobId)
	}
	if !terminal(j.State) {
		return nil
	}
	if j.State != pb.JobState_JOB_STATE_SUCCEEDED {
		return s.failed(r, st, false, "%s: job %s %s: %s", st.Name, j.Id, lower(j.State.String(), "JOB_STATE_"), j.Error)
	}
	m := &pb.RunStep{To: pb.StepState_STEP_STATE_SUCCEEDED, JobId: j.Id}
	switch st.Name {
	case stepValidate:
		// The dataset's profile job ended: check the dataset now.
		return s.validateStep(ctx, view, r, st)
	case stepIngest:
		m.Artifact, m.DatasetUri, m.DatasetFingerprint = j.OutputDir, j.OutputDir, j.DatasetFingerprint
		m.Detail = fmt.Sprintf("dataset %s (%s)", j.OutputDir, shortFP(j.DatasetFingerprint))
		if j.TasksTotal == 0 {
			m.To = pb.StepState_STEP_STATE_REUSED
			m.Detail = "the source is unchanged since the dataset's manifest: " + m.Detail
		}
	case stepTrain:
		reg := j.GetTrain().GetRegistered()
		if reg == nil {
			return s.failed(r, st, false, "train: job %s succeeded without registering a model", j.Id)
		}
		m.ModelName, m.ModelVersion = reg.Name, reg.Version
		m.Artifact = fmt.Sprintf("%s@v%d", reg.Name, reg.Version)
		m.Detail = "artifact " + reg.Uri
		if r.DatasetFingerprint == "" {
			m.DatasetFingerprint = j.DatasetFingerprint
		}
	case stepScore:
		// The output folder (its _manifest.json and _SUCCESS are inside).
		m.Artifact, m.OutputUri = j.OutputDir, j.OutputDir
		m.Detail = fmt.Sprintf("%d rows with %s", j.RowsDone, j.ModelRef)
	}
	return m
}

// promoteStep records the registry's decision on the version the train
// step registered: the train job's promotion policy made it when the
// version was registered, in the same Raft command.
func (s *Server) promoteStep(view *View, r *pb.PipelineRun, st *pb.StepRun) *pb.RunStep {
	train := stepOf(r, stepTrain)
	if train.State == pb.StepState_STEP_STATE_REUSED {
		// The decision was made when the reused run's version was registered.
		m := &pb.RunStep{To: pb.StepState_STEP_STATE_REUSED, ReusedFrom: train.ReusedFrom, ModelName: r.ModelName, ModelVersion: r.ModelVersion}
		if prev := view.Run(train.ReusedFrom); prev != nil {
			m.Promoted, m.PromotionReason = prev.Promoted, prev.PromotionReason
		}
		m.Detail = fmt.Sprintf("the model was reused: %s v%d as decided in %s: %s", r.ModelName, r.ModelVersion, train.ReusedFrom, m.PromotionReason)
		return m
	}
	j := view.Job(train.JobId)
	if j == nil || j.GetTrain().GetRegistered() == nil {
		return s.failed(r, st, true, "promote: the train job %s and its registered version are gone from the state", train.JobId)
	}
	t := j.GetTrain()
	m := &pb.RunStep{To: pb.StepState_STEP_STATE_SUCCEEDED, ModelName: t.Registered.Name, ModelVersion: t.Registered.Version,
		Promoted: t.Promoted, PromotionReason: t.PromotionReason, Artifact: fmt.Sprintf("%s@v%d", t.Registered.Name, t.Registered.Version),
		Evaluation: t.Registered.Evaluation}
	m.Detail = t.PromotionReason // the registry's words: "v2 promoted to production: logloss …"
	return m
}
