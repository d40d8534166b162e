package jobspec

import (
	"strings"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Defaults of a training spec's fields left at zero, and limits.
const (
	DefaultOptimizer      = "adam"
	DefaultLR             = 0.01
	DefaultSchedule       = "constant"
	DefaultEpochs         = 1
	DefaultBatchPerMember = 1024
	DefaultMinMembers     = 1
	DefaultMaxRestarts    = 3
	DefaultBuckets        = 32
	DefaultMissing        = "impute"
	DefaultMemoryBudgetMB = 1024
	DefaultDataPath       = "auto"

	MaxMembers        = 64
	MaxEpochs         = 100_000
	MaxBatchPerMember = 1 << 22
	MaxHiddenWidth    = 1 << 14
	MaxBuckets        = 1 << 20
	MaxMemoryBudgetMB = 1 << 30
)

// Defaults of a job file's fields left out. Zero is a meaningful seed and
// holdout, so a spec cannot tell "left out" from zero; a document format
// with presence (a YAML job file, a pipeline template) applies these.
const (
	FileDefaultSeed    uint64  = 1
	FileDefaultHoldout float64 = 0.2
)

// Words of a training spec's enumerated fields.
var (
	ModelFamilies = []string{"linear", "logistic", "softmax", "mlp"}
	Objectives    = []string{"binary", "regression", "multiclass"}
	Optimizers    = []string{"sgd", "adam", "lbfgs"}
	Schedules     = []string{"constant", "step", "cosine"}
	FeatureKinds  = []string{"numeric", "categorical"}
	MissingRules  = []string{"impute", "fail", "indicator"}
	Metrics       = []string{"logloss", "auc", "accuracy", "rmse"}
	DataPaths     = []string{"auto", "memory", "stream"}
)

// Train puts a training spec in its canonical form, fills its defaults and
// validates it. Paths in its errors are relative to the spec
// ("features[1].kind").
func Train(sp *pb.TrainSpec) error {
	c := newChecker()
	train(c, sp)
	return c.errs.err()
}

func train(c checker, sp *pb.TrainSpec) {
	canonicalTrain(sp)
	defaultTrain(sp)
	if err := CheckModelName(sp.ModelName); err != nil {
		c.bad("model_name", "%v", err)
	}
	c.checkURI("dataset", sp.Dataset)
	c.checkURI("output", sp.Output)
	if sp.Label == "" {
		c.bad("label", "required (the label column)")
	}
	seen := map[string]bool{}
	for i, f := range sp.Features {
		checkFeature(c.at(index("features", i)), f, sp.Label, seen)
	}
	checkModel(c.at("model"), sp.Model)
	checkOptimizer(c.at("optimizer"), sp.Optimizer, sp.Model.Family)
	c.inRange("epochs", int64(sp.Epochs), 1, MaxEpochs)
	c.inRange("batch_per_member", int64(sp.BatchPerMember), 1, MaxBatchPerMember)
	switch {
	case sp.MinMembers < 1 || sp.MinMembers > MaxMembers:
		c.inRange("members.min", int64(sp.MinMembers), 1, MaxMembers)
	case sp.MaxMembers < sp.MinMembers:
		c.bad("members.max", "must be ≥ members.min (%d)", sp.MinMembers)
	default:
		c.inRange("members.max", int64(sp.MaxMembers), 1, MaxMembers)
	}
	if h := sp.Holdout; !(h >= 0 && h < 1) {
		c.bad("holdout", "must be a fraction in [0, 1), got %g", h)
	}
	if sp.CheckpointEverySteps < 0 {
		c.bad("checkpoint.every_steps", "must be ≥ 0 (0: not by steps)")
	}
	if sp.CheckpointEveryS < 0 {
		c.bad("checkpoint.every_seconds", "must be ≥ 0 (0: not by time)")
	}
	c.inRange("data.memory_budget_mb", sp.MemoryBudgetMb, 1, MaxMemoryBudgetMB)
	if !oneOf(sp.DataPath, DataPaths...) {
		c.bad("data.path", "%s", want(sp.DataPath, DataPaths...))
	}
	checkPromotion(c, sp)
	if sp.MaxRestarts < 0 {
		c.bad("max_restarts", "must be ≥ 0 (0: %d)", DefaultMaxRestarts)
	}
}

// canonicalTrain trims names and URIs and lower-cases enumerated words, so
// equal jobs make equal specs (and idempotency keys).
func canonicalTrain(sp *pb.TrainSpec) {
	sp.Dataset, sp.Output = CanonicalURI(sp.Dataset), CanonicalURI(sp.Output)
	sp.Label, sp.ModelName = strings.TrimSpace(sp.Label), strings.TrimSpace(sp.ModelName)
	for _, f := range sp.Features {
		if f == nil {
			continue
		}
		f.Column, f.Kind, f.Missing = strings.TrimSpace(f.Column), word(f.Kind), word(f.Missing)
	}
	if m := sp.Model; m != nil {
		m.Family, m.Objective = word(m.Family), word(m.Objective)
	}
	if o := sp.Optimizer; o != nil {
		o.Name, o.Schedule = word(o.Name), word(o.Schedule)
	}
	if p := sp.Promotion; p != nil {
		p.Metric = word(p.Metric)
	}
	sp.DataPath = word(sp.DataPath)
	if e := sp.Evaluation; e != nil {
		for i, col := range e.Slices {
			e.Slices[i] = strings.TrimSpace(col)
		}
	}
}

// defaultTrain fills the fields left at zero whose zero is not meaningful.
func defaultTrain(sp *pb.TrainSpec) {
	if sp.Model == nil {
		sp.Model = &pb.ModelConfig{}
	}
	if sp.Optimizer == nil {
		sp.Optimizer = &pb.OptimizerConfig{}
	}
	defaultPromotion(sp) // a missing policy stays nil: versions after the first stay candidates
	o := sp.Optimizer
	if o.Name == "" {
		o.Name = DefaultOptimizer
	}
	if o.Schedule == "" {
		o.Schedule = DefaultSchedule
	}
	if o.Lr == 0 {
		o.Lr = DefaultLR
	}
	if sp.Epochs == 0 {
		sp.Epochs = DefaultEpochs
	}
	if sp.BatchPerMember == 0 {
		sp.BatchPerMember = DefaultBatchPerMember
	}
	if sp.MinMembers == 0 {
		sp.MinMembers = DefaultMinMembers
	}
	if sp.MaxMembers == 0 {
		sp.MaxMembers = sp.MinMembers
	}
	if sp.MaxRestarts == 0 {
		sp.MaxRestarts = DefaultMaxRestarts
	}
	if sp.MemoryBudgetMb == 0 {
		sp.MemoryBudgetMb = DefaultMemoryBudgetMB
	}
	if sp.DataPath == "" {
		sp.DataPath = DefaultDataPath
	}
	for _, f := range sp.Features {
		if f == nil {
			continue
		}
		if f.Missing == "" {
			f.Missing = DefaultMissing
		}
		if f.Kind == "categorical" && f.Buckets == 0 {
			f.Buckets = DefaultBuckets
		}
	}
}

func checkFeature(c checker, f *pb.FeatureSpec, label string, seen map[string]bool) {
	if f == nil {
		c.bad("", "empty feature")
		return
	}
	switch {
	case f.Column == "":
		c.bad("column", "required")
	case f.Column == label:
		c.bad("column", "%q is the label", f.Column)
	case seen[f.Column]:
		c.bad("column", "%q is listed twice", f.Column)
	}
	seen[f.Column] = true
	if !oneOf(f.Kind, FeatureKinds...) {
		c.bad("kind", "%s", want(f.Kind, FeatureKinds...))
	}
	switch {
	case f.Buckets < 0:
		c.bad("buckets", "must be ≥ 0 (0: %d)", DefaultBuckets)
	case f.Buckets > MaxBuckets:
		c.bad("buckets", "at most %d, got %d", MaxBuckets, f.Buckets)
	case f.Buckets > 0 && f.Kind == "numeric":
		c.bad("buckets", "only categorical features are hashed into buckets")
	}
	switch {
	case !oneOf(f.Missing, MissingRules...):
		c.bad("missing", "%s", want(f.Missing, MissingRules...))
	case f.Missing == "indicator" && f.Kind != "numeric":
		c.bad("missing", "indicator is for numeric features only (categorical: impute or fail)")
	}
}

func checkModel(c checker, m *pb.ModelConfig) {
	fam := m.Family
	if !oneOf(fam, ModelFamilies...) {
		c.bad("family", "%s", want(fam, ModelFamilies...))
	}
	if fam == "mlp" {
		if len(m.Hidden) == 0 {
			c.bad("hidden", "required for mlp: the hidden layer widths, e.g. [256, 256]")
		}
		for i, h := range m.Hidden {
			c.inRange(index("hidden", i), int64(h), 1, MaxHiddenWidth)
		}
		if !oneOf(m.Objective, Objectives...) {
			c.bad("objective", "%s", want(m.Objective, Objectives...))
		}
	} else if fam != "" {
		if len(m.Hidden) > 0 {
			c.bad("hidden", "only for mlp, not %s", fam)
		}
		if m.Objective != "" {
			c.bad("objective", "only for mlp, not %s", fam)
		}
	}
	if cl := m.Classes; len(cl) > 0 {
		if fam != "softmax" && (fam != "mlp" || m.Objective != "multiclass") {
			c.bad("classes", "only softmax and mlp multiclass models have classes")
		} else if len(cl) < 2 {
			c.bad("classes", "want at least 2 classes, or leave it out (the label's distinct values)")
		}
		seen := map[string]bool{}
		for i, name := range cl {
			if name == "" || seen[name] {
				c.bad(index("classes", i), "%q is empty or listed twice", name)
			}
			seen[name] = true
		}
	}
	if !finiteNonNegative(m.L2) {
		c.bad("l2", "must be ≥ 0")
	}
}

func checkOptimizer(c checker, o *pb.OptimizerConfig, family string) {
	switch {
	case !oneOf(o.Name, Optimizers...):
		c.bad("name", "%s", want(o.Name, Optimizers...))
	case o.Name == "lbfgs" && family != "" && family != "linear" && family != "logistic":
		c.bad("name", "lbfgs (full batch) trains linear and logistic models only, not %s", family)
	}
	if !(o.Lr > 0) || !finiteNonNegative(o.Lr) {
		c.bad("lr", "must be > 0")
	}
	if !(o.Momentum >= 0 && o.Momentum < 1) {
		c.bad("momentum", "must be in [0, 1)")
	}
	if !oneOf(o.Schedule, Schedules...) {
		c.bad("schedule", "%s", want(o.Schedule, Schedules...))
	}
	if o.DecaySteps < 0 {
		c.bad("decay_steps", "must be ≥ 0")
	}
	if !finiteNonNegative(o.DecayRate) {
		c.bad("decay_rate", "must be ≥ 0")
	}
	if o.MaxIterations < 0 {
		c.bad("max_iterations", "must be ≥ 0")
	}
	if !finiteNonNegative(o.Tolerance) {
		c.bad("tolerance", "must be ≥ 0")
	}
}

// TrainColumns checks a normalised training spec against the columns of
// its dataset: the label and every feature must be one of them. The CLI
// runs it before submitting (naming the job file's lines), the coordinator
// at submit (reading the dataset's manifest).
func TrainColumns(sp *pb.TrainSpec, columns []string) error {
	c := newChecker()
	has := make(map[string]bool, len(columns))
	for _, name := range columns {
		has[name] = true
	}
	if !has[sp.Label] {
		c.bad("label", "%q is not a column of %s", sp.Label, sp.Dataset)
	}
	for i, f := range sp.Features {
		if !has[f.Column] {
			c.bad(index("features", i)+".column", "%q is not a column of %s", f.Column, sp.Dataset)
		}
	}
	for i, col := range sp.GetEvaluation().GetSlices() {
		if !has[col] {
			c.bad(index("evaluation.slices", i), "%q is not a column of %s", col, sp.Dataset)
		}
	}
	return c.errs.err()
}
