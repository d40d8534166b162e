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

// TestSliceValuesRefusesManyCategories: a categorical slice column of
// more values than MaxSliceValues is refused by its profile; a numeric
// one of any count is bucketed.
func TestSliceValuesRefusesManyCategories(t *testing.T) {
	cat := func(name string, distinct int64) *pb.ColumnProfile {
		return &pb.ColumnProfile{Name: name, Kind: pb.ColumnKind_COLUMN_KIND_CATEGORICAL, Categorical: &pb.CategoricalStats{Distinct: distinct}}
	}
	p := &pb.DatasetProfile{Columns: []*pb.ColumnProfile{cat("region", 8), cat("customer", 90210),
		{Name: "age", Kind: pb.ColumnKind_COLUMN_KIND_NUMERIC}}}
	sp := &pb.TrainSpec{Evaluation: &pb.EvaluationSpec{Slices: []string{"region", "age", "customer"}}}
	err := SliceValues(sp, p)
	if err == nil || !strings.Contains(err.Error(), `evaluation.slices[2]: column "customer" has about 90210 distinct values; a slice column may have at most 50`) {
		t.Fatalf("got %v", err)
	}
	sp.Evaluation.Slices = sp.Evaluation.Slices[:2]
	if err := SliceValues(sp, p); err != nil {
		t.Fatal(err)
	}
}
