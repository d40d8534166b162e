package shard_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
)

// wantErr is the error a bad input must produce.
type wantErr struct {
	is     error    // the sentinel it wraps: ErrBadInput, ErrEmpty or ErrTooManyBadRows
	object string   // for ErrBadInput: the object named, relative to the env
	line   int64    // 1-based line named, 0 for none
	row    int64    // 1-based row named, 0 for none
	column string   // column named, "" for none
	says   []string // substrings of the error text
}

// badCase is one bad source and the error it must get.
type badCase struct {
	name  string
	files map[string]string              // text objects, relative to the env
	setup func(t *testing.T, e *fileEnv) // binary fixtures
	src   string                         // the source, relative to the env; "src" by default
	opts  shard.Options
	want  wantErr
}

func runBadCases(t *testing.T, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newFileEnv(t)
			for rel, body := range c.files {
				e.write(t, rel, body)
			}
			if c.setup != nil {
				c.setup(t, e)
			}
			src := e.uri(cmp.Or(c.src, "src"))
			res, err := shard.Ingest(context.Background(), e.st, []string{src}, e.uri("out"), c.opts, shard.RunOptions{})
			if err == nil {
				t.Fatalf("ingest succeeded with %d rows, want an error", res.Manifest.TotalRows)
			}
			t.Log(err)
			checkErr(t, e, err, c.want)
			assertNothingPublished(t, filepath.Join(e.dir, "out"))
		})
	}
}

// checkErr asserts err is what want describes.
func checkErr(t *testing.T, e *fileEnv, err error, want wantErr) {
	t.Helper()
	if !errors.Is(err, want.is) {
		t.Fatalf("error %q does not wrap %q", err, want.is)
	}
	var ie *shard.InputError
	if errors.As(err, &ie) != (want.is == shard.ErrBadInput) {
		t.Fatalf("error %q: InputError %v, want %v", err, ie != nil, want.is == shard.ErrBadInput)
	}
	if ie != nil {
		got := fmt.Sprintf("object=%s line=%d row=%d column=%q", ie.Object, ie.Line, ie.Row, ie.Column)
		exp := fmt.Sprintf("object=%s line=%d row=%d column=%q", e.uri(want.object), want.line, want.row, want.column)
		if got != exp {
			t.Fatalf("error %q\n got %s\nwant %s", err, got, exp)
		}
		if ie.Reason == "" || !strings.Contains(err.Error(), ie.Object) {
			t.Fatalf("error %q does not name its object or its reason", err)
		}
	}
	for _, s := range want.says {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not say %q", err, s)
		}
	}
}

// assertNothingPublished fails if a manifest, a shard or a half-written
// object is left under the output folder dir.
func assertNothingPublished(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if name == shard.ManifestName || strings.HasSuffix(name, ".arrow") || strings.HasPrefix(name, ".nightshift-tmp-") {
			return fmt.Errorf("failed ingest left %s", p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}

// csvRows is a CSV object with an id column and one value column.
func csvRows(header string, lines ...string) string {
	return header + "\n" + strings.Join(lines, "\n") + "\n"
}

func TestBadCSV(t *testing.T) {
	runBadCases(t, []badCase{
		{name: "too few fields", files: map[string]string{"src/a.csv": csvRows("a,b,c", "1,2,3", "4,5", "6,7,8")},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 3, says: []string{"row has 2 fields, the header has 3"}}},
		{name: "too many fields", files: map[string]string{"src/a.csv": csvRows("a,b,c", "1,2,3", "4,5,6", "7,8,9,10")},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 4, says: []string{"row has 4 fields, the header has 3"}}},
		{name: "unparsable inferred int64", opts: shard.Options{InferRows: 2},
			files: map[string]string{"src/a.csv": csvRows("id,n", "1,10", "2,20", "3,x7")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 4, column: "n", says: []string{`"x7" is not a valid int64`}}},
		{name: "unparsable inferred float64", opts: shard.Options{InferRows: 2},
			files: map[string]string{"src/a.csv": csvRows("id,x", "1,0.5", "2,1e3", "3,0.25", "4,1.2.3")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 5, column: "x", says: []string{`"1.2.3" is not a valid float64`}}},
		{name: "unparsable with schema", opts: shard.Options{Schema: "x:float64,id:int64"},
			files: map[string]string{"src/a.csv": csvRows("id,x", "1,0.5", "two,1.5")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 3, column: "id", says: []string{`"two" is not a valid int64`}}},
		{name: "int64 overflow with schema", opts: shard.Options{Schema: "id:int64,x:int8"},
			files: map[string]string{"src/a.csv": csvRows("id,x", "1,5", "2,300")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 3, column: "x", says: []string{`"300" is not a valid int8`}}},
		{name: "schema column not in header", opts: shard.Options{Schema: "id:int64,x:float64,y:string"},
			files: map[string]string{"src/a.csv": csvRows("id,x", "1,0.5")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 1, column: "y", says: []string{"not in the header"}}},
		{name: "NaN", files: map[string]string{"src/a.csv": csvRows("id,x", "1,0.5", "2,NaN", "3,1")},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 3, column: "x", says: []string{"non-finite", "NaN"}}},
		{name: "Inf", files: map[string]string{"src/a.csv": csvRows("id,x", "1,0.5", "2,1", "3,Inf")},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 4, column: "x", says: []string{"non-finite", "Inf"}}},
		{name: "-Inf", files: map[string]string{"src/a.csv": csvRows("id,x", "1,-Inf", "2,1")},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 2, column: "x", says: []string{"non-finite", "-Inf"}}},
		{name: "missing label column", opts: shard.Options{Label: "y"},
			files: map[string]string{"src/a.csv": csvRows("id,x", "1,2")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.csv", column: "y", says: []string{"label column is missing", "id, x"}}},
		{name: "empty label cell", opts: shard.Options{Label: "y"},
			files: map[string]string{"src/a.csv": csvRows("id,y", "1,0", "2,1", "3,", "4,1")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 4, column: "y", says: []string{"label is missing"}}},
		{name: "zero-byte object", files: map[string]string{"src/a.csv": csvRows("id", "1"), "src/b.csv": ""},
			want: wantErr{is: shard.ErrBadInput, object: "src/b.csv", says: []string{"empty (0 bytes)"}}},
		{name: "header only", files: map[string]string{"src/a.csv": "id,x\n"},
			want: wantErr{is: shard.ErrEmpty, says: []string{"no data rows"}}},
		{name: "header only without newline", files: map[string]string{"src/a.csv": "id,x"},
			want: wantErr{is: shard.ErrEmpty}},
		{name: "prefix with no objects", src: "nothing/here",
			want: wantErr{is: shard.ErrEmpty, says: []string{"no objects found"}}},
		{name: "folder of hidden objects only", files: map[string]string{"src/_SUCCESS": "", "src/.part.csv": "a\n1\n"},
			want: wantErr{is: shard.ErrEmpty, says: []string{"no objects found"}}},
		{name: "blank header column", files: map[string]string{"src/a.csv": csvRows("id,,x", "1,2,3")},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 1, says: []string{"header column 2 has no name"}}},
		{name: "duplicate header", files: map[string]string{"src/a.csv": csvRows("id,x,id", "1,2,3")},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 1, column: "id", says: []string{"appears twice"}}},
		{name: "header not UTF-8", files: map[string]string{"src/a.csv": csvRows("id,\xd0", "1,2")},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 1, column: "\xd0", says: []string{"not valid UTF-8"}}},
		{name: "header after blank lines", files: map[string]string{"src/a.csv": "\n\nid,,x\n1,2,3\n"},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 3, says: []string{"has no name"}}},
		{name: "unterminated quote", files: map[string]string{"src/a.csv": csvRows("id,s", "1,a", `2,"b`, "3,c")},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 3, says: []string{"quote"}}},
		{name: "header renamed in second object",
			files: map[string]string{"src/a.csv": csvRows("id,x,y", "1,2,3"), "src/b.csv": csvRows("id,x,z", "4,5,6")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/b.csv", line: 1, column: "z", says: []string{`"z", expected "y"`}}},
		{name: "header shorter in second object",
			files: map[string]string{"src/a.csv": csvRows("id,x,y", "1,2,3"), "src/b.csv": csvRows("id,x", "4,5")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/b.csv", line: 1, column: "y", says: []string{"2 columns, expected 3"}}},
		{name: "header longer in second object",
			files: map[string]string{"src/a.csv": csvRows("id,x", "1,2"), "src/b.csv": csvRows("id,x,w", "4,5,6")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/b.csv", line: 1, column: "w", says: []string{"3 columns, expected 2"}}},
		{name: "value unparsable in second object",
			files: map[string]string{"src/a.csv": csvRows("id,x", "1,2"), "src/b.csv": csvRows("id,x", "3,4", "5,4.5")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/b.csv", line: 3, column: "x", says: []string{`"4.5" is not a valid int64`}}},
		{name: "timestamp out of range", opts: shard.Options{Schema: "id:int64,t:timestamp[ns]"},
			files: map[string]string{"src/a.csv": csvRows("id,t", "1,2024-01-02T03:04:05Z", "2,9999-01-01")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: 3, column: "t", says: []string{"9999-01-01"}}},
	})
}

func TestBadJSONLines(t *testing.T) {
	lines := func(l ...string) string { return strings.Join(l, "\n") + "\n" }
	runBadCases(t, []badCase{
		{name: "invalid JSON", files: map[string]string{"src/a.jsonl": lines(`{"a":1}`, `{"a":2}`, `{"a":`)},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 3, says: []string{"invalid JSON"}}},
		{name: "array line", files: map[string]string{"src/a.jsonl": lines(`{"a":1}`, `[1,2]`)},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 2, says: []string{"not a JSON object"}}},
		{name: "number line", files: map[string]string{"src/a.jsonl": lines(`{"a":1}`, ``, `5`)},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 3, says: []string{"not a JSON object"}}},
		{name: "null line", files: map[string]string{"src/a.jsonl": lines(`{"a":1}`, `null`)},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 2, says: []string{"not a JSON object"}}},
		{name: "nested value seen by inference", files: map[string]string{"src/a.jsonl": lines(`{"a":1}`, `{"a":2,"b":{"c":1}}`)},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 2, column: "b", says: []string{"nested"}}},
		{name: "nested value after inference", opts: shard.Options{InferRows: 1},
			files: map[string]string{"src/a.jsonl": lines(`{"a":1,"b":2}`, `{"a":2,"b":[1]}`)},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 2, column: "b", says: []string{"nested"}}},
		{name: "string in numeric column", opts: shard.Options{Schema: "a:int64,b:float64"},
			files: map[string]string{"src/a.jsonl": lines(`{"a":1,"b":2}`, `{"a":2,"b":"2.5"}`)},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 2, column: "b", says: []string{`got the string "2.5"`}}},
		{name: "float in int column", opts: shard.Options{InferRows: 1},
			files: map[string]string{"src/a.jsonl": lines(`{"a":1}`, `{"a":1.5}`)},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 2, column: "a", says: []string{`"1.5" is not a valid int64`}}},
		{name: "unknown field", opts: shard.Options{InferRows: 1},
			files: map[string]string{"src/a.jsonl": lines(`{"a":1}`, `{"a":2}`, `{"a":3,"zz":4,"b":5}`)},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 3, column: "zz", says: []string{"not in the schema"}}},
		{name: "mixed types during inference", files: map[string]string{"src/a.jsonl": lines(`{"a":1}`, `{"a":2}`, `{"a":"3"}`)},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 3, column: "a", says: []string{"holds a string here but a int on line 1"}}},
		{name: "key not UTF-8 is replaced", opts: shard.Options{Schema: "a:int64"},
			files: map[string]string{"src/a.jsonl": lines(`{"a":1}`, "{\"\xd0\":2}")},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 2, column: "\ufffd", says: []string{"not in the schema"}}},
		{name: "empty key", files: map[string]string{"src/a.jsonl": lines(`{"a":1,"":2}`)},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", says: []string{"empty name"}}},
		{name: "missing label", opts: shard.Options{Label: "y"},
			files: map[string]string{"src/a.jsonl": lines(`{"a":1,"y":1}`, `{"a":2,"y":null}`)},
			want:  wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", line: 2, column: "y", says: []string{"label is missing"}}},
		{name: "no objects at all", files: map[string]string{"src/a.jsonl": lines(``, `   `)},
			want: wantErr{is: shard.ErrBadInput, object: "src/a.jsonl", says: []string{"no JSON object"}}},
		{name: "bad line in second object",
			files: map[string]string{"src/a.jsonl": lines(`{"a":1}`), "src/b.jsonl": lines(`{"a":2}`, `{"a":true}`)},
			want:  wantErr{is: shard.ErrBadInput, object: "src/b.jsonl", line: 2, column: "a", says: []string{`"true" is not a valid int64`}}},
	})
}

// buildRecord makes a record of schema from rows of int64, float64,
// string or nil (null) values.
func buildRecord(t *testing.T, schema *arrow.Schema, rows [][]any) arrow.Record {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, row := range rows {
		for i, v := range row {
			switch fb := b.Field(i).(type) {
			case *array.Int64Builder:
				if v == nil {
					fb.AppendNull()
				} else {
					fb.Append(int64(v.(int)))
				}
			case *array.Float64Builder:
				if v == nil {
					fb.AppendNull()
				} else {
					fb.Append(v.(float64))
				}
			case *array.StringBuilder:
				if v == nil {
					fb.AppendNull()
				} else {
					fb.Append(v.(string))
				}
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(v.(int)))
			default:
				t.Fatalf("buildRecord: no case for %T", fb)
			}
		}
	}
	return b.NewRecord()
}

// writeColumnar writes rows as a Parquet object (".parquet"), an Arrow IPC
// stream (".arrows") or an Arrow IPC file (".arrow") at rel.
func (e *fileEnv) writeColumnar(t *testing.T, rel string, schema *arrow.Schema, rows ...[]any) {
	t.Helper()
	rec := buildRecord(t, schema, rows)
	defer rec.Release()
	p := filepath.Join(e.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	switch filepath.Ext(rel) {
	case ".parquet":
		var buf bytes.Buffer
		pw, err := pqarrow.NewFileWriter(schema, &buf, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
		if err == nil {
			err = pw.Write(rec)
		}
		if err == nil {
			err = pw.Close()
		}
		if err == nil {
			_, err = f.Write(buf.Bytes())
		}
		if err != nil {
			t.Fatal(err)
		}
	case ".arrows":
		w := ipc.NewWriter(f, ipc.WithSchema(schema))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
		if err == nil {
			err = w.Write(rec)
		}
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// writeSampleFile encodes file 0 of spec at rel.
func (e *fileEnv) writeSampleFile(t *testing.T, rel string, spec sample.Spec) {
	t.Helper()
	var buf bytes.Buffer
	if err := sample.Encode(context.Background(), &buf, spec, 0); err != nil {
		t.Fatal(err)
	}
	e.write(t, rel, buf.String())
}

// mutate rewrites the object at rel with fn applied to its bytes.
func (e *fileEnv) mutate(t *testing.T, rel string, fn func([]byte) []byte) {
	t.Helper()
	p := filepath.Join(e.dir, rel)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, fn(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func f64(name string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
}
func i64(name string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64, Nullable: true}
}
func str(name string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
}

func TestBadColumnar(t *testing.T) {
	idv := arrow.NewSchema([]arrow.Field{i64("id"), f64("v")}, nil)
	idvStr := arrow.NewSchema([]arrow.Field{i64("id"), str("v")}, nil)
	idw := arrow.NewSchema([]arrow.Field{i64("id"), f64("w")}, nil)
	small := sample.Spec{RowsPerFile: 300, Features: 2, Seed: 5}
	var cases []badCase
	for _, ext := range []string{".parquet", ".arrow", ".arrows"} {
		format := map[string]string{".parquet": "parquet", ".arrow": "arrow", ".arrows": "arrow"}[ext]
		a, b := "src/a"+ext, "src/b"+ext
		cases = append(cases,
			badCase{name: ext + " type differs", setup: func(t *testing.T, e *fileEnv) {
				e.writeColumnar(t, a, idv, []any{1, 0.5})
				e.writeColumnar(t, b, idvStr, []any{2, "x"})
			}, want: wantErr{is: shard.ErrBadInput, object: b, column: "v", says: []string{"has type utf8, expected float64", a}}},
			badCase{name: ext + " name differs", setup: func(t *testing.T, e *fileEnv) {
				e.writeColumnar(t, a, idv, []any{1, 0.5})
				e.writeColumnar(t, b, idw, []any{2, 1.5})
			}, want: wantErr{is: shard.ErrBadInput, object: b, column: "w", says: []string{`"w", expected "v"`}}},
			badCase{name: ext + " extra column", setup: func(t *testing.T, e *fileEnv) {
				s2, s3 := small, small
				s2.Format, s3.Format, s3.Features = format, format, 3
				e.writeSampleFile(t, a, s2)
				e.writeSampleFile(t, b, s3)
			}, want: wantErr{is: shard.ErrBadInput, object: b, column: "f02", says: []string{"14 columns, expected 13"}}},
			badCase{name: ext + " NaN", setup: func(t *testing.T, e *fileEnv) {
				e.writeColumnar(t, a, idv, []any{1, 0.5}, []any{2, nil}, []any{3, math.NaN()})
			}, want: wantErr{is: shard.ErrBadInput, object: a, row: 3, column: "v", says: []string{"non-finite"}}},
			badCase{name: ext + " missing label", opts: shard.Options{Label: "v"}, setup: func(t *testing.T, e *fileEnv) {
				e.writeColumnar(t, a, idv, []any{1, 0.5})
				e.writeColumnar(t, b, idv, []any{2, 0.5}, []any{3, 1.5}, []any{4, nil})
			}, want: wantErr{is: shard.ErrBadInput, object: b, row: 3, column: "v", says: []string{"label is missing"}}},
			badCase{name: ext + " label column absent", opts: shard.Options{Label: "y"}, setup: func(t *testing.T, e *fileEnv) {
				e.writeColumnar(t, a, idv, []any{1, 0.5})
			}, want: wantErr{is: shard.ErrBadInput, object: a, column: "y", says: []string{"label column is missing"}}},
			badCase{name: ext + " truncated first", setup: func(t *testing.T, e *fileEnv) {
				s := small
				s.Format = format
				e.writeSampleFile(t, a, s)
				e.mutate(t, a, func(b []byte) []byte { return b[:len(b)/2] })
			}, want: wantErr{is: shard.ErrBadInput, object: a}},
			badCase{name: ext + " truncated second", setup: func(t *testing.T, e *fileEnv) {
				s := small
				s.Format = format
				e.writeSampleFile(t, a, s)
				e.writeSampleFile(t, b, s)
				e.mutate(t, b, func(b []byte) []byte { return b[:len(b)/2] })
			}, want: wantErr{is: shard.ErrBadInput, object: b}},
			badCase{name: ext + " not that format", files: map[string]string{a: "id,v\n1,2\n"},
				want: wantErr{is: shard.ErrBadInput, object: a}},
			badCase{name: ext + " empty", setup: func(t *testing.T, e *fileEnv) {
				e.writeColumnar(t, a, idv)
			}, want: wantErr{is: shard.ErrEmpty}},
		)
	}
	cases = append(cases,
		badCase{name: "unsupported type", setup: func(t *testing.T, e *fileEnv) {
			e.writeColumnar(t, "src/a.arrow", arrow.NewSchema([]arrow.Field{{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "Europe/Paris"}}}, nil), []any{1})
		}, want: wantErr{is: shard.ErrBadInput, object: "src/a.arrow", column: "t", says: []string{"time zone"}}},
		badCase{name: "mixed formats", files: map[string]string{"src/a.csv": "a\n1\n", "src/b.jsonl": `{"a":1}` + "\n"},
			want: wantErr{is: shard.ErrBadInput, object: "src/b.jsonl", says: []string{"format jsonl differs from csv"}}},
	)
	runBadCases(t, cases)
}

// TestColumnarUTCTimestamps ingests Parquet and Arrow timestamps marked
// UTC, which Parquet writers produce for instants.
func TestColumnarUTCTimestamps(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{i64("id"), {Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true}}, nil)
	for _, ext := range []string{".parquet", ".arrow"} {
		t.Run(ext, func(t *testing.T) {
			e := newFileEnv(t)
			e.writeColumnar(t, "src/a"+ext, schema, []any{0, 1_700_000_000_000_000}, []any{1, 1_700_000_000_000_001})
			e.writeColumnar(t, "src/b"+ext, schema, []any{2, 1_700_000_000_000_002})
			res, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("out"), shard.Options{}, shard.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Manifest.TotalRows != 3 {
				t.Fatalf("got %d rows, want 3", res.Manifest.TotalRows)
			}
			ids, _ := readIDs(t, e.st, e.uri("out"))
			if len(ids) != 3 {
				t.Fatalf("read ids %v", ids)
			}
		})
	}
}

// TestCorruptColumnarNeverPanics flips bytes across Parquet and Arrow
// objects: each ingest succeeds or fails with an InputError naming the
// object, and a failure publishes nothing.
func TestCorruptColumnarNeverPanics(t *testing.T) {
	for _, ext := range []string{".parquet", ".arrow", ".arrows"} {
		t.Run(ext, func(t *testing.T) {
			e := newFileEnv(t)
			schema := arrow.NewSchema([]arrow.Field{i64("id"), f64("v"), str("s")}, nil)
			var rows [][]any
			for i := range 50 {
				rows = append(rows, []any{i, float64(i) / 3, fmt.Sprint("s", i)})
			}
			e.writeColumnar(t, "orig"+ext, schema, rows...)
			orig, err := os.ReadFile(filepath.Join(e.dir, "orig"+ext))
			if err != nil {
				t.Fatal(err)
			}
			steps := 80
			if testing.Short() {
				steps = 20
			}
			for i := range steps {
				pos := i * len(orig) / steps
				data := bytes.Clone(orig)
				data[pos] ^= 0xA5
				if i%4 == 3 {
					data = data[:pos+1] // and truncated just after
				}
				rel := fmt.Sprintf("src%d/a%s", i, ext)
				e.write(t, rel, string(data))
				out := fmt.Sprintf("out%d", i)
				_, err := shard.Ingest(context.Background(), e.st, []string{e.uri(rel)}, e.uri(out),
					shard.Options{AllowNonFinite: true}, shard.RunOptions{})
				if err == nil {
					continue // the flip hit a value, not the structure
				}
				var ie *shard.InputError
				if !errors.As(err, &ie) && !errors.Is(err, shard.ErrEmpty) {
					t.Fatalf("byte %d of %d: %v is neither an InputError nor ErrEmpty", pos, len(orig), err)
				}
				if ie != nil && ie.Object != e.uri(rel) {
					t.Fatalf("byte %d: error names %s, want %s", pos, ie.Object, e.uri(rel))
				}
				assertNothingPublished(t, filepath.Join(e.dir, out))
			}
		})
	}
}

func TestNonFiniteAllowed(t *testing.T) {
	e := newFileEnv(t)
	e.write(t, "src/a.csv", csvRows("id,x", "0,NaN", "1,Inf", "2,-Inf", "3,+Inf", "4,1.5"))
	e.writeColumnar(t, "pq/a.parquet", arrow.NewSchema([]arrow.Field{i64("id"), f64("x")}, nil),
		[]any{0, math.NaN()}, []any{1, math.Inf(1)}, []any{2, math.Inf(-1)}, []any{3, math.Inf(1)}, []any{4, 1.5})
	for _, src := range []string{"src", "pq"} {
		out := src + "-out"
		res, err := shard.Ingest(context.Background(), e.st, []string{e.uri(src)}, e.uri(out),
			shard.Options{AllowNonFinite: true}, shard.RunOptions{})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if res.Manifest.TotalRows != 5 {
			t.Fatalf("%s: %d rows, want 5", src, res.Manifest.TotalRows)
		}
		var got []float64
		ds, err := shard.OpenDataset(context.Background(), e.st, e.uri(out))
		if err != nil {
			t.Fatal(err)
		}
		err = ds.ReadRows(context.Background(), 0, 5, func(r arrow.Record) error {
			got = append(got, r.Column(1).(*array.Float64).Float64Values()...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !math.IsNaN(got[0]) || !math.IsInf(got[1], 1) || !math.IsInf(got[2], -1) || !math.IsInf(got[3], 1) || got[4] != 1.5 {
			t.Fatalf("%s: read back %v", src, got)
		}
	}
}

// quarantined is one line of a quarantine object.
type quarantined struct {
	Object string `json:"object"`
	Line   int64  `json:"line"`
	Row    int64  `json:"row"`
	Column string `json:"column"`
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
}

// readQuarantine reads every quarantine object the manifest lists.
func readQuarantine(t *testing.T, e *fileEnv, out string, m *shard.Manifest) []quarantined {
	t.Helper()
	if m.Quarantine == nil {
		t.Fatal("manifest lists no quarantine")
	}
	var rows []quarantined
	for _, k := range m.Quarantine.Objects {
		f, err := os.Open(filepath.Join(e.dir, out, k))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var q quarantined
			if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
				t.Fatalf("quarantine line %q: %v", sc.Text(), err)
			}
			rows = append(rows, q)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return rows
}

func TestQuarantine(t *testing.T) {
	type badRow struct {
		line   int64 // or row, for columnar sources
		column string
		reason string
	}
	// 200 good rows with ids 0..199; bad rows are placed between them.
	csvBody := func() (string, []badRow) {
		var b strings.Builder
		b.WriteString("id,x,label\n")
		line := int64(1)
		var bad []badRow
		insert := map[int][2]string{
			10:  {"oops,1.0,1", "id"},
			50:  {"999,1.0", ""},
			90:  {"998,NaN,0", "x"},
			130: {"997,1.0,", "label"},
			170: {"996,1.0,0,4", ""},
		}
		for id := range 200 {
			if ins, ok := insert[id]; ok {
				b.WriteString(ins[0] + "\n")
				line++
				bad = append(bad, badRow{line: line, column: ins[1]})
			}
			fmt.Fprintf(&b, "%d,%d.5,%d\n", id, id, id%2)
			line++
		}
		return b.String(), bad
	}
	jsonBody := func() (string, []badRow) {
		var b strings.Builder
		var bad []badRow
		line := int64(0)
		insert := map[int][2]string{
			20:  {`{"id":"x","x":1.0,"label":1}`, "id"},
			60:  {`{"id":1,`, ""},
			100: {`{"id":995,"x":1.0,"label":1,"extra":2}`, "extra"},
			140: {`{"id":994,"x":1.0}`, "label"},
			180: {`[1]`, ""},
		}
		for id := range 200 {
			if ins, ok := insert[id]; ok {
				b.WriteString(ins[0] + "\n")
				line++
				bad = append(bad, badRow{line: line, column: ins[1]})
			}
			fmt.Fprintf(&b, `{"id":%d,"x":%d.5,"label":%d}`+"\n", id, id, id%2)
			line++
		}
		return b.String(), bad
	}
	schema := arrow.NewSchema([]arrow.Field{i64("id"), f64("x"), i64("label")}, nil)
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, e *fileEnv) []badRow
		rows  bool // bad rows are numbered by row, not line
	}{
		{name: "csv", setup: func(t *testing.T, e *fileEnv) []badRow {
			body, bad := csvBody()
			e.write(t, "src/a.csv", body)
			return bad
		}},
		{name: "jsonl", setup: func(t *testing.T, e *fileEnv) []badRow {
			body, bad := jsonBody()
			e.write(t, "src/a.jsonl", body)
			return bad
		}},
		{name: "parquet", rows: true, setup: func(t *testing.T, e *fileEnv) []badRow {
			var rows [][]any
			var bad []badRow
			for id := range 200 {
				switch id {
				case 30, 31:
					rows = append(rows, []any{900 + id, math.Inf(1), 1})
					bad = append(bad, badRow{line: int64(len(rows)), column: "x"})
				case 120:
					rows = append(rows, []any{900 + id, 1.0, nil})
					bad = append(bad, badRow{line: int64(len(rows)), column: "label"})
				}
				rows = append(rows, []any{id, float64(id) + 0.5, id % 2})
			}
			e.writeColumnar(t, "src/a.parquet", schema, rows...)
			return bad
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newFileEnv(t)
			bad := c.setup(t, e)
			opts := shard.Options{Label: "label", BadRows: shard.BadRowsQuarantine, MaxBadFraction: 0.05, BatchRows: 64, InferRows: 5}
			res, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("out"), opts, shard.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m := res.Manifest
			if m.TotalRows != 200 || m.Quarantine == nil || m.Quarantine.Rows != int64(len(bad)) {
				t.Fatalf("rows %d quarantine %+v, want 200 rows and %d quarantined", m.TotalRows, m.Quarantine, len(bad))
			}
			ids, _ := readIDs(t, e.st, e.uri("out"))
			for id := range int64(200) {
				if ids[id] != 1 {
					t.Fatalf("good id %d read %d times", id, ids[id])
				}
			}
			if len(ids) != 200 {
				t.Fatalf("read %d distinct ids, want 200", len(ids))
			}
			q := readQuarantine(t, e, "out", m)
			if len(q) != len(bad) {
				t.Fatalf("quarantine holds %d rows, want %d: %+v", len(q), len(bad), q)
			}
			for i, w := range bad {
				got := q[i]
				n := got.Line
				if c.rows {
					n = got.Row
				}
				if n != w.line || got.Column != w.column || got.Reason == "" || !strings.HasSuffix(got.Object, "/src/a."+c.name) {
					t.Fatalf("quarantined row %d is %+v, want line/row %d column %q", i, got, w.line, w.column)
				}
				if !c.rows && got.Raw == "" {
					t.Fatalf("quarantined row %d has no raw text: %+v", i, got)
				}
			}

			// Above the allowed fraction: nothing is published.
			opts.MaxBadFraction = 0.01
			_, err = shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("strict"), opts, shard.RunOptions{})
			if !errors.Is(err, shard.ErrTooManyBadRows) {
				t.Fatalf("err %v, want ErrTooManyBadRows", err)
			}
			assertNothingPublished(t, filepath.Join(e.dir, "strict"))

			// Fail-fast (the default) names the first bad row.
			opts.BadRows = ""
			_, err = shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("fail"), opts, shard.RunOptions{})
			var ie *shard.InputError
			if !errors.As(err, &ie) || max(ie.Line, ie.Row) != bad[0].line || ie.Column != bad[0].column {
				t.Fatalf("fail-fast error %v, want one naming line/row %d column %q", err, bad[0].line, bad[0].column)
			}
			assertNothingPublished(t, filepath.Join(e.dir, "fail"))
		})
	}
}

// TestQuarantineAllBad: every row bad is an empty dataset, not a success.
func TestQuarantineAllBad(t *testing.T) {
	e := newFileEnv(t)
	e.write(t, "src/a.csv", csvRows("id,x", "1", "2", "3"))
	opts := shard.Options{BadRows: shard.BadRowsQuarantine, MaxBadFraction: 1}
	_, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("out"), opts, shard.RunOptions{})
	if !errors.Is(err, shard.ErrEmpty) {
		t.Fatalf("err %v, want ErrEmpty", err)
	}
	assertNothingPublished(t, filepath.Join(e.dir, "out"))
}

// TestFailedUnitDiscardsOtherUnits: when one object fails, the shards the
// other units already wrote are deleted.
func TestFailedUnitDiscardsOtherUnits(t *testing.T) {
	e := newFileEnv(t)
	for i := range 6 {
		e.write(t, fmt.Sprintf("src/part-%d.csv", i), csvRows("id,x", "1,2", "3,4"))
	}
	e.write(t, "src/part-6.csv", csvRows("id,x", "1,2", "3,x"))
	for _, parallel := range []int{1, 3} {
		out := fmt.Sprintf("out%d", parallel)
		_, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri(out),
			shard.Options{}, shard.RunOptions{Parallel: parallel})
		var ie *shard.InputError
		if !errors.As(err, &ie) || ie.Object != e.uri("src/part-6.csv") || ie.Line != 3 || ie.Column != "x" {
			t.Fatalf("err %v, want part-6.csv line 3 column x", err)
		}
		assertNothingPublished(t, filepath.Join(e.dir, out))
	}
}

// splitCSV builds a CSV object of n rows (ids 0..n-1) with lines of
// varied length, blank lines and CRLF endings, and lines that start
// exactly at multiples of boundary. It returns the object and the line
// number of each id.
func splitCSV(n, boundary int) (string, []int64) {
	var b strings.Builder
	b.WriteString("id,name,x\r\n")
	line := int64(1)
	lineOf := make([]int64, n)
	endings := []string{"\r\n", "\n\n", "\r\n\r\n", "\n", "\n"}
	for id := range n {
		end := endings[id%len(endings)]
		pad := strings.Repeat("w", (id*37)%61)
		if id%3 == 0 {
			// Pad the row so that the next line starts exactly on a boundary.
			next := (b.Len()/boundary + 1) * boundary
			if extra := next - b.Len() - len(fmt.Sprintf("%d,%s,%d", id, pad, id%7)+end); extra > 0 && extra < 130 {
				pad += strings.Repeat("p", extra)
			}
		}
		fmt.Fprintf(&b, "%d,%s,%d%s", id, pad, id%7, end)
		lineOf[id] = line + 1
		line += int64(strings.Count(end, "\n"))
	}
	return b.String(), lineOf
}

func TestCSVSplitEveryRowOnceInOrder(t *testing.T) {
	const n = 400
	body, _ := splitCSV(n, 1000)
	if len(body) < 8000 {
		t.Fatalf("fixture is only %d bytes", len(body))
	}
	starts := 0
	for off := 1000; off < len(body); off += 1000 {
		if body[off-1] == '\n' {
			starts++
		}
	}
	if starts < 3 {
		t.Fatalf("only %d lines start on a split boundary", starts)
	}
	e := newFileEnv(t)
	e.write(t, "src/a.csv", body)
	for _, split := range []int64{1000, 997, 333, 128, 61} {
		t.Run(fmt.Sprint(split), func(t *testing.T) {
			out := fmt.Sprintf("out%d", split)
			res, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri(out),
				shard.Options{CSVSplitBytes: split, BatchRows: 16, Schema: "id:int64,name:string,x:int64"}, shard.RunOptions{Parallel: 3})
			if err != nil {
				t.Fatal(err)
			}
			if want := (int64(len(body)) + split - 1) / split; int64(len(res.Manifest.Shards)) > want || res.Manifest.TotalRows != n {
				t.Fatalf("%d shards with %d rows, want at most %d shards with %d rows", len(res.Manifest.Shards), res.Manifest.TotalRows, want, n)
			}
			var got []int64
			ds, err := shard.OpenDataset(context.Background(), e.st, e.uri(out))
			if err != nil {
				t.Fatal(err)
			}
			err = ds.ReadRows(context.Background(), 0, n, func(r arrow.Record) error {
				got = append(got, r.Column(0).(*array.Int64).Int64Values()...)
				for i := range int(r.NumRows()) {
					if name := r.Column(1).(*array.String).Value(i); strings.ContainsAny(name, "\r\n") {
						t.Errorf("name %q holds a line ending", name)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range got {
				if id != int64(i) {
					t.Fatalf("row %d has id %d", i, id)
				}
			}
		})
	}
}

func TestCSVSplitErrorLineIsAbsolute(t *testing.T) {
	const n = 400
	body, lineOf := splitCSV(n, 1000)
	lines := strings.SplitAfter(body, "\n")
	for _, id := range []int{5, 150, 301, 399} {
		for _, split := range []int64{1000, 251, -1} {
			t.Run(fmt.Sprintf("id%d/split%d", id, split), func(t *testing.T) {
				e := newFileEnv(t)
				bad := append([]string(nil), lines...)
				l := lineOf[id] - 1 // 0-based index into lines
				if !strings.HasPrefix(bad[l], fmt.Sprint(id)+",") {
					t.Fatalf("line %d is %q, not id %d", lineOf[id], bad[l], id)
				}
				bad[l] = "x" + bad[l]
				e.write(t, "src/a.csv", strings.Join(bad, ""))
				_, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("out"),
					shard.Options{CSVSplitBytes: split, InferRows: 3}, shard.RunOptions{})
				checkErr(t, e, err, wantErr{is: shard.ErrBadInput, object: "src/a.csv", line: lineOf[id], column: "id",
					says: []string{fmt.Sprintf(`"x%d" is not a valid int64`, id)}})
				assertNothingPublished(t, filepath.Join(e.dir, "out"))
			})
		}
	}
}

// TestCSVSplitQuarantineLines: bad rows in several ranges are quarantined
// with their absolute line numbers.
func TestCSVSplitQuarantineLines(t *testing.T) {
	const n = 400
	body, lineOf := splitCSV(n, 1000)
	lines := strings.SplitAfter(body, "\n")
	badIDs := []int{3, 120, 240, 360}
	for _, id := range badIDs {
		lines[lineOf[id]-1] = strings.Replace(lines[lineOf[id]-1], ",", ",,", 1) // one field too many
	}
	e := newFileEnv(t)
	e.write(t, "src/a.csv", strings.Join(lines, ""))
	opts := shard.Options{CSVSplitBytes: 700, BadRows: shard.BadRowsQuarantine, MaxBadFraction: 0.05, InferRows: 2}
	res, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("out"), opts, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.TotalRows != n-int64(len(badIDs)) || res.Manifest.Quarantine.Rows != int64(len(badIDs)) {
		t.Fatalf("%d rows, %d quarantined", res.Manifest.TotalRows, res.Manifest.Quarantine.Rows)
	}
	q := readQuarantine(t, e, "out", res.Manifest)
	if len(q) != len(badIDs) {
		t.Fatalf("quarantine holds %+v", q)
	}
	for i, id := range badIDs {
		if q[i].Line != lineOf[id] || !strings.HasPrefix(q[i].Raw, fmt.Sprintf("%d,,", id)) {
			t.Fatalf("quarantined %+v, want line %d for id %d", q[i], lineOf[id], id)
		}
	}
}

func TestTimestampsFromText(t *testing.T) {
	e := newFileEnv(t)
	e.write(t, "src/a.csv", csvRows("id,t", "0,1969-12-31T23:59:59.5Z", "1,9999-12-31", "2,2024-02-29 12:00:00", "3,"))
	_, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("out"),
		shard.Options{Schema: "id:int64,t:timestamp[ms]"}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := shard.OpenDataset(context.Background(), e.st, e.uri("out"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = ds.ReadRows(context.Background(), 0, 4, func(r arrow.Record) error {
		col := r.Column(1).(*array.Timestamp)
		for i := range col.Len() {
			if col.IsNull(i) {
				got = append(got, "null")
				continue
			}
			got = append(got, col.Value(i).ToTime(arrow.Millisecond).Format(time.RFC3339Nano))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1969-12-31T23:59:59.5Z", "9999-12-31T00:00:00Z", "2024-02-29T12:00:00Z", "null"}
	if !slices.Equal(got, want) {
		t.Fatalf("read back %v, want %v", got, want)
	}
}

func TestParseManifestRejectsTrailingData(t *testing.T) {
	e := newFileEnv(t)
	e.write(t, "src/a.csv", csvRows("id", "1"))
	res, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("out"), shard.Options{}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := res.Manifest.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shard.ParseManifest(append(body, " \n"...)); err != nil {
		t.Fatalf("trailing space: %v", err)
	}
	for _, tail := range []string{"]", "}", "{}", "x", "null"} {
		if _, err := shard.ParseManifest(append(bytes.Clone(body), tail...)); err == nil {
			t.Errorf("manifest followed by %q accepted", tail)
		}
	}
}
