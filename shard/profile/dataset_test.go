package profile_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/ipc"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/storage"
)

// writeDataset writes recs as an Arrow IPC file below dir, ingests it into
// a dataset of shards with opts (non-finite floats allowed) on the file
// backend, and opens it.
func writeDataset(tb testing.TB, dir string, schema *arrow.Schema, recs []arrow.Record, opts shard.Options) *shard.Dataset {
	tb.Helper()
	src := filepath.Join(dir, "src", "data.arrow")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(src)
	if err != nil {
		tb.Fatal(err)
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
	if err != nil {
		tb.Fatal(err)
	}
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	opts.AllowNonFinite = true
	out := "file://" + filepath.Join(dir, "ds")
	if _, err := shard.Ingest(ctx, storage.Config{}, []string{"file://" + filepath.Dir(src)}, out, opts, shard.RunOptions{Parallel: 1}); err != nil {
		tb.Fatal(err)
	}
	ds, err := shard.OpenDataset(ctx, storage.Config{}, out)
	if err != nil {
		tb.Fatal(err)
	}
	return ds
}
