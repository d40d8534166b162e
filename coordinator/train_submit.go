package coordinator

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// Limits and defaults of a training job.
const (
	maxGroupMembers     = 64
	defaultMaxRestarts  = 3
	defaultBatchPerRank = 1024
)

var modelNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)

// planTrain validates a training spec, fills its defaults, reads the
// dataset manifest (fingerprint, schema, size) and plans one member task
// per possible group member: a worker that leases one asks to join the
// group, and the leader's group loop commits generations from the leases.
func (s *Server) planTrain(ctx context.Context, sp *pb.TrainSpec, cmd *pb.SubmitJob) error {
	if err := normalizeTrain(sp); err != nil {
		return fmt.Errorf("%w: train: %v", errInvalid, err)
	}
	out, err := storage.ParseURI(strings.TrimSuffix(sp.Output, "/"))
	if err != nil {
		return fmt.Errorf("%w: train: output: %v", errInvalid, err)
	}
	ds, err := shard.OpenDataset(ctx, s.cfg.Storage, sp.Dataset)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: train: dataset %s holds no dataset manifest (ingest it with `nightshift shard` first)", errInvalid, sp.Dataset)
		}
		return fmt.Errorf("%w: train: dataset %s: %v", errInvalid, sp.Dataset, err)
	}
	if err := checkColumns(sp, ds.Manifest); err != nil {
		return fmt.Errorf("%w: train: dataset %s: %v", errInvalid, sp.Dataset, err)
	}
	m := ds.Manifest
	cmd.Job.OutputDir = out.String() + "/" + sp.ModelName + "/job-" + cmd.Job.Id
	cmd.Job.DatasetFingerprint = m.Fingerprint
	cmd.Job.Train = &pb.TrainStatus{}
	cmd.TaskCount = sp.MaxMembers
	// Every member holds the whole dataset decoded (float32 features) and
	// its Arrow columns.
	est := 3*m.TotalBytes + (64 << 20)
	for range sp.MaxMembers {
		cmd.TaskEstBytes = append(cmd.TaskEstBytes, est)
	}
	return nil
}

// normalizeTrain checks a spec and fills in its defaults in place. Its
// errors name the field.
func normalizeTrain(sp *pb.TrainSpec) error {
	switch {
	case sp.Dataset == "":
		return errors.New("dataset: required")
	case sp.Output == "":
		return errors.New("output: required")
	case sp.Label == "":
		return errors.New("label: required")
	case !modelNameRE.MatchString(sp.ModelName):
		return fmt.Errorf("model_name %q: want lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", sp.ModelName)
	}
	if sp.Model == nil {
		sp.Model = &pb.ModelConfig{Family: "logistic"}
	}
	if err := checkModelConfig(sp.Model); err != nil {
		return err
	}
	if sp.Optimizer == nil {
		sp.Optimizer = &pb.OptimizerConfig{}
	}
	o := sp.Optimizer
	if o.Name == "" {
		o.Name = "adam"
	}
	if o.Schedule == "" {
		o.Schedule = "constant"
	}
	switch {
	case !slices.Contains([]string{"sgd", "adam", "lbfgs"}, o.Name):
		return fmt.Errorf("optimizer.name %q: want sgd, adam or lbfgs", o.Name)
	case o.Name == "lbfgs" && sp.Model.Family != "linear" && sp.Model.Family != "logistic":
		return fmt.Errorf("optimizer.name lbfgs: full-batch L-BFGS trains linear and logistic models, not %s", sp.Model.Family)
	case !slices.Contains([]string{"constant", "step", "cosine"}, o.Schedule):
		return fmt.Errorf("optimizer.schedule %q: want constant, step or cosine", o.Schedule)
	case o.Lr < 0 || o.Momentum < 0 || o.Momentum >= 1 || o.DecayRate < 0 || o.DecaySteps < 0 || o.MaxIterations < 0 || o.Tolerance < 0:
		return errors.New("optimizer: lr, decay_rate, decay_steps, max_iterations and tolerance must be ≥ 0 and momentum in [0, 1)")
	}
	if o.Lr == 0 {
		o.Lr = 0.01
	}
	if sp.Epochs == 0 {
		sp.Epochs = 1
	}
	if sp.BatchPerMember == 0 {
		sp.BatchPerMember = defaultBatchPerRank
	}
	if sp.MinMembers == 0 {
		sp.MinMembers = 1
	}
	if sp.MaxMembers == 0 {
		sp.MaxMembers = sp.MinMembers
	}
	if sp.MaxRestarts == 0 {
		sp.MaxRestarts = defaultMaxRestarts
	}
	switch {
	case sp.Epochs < 0 || sp.Epochs > 100_000:
		return fmt.Errorf("epochs %d: want 1..100000", sp.Epochs)
	case sp.BatchPerMember < 0 || sp.BatchPerMember > 1<<22:
		return fmt.Errorf("batch_per_member %d: want 1..%d", sp.BatchPerMember, 1<<22)
	case sp.MinMembers < 1 || sp.MaxMembers < sp.MinMembers || sp.MaxMembers > maxGroupMembers:
		return fmt.Errorf("members: want 1 ≤ min (%d) ≤ max (%d) ≤ %d", sp.MinMembers, sp.MaxMembers, maxGroupMembers)
	case sp.Holdout < 0 || sp.Holdout >= 1:
		return fmt.Errorf("holdout %g: want a fraction in [0, 1)", sp.Holdout)
	case sp.CheckpointEverySteps < 0 || sp.CheckpointEveryS < 0:
		return errors.New("checkpoint: every_steps and every_seconds must be ≥ 0")
	case sp.MaxRestarts < 0:
		return fmt.Errorf("max_restarts %d: want ≥ 0", sp.MaxRestarts)
	}
	if p := sp.Promotion; p != nil {
		if p.Metric != "" && !slices.Contains([]string{"logloss", "auc", "accuracy", "rmse"}, p.Metric) {
			return fmt.Errorf("promotion.metric %q: want logloss, auc, accuracy or rmse", p.Metric)
		}
		if p.Margin < 0 {
			return fmt.Errorf("promotion.margin %g: want ≥ 0", p.Margin)
		}
	}
	for i, f := range sp.Features {
		if err := checkFeature(f); err != nil {
			return fmt.Errorf("features[%d] (%s): %v", i, f.Column, err)
		}
	}
	return nil
}

func checkModelConfig(m *pb.ModelConfig) error {
	switch m.Family {
	case "linear", "logistic", "softmax":
		if len(m.Hidden) > 0 || m.Objective != "" {
			return fmt.Errorf("model: hidden and objective are for mlp, not %s", m.Family)
		}
	case "mlp":
		if len(m.Hidden) == 0 {
			return errors.New("model.hidden: an mlp needs at least one hidden layer")
		}
		for _, h := range m.Hidden {
			if h < 1 || h > 1<<14 {
				return fmt.Errorf("model.hidden: width %d: want 1..%d", h, 1<<14)
			}
		}
		if !slices.Contains([]string{"binary", "regression", "multiclass"}, m.Objective) {
			return fmt.Errorf("model.objective %q: want binary, regression or multiclass", m.Objective)
		}
	default:
		return fmt.Errorf("model.family %q: want linear, logistic, softmax or mlp", m.Family)
	}
	if m.L2 < 0 {
		return fmt.Errorf("model.l2 %g: want ≥ 0", m.L2)
	}
	return nil
}

func checkFeature(f *pb.FeatureSpec) error {
	if f.Column == "" {
		return errors.New("column: required")
	}
	switch f.Kind {
	case "numeric", "categorical":
	default:
		return fmt.Errorf("kind %q: want numeric or categorical", f.Kind)
	}
	switch f.Missing {
	case "", "impute", "fail":
	case "indicator":
		if f.Kind != "numeric" {
			return errors.New("missing indicator: numeric features only")
		}
	default:
		return fmt.Errorf("missing %q: want impute, fail or indicator", f.Missing)
	}
	if f.Buckets < 0 || f.Buckets > 1<<20 {
		return fmt.Errorf("buckets %d: want 0..%d", f.Buckets, 1<<20)
	}
	return nil
}

// checkColumns fails early when the label or a feature is not a column of
// the dataset.
func checkColumns(sp *pb.TrainSpec, m *shard.Manifest) error {
	cols := map[string]bool{}
	for _, f := range m.Schema {
		cols[f.Name] = true
	}
	if !cols[sp.Label] {
		return fmt.Errorf("label column %q is not in the dataset", sp.Label)
	}
	for _, f := range sp.Features {
		if !cols[f.Column] {
			return fmt.Errorf("feature column %q is not in the dataset", f.Column)
		}
		if f.Column == sp.Label {
			return fmt.Errorf("feature column %q is the label", f.Column)
		}
	}
	if m.TotalRows == 0 {
		return errors.New("the dataset has no rows")
	}
	return nil
}
