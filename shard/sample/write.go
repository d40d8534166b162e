package sample

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/nightshift-ml/nightshift/storage"
)

// Written says what Write produced.
type Written struct {
	Truth *Truth
	Keys  []string // the source objects, in order
	Bytes int64
}

// Write generates spec's files under prefix/raw/ in b and the generating
// model as prefix/truth.json.
func Write(ctx context.Context, b storage.Bucket, prefix string, spec Spec) (*Written, error) {
	if spec.Files < 1 || spec.RowsPerFile < 1 {
		return nil, fmt.Errorf("sample: need at least one file of one row")
	}
	if spec.Format == "" {
		spec.Format = "csv"
	}
	out := &Written{Truth: NewTruth(spec)}
	for f := range spec.Files {
		key := storage.JoinKey(prefix, "raw", fmt.Sprintf("part-%04d.%s", f, spec.Format))
		w := storage.NewWriter(ctx, b, key, storage.PutOptions{})
		if err := Encode(ctx, w, spec, f); err != nil {
			w.Abort()
			return nil, err
		}
		info, err := w.Close()
		if err != nil {
			return nil, err
		}
		out.Keys = append(out.Keys, key)
		out.Bytes += info.Size
	}
	truth, err := json.MarshalIndent(out.Truth, "", "  ")
	if err != nil {
		return nil, err
	}
	w := storage.NewWriter(ctx, b, storage.JoinKey(prefix, "truth.json"), storage.PutOptions{ContentType: "application/json"})
	w.Write(truth)
	if _, err := w.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// Encode writes file f of spec to w in spec.Format.
func Encode(ctx context.Context, w io.Writer, spec Spec, f int) error {
	schema := Schema(spec)
	switch spec.Format {
	case "", "csv":
		bw := bufio.NewWriterSize(w, 1<<20)
		writeCSVHeader(bw, schema)
		if err := Batches(ctx, spec, f, 8192, func(r arrow.Record) error { return writeCSV(bw, r) }); err != nil {
			return err
		}
		return bw.Flush()
	case "jsonl":
		bw := bufio.NewWriterSize(w, 1<<20)
		if err := Batches(ctx, spec, f, 8192, func(r arrow.Record) error { return writeJSONL(bw, r) }); err != nil {
			return err
		}
		return bw.Flush()
	case "parquet":
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(128*1024))
		pw, err := pqarrow.NewFileWriter(schema, w, props, pqarrow.DefaultWriterProps())
		if err != nil {
			return err
		}
		if err := Batches(ctx, spec, f, 64*1024, pw.WriteBuffered); err != nil {
			return err
		}
		return pw.Close()
	case "arrow":
		fw, err := ipc.NewFileWriter(&seekCounter{w: w}, ipc.WithSchema(schema))
		if err != nil {
			return err
		}
		if err := Batches(ctx, spec, f, 64*1024, fw.Write); err != nil {
			return err
		}
		return fw.Close()
	}
	return fmt.Errorf("sample: unknown format %q", spec.Format)
}

func writeCSVHeader(w *bufio.Writer, s *arrow.Schema) {
	for i, f := range s.Fields() {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(f.Name)
	}
	w.WriteByte('\n')
}

func writeCSV(w *bufio.Writer, r arrow.Record) error {
	buf := make([]byte, 0, 64)
	for i := range int(r.NumRows()) {
		for c := range int(r.NumCols()) {
			if c > 0 {
				w.WriteByte(',')
			}
			buf = appendValue(buf[:0], r.Column(c), i, false)
			w.Write(buf)
		}
		if err := w.WriteByte('\n'); err != nil {
			return err
		}
	}
	return nil
}

func writeJSONL(w *bufio.Writer, r arrow.Record) error {
	buf := make([]byte, 0, 64)
	for i := range int(r.NumRows()) {
		w.WriteByte('{')
		n := 0
		for c, f := range r.Schema().Fields() {
			if r.Column(c).IsNull(i) {
				continue // missing key = missing value
			}
			if n > 0 {
				w.WriteByte(',')
			}
			n++
			w.WriteString(strconv.Quote(f.Name))
			w.WriteByte(':')
			buf = appendValue(buf[:0], r.Column(c), i, true)
			w.Write(buf)
		}
		if _, err := w.WriteString("}\n"); err != nil {
			return err
		}
	}
	return nil
}

// appendValue formats one cell; an empty cell is a missing value in CSV.
func appendValue(buf []byte, a arrow.Array, i int, quote bool) []byte {
	if a.IsNull(i) {
		return buf
	}
	switch c := a.(type) {
	case *array.Int64:
		return strconv.AppendInt(buf, c.Value(i), 10)
	case *array.Float64:
		return strconv.AppendFloat(buf, c.Value(i), 'g', -1, 64)
	case *array.String:
		if quote {
			return strconv.AppendQuote(buf, c.Value(i))
		}
		return append(buf, c.Value(i)...)
	}
	panic(fmt.Sprintf("sample: no formatter for %T", a)) // the generator makes only these types
}

// seekCounter lets arrow's FileWriter, which asks for its position through
// Seek, write to a plain io.Writer.
type seekCounter struct {
	w io.Writer
	n int64
}

func (s *seekCounter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.n += int64(n)
	return n, err
}

func (s *seekCounter) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekCurrent {
		return 0, fmt.Errorf("cannot seek")
	}
	return s.n, nil
}
