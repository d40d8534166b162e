package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// TestServerSubmitsSpecsWithoutTheCLI builds a train and a score job as
// code inside the coordinator will (pipelines): bare specs handed to
// Server.Submit, with nothing normalised or defaulted by a client. The
// coordinator applies the same rules the CLI does (package jobspec), names
// the bad field, and runs both jobs.
func TestServerSubmitsSpecsWithoutTheCLI(t *testing.T) {
	f := newFixture(t, 1, 600, 200)
	c := startCluster(t, 1, 2, nil)
	l := c.Leader()
	ctx := context.Background()

	bad := &pb.JobSpec{Kind: &pb.JobSpec_Train{Train: &pb.TrainSpec{ModelName: "churn", Dataset: f.dataset, Output: f.base + "/models",
		Label: "label", Model: &pb.ModelConfig{Family: "logistic"},
		Features: []*pb.FeatureSpec{{Column: "age", Kind: "numeric"}, {Column: "age", Kind: "numeric"}}}}}
	_, _, err := l.Submit(ctx, "", bad)
	var fields jobspec.Errors
	if !errors.As(err, &fields) || len(fields) != 1 || fields[0].Path != "features[1].column" ||
		!strings.Contains(err.Error(), `features[1].column: "age" is listed twice`) {
		t.Fatalf("duplicate feature: %v", err)
	}

	train := &pb.JobSpec{Kind: &pb.JobSpec_Train{Train: &pb.TrainSpec{ModelName: "churn", Dataset: f.dataset + "/",
		Output: " " + f.base + "/models/ ", Label: "label", Model: &pb.ModelConfig{Family: "Logistic"}}}}
	job, created, err := l.Submit(ctx, "", train)
	if err != nil || !created {
		t.Fatalf("train: created %v, %v", created, err)
	}
	ts := job.Spec.GetTrain()
	if ts.Dataset != f.dataset || ts.Output != f.base+"/models" || ts.Model.Family != "logistic" || ts.Epochs != 1 ||
		ts.Optimizer.GetName() != "adam" || ts.MinMembers != 1 || ts.MaxMembers != 1 || ts.MaxRestarts != 3 {
		t.Fatalf("the committed spec is not normalised: %v", ts)
	}
	if final := waitJob(t, c, job.Id, 2*time.Minute, nil); final.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("train job %s: %s", final.State, final.Error)
	}

	score := &pb.JobSpec{Kind: &pb.JobSpec_Score{Score: &pb.ScoreSpec{Model: "churn", Input: f.dataset, Output: f.base + "/scored/", Passthrough: []string{" id"}}}}
	job, _, err = l.Submit(ctx, "", score)
	if err != nil {
		t.Fatalf("score: %v", err)
	}
	if sp := job.Spec.GetScore(); sp.Format != "parquet" || sp.BadRows != "fail" || job.ModelRef != "churn@v1 (churn)" {
		t.Fatalf("score job: model ref %q, spec %v", job.ModelRef, sp)
	}
	final := waitJob(t, c, job.Id, time.Minute, nil)
	if final.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("score job %s: %s", final.State, final.Error)
	}
	onlyCommitted(t, checkScoreOutput(t, f, final))
}
