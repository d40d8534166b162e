package shard_test

import (
	"bytes"
	"cmp"
	"context"
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

// csvRows is a CSV object: the header line, then the data lines.
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
