package score_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/score"
)

// env is a local-disk store holding one ingested sample dataset.
type env struct {
	dir   string
	st    storage.Config
	ds    *shard.Dataset
	truth *sample.Truth
}

func (e *env) uri(rel string) string { return "file://" + filepath.ToSlash(filepath.Join(e.dir, rel)) }

// newEnv generates spec's sample and ingests it into shards of
// rowsPerShard rows in batches of batchRows.
func newEnv(t testing.TB, spec sample.Spec, rowsPerShard int64, batchRows int) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{dir: t.TempDir()}
	b, key, err := storage.Open(ctx, e.uri("src"), e.st)
	if err != nil {
		t.Fatal(err)
	}
	w, err := sample.Write(ctx, b, key, spec)
	if err != nil {
		t.Fatal(err)
	}
	e.truth = w.Truth
	res, err := shard.Ingest(ctx, e.st, []string{e.uri("src/raw")}, e.uri("ds"),
		shard.Options{RowsPerShard: rowsPerShard, BatchRows: batchRows}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e.ds, err = shard.OpenDataset(ctx, e.st, res.URI); err != nil {
		t.Fatal(err)
	}
	return e
}

func smallEnv(t testing.TB) *env {
	return newEnv(t, sample.Spec{Files: 2, RowsPerFile: 5000, Features: 3, Seed: 7, Format: "parquet"}, 4000, 1500)
}

// inputRows scans the dataset: per id, its row as text (by column name)
// and the model's outputs for it computed by a Predictor.
func inputRows(t *testing.T, e *env, m *model.Model) map[int64]map[string]string {
	t.Helper()
	rows := map[int64]map[string]string{}
	p := m.NewPredictor()
	for i := range e.ds.NumShards() {
		sc := e.ds.Scan(context.Background(), i)
		for sc.Next() {
			rec := sc.Record()
			out, _, err := p.PredictMasked(rec)
			if err != nil {
				t.Fatal(err)
			}
			cols := append(append([]arrow.Array{}, rec.Columns()...), out...)
			names := fieldNames(rec.Schema())
			for _, f := range m.OutputFields() {
				names = append(names, f.Name)
			}
			addRows(rows, names, cols, int(rec.NumRows()))
			for _, a := range out {
				a.Release()
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		sc.Close()
	}
	return rows
}

func fieldNames(s *arrow.Schema) []string {
	var names []string
	for _, f := range s.Fields() {
		names = append(names, f.Name)
	}
	return names
}

func addRows(rows map[int64]map[string]string, names []string, cols []arrow.Array, n int) {
	id := cols[indexOf(names, "id")].(*array.Int64)
	for r := range n {
		row := map[string]string{}
		for j, c := range cols {
			row[names[j]] = strings.Clone(c.ValueStr(r)) // exact: floats print shortest round-trip; strings point into the batch
		}
		rows[id.Value(r)] = row
	}
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	panic("no column " + name)
}

// readOutput decodes an output object and returns its rows by id.
func readOutput(t *testing.T, path, format string, wantSchema *arrow.Schema) map[int64]map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[int64]map[string]string{}
	add := func(rec arrow.Record) {
		if !sameFields(rec.Schema(), wantSchema) {
			t.Fatalf("%s schema:\n%s\nwant:\n%s", path, rec.Schema(), wantSchema)
		}
		names := fieldNames(rec.Schema())
		n := len(rows)
		addRows(rows, names, rec.Columns(), int(rec.NumRows()))
		if len(rows) != n+int(rec.NumRows()) {
			t.Fatalf("%s: an id appears twice", path)
		}
	}
	switch format {
	case score.FormatArrow:
		fr, err := ipc.NewFileReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer fr.Close()
		for i := range fr.NumRecords() {
			rec, err := fr.RecordAt(i)
			if err != nil {
				t.Fatal(err)
			}
			add(rec)
			rec.Release()
		}
	default:
		tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(data), parquet.NewReaderProperties(memory.DefaultAllocator),
			pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Release()
		tr := array.NewTableReader(tbl, 1000)
		defer tr.Release()
		for tr.Next() {
			add(tr.Record())
		}
	}
	return rows
}

// sameFields compares names, types and nullability (parquet adds field ids
// as metadata).
func sameFields(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || !arrow.TypeEqual(fa.Type, fb.Type) || fa.Nullable != fb.Nullable {
			return false
		}
	}
	return true
}

func filePath(uri string) string { return strings.TrimPrefix(uri, "file://") }

func outSchema(in *arrow.Schema, m *model.Model, pass []string) *arrow.Schema {
	var fields []arrow.Field
	for _, p := range pass {
		fields = append(fields, in.Field(in.FieldIndices(p)[0]))
	}
	return arrow.NewSchema(append(fields, m.OutputFields()...), nil)
}

// checkObject checks Result.Bytes and CRC32C against the stored object.
func checkObject(t *testing.T, path string, res *score.Result) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != res.Bytes || crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) != res.CRC32C {
		t.Fatalf("%s: %d bytes, crc %08x; result says %d, %08x", path, len(data),
			crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)), res.Bytes, res.CRC32C)
	}
}

type qline struct {
	Shard  int                `json:"shard"`
	Object string             `json:"object"`
	Row    int64              `json:"row"`
	Column string             `json:"column"`
	Reason string             `json:"reason"`
	Values map[string]*string `json:"values"`
}

func quarantineLines(t *testing.T, path string) []qline {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []qline
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l qline
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("quarantine line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func assertNoObject(t *testing.T, e *env, uri string) {
	t.Helper()
	if _, err := os.Stat(filePath(uri)); !os.IsNotExist(err) {
		t.Fatalf("%s exists after a failed Shard (%v)", uri, err)
	}
	b := storage.NewFileBucket(e.dir)
	n, err := b.(storage.UploadLister).IncompleteUploads(context.Background(), "")
	if err != nil || n != 0 {
		t.Fatalf("%d incomplete uploads left (%v)", n, err)
	}
}

// countdownCtx is cancelled by its nth Err call: scoring and the store
// both poll Err, so it cancels a Shard part-way through.
type countdownCtx struct {
	context.Context
	cancel context.CancelFunc
	left   atomic.Int64
}

func newCountdownCtx(n int64) *countdownCtx {
	ctx, cancel := context.WithCancel(context.Background())
	c := &countdownCtx{Context: ctx, cancel: cancel}
	c.left.Store(n)
	return c
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) <= 0 {
		c.cancel()
	}
	return c.Context.Err()
}
