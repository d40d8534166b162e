package coordinator

import (
	"context"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// peerAPI is the coordinators' own service: one coordinator's Raft
// position, for the leader's autopilot and for a coordinator deciding
// whether to bootstrap.
type peerAPI struct {
	pb.UnimplementedPeerServiceServer
	s *Server
}

func (a *peerAPI) RaftStats(context.Context, *pb.RaftStatsRequest) (*pb.RaftStatsResponse, error) {
	return a.s.raftStats(), nil
}

// raftStats reads this node's Raft position from raft's Stats map (the
// only place it publishes last_contact and the last log term).
func (s *Server) raftStats() *pb.RaftStatsResponse {
	st := s.raft.raft.Stats()
	num := func(key string) uint64 { v, _ := strconv.ParseUint(st[key], 10, 64); return v }
	out := &pb.RaftStatsResponse{Id: s.cfg.ID, LastTerm: num("last_log_term"), LastIndex: num("last_log_index"),
		LastContactMs: -1}
	switch lc := st["last_contact"]; lc {
	case "never":
	case "0":
		out.LastContactMs = 0
	default:
		if d, err := time.ParseDuration(lc); err == nil {
			out.LastContactMs = d.Milliseconds()
		}
	}
	if s.IsLeader() {
		out.LastContactMs = 0
	}
	out.ConfiguredServers = int32(len(s.raftServers()))
	return out
}

// raftServers returns this node's latest Raft configuration: empty until
// it was bootstrapped or a leader added it.
func (s *Server) raftServers() []raft.Server {
	f := s.raft.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	return f.Configuration().Servers
}
