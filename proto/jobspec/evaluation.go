package jobspec

import (
	"math"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The end-of-training evaluation and the promotion policy: defaults,
// limits and their reasons (README "Evaluation and promotion").
const (
	// DefaultSliceBuckets is how many quantile buckets a numeric slice
	// column gets: quartiles, coarse enough that each holds a quarter of
	// the rows.
	DefaultSliceBuckets = 4
	// MaxSliceBuckets bounds a numeric slice column's buckets.
	MaxSliceBuckets = 20
	// MaxSliceColumns bounds the slice columns of one evaluation.
	MaxSliceColumns = 8
	// MaxSliceValues bounds the values of a categorical slice column: a
	// column of more values (an ID) is no segment of customers, and its
	// slices would be too small to compare.
	MaxSliceValues = 50
	// DefaultBootstrap is the resamples of a confidence interval: 1000
	// puts the 2.5% and 97.5% percentiles on 25 resamples each.
	DefaultBootstrap = 1000
	// MaxBootstrap bounds the resamples (each costs a pass over the
	// holdout's predictions).
	MaxBootstrap = 10000
	// DefaultDecayWindow is the evaluations in a decay gate's trailing
	// median: a week of nights.
	DefaultDecayWindow = 7
	// MinDecayHistory is the fewest earlier evaluations a decay gate
	// compares with: a median of one or two is noise.
	MinDecayHistory = 3
	// MaxDecayWindow bounds the window (the registry keeps each version's
	// evaluation; the median reads this many).
	MaxDecayWindow = 100
)

// PromotionMetric is the metric a training spec's promotion compares: the
// policy's, else logloss for a classifier and rmse for a regression
// (the holdout metric each reports).
func PromotionMetric(sp *pb.TrainSpec) string {
	if m := sp.GetPromotion().GetMetric(); m != "" {
		return m
	}
	if regression(sp.GetModel()) {
		return "rmse"
	}
	return "logloss"
}

// ReportedMetrics are the holdout metrics a model of this configuration
// reports (worker/train.Evaluate): logloss, auc and accuracy for a binary
// classifier, logloss and accuracy for a multiclass one, rmse for a
// regression; none for an unknown family (its own check refuses it).
func ReportedMetrics(m *pb.ModelConfig) []string {
	switch modelKind(m) {
	case "binary":
		return []string{"logloss", "auc", "accuracy"}
	case "multiclass":
		return []string{"logloss", "accuracy"}
	case "regression":
		return []string{"rmse"}
	}
	return nil
}

// modelKind is the task of a model configuration: binary, multiclass or
// regression ("" when the family or objective is not known).
func modelKind(m *pb.ModelConfig) string {
	switch f := m.GetFamily(); {
	case f == "logistic":
		return "binary"
	case f == "softmax":
		return "multiclass"
	case f == "linear":
		return "regression"
	case f == "mlp" && oneOf(m.GetObjective(), Objectives...):
		return m.GetObjective()
	}
	return ""
}

func regression(m *pb.ModelConfig) bool { return modelKind(m) == "regression" }

// HigherIsBetter says which way a metric improves, and whether it is known.
func HigherIsBetter(metric string) (higher, known bool) {
	switch metric {
	case "logloss", "rmse":
		return false, true
	case "auc", "accuracy":
		return true, true
	}
	return false, false
}

// Gain is how much better a is than b on metric: positive when a is
// better, whichever way the metric runs.
func Gain(metric string, a, b float64) float64 {
	if higher, _ := HigherIsBetter(metric); higher {
		return a - b
	}
	return b - a
}

// checkPromotion checks a training spec's promotion policy and
// evaluation. A policy that may promote automatically must state its
// threshold: a silent margin of zero would promote on noise.
func checkPromotion(c checker, sp *pb.TrainSpec) {
	e := sp.Evaluation
	if e != nil {
		if len(e.Slices) > MaxSliceColumns {
			c.bad("evaluation.slices", "at most %d columns, got %d", MaxSliceColumns, len(e.Slices))
		}
		seen := map[string]bool{}
		for i, col := range e.Slices {
			switch {
			case col == "":
				c.bad(index("evaluation.slices", i), "must not be empty")
			case col == sp.Label:
				c.bad(index("evaluation.slices", i), "%q is the label: slice by an input column", col)
			case seen[col]:
				c.bad(index("evaluation.slices", i), "%q appears twice", col)
			}
			seen[col] = true
		}
		if e.Buckets != 0 {
			c.inRange("evaluation.buckets", int64(e.Buckets), 2, MaxSliceBuckets)
		}
	}
	p := sp.Promotion
	if p == nil {
		return
	}
	if p.Metric != "" && !oneOf(p.Metric, Metrics...) {
		c.bad("promotion.metric", "%q: want %s (or leave it out: logloss for classifiers, rmse for regressions)", p.Metric, orList(Metrics))
	} else if have := ReportedMetrics(sp.Model); p.Metric != "" && len(have) > 0 && !oneOf(p.Metric, have...) {
		c.bad("promotion.metric", "%q: a %s model reports %s", p.Metric, modelKind(sp.Model), orList(have))
	}
	switch {
	case p.Margin != nil && !finiteNonNegative(*p.Margin):
		c.bad("promotion.margin", "must be ≥ 0, got %g", *p.Margin)
	case p.Margin == nil && !p.Manual:
		c.bad("promotion.margin", "required: the least gain on the same holdout rows that promotes (0 promotes any gain), or set manual: true; a policy without a threshold would promote on noise")
	}
	if p.Margin != nil && sp.Holdout == 0 && !p.Manual {
		c.bad("promotion", "an automatic promotion compares the challenger with production on the holdout rows: set holdout above 0")
	}
	if !(p.Confidence >= 0 && p.Confidence < 1) {
		c.bad("promotion.confidence", "must be in (0, 1) (like 0.95), or 0 for no interval; got %g", p.Confidence)
	}
	if p.Bootstrap != 0 {
		if p.Confidence == 0 {
			c.bad("promotion.bootstrap", "needs promotion.confidence")
		}
		c.inRange("promotion.bootstrap", int64(p.Bootstrap), 100, MaxBootstrap)
	}
	if g := p.SliceGate; g != nil {
		if len(e.GetSlices()) == 0 {
			c.bad("promotion.slice_gate", "needs evaluation.slices (the columns to slice by)")
		}
		if g.MinRows < 1 {
			c.bad("promotion.slice_gate.min_rows", "must be ≥ 1 (slices of fewer rows are not gated), got %d", g.MinRows)
		}
		if !finiteNonNegative(g.MaxRegression) {
			c.bad("promotion.slice_gate.max_regression", "must be ≥ 0, got %g", g.MaxRegression)
		}
	}
	if d := p.Decay; d != nil {
		if d.Window != 0 {
			c.inRange("promotion.decay.window", int64(d.Window), MinDecayHistory, MaxDecayWindow)
		}
		if !(d.MaxDrop > 0) || math.IsInf(d.MaxDrop, 0) {
			c.bad("promotion.decay.max_drop", "must be > 0 (how far below its trailing median production's metric may fall), got %g", d.MaxDrop)
		}
	}
}

// defaultPromotion fills the evaluation's and policy's defaults.
func defaultPromotion(sp *pb.TrainSpec) {
	if e := sp.Evaluation; e != nil && len(e.Slices) > 0 && e.Buckets == 0 {
		e.Buckets = DefaultSliceBuckets
	}
	p := sp.Promotion
	if p == nil {
		return
	}
	if p.Confidence > 0 && p.Bootstrap == 0 {
		p.Bootstrap = DefaultBootstrap
	}
	if d := p.Decay; d != nil && d.Window == 0 {
		d.Window = DefaultDecayWindow
	}
}

// SliceValues checks the slice columns of a training spec against the
// dataset's profile: a categorical column of more than MaxSliceValues
// distinct values is refused (numeric columns are bucketed).
func SliceValues(sp *pb.TrainSpec, p *pb.DatasetProfile) error {
	c := newChecker()
	for i, name := range sp.GetEvaluation().GetSlices() {
		for _, col := range p.GetColumns() {
			if n := col.GetCategorical().GetDistinct(); col.GetName() == name && col.GetKind() == pb.ColumnKind_COLUMN_KIND_CATEGORICAL && n > MaxSliceValues {
				c.bad(index("evaluation.slices", i), "column %q has about %d distinct values; a slice column may have at most %d (slice a numeric column into buckets, or pick a coarser column)",
					name, n, MaxSliceValues)
			}
		}
	}
	return c.errs.err()
}
