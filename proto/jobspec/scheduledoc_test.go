package jobspec

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

const goodScheduleDoc = `name: churn-nightly
cron: "0 2 * * *"
time_zone: Europe/Berlin
description: nightly churn model
policy: {catchup: all, catchup_window: 36h, overlap: buffer_one, pause_after_failures: 5}
pipeline:
  pool: batch
  max_attempts: 2
  step_tries: 4
  step_backoff: 1m
  ingest:
    sources: ['file:///lake/events/{{ .Slot.Format "2006-01-02" }}/']
    output: 'file:///ds/events-{{ .Slot.Format "2006-01-02" }}'
    options: {label: label, rows_per_shard: 25000}
  validate:
    min_rows: 100
    required_columns: [id]
    against: churn@v3
    fail_on_warn: true
    ignore_columns: [id]
    contract:
      rows: {min_ratio: 0.5}
      columns:
        - {name: age, type: numeric, required: true, max_null_fraction: 0.05, min: 0, max: 130}
    drift:
      psi: {warn: 0.2}
      columns: [{name: age, warn: 0.3, fail: 0.6}]
  train:
    model_name: churn
    output: file:///models
    label: label
    features: [{column: age, kind: numeric}]
    model: {family: logistic}
    epochs: 2
    promotion: {metric: logloss, margin: 0.001}
  score: {output: 'file:///scored/{{ .Run }}', passthrough: [id], format: arrow}
`

func decodeScheduleDoc(t *testing.T, text string) *ScheduleDoc {
	t.Helper()
	var d ScheduleDoc
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &d
}

func TestScheduleDocSpec(t *testing.T) {
	sp, err := decodeScheduleDoc(t, goodScheduleDoc).Spec()
	if err != nil {
		t.Fatal(err)
	}
	if sp.Name != "churn-nightly" || sp.Cron != "0 2 * * *" || sp.TimeZone != "Europe/Berlin" || sp.Description != "nightly churn model" {
		t.Errorf("schedule: %v", sp)
	}
	if !proto.Equal(sp.Policy, &pb.SchedulePolicy{Catchup: "all", CatchupWindowS: 36 * 3600, Overlap: "buffer_one", PauseAfterFailures: 5}) {
		t.Errorf("policy: %v", sp.Policy)
	}
	p := sp.Pipeline
	if p.Pool != "batch" || p.MaxAttempts != 2 || p.StepTries != 4 || p.StepBackoffS != 60 {
		t.Errorf("pipeline: %v", p)
	}
	if p.Ingest.Sources[0] != `file:///lake/events/{{ .Slot.Format "2006-01-02" }}` || string(p.Ingest.OptionsJson) != `{"label":"label","rows_per_shard":25000}` {
		t.Errorf("ingest: %v", p.Ingest)
	}
	wantValidate := &pb.ValidateSpec{MinRows: 100, RequiredColumns: []string{"id"}, Against: "churn@v3", FailOnWarn: true, IgnoreColumns: []string{"id"},
		Contract: &pb.DataContract{MinRowsRatio: 0.5, Columns: []*pb.ColumnContract{{Name: "age", Kind: pb.ColumnKind_COLUMN_KIND_NUMERIC,
			Required: true, MaxNullFraction: 0.05, HasMin: true, HasMax: true, Max: 130}}},
		Drift: &pb.DriftPolicy{PsiWarn: 0.2, PsiFail: DefaultPSIFail, JsWarn: DefaultJSWarn, JsFail: DefaultJSFail,
			DriftedShareFail: DefaultDriftedShare, Columns: []*pb.ColumnDrift{{Name: "age", Warn: 0.3, Fail: 0.6}}}}
	if !proto.Equal(p.Validate, wantValidate) {
		t.Errorf("validate: %v", p.Validate)
	}
	// The train step takes a job file's defaults (seed, holdout); its dataset is wired.
	if tr := p.Train; tr.Dataset != "" || tr.Epochs != 2 || tr.Seed != FileDefaultSeed || tr.Holdout != FileDefaultHoldout || tr.Promotion.Metric != "logloss" {
		t.Errorf("train: %v", tr)
	}
	if sc := p.Score; sc.Model != "" || sc.Input != "" || sc.Format != "arrow" || sc.Passthrough[0] != "id" {
		t.Errorf("score: %v", sc)
	}
	// Defaults of what is left out.
	sp, err = decodeScheduleDoc(t, "name: n\ncron: '@daily'\npipeline: {score: {model: m, input: file:///i, output: file:///o}}\n").Spec()
	if err != nil {
		t.Fatal(err)
	}
	if sp.Policy.CatchupWindowS != DefaultCatchupWindowS || sp.Policy.PauseAfterFailures != DefaultPauseAfterFailures ||
		sp.Pipeline.StepBackoffS != DefaultStepBackoffS || sp.Pipeline.StepTries != DefaultStepTries {
		t.Errorf("defaults: %v", sp)
	}
}

func TestScheduleDocErrorsNameTheYAMLPath(t *testing.T) {
	for _, tc := range []struct {
		old, new string // replace old by new in the good document
		want     []string
	}{
		{"catchup_window: 36h", "catchup_window: 36", []string{`policy.catchup_window: "36": want a duration`}},
		{"catchup_window: 36h", "catchup_window: 0s", []string{`policy.catchup_window: "0s": must be at least 1s`}},
		{"catchup_window: 36h", "catchup_window: 1500ms", []string{`policy.catchup_window: "1500ms": want whole seconds`}},
		{"catchup_window: 36h", "catchup_window: 9000h", []string{`policy.catchup_window: "9000h": at most 8784h0m0s`}},
		{"pause_after_failures: 5", "pause_after_failures: 0", []string{"policy.pause_after_failures: must be ≥ 1"}},
		{"overlap: buffer_one", "overlap: queue", []string{`policy.overlap: "queue"`}},
		{"step_backoff: 1m", "step_backoff: 2d", []string{`pipeline.step_backoff: "2d": want a duration`}},
		{"step_backoff: 1m", "step_backoff: 25h", []string{`pipeline.step_backoff: "25h": at most 24h0m0s`}},
		{"step_tries: 4", "step_tries: 0", []string{"pipeline.step_tries: must be ≥ 1"}},
		{"min_rows: 100", "min_rows: 0", []string{"pipeline.validate.min_rows: must be ≥ 1"}},
		// The data gates are told at their document paths.
		{"type: numeric, required", "type: date, required", []string{`pipeline.validate.contract.columns[0].type: "date": want numeric, categorical or other`}},
		{"rows: {min_ratio: 0.5}", "rows: {min_ratio: 3, max_ratio: 2}", []string{"pipeline.validate.contract.rows.min_ratio: 3 is above the maximum ratio (2)"}},
		{"max: 130}", "max: 130, allowed: [x]}", []string{"pipeline.validate.contract.columns[0].allowed: allowed values need a categorical column"}},
		{"psi: {warn: 0.2}", "psi: {warn: 0.3, fail: 0.25}", []string{"pipeline.validate.drift.psi.warn: 0.3 is above the fail threshold (0.25)"}},
		{"psi: {warn: 0.2}", "psi: {warn: 0}\n      js: {fail: 2}", []string{"pipeline.validate.drift.psi.warn: must be > 0 (leave it out for the default 0.1)",
			"pipeline.validate.drift.js.fail: at most 1, got 2"}},
		{"{name: age, warn: 0.3, fail: 0.6}", "{name: age, warn: 0.3}", []string{"pipeline.validate.drift.columns[0].fail: must be > 0 when warn is set"}},
		{"ignore_columns: [id]", "ignore_columns: [id, id]", []string{`pipeline.validate.ignore_columns[1]: column "id" is listed twice`}},
		{"ignore_columns: [id]", "max_rows_ratio: 0", []string{"pipeline.validate.max_rows_ratio: must be > 0 (leave it out for the default 2)"}},
		{"ignore_columns: [id]", "min_rows_ratio: 0.5", []string{"pipeline.validate.min_rows_ratio: an explicit contract has its own row bounds"}},
		{"against: churn@v3", "against: churn@latest", []string{`pipeline.validate.against: model churn: "latest" is neither`}},
		{"rows_per_shard: 25000", "rows_per_shard: .inf", []string{"pipeline.ingest.options: json: unsupported value"}},
		{"epochs: 2", "epochs: 0", []string{"pipeline.train.epochs: must be ≥ 1"}},
		{"epochs: 2", "epochs: 2\n    pool: gpu\n    name: x\n    max_attempts: 3",
			[]string{"pipeline.train.name: not in a pipeline", "pipeline.train.pool: not in a pipeline", "pipeline.train.max_attempts: not in a pipeline"}},
		{"kind: numeric", "kind: text", []string{`pipeline.train.features[0].kind: "text"`}},
		{"{{ .Run }}", "{{ .Run }", []string{"pipeline.score.output: template:"}},
		{`cron: "0 2 * * *"`, `cron: "0 25 * * *"`, []string{"cron: cron"}},
		{"time_zone: Europe/Berlin", "time_zone: Mars/Olympus", []string{"time_zone: time zone"}},
	} {
		if !strings.Contains(goodScheduleDoc, tc.old) {
			t.Fatalf("the good document has no %q", tc.old)
		}
		_, err := decodeScheduleDoc(t, strings.Replace(goodScheduleDoc, tc.old, tc.new, 1)).Spec()
		var es Errors
		if !errors.As(err, &es) || len(es) != len(tc.want) {
			t.Errorf("%s: got %v, want %d errors", tc.new, err, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(es[i].Error(), w) {
				t.Errorf("%s: error %q does not start with %q", tc.new, es[i].Error(), w)
			}
		}
	}
	if _, err := (&ScheduleDoc{Name: "n", Cron: "@daily"}).Spec(); err == nil || err.Error() != "pipeline: required (the steps each slot runs: ingest, validate, train, score)" {
		t.Errorf("no pipeline: %v", err)
	}
}
