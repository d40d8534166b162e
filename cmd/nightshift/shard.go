package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
)

type shardFlags struct {
	inputs   []string
	output   string
	opts     shard.Options
	bytes    byteSize
	split    byteSize
	parallel int
	format   string
	compress string
	badRows  string
	out      outputFormat
	st       storageFlags
	submit   bool
	job      submitFlags
}

func newShardCmd() *cobra.Command {
	var f shardFlags
	cmd := &cobra.Command{
		Use:   "shard --input URI [--input URI...] --output URI",
		Short: "Split a dataset (CSV, Parquet, Arrow, JSON lines) into Arrow IPC shards",
		Long: `shard ingests every object under each --input URI (a prefix or one object) and
writes compressed Arrow IPC shards plus manifest.json (written last) under --output.

Ingesting an unchanged source with the same options again reuses the existing
manifest and writes nothing. Bad input fails with the object, line or row and
column named; --bad-rows quarantine sets bad rows aside instead, up to
--max-bad-fraction of all rows.

By default shard runs here, in this process. With --submit it runs as a
distributed shard job on the cluster instead (one task per unit, on the
workers of --pool), with the same options and the same output; --wait
follows it with a progress bar. The workers read --input and write --output
with their own storage settings (the --s3-*/--file-root flags apply here only).

With --submit: ` + idempotencyHelp,
		Example: `  nightshift shard --input s3://lake/events/2026-11-22/ --output s3://lake/datasets/events-1122
  nightshift shard --input file:///data/train.csv --output file:///data/ds --rows-per-shard 500000 --label churned
  nightshift shard --input s3://lake/raw/ --output s3://lake/ds --format jsonl --schema 'id:int64,x:float64,tag:string' -o json
  nightshift shard --input s3://lake/events/2026-11-22/ --output s3://lake/datasets/events-1122 --submit --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runShard(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.inputs, "input", nil, "source URI: a prefix or one object (repeatable)")
	fl.StringVar(&f.output, "output", "", "dataset folder URI to write shards and manifest.json under")
	fl.StringVar(&f.format, "format", "", "source format: csv, parquet, arrow or jsonl (default: from file names)")
	fl.Int64Var(&f.opts.RowsPerShard, "rows-per-shard", 0, "rows per shard (0: cut by --shard-bytes only)")
	f.bytes = shard.DefaultShardBytes
	fl.Var(&f.bytes, "shard-bytes", "target uncompressed bytes per shard")
	fl.IntVar(&f.opts.BatchRows, "batch-rows", shard.DefaultBatchRows, "rows per record batch inside shards")
	fl.StringVar(&f.compress, "compression", string(shard.CompressionLZ4), "shard compression: lz4, zstd or none")
	fl.StringVar(&f.opts.Schema, "schema", "", "column types for CSV/JSON lines, e.g. 'id:int64,age:float64,city:string' (default: inferred)")
	fl.StringVar(&f.opts.Label, "label", "", "label column: must exist and be present in every row")
	fl.StringVar(&f.badRows, "bad-rows", string(shard.BadRowsFail), "bad-row policy: fail or quarantine")
	fl.Float64Var(&f.opts.MaxBadFraction, "max-bad-fraction", shard.DefaultMaxBadFrac, "with --bad-rows quarantine: fail above this fraction of bad rows")
	fl.BoolVar(&f.opts.AllowNonFinite, "allow-non-finite", false, "accept NaN and ±Inf in float columns")
	f.split = shard.DefaultCSVSplitBytes
	fl.Var(&f.split, "csv-split-bytes", "split CSV objects larger than this into byte-range units (-1: never; needed if quoted fields hold newlines)")
	fl.IntVar(&f.opts.InferRows, "infer-rows", shard.DefaultInferRows, "rows sampled to infer a CSV/JSON lines schema")
	fl.IntVar(&f.parallel, "parallel", 2, "units ingested at once (here; not with --submit)")
	fl.BoolVar(&f.submit, "submit", false, "run the ingest as a job on the cluster instead of here")
	addSubmitFlags(cmd, &f.job, " (with --submit)")
	addOutputFlag(cmd, &f.out)
	addStorageFlags(cmd, &f.st)
	_ = cmd.MarkFlagRequired("input")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func runShard(cmd *cobra.Command, f *shardFlags) error {
	f.opts.Format = shard.Format(f.format)
	f.opts.Compression = shard.Compression(f.compress)
	f.opts.BadRows = shard.BadRowPolicy(f.badRows)
	f.opts.ShardBytes = int64(f.bytes)
	f.opts.CSVSplitBytes = int64(f.split)
	if f.submit {
		return submitShard(cmd, f)
	}
	for _, name := range []string{"wait", "pool", "name", "idempotency-key", "new"} {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s needs --submit", name)
		}
	}
	bar := newProgressBar(cmd.ErrOrStderr())
	start := time.Now()
	res, err := shard.Ingest(cmd.Context(), f.st.config(), f.inputs, f.output, f.opts, shard.RunOptions{
		Parallel: f.parallel,
		Progress: func(p shard.Progress) {
			el := time.Since(start)
			bar.update(int64(p.UnitsDone), int64(p.Units), fmt.Sprintf("units  %s rows  %s", si(float64(p.Rows)), rate(float64(p.SourceBytes)/1e6, el, "MB")))
		},
	})
	bar.finish()
	if err != nil {
		return err
	}
	return printIngest(cmd, f.out, res, time.Since(start))
}

// submitShard runs the ingest as a distributed shard job.
func submitShard(cmd *cobra.Command, f *shardFlags) error {
	opts, err := json.Marshal(f.opts)
	if err != nil {
		return err
	}
	spec := &nsv1.ShardSpec{Sources: f.inputs, Output: f.output, OptionsJson: opts}
	return submitJob(cmd, &f.job, f.out, &nsv1.JobSpec{Kind: &nsv1.JobSpec_Shard{Shard: spec}})
}

// ingestSummary is the stable JSON shape of `shard -o json`.
type ingestSummary struct {
	Manifest       string        `json:"manifest"`
	Reused         bool          `json:"reused"`
	Fingerprint    string        `json:"fingerprint"`
	Format         shard.Format  `json:"format"`
	SourceObjects  int           `json:"source_objects"`
	TotalRows      int64         `json:"total_rows"`
	TotalBytes     int64         `json:"total_bytes"`
	Shards         int           `json:"shards"`
	QuarantineRows int64         `json:"quarantined_rows"`
	Schema         []shard.Field `json:"schema"`
	ElapsedSeconds float64       `json:"elapsed_seconds"`
}

func summarize(res *shard.Result, elapsed time.Duration) ingestSummary {
	m := res.Manifest
	s := ingestSummary{Manifest: res.URI, Reused: res.Reused, Fingerprint: m.Fingerprint, Format: m.Source.Format,
		SourceObjects: len(m.Source.Objects), TotalRows: m.TotalRows, TotalBytes: m.TotalBytes,
		Shards: len(m.Shards), Schema: m.Schema, ElapsedSeconds: elapsed.Seconds()}
	if m.Quarantine != nil {
		s.QuarantineRows = m.Quarantine.Rows
	}
	return s
}

func printIngest(cmd *cobra.Command, out outputFormat, res *shard.Result, elapsed time.Duration) error {
	s := summarize(res, elapsed)
	if out == outputJSON {
		return writeJSON(cmd.OutOrStdout(), s)
	}
	var srcBytes int64
	for _, o := range res.Manifest.Source.Objects {
		srcBytes += o.Size
	}
	rows := [][2]string{
		{"manifest", s.Manifest},
		{"reused", fmt.Sprint(s.Reused)},
		{"fingerprint", s.Fingerprint},
		{"source", fmt.Sprintf("%d %s objects, %s", s.SourceObjects, s.Format, humanBytes(srcBytes))},
		{"rows", fmt.Sprint(s.TotalRows)},
		{"shards", fmt.Sprintf("%d, %s", s.Shards, humanBytes(s.TotalBytes))},
		{"quarantined rows", fmt.Sprint(s.QuarantineRows)},
		{"elapsed", elapsed.Round(time.Millisecond).String()},
	}
	if !res.Reused && elapsed > 0 {
		rows = append(rows, [2]string{"throughput", fmt.Sprintf("%s, %s",
			rate(float64(s.TotalRows), elapsed, "rows"), rate(float64(srcBytes)/1e6, elapsed, "MB"))})
	}
	return writeKV(cmd.OutOrStdout(), rows)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
