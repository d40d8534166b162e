package main

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/model"
	"github.com/nightshift-ml/nightshift/worker/train"
)

// demoTrainSpec is the demo's training job: a logistic regression on the
// sample's features (the id column is left out: it identifies, it does
// not predict), data-parallel on a group of members workers.
func demoTrainSpec(spec sample.Spec, dataset, output string, members int32) *nsv1.TrainSpec {
	sp := &nsv1.TrainSpec{
		Dataset: dataset, Label: "label", ModelName: "churn", Output: output,
		Model:     &nsv1.ModelConfig{Family: "logistic", L2: 1e-4},
		Optimizer: &nsv1.OptimizerConfig{Name: "adam", Lr: 0.05},
		Epochs:    3, BatchPerMember: 1024, MinMembers: members, MaxMembers: members, Seed: 7, Holdout: 0.2,
		CheckpointEverySteps: 100,
		Promotion:            &nsv1.PromotionPolicy{Metric: "auc", Margin: proto.Float64(0.001)},
		// Each version is compared with production per region and plan too.
		Evaluation: &nsv1.EvaluationSpec{Slices: []string{"region", "plan"}},
	}
	for _, c := range sample.NewTruth(spec).Features {
		sp.Features = append(sp.Features, &nsv1.FeatureSpec{Column: c, Kind: "numeric"})
	}
	for _, c := range []string{"region", "device", "plan"} {
		sp.Features = append(sp.Features, &nsv1.FeatureSpec{Column: c, Kind: "categorical", Buckets: 16})
	}
	return sp
}

// truthHoldout scores the training job's holdout with the generator's true
// model: the best logloss any model can expect on average, for reference.
func truthHoldout(ctx context.Context, st storage.Config, spec sample.Spec, dataset string, job *nsv1.Job) (map[string]float64, error) {
	m, err := model.FromTruth(sample.NewTruth(spec))
	if err != nil {
		return nil, err
	}
	sp := job.GetSpec().GetTrain()
	if sp == nil {
		return nil, fmt.Errorf("job %s is not a training job", job.GetId())
	}
	d, err := train.Load(ctx, st, sp)
	if err != nil {
		return nil, err
	}
	defer d.Release()
	return train.EvaluateHoldout(ctx, d, m)
}
