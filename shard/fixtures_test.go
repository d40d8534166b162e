package shard_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/nightshift-ml/nightshift/shard/sample"
)

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
