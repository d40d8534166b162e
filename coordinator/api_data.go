package coordinator

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/datagate"
	"github.com/nightshift-ml/nightshift/shard/profile"
)

// dataAPI serves DataService: dataset profiles and the data gates outside
// a pipeline. Profiles live in storage, not in Raft; references to models
// are resolved on the leader, so a request is forwarded there.
type dataAPI struct {
	pb.UnimplementedDataServiceServer
	s *Server
}

func (a *dataAPI) GetProfile(ctx context.Context, req *pb.GetProfileRequest) (*pb.GetProfileResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewDataServiceClient(conn).GetProfile(fctx, req)
	}
	if req.Dataset == "" {
		return nil, status.Error(codes.InvalidArgument, "get profile: no dataset URI")
	}
	p, ds, err := a.s.datasetProfile(ctx, req.Dataset)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.GetProfileResponse{Profile: p, Uri: ds.URI + "/" + profile.FileName}, nil
}

func (a *dataAPI) InferContract(ctx context.Context, req *pb.InferContractRequest) (*pb.InferContractResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewDataServiceClient(conn).InferContract(fctx, req)
	}
	if req.Reference == "" {
		return nil, status.Error(codes.InvalidArgument, "infer contract: no reference (a model NAME@ALIAS, NAME@vN, or a dataset URI)")
	}
	ref, name, err := a.s.referenceProfile(ctx, a.s.store.Snapshot(), req.Reference)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.InferContractResponse{Contract: datagate.InferContract(ref), Reference: name}, nil
}

func (a *dataAPI) Validate(ctx context.Context, req *pb.ValidateRequest) (*pb.ValidateResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewDataServiceClient(conn).Validate(fctx, req)
	}
	if req.Dataset == "" || req.Against == "" {
		return nil, status.Error(codes.InvalidArgument, "validate: a dataset URI and a reference (--against) are required")
	}
	cur, _, err := a.s.datasetProfile(ctx, req.Dataset)
	if err != nil {
		return nil, toStatus(err)
	}
	ref, name, err := a.s.referenceProfile(ctx, a.s.store.Snapshot(), req.Against)
	if err != nil {
		return nil, toStatus(err)
	}
	rep, err := validateDataset(ref, cur, name, &pb.ValidateSpec{Contract: req.Contract, Drift: req.Drift, IgnoreColumns: req.IgnoreColumns})
	if err != nil {
		return nil, toStatus(err)
	}
	rep.Dataset = cur.Dataset
	return &pb.ValidateResponse{Report: rep}, nil
}
