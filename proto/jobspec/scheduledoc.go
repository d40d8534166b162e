package jobspec

import (
	"encoding/json"
	"strings"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// ScheduleDoc is a schedule as a document: the schedule file the CLI
// reads (YAML). Durations are Go duration
// strings ("24h", "90s") rather than the spec's seconds, and the train
// step is a TrainDoc, as in a training job file; like TrainDoc, a pointer
// tells a count left out (its default) from one written as 0 (an error).
// The yaml tags are the field paths of Errors.
type ScheduleDoc struct {
	Name        string             `yaml:"name"`
	Cron        string             `yaml:"cron"`
	TimeZone    string             `yaml:"time_zone"`
	Description string             `yaml:"description"`
	Policy      *ScheduleDocPolicy `yaml:"policy"`
	Pipeline    *PipelineDoc       `yaml:"pipeline"`
}

// ScheduleDocPolicy is ScheduleDoc.Policy.
type ScheduleDocPolicy struct {
	Catchup            string `yaml:"catchup"`
	CatchupWindow      string `yaml:"catchup_window"`
	Overlap            string `yaml:"overlap"`
	PauseAfterFailures *int32 `yaml:"pause_after_failures"`
}

// PipelineDoc is a pipeline template as a document (ScheduleDoc.Pipeline).
type PipelineDoc struct {
	Pool        string       `yaml:"pool"`
	MaxAttempts int32        `yaml:"max_attempts"`
	StepTries   *int32       `yaml:"step_tries"`
	StepBackoff string       `yaml:"step_backoff"`
	Ingest      *IngestDoc   `yaml:"ingest"`
	Validate    *ValidateDoc `yaml:"validate"`
	Train       *TrainDoc    `yaml:"train"`
	Score       *ScoreDoc    `yaml:"score"`
}

// IngestDoc is PipelineDoc.Ingest. Options are the ingest options of
// package shard by their JSON names (rows_per_shard, label, …), the
// options of `nightshift shard`; the shard planner checks them.
type IngestDoc struct {
	Sources []string       `yaml:"sources"`
	Output  string         `yaml:"output"`
	Options map[string]any `yaml:"options"`
}

// ValidateDoc is PipelineDoc.Validate. Contract and Drift are the
// documents of `nightshift validate --contract` and `--drift`, inline;
// Against is the reference model (NAME, NAME@ALIAS, NAME@vN or an
// artifact URI; "" = the train step's model in production). The row
// ratios, left out, are the inferred contract's (DefaultMinRowsRatio,
// DefaultMaxRowsRatio); written as 0 they are an error.
type ValidateDoc struct {
	MinRows         *int64       `yaml:"min_rows"`
	RequiredColumns []string     `yaml:"required_columns"`
	Contract        *ContractDoc `yaml:"contract"`
	Drift           *DriftDoc    `yaml:"drift"`
	Against         string       `yaml:"against"`
	FailOnWarn      bool         `yaml:"fail_on_warn"`
	IgnoreColumns   []string     `yaml:"ignore_columns"`
	MinRowsRatio    *float64     `yaml:"min_rows_ratio"`
	MaxRowsRatio    *float64     `yaml:"max_rows_ratio"`
}

// ScoreDoc is PipelineDoc.Score.
type ScoreDoc struct {
	Model       string   `yaml:"model"`
	Input       string   `yaml:"input"`
	Output      string   `yaml:"output"`
	Format      string   `yaml:"format"`
	Passthrough []string `yaml:"passthrough"`
	BadRows     string   `yaml:"bad_rows"`
}

// specToDocPath renames the spec's paths that differ in the document.
var specToDocPath = map[string]string{
	"policy.catchup_window_s": "policy.catchup_window",
	"pipeline.step_backoff_s": "pipeline.step_backoff",
}

// Spec turns the document into a normalised, validated ScheduleSpec (by
// Schedule). The error, if any, is an Errors naming every bad field by its
// path in the document ("pipeline.train.epochs", "policy.catchup_window").
func (d *ScheduleDoc) Spec() (*pb.ScheduleSpec, error) {
	c := newChecker()
	sp := &pb.ScheduleSpec{Name: d.Name, Cron: d.Cron, TimeZone: d.TimeZone, Description: d.Description}
	if p := d.Policy; p != nil {
		sp.Policy = &pb.SchedulePolicy{Catchup: p.Catchup, Overlap: p.Overlap,
			CatchupWindowS:     seconds(c, "policy.catchup_window", p.CatchupWindow, MaxCatchupWindowS),
			PauseAfterFailures: written(c, "policy.pause_after_failures", p.PauseAfterFailures)}
	}
	if d.Pipeline != nil {
		sp.Pipeline = d.Pipeline.spec(c.at("pipeline"))
	}
	var es Errors
	if err := Schedule(sp); err != nil {
		es = err.(Errors)
	}
	for _, e := range es {
		if p, ok := specToDocPath[e.Path]; ok {
			e.Path = p
		}
		e.Path = gateDocPath("pipeline.validate.", e.Path)
		*c.errs = append(*c.errs, e)
	}
	return sp, c.errs.err()
}

func (d *PipelineDoc) spec(c checker) *pb.PipelineSpec {
	p := &pb.PipelineSpec{Pool: d.Pool, MaxAttempts: d.MaxAttempts,
		StepTries: written(c, "step_tries", d.StepTries), StepBackoffS: seconds(c, "step_backoff", d.StepBackoff, MaxStepBackoffS)}
	if in := d.Ingest; in != nil {
		p.Ingest = &pb.ShardSpec{Sources: in.Sources, Output: in.Output}
		if len(in.Options) > 0 {
			b, err := json.Marshal(in.Options)
			if err != nil {
				c.bad("ingest.options", "%v", err)
			}
			p.Ingest.OptionsJson = b
		}
	}
	if v := d.Validate; v != nil {
		p.Validate = &pb.ValidateSpec{RequiredColumns: v.RequiredColumns, Against: v.Against, FailOnWarn: v.FailOnWarn,
			IgnoreColumns: v.IgnoreColumns}
		for _, r := range []struct {
			field string
			doc   *float64
			spec  *float64
			def   float64
		}{{"min_rows_ratio", v.MinRowsRatio, &p.Validate.MinRowsRatio, DefaultMinRowsRatio},
			{"max_rows_ratio", v.MaxRowsRatio, &p.Validate.MaxRowsRatio, DefaultMaxRowsRatio}} {
			if r.doc != nil && *r.doc == 0 {
				c.bad("validate."+r.field, "must be > 0 (leave it out for the default %g)", r.def)
			} else if r.doc != nil {
				*r.spec = *r.doc
			}
		}
		if v.Contract != nil {
			p.Validate.Contract = v.Contract.contract(c.at("validate.contract"))
		}
		if v.Drift != nil {
			p.Validate.Drift = v.Drift.policy(c.at("validate.drift"))
		}
		if v.MinRows != nil && *v.MinRows == 0 {
			c.bad("validate.min_rows", "must be ≥ 1")
		} else if v.MinRows != nil {
			p.Validate.MinRows = *v.MinRows
		}
	}
	if t := d.Train; t != nil {
		// The job's own fields are the pipeline's, shared by every step.
		tc := c.at("train")
		if t.Name != "" {
			tc.bad("name", "not in a pipeline: its jobs are named by their run")
		}
		if t.Pool != "" {
			tc.bad("pool", "not in a pipeline: set pipeline.pool (every step runs in it)")
		}
		if t.MaxAttempts != 0 {
			tc.bad("max_attempts", "not in a pipeline: set pipeline.max_attempts")
		}
		p.Train = t.jobSpec(tc).GetTrain()
	}
	if s := d.Score; s != nil {
		p.Score = &pb.ScoreSpec{Model: s.Model, Input: s.Input, Output: s.Output, Format: s.Format,
			Passthrough: s.Passthrough, BadRows: s.BadRows}
	}
	return p
}

// seconds converts a duration field; "" is left out (the spec's default).
// A bad one is recorded and left out, so it is told once, as written.
func seconds(c checker, field, text string, limit int64) int64 {
	text = strings.TrimSpace(text)
	if text == "" {
		return 0
	}
	d, err := time.ParseDuration(text)
	switch most := time.Duration(limit) * time.Second; {
	case err != nil:
		c.bad(field, "%q: want a duration such as 90s, 30m or 24h", text)
	case d < time.Second:
		c.bad(field, "%q: must be at least 1s (leave it out for the default)", text)
	case d%time.Second != 0:
		c.bad(field, "%q: want whole seconds", text)
	case d > most:
		c.bad(field, "%q: at most %s", text, most)
	default:
		return int64(d / time.Second)
	}
	return 0
}
