package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/sample"
)

const goodScheduleFile = `name: churn-nightly
cron: "0 2 * * *"
time_zone: Europe/Berlin
description: nightly churn
policy: {catchup: all, catchup_window: 12h, overlap: buffer_one, pause_after_failures: 2}
pipeline:
  pool: batch
  max_attempts: 2
  step_tries: 5
  step_backoff: 2m
  ingest:
    sources:
      - 'file:///lake/events/{{ .Slot.Format "2006-01-02" }}/'
    output: 'file:///ds/events-{{ .Slot.Format "2006-01-02" }}'
    options: {label: label, rows_per_shard: 25000, format: csv}
  validate: {min_rows: 10, required_columns: [id]}
  train:
    model_name: churn
    output: file:///models
    label: label
    features:
      - {column: age, kind: numeric}
    model: {family: logistic}
    epochs: 2
    promotion: {metric: logloss, margin: 0.001}
  score:
    output: 'file:///scored/{{ .Run }}'
    passthrough: [id]
`

func TestScheduleFileDecodes(t *testing.T) {
	sp, err := parseScheduleFile("nightly.yaml", []byte(goodScheduleFile))
	if err != nil {
		t.Fatal(err)
	}
	if sp.Name != "churn-nightly" || sp.Cron != "0 2 * * *" || sp.TimeZone != "Europe/Berlin" || sp.Description != "nightly churn" ||
		!proto.Equal(sp.Policy, &nsv1.SchedulePolicy{Catchup: "all", CatchupWindowS: 12 * 3600, Overlap: "buffer_one", PauseAfterFailures: 2}) {
		t.Errorf("schedule: %v", sp)
	}
	p := sp.Pipeline
	if p.Pool != "batch" || p.MaxAttempts != 2 || p.StepTries != 5 || p.StepBackoffS != 120 ||
		p.Ingest.Output != `file:///ds/events-{{ .Slot.Format "2006-01-02" }}` ||
		string(p.Ingest.OptionsJson) != `{"format":"csv","label":"label","rows_per_shard":25000}` ||
		p.Validate.MinRows != 10 || p.Train.Epochs != 2 || p.Train.Dataset != "" || p.Score.Model != "" || p.Score.Format != "parquet" {
		t.Errorf("pipeline: %v", p)
	}
	// What the file says is what a run gets: the sample day renders.
	if err := jobspec.Pipeline(proto.Clone(p).(*nsv1.PipelineSpec)); err != nil {
		t.Error(err)
	}
}

// TestScheduleFileErrors changes one line of the good file at a time: each
// error names the file, the line and the field.
func TestScheduleFileErrors(t *testing.T) {
	for _, tc := range []struct {
		old, new string // replace the first old by new
		want     string
	}{
		{"  pool: batch", "  pool: batch\n  colour: red", "nightly.yaml:8: pipeline.colour: unknown field"},
		{"    passthrough: [id]", "    passthrough: [id]\n    model_nmae: x", "nightly.yaml:29: pipeline.score.model_nmae: unknown field"},
		{"    model: {family: logistic}", "    model: {family: logistic, colour: red}", "nightly.yaml:23: pipeline.train.model.colour: unknown field"},
		{`cron: "0 2 * * *"`, `cron: "0 25 * * *"`, `nightly.yaml:2: cron: cron "0 25 * * *": hour field "25": 25 is out of range 0-23`},
		{"time_zone: Europe/Berlin", "time_zone: Europe/Atlantis", `nightly.yaml:3: time_zone: time zone "Europe/Atlantis": not an IANA zone name`},
		{`{{ .Slot.Format "2006-01-02" }}/'`, `{{ .Slot.Format "2006-01-02" }/'`, `nightly.yaml:13: pipeline.ingest.sources[0]: template: unexpected "}" in operand`},
		{"{{ .Run }}", "{{ .Runn }}", "nightly.yaml:27: pipeline.score.output: template: <.Runn>: can't evaluate field Runn"},
		{"step_tries: 5", "step_tries: many", `nightly.yaml:9: pipeline.step_tries: want an integer, got "many"`},
		{"step_tries: 5", "step_tries: 0", "nightly.yaml:9: pipeline.step_tries: must be ≥ 1"},
		{"step_backoff: 2m", "step_backoff: 2 minutes", `nightly.yaml:10: pipeline.step_backoff: "2 minutes": want a duration`},
		{"catchup_window: 12h", "catchup_window: 1y", `nightly.yaml:5: policy.catchup_window: "1y": want a duration`},
		{"policy: {", "policy: {colour: red, ", "nightly.yaml:5: policy.colour: unknown field"},
		{"epochs: 2", "epochs: 0", "nightly.yaml:24: pipeline.train.epochs: must be ≥ 1"},
		{"epochs: 2", "epochs: two", `nightly.yaml:24: pipeline.train.epochs: want an integer, got "two"`},
		{"  train:\n", "  train:\n    pool: gpu\n", "nightly.yaml:18: pipeline.train.pool: not in a pipeline"},
		{"min_rows: 10", "min_rows: -1", "nightly.yaml:16: pipeline.validate.min_rows: must be ≥ 1"},
		{"rows_per_shard: 25000", "rows_per_shard: many", "nightly.yaml:15: pipeline.ingest.options.rows_per_shard: want an integer, got string"},
		{"rows_per_shard: 25000", "rows_per_shard: 25000, shards: 3", "nightly.yaml:15: pipeline.ingest.options.shards: unknown option (want format, rows_per_shard,"},
		{"options: {label: label, rows_per_shard: 25000, format: csv}", "options: [label]", "nightly.yaml:15: pipeline.ingest.options: want a mapping"},
		{"    sources:\n      - 'file:///lake/events/{{ .Slot.Format \"2006-01-02\" }}/'",
			"    sources: [file:///lake/events/{{ .Slot.Format \"2006-01-02\" }}/]", "(in YAML, quote a value that holds a template"},
		{"model_name: churn", "model_name: Churn", `nightly.yaml:18: pipeline.train.model_name: "Churn": want lower-case`},
		{"label: label\n    features", "features", "nightly.yaml:17: pipeline.train.label: required"},
		{"pipeline:\n", "pipeline: 3\nx:\n", `nightly.yaml:6: pipeline: want a mapping, got "3"`},
	} {
		if !strings.Contains(goodScheduleFile, tc.old) {
			t.Fatalf("the good file has no %q", tc.old)
		}
		_, err := parseScheduleFile("nightly.yaml", []byte(strings.Replace(goodScheduleFile, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q → %q: got %v, want one line with %q", tc.old, tc.new, err, tc.want)
		}
	}
	// Several bad fields are reported at once, in the file's order.
	two := strings.Replace(strings.Replace(goodScheduleFile, "epochs: 2", "epochs: 0", 1), "time_zone: Europe/Berlin", "time_zone: Nowhere", 1)
	if _, err := parseScheduleFile("nightly.yaml", []byte(two)); err == nil ||
		!strings.HasPrefix(err.Error(), "nightly.yaml:3: time_zone") || !strings.Contains(err.Error(), "; nightly.yaml:24: pipeline.train.epochs") {
		t.Errorf("two bad fields: %v", err)
	}
	for doc, want := range map[string]string{
		"":                                "nightly.yaml: the schedule file is empty",
		goodScheduleFile + "---\nname: x": "nightly.yaml:29: a schedule file holds one YAML document",
		"name: n\ncron: '@daily'\n":       "nightly.yaml: pipeline: required",
	} {
		if _, err := parseScheduleFile("nightly.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", doc, err, want)
		}
	}
	if _, err := loadScheduleFile(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.HasPrefix(err.Error(), "schedule file: ") {
		t.Errorf("missing file: %v", err)
	}
}

// TestScheduleExampleFilesParse loads every deploy/examples/nightly*.yaml;
// their train steps read the demo's sample dataset.
func TestScheduleExampleFilesParse(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("..", "..", "deploy", "examples", "nightly*.yaml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no example schedule files: %v", err)
	}
	cols := map[string]bool{}
	for _, f := range sample.Schema(sample.Spec{Features: 8}).Fields() { // the demo's default --features
		cols[f.Name] = true
	}
	for _, name := range names {
		sp, err := loadScheduleFile(name)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, col := range jobspec.ValidateColumns(sp.Pipeline) {
			if !cols[col] {
				t.Errorf("%s: column %q is not a column of the sample dataset", name, col)
			}
		}
		if _, err := os.Stat(name); err != nil {
			t.Error(err)
		}
	}
}
