package jobspec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Defaults and limits of a pipeline's own fields.
const (
	DefaultStepTries    = 3
	MaxStepTries        = 100
	DefaultStepBackoffS = 30
	MaxStepBackoffS     = 24 * 3600
	DefaultMinRows      = 1
)

// sampleSlot is the slot a pipeline is rendered with at submit: a template
// that renders to a bad spec is refused then, not at 2 a.m.
var sampleSlot = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// SlotData is what a pipeline's templates see: {{ .Slot.Format
// "2006-01-02" }}, {{ .Run }}, {{ .Schedule }}. Slot is in the schedule's
// time zone, so "the day" of a nightly run is the schedule's day.
type SlotData struct {
	Slot     time.Time
	Run      string
	Schedule string
}

// Rendered is a pipeline rendered for one slot: the normalised job of each
// job step, nil when the pipeline has no such step.
type Rendered struct {
	Ingest, Train, Score *pb.JobSpec
}

// Pipeline puts a pipeline template in its canonical form, fills its
// defaults and validates it, with paths relative to the pipeline
// ("train.epochs", "ingest.sources[0]"). The steps' own rules are their
// job kinds': templated fields cannot be checked as written, so the
// pipeline is rendered with a sample slot and every rendered job is
// checked by Normalize.
func Pipeline(p *pb.PipelineSpec) error {
	c := newChecker()
	if p == nil {
		c.bad("", "no pipeline spec")
		return c.errs.err()
	}
	pipeline(c, p, SlotData{Slot: sampleSlot, Run: "sample", Schedule: "sample"})
	return c.errs.err()
}

func pipeline(c checker, p *pb.PipelineSpec, sample SlotData) {
	p.Pool = strings.TrimSpace(p.Pool)
	if p.Ingest == nil && p.Train == nil && p.Score == nil {
		c.bad("", "no step: want ingest, train or score (or several)")
	}
	// The templates take their kinds' canonical form and defaults here;
	// their errors are told by the sample render below, where the
	// templated and wired fields hold real values.
	discard := newChecker()
	if p.Ingest != nil {
		shardSpec(discard, p.Ingest)
	}
	if p.Train != nil {
		train(discard, p.Train)
	}
	if p.Score != nil {
		score(discard, p.Score)
	}
	if p.StepTries == 0 {
		p.StepTries = DefaultStepTries
	}
	if p.StepBackoffS == 0 {
		p.StepBackoffS = DefaultStepBackoffS
	}
	c.inRange("step_tries", int64(p.StepTries), 1, MaxStepTries)
	c.inRange("step_backoff_s", p.StepBackoffS, 1, MaxStepBackoffS)
	// An empty dataset never trains a model: a pipeline that ingests or
	// trains always validates at least that.
	if p.Validate == nil && (p.Ingest != nil || p.Train != nil) {
		p.Validate = &pb.ValidateSpec{}
	}
	if p.Validate != nil {
		validateStep(c.at("validate"), p.Validate)
	}
	render(c, p, sample)
}

func validateStep(c checker, v *pb.ValidateSpec) {
	if v.MinRows == 0 {
		v.MinRows = DefaultMinRows
	}
	if v.MinRows < 1 {
		c.bad("min_rows", "must be ≥ 1 (0: %d), got %d", DefaultMinRows, v.MinRows)
	}
	seen := map[string]bool{}
	for i, col := range v.RequiredColumns {
		col = strings.TrimSpace(col)
		v.RequiredColumns[i] = col
		switch {
		case col == "":
			c.bad(index("required_columns", i), "empty column name")
		case seen[col]:
			c.bad(index("required_columns", i), "column %q is listed twice", col)
		}
		seen[col] = true
	}
	seen = map[string]bool{}
	for i, col := range v.IgnoreColumns {
		col = strings.TrimSpace(col)
		v.IgnoreColumns[i] = col
		switch {
		case col == "":
			c.bad(index("ignore_columns", i), "empty column name")
		case seen[col]:
			c.bad(index("ignore_columns", i), "column %q is listed twice", col)
		}
		seen[col] = true
	}
	// The row ratios replace the inferred contract's; an explicit contract
	// has its own (contract.min_rows_ratio, contract.max_rows_ratio).
	lo, hi := v.MinRowsRatio, v.MaxRowsRatio
	for _, r := range []struct {
		field string
		v     float64
	}{{"min_rows_ratio", lo}, {"max_rows_ratio", hi}} {
		switch {
		case math.IsNaN(r.v) || math.IsInf(r.v, 0):
			c.bad(r.field, "%v: want a finite number", r.v)
			lo, hi = 0, 0
		case r.v < 0:
			c.bad(r.field, "must be ≥ 0 (0: the inferred contract's), got %g", r.v)
			lo, hi = 0, 0
		case r.v > 0 && v.Contract != nil:
			c.bad(r.field, "an explicit contract has its own row bounds: set them there")
			lo, hi = 0, 0
		}
	}
	if lo > 0 || hi > 0 {
		if lo == 0 {
			lo = DefaultMinRowsRatio
		}
		if hi == 0 {
			hi = DefaultMaxRowsRatio
		}
		if lo > hi {
			c.bad("min_rows_ratio", "%g is above the maximum ratio (%g)", lo, hi)
		}
	}
	// The reference is a registry reference or an artifact folder, as a
	// score step's model; whether it exists (and has a profile) is told
	// when the step runs.
	switch v.Against = strings.TrimSpace(v.Against); {
	case v.Against == "":
	case IsModelRef(v.Against):
		if _, err := ParseModelRef(v.Against); err != nil {
			c.bad("against", "%v", err)
		}
	default:
		v.Against = CanonicalURI(v.Against)
		c.checkURI("against", v.Against)
	}
	// The contract's columns are checked against the reference when the
	// step runs (ContractColumns); the drift policy takes its defaults now.
	if v.Contract != nil {
		checkContract(c.at("contract"), v.Contract)
	}
	if v.Drift != nil {
		v.Drift = normalizeDrift(c.at("drift"), v.Drift)
	}
}

// ValidateColumns lists the columns the validate step requires of the
// dataset: its required_columns, the train step's label and features;
// sorted, each once.
func ValidateColumns(p *pb.PipelineSpec) []string {
	cols := slices.Clone(p.GetValidate().GetRequiredColumns())
	if t := p.GetTrain(); t != nil {
		cols = append(cols, t.Label)
		for _, f := range t.Features {
			cols = append(cols, f.GetColumn())
		}
	}
	cols = slices.DeleteFunc(cols, func(s string) bool { return s == "" })
	slices.Sort(cols)
	return slices.Compact(cols)
}

// Render renders a pipeline for one slot: it fills the templated fields,
// wires the steps together (train.dataset and score.input "" read the
// ingested dataset, score.model "" is the train step's model@production),
// gives every job the pipeline's pool and max_attempts, and normalises
// each job. p is not changed; the same p and d render the same jobs.
// The error is an Errors with paths relative to the pipeline.
func Render(p *pb.PipelineSpec, d SlotData) (*Rendered, error) {
	c := newChecker()
	r := render(c, p, d)
	if err := c.errs.err(); err != nil {
		return nil, err
	}
	return r, nil
}

func render(c checker, p *pb.PipelineSpec, d SlotData) *Rendered {
	r := &Rendered{}
	told := map[string]bool{}
	dataset := "" // the ingest step's output, which the later steps read
	if p.Ingest != nil {
		s := newStep(c, "ingest", d)
		sp := proto.Clone(p.Ingest).(*pb.ShardSpec)
		for i, src := range sp.Sources {
			sp.Sources[i] = s.fill(index("sources", i), src)
		}
		sp.Output = s.fill("output", sp.Output)
		r.Ingest = s.normalize(p, &pb.JobSpec{Kind: &pb.JobSpec_Shard{Shard: sp}}, told)
		dataset = sp.Output
	}
	if p.Train != nil {
		s := newStep(c, "train", d)
		sp := proto.Clone(p.Train).(*pb.TrainSpec)
		sp.Dataset = s.wire("dataset", s.fill("dataset", sp.Dataset), dataset, p.Ingest != nil, "ingest")
		sp.Output = s.fill("output", sp.Output)
		r.Train = s.normalize(p, &pb.JobSpec{Kind: &pb.JobSpec_Train{Train: sp}}, told)
	}
	if p.Score != nil {
		s := newStep(c, "score", d)
		sp := proto.Clone(p.Score).(*pb.ScoreSpec)
		sp.Input = s.wire("input", s.fill("input", sp.Input), dataset, p.Ingest != nil, "ingest")
		sp.Output = s.fill("output", sp.Output)
		model := ""
		if p.Train != nil {
			model = ModelRef{Name: strings.TrimSpace(p.Train.ModelName), Alias: AliasProduction}.String()
		}
		sp.Model = s.wire("model", sp.Model, model, p.Train != nil, "train")
		r.Score = s.normalize(p, &pb.JobSpec{Kind: &pb.JobSpec_Score{Score: sp}}, told)
	}
	return r
}

// step renders one job step. skip names the step's fields whose errors
// are told already, or by another field: a template that failed, a value
// wired from another step.
type step struct {
	c    checker
	name string
	d    SlotData
	skip map[string]bool
}

func newStep(c checker, name string, d SlotData) *step {
	return &step{c: c, name: name, d: d, skip: map[string]bool{}}
}

// fill renders a templated field; "" stays "" (a required field is told
// by its kind's rules).
func (s *step) fill(field, text string) string {
	if strings.TrimSpace(text) == "" {
		return ""
	}
	out, err := renderTemplate(s.name+"."+field, text, s.d)
	if err != nil {
		s.c.at(s.name).bad(field, "%v", err)
		s.skip[field] = true
	}
	return out
}

// wire returns a field's own value, or, when it is "", the value another
// step produces (from). Without that step the field is required.
func (s *step) wire(field, own, from string, hasFrom bool, fromStep string) string {
	switch {
	case strings.TrimSpace(own) != "" || s.skip[field]:
		return own
	case !hasFrom:
		s.c.at(s.name).bad(field, "required when the pipeline has no %s step", fromStep)
	}
	s.skip[field] = true // a bad wired value is told at its source
	return from
}

// normalize gives the job the pipeline's pool and max_attempts and
// normalises it, re-rooting its errors under the step ("train.epochs").
// The job's own fields are the pipeline's: their errors are told once, at
// the pipeline's paths.
func (s *step) normalize(p *pb.PipelineSpec, js *pb.JobSpec, told map[string]bool) *pb.JobSpec {
	js.Pool, js.MaxAttempts = p.Pool, p.MaxAttempts
	var es Errors
	errors.As(Normalize(js), &es)
	for _, e := range es {
		switch {
		case s.skip[e.Path]:
		case e.Path == "pool" || e.Path == "max_attempts":
			if !told[e.Error()] {
				told[e.Error()] = true
				s.c.bad(e.Path, "%s", e.Msg)
			}
		default:
			s.c.at(s.name).bad(e.Path, "%s", e.Msg)
		}
	}
	return js
}

// MaxTemplateLen caps a templated field, as written and as rendered.
const MaxTemplateLen = 4096

// A templated field is a URI with a few substitutions, rendered by the
// coordinator for every run: loops, nested templates and huge printf
// widths are refused, so no spec can make rendering slow or big.
var (
	templateFuncs = template.FuncMap{"printf": boundedPrintf}
	wideVerbRE    = regexp.MustCompile(`%[^%a-zA-Z]*(\*|\d{4,})`)
	templateLocRE = regexp.MustCompile(`^\d+(:\d+)?: `)
)

// renderTemplate executes one templated field (name is its path) with d;
// the result is trimmed and never empty.
func renderTemplate(name, text string, d SlotData) (string, error) {
	if len(text) > MaxTemplateLen {
		return "", fmt.Errorf("at most %d bytes, got %d", MaxTemplateLen, len(text))
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return "", templateError(name, err)
	}
	for _, other := range t.Templates() {
		if other.Name() != name {
			return "", errors.New("template: define is not allowed in a templated field")
		}
	}
	if err := simpleTemplate(t.Root); err != nil {
		return "", err
	}
	var out limitedBuffer
	if err := t.Execute(&out, d); err != nil {
		return "", templateError(name, err)
	}
	s := strings.TrimSpace(out.String())
	if s == "" {
		return "", errors.New("the template renders to an empty string")
	}
	return s, nil
}

// simpleTemplate refuses the actions that repeat or nest templates.
func simpleTemplate(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := simpleTemplate(c); err != nil {
				return err
			}
		}
	case *parse.IfNode:
		return errors.Join(simpleTemplate(n.List), simpleTemplate(n.ElseList))
	case *parse.WithNode:
		return errors.Join(simpleTemplate(n.List), simpleTemplate(n.ElseList))
	case *parse.RangeNode:
		return errors.New("template: range is not allowed in a templated field")
	case *parse.TemplateNode:
		return errors.New("template: template and block are not allowed in a templated field")
	}
	return nil
}

// templateError drops what the field's path already says: the template's
// name and the position on its one line.
func templateError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	msg = strings.TrimPrefix(msg, name+":")
	msg = templateLocRE.ReplaceAllString(msg, "")
	msg = strings.Replace(msg, fmt.Sprintf("executing %q at ", name), "", 1)
	return errors.New("template: " + msg)
}

// boundedPrintf is printf without widths and precisions of 4 digits or
// more (or from an argument), which would allocate at will.
func boundedPrintf(format string, args ...any) (string, error) {
	if wideVerbRE.MatchString(format) {
		return "", errors.New("widths and precisions are limited to 3 digits")
	}
	return fmt.Sprintf(format, args...), nil
}

// limitedBuffer fails a write past MaxTemplateLen bytes, which stops the
// template.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxTemplateLen {
		return 0, fmt.Errorf("renders to more than %d bytes", MaxTemplateLen)
	}
	return b.Buffer.Write(p)
}
