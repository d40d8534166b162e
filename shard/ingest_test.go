package shard_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/storage/storagetest"
)

// fileEnv is a dataset folder on local disk, addressed by file:// URIs.
type fileEnv struct {
	dir string
	st  storage.Config
}

func newFileEnv(t *testing.T) *fileEnv {
	t.Helper()
	return &fileEnv{dir: t.TempDir()}
}

func (e *fileEnv) uri(rel string) string { return "file://" + filepath.Join(e.dir, rel) }

func (e *fileEnv) write(t *testing.T, rel, content string) {
	t.Helper()
	p := filepath.Join(e.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeSample generates spec under rel/ and returns the raw folder's URI.
func (e *fileEnv) writeSample(t *testing.T, rel string, spec sample.Spec) string {
	t.Helper()
	b, key, err := storage.Open(context.Background(), e.uri(rel), e.st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Write(context.Background(), b, key, spec); err != nil {
		t.Fatal(err)
	}
	return e.uri(rel + "/raw")
}

// readIDs scans every shard and returns how often each id appears.
func readIDs(t *testing.T, st storage.Config, uri string) (map[int64]int, *shard.Dataset) {
	t.Helper()
	ctx := context.Background()
	ds, err := shard.OpenDataset(ctx, st, uri)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]int{}
	for i := range ds.NumShards() {
		sc := ds.Scan(ctx, i)
		for sc.Next() {
			col := sc.Record().Column(0).(*array.Int64)
			for j := range col.Len() {
				ids[col.Value(j)]++
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("scan shard %d: %v", i, err)
		}
		sc.Close()
	}
	return ids, ds
}

func TestIngestEveryFormatKeepsEveryRowOnce(t *testing.T) {
	for _, format := range []string{"csv", "parquet", "arrow", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			e := newFileEnv(t)
			spec := sample.Spec{Files: 3, RowsPerFile: 5000, Features: 2, Seed: 7, Format: format}
			src := e.writeSample(t, "src", spec)
			opts := shard.Options{RowsPerShard: 4000, BatchRows: 1000, Label: "label"}
			res, err := shard.Ingest(context.Background(), e.st, []string{src}, e.uri("ds"), opts, shard.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m := res.Manifest
			if m.TotalRows != 15000 || res.Reused {
				t.Fatalf("total rows %d reused %v, want 15000 fresh", m.TotalRows, res.Reused)
			}
			// 5000 rows per object at 4000 per shard: 2 shards per object.
			if len(m.Shards) != 6 {
				t.Fatalf("got %d shards, want 6", len(m.Shards))
			}
			ids, ds := readIDs(t, e.st, e.uri("ds"))
			if len(ids) != 15000 {
				t.Fatalf("read %d distinct ids, want 15000", len(ids))
			}
			for id, n := range ids {
				if n != 1 || id < 0 || id >= 15000 {
					t.Fatalf("id %d seen %d times", id, n)
				}
			}
			if !arrow.TypeEqual(ds.Schema.Field(0).Type, arrow.PrimitiveTypes.Int64) {
				t.Fatalf("id column is %s", ds.Schema.Field(0).Type)
			}
			if err := ds.Verify(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Same source, same options: the manifest is reused.
			again, err := shard.Ingest(context.Background(), e.st, []string{src}, e.uri("ds"), opts, shard.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !again.Reused || again.Manifest.Fingerprint != m.Fingerprint {
				t.Fatalf("second ingest reused=%v", again.Reused)
			}
		})
	}
}

func TestReadRowsAcrossShardsAndBatches(t *testing.T) {
	e := newFileEnv(t)
	src := e.writeSample(t, "src", sample.Spec{Files: 2, RowsPerFile: 3000, Seed: 1})
	_, err := shard.Ingest(context.Background(), e.st, []string{src}, e.uri("ds"),
		shard.Options{RowsPerShard: 1000, BatchRows: 300}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := shard.OpenDataset(context.Background(), e.st, e.uri("ds/manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ start, n int64 }{{0, 1}, {250, 700}, {999, 2}, {2950, 1200}, {5999, 1}, {0, 6000}} {
		var got []int64
		err := ds.ReadRows(context.Background(), r.start, r.n, func(rec arrow.Record) error {
			got = append(got, rec.Column(0).(*array.Int64).Int64Values()...)
			return nil
		})
		if err != nil {
			t.Fatalf("ReadRows(%d,%d): %v", r.start, r.n, err)
		}
		if int64(len(got)) != r.n {
			t.Fatalf("ReadRows(%d,%d) returned %d rows", r.start, r.n, len(got))
		}
		for i, id := range got {
			if id != r.start+int64(i) {
				t.Fatalf("ReadRows(%d,%d)[%d] = id %d", r.start, r.n, i, id)
			}
		}
	}
	if err := ds.ReadRows(context.Background(), 5990, 11, func(arrow.Record) error { return nil }); err == nil {
		t.Fatal("reading past the end succeeded")
	}
}

func TestCorruptShardIsDetected(t *testing.T) {
	e := newFileEnv(t)
	src := e.writeSample(t, "src", sample.Spec{Files: 1, RowsPerFile: 2000, Seed: 3})
	res, err := shard.Ingest(context.Background(), e.st, []string{src}, e.uri("ds"), shard.Options{}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(e.dir, "ds", res.Manifest.Shards[0].Key)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xFF
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := shard.OpenDataset(context.Background(), e.st, e.uri("ds"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Verify(context.Background()); !errors.Is(err, shard.ErrCorruptShard) {
		t.Fatalf("Verify: %v, want ErrCorruptShard", err)
	}
	sc := ds.Scan(context.Background(), 0)
	for sc.Next() {
	}
	if !errors.Is(sc.Err(), shard.ErrCorruptShard) {
		t.Fatalf("Scan: %v, want ErrCorruptShard", sc.Err())
	}
	sc.Close()
}

// TestScanClosedEarlyLeavesNothingRunning stops scans after one batch; the
// package's goleak check then proves the read-ahead goroutines ended.
func TestScanClosedEarlyLeavesNothingRunning(t *testing.T) {
	e := newFileEnv(t)
	src := e.writeSample(t, "src", sample.Spec{Files: 1, RowsPerFile: 20000, Seed: 5})
	if _, err := shard.Ingest(context.Background(), e.st, []string{src}, e.uri("ds"), shard.Options{BatchRows: 1000}, shard.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	ds, err := shard.OpenDataset(context.Background(), e.st, e.uri("ds"))
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		sc := ds.Scan(context.Background(), 0)
		if !sc.Next() {
			t.Fatalf("no first batch: %v", sc.Err())
		}
		sc.Close()
	}
}

// TestScanMemoryIsBounded scans a 60 MB shard while sampling the heap: a
// scan holds a few batches, never the shard.
func TestScanMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a 60 MB shard")
	}
	e := newFileEnv(t)
	src := e.writeSample(t, "src", sample.Spec{Files: 1, RowsPerFile: 300000, Features: 16, Seed: 9, Format: "arrow"})
	res, err := shard.Ingest(context.Background(), e.st, []string{src}, e.uri("ds"),
		shard.Options{BatchRows: 8192, Compression: shard.CompressionNone, ShardBytes: 1 << 30}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Shards) != 1 || res.Manifest.Shards[0].Bytes < 50<<20 {
		t.Fatalf("want one shard over 50 MB, got %d shards, %d bytes", len(res.Manifest.Shards), res.Manifest.TotalBytes)
	}
	ds, err := shard.OpenDataset(context.Background(), e.st, e.uri("ds"))
	if err != nil {
		t.Fatal(err)
	}
	heap := storagetest.WatchHeap()
	sc := ds.Scan(context.Background(), 0)
	var rows int64
	for sc.Next() {
		rows += sc.Record().NumRows()
	}
	err = sc.Err()
	sc.Close()
	growth := heap.Growth()
	if err != nil || rows != 300000 {
		t.Fatalf("scan: %d rows, %v", rows, err)
	}
	if limit := uint64(res.Manifest.Shards[0].Bytes / 2); growth > limit {
		t.Fatalf("scan of a %d-byte shard grew the heap by %d bytes (limit %d)", res.Manifest.Shards[0].Bytes, growth, limit)
	}
	t.Logf("scan of a %d MB shard: peak heap growth %d MB", res.Manifest.Shards[0].Bytes>>20, growth>>20)
}
