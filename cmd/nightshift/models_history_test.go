package main

import (
	"bytes"
	"strings"
	"testing"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func historyModel() *nsv1.RegisteredModel {
	ev := func(ms int64, prod int32, ch, champ float64, promoted bool, north float64) *nsv1.Evaluation {
		return &nsv1.Evaluation{Metric: "logloss", Rows: 1000, UnixMs: ms, ChampionVersion: prod, Promoted: promoted,
			Challenger: map[string]float64{"logloss": ch}, Champion: map[string]float64{"logloss": champ},
			Slices: []*nsv1.SliceMetrics{{Column: "region", Value: "north", Rows: 300,
				Challenger: map[string]float64{"logloss": north}, Champion: map[string]float64{"logloss": north + 0.01}}}}
	}
	return &nsv1.RegisteredModel{Name: "churn", Versions: []*nsv1.ModelVersion{
		{Version: 1},
		{Version: 3, Evaluation: ev(3000, 2, 0.45, 0.41, false, 0.5)},
		{Version: 2, Evaluation: ev(2000, 1, 0.40, 0.42, true, 0.4)},
	}}
}

// TestModelHistory: the evaluations come oldest first, with production's
// and the challenger's metric, the decision, and one slice on request.
func TestModelHistory(t *testing.T) {
	doc, err := modelHistory(historyModel(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Metric != "logloss" || len(doc.Points) != 2 || doc.Points[0].Version != 2 || !doc.Points[0].Promoted ||
		*doc.Points[0].Champion != 0.42 || *doc.Points[1].Challenger != 0.45 {
		t.Fatalf("history %+v", doc)
	}
	var b bytes.Buffer
	if err := writeHistory(&b, doc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"v1          0.42000  v2          0.40000  +0.02000  promoted", "v2          0.41000  v3          0.45000  -0.04000  candidate"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	doc, err = modelHistory(historyModel(), "logloss", "region=north")
	if err != nil || len(doc.Points) != 2 || doc.Points[0].Rows != 300 || *doc.Points[1].Challenger != 0.5 {
		t.Fatalf("slice history %+v %v", doc, err)
	}
	if _, err := modelHistory(historyModel(), "", "region=south"); err == nil || !strings.Contains(err.Error(), "region=south") {
		t.Fatalf("unknown slice: %v", err)
	}
}

// TestWriteEvaluation: both models' metrics, the gain with its interval,
// and the slices with their gains.
func TestWriteEvaluation(t *testing.T) {
	ev := historyModel().Versions[2].Evaluation
	ev.GainLow, ev.GainHigh, ev.Gain, ev.Confidence, ev.Bootstrap = 0.005, 0.035, 0.02, 0.95, 1000
	var b bytes.Buffer
	if err := writeEvaluation(&b, "v2", ev); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"EVALUATION (logloss on the same 1000 holdout rows)", "v2 (challenger)", "v1 (production)",
		"+0.02000 (95% interval [+0.00500, +0.03500], 1000 paired resamples)", "region=north", "+0.01000"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}
