package score_test

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/storage/storagetest"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/score"
)

// TestShardOnMinIO scores from and to a real S3 server, with the model
// artifact stored there too, and checks a cancelled upload leaves nothing.
func TestShardOnMinIO(t *testing.T) {
	st := storagetest.MinIO(t)
	base := "s3://" + storagetest.FreshBucket(t, st)
	ctx := context.Background()
	b, _, err := storage.Open(ctx, base, st)
	if err != nil {
		t.Fatal(err)
	}
	spec := sample.Spec{Files: 2, RowsPerFile: 3000, Features: 3, Seed: 2, Format: "parquet"}
	w, err := sample.Write(ctx, b, "src", spec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := shard.Ingest(ctx, st, []string{base + "/src/raw"}, base+"/ds", shard.Options{RowsPerShard: 2500, BatchRows: 1000}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := shard.OpenDataset(ctx, st, res.URI)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := model.FromTruth(w.Truth)
	if err != nil {
		t.Fatal(err)
	}
	if err := truth.Save(ctx, st, base+"/models/churn/v1"); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(ctx, st, base+"/models/churn/v1")
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for i := range ds.NumShards() {
		for _, format := range []string{score.FormatParquet, score.FormatArrow} {
			key := "out/" + format + "/part-" + string(rune('a'+i))
			r, err := score.Shard(ctx, st, ds, i, m, score.Options{Format: format, Passthrough: []string{"id"}}, base+"/"+key)
			if err != nil {
				t.Fatal(err)
			}
			rc, info, err := b.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != r.Bytes || crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) != r.CRC32C {
				t.Fatalf("shard %d %s: stored object does not match the result %+v", i, format, r)
			}
			if format == score.FormatParquet {
				rows += r.Rows
			}
		}
	}
	if rows != ds.Manifest.TotalRows {
		t.Fatalf("scored %d rows, want %d", rows, ds.Manifest.TotalRows)
	}
	cctx := newCountdownCtx(3)
	_, err = score.Shard(cctx, st, ds, 0, m, score.Options{}, base+"/out/cancelled")
	cctx.cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Shard = %v", err)
	}
	if _, err := b.Stat(ctx, "out/cancelled"); !storage.IsNotFound(err) {
		t.Fatalf("cancelled output: Stat = %v, want not found", err)
	}
	if n, err := b.(storage.UploadLister).IncompleteUploads(ctx, "out/cancelled"); err != nil || n != 0 {
		t.Fatalf("%d incomplete uploads (%v)", n, err)
	}
}
