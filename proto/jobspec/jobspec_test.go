package jobspec

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func validTrain() *pb.TrainSpec {
	return &pb.TrainSpec{ModelName: "churn", Dataset: "file:///d/ds/", Output: " s3://bucket/models ", Label: "label",
		Model: &pb.ModelConfig{Family: "Logistic"}}
}

func TestTrainDefaultsAndCanonicalForm(t *testing.T) {
	sp := validTrain()
	sp.Features = []*pb.FeatureSpec{{Column: " age ", Kind: "NUMERIC"}, {Column: "region", Kind: "categorical"}}
	if err := Train(sp); err != nil {
		t.Fatal(err)
	}
	want := &pb.TrainSpec{ModelName: "churn", Dataset: "file:///d/ds", Output: "s3://bucket/models", Label: "label",
		Features: []*pb.FeatureSpec{{Column: "age", Kind: "numeric", Missing: "impute"},
			{Column: "region", Kind: "categorical", Missing: "impute", Buckets: DefaultBuckets}},
		Model:     &pb.ModelConfig{Family: "logistic"},
		Optimizer: &pb.OptimizerConfig{Name: "adam", Lr: DefaultLR, Schedule: "constant"},
		Epochs:    1, BatchPerMember: DefaultBatchPerMember, MinMembers: 1, MaxMembers: 1,
		MaxRestarts: DefaultMaxRestarts, MemoryBudgetMb: DefaultMemoryBudgetMB, DataPath: DefaultDataPath}
	if !proto.Equal(sp, want) {
		t.Fatalf("normalised spec\n got %v\nwant %v", sp, want)
	}
	// Normalising is idempotent: the worker may see a spec twice.
	again := proto.Clone(sp).(*pb.TrainSpec)
	if err := Train(again); err != nil || !proto.Equal(again, sp) {
		t.Fatalf("second normalisation changed the spec (%v): %v", err, again)
	}
}

func TestTrainErrorsNameEveryField(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*pb.TrainSpec)
		want []string // paths, in order
	}{
		{"model name pattern", func(s *pb.TrainSpec) { s.ModelName = "Churn!" }, []string{"model_name"}},
		{"model name too long", func(s *pb.TrainSpec) { s.ModelName = strings.Repeat("a", MaxModelNameLen+1) }, []string{"model_name"}},
		{"missing uris and label", func(s *pb.TrainSpec) { s.Dataset, s.Output, s.Label = "", "", "" }, []string{"dataset", "output", "label"}},
		{"bad uri", func(s *pb.TrainSpec) { s.Dataset = "ftp://x/y" }, []string{"dataset"}},
		{"features", func(s *pb.TrainSpec) {
			s.Features = []*pb.FeatureSpec{{Column: "a", Kind: "numeric"}, {Column: "a", Kind: "numeric"}, {Column: "label", Kind: "text"},
				{Column: "b", Kind: "numeric", Buckets: 4}, {Column: "c", Kind: "categorical", Missing: "indicator"}, {Kind: "numeric"}}
		}, []string{"features[1].column", "features[2].column", "features[2].kind", "features[3].buckets", "features[4].missing", "features[5].column"}},
		{"mlp needs shape", func(s *pb.TrainSpec) {
			s.Model = &pb.ModelConfig{Family: "mlp", Hidden: []int32{8, 0, MaxHiddenWidth + 1}}
		},
			[]string{"model.hidden[1]", "model.hidden[2]", "model.objective"}},
		{"data", func(s *pb.TrainSpec) { s.MemoryBudgetMb, s.DataPath = -1, "disk" }, []string{"data.memory_budget_mb", "data.path"}},
		{"family required", func(s *pb.TrainSpec) { s.Model = nil }, []string{"model.family"}},
		{"hidden only for mlp", func(s *pb.TrainSpec) { s.Model.Hidden = []int32{4} }, []string{"model.hidden"}},
		{"lbfgs only for glm", func(s *pb.TrainSpec) {
			s.Model = &pb.ModelConfig{Family: "softmax"}
			s.Optimizer = &pb.OptimizerConfig{Name: "lbfgs"}
		}, []string{"optimizer.name"}},
		{"optimizer numbers", func(s *pb.TrainSpec) { s.Optimizer = &pb.OptimizerConfig{Lr: -1, Momentum: 1, DecayRate: -1} },
			[]string{"optimizer.lr", "optimizer.momentum", "optimizer.decay_rate"}},
		{"members cap", func(s *pb.TrainSpec) { s.MinMembers, s.MaxMembers = 2, MaxMembers+1 }, []string{"members.max"}},
		{"members order", func(s *pb.TrainSpec) { s.MinMembers, s.MaxMembers = 3, 2 }, []string{"members.max"}},
		{"holdout", func(s *pb.TrainSpec) { s.Holdout = 1 }, []string{"holdout"}},
		{"promotion", func(s *pb.TrainSpec) {
			s.Holdout, s.Promotion = 0.2, &pb.PromotionPolicy{Metric: "f1", Margin: proto.Float64(-1)}
		},
			[]string{"promotion.metric", "promotion.margin"}},
		{"promotion metric the model does not report", func(s *pb.TrainSpec) {
			s.Holdout, s.Promotion = 0.2, &pb.PromotionPolicy{Metric: "rmse", Margin: proto.Float64(0)}
		}, []string{"promotion.metric"}},
		{"promotion without a threshold", func(s *pb.TrainSpec) { s.Promotion = &pb.PromotionPolicy{Metric: "auc"} },
			[]string{"promotion.margin"}},
		{"promotion gates", func(s *pb.TrainSpec) {
			s.Holdout, s.Promotion = 0.2, &pb.PromotionPolicy{Margin: proto.Float64(0), Confidence: 1, Bootstrap: 5,
				SliceGate: &pb.SliceGate{MinRows: 0, MaxRegression: -1}, Decay: &pb.DecayGate{Window: 2}}
		}, []string{"promotion.confidence", "promotion.bootstrap", "promotion.slice_gate", "promotion.slice_gate.min_rows",
			"promotion.slice_gate.max_regression", "promotion.decay.window", "promotion.decay.max_drop"}},
		{"automatic promotion without holdout", func(s *pb.TrainSpec) {
			s.Holdout, s.Promotion = 0, &pb.PromotionPolicy{Margin: proto.Float64(0.01)}
		}, []string{"promotion"}},
		{"evaluation slices", func(s *pb.TrainSpec) {
			s.Evaluation = &pb.EvaluationSpec{Slices: []string{"", s.Label, "a", "a", "b", "c", "d", "e", "f", "g"}, Buckets: 1}
		}, []string{"evaluation.slices", "evaluation.slices[0]", "evaluation.slices[1]", "evaluation.slices[3]", "evaluation.buckets"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := validTrain()
			tc.edit(sp)
			err := Train(sp)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("want Errors, got %v", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Path)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("paths %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
}

func TestScore(t *testing.T) {
	sp := &pb.ScoreSpec{Model: "churn@v3", Input: "file:///in/", Output: "file:///out", Format: "ARROW", Passthrough: []string{" id "}}
	if err := Score(sp); err != nil {
		t.Fatal(err)
	}
	if sp.Input != "file:///in" || sp.Format != "arrow" || sp.BadRows != "fail" || sp.Passthrough[0] != "id" {
		t.Fatalf("normalised: %v", sp)
	}
	bad := &pb.ScoreSpec{Model: "churn@latest", Input: "", Output: "file:///o", Format: "csv", BadRows: "skip", Passthrough: []string{"a", "a", ""}}
	err := Score(bad)
	for _, want := range []string{"model: model churn: \"latest\"", "input: required", "format: \"csv\"", "bad_rows: \"skip\"",
		"passthrough[1]: column \"a\" is listed twice", "passthrough[2]: empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

func TestNormalizeJob(t *testing.T) {
	js := &pb.JobSpec{Pool: " gpu ", MaxAttempts: -1, Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 2, FailTasks: []int32{2}}}}
	err := Normalize(js)
	if err == nil || !strings.Contains(err.Error(), "max_attempts") || !strings.Contains(err.Error(), "fail_tasks[0]: task 2") {
		t.Fatalf("got %v", err)
	}
	if js.Pool != "gpu" {
		t.Fatalf("pool %q", js.Pool)
	}
	if err := Normalize(&pb.JobSpec{}); err == nil || !strings.Contains(err.Error(), "kind:") {
		t.Fatalf("no kind: %v", err)
	}
	if err := Normalize(&pb.JobSpec{Kind: &pb.JobSpec_Shard{Shard: &pb.ShardSpec{Sources: []string{"file:///a/"}, Output: "file:///o",
		OptionsJson: []byte(`[1]`)}}}); err == nil || !strings.Contains(err.Error(), "options: not a JSON object") {
		t.Fatalf("shard options: %v", err)
	}
}

func TestModelRefs(t *testing.T) {
	for ref, want := range map[string]string{"churn": "churn@production", "churn@candidate": "churn@candidate", "churn@v12": "churn@v12"} {
		r, err := ParseModelRef(ref)
		if err != nil || r.String() != want {
			t.Errorf("%s: %v %v", ref, r, err)
		}
	}
	for _, ref := range []string{"", "@v1", "churn@", "churn@v0", "churn@v1x", "Churn", "a/b"} {
		if _, err := ParseModelRef(ref); err == nil {
			t.Errorf("%q parsed", ref)
		}
	}
	if IsModelRef("s3://b/m") || IsModelRef("/abs") || !IsModelRef("churn@v1") {
		t.Error("IsModelRef")
	}
}

// FuzzNormalize feeds arbitrary specs (as protobuf bytes) to Normalize: it
// must never panic, and a spec it accepts must be a fixed point.
func FuzzNormalize(f *testing.F) {
	for _, js := range []*pb.JobSpec{
		{Kind: &pb.JobSpec_Train{Train: validTrain()}},
		{Kind: &pb.JobSpec_Score{Score: &pb.ScoreSpec{Model: "m", Input: "file:///i", Output: "file:///o"}}},
		{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 3, FailTasks: []int32{1}}}},
		{Kind: &pb.JobSpec_Shard{Shard: &pb.ShardSpec{Sources: []string{"file:///s"}, Output: "file:///o"}}},
	} {
		b, _ := proto.Marshal(js)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		js := &pb.JobSpec{}
		if proto.Unmarshal(b, js) != nil {
			return
		}
		if Normalize(js) != nil {
			return
		}
		again := proto.Clone(js).(*pb.JobSpec)
		if err := Normalize(again); err != nil || !proto.Equal(again, js) {
			t.Fatalf("accepted spec is not a fixed point: %v\n%v\n%v", err, js, again)
		}
	})
}
