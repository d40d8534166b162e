package shard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/nightshift-ml/nightshift/shard"
)

func TestProbeAllBytes(t *testing.T) {
	for _, ext := range []string{".parquet", ".arrow", ".arrows"} {
		e := newFileEnv(t)
		schema := arrow.NewSchema([]arrow.Field{i64("id"), f64("v"), str("s")}, nil)
		var rows [][]any
		for i := range 20 {
			var s any = fmt.Sprint("s", i)
			if i%5 == 0 { s = nil }
			rows = append(rows, []any{i, float64(i) / 3, s})
		}
		e.writeColumnar(t, "orig"+ext, schema, rows...)
		orig, _ := os.ReadFile(filepath.Join(e.dir, "orig"+ext))
		outcomes := map[string]int{}
		for pos := range len(orig) {
			for _, x := range []byte{0x01, 0x80, 0xFF} {
				data := bytes.Clone(orig)
				data[pos] ^= x
				rel := "src/a" + ext
				os.RemoveAll(filepath.Join(e.dir, "src"))
				os.RemoveAll(filepath.Join(e.dir, "out"))
				e.write(t, rel, string(data))
				res, err := shard.Ingest(context.Background(), e.st, []string{e.uri("src")}, e.uri("out"), shard.Options{AllowNonFinite: true, BadRows: shard.BadRowsQuarantine, MaxBadFraction: 1}, shard.RunOptions{})
				var ie *shard.InputError
				switch {
				case err == nil:
					outcomes[fmt.Sprint("ok rows=", res.Manifest.TotalRows)]++
				case errors.As(err, &ie):
					outcomes["input"]++
				case errors.Is(err, shard.ErrEmpty):
					outcomes["empty"]++
				default:
					t.Errorf("%s pos %d x %x: %v", ext, pos, x, err)
				}
				if err == nil {
					checkReadsBack(t, e, res.Manifest)
				}
			}
		}
		t.Log(ext, len(orig), outcomes)
	}
}
