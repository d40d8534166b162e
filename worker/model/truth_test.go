package model_test

import (
	"context"
	"math"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/worker/model"
)

func TestFromTruthMatchesGenerator(t *testing.T) {
	spec := sample.Spec{Files: 2, RowsPerFile: 6000, Features: 8, Seed: 5}
	truth := sample.NewTruth(spec)
	m, err := model.FromTruth(truth)
	if err != nil {
		t.Fatal(err)
	}
	p := m.NewPredictor()
	rows, nulls := 0, 0
	for f := range spec.Files {
		err := sample.Batches(context.Background(), spec, f, 2500, func(rec arrow.Record) error {
			out, err := p.Predict(rec)
			if err != nil {
				return err
			}
			defer out[0].Release()
			prob := out[0].(*array.Float64)
			for r := range int(rec.NumRows()) {
				want := 1 / (1 + math.Exp(-truthLogit(truth, rec, r)))
				if got := prob.Value(r); math.Abs(got-want) > 1e-5 {
					t.Fatalf("file %d row %d: probability %v, the generator's %v", f, r, got, want)
				}
				if rec.Column(rec.Schema().FieldIndices("income")[0]).IsNull(r) {
					nulls++
				}
				rows++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if rows != spec.Files*spec.RowsPerFile || nulls == 0 {
		t.Fatalf("checked %d rows with %d null incomes", rows, nulls)
	}
}

// truthLogit recomputes the generator's log-odds for a row from Truth: a
// null feature contributes nothing.
func truthLogit(t *sample.Truth, rec arrow.Record, r int) float64 {
	logit := t.Bias
	for _, name := range t.Features {
		col := rec.Column(rec.Schema().FieldIndices(name)[0])
		if col.IsNull(r) {
			continue
		}
		logit += t.Weights[name] * (numAt(col, r) - t.Means[name]) / t.Stds[name]
	}
	for _, c := range []struct {
		col     string
		effects map[string]float64
	}{{"region", t.Region}, {"device", t.Device}, {"plan", t.Plan}} {
		v := rec.Column(rec.Schema().FieldIndices(c.col)[0]).(*array.String).Value(r)
		logit += c.effects[v]
	}
	return logit
}
