package shard_test

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/storage/storagetest"
)

// TestIngestOnMinIO runs the whole path against a real S3 server: CSV split
// into byte ranges (ranged GETs), Parquet through the ranged ReaderAt, shard
// uploads, streamed scans and footer-based row reads.
func TestIngestOnMinIO(t *testing.T) {
	st := storagetest.MinIO(t)
	base := "s3://" + storagetest.FreshBucket(t, st)
	ctx := context.Background()
	b, _, err := storage.Open(ctx, base, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"csv", "parquet"} {
		t.Run(format, func(t *testing.T) {
			spec := sample.Spec{Files: 2, RowsPerFile: 6000, Features: 3, Seed: 11, Format: format}
			if _, err := sample.Write(ctx, b, "src-"+format, spec); err != nil {
				t.Fatal(err)
			}
			out := base + "/ds-" + format
			opts := shard.Options{RowsPerShard: 5000, BatchRows: 1024, Label: "label", CSVSplitBytes: 200 << 10}
			res, err := shard.Ingest(ctx, st, []string{base + "/src-" + format + "/raw"}, out, opts, shard.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Manifest.TotalRows != 12000 {
				t.Fatalf("ingested %d rows, want 12000", res.Manifest.TotalRows)
			}
			ids, ds := readIDs(t, st, out)
			if len(ids) != 12000 {
				t.Fatalf("read %d distinct ids, want 12000", len(ids))
			}
			for id, n := range ids {
				if n != 1 {
					t.Fatalf("id %d read %d times", id, n)
				}
			}
			if err := ds.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			var got []int64
			if err := ds.ReadRows(ctx, 4990, 30, func(r arrow.Record) error {
				got = append(got, r.Column(0).(*array.Int64).Int64Values()...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != 30 {
				t.Fatalf("ReadRows returned %d rows", len(got))
			}
			again, err := shard.Ingest(ctx, st, []string{base + "/src-" + format + "/raw"}, out, opts, shard.RunOptions{})
			if err != nil || !again.Reused {
				t.Fatalf("re-ingest: reused=%v err=%v", again != nil && again.Reused, err)
			}
		})
	}
}
