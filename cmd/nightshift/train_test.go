package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
)

const goodTrainFile = `name: churn-nightly
model_name: churn
dataset: s3://bucket/datasets/churn/
output: s3://bucket/models
label: label
features:
  - {column: age, kind: numeric, missing: impute}
  - {column: region, kind: Categorical, buckets: 16}
model: {family: logistic, l2: 0.0001}
optimizer: {name: adam, lr: 0.01, momentum: 0.9, nesterov: false, schedule: cosine, decay_steps: 1000, decay_rate: 0.5, max_iterations: 100, tolerance: 1e-6}
epochs: 3
batch_per_member: 1024
members: {min: 2, max: 3}
pool: gpu
seed: 42
holdout: 0.25
checkpoint: {every_steps: 100, every_seconds: 60}
promotion: {metric: logloss, margin: 0.001, manual: true}
max_restarts: 5
audit_samples: true
max_attempts: 2
data: {memory_budget_mb: 256, path: Stream}
`

func TestTrainFileDecodes(t *testing.T) {
	job, err := parseTrainFile("job.yaml", []byte(goodTrainFile))
	if err != nil {
		t.Fatal(err)
	}
	want := &nsv1.JobSpec{Name: "churn-nightly", Pool: "gpu", MaxAttempts: 2, Kind: &nsv1.JobSpec_Train{Train: &nsv1.TrainSpec{
		Dataset: "s3://bucket/datasets/churn", Label: "label",
		Features: []*nsv1.FeatureSpec{
			{Column: "age", Kind: "numeric", Missing: "impute"},
			{Column: "region", Kind: "categorical", Buckets: 16, Missing: "impute"},
		},
		Model: &nsv1.ModelConfig{Family: "logistic", L2: 0.0001},
		Optimizer: &nsv1.OptimizerConfig{Name: "adam", Lr: 0.01, Momentum: 0.9, Schedule: "cosine", DecaySteps: 1000,
			DecayRate: 0.5, MaxIterations: 100, Tolerance: 1e-6},
		Epochs: 3, BatchPerMember: 1024, MinMembers: 2, MaxMembers: 3, Seed: 42, Holdout: 0.25,
		CheckpointEverySteps: 100, CheckpointEveryS: 60,
		Promotion: &nsv1.PromotionPolicy{Metric: "logloss", Margin: proto.Float64(0.001), Manual: true},
		ModelName: "churn", Output: "s3://bucket/models", MaxRestarts: 5, AuditSamples: true,
		MemoryBudgetMb: 256, DataPath: "stream",
	}}}
	if !proto.Equal(want, job.spec) {
		t.Fatalf("spec:\n got %s\nwant %s", prototext.Format(job.spec), prototext.Format(want))
	}
}

func TestTrainFileDefaults(t *testing.T) {
	job, err := parseTrainFile("job.yaml", []byte("model_name: m\ndataset: file:///d\noutput: file:///o\nlabel: y\nmodel: {family: linear}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &nsv1.JobSpec{Kind: &nsv1.JobSpec_Train{Train: &nsv1.TrainSpec{
		Dataset: "file:///d", Label: "y", Model: &nsv1.ModelConfig{Family: "linear"},
		Optimizer: &nsv1.OptimizerConfig{Name: "adam", Lr: 0.01, Schedule: "constant"},
		Epochs:    1, BatchPerMember: 1024, MinMembers: 1, MaxMembers: 1, Seed: 1, Holdout: 0.2,
		ModelName: "m", Output: "file:///o", MaxRestarts: 3, MemoryBudgetMb: 1024, DataPath: "auto",
	}}}
	if !proto.Equal(want, job.spec) {
		t.Fatalf("defaults:\n got %s\nwant %s", prototext.Format(job.spec), prototext.Format(want))
	}
	// max follows min; an explicit 0 holdout stays 0; a partial optimizer keeps the other defaults.
	job, err = parseTrainFile("job.yaml", []byte("model_name: m\ndataset: file:///d\noutput: file:///o\nlabel: y\nmodel: {family: linear}\n"+
		"members: {min: 3}\nholdout: 0\noptimizer: {name: sgd}\nseed: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	ts := job.spec.GetTrain()
	if ts.MinMembers != 3 || ts.MaxMembers != 3 || ts.Holdout != 0 || ts.Seed != 0 ||
		!proto.Equal(ts.Optimizer, &nsv1.OptimizerConfig{Name: "sgd", Lr: 0.01, Schedule: "constant"}) {
		t.Fatalf("partial sections: %v", ts)
	}
}

// TestTrainFileErrors changes one line of the good file at a time: each
// error names the file, the line and the field.
func TestTrainFileErrors(t *testing.T) {
	lines := strings.Split(goodTrainFile, "\n")
	lineOf := func(prefix string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return i
			}
		}
		t.Fatalf("no line %q", prefix)
		return 0
	}
	for _, tc := range []struct {
		line, with string // replace the line starting with `line` (delete when with is "")
		want       string
	}{
		{"model_name:", "model_name: Churn", `job.yaml:2: model_name: "Churn": want lower-case`},
		{"model_name:", "", "job.yaml: model_name: required"},
		{"dataset:", "", "job.yaml: dataset: required"},
		{"output:", "output: s3://bucket/models?x=1", "job.yaml:4: output:"},
		{"label:", "", "job.yaml: label: required"},
		{"  - {column: age", "  - {column: age, kind: text}", `job.yaml:7: features[0].kind: "text": want numeric or categorical`},
		{"  - {column: age", "  - {column: age}", "job.yaml:7: features[0].kind: required (numeric or categorical)"},
		{"  - {column: age", "  - {column: label, kind: numeric}", `job.yaml:7: features[0].column: "label" is the label`},
		{"  - {column: age", "  - {column: region, kind: numeric}", `job.yaml:8: features[1].column: "region" is listed twice`},
		{"  - {column: age", "  - {column: age, kind: numeric, missing: drop}", `job.yaml:7: features[0].missing: "drop": want impute, fail or indicator`},
		{"  - {column: region", "  - {column: region, kind: categorical, missing: indicator}", "job.yaml:8: features[1].missing: indicator is for numeric features only"},
		{"  - {column: region", "  - {column: region, kind: categorical, buckets: -1}", "job.yaml:8: features[1].buckets: must be ≥ 0"},
		{"  - {column: age", "  - {column: age, kind: numeric, colour: red, missing: fail}", `job.yaml:7: features[0].colour: unknown field`},
		{"model:", "model: {family: tree}", `job.yaml:9: model.family: "tree": want linear, logistic, softmax or mlp`},
		{"model:", "", "job.yaml: model.family: required (linear, logistic, softmax or mlp)"},
		{"model:", "model: {family: mlp, objective: binary}", "job.yaml:9: model.hidden: required for mlp"},
		{"model:", "model: {family: mlp, hidden: [8, 0], objective: binary}", "job.yaml:9: model.hidden[1]: must be ≥ 1"},
		{"model:", "model: {family: mlp, hidden: [8]}", "job.yaml:9: model.objective: required (binary, regression or multiclass)"},
		{"model:", "model: {family: logistic, hidden: [8]}", "job.yaml:9: model.hidden: only for mlp, not logistic"},
		{"model:", "model: {family: logistic, classes: [a, b]}", "job.yaml:9: model.classes: only softmax and mlp multiclass"},
		{"model:", "model: {family: softmax, classes: [a, a]}", `job.yaml:9: model.classes[1]: "a" is empty or listed twice`},
		{"model:", "model: {family: logistic, l2: -1}", "job.yaml:9: model.l2: must be ≥ 0"},
		{"model:", "model: {family: mlp, hidden: [8, x], objective: binary}", `job.yaml:9: model.hidden[1]: want an integer, got "x"`},
		{"optimizer:", "optimizer: {lr: 0}", "job.yaml:10: optimizer.lr: must be > 0"},
		{"optimizer:", "optimizer: {lr: -0.1}", "job.yaml:10: optimizer.lr: must be > 0"},
		{"optimizer:", "optimizer:\n  name: adam\n  lr: 0", "job.yaml:12: optimizer.lr: must be > 0"},
		{"optimizer:", "optimizer: {name: rmsprop}", `job.yaml:10: optimizer.name: "rmsprop": want sgd, adam or lbfgs`},
		{"optimizer:", "optimizer: {schedule: linear}", `job.yaml:10: optimizer.schedule: "linear": want constant, step or cosine`},
		{"optimizer:", "optimizer: {momentum: 1}", "job.yaml:10: optimizer.momentum: must be in [0, 1)"},
		{"optimizer:", "optimizer: {decay_steps: -1}", "job.yaml:10: optimizer.decay_steps: must be ≥ 0"},
		{"optimizer:", "optimizer: {tolerance: -1}", "job.yaml:10: optimizer.tolerance: must be ≥ 0"},
		{"optimizer:", "optimizer: {learning_rate: 0.1}", "job.yaml:10: optimizer.learning_rate: unknown field"},
		{"epochs:", "epochs: 0", "job.yaml:11: epochs: must be ≥ 1"},
		{"epochs:", "epochs: three", `job.yaml:11: epochs: want an integer, got "three"`},
		{"batch_per_member:", "batch_per_member: 0", "job.yaml:12: batch_per_member: must be ≥ 1"},
		{"members:", "members: {min: 0, max: 3}", "job.yaml:13: members.min: must be ≥ 1"},
		{"members:", "members: {min: 3, max: 2}", "job.yaml:13: members.max: must be ≥ members.min (3)"},
		{"members:", "members: {max: 0}", "job.yaml:13: members.max: must be ≥ members.min (1)"},
		{"holdout:", "holdout: 1", "job.yaml:16: holdout: must be a fraction in [0, 1)"},
		{"holdout:", "holdout: -0.1", "job.yaml:16: holdout: must be a fraction in [0, 1)"},
		{"seed:", "seed: -1", `job.yaml:15: seed: want an integer, got "-1"`},
		{"checkpoint:", "checkpoint: {every_steps: -5}", "job.yaml:17: checkpoint.every_steps: must be ≥ 0"},
		{"promotion:", "promotion: {metric: f1}", `job.yaml:18: promotion.metric: "f1": want logloss, auc, accuracy or rmse`},
		{"promotion:", "promotion: {metric: auc, margin: -0.1}", "job.yaml:18: promotion.margin: must be ≥ 0"},
		{"max_restarts:", "max_restarts: -1", "job.yaml:19: max_restarts: must be ≥ 0"},
		{"max_attempts:", "max_attempts: -1", "job.yaml:21: max_attempts: must be ≥ 0"},
		{"audit_samples:", "audit_samples: maybe", `job.yaml:20: audit_samples: want true or false, got "maybe"`},
		{"data:", "data: {path: disk}", `job.yaml:22: data.path: "disk": want auto, memory or stream`},
		{"data:", "data: {memory_budget_mb: 0.5}", `job.yaml:22: data.memory_budget_mb: want an integer, got "0.5"`},
		{"epochs:", "epochs: 1.5", `job.yaml:11: epochs: want an integer, got "1.5"`},
		{"members:", "members: {min: 2, max: 2.5}", `job.yaml:13: members.max: want an integer, got "2.5"`},
		{"data:", "data: {memory_budget_mb: -1}", "job.yaml:22: data.memory_budget_mb: must be"},
		{"pool:", "pool: gpu\nworkers: 3", `job.yaml:15: workers: unknown field`},
		{"model:", "model: logistic", `job.yaml:9: model: want a mapping, got "logistic"`},
	} {
		mod := append([]string(nil), lines...)
		i := lineOf(tc.line)
		if tc.with == "" {
			mod = append(mod[:i], mod[i+1:]...)
		} else {
			mod[i] = tc.with
		}
		_, err := parseTrainFile("job.yaml", []byte(strings.Join(mod, "\n")))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s → %q: got %v, want one line with %q", tc.line, tc.with, err, tc.want)
		}
	}
	lbfgs := strings.Replace(strings.Replace(goodTrainFile, "family: logistic", "family: softmax", 1), "name: adam", "name: lbfgs", 1)
	if _, err := parseTrainFile("job.yaml", []byte(lbfgs)); err == nil ||
		!strings.Contains(err.Error(), "job.yaml:10: optimizer.name: lbfgs (full batch) trains linear and logistic models only, not softmax") {
		t.Errorf("lbfgs for softmax: %v", err)
	}
	// Several bad fields are reported at once.
	_, err := parseTrainFile("job.yaml", []byte(strings.Replace(strings.Replace(goodTrainFile, "epochs: 3", "epochs: 0", 1), "holdout: 0.25", "holdout: 2", 1)))
	if err == nil || !strings.Contains(err.Error(), "job.yaml:11: epochs") || !strings.Contains(err.Error(), "job.yaml:16: holdout") {
		t.Errorf("two bad fields: %v", err)
	}
	for doc, want := range map[string]string{
		"":                          "job.yaml: the job file is empty",
		"# nothing\n":               "job.yaml: the job file is empty",
		goodTrainFile + "---\na: 1": "job.yaml:23: a job file holds one YAML document",
		"model_name: [":             "job.yaml:1:",
		"- a\n- b\n":                "job.yaml:1:",
	} {
		if _, err := parseTrainFile("job.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", doc, err, want)
		}
	}
}

// TestTrainExampleFilesParse checks the job file in `train --help` and the
// ones in deploy/examples.
func TestTrainExampleFilesParse(t *testing.T) {
	if _, err := parseTrainFile("help", []byte(trainExampleYAML)); err != nil {
		t.Fatalf("the --help example: %v", err)
	}
	for _, name := range []string{"train-logistic.yaml", "train-mlp.yaml"} {
		job, err := loadTrainFile(filepath.Join("..", "..", "deploy", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		ts := job.spec.GetTrain()
		cols := map[string]bool{}
		for _, f := range sample.Schema(sample.Spec{Features: 8}).Fields() { // the demo's default --features
			cols[f.Name] = true
		}
		for _, f := range ts.Features {
			if !cols[f.Column] {
				t.Errorf("%s: feature %q is not a column of the sample dataset", name, f.Column)
			}
		}
		if !cols[ts.Label] {
			t.Errorf("%s: label %q is not a column of the sample dataset", name, ts.Label)
		}
	}
}

func TestTrainHelp(t *testing.T) {
	out, err := run(t, "train", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Usage:", "train -f JOB.yaml", "model_name: churn", "members: {min: 2, max: 3}",
		"promotion: {metric: logloss", "--wait", "--idempotency-key", "--skip-preflight", "-f, --file"} {
		if !strings.Contains(out, want) {
			t.Errorf("train --help lacks %q", want)
		}
	}
	cmd, _, err := newRootCmd().Find([]string{"train"})
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"coordinator", "tls-ca", "tls-cert", "tls-key", "timeout", "output-format", "pool", "name", "new"} {
		if cmd.Flags().Lookup(flag) == nil {
			t.Errorf("train has no --%s", flag)
		}
	}
	if _, err := run(t, "train"); err == nil || !strings.Contains(err.Error(), `"file" not set`) {
		t.Errorf("train without -f: %v", err)
	}
}

// trainJobFixture is a hand-built training job that finished.
func trainJobFixture() *nsv1.Job {
	now := time.Now()
	return &nsv1.Job{
		Id: "j1", State: nsv1.JobState_JOB_STATE_SUCCEEDED, TasksTotal: 3, TasksSucceeded: 2, RowsDone: 2048000,
		CreateUnixMs: now.Add(-time.Minute).UnixMilli(), StartUnixMs: now.Add(-50 * time.Second).UnixMilli(), EndUnixMs: now.UnixMilli(),
		ResultUri: "s3://b/models/churn/job-j1", OutputDir: "s3://b/models/churn/job-j1",
		Spec: &nsv1.JobSpec{Name: "nightly", Pool: "default", Kind: &nsv1.JobSpec_Train{Train: &nsv1.TrainSpec{
			Dataset: "s3://b/ds", Label: "label", ModelName: "churn", Epochs: 2, MinMembers: 2, MaxMembers: 3,
			Model: &nsv1.ModelConfig{Family: "mlp", Hidden: []int32{64, 32}, Objective: "binary"},
		}}},
		Train: &nsv1.TrainStatus{
			Generation: 3, Step: 1000, TotalSteps: 1000, Epoch: 1, Loss: 0.41234567, Samples: 2048000,
			Members:  []*nsv1.GroupMember{{WorkerId: "w1"}, {WorkerId: "w3"}},
			Restarts: 1, CheckpointUri: "s3://b/models/churn/job-j1/ckpt/000900", CheckpointStep: 900,
			TrainRows: 160000, HoldoutRows: 40000,
			Epochs: []*nsv1.EpochMetrics{
				{Epoch: 0, Step: 500, TrainLoss: 0.5, Holdout: map[string]float64{"logloss": 0.45, "auc": 0.81, "accuracy": 0.77}},
				{Epoch: 1, Step: 1000, TrainLoss: 0.42, Holdout: map[string]float64{"logloss": 0.43, "auc": 0.83, "accuracy": 0.78}},
			},
			History: []*nsv1.GenerationRecord{
				{Generation: 1, WorkerIds: []string{"w1", "w2"}, UnixMs: now.UnixMilli()},
				{Generation: 2, WorkerIds: []string{"w3"}, UnixMs: now.UnixMilli(), Restart: true},
				{Generation: 3, WorkerIds: []string{"w1", "w3"}, UnixMs: now.UnixMilli()},
			},
			ArtifactUri: "s3://b/models/churn/job-j1", Metrics: map[string]float64{"logloss": 0.43, "auc": 0.83, "accuracy": 0.78},
			Registered: &nsv1.ModelVersion{Name: "churn", Version: 4}, Promoted: true,
			PromotionReason: "logloss 0.43000 beats production v3 (0.44100) by more than 0.001",
		},
	}
}

func TestTrainJobRendering(t *testing.T) {
	j := trainJobFixture()
	var b bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&b)
	if err := printJob(cmd, &nsv1.GetJobResponse{Job: j}, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"kind        train", "model       churn (mlp [64 32] binary)", "input       s3://b/ds",
		"generation  3", "members     0: w1, 1: w3 (min 2, max 3)", "step        1000/1000", "epoch       2/2",
		"loss        0.412346", "samples     2048000 (", "rows        160000 train, 40000 holdout",
		"restarts    1 of at most 3", "checkpoint  step 900: s3://b/models/churn/job-j1/ckpt/000900",
		"artifact    s3://b/models/churn/job-j1", "metrics     logloss 0.43000  auc 0.83000  accuracy 0.78000",
		"registered  churn v4", "promoted    yes (logloss 0.43000 beats production v3 (0.44100) by more than 0.001)",
		"EPOCH  STEP  TRAIN LOSS  LOGLOSS  AUC      ACCURACY",
		"1      500   0.50000     0.45000  0.81000  0.77000",
		"2      1000  0.42000     0.43000  0.83000  0.78000",
		"GENERATION", "w1, w2", "restart from checkpoint",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("jobs get lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"RMSE", "result ", "rows        0", "throughput"} {
		if strings.Contains(out, not) {
			t.Errorf("jobs get shows %q:\n%s", not, out)
		}
	}
	row := strings.Join(jobRow(j), " | ")
	if !strings.Contains(row, "j1 | nightly | train | succeeded | 2/3 | step 1000/1000 | default") {
		t.Errorf("jobs list row: %s", row)
	}

	// A final report without a loss: the last epoch's mean; a count metric prints as one.
	j.Train.Loss, j.Train.Metrics["rows"] = 0, 40000
	kv := map[string]string{}
	for _, r := range jobDetail(j) {
		kv[r[0]] = r[1]
	}
	if kv["loss"] != "0.420000 (mean of epoch 2)" || !strings.HasSuffix(kv["metrics"], "accuracy 0.78000  rows 40000") {
		t.Errorf("loss fallback, count metric: %q, %q", kv["loss"], kv["metrics"])
	}

	// Not promoted, still running: no artifact yet, the decision reads "not promoted".
	j.Train.Promoted, j.Train.PromotionReason = false, "auc 0.80 does not beat production v3 (0.83) by 0.002"
	j.Train.ArtifactUri, j.Train.Metrics = "", nil
	kv = map[string]string{}
	for _, r := range jobDetail(j) {
		kv[r[0]] = r[1]
	}
	if kv["promoted"] != "no (auc 0.80 does not beat production v3 (0.83) by 0.002)" || kv["artifact"] != "" ||
		kv["result"] != "s3://b/models/churn/job-j1" {
		t.Errorf("not promoted: %v", kv)
	}

	// A job that has not started: no members, no step.
	fresh := &nsv1.Job{Id: "j2", State: nsv1.JobState_JOB_STATE_PENDING, Spec: j.Spec, Train: &nsv1.TrainStatus{}}
	kv = map[string]string{}
	for _, r := range jobDetail(fresh) {
		kv[r[0]] = r[1]
	}
	if kv["members"] != "none yet (min 2, max 3)" || kv["step"] != "0" || kv["epoch"] != "-/2" || kv["loss"] != "" || kv["promoted"] != "" {
		t.Errorf("pending train job: %v", kv)
	}
	if row := jobRow(fresh); row[5] != "step 0" {
		t.Errorf("pending train job row: %v", row)
	}
}

func TestTrainWatchLines(t *testing.T) {
	j := trainJobFixture()
	j.State, j.EndUnixMs = nsv1.JobState_JOB_STATE_RUNNING, 0
	j.Train.Step, j.Train.Epoch = 600, 1
	var b bytes.Buffer
	reportProgress(j, watchOptions{bar: newProgressBar(&b), lines: &b})
	out := b.String()
	for _, want := range []string{"j1  running", "step 600/1000", "epoch 2/2", "loss 0.412346", "generation 3 (2 members)", "samples/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("watch line lacks %q: %s", want, out)
		}
	}
	if d := trainProgressDetail(j, time.Second); !strings.Contains(d, "epoch 2/2  loss 0.4123  2.05M samples/s  2 members  running") {
		t.Errorf("progress bar detail: %s", d)
	}
	j.Train.Loss = 0 // no step loss reported: the last epoch's mean
	if d := trainProgressDetail(j, time.Second); !strings.Contains(d, "loss 0.4200") {
		t.Errorf("progress bar detail without a step loss: %s", d)
	}
}

// TestTrainPreflightNamesTheLine checks locally, before anything is
// submitted, that the label and the features are columns of the dataset.
func TestTrainPreflightNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	st := storage.Config{FileRoot: dir}
	b, key, err := storage.Open(context.Background(), "file://"+dir+"/sample", st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Write(context.Background(), b, key, sample.Spec{Files: 1, RowsPerFile: 100, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	ds := "file://" + filepath.Join(dir, "ds")
	if _, err := run(t, "shard", "--input", "file://"+filepath.Join(dir, "sample", "raw"), "--output", ds, "-o", "json"); err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(dir, "job.yaml")
	body := "model_name: churn\ndataset: " + ds + "\noutput: file://" + dir + "/models\nlabel: churned\n" +
		"features:\n  - {column: age, kind: numeric}\n  - {column: regio, kind: categorical}\nmodel: {family: logistic}\n"
	if err := os.WriteFile(job, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// No coordinator is reached: the check fails first.
	_, err = run(t, "train", "-f", job, "--coordinator", "127.0.0.1:1", "--file-root", dir)
	for _, want := range []string{"job.yaml:4: label: \"churned\" is not a column", "job.yaml:7: features[1].column: \"regio\" is not a column", "its columns: id, age"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("preflight: got %v, want %q", err, want)
		}
	}
}

// TestTrainSubmitAgainstCoordinator submits a job file to a coordinator
// without workers (the job stays pending): idempotent submission, the JSON
// shape, `jobs get` and `jobs list` of a train job, and --wait on a job
// that was cancelled.
func TestTrainSubmitAgainstCoordinator(t *testing.T) {
	dir := t.TempDir()
	addr := startCoordinator(t, dir)
	st := storage.Config{FileRoot: dir}
	b, key, err := storage.Open(context.Background(), "file://"+dir+"/sample", st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Write(context.Background(), b, key, sample.Spec{Files: 2, RowsPerFile: 200, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	ds := "file://" + filepath.Join(dir, "ds")
	if _, err := run(t, "shard", "--input", "file://"+filepath.Join(dir, "sample", "raw"), "--output", ds, "-o", "json"); err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(dir, "job.yaml")
	body := "name: nightly\nmodel_name: churn\ndataset: " + ds + "/\noutput: file://" + dir + "/models\nlabel: label\n" +
		"features:\n  - {column: age, kind: numeric}\n  - {column: region, kind: categorical}\n" +
		"model: {family: logistic}\nmembers: {min: 1, max: 2}\nepochs: 2\n"
	if err := os.WriteFile(job, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(a ...string) []string { return append(a, "--coordinator", addr, "--file-root", dir) }
	type trainSubmitted struct {
		Job struct {
			ID    string `json:"id"`
			State string `json:"state"`
			Spec  struct {
				Name           string `json:"name"`
				IdempotencyKey string `json:"idempotency_key"`
				Train          struct {
					Dataset    string `json:"dataset"`
					ModelName  string `json:"model_name"`
					MaxMembers int    `json:"max_members"`
					Epochs     int    `json:"epochs"`
				} `json:"train"`
			} `json:"spec"`
		} `json:"job"`
		Created bool `json:"created"`
	}
	var first, again trainSubmitted
	jsonOut(t, &first, args("train", "-f", job, "-o", "json")...)
	sp := first.Job.Spec
	if !first.Created || first.Job.ID == "" || sp.Name != "nightly" || !strings.HasPrefix(sp.IdempotencyKey, "spec-") ||
		sp.Train.Dataset != ds || sp.Train.ModelName != "churn" || sp.Train.MaxMembers != 2 || sp.Train.Epochs != 2 {
		t.Fatalf("first submit: %+v", first)
	}
	jsonOut(t, &again, args("train", "-f", job, "-o", "json", "--name", "renamed")...)
	if again.Created || again.Job.ID != first.Job.ID {
		t.Fatalf("resubmitting the same file made a new job: %+v", again)
	}
	id := first.Job.ID
	if out, err := run(t, args("train", "-f", job)...); err != nil || !strings.Contains(out, "job "+id+" (existing") {
		t.Fatalf("table output of a resubmission: %v\n%s", err, out)
	}
	c := []string{"--coordinator", addr}
	out, err := run(t, append([]string{"jobs", "get", id}, c...)...)
	for _, want := range []string{"kind        train", "model       churn (logistic)", "members     none yet (min 1, max 2)", "epoch       -/2"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("jobs get of a train job lacks %q: %v\n%s", want, err, out)
		}
	}
	if out, err := run(t, append([]string{"jobs", "list"}, c...)...); err != nil || !strings.Contains(out, "train") || !strings.Contains(out, "step 0") {
		t.Fatalf("jobs list: %v\n%s", err, out)
	}
	if _, err := run(t, append([]string{"jobs", "cancel", id}, c...)...); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, args("train", "-f", job, "--wait")...); err == nil || !strings.Contains(err.Error(), "job "+id+" cancelled") {
		t.Fatalf("--wait on a cancelled train job: %v", err)
	}
}
