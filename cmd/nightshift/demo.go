package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/cmd/nightshift/internal/cluster"
	"github.com/nightshift-ml/nightshift/coordinator"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
)

type demoFlags struct {
	data    string
	files   int
	rows    int
	feats   int
	seed    uint64
	workers int
	out     outputFormat
	// nights simulated by the nightly pipeline (0: none), of nightRows
	// rows each (0: a tenth of the dataset).
	nights    int
	nightRows int
}

func newDemoCmd() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the main job end to end on the embedded local store",
		Long: `demo runs nightshift's main job end to end on one machine:

  1. generate a realistic sample dataset (customer churn: numeric and
     categorical columns, missing values, a label drawn from a known
     logistic model) as CSV files in the embedded local-disk store;
  2. start a development cluster in this process (a single-voter Raft
     coordinator and --workers workers on loopback, the same code as a
     real cluster);
  3. shard the CSV files into Arrow IPC shards as a distributed job;
  4. train a logistic regression data-parallel on the workers (a group
     of 2: gradients summed by a ring all-reduce over gRPC every step),
     evaluate it on a holdout, register it as model "churn" and promote
     it to production if it beats the current production version;
  5. bulk-score every row with churn@production and commit the output
     exactly once: part-NNNNN.parquet per shard, _manifest.json, _SUCCESS;
  6. run a nightly pipeline over --nights simulated nights: write a dated
     partition of new events per night into lake/events/DATE/ (the
     second night with 30% of its labels flipped, a broken upstream
     join; the third shifted: days_since_last moved, a region renamed,
     a quarter of avg_basket null), store the schedule churn-nightly
     (02:00 Europe/Berlin) from the schedule file it writes to
     DATA/nightly.yaml, backfill the nights and wait for their runs:
     ingest -> validate (the data contract and drift against the
     production model's training data: the shifted night stops here,
     naming its columns) -> train -> promote (the registry's policy
     against the production version) -> score the night into
     scored/nightly/DATE.

It prints the holdout metrics (with the generator's true model's for
reference), the training and scoring throughput, where the output is, the
nightly runs (which night's model was promoted, which was not and why) and
the command that keeps the schedule running on the demo's cluster state
(nightshift dev --data DATA/cluster --file-root DATA).`,
		Example: "  nightshift demo --data ./.demo\n  nightshift demo --rows 200000 -o json",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runDemo(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", filepath.Join(os.TempDir(), "nightshift-demo"), "folder of the embedded local store and the cluster's state")
	fl.IntVar(&f.files, "files", 8, "CSV files to generate")
	fl.IntVar(&f.rows, "rows", 25000, "rows per file")
	fl.IntVar(&f.feats, "features", 8, "extra numeric features beside the named ones")
	fl.Uint64Var(&f.seed, "seed", 42, "generator seed")
	fl.IntVar(&f.workers, "workers", 2, "workers in the development cluster")
	fl.IntVar(&f.nights, "nights", 4, "simulated nights the nightly pipeline backfills (0: no nightly step)")
	fl.IntVar(&f.nightRows, "night-rows", 0, "rows of each simulated night (0: a tenth of --files x --rows, at least 1000)")
	addOutputFlag(cmd, &f.out)
	return cmd
}

// demoSummary is the demo's -o json output.
type demoSummary struct {
	SampleBytes  int64              `json:"sample_bytes"`
	Dataset      string             `json:"dataset"`
	DatasetRows  int64              `json:"dataset_rows"`
	Shards       int                `json:"shards"`
	ShardSeconds float64            `json:"shard_seconds"`
	TrainJob     string             `json:"train_job"`
	TrainSeconds float64            `json:"train_seconds"`
	TrainSamples int64              `json:"train_samples"`
	Metrics      map[string]float64 `json:"holdout_metrics"`
	TruthMetrics map[string]float64 `json:"truth_holdout_metrics"`
	ModelVersion int32              `json:"model_version"`
	Promoted     bool               `json:"promoted"`
	Promotion    string             `json:"promotion"`
	Model        string             `json:"model"`
	ScoreJob     string             `json:"score_job"`
	RowsScored   int64              `json:"rows_scored"`
	ScoreSeconds float64            `json:"score_seconds"`
	RowsPerSec   float64            `json:"rows_per_second"`
	Output       string             `json:"output"`
	Manifest     string             `json:"manifest"`
	Nightly      *nightlySummary    `json:"nightly,omitempty"`
}

func runDemo(cmd *cobra.Command, f *demoFlags) error {
	ctx := cmd.Context()
	if f.nights < 0 || f.nightRows < 0 {
		return fmt.Errorf("--nights and --night-rows must be ≥ 0")
	}
	root, err := filepath.Abs(f.data)
	if err != nil {
		return err
	}
	// Start from a clean slate, so files of an earlier, larger run never mix in.
	for _, sub := range []string{"sample", "cluster", "datasets", "models", "scored", "lake", "nightly.yaml"} {
		if err := os.RemoveAll(filepath.Join(root, sub)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	st := storage.Config{FileRoot: root}
	base := "file://" + root
	w := cmd.OutOrStdout()
	say := func(format string, args ...any) {
		if f.out == outputTable {
			fmt.Fprintf(w, format, args...)
		}
	}
	var sum demoSummary
	steps := 5
	if f.nights > 0 {
		steps = 6
	}

	say("== 1/%d generate: %d CSV files x %d rows into %s/sample/raw\n", steps, f.files, f.rows, base)
	t0 := time.Now()
	spec := sample.Spec{Files: f.files, RowsPerFile: f.rows, Features: f.feats, Seed: f.seed, Format: "csv"}
	written, err := generateSample(ctx, st, base+"/sample", spec)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	sum.SampleBytes = written.Bytes
	say("   %s in %s\n\n", humanBytes(written.Bytes), time.Since(t0).Round(time.Millisecond))

	say("== 2/%d start a development cluster: 1 coordinator (Raft), %d workers, on loopback\n", steps, f.workers)
	// The development cluster of `nightshift dev` (cluster.StartDev), but
	// for its leader's schedule loop: it moves pipeline runs on every
	// demoScheduleInterval rather than every second, so that the nightly
	// step's runs wait less between their steps. The Raft state it leaves
	// is the same: `nightshift dev --data DATA/cluster` runs on from it.
	dev, err := cluster.Start(ctx, cluster.Options{Coordinators: 1, Workers: f.workers, DataDir: filepath.Join(root, "cluster"),
		GRPCAddr: "127.0.0.1:0", Storage: st, Coordinator: func(_ int, c *coordinator.Config) { c.ScheduleInterval = demoScheduleInterval }})
	if err != nil {
		return fmt.Errorf("dev cluster: %w", err)
	}
	defer dev.Close()
	client, err := (&clientFlags{addr: dev.Addr(), timeout: 30 * time.Second}).dial()
	if err != nil {
		return err
	}
	defer client.Close()
	say("   coordinator %s\n\n", dev.Addr())

	sum.Dataset = base + "/datasets/churn"
	say("== 3/%d shard (a distributed job): %s/sample/raw -> %s\n", steps, base, sum.Dataset)
	opts, _ := json.Marshal(shard.Options{Label: "label", RowsPerShard: 25000})
	t1 := time.Now()
	shardJob, err := runToEnd(ctx, cmd, client, f.out == outputTable, &nsv1.JobSpec{IdempotencyKey: randomID("demo-"), Name: "demo-shard", Kind: &nsv1.JobSpec_Shard{Shard: &nsv1.ShardSpec{
		Sources: []string{base + "/sample/raw"}, Output: sum.Dataset, OptionsJson: opts}}})
	if err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	sum.ShardSeconds = time.Since(t1).Seconds()
	ds, err := shard.OpenDataset(ctx, st, sum.Dataset)
	if err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	sum.DatasetRows, sum.Shards = ds.Manifest.TotalRows, ds.NumShards()
	say("   job %s: %d rows in %d shards, %s (%s)\n\n", shardJob.GetId(), sum.DatasetRows, sum.Shards,
		humanBytes(ds.Manifest.TotalBytes), time.Duration(sum.ShardSeconds*float64(time.Second)).Round(time.Millisecond))

	say("== 4/%d train a logistic regression on %d workers (ring all-reduce over gRPC), register it as \"churn\"\n", steps, min(f.workers, 2))
	t2 := time.Now()
	trainJob, err := runToEnd(ctx, cmd, client, f.out == outputTable, &nsv1.JobSpec{IdempotencyKey: randomID("demo-"), Name: "demo-train",
		Kind: &nsv1.JobSpec_Train{Train: demoTrainSpec(spec, sum.Dataset, base+"/models", int32(min(f.workers, 2)))}})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	ts := trainJob.GetTrain()
	sum.TrainJob, sum.TrainSeconds, sum.TrainSamples = trainJob.GetId(), time.Since(t2).Seconds(), ts.GetSamples()
	sum.Metrics, sum.ModelVersion, sum.Promoted, sum.Promotion = ts.GetMetrics(), ts.GetRegistered().GetVersion(), ts.GetPromoted(), ts.GetPromotionReason()
	if sum.TruthMetrics, err = truthHoldout(ctx, st, spec, sum.Dataset, trainJob); err != nil {
		return err
	}
	say("   job %s: %d steps, %d samples in %s (%s)\n", sum.TrainJob, ts.GetStep(), ts.GetSamples(),
		time.Duration(sum.TrainSeconds*float64(time.Second)).Round(time.Millisecond), rate(float64(ts.GetSamples()), time.Duration(sum.TrainSeconds*float64(time.Second)), "samples"))
	say("   holdout  logloss %.4f  auc %.4f  accuracy %.4f   (the generator's true model: logloss %.4f  auc %.4f)\n",
		sum.Metrics["logloss"], sum.Metrics["auc"], sum.Metrics["accuracy"], sum.TruthMetrics["logloss"], sum.TruthMetrics["auc"])
	say("   registry churn v%d: %s\n\n", sum.ModelVersion, sum.Promotion)

	sum.Model = "churn@production"
	say("== 5/%d score every row with %s\n", steps, sum.Model)
	t3 := time.Now()
	scoreJob, err := runToEnd(ctx, cmd, client, f.out == outputTable, &nsv1.JobSpec{IdempotencyKey: randomID("demo-"), Name: "demo-score", Kind: &nsv1.JobSpec_Score{Score: &nsv1.ScoreSpec{
		Model: sum.Model, Input: sum.Dataset, Output: base + "/scored", Passthrough: []string{"id", "label"}}}})
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	el := time.Since(t3)
	sum.ScoreJob, sum.RowsScored, sum.ScoreSeconds = scoreJob.GetId(), scoreJob.GetRowsDone(), el.Seconds()
	sum.RowsPerSec = float64(sum.RowsScored) / el.Seconds()
	sum.Output, sum.Manifest = scoreJob.GetOutputDir(), scoreJob.GetResultUri()
	if err := checkDemoOutput(ctx, st, sum.Output, sum.DatasetRows); err != nil {
		return err
	}
	say("   job %s: %d rows scored with %s in %s (%s, submit to _SUCCESS)\n", sum.ScoreJob, sum.RowsScored, scoreJob.GetModelRef(),
		el.Round(time.Millisecond), rate(float64(sum.RowsScored), el, "rows"))
	say("   output   %s/part-*.parquet (one per shard)\n", sum.Output)
	say("   manifest %s (every input row exactly once)\n", sum.Manifest)

	if f.nights > 0 {
		say("\n== 6/%d a nightly pipeline: %d simulated nights of %d rows in %s/lake/events/DATE/, backfilled\n", steps, f.nights, f.rowsPerNight(), base)
		nd := &demoNightly{root: root, base: base, st: st, client: client, spec: spec, members: int32(min(f.workers, 2)),
			nights: f.nights, rows: f.rowsPerNight(), now: time.Now()}
		if f.out == outputTable {
			nd.progress = w
		}
		if sum.Nightly, err = nd.run(ctx); err != nil {
			return err
		}
	}
	if f.out == outputJSON {
		return writeJSON(w, sum)
	}
	writeDemoNext(w, root, base, sum.Dataset, sum.Nightly)
	return nil
}

// demoDevCommand is the command that runs a development cluster on the
// demo's Raft state (DATA/cluster: its jobs, models and schedule) and
// store (DATA), so that what the demo left goes on.
func demoDevCommand(root string) string {
	return fmt.Sprintf("nightshift dev --data %s --file-root %s", shellWord(filepath.Join(root, "cluster")), shellWord(root))
}

// writeDemoNext ends the demo: how to go on with what it left, the
// nightly schedule (when it ran one) included.
func writeDemoNext(w io.Writer, root, base, dataset string, nightly *nightlySummary) {
	fmt.Fprintf(w, "\nDone. Keep the demo's cluster running, on its state and store, with\n  %s\n", demoDevCommand(root))
	if nightly != nil {
		next := ""
		if nightly.NextSlot != "" {
			next = " (next slot " + nightly.NextSlot + ")"
		}
		fmt.Fprintf(w, "and it keeps running the schedule %s%s. In another shell:\n", nightly.Schedule, next)
		fmt.Fprintf(w, "  nightshift runs list --schedule %s\n", nightly.Schedule)
		fmt.Fprintf(w, "  nightshift schedules next %s -n 3\n", nightly.Schedule)
	} else {
		fmt.Fprintf(w, "In another shell:\n")
	}
	fmt.Fprintf(w, "  nightshift models get churn\n")
	fmt.Fprintf(w, "  nightshift score --model churn@production --input %s --output %s/scored --wait\n", dataset, base)
	if nightly == nil {
		return
	}
	if len(nightly.Nights) > 0 {
		last := nightly.Nights[len(nightly.Nights)-1].Date
		fmt.Fprintf(w, "Each night's run reads %s/lake/events/DATE/ and fails, with that reason, where it finds no files; to feed a night:\n", base)
		fmt.Fprintf(w, "  mkdir -p %[1]s/lake/events/DATE && cp %[1]s/lake/events/%[2]s/* %[1]s/lake/events/DATE/\n", shellWord(root), last)
	}
	fmt.Fprintf(w, "The schedule file is %s; on another cluster over this store: nightshift schedules add -f %s\n", nightly.File, shellWord(nightly.File))
}

// checkDemoOutput reads the manifest of the committed output folder dir and
// checks it covers every row.
func checkDemoOutput(ctx context.Context, st storage.Config, dir string, rows int64) error {
	b, key, err := storage.Open(ctx, dir, st)
	if err != nil {
		return err
	}
	man, err := scoreout.ReadManifest(ctx, b, key)
	if err != nil {
		return fmt.Errorf("reading the output manifest: %w", err)
	}
	if man.Rows != rows {
		return fmt.Errorf("output manifest %s lists %d rows, the dataset has %d", b.URI(storage.JoinKey(key, scoreout.ManifestName)), man.Rows, rows)
	}
	return nil
}

func generateSample(ctx context.Context, st storage.Config, uri string, spec sample.Spec) (*sample.Written, error) {
	b, key, err := storage.Open(ctx, uri, st)
	if err != nil {
		return nil, err
	}
	return sample.Write(ctx, b, key, spec)
}
