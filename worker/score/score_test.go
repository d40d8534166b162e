package score_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage/storagetest"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/score"
)

func TestMain(m *testing.M) { storagetest.VerifyNoLeaks(m) }

func TestShardScoresEveryRowOnce(t *testing.T) {
	e := smallEnv(t)
	if e.ds.NumShards() < 3 {
		t.Fatalf("want several shards, got %d", e.ds.NumShards())
	}
	m, err := model.FromTruth(e.truth)
	if err != nil {
		t.Fatal(err)
	}
	want := inputRows(t, e, m)
	pass := []string{"id", "region", "income", "tenure_months", "label"}
	for _, tc := range []score.Options{
		{Passthrough: pass},
		{Passthrough: pass, Format: score.FormatArrow},
		{Passthrough: pass, Format: score.FormatParquet, Compression: "zstd"},
		{Passthrough: pass, Format: score.FormatArrow, Compression: "none", BadRows: score.BadRowsQuarantine},
	} {
		t.Run(fmt.Sprintf("%s-%s-%s", tc.Format, tc.Compression, tc.BadRows), func(t *testing.T) {
			format := tc.Format
			if format == "" {
				format = score.FormatParquet
			}
			wantSchema := outSchema(e.ds.Schema, m, pass)
			got := map[int64]map[string]string{}
			var total int64
			for i := range e.ds.NumShards() {
				uri := e.uri(fmt.Sprintf("out/%s-%s/part-%04d.%s", tc.Format, tc.Compression, i, format))
				res, err := score.Shard(context.Background(), e.st, e.ds, i, m, tc, uri)
				if err != nil {
					t.Fatal(err)
				}
				if res.Rows != e.ds.Manifest.Shards[i].Rows || res.BadRows != 0 || res.QuarantineKey != "" {
					t.Fatalf("shard %d: result %+v, manifest rows %d", i, res, e.ds.Manifest.Shards[i].Rows)
				}
				checkObject(t, filePath(uri), res)
				for id, row := range readOutput(t, filePath(uri), format, wantSchema) {
					if _, dup := got[id]; dup {
						t.Fatalf("id %d in two outputs", id)
					}
					got[id] = row
				}
				total += res.Rows
			}
			if len(got) != len(want) || total != e.ds.Manifest.TotalRows {
				t.Fatalf("%d ids out (%d rows), %d in", len(got), total, len(want))
			}
			for id, row := range got {
				for name, v := range row {
					if want[id][name] != v {
						t.Fatalf("id %d column %s = %q, input/predictor %q", id, name, v, want[id][name])
					}
				}
			}
		})
	}
}

func TestShardIsDeterministic(t *testing.T) {
	e := smallEnv(t)
	m, _ := model.FromTruth(e.truth)
	var crcs []uint32
	for _, name := range []string{"a", "b"} {
		res, err := score.Shard(context.Background(), e.st, e.ds, 1, m, score.Options{Passthrough: []string{"id"}}, e.uri("det/"+name))
		if err != nil {
			t.Fatal(err)
		}
		crcs = append(crcs, res.CRC32C)
	}
	if crcs[0] != crcs[1] {
		t.Fatalf("two runs wrote different bytes: %08x, %08x", crcs[0], crcs[1])
	}
}

// failIncome is the truth model with missing incomes failing the row.
func failIncome(t *testing.T, e *env) *model.Model {
	t.Helper()
	m, err := model.FromTruth(e.truth)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Spec
	for i := range s.Features {
		if s.Features[i].Column == "income" {
			s.Features[i].Missing = model.MissingFail
		}
	}
	m, err = model.New(s, m.Weights())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestShardBadRowsFail(t *testing.T) {
	e := smallEnv(t)
	m := failIncome(t, e)
	uri := e.uri("out/fail.parquet")
	_, err := score.Shard(context.Background(), e.st, e.ds, 0, m, score.Options{Passthrough: []string{"id"}}, uri)
	if !errors.Is(err, score.ErrBadInput) || !strings.Contains(err.Error(), `column "income"`) ||
		!strings.Contains(err.Error(), "shard 0") || !strings.Contains(err.Error(), "row ") || !strings.Contains(err.Error(), "missing value") {
		t.Fatalf("Shard = %v, want ErrBadInput naming shard 0, the row and income", err)
	}
	assertNoObject(t, e, uri)
	if _, err := os.Stat(filePath(scoreout.QuarantineKey(uri))); !os.IsNotExist(err) {
		t.Fatalf("quarantine object under fail: %v", err)
	}
}

func TestShardBadRowsQuarantine(t *testing.T) {
	e := smallEnv(t)
	m := failIncome(t, e)
	good := inputRows(t, e, m)
	for id, row := range good {
		if row["income"] == array.NullValueStr {
			delete(good, id)
		}
	}
	seen := map[int64]bool{}
	var bad int64
	for i := range e.ds.NumShards() {
		uri := e.uri(fmt.Sprintf("out/q/part-%d.parquet", i))
		res, err := score.Shard(context.Background(), e.st, e.ds, i, m,
			score.Options{Passthrough: []string{"id", "income"}, BadRows: score.BadRowsQuarantine}, uri)
		if err != nil {
			t.Fatal(err)
		}
		checkObject(t, filePath(uri), res)
		if res.Rows+res.BadRows != e.ds.Manifest.Shards[i].Rows {
			t.Fatalf("shard %d: %d rows + %d bad, manifest says %d", i, res.Rows, res.BadRows, e.ds.Manifest.Shards[i].Rows)
		}
		for id, row := range readOutput(t, filePath(uri), score.FormatParquet, outSchema(e.ds.Schema, m, []string{"id", "income"})) {
			if row["income"] == array.NullValueStr || row["probability"] != good[id]["probability"] {
				t.Fatalf("id %d: output %v, want %v", id, row, good[id])
			}
			seen[id] = true
		}
		if res.BadRows == 0 {
			if res.QuarantineKey != "" {
				t.Fatalf("shard %d: quarantine key %q without bad rows", i, res.QuarantineKey)
			}
			continue
		}
		if res.QuarantineKey != scoreout.QuarantineKey(uri) {
			t.Fatalf("quarantine key %q", res.QuarantineKey)
		}
		bad += res.BadRows
		lines := quarantineLines(t, filePath(res.QuarantineKey))
		if int64(len(lines)) != res.BadRows {
			t.Fatalf("%d quarantine lines, %d bad rows", len(lines), res.BadRows)
		}
		for _, l := range lines {
			if l.Shard != i || l.Column != "income" || l.Reason != "missing value" || l.Values["income"] != nil || l.Values["id"] == nil {
				t.Fatalf("quarantine line %+v", l)
			}
		}
	}
	if bad == 0 || int64(len(seen))+bad != e.ds.Manifest.TotalRows || len(seen) != len(good) {
		t.Fatalf("%d rows out, %d quarantined, %d in the dataset", len(seen), bad, e.ds.Manifest.TotalRows)
	}
}

func TestShardCancelledLeavesNoObject(t *testing.T) {
	e := smallEnv(t)
	m, _ := model.FromTruth(e.truth)
	// Count the Err calls of a whole run, then cancel at the first and
	// half way.
	probe := newCountdownCtx(math.MaxInt64)
	if _, err := score.Shard(probe, e.st, e.ds, 0, m, score.Options{Passthrough: []string{"id"}}, e.uri("out/probe")); err != nil {
		t.Fatal(err)
	}
	calls := math.MaxInt64 - probe.left.Load()
	probe.cancel()
	t.Logf("a run polls ctx.Err %d times", calls)
	for _, n := range []int64{1, calls / 2} {
		for _, format := range []string{score.FormatParquet, score.FormatArrow} {
			uri := e.uri(fmt.Sprintf("out/cancel-%d.%s", n, format))
			ctx := newCountdownCtx(n)
			_, err := score.Shard(ctx, e.st, e.ds, 0, m, score.Options{Format: format, Passthrough: []string{"id"}}, uri)
			ctx.cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancel after %d: Shard = %v, want context.Canceled", n, err)
			}
			assertNoObject(t, e, uri)
		}
	}
}

func TestValidate(t *testing.T) {
	e := smallEnv(t)
	m, _ := model.FromTruth(e.truth)
	if err := score.Validate(m, e.ds.Schema, score.Options{Passthrough: []string{"id", "label"}}); err != nil {
		t.Fatal(err)
	}
	var fields []arrow.Field
	for _, f := range e.ds.Schema.Fields() {
		if f.Name != "income" {
			fields = append(fields, f)
		}
	}
	for _, tc := range []struct {
		name   string
		schema *arrow.Schema
		opts   score.Options
		want   string
	}{
		{"missing passthrough", e.ds.Schema, score.Options{Passthrough: []string{"id", "customer"}}, `passthrough column "customer" is not in the input`},
		{"twice", e.ds.Schema, score.Options{Passthrough: []string{"id", "id"}}, `"id" is listed twice`},
		{"clash", arrow.NewSchema(append(e.ds.Schema.Fields(), arrow.Field{Name: "probability", Type: arrow.PrimitiveTypes.Float64}), nil),
			score.Options{Passthrough: []string{"probability"}}, `"probability" has the name of a prediction column`},
		{"model column", arrow.NewSchema(fields, nil), score.Options{}, `column "income" is not in the input`},
		{"format", e.ds.Schema, score.Options{Format: "csv"}, `format "csv"`},
		{"compression", e.ds.Schema, score.Options{Compression: "lz4"}, `compression "lz4" is not snappy`},
		{"arrow compression", e.ds.Schema, score.Options{Format: "arrow", Compression: "snappy"}, `compression "snappy" is not lz4`},
		{"bad rows", e.ds.Schema, score.Options{BadRows: "skip"}, `bad-row policy "skip"`},
	} {
		err := score.Validate(m, tc.schema, tc.opts)
		if !errors.Is(err, score.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want ErrBadInput with %q", tc.name, err, tc.want)
		}
	}
	// Shard runs the same checks before touching storage.
	uri := e.uri("out/invalid.parquet")
	if _, err := score.Shard(context.Background(), e.st, e.ds, 0, m, score.Options{Passthrough: []string{"nope"}}, uri); !errors.Is(err, score.ErrBadInput) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("Shard with a bad passthrough = %v", err)
	}
	assertNoObject(t, e, uri)
	if _, err := score.Shard(context.Background(), e.st, e.ds, 99, m, score.Options{}, uri); !errors.Is(err, score.ErrBadInput) {
		t.Fatalf("Shard(99) = %v", err)
	}
}

func TestShardNonFiniteRows(t *testing.T) {
	// A tiny std makes (age-45)/std overflow: the linear predictor of most
	// rows is infinite, so they are quarantined with that reason.
	e := smallEnv(t)
	m, _ := model.FromTruth(e.truth)
	s := m.Spec
	s.Features = append([]model.Feature{}, s.Features...)
	if s.Features[0].Column != "age" {
		t.Fatalf("first feature is %q", s.Features[0].Column)
	}
	s.Features[0].Std = 1e-308
	big, err := model.New(s, m.Weights())
	if err != nil {
		t.Fatal(err)
	}
	res, err := score.Shard(context.Background(), e.st, e.ds, 0, big, score.Options{BadRows: score.BadRowsQuarantine}, e.uri("out/inf.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if res.BadRows == 0 || res.Rows == 0 {
		t.Fatalf("result %+v: want some rows scored and some quarantined", res)
	}
	for _, l := range quarantineLines(t, filePath(res.QuarantineKey)) {
		if l.Reason != "linear predictor is not finite" || l.Column != "" || l.Values["age"] == nil {
			t.Fatalf("quarantine line %+v", l)
		}
	}
}
