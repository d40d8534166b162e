package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	"github.com/nightshift-ml/nightshift/shard"
)

// trainExampleYAML is the job file shown in `train --help` (and checked by
// the tests to parse).
const trainExampleYAML = `name: churn-nightly                   # optional job name (listings; not in the idempotency key)
model_name: churn                     # registry name: [a-z0-9][a-z0-9._-]*
dataset: s3://bucket/datasets/churn   # dataset folder, or a raw CSV/Parquet/JSONL/Arrow source (ingested first)
output: s3://bucket/models            # artifacts land in OUTPUT/<model_name>/job-<id>/
label: label                          # label column
features:                             # optional; default: every column but the label
  - {column: age, kind: numeric, missing: impute}      # numeric | categorical; impute | fail | indicator
  - {column: region, kind: categorical, buckets: 16}   # buckets: hash buckets (0: 32)
model: {family: logistic, l2: 0.0001} # linear | logistic | softmax | mlp
# model: {family: mlp, hidden: [256, 256], objective: binary}   # binary | regression | multiclass
# classes: [a, b, c] in model: softmax and mlp multiclass (default: the label's distinct values)
optimizer: {name: adam, lr: 0.01, momentum: 0.9, nesterov: false, schedule: cosine,
            decay_steps: 1000, decay_rate: 0.5, max_iterations: 100, tolerance: 1e-6}
epochs: 3                             # ≥ 1 (default 1)
batch_per_member: 1024                # rows per member per step (default 1024)
members: {min: 2, max: 3}             # group size, 1 ≤ min ≤ max (default min 1, max = min)
pool: default                         # worker pool (default: the default pool)
seed: 42                              # initial weights, holdout split, epoch order (default 1)
holdout: 0.2                          # fraction held out, in [0, 1) (default 0.2)
checkpoint: {every_steps: 100, every_seconds: 60}      # 0: not by that measure
promotion: {metric: logloss, margin: 0.001, manual: false}   # logloss | auc | accuracy | rmse
max_restarts: 3                       # whole-group losses survived from a checkpoint (0: 3)
audit_samples: false                  # count every row of every epoch exactly once (tests, audits)
max_attempts: 0                       # attempts per member task (0: the coordinator's default)
`

type trainFlags struct {
	file          string
	skipPreflight bool
	submit        submitFlags
	st            storageFlags
	out           outputFormat
}

func newTrainCmd() *cobra.Command {
	var f trainFlags
	cmd := &cobra.Command{
		Use:   "train -f JOB.yaml",
		Short: "Train a model data-parallel on a group of workers",
		Long: `train submits a training job described by a job file: one model trained with
synchronous data parallelism on a group of min..max workers of the pool (each
member computes the gradient of its slice of every global batch; the group
sums them with a ring all-reduce, so all members hold the same weights). The
finished model is written below OUTPUT/<model_name>/job-<id>/ (model.json with
the feature pipeline, metrics and lineage, and the weights) and registered
under model_name; the promotion policy decides whether it becomes production.

The job file (YAML; an unknown field is an error, and every error names the
file, the line and the field):

` + indent(trainExampleYAML, "  ") + `
Only model_name, dataset, output, label and model.family are required. Left
out: optimizer adam, lr 0.01, schedule constant; epochs 1; batch_per_member
1024; members min 1, max = min; seed 1; holdout 0.2; promotion metric chosen
by the coordinator; pool default. lbfgs trains linear and logistic models
only; an mlp needs hidden and objective.

If dataset is a raw source rather than a dataset folder (no manifest.json),
train first ingests it as a distributed shard job into
OUTPUT/_datasets/<hash of the source> (as score does), waits for it, and
trains on that dataset. Before submitting, train also checks that the label
and the feature columns are in the dataset (--skip-preflight skips both,
e.g. where this machine cannot read the storage).

With --wait it shows a progress bar (step of total steps, epoch, loss,
samples/s, ETA) on a terminal, then prints the job with the per-epoch holdout
metrics, the artifact, the registered version and the promotion decision,
and exits non-zero with the job's reason unless it succeeded. --pool and
--name override the file's pool and name.

` + idempotencyHelp,
		Example: `  nightshift train -f deploy/examples/train-logistic.yaml --wait
  nightshift train -f churn.yaml --idempotency-key churn-2026-11-22
  nightshift train -f churn.yaml -o json | jq -r .job.id
  nightshift train -f churn.yaml --new --wait    # train again although the same file ran before`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "job file (YAML), see above")
	fl.BoolVar(&f.skipPreflight, "skip-preflight", false, "submit without reading the dataset here first (no raw-source ingest, no column check)")
	addSubmitFlags(cmd, &f.submit, "")
	fl.Lookup("pool").Usage = "worker pool of the training group (default: the job file's pool)"
	fl.Lookup("pool").DefValue = ""
	fl.Lookup("name").Usage = "job name shown in listings (default: the job file's name)"
	addOutputFlag(cmd, &f.out)
	addStorageFlags(cmd, &f.st)
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func runTrain(cmd *cobra.Command, f *trainFlags) error {
	job, err := loadTrainFile(f.file)
	if err != nil {
		return err
	}
	spec, ts := job.spec, job.spec.GetTrain()
	// submitJob takes the pool and the name from the flags: the file's,
	// unless they were given.
	if !cmd.Flags().Changed("pool") {
		f.submit.pool = spec.Pool
	}
	if !cmd.Flags().Changed("name") {
		f.submit.name = spec.Name
	}
	if !f.skipPreflight {
		ctx := cmd.Context()
		ds, err := ingestIfRaw(ctx, cmd, rawInput{uri: ts.Dataset, output: ts.Output, job: "train",
			pool: f.submit.pool, client: &f.submit.client, st: f.st.config(), quiet: f.out != outputTable})
		if err != nil {
			return err
		}
		ts.Dataset = ds
		if err := preflightTrain(ctx, f, job); err != nil {
			return err
		}
	}
	return submitJob(cmd, &f.submit, f.out, spec)
}

// preflightTrain reads the dataset's manifest and checks that the label and
// every feature column are in it, naming the line of the job file.
func preflightTrain(ctx context.Context, f *trainFlags, job *trainJob) error {
	ts := job.spec.GetTrain()
	ds, err := shard.OpenDataset(ctx, f.st.config(), ts.Dataset)
	if err != nil {
		return fmt.Errorf("%sdataset %s: %w", job.fields.prefix(job.path, "dataset"), ts.Dataset, err)
	}
	var names []string
	for _, c := range ds.Manifest.Schema {
		names = append(names, c.Name)
	}
	var errs jobspec.Errors
	if errors.As(jobspec.TrainColumns(ts, names), &errs) {
		return fmt.Errorf("%s (its columns: %s)", job.fields.explain(job.path, errs), strings.Join(names, ", "))
	}
	return nil
}

// indent prefixes every non-empty line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
