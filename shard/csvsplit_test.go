package shard_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/shard"
)

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
