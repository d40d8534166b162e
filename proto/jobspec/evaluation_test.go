package jobspec

import (
	"strings"
	"testing"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// TestTrainColumnsNamesMissingSliceColumn: a slice column the dataset
// lacks is refused at submit, with its path.
func TestTrainColumnsNamesMissingSliceColumn(t *testing.T) {
	sp := &pb.TrainSpec{Dataset: "file:///d", Label: "label", Features: []*pb.FeatureSpec{{Column: "age"}},
		Evaluation: &pb.EvaluationSpec{Slices: []string{"age", "regoin"}}}
	err := TrainColumns(sp, []string{"label", "age", "region"})
	if err == nil || !strings.Contains(err.Error(), `evaluation.slices[1]: "regoin" is not a column of file:///d`) {
		t.Fatalf("got %v", err)
	}
}

// TestGainIsPositiveWhenBetter: whichever way a metric runs.
func TestGainIsPositiveWhenBetter(t *testing.T) {
	for _, tc := range []struct {
		metric string
		a, b   float64
	}{{"logloss", 0.3, 0.4}, {"rmse", 1, 2}, {"auc", 0.9, 0.8}, {"accuracy", 0.7, 0.6}} {
		if g := Gain(tc.metric, tc.a, tc.b); !(g > 0) {
			t.Errorf("%s: gain of %v over %v is %v", tc.metric, tc.a, tc.b, g)
		}
	}
}
