package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/score"
)

type scoreFlags struct {
	spec          nsv1.ScoreSpec
	skipPreflight bool
	// preflightModel is the artifact a registry reference resolved to.
	preflightModel string
	submit         submitFlags
	st             storageFlags
	out            outputFormat
}

func newScoreCmd() *cobra.Command {
	var f scoreFlags
	cmd := &cobra.Command{
		Use:   "score --model URI --input URI --output URI",
		Short: "Bulk-score a dataset with a model on the cluster",
		Long: `score submits a job that scores every row of a dataset (a folder holding
manifest.json, as written by nightshift shard) with a model artifact (a folder
holding model.json), one task per input shard, on the workers of --pool.

--model may also name a registered model: churn (= churn@production),
churn@candidate or churn@v3. score resolves it through the coordinator and
submits churn@vN, so the job scores with the version production pointed at
when you ran it, even if a promotion happens meanwhile (with
--skip-preflight the coordinator resolves it at submit instead).

--input may also be a raw source (CSV, Parquet, Arrow IPC or JSON-lines
objects under a prefix): score then first ingests it as a distributed shard
job into OUTPUT/_datasets/<hash of the input> with default options, waits for
it, and scores that dataset. Running it again reuses the dataset while the
source is unchanged. (Not with --skip-preflight.)

Before submitting, score checks locally that the model loads and that the
dataset has every column the model and --passthrough need, so a bad model or
a missing column fails at once with a clear error (--skip-preflight skips
this, e.g. where this machine cannot read the storage).

The output is written exactly once under OUTPUT/job-<id>/: one
part-NNNNN.parquet (or .arrow) per input shard with the --passthrough columns
and the predictions, then _manifest.json and _SUCCESS, written last. Until
_SUCCESS exists nothing there is committed output.

` + idempotencyHelp,
		Example: `  nightshift score --model s3://lake/models/churn/v3 --input s3://lake/datasets/events-1122 \
      --output s3://lake/scores/churn --passthrough customer_id --wait
  nightshift score --model file:///data/model --input file:///data/ds --output file:///data/out --format arrow -o json
  nightshift score ... --new           # run again although the same spec ran before`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runScore(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.spec.Model, "model", "", "model artifact folder URI (holding model.json), or NAME, NAME@ALIAS, NAME@vN from the registry (pinned to the version it resolves to now)")
	fl.StringVar(&f.spec.Input, "input", "", "dataset folder URI (holding manifest.json), or a raw source to ingest first")
	fl.StringVar(&f.spec.Output, "output", "", "output folder URI; the job writes below OUTPUT/job-<id>/")
	fl.StringVar(&f.spec.Format, "format", jobspec.ScoreFormats[0], "output format: "+strings.Join(jobspec.ScoreFormats, " or "))
	fl.StringSliceVar(&f.spec.Passthrough, "passthrough", nil, "input columns copied beside the predictions, e.g. id,age")
	fl.StringVar(&f.spec.BadRows, "bad-rows", jobspec.BadRowsFail, "rows the model cannot score: fail the job, or quarantine them with their reason")
	fl.BoolVar(&f.skipPreflight, "skip-preflight", false, "submit without loading the model and the dataset's manifest here first")
	addSubmitFlags(cmd, &f.submit, "")
	addOutputFlag(cmd, &f.out)
	addStorageFlags(cmd, &f.st)
	for _, name := range []string{"model", "input", "output"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func runScore(cmd *cobra.Command, f *scoreFlags) error {
	spec := &f.spec
	if err := normaliseScore(spec); err != nil {
		return err
	}
	if !f.skipPreflight {
		ds, err := ingestIfRaw(cmd.Context(), cmd, rawInput{uri: spec.Input, output: spec.Output, job: "score",
			pool: f.submit.pool, client: &f.submit.client, st: f.st.config(), quiet: f.out != outputTable})
		if err != nil {
			return err
		}
		spec.Input = ds
		if jobspec.IsModelRef(spec.Model) {
			uri, pinned, err := pinModelRef(cmd.Context(), &f.submit.client, spec.Model)
			if err != nil {
				return err
			}
			spec.Model = pinned
			f.preflightModel = uri
		}
		if err := preflightScore(cmd.Context(), f); err != nil {
			return err
		}
	}
	return submitJob(cmd, &f.submit, f.out, &nsv1.JobSpec{Kind: &nsv1.JobSpec_Score{Score: spec}})
}

// normaliseScore puts the spec in its canonical form (package jobspec),
// so equal commands make equal specs (and idempotency keys), and names the
// flag of each bad field.
func normaliseScore(spec *nsv1.ScoreSpec) error {
	var errs jobspec.Errors
	if err := jobspec.Score(spec); !errors.As(err, &errs) {
		return err
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		flag, _, _ := strings.Cut(e.Path, "[")
		msgs[i] = "--" + strings.ReplaceAll(flag, "_", "-") + ": " + e.Msg
	}
	return errors.New(strings.Join(msgs, "; "))
}

// preflightScore loads the model and the input's manifest and checks that
// the one can score the other, before anything is submitted.
func preflightScore(ctx context.Context, f *scoreFlags) error {
	st := f.st.config()
	uri := f.spec.Model
	if f.preflightModel != "" {
		uri = f.preflightModel
	}
	m, err := model.Load(ctx, st, uri)
	if err != nil {
		return fmt.Errorf("model %s: %w", f.spec.Model, err)
	}
	ds, err := shard.OpenDataset(ctx, st, f.spec.Input)
	if err != nil {
		return fmt.Errorf("input %s is not a dataset (run nightshift shard first?): %w", f.spec.Input, err)
	}
	opts := score.Options{Format: f.spec.Format, Passthrough: f.spec.Passthrough, BadRows: f.spec.BadRows}
	if err := score.Validate(m, ds.Schema, opts); err != nil {
		return fmt.Errorf("model %s cannot score %s: %w", f.spec.Model, f.spec.Input, err)
	}
	return nil
}
