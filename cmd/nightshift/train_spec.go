package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/storage"
)

// A training job file (`nightshift train -f JOB.yaml`) is decoded strictly
// into trainFile (an unknown field is an error), turned into a JobSpec with
// the CLI's defaults filled in, and validated. Every error names the file,
// the line and the field: "job.yaml:7: optimizer.lr: must be > 0".

// trainFile is the job file. Pointers tell a field left out (which takes
// its default) from one set to zero (which is checked).
type trainFile struct {
	Name           string           `yaml:"name"`
	ModelName      string           `yaml:"model_name"`
	Dataset        string           `yaml:"dataset"`
	Output         string           `yaml:"output"`
	Label          string           `yaml:"label"`
	Features       []trainFeature   `yaml:"features"`
	Model          *trainModel      `yaml:"model"`
	Optimizer      *trainOptimizer  `yaml:"optimizer"`
	Epochs         *int32           `yaml:"epochs"`
	BatchPerMember *int32           `yaml:"batch_per_member"`
	Members        *trainMembers    `yaml:"members"`
	Pool           string           `yaml:"pool"`
	Seed           *uint64          `yaml:"seed"`
	Holdout        *float64         `yaml:"holdout"`
	Checkpoint     *trainCheckpoint `yaml:"checkpoint"`
	Promotion      *trainPromotion  `yaml:"promotion"`
	MaxRestarts    int32            `yaml:"max_restarts"`
	AuditSamples   bool             `yaml:"audit_samples"`
	MaxAttempts    int32            `yaml:"max_attempts"`
}

type trainFeature struct {
	Column  string `yaml:"column"`
	Kind    string `yaml:"kind"`
	Buckets int32  `yaml:"buckets"`
	Missing string `yaml:"missing"`
}

type trainModel struct {
	Family    string   `yaml:"family"`
	Hidden    []int32  `yaml:"hidden"`
	Objective string   `yaml:"objective"`
	Classes   []string `yaml:"classes"`
	L2        float64  `yaml:"l2"`
}

type trainOptimizer struct {
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

type trainMembers struct {
	Min *int32 `yaml:"min"`
	Max *int32 `yaml:"max"`
}

type trainCheckpoint struct {
	EverySteps   int32 `yaml:"every_steps"`
	EverySeconds int32 `yaml:"every_seconds"`
}

type trainPromotion struct {
	Metric string  `yaml:"metric"`
	Margin float64 `yaml:"margin"`
	Manual bool    `yaml:"manual"`
}

// Defaults the CLI fills in for fields a job file leaves out.
const (
	defaultOptimizer      = "adam"
	defaultLR             = 0.01
	defaultSchedule       = "constant"
	defaultEpochs         = 1
	defaultBatchPerMember = 1024
	defaultMinMembers     = 1
	defaultTrainSeed      = 1
	defaultHoldout        = 0.2
)

// trainJob is a decoded, validated job file.
type trainJob struct {
	// path names the file in errors; fields locate its lines.
	path   string
	fields yamlFieldList
	spec   *nsv1.JobSpec
}

// loadTrainFile reads a job file and returns its validated JobSpec.
func loadTrainFile(path string) (*trainJob, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("job file: %w", err)
	}
	return parseTrainFile(path, data)
}

// parseTrainFile decodes, defaults and validates a job file; path names it
// in errors. All bad fields are reported at once, on one line.
func parseTrainFile(path string, data []byte) (*trainJob, error) {
	job := &trainJob{path: path, fields: yamlFields(data)}
	var f trainFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: the job file is empty", path)
	} else if err != nil {
		return nil, errors.New(strings.Join(explainTrainYAML(path, job.fields, err), "; "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s:%d: a job file holds one YAML document", path, extra.Line)
	}
	job.spec = f.jobSpec()
	if errs := validateTrain(job.spec); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = job.fields.at(path, e.path) + e.path + ": " + e.msg
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	return job, nil
}

// jobSpec maps the file to a JobSpec, filling in the defaults and putting
// names and URIs in their canonical form, so equal files make equal specs
// (and idempotency keys).
func (f *trainFile) jobSpec() *nsv1.JobSpec {
	lower := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	ts := &nsv1.TrainSpec{
		Dataset:        trimURI(f.Dataset),
		Label:          strings.TrimSpace(f.Label),
		Model:          &nsv1.ModelConfig{},
		Optimizer:      &nsv1.OptimizerConfig{Name: defaultOptimizer, Lr: defaultLR, Schedule: defaultSchedule},
		Epochs:         orDefault(f.Epochs, defaultEpochs),
		BatchPerMember: orDefault(f.BatchPerMember, defaultBatchPerMember),
		MinMembers:     defaultMinMembers,
		Seed:           orDefault(f.Seed, defaultTrainSeed),
		Holdout:        orDefault(f.Holdout, defaultHoldout),
		Promotion:      &nsv1.PromotionPolicy{},
		ModelName:      strings.TrimSpace(f.ModelName),
		Output:         trimURI(f.Output),
		MaxRestarts:    f.MaxRestarts,
		AuditSamples:   f.AuditSamples,
	}
	for _, c := range f.Features {
		ts.Features = append(ts.Features, &nsv1.FeatureSpec{Column: strings.TrimSpace(c.Column), Kind: lower(c.Kind),
			Buckets: c.Buckets, Missing: lower(c.Missing)})
	}
	if m := f.Model; m != nil {
		ts.Model = &nsv1.ModelConfig{Family: lower(m.Family), Hidden: m.Hidden, Objective: lower(m.Objective),
			Classes: m.Classes, L2: m.L2}
	}
	if o := f.Optimizer; o != nil {
		ts.Optimizer = &nsv1.OptimizerConfig{Name: lower(o.Name), Lr: orDefault(o.LR, defaultLR), Momentum: o.Momentum,
			Nesterov: o.Nesterov, Schedule: lower(o.Schedule), DecaySteps: o.DecaySteps, DecayRate: o.DecayRate,
			MaxIterations: o.MaxIterations, Tolerance: o.Tolerance}
		if ts.Optimizer.Name == "" {
			ts.Optimizer.Name = defaultOptimizer
		}
		if ts.Optimizer.Schedule == "" {
			ts.Optimizer.Schedule = defaultSchedule
		}
	}
	if m := f.Members; m != nil {
		ts.MinMembers = orDefault(m.Min, defaultMinMembers)
	}
	ts.MaxMembers = ts.MinMembers
	if m := f.Members; m != nil && m.Max != nil {
		ts.MaxMembers = *m.Max
	}
	if c := f.Checkpoint; c != nil {
		ts.CheckpointEverySteps, ts.CheckpointEveryS = c.EverySteps, c.EverySeconds
	}
	if p := f.Promotion; p != nil {
		ts.Promotion = &nsv1.PromotionPolicy{Metric: lower(p.Metric), Margin: p.Margin, Manual: p.Manual}
	}
	return &nsv1.JobSpec{Name: strings.TrimSpace(f.Name), Pool: strings.TrimSpace(f.Pool), MaxAttempts: f.MaxAttempts,
		Kind: &nsv1.JobSpec_Train{Train: ts}}
}

func orDefault[T any](p *T, def T) T {
	if p != nil {
		return *p
	}
	return def
}

// fieldError is one bad field of a job file, by its path in the file
// ("optimizer.lr", "features[1].kind").
type fieldError struct {
	path string
	msg  string
}

var trainModelNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// oneOf reports whether s is one of the words; want lists them for errors.
func oneOf(s string, words ...string) bool { return slices.Contains(words, s) }

func want(got string, words ...string) string {
	if got == "" {
		return "required (" + orList(words) + ")"
	}
	return fmt.Sprintf("%q: want %s", got, orList(words))
}

func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// validateTrain checks a training JobSpec as the job file describes it and
// returns every bad field, in file order.
func validateTrain(js *nsv1.JobSpec) []fieldError {
	var errs []fieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, fieldError{path, fmt.Sprintf(format, args...)})
	}
	sp := js.GetTrain()
	switch {
	case sp.GetModelName() == "":
		bad("model_name", "required (the registry name, e.g. churn)")
	case len(sp.GetModelName()) > 100 || !trainModelNameRE.MatchString(sp.GetModelName()):
		bad("model_name", "%q: want lower-case letters, digits, '.', '_' or '-', starting with a letter or digit (at most 100)", sp.GetModelName())
	}
	for _, u := range [][2]string{{"dataset", sp.GetDataset()}, {"output", sp.GetOutput()}} {
		if u[1] == "" {
			bad(u[0], "required (a storage URI: s3://bucket/prefix or file:///path)")
		} else if _, err := storage.ParseURI(u[1]); err != nil {
			bad(u[0], "%v", err)
		}
	}
	if sp.GetLabel() == "" {
		bad("label", "required (the label column)")
	}
	seen := map[string]bool{}
	for i, f := range sp.GetFeatures() {
		p := fmt.Sprintf("features[%d].", i)
		switch {
		case f.GetColumn() == "":
			bad(p+"column", "required")
		case f.GetColumn() == sp.GetLabel():
			bad(p+"column", "%q is the label", f.GetColumn())
		case seen[f.GetColumn()]:
			bad(p+"column", "%q is listed twice", f.GetColumn())
		}
		seen[f.GetColumn()] = true
		if !oneOf(f.GetKind(), "numeric", "categorical") {
			bad(p+"kind", "%s", want(f.GetKind(), "numeric", "categorical"))
		}
		switch {
		case f.GetBuckets() < 0:
			bad(p+"buckets", "must be ≥ 0 (0: 32)")
		case f.GetBuckets() > 0 && f.GetKind() == "numeric":
			bad(p+"buckets", "only categorical features are hashed into buckets")
		}
		switch {
		case f.GetMissing() != "" && !oneOf(f.GetMissing(), "impute", "fail", "indicator"):
			bad(p+"missing", "%q: want impute, fail or indicator", f.GetMissing())
		case f.GetMissing() == "indicator" && f.GetKind() != "numeric":
			bad(p+"missing", "indicator is for numeric features only (categorical: impute or fail)")
		}
	}
	errs = append(errs, validateModel(sp.GetModel())...)
	errs = append(errs, validateOptimizer(sp.GetOptimizer(), sp.GetModel().GetFamily())...)
	if sp.GetEpochs() < 1 {
		bad("epochs", "must be ≥ 1")
	}
	if sp.GetBatchPerMember() < 1 {
		bad("batch_per_member", "must be ≥ 1")
	}
	switch {
	case sp.GetMinMembers() < 1:
		bad("members.min", "must be ≥ 1")
	case sp.GetMaxMembers() < sp.GetMinMembers():
		bad("members.max", "must be ≥ members.min (%d)", sp.GetMinMembers())
	}
	if h := sp.GetHoldout(); !(h >= 0 && h < 1) {
		bad("holdout", "must be a fraction in [0, 1), got %g", h)
	}
	if sp.GetCheckpointEverySteps() < 0 {
		bad("checkpoint.every_steps", "must be ≥ 0 (0: not by steps)")
	}
	if sp.GetCheckpointEveryS() < 0 {
		bad("checkpoint.every_seconds", "must be ≥ 0 (0: not by time)")
	}
	if p := sp.GetPromotion(); p != nil {
		if p.GetMetric() != "" && !oneOf(p.GetMetric(), "logloss", "auc", "accuracy", "rmse") {
			bad("promotion.metric", "%q: want logloss, auc, accuracy or rmse (or leave it out: the coordinator picks by model)", p.GetMetric())
		}
		if m := p.GetMargin(); !(m >= 0) || math.IsInf(m, 0) {
			bad("promotion.margin", "must be ≥ 0")
		}
	}
	if sp.GetMaxRestarts() < 0 {
		bad("max_restarts", "must be ≥ 0 (0: 3)")
	}
	if js.GetMaxAttempts() < 0 {
		bad("max_attempts", "must be ≥ 0 (0: the coordinator's default)")
	}
	return errs
}

func validateModel(m *nsv1.ModelConfig) []fieldError {
	var errs []fieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, fieldError{path, fmt.Sprintf(format, args...)})
	}
	fam := m.GetFamily()
	if !oneOf(fam, "linear", "logistic", "softmax", "mlp") {
		bad("model.family", "%s", want(fam, "linear", "logistic", "softmax", "mlp"))
	}
	if fam == "mlp" {
		if len(m.GetHidden()) == 0 {
			bad("model.hidden", "required for mlp: the hidden layer widths, e.g. [256, 256]")
		}
		for i, h := range m.GetHidden() {
			if h < 1 {
				bad(fmt.Sprintf("model.hidden[%d]", i), "must be ≥ 1, got %d", h)
			}
		}
		if !oneOf(m.GetObjective(), "binary", "regression", "multiclass") {
			bad("model.objective", "%s", want(m.GetObjective(), "binary", "regression", "multiclass"))
		}
	} else if fam != "" {
		if len(m.GetHidden()) > 0 {
			bad("model.hidden", "only for mlp, not %s", fam)
		}
		if m.GetObjective() != "" {
			bad("model.objective", "only for mlp, not %s", fam)
		}
	}
	if cl := m.GetClasses(); len(cl) > 0 {
		if fam != "softmax" && (fam != "mlp" || m.GetObjective() != "multiclass") {
			bad("model.classes", "only softmax and mlp multiclass models have classes")
		} else if len(cl) < 2 {
			bad("model.classes", "want at least 2 classes, or leave it out (the label's distinct values)")
		}
		seen := map[string]bool{}
		for i, c := range cl {
			if c == "" || seen[c] {
				bad(fmt.Sprintf("model.classes[%d]", i), "%q is empty or listed twice", c)
			}
			seen[c] = true
		}
	}
	if l2 := m.GetL2(); !(l2 >= 0) || math.IsInf(l2, 0) {
		bad("model.l2", "must be ≥ 0")
	}
	return errs
}

func validateOptimizer(o *nsv1.OptimizerConfig, family string) []fieldError {
	var errs []fieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, fieldError{path, fmt.Sprintf(format, args...)})
	}
	switch {
	case !oneOf(o.GetName(), "sgd", "adam", "lbfgs"):
		bad("optimizer.name", "%s", want(o.GetName(), "sgd", "adam", "lbfgs"))
	case o.GetName() == "lbfgs" && family != "" && family != "linear" && family != "logistic":
		bad("optimizer.name", "lbfgs (full batch) trains linear and logistic models only, not %s", family)
	}
	if lr := o.GetLr(); !(lr > 0) || math.IsInf(lr, 0) {
		bad("optimizer.lr", "must be > 0")
	}
	if m := o.GetMomentum(); !(m >= 0 && m < 1) {
		bad("optimizer.momentum", "must be in [0, 1)")
	}
	if !oneOf(o.GetSchedule(), "constant", "step", "cosine") {
		bad("optimizer.schedule", "%s", want(o.GetSchedule(), "constant", "step", "cosine"))
	}
	if o.GetDecaySteps() < 0 {
		bad("optimizer.decay_steps", "must be ≥ 0")
	}
	if r := o.GetDecayRate(); !(r >= 0) || math.IsInf(r, 0) {
		bad("optimizer.decay_rate", "must be ≥ 0")
	}
	if o.GetMaxIterations() < 0 {
		bad("optimizer.max_iterations", "must be ≥ 0")
	}
	if t := o.GetTolerance(); !(t >= 0) || math.IsInf(t, 0) {
		bad("optimizer.tolerance", "must be ≥ 0")
	}
	return errs
}

// yamlField is one key (or sequence item) of a YAML document.
type yamlField struct {
	path  string
	line  int
	value *yaml.Node
}

// yamlFieldList is a document's fields in document order.
type yamlFieldList []yamlField

// yamlFields lists the fields of a YAML document by their dotted paths
// ("optimizer.lr", "features[1].kind"), with the line of each key.
func yamlFields(data []byte) yamlFieldList {
	var out yamlFieldList
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + p
				}
				out = append(out, yamlField{path: p, line: k.Line, value: v})
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				out = append(out, yamlField{path: p, line: c.Line, value: c})
				walk(c, p)
			}
		}
	}
	walk(&doc, "")
	return out
}

// at is the "file:line: " prefix of an error about path: the line of the
// field, else of its nearest enclosing field in the file (a required field
// left out of a feature names the feature's line), else just "file: ".
func (fs yamlFieldList) at(file, path string) string {
	for p := path; p != ""; p = parentPath(p) {
		for _, f := range fs {
			if f.path == p {
				return fmt.Sprintf("%s:%d: ", file, f.line)
			}
		}
	}
	return file + ": "
}

// parentPath drops the last element of a field path: "a.b[2]" → "a.b",
// "a.b" → "a", "a" → "".
func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// explainTrainYAML rewrites yaml.v3's decoding errors ("line 7: field foo
// not found in type main.trainModel", "line 3: cannot unmarshal !!str `x`
// into int32") as "job.yaml:7: model.foo: unknown field", naming each field
// by its path in the file. Several fields on one line (a flow mapping like
// `{column: age, kind: numeric}`) are told apart by the key or the value.
func explainTrainYAML(file string, fields yamlFieldList, err error) []string {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = slices.Clone(te.Errors)
	}
	for i, m := range msgs {
		sub := lineRE.FindStringSubmatch(m)
		if sub == nil {
			msgs[i] = file + ": " + strings.TrimPrefix(m, "yaml: ")
			continue
		}
		line, _ := strconv.Atoi(sub[1])
		msg := sub[2]
		var onLine []yamlField
		for _, f := range fields {
			if f.line == line {
				onLine = append(onLine, f)
			}
		}
		path := ""
		switch u, mm := unknownRE.FindStringSubmatch(msg), mismatchRE.FindStringSubmatch(msg); {
		case u != nil:
			path = u[1]
			for _, f := range onLine {
				if f.path == u[1] || strings.HasSuffix(f.path, "."+u[1]) {
					path = f.path
				}
			}
			msg = "unknown field"
		case mm != nil:
			got := mm[1]
			if mm[2] != "" {
				got = strconv.Quote(mm[2])
			}
			for _, f := range onLine {
				if path == "" || f.value != nil && f.value.Kind == yaml.ScalarNode && f.value.Value == mm[2] {
					path = f.path
				}
			}
			msg = fmt.Sprintf("want %s, got %s", goTypeWords(strings.TrimPrefix(mm[3], "*")), got)
		}
		if path != "" {
			msg = path + ": " + msg
		}
		msgs[i] = fmt.Sprintf("%s:%d: %s", file, line, msg)
	}
	return msgs
}
