package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
)

type demoFlags struct {
	data  string
	files int
	rows  int
	feats int
	seed  uint64
	out   outputFormat
}

func newDemoCmd() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the main job end to end on the embedded local store",
		Long: `demo generates a realistic sample dataset (customer churn: numeric and
categorical columns, missing values, a label drawn from a known logistic
model) as several CSV files in a local-disk store, shards it into Arrow IPC,
reads every shard back to check it, and prints what it made.`,
		Example: "  nightshift demo --data ./.demo",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runDemo(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", filepath.Join(os.TempDir(), "nightshift-demo"), "folder of the embedded local store")
	fl.IntVar(&f.files, "files", 8, "CSV files to generate")
	fl.IntVar(&f.rows, "rows", 25000, "rows per file")
	fl.IntVar(&f.feats, "features", 8, "extra numeric features beside the named ones")
	fl.Uint64Var(&f.seed, "seed", 42, "generator seed")
	addOutputFlag(cmd, &f.out)
	return cmd
}

func runDemo(cmd *cobra.Command, f *demoFlags) error {
	ctx := cmd.Context()
	root, err := filepath.Abs(f.data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	// Start from a clean sample, so files of an earlier, larger run never mix in.
	if err := os.RemoveAll(filepath.Join(root, "sample")); err != nil {
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

	say("== 1/3 generate: %d CSV files x %d rows into %s/sample/raw\n", f.files, f.rows, base)
	t0 := time.Now()
	spec := sample.Spec{Files: f.files, RowsPerFile: f.rows, Features: f.feats, Seed: f.seed, Format: "csv"}
	written, err := generateSample(ctx, st, base+"/sample", spec)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	say("   %s in %s\n\n", humanBytes(written.Bytes), time.Since(t0).Round(time.Millisecond))

	say("== 2/3 shard: %s/sample/raw -> %s/datasets/churn\n", base, base)
	t1 := time.Now()
	res, err := shard.Ingest(ctx, st, []string{base + "/sample/raw"}, base+"/datasets/churn",
		shard.Options{Label: "label", RowsPerShard: 50000}, shard.RunOptions{Parallel: 2})
	if err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	ingestTime := time.Since(t1)
	if f.out == outputTable {
		if err := printIngest(cmd, f.out, res, ingestTime); err != nil {
			return err
		}
		if err := printShards(cmd, res.Manifest); err != nil {
			return err
		}
	}

	say("\n== 3/3 read back every shard and verify checksums\n")
	t2 := time.Now()
	rows, positives, err := scanDataset(ctx, st, res.URI)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	readTime := time.Since(t2)
	if rows != res.Manifest.TotalRows {
		return fmt.Errorf("read back %d rows, the manifest says %d", rows, res.Manifest.TotalRows)
	}
	say("   %d rows read (%s), %.1f%% labelled 1, checksums ok\n", rows, rate(float64(rows), readTime, "rows"), 100*float64(positives)/float64(rows))
	if f.out == outputJSON {
		return writeJSON(w, map[string]any{"sample_bytes": written.Bytes, "ingest": summarize(res, ingestTime),
			"read_rows": rows, "read_seconds": readTime.Seconds(), "positive_rate": float64(positives) / float64(rows)})
	}
	say("\nDone. Try: nightshift shard --input %s/sample/raw --output %s/datasets/churn   (reuses the manifest)\n", base, base)
	return nil
}

func generateSample(ctx context.Context, st storage.Config, uri string, spec sample.Spec) (*sample.Written, error) {
	b, key, err := storage.Open(ctx, uri, st)
	if err != nil {
		return nil, err
	}
	return sample.Write(ctx, b, key, spec)
}

func printShards(cmd *cobra.Command, m *shard.Manifest) error {
	var rows [][]string
	for i, s := range m.Shards {
		if i == 6 && len(m.Shards) > 8 {
			rows = append(rows, []string{fmt.Sprintf("... %d more", len(m.Shards)-7), "", "", ""})
			i = len(m.Shards) - 1
			s = m.Shards[i]
			rows = append(rows, []string{s.Key, fmt.Sprint(s.Rows), humanBytes(s.Bytes), s.Checksum})
			break
		}
		rows = append(rows, []string{s.Key, fmt.Sprint(s.Rows), humanBytes(s.Bytes), s.Checksum})
	}
	fmt.Fprintln(cmd.OutOrStdout())
	return writeTable(cmd.OutOrStdout(), []string{"SHARD", "ROWS", "BYTES", "CHECKSUM"}, rows)
}

// scanDataset streams every shard, verifying checksums, and counts rows
// and positive labels.
func scanDataset(ctx context.Context, st storage.Config, uri string) (rows, positives int64, err error) {
	ds, err := shard.OpenDataset(ctx, st, uri)
	if err != nil {
		return 0, 0, err
	}
	label := ds.Schema.FieldIndices("label")[0]
	for i := range ds.NumShards() {
		sc := ds.Scan(ctx, i)
		for sc.Next() {
			rec := sc.Record()
			rows += rec.NumRows()
			col := rec.Column(label)
			for j := range col.Len() {
				if col.ValueStr(j) == "1" {
					positives++
				}
			}
		}
		err := sc.Err()
		sc.Close()
		if err != nil {
			return 0, 0, err
		}
	}
	return rows, positives, nil
}
