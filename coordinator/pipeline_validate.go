package coordinator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/profile"
	"github.com/nightshift-ml/nightshift/storage"
)

// validateStep checks the run's dataset before anything trains on it: its
// manifest, at least min_rows rows and the required columns first; then
// its profile (a profile job makes one when the dataset has none), the
// data contract and the drift against the reference model's training
// profile (datagate). A FAIL verdict fails the run at once, with the
// columns named; WARN continues and is recorded. It runs again when the
// step's profile job ended.
func (s *Server) validateStep(ctx context.Context, view *View, r *pb.PipelineRun, st *pb.StepRun) *pb.RunStep {
	uri := r.DatasetUri
	if uri == "" {
		rd, err := render(r)
		if err != nil {
			return s.failed(r, st, true, "rendering the pipeline: %v", err)
		}
		if rd.Train != nil {
			uri = rd.Train.GetTrain().GetDataset()
		} else if rd.Score != nil {
			uri = rd.Score.GetScore().GetInput()
		}
	}
	ds, err := shard.OpenDataset(ctx, s.cfg.Storage, uri)
	if errors.Is(err, storage.ErrNotFound) {
		return s.failed(r, st, true, "validate: %s holds no dataset manifest", uri)
	} else if err != nil {
		return s.failed(r, st, false, "validate: reading the dataset %s: %v", uri, err)
	}
	if move := s.checkShape(r, st, ds); move != nil {
		return move
	}
	b, dir, err := storage.Open(ctx, ds.URI, s.cfg.Storage)
	if err != nil {
		return s.failed(r, st, false, "validate: %v", err)
	}
	cur, err := profile.ReadDataset(ctx, b, dir, ds.Manifest.Fingerprint)
	switch {
	case errors.Is(err, profile.ErrNoProfile) && st.State == pb.StepState_STEP_STATE_PENDING:
		spec := &pb.JobSpec{Kind: &pb.JobSpec_Profile{Profile: &pb.ProfileSpec{Input: ds.URI}}, Pool: r.Pipeline.GetPool(), MaxAttempts: r.Pipeline.GetMaxAttempts()}
		return s.submitStepJob(ctx, r, st, spec, "")
	case err != nil:
		return s.failed(r, st, false, "validate: the profile of %s: %v", ds.URI, err)
	}
	return s.checkGates(ctx, view, r, st, ds, cur)
}

// checkShape is the check that needs no profile: enough rows and the
// columns the later steps read.
func (s *Server) checkShape(r *pb.PipelineRun, st *pb.StepRun, ds *shard.Dataset) *pb.RunStep {
	m := ds.Manifest
	v := r.Pipeline.GetValidate()
	if m.TotalRows < v.GetMinRows() {
		return s.failed(r, st, true, "validate: the dataset %s has %d rows; the pipeline needs at least %d (no model is trained on it)", ds.URI, m.TotalRows, v.GetMinRows())
	}
	have := map[string]bool{}
	for _, f := range m.Schema {
		have[f.Name] = true
	}
	var missing []string
	for _, c := range jobspec.ValidateColumns(r.Pipeline) {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return s.failed(r, st, true, "validate: the dataset %s lacks the required column(s) %s", ds.URI, strings.Join(missing, ", "))
	}
	return nil
}

// checkGates runs the contract and drift checks of the profiled dataset
// against the reference: the validate step's `against`, else the train
// step's model in production. With no reference yet (the first night, or
// a model trained before profiles) only an explicit contract's rules are
// checked, and the step says so.
func (s *Server) checkGates(ctx context.Context, view *View, r *pb.PipelineRun, st *pb.StepRun, ds *shard.Dataset, cur *pb.DatasetProfile) *pb.RunStep {
	v := r.Pipeline.GetValidate()
	against := v.GetAgainst()
	if against == "" && r.Pipeline.GetTrain().GetModelName() != "" {
		against = r.Pipeline.GetTrain().GetModelName() + "@" + aliasProduction
	}
	var ref *pb.DatasetProfile
	var refName, note string
	if against == "" {
		note = "no reference model: drift not checked"
	} else {
		var err error
		ref, refName, err = s.referenceProfile(ctx, view, against)
		switch {
		case (errors.Is(err, errNotFound) || errors.Is(err, errNoProfile)) && v.GetAgainst() != "":
			// A reference the pipeline names must exist: a typo must not
			// turn the drift checks off night after night.
			return s.failed(r, st, true, "validate: against %s: %v", against, err)
		case errors.Is(err, errNotFound), errors.Is(err, errNoProfile):
			ref, note = nil, "no reference yet: "+err.Error()
		case errors.Is(err, errInvalid):
			return s.failed(r, st, true, "validate: %v", err)
		case err != nil:
			return s.failed(r, st, false, "validate: reading the reference %s: %v", against, err)
		}
	}
	rep, err := validateDataset(ref, cur, refName, v)
	if err != nil {
		return s.failed(r, st, true, "validate: %v", err)
	}
	rep.Dataset = ds.URI
	if rep.Verdict == pb.Severity_SEVERITY_FAIL {
		move := s.failed(r, st, true, "validate: %s", rep.Summary)
		move.Validation = rep
		return move
	}
	detail := fmt.Sprintf("%d rows, %d columns; %s", ds.Manifest.TotalRows, len(ds.Manifest.Schema), rep.Summary)
	if note != "" {
		detail += "; " + note
	}
	return &pb.RunStep{To: pb.StepState_STEP_STATE_SUCCEEDED, Artifact: ds.URI, DatasetUri: ds.URI, DatasetFingerprint: ds.Manifest.Fingerprint,
		Detail: detail, Validation: rep}
}
