package profile_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/profile"
)

// datasetColumns are mixedColumns without the dictionary, which a dataset
// cannot hold.
func datasetColumns() []genColumn {
	var out []genColumn
	for _, c := range mixedColumns() {
		if c.field.Name != "dict" {
			out = append(out, c)
		}
	}
	return out
}

// TestShardAndFromRecords profiles a real dataset of several shards shard
// by shard, as profile tasks do, and checks the merge against the raw
// values and against FromRecords on the same rows in memory.
func TestShardAndFromRecords(t *testing.T) {
	const rows = 24_000
	tb := genTable(rows, 12, datasetColumns())
	src := tb.records(0, rows, 5000)
	ds := writeDataset(t, t.TempDir(), tb.schema, src, shard.Options{RowsPerShard: 7000, BatchRows: 1000})
	release(src)
	if ds.NumShards() != 4 {
		t.Fatalf("%d shards, want 4", ds.NumShards())
	}
	ctx := context.Background()

	// Profile tasks: one partial per shard, through the binary codec as a
	// worker writes them, merged in shard order, finished.
	var merged *pb.DatasetProfile
	var scanned [][]arrow.Record
	for i := range ds.NumShards() {
		part, err := profile.Shard(ctx, ds, i)
		if err != nil {
			t.Fatal(err)
		}
		if part.Dataset != ds.URI || part.Fingerprint != ds.Manifest.Fingerprint || part.Rows != ds.Manifest.Shards[i].Rows || part.Shards != 1 {
			t.Fatalf("shard %d: dataset %q fingerprint %q rows %d shards %d", i, part.Dataset, part.Fingerprint, part.Rows, part.Shards)
		}
		b, err := profile.MarshalPartial(part)
		if err != nil {
			t.Fatal(err)
		}
		if part, err = profile.UnmarshalPartial(b); err != nil {
			t.Fatal(err)
		}
		if merged == nil {
			merged = part
		} else if err := profile.Merge(merged, part); err != nil {
			t.Fatal(err)
		}
		// What a trainer holds: the scanned batches of each shard.
		sc := ds.Scan(ctx, i)
		var recs []arrow.Record
		for sc.Next() {
			sc.Record().Retain()
			recs = append(recs, sc.Record())
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		sc.Close()
		scanned = append(scanned, recs)
	}
	defer func() {
		for _, recs := range scanned {
			release(recs)
		}
	}()
	profile.Finish(merged)
	if err := profile.Check(merged); err != nil {
		t.Fatal(err)
	}
	if merged.Rows != rows || merged.Shards != 4 {
		t.Fatalf("rows %d shards %d", merged.Rows, merged.Shards)
	}
	for i, c := range merged.Columns {
		switch c.Kind {
		case pb.ColumnKind_COLUMN_KIND_NUMERIC:
			unfinished := proto.Clone(c.Numeric).(*pb.NumericStats)
			unfinished.Quantiles = nil
			checkNumeric(t, unfinished, c.Numeric, tb.cols[i])
		case pb.ColumnKind_COLUMN_KIND_CATEGORICAL:
			checkCategorical(t, c.Categorical, tb.cols[i])
		}
	}

	same := func(name string, p *pb.DatasetProfile) {
		t.Helper()
		p.Dataset, p.Fingerprint = ds.URI, ds.Manifest.Fingerprint
		a, _ := profile.MarshalJSON(p)
		b, _ := profile.MarshalJSON(merged)
		if !proto.Equal(p, merged) || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the merged shard profiles", name)
		}
	}
	// Shard and FromRecords accumulate a batch's columns on several
	// goroutines: the result is a plain Accumulator's.
	var plain *pb.DatasetProfile
	for _, recs := range scanned {
		part := partialOf(t, ds.Schema, recs)
		if plain == nil {
			plain = part
		} else if err := profile.Merge(plain, part); err != nil {
			t.Fatal(err)
		}
	}
	profile.Finish(plain)
	same("a plain Accumulator per shard", plain)

	fr, err := profile.FromRecords(ds.Schema, scanned)
	if err != nil {
		t.Fatal(err)
	}
	same("FromRecords of the scanned batches", fr)

	// The same rows cut into other batches give the same profile.
	var recut [][]arrow.Record
	start := 0
	for _, s := range ds.Manifest.Shards {
		recut = append(recut, tb.records(start, start+int(s.Rows), 1500))
		start += int(s.Rows)
	}
	defer func() {
		for _, recs := range recut {
			release(recs)
		}
	}()
	fr2, err := profile.FromRecords(ds.Schema, recut)
	if err != nil {
		t.Fatal(err)
	}
	same("FromRecords of the rows in batches of 1500", fr2)
}

func TestShardErrors(t *testing.T) {
	tb := genTable(3000, 13, datasetColumns()[:4])
	src := tb.records(0, 3000, 3000)
	dir := t.TempDir()
	ds := writeDataset(t, dir, tb.schema, src, shard.Options{RowsPerShard: 1500, BatchRows: 500, Compression: shard.CompressionNone})
	release(src)
	ctx := context.Background()
	for _, i := range []int{-1, ds.NumShards()} {
		if _, err := profile.Shard(ctx, ds, i); err == nil {
			t.Errorf("shard %d of %d: no error", i, ds.NumShards())
		}
	}
	// A corrupt shard is an error, never a partial.
	path := filepath.Join(dir, "ds", filepath.FromSlash(ds.Manifest.Shards[1].Key))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := profile.Shard(ctx, ds, 1); !errors.Is(err, shard.ErrCorruptShard) {
		t.Errorf("corrupt shard: %v", err)
	}
	if _, err := profile.Shard(ctx, ds, 0); err != nil {
		t.Errorf("the intact shard: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := profile.Shard(cctx, ds, 0); err == nil {
		t.Error("a cancelled context profiled a shard")
	}
	if _, err := profile.FromRecords(ds.Schema, nil); err == nil || !strings.Contains(err.Error(), "no shards") {
		t.Errorf("FromRecords of nothing: %v", err)
	}
	other := genTable(10, 13, datasetColumns()[1:5])
	recs := other.records(0, 10, 5)
	defer release(recs)
	if _, err := profile.FromRecords(ds.Schema, [][]arrow.Record{recs}); err == nil || !strings.Contains(err.Error(), "shard 0") || !strings.Contains(err.Error(), `"i64"`) {
		t.Errorf("FromRecords of records of another schema: %v", err)
	}
}
