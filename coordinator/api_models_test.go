package coordinator

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// TestModelAPI drives ModelService on a one-voter cluster: listing,
// getting, resolving, promoting, rolling back, request-ID retries and the
// status codes of its errors.
func TestModelAPI(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	leader := c.waitLeader()
	// Versions come from finished training jobs; register them directly.
	now := time.Now().UnixMilli()
	registerComparedAt(leader.store, 1, now, modelVersion("churn", "j1", map[string]float64{"logloss": 0.31}))
	registerComparedAt(leader.store, 2, now, modelVersion("churn", "j2", map[string]float64{"logloss": 0.30}))
	registerAt(leader.store, 3, now, modelVersion("a-draft", "j3", nil), &pb.PromotionPolicy{Manual: true})
	models := pb.NewModelServiceClient(dial(t, leader.Addr()))
	ctx := context.Background()

	list := callRetry(t, func(ctx context.Context) (*pb.ListModelsResponse, error) {
		return models.ListModels(ctx, &pb.ListModelsRequest{})
	})
	if len(list.Models) != 2 || list.Models[0].Name != "a-draft" || list.Models[1].Name != "churn" ||
		len(list.Models[1].Versions) != 2 || list.Models[1].Events != nil {
		t.Fatalf("list: %v", list)
	}
	got, err := models.GetModel(ctx, &pb.GetModelRequest{Name: "churn"})
	if err != nil || got.Model.Aliases[aliasProduction] != 2 || len(got.Model.Events) != 2 {
		t.Fatalf("get: %v %v", got, err)
	}
	res, err := models.ResolveModel(ctx, &pb.ResolveModelRequest{Ref: "churn"})
	if err != nil || res.Version.GetVersion() != 2 || res.Version.GetUri() != "s3://b/models/churn/job-j2" {
		t.Fatalf("resolve: %v %v", res, err)
	}

	prom, err := models.PromoteModel(ctx, &pb.PromoteModelRequest{Name: "churn", Version: 1, Reason: "v2 drifts", RequestId: "req-p"})
	if err != nil || prom.Model.Aliases[aliasProduction] != 1 || !slices.Equal(prom.Model.ProductionHistory, []int32{1, 2}) {
		t.Fatalf("promote: %v %v", prom, err)
	}
	// A retry answers with the model and applies nothing again.
	prom, err = models.PromoteModel(ctx, &pb.PromoteModelRequest{Name: "churn", Version: 1, RequestId: "req-p"})
	if err != nil || prom.Model.Aliases[aliasProduction] != 1 || !slices.Equal(prom.Model.ProductionHistory, []int32{1, 2}) {
		t.Fatalf("retried promote: %v %v", prom, err)
	}
	for _, want := range []int32{2, 1} {
		rb, err := models.RollbackModel(ctx, &pb.RollbackModelRequest{Name: "churn", RequestId: fmt.Sprintf("req-rb-%d", want)})
		if err != nil || rb.Model.Aliases[aliasProduction] != want {
			t.Fatalf("rollback to v%d: %v %v", want, rb, err)
		}
	}

	for _, tc := range []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{
		{"get missing", func() error { _, err := models.GetModel(ctx, &pb.GetModelRequest{Name: "nope"}); return err },
			codes.NotFound, "no model named nope"},
		{"resolve missing version", func() error {
			_, err := models.ResolveModel(ctx, &pb.ResolveModelRequest{Ref: "churn@v9"})
			return err
		}, codes.NotFound, "not found: model churn has no version 9"},
		{"resolve without production", func() error {
			_, err := models.ResolveModel(ctx, &pb.ResolveModelRequest{Ref: "a-draft"})
			return err
		}, codes.NotFound, "not found: model a-draft has no production version"},
		{"resolve a URI", func() error {
			_, err := models.ResolveModel(ctx, &pb.ResolveModelRequest{Ref: "s3://b/m"})
			return err
		}, codes.InvalidArgument, `"s3://b/m" is an artifact URI, not a registered model (NAME, NAME@ALIAS, NAME@vN)`},
		{"promote missing version", func() error {
			_, err := models.PromoteModel(ctx, &pb.PromoteModelRequest{Name: "churn", Version: 7})
			return err
		}, codes.NotFound, "not found: model churn has no version 7"},
		{"promote missing model", func() error {
			_, err := models.PromoteModel(ctx, &pb.PromoteModelRequest{Name: "nope", Version: 1})
			return err
		}, codes.NotFound, "not found: no model named nope"},
		{"promote version 0", func() error {
			_, err := models.PromoteModel(ctx, &pb.PromoteModelRequest{Name: "churn"})
			return err
		}, codes.InvalidArgument, "promote: a model name and a version ≥ 1 are required"},
		{"rollback with no history", func() error {
			_, err := models.RollbackModel(ctx, &pb.RollbackModelRequest{Name: "churn"})
			return err
		}, codes.FailedPrecondition, "failed precondition: model churn: no earlier production version to roll back to"},
	} {
		err := tc.call()
		if st, _ := status.FromError(err); st.Code() != tc.code || st.Message() != tc.msg {
			t.Errorf("%s: %v, want %s %q", tc.name, err, tc.code, tc.msg)
		}
	}
}
