package coordinator

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// adminAPI serves AdminService: workers and Raft membership.
type adminAPI struct {
	pb.UnimplementedAdminServiceServer
	s *Server
}

func (a *adminAPI) ListWorkers(ctx context.Context, req *pb.ListWorkersRequest) (*pb.ListWorkersResponse, error) {
	if !req.Stale {
		if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
			return nil, toStatus(err)
		} else if conn != nil {
			return pb.NewAdminServiceClient(conn).ListWorkers(fctx, req)
		}
	}
	view := a.s.store.Snapshot()
	running := map[string]int32{}
	view.Running(func(t *pb.Task) bool {
		for _, at := range t.Active {
			running[at.WorkerId]++
		}
		return true
	})
	gossipState := map[string]string{}
	for _, m := range a.s.gossip.Members() {
		if m.MetaErr == nil && m.Meta.Role == gossip.RoleWorker {
			gossipState[m.Meta.ID] = m.State
		}
	}
	now := time.Now()
	resp := &pb.ListWorkersResponse{}
	for _, w := range view.Workers() {
		ws := &pb.WorkerStatus{Worker: w, Running: running[w.Id], LastHeartbeatMsAgo: -1, Gossip: gossipState[w.Id]}
		if ws.Gossip == "" {
			ws.Gossip = "gone" // not alive in gossip: dead, left or never joined
		}
		if last := a.s.hb.lastSeen(w.Id); !last.IsZero() && a.s.IsLeader() {
			ws.LastHeartbeatMsAgo = now.Sub(last).Milliseconds()
		}
		resp.Workers = append(resp.Workers, ws)
	}
	return resp, nil
}

func (a *adminAPI) DrainWorker(ctx context.Context, req *pb.DrainWorkerRequest) (*pb.DrainWorkerResponse, error) {
	return a.setState(ctx, req, pb.WorkerState_WORKER_STATE_DRAINING, true)
}

func (a *adminAPI) UndrainWorker(ctx context.Context, req *pb.DrainWorkerRequest) (*pb.DrainWorkerResponse, error) {
	return a.setState(ctx, req, pb.WorkerState_WORKER_STATE_ACTIVE, false)
}

func (a *adminAPI) setState(ctx context.Context, req *pb.DrainWorkerRequest, st pb.WorkerState, drain bool) (*pb.DrainWorkerResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		c := pb.NewAdminServiceClient(conn)
		if drain {
			return c.DrainWorker(fctx, req)
		}
		return c.UndrainWorker(fctx, req)
	}
	w := a.s.store.Snapshot().Worker(req.Id)
	if w == nil {
		return nil, status.Errorf(codes.NotFound, "worker %s not found", req.Id)
	}
	if w.State == pb.WorkerState_WORKER_STATE_DOWN {
		return nil, status.Errorf(codes.FailedPrecondition, "worker %s is down", req.Id)
	}
	res, err := a.s.apply(ctx, &pb.Command{RequestId: req.RequestId, Op: &pb.Command_SetWorkerState{SetWorkerState: &pb.SetWorkerState{WorkerId: req.Id, State: st, Actor: callerName(ctx)}}})
	if err != nil {
		return nil, toStatus(err)
	}
	a.s.log.Info("worker state set by operator", "worker", req.Id, "state", st)
	return &pb.DrainWorkerResponse{Worker: res.worker}, nil
}

func (a *adminAPI) ListPeers(ctx context.Context, req *pb.ListPeersRequest) (*pb.ListPeersResponse, error) {
	r := a.s.raft.raft
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, toStatus(err)
	}
	_, leader := r.LeaderWithID()
	resp := &pb.ListPeersResponse{LeaderId: string(leader), CommitIndex: r.CommitIndex(), AppliedIndex: r.AppliedIndex()}
	for _, srv := range f.Configuration().Servers {
		resp.Peers = append(resp.Peers, &pb.Peer{Id: string(srv.ID), RaftAddr: string(srv.Address), GrpcAddr: a.s.grpcAddrOf(string(srv.ID)),
			Voter: srv.Suffrage == raft.Voter, Leader: srv.ID == leader})
	}
	return resp, nil
}

func (a *adminAPI) AddPeer(ctx context.Context, req *pb.AddPeerRequest) (*pb.AddPeerResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewAdminServiceClient(conn).AddPeer(fctx, req)
	}
	if req.Id == "" || req.RaftAddr == "" {
		return nil, status.Error(codes.InvalidArgument, "add-peer needs an id and a raft address")
	}
	var f raft.IndexFuture
	if req.NonVoter {
		f = a.s.raft.raft.AddNonvoter(raft.ServerID(req.Id), raft.ServerAddress(req.RaftAddr), 0, applyTimeout)
	} else {
		f = a.s.raft.raft.AddVoter(raft.ServerID(req.Id), raft.ServerAddress(req.RaftAddr), 0, applyTimeout)
	}
	if err := f.Error(); err != nil {
		return nil, toStatus(err)
	}
	a.s.log.Info("raft peer added", "peer", req.Id, "addr", req.RaftAddr, "voter", !req.NonVoter)
	return &pb.AddPeerResponse{}, nil
}

func (a *adminAPI) RemovePeer(ctx context.Context, req *pb.RemovePeerRequest) (*pb.RemovePeerResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewAdminServiceClient(conn).RemovePeer(fctx, req)
	}
	if req.Id == "" {
		return nil, status.Error(codes.InvalidArgument, "remove-peer needs an id")
	}
	if err := a.s.raft.raft.RemoveServer(raft.ServerID(req.Id), 0, applyTimeout).Error(); err != nil {
		return nil, toStatus(err)
	}
	a.s.log.Info("raft peer removed", "peer", req.Id)
	return &pb.RemovePeerResponse{}, nil
}
