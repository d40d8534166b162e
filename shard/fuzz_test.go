package shard_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nightshift-ml/nightshift/shard"
)

// fuzzOptions are the ingests every fuzz input goes through: fail-fast with
// tiny batches, shards and CSV byte ranges, then quarantine on one unit.
var fuzzOptions = []shard.Options{
	{BatchRows: 2, RowsPerShard: 5, CSVSplitBytes: 24, InferRows: 3},
	{BatchRows: 3, CSVSplitBytes: -1, InferRows: 2, BadRows: shard.BadRowsQuarantine, MaxBadFraction: 0.6},
}

// maxFuzzBytes keeps each iteration cheap.
const maxFuzzBytes = 2048

func FuzzCSVIngest(f *testing.F) {
	for _, s := range []string{
		"id,x\n1,2\n3,4\n",
		"id,x\r\n1,2.5\r\n\r\n3,NaN\r\n",
		"a,b,c\n1,2\n3,4,5,6\n7,8,9\n",
		"a,\"b\nc\",d\n1,\"x\ny\",3\n",
		"a,a\n1,2\n",
		"a\n",
		"x,y\n1,\"unterminated\n2,3\n",
		"\ufeffid,v\n1,true\n2,false\n3,maybe\n",
		"t\n2024-01-02\n2024-01-02T03:04:05Z\nnope\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzIngest(t, dir, "in.csv", data)
	})
}

func FuzzJSONLIngest(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"x":2.5}` + "\n" + `{"id":2,"x":3}` + "\n",
		`{"id":1}` + "\n" + `{"id":"2"}` + "\n",
		`{"a":{"b":1}}` + "\n",
		`[1,2]` + "\n" + `null` + "\n" + `5` + "\n",
		`{"a":1}` + "\r\n\r\n" + `{"a":2,"b":3}` + "\r\n",
		`{"a":1,"":2}` + "\n",
		`{"a":true}` + "\n" + `{"a":1}` + "\n",
		`{"a":1e400}` + "\n" + `{"a":-0}` + "\n",
		`{"a":"\u00e9\ud800"}` + "\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzIngest(t, dir, "in.jsonl", data)
	})
}

// fuzzIngest ingests data as the one object of a source under dir with
// each of fuzzOptions. A success must read back as the manifest says; a
// failure must be a data error and publish nothing.
func fuzzIngest(t *testing.T, dir, name string, data []byte) {
	if len(data) > maxFuzzBytes {
		data = data[:maxFuzzBytes]
	}
	e := &fileEnv{dir: dir}
	for _, sub := range []string{"src", "out"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	e.write(t, "src/"+name, string(data))
	for i, opts := range fuzzOptions {
		out := filepath.Join(dir, "out")
		if err := os.RemoveAll(out); err != nil {
			t.Fatal(err)
		}
		res, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("out"), opts, shard.RunOptions{Parallel: 2})
		if err != nil {
			var ie *shard.InputError
			switch {
			case errors.As(err, &ie):
				if ie.Object != e.uri("src/"+name) || ie.Reason == "" {
					t.Fatalf("options %d: InputError %+v does not name the object", i, ie)
				}
			case errors.Is(err, shard.ErrEmpty), errors.Is(err, shard.ErrTooManyBadRows):
			default:
				t.Fatalf("options %d: unexpected error %v", i, err)
			}
			assertNothingPublished(t, out)
			continue
		}
		checkReadsBack(t, e, res.Manifest)
	}
}

// checkReadsBack scans every shard of the dataset at e's "out" and checks
// the row counts and quarantine against the manifest m.
func checkReadsBack(t *testing.T, e *fileEnv, m *shard.Manifest) {
	t.Helper()
	ctx := context.Background()
	ds, err := shard.OpenDataset(ctx, e.st, e.uri("out"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ds.Manifest, m) {
		t.Fatalf("published manifest differs from the returned one")
	}
	var total int64
	for i, s := range m.Shards {
		sc := ds.Scan(ctx, i)
		var rows int64
		for sc.Next() {
			rows += sc.Record().NumRows()
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		sc.Close()
		if rows != s.Rows {
			t.Fatalf("shard %d: read %d rows, the manifest says %d", i, rows, s.Rows)
		}
		total += rows
	}
	if total != m.TotalRows || total == 0 {
		t.Fatalf("read %d rows, the manifest says %d", total, m.TotalRows)
	}
	if m.Quarantine == nil {
		return
	}
	var lines int64
	for _, k := range m.Quarantine.Objects {
		f, err := os.Open(filepath.Join(e.dir, "out", k))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines++
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if lines != m.Quarantine.Rows {
		t.Fatalf("quarantine objects hold %d rows, the manifest says %d", lines, m.Quarantine.Rows)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format_version":1} ]`))
	e := &fileEnv{dir: f.TempDir()}
	for rel, body := range map[string]string{
		"src/a.csv": "id,x,label\n1,2.5,0\n2,,1\n3,4,0\n",
		"src/b.csv": "id,x,label\n4,\"5\",1\nbad,5,1\n",
	} {
		if err := os.MkdirAll(filepath.Join(e.dir, "src"), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.dir, rel), []byte(body), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	for i, opts := range []shard.Options{
		{BatchRows: 2, BadRows: shard.BadRowsQuarantine, MaxBadFraction: 0.5},
		{BatchRows: 1, RowsPerShard: 1, BadRows: shard.BadRowsQuarantine, MaxBadFraction: 0.5, Label: "label", Compression: shard.CompressionZstd},
	} {
		res, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri(fmt.Sprint("out", i)), opts, shard.RunOptions{})
		if err != nil {
			f.Fatal(err)
		}
		body, err := res.Manifest.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := shard.ParseManifest(data)
		if err != nil {
			if m != nil {
				t.Fatalf("ParseManifest returned a manifest and the error %v", err)
			}
			return
		}
		_ = m.String()
		body, err := m.Encode()
		if err != nil {
			t.Fatalf("Encode of an accepted manifest: %v", err)
		}
		again, err := shard.ParseManifest(body)
		if err != nil {
			t.Fatalf("re-parsing the encoded manifest: %v\n%s", err, body)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", m, again)
		}
	})
}
