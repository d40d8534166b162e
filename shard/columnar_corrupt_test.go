package shard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/nightshift-ml/nightshift/storage"
)

// corruptFixture encodes 20 rows of (id int64, v float64, s string with
// nulls) as Parquet, an Arrow IPC file or an Arrow IPC stream.
func corruptFixture(t *testing.T, format string) []byte {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range 20 {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.Float64Builder).Append(float64(i) / 3)
		if i%5 == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprint("s", i))
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	var buf bytes.Buffer
	var err error
	switch format {
	case "parquet":
		var pw *pqarrow.FileWriter
		if pw, err = pqarrow.NewFileWriter(schema, &buf, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps()); err == nil {
			if err = pw.Write(rec); err == nil {
				err = pw.Close()
			}
		}
	case "stream":
		w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithLZ4())
		if err = w.Write(rec); err == nil {
			err = w.Close()
		}
	default:
		var fw *ipc.FileWriter
		if fw, err = ipc.NewFileWriter(&seekableBuffer{Buffer: &buf}, ipc.WithSchema(schema)); err == nil {
			if err = fw.Write(rec); err == nil {
				err = fw.Close()
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type seekableBuffer struct{ *bytes.Buffer }

func (s *seekableBuffer) Seek(int64, int) (int64, error) { return int64(s.Len()), nil }

// TestCorruptColumnarBytes flips every byte of small Parquet and Arrow
// objects, two ways each, and decodes them as a unit does: every outcome
// is clean data (re-encodable as a shard) or an InputError naming the
// object; never a panic, a crash in a decoder goroutine, or an allocation
// sized by a corrupt length.
func TestCorruptColumnarBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("flips every byte")
	}
	ctx := context.Background()
	dir := t.TempDir()
	for _, format := range []string{"parquet", "file", "stream"} {
		t.Run(format, func(t *testing.T) {
			orig := corruptFixture(t, format)
			f := FormatArrow
			if format == "parquet" {
				f = FormatParquet
			}
			path := filepath.Join(dir, "obj-"+format)
			obj := SourceObject{URI: "file://" + path, Size: int64(len(orig))}
			outcomes := map[string]int{}
			for pos := range orig {
				for _, x := range []byte{0x01, 0x80, 0xFF} {
					data := bytes.Clone(orig)
					data[pos] ^= x
					if err := os.WriteFile(path, data, 0o644); err != nil {
						t.Fatal(err)
					}
					rows, err := decodeAll(ctx, f, obj)
					var ie *InputError
					switch {
					case err == nil:
						outcomes[fmt.Sprintf("%d rows", rows)]++
					case errors.As(err, &ie) && ie.Object == obj.URI:
						outcomes["input error"]++
					default:
						t.Fatalf("byte %d ^ %#x: %v is not an InputError naming the object", pos, x, err)
					}
				}
			}
			t.Logf("%d bytes: %v", len(orig), outcomes)
		})
	}
}

// decodeAll runs obj through a columnar unit's decoder and writes what it
// yields as a shard would be written, returning the rows.
func decodeAll(ctx context.Context, f Format, obj SourceObject) (int64, error) {
	src, err := openColumnar(ctx, storage.Config{}, f, obj)
	if err != nil {
		return 0, err
	}
	schema := nullableSchema(utcAsPlain(src.Schema()))
	src.Close()
	if err := checkSchema(obj.URI, schema); err != nil {
		return 0, err
	}
	p := &Plan{Format: f, Options: Options{AllowNonFinite: true}, Objects: []SourceObject{obj}}
	u := &unitEnv{ctx: ctx, plan: p, obj: obj, schema: schema, bad: &badRowSink{policy: BadRowsFail}}
	dec, err := newColumnarDecoder(u)
	if err != nil {
		return 0, err
	}
	defer dec.close()
	w, err := ipc.NewFileWriter(&countingWriter{w: io.Discard, crc: nopHash{}}, ipc.WithSchema(schema), ipc.WithLZ4())
	if err != nil {
		return 0, err
	}
	var rows int64
	for {
		rec, err := dec.next()
		if err == io.EOF {
			return rows, w.Close()
		}
		if err != nil {
			return rows, err
		}
		rows += rec.NumRows()
		err = w.Write(rec)
		rec.Release()
		if err != nil {
			return rows, err
		}
	}
}

// nopHash is a hash.Hash32 that ignores its input.
type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 4 }
func (nopHash) BlockSize() int              { return 1 }
func (nopHash) Sum32() uint32               { return 0 }
