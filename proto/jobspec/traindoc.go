package jobspec

import (
	"strings"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// TrainDoc is a training job as a document: the job file of
// `nightshift train -f JOB.yaml`, and the train step of a pipeline
// template. Unlike the spec, a document knows which fields were written:
// pointers tell a field left out (which takes its default) from one set to
// zero, so `epochs: 0` is an error rather than a silent default, and a
// left-out seed and holdout take FileDefaultSeed and FileDefaultHoldout.
// The yaml tags are the field paths of Errors.
type TrainDoc struct {
	Name           string            `yaml:"name"`
	ModelName      string            `yaml:"model_name"`
	Dataset        string            `yaml:"dataset"`
	Output         string            `yaml:"output"`
	Label          string            `yaml:"label"`
	Features       []TrainDocFeature `yaml:"features"`
	Model          *TrainDocModel    `yaml:"model"`
	Optimizer      *TrainDocOptim    `yaml:"optimizer"`
	Epochs         *int32            `yaml:"epochs"`
	BatchPerMember *int32            `yaml:"batch_per_member"`
	Members        *TrainDocMembers  `yaml:"members"`
	Pool           string            `yaml:"pool"`
	Seed           *uint64           `yaml:"seed"`
	Holdout        *float64          `yaml:"holdout"`
	Checkpoint     *TrainDocCkpt     `yaml:"checkpoint"`
	Promotion      *TrainDocPromote  `yaml:"promotion"`
	Evaluation     *TrainDocEval     `yaml:"evaluation"`
	MaxRestarts    int32             `yaml:"max_restarts"`
	AuditSamples   bool              `yaml:"audit_samples"`
	Data           *TrainDocData     `yaml:"data"`
	MaxAttempts    int32             `yaml:"max_attempts"`
}

// TrainDocFeature is one entry of TrainDoc.Features.
type TrainDocFeature struct {
	Column  string `yaml:"column"`
	Kind    string `yaml:"kind"`
	Buckets int32  `yaml:"buckets"`
	Missing string `yaml:"missing"`
}

// TrainDocData is TrainDoc.Data: how members hold the training data.
type TrainDocData struct {
	MemoryBudgetMB int64  `yaml:"memory_budget_mb"`
	Path           string `yaml:"path"`
}

// TrainDocModel is TrainDoc.Model.
type TrainDocModel struct {
	Family    string   `yaml:"family"`
	Hidden    []int32  `yaml:"hidden"`
	Objective string   `yaml:"objective"`
	Classes   []string `yaml:"classes"`
	L2        float64  `yaml:"l2"`
}

// TrainDocOptim is TrainDoc.Optimizer.
type TrainDocOptim struct {
	Name          string   `yaml:"name"`
	LR            *float64 `yaml:"lr"`
	Momentum      float64  `yaml:"momentum"`
	Nesterov      bool     `yaml:"nesterov"`
	Schedule      string   `yaml:"schedule"`
	DecaySteps    int64    `yaml:"decay_steps"`
	DecayRate     float64  `yaml:"decay_rate"`
	MaxIterations int32    `yaml:"max_iterations"`
	Tolerance     float64  `yaml:"tolerance"`
}

// TrainDocMembers is TrainDoc.Members.
type TrainDocMembers struct {
	Min *int32 `yaml:"min"`
	Max *int32 `yaml:"max"`
}

// TrainDocCkpt is TrainDoc.Checkpoint.
type TrainDocCkpt struct {
	EverySteps   int32 `yaml:"every_steps"`
	EverySeconds int32 `yaml:"every_seconds"`
}

// TrainDocPromote is TrainDoc.Promotion.
type TrainDocPromote struct {
	Metric     string   `yaml:"metric"`
	Margin     *float64 `yaml:"margin"`
	Manual     bool     `yaml:"manual"`
	Confidence float64  `yaml:"confidence"`
	Bootstrap  int32    `yaml:"bootstrap"`
	SliceGate  *struct {
		MinRows       int64   `yaml:"min_rows"`
		MaxRegression float64 `yaml:"max_regression"`
	} `yaml:"slice_gate"`
	Decay *struct {
		Window  int32   `yaml:"window"`
		MaxDrop float64 `yaml:"max_drop"`
	} `yaml:"decay"`
}

// TrainDocEval is TrainDoc.Evaluation.
type TrainDocEval struct {
	Slices  []string `yaml:"slices"`
	Buckets int32    `yaml:"buckets"`
}

// JobSpec turns the document into a normalised, validated JobSpec. The
// error, if any, is an Errors naming every bad field by its path in the
// document.
func (d *TrainDoc) JobSpec() (*pb.JobSpec, error) {
	c := newChecker()
	js := d.jobSpec(c)
	if err := Normalize(js); err != nil {
		*c.errs = append(*c.errs, err.(Errors)...)
	}
	return js, c.errs.err()
}

// jobSpec converts the document without normalising it, recording the
// document's own errors (a count written as 0) in c: a pipeline's train
// step is normalised after its templates are rendered and its dataset
// wired.
func (d *TrainDoc) jobSpec(c checker) *pb.JobSpec {
	ts := &pb.TrainSpec{
		Dataset: d.Dataset, Label: d.Label, ModelName: d.ModelName, Output: d.Output,
		Epochs: written(c, "epochs", d.Epochs), BatchPerMember: written(c, "batch_per_member", d.BatchPerMember),
		Seed: FileDefaultSeed, Holdout: FileDefaultHoldout, MaxRestarts: d.MaxRestarts, AuditSamples: d.AuditSamples,
	}
	if d.Seed != nil {
		ts.Seed = *d.Seed
	}
	if dd := d.Data; dd != nil {
		ts.MemoryBudgetMb, ts.DataPath = dd.MemoryBudgetMB, dd.Path
	}
	if d.Holdout != nil {
		ts.Holdout = *d.Holdout
	}
	for _, f := range d.Features {
		ts.Features = append(ts.Features, &pb.FeatureSpec{Column: f.Column, Kind: f.Kind, Buckets: f.Buckets, Missing: f.Missing})
	}
	if m := d.Model; m != nil {
		ts.Model = &pb.ModelConfig{Family: m.Family, Hidden: m.Hidden, Objective: m.Objective, Classes: m.Classes, L2: m.L2}
	}
	if o := d.Optimizer; o != nil {
		ts.Optimizer = &pb.OptimizerConfig{Name: o.Name, Momentum: o.Momentum, Nesterov: o.Nesterov, Schedule: o.Schedule,
			DecaySteps: o.DecaySteps, DecayRate: o.DecayRate, MaxIterations: o.MaxIterations, Tolerance: o.Tolerance}
		if o.LR != nil && *o.LR == 0 {
			c.bad("optimizer.lr", "must be > 0")
		} else if o.LR != nil {
			ts.Optimizer.Lr = *o.LR
		}
	}
	if m := d.Members; m != nil {
		ts.MinMembers = written(c, "members.min", m.Min)
		if m.Max != nil && *m.Max == 0 {
			c.bad("members.max", "must be ≥ members.min (%d)", max(ts.MinMembers, DefaultMinMembers))
		} else if m.Max != nil {
			ts.MaxMembers = *m.Max
		}
	}
	if ck := d.Checkpoint; ck != nil {
		ts.CheckpointEverySteps, ts.CheckpointEveryS = ck.EverySteps, ck.EverySeconds
	}
	if p := d.Promotion; p != nil {
		ts.Promotion = &pb.PromotionPolicy{Metric: p.Metric, Margin: p.Margin, Manual: p.Manual, Confidence: p.Confidence, Bootstrap: p.Bootstrap}
		if g := p.SliceGate; g != nil {
			ts.Promotion.SliceGate = &pb.SliceGate{MinRows: g.MinRows, MaxRegression: g.MaxRegression}
		}
		if d := p.Decay; d != nil {
			ts.Promotion.Decay = &pb.DecayGate{Window: d.Window, MaxDrop: d.MaxDrop}
		}
	}
	if e := d.Evaluation; e != nil {
		ts.Evaluation = &pb.EvaluationSpec{Slices: e.Slices, Buckets: e.Buckets}
	}
	return &pb.JobSpec{Name: strings.TrimSpace(d.Name), Pool: d.Pool, MaxAttempts: d.MaxAttempts, Kind: &pb.JobSpec_Train{Train: ts}}
}

// written returns a count field the document set, recording an error when
// it was written as 0 (in the spec 0 means "the default"; in a document
// the default is to leave the field out).
func written(c checker, field string, p *int32) int32 {
	if p == nil {
		return 0
	}
	if *p == 0 {
		c.bad(field, "must be ≥ 1")
	}
	return *p
}
