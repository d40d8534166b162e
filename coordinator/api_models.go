package coordinator

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// modelAPI serves ModelService: the model registry. Versions are
// registered by finished training jobs; operators promote and roll back.
type modelAPI struct {
	pb.UnimplementedModelServiceServer
	s *Server
}

// ListModels returns every registered model by name, without its event
// history (GetModel has it).
func (a *modelAPI) ListModels(ctx context.Context, req *pb.ListModelsRequest) (*pb.ListModelsResponse, error) {
	if !req.Stale {
		if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
			return nil, toStatus(err)
		} else if conn != nil {
			return pb.NewModelServiceClient(conn).ListModels(fctx, req)
		}
	}
	resp := &pb.ListModelsResponse{}
	for _, m := range a.s.store.Snapshot().Models() {
		resp.Models = append(resp.Models, summarizeModel(m))
	}
	return resp, nil
}

// summarizeModel drops a model's event history for listings.
func summarizeModel(m *pb.RegisteredModel) *pb.RegisteredModel {
	if len(m.Events) == 0 {
		return m
	}
	c := proto.Clone(m).(*pb.RegisteredModel)
	c.Events = nil
	return c
}

func (a *modelAPI) GetModel(ctx context.Context, req *pb.GetModelRequest) (*pb.GetModelResponse, error) {
	if !req.Stale {
		if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
			return nil, toStatus(err)
		} else if conn != nil {
			return pb.NewModelServiceClient(conn).GetModel(fctx, req)
		}
	}
	if req.Name == "" {
		return nil, status.Error(codes.InvalidArgument, "get model: no name")
	}
	m := a.s.store.Snapshot().Model(req.Name)
	if m == nil {
		return nil, status.Errorf(codes.NotFound, "no model named %s", req.Name)
	}
	return &pb.GetModelResponse{Model: m}, nil
}

func (a *modelAPI) PromoteModel(ctx context.Context, req *pb.PromoteModelRequest) (*pb.PromoteModelResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewModelServiceClient(conn).PromoteModel(fctx, req)
	}
	if req.Name == "" || req.Version <= 0 {
		return nil, status.Error(codes.InvalidArgument, "promote: a model name and a version ≥ 1 are required")
	}
	m, err := a.setAlias(ctx, req.RequestId, &pb.SetModelAlias{Name: req.Name, Alias: aliasProduction, Version: req.Version, Reason: req.Reason, Actor: callerName(ctx)})
	if err != nil {
		return nil, err
	}
	a.s.log.Info("model promoted by operator", "model", req.Name, "version", req.Version, "reason", req.Reason)
	return &pb.PromoteModelResponse{Model: m}, nil
}

func (a *modelAPI) RollbackModel(ctx context.Context, req *pb.RollbackModelRequest) (*pb.RollbackModelResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewModelServiceClient(conn).RollbackModel(fctx, req)
	}
	if req.Name == "" {
		return nil, status.Error(codes.InvalidArgument, "rollback: no model name")
	}
	m, err := a.setAlias(ctx, req.RequestId, &pb.SetModelAlias{Name: req.Name, Alias: aliasProduction, Rollback: true, Reason: req.Reason, Actor: callerName(ctx)})
	if err != nil {
		return nil, err
	}
	a.s.log.Info("model rolled back by operator", "model", req.Name, "production", m.GetAliases()[aliasProduction], "reason", req.Reason)
	return &pb.RollbackModelResponse{Model: m}, nil
}

// setAlias applies a SetModelAlias command; a retry with the same request
// ID is applied once and answered with the model's state.
func (a *modelAPI) setAlias(ctx context.Context, requestID string, c *pb.SetModelAlias) (*pb.RegisteredModel, error) {
	res, err := a.s.apply(ctx, &pb.Command{RequestId: requestID, Op: &pb.Command_SetModelAlias{SetModelAlias: c}})
	if err != nil {
		return nil, toStatus(err)
	}
	if res.model == nil {
		return nil, status.Errorf(codes.NotFound, "no model named %s", c.Name)
	}
	return res.model, nil
}

// ResolveModel resolves NAME, NAME@ALIAS or NAME@vN to the version a score
// job submitted now would use.
func (a *modelAPI) ResolveModel(ctx context.Context, req *pb.ResolveModelRequest) (*pb.ResolveModelResponse, error) {
	if !req.Stale {
		if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
			return nil, toStatus(err)
		} else if conn != nil {
			return pb.NewModelServiceClient(conn).ResolveModel(fctx, req)
		}
	}
	_, ver, isRef, err := resolveModelRef(a.s.store.Snapshot(), req.Ref)
	if err != nil {
		return nil, toStatus(err)
	}
	if !isRef {
		return nil, status.Errorf(codes.InvalidArgument, "%q is an artifact URI, not a registered model (NAME, NAME@ALIAS, NAME@vN)", req.Ref)
	}
	return &pb.ResolveModelResponse{Version: ver}, nil
}
