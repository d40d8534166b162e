package shard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/nightshift-ml/nightshift/shard"
)

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
