package coordinator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Cluster formation without a manual step, as Consul and Nomad do it
// (docs/architecture.md §3). Coordinators started with bootstrap_expect N
// advertise N in their gossip metadata and join their seeds (static
// addresses or a headless Service's DNS name):
//
//   - bootstrapLoop, on a coordinator with no Raft configuration: once N
//     coordinators advertising N are alive in gossip and none of them
//     belongs to a cluster yet (asked over PeerService.RaftStats), it
//     bootstraps Raft with all N. Every one of them computes the same
//     configuration from the same members, and hashicorp/raft documents
//     that bootstrapping every server with an identical configuration is
//     safe; start order does not matter.
//   - addLoop, on the leader: a coordinator advertising bootstrap_expect
//     that is alive in gossip but missing from the configuration is added
//     as a non-voter; autopilot (autopilot.go) promotes it once it has been
//     healthy for server_stabilization_time. One whose Raft address changed
//     (a pod rescheduled without a stable name) gets its address updated.
//
// Coordinators started without bootstrap_expect (bootstrap: true plus
// `operator raft add-peer`) are never added automatically, so removing one
// by hand is not undone.

// formInterval is how often a coordinator waiting to form a cluster looks
// again, and how often the leader looks for coordinators to add.
func (s *Server) formInterval() time.Duration {
	if s.cfg.FastGossip {
		return 100 * time.Millisecond
	}
	return time.Second
}

// expectingPeers returns the coordinators alive in gossip (this one
// included) that advertise a bootstrap_expect, by ID.
func (s *Server) expectingPeers() map[string]gossip.Meta {
	out := map[string]gossip.Meta{}
	for _, m := range s.gossip.Members() {
		if m.MetaErr == nil && m.Meta.Role == gossip.RoleCoordinator && m.Meta.Expect > 0 && m.Meta.Raft != "" {
			out[m.Meta.ID] = m.Meta
		}
	}
	return out
}

// bootstrapLoop forms a new cluster once bootstrap_expect coordinators are
// there (see above). It returns as soon as this node belongs to a
// configuration, at once for a node restarted with Raft state.
func (s *Server) bootstrapLoop() {
	defer s.wg.Done()
	if s.cfg.BootstrapExpect == 0 {
		return
	}
	tick := time.NewTicker(s.formInterval())
	defer tick.Stop()
	var lastWait string
	for {
		if len(s.raftServers()) > 0 {
			return
		}
		wait, err := s.tryBootstrap()
		switch {
		case err != nil:
			s.log.Error("bootstrap", "err", err)
			return
		case wait == "":
			return
		case wait != lastWait:
			s.log.Info("forming the cluster: "+wait, "bootstrap_expect", s.cfg.BootstrapExpect)
			lastWait = wait
		}
		select {
		case <-tick.C:
		case <-s.stop:
			return
		}
	}
}

// tryBootstrap bootstraps when it can; otherwise it says what it waits for.
func (s *Server) tryBootstrap() (wait string, err error) {
	n := s.cfg.BootstrapExpect
	peers := s.expectingPeers()
	for id, m := range peers {
		if m.Expect != n {
			return fmt.Sprintf("coordinator %s advertises bootstrap_expect %d, this one %d: every coordinator needs the same", id, m.Expect, n), nil
		}
	}
	if len(peers) < n {
		// Gossip islands form when DNS named only some pods at first: join
		// the seeds again, re-resolving them.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = s.gossip.Rejoin(ctx)
		cancel()
		return fmt.Sprintf("%d of %d coordinators in gossip", len(peers), n), nil
	}
	if len(peers) > n {
		return fmt.Sprintf("%d coordinators advertise bootstrap_expect %d: more than expected, so none bootstraps; start exactly %d, or fix bootstrap_expect", len(peers), n, n), nil
	}
	for id, m := range peers {
		if id == s.cfg.ID {
			continue
		}
		st, err := s.peerStats(m.GRPC)
		if err != nil {
			return fmt.Sprintf("asking %s whether it is in a cluster: %v", id, err), nil
		}
		if st.ConfiguredServers > 0 {
			// A cluster exists (formed without this node, or this node
			// lost its data): its leader adds this node.
			return fmt.Sprintf("coordinator %s already belongs to a cluster; its leader adds this node (or already did)", id), nil
		}
	}
	conf := raft.Configuration{}
	for id, m := range peers {
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(m.Raft)})
	}
	slices.SortFunc(conf.Servers, func(a, b raft.Server) int { return cmp.Compare(a.ID, b.ID) })
	err = s.raft.raft.BootstrapCluster(conf).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		return "", nil // a leader's entries got here first
	}
	if err != nil {
		return "", fmt.Errorf("raft: %w", err)
	}
	s.log.Info("bootstrapped the cluster", "servers", len(conf.Servers))
	return "", nil
}

// peerStats asks the coordinator at grpcAddr for its Raft position.
func (s *Server) peerStats(grpcAddr string) (*pb.RaftStatsResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.peerStatsCtx(ctx, grpcAddr)
}

func (s *Server) peerStatsCtx(ctx context.Context, grpcAddr string) (*pb.RaftStatsResponse, error) {
	if grpcAddr == s.cfg.GRPCAdvertise {
		return s.raftStats(), nil
	}
	conn, err := s.fwd.conn(grpcAddr)
	if err != nil {
		return nil, err
	}
	return pb.NewPeerServiceClient(conn).RaftStats(ctx, &pb.RaftStatsRequest{})
}

// addLoop is the leader's half: it adds coordinators that joined gossip
// to the Raft configuration (see above).
func (s *Server) addLoop(ctx context.Context) {
	every(ctx, s.formInterval(), func() bool {
		s.addJoined()
		return true
	})
}

func (s *Server) addJoined() {
	have := map[raft.ServerID]raft.Server{}
	for _, srv := range s.raftServers() {
		have[srv.ID] = srv
	}
	for id, m := range s.expectingPeers() {
		sid, addr := raft.ServerID(id), raft.ServerAddress(m.Raft)
		srv, ok := have[sid]
		var f raft.IndexFuture
		switch {
		case !ok:
			f = s.raft.raft.AddNonvoter(sid, addr, 0, applyTimeout)
		case srv.Address == addr:
			continue
		case srv.Suffrage == raft.Voter:
			f = s.raft.raft.AddVoter(sid, addr, 0, applyTimeout) // updates the address
		default:
			f = s.raft.raft.AddNonvoter(sid, addr, 0, applyTimeout)
		}
		if err := f.Error(); err != nil {
			s.log.Warn("adding a coordinator that joined gossip", "peer", id, "raft", m.Raft, "err", err)
			continue
		}
		if ok {
			s.log.Info("coordinator's raft address updated", "peer", id, "from", srv.Address, "to", addr)
		} else {
			s.log.Info("coordinator joined: added as a non-voter; autopilot promotes it once stable", "peer", id, "raft", m.Raft)
		}
	}
}
