package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightshift-ml/nightshift/proto/gossip"
)

// AutopilotConfig tunes hashicorp/raft-autopilot on the leader: it
// promotes the non-voters addLoop adds once they are stable, and removes
// coordinators that have been gone for DeadServerGrace, never leaving
// fewer voters than MinQuorum.
type AutopilotConfig struct {
	// CleanupDeadServers removes coordinators gone longer than
	// DeadServerGrace from the Raft configuration.
	CleanupDeadServers bool
	// LastContactThreshold, MaxTrailingLogs: a server is healthy while it
	// heard from the leader within the threshold and its log trails the
	// leader's by at most that many entries.
	LastContactThreshold time.Duration
	MaxTrailingLogs      uint64
	// MinQuorum is the fewest voters cleanup may leave; 0 means
	// bootstrap_expect, or 3 without it.
	MinQuorum uint
	// ServerStabilizationTime is how long a new coordinator must be
	// healthy before it becomes a voter.
	ServerStabilizationTime time.Duration
	// DeadServerGrace is how long a coordinator must be missing from
	// gossip (dead or left) before cleanup removes it: a pod restarting
	// or being rescheduled with its volume comes back within it and keeps
	// its vote.
	DeadServerGrace time.Duration
	// Interval is how often autopilot reconciles (its state is refreshed
	// every Interval/5).
	Interval time.Duration
}

// DefaultAutopilot returns Consul's defaults plus a two-minute grace.
func DefaultAutopilot() AutopilotConfig {
	return AutopilotConfig{CleanupDeadServers: true, LastContactThreshold: 200 * time.Millisecond, MaxTrailingLogs: 250,
		ServerStabilizationTime: 10 * time.Second, DeadServerGrace: 2 * time.Minute, Interval: 10 * time.Second}
}

func (c AutopilotConfig) check() error {
	var errs []error
	for name, d := range map[string]time.Duration{"last_contact_threshold": c.LastContactThreshold,
		"server_stabilization_time": c.ServerStabilizationTime, "dead_server_grace": c.DeadServerGrace, "interval": c.Interval} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: want a positive duration", name, d))
		}
	}
	return errors.Join(errs...)
}

// pilot is the coordinator's side of autopilot (its
// ApplicationIntegration): the servers gossip knows, their Raft stats over
// PeerService, and the removal of failed ones.
type pilot struct {
	s  *Server
	ap *autopilot.Autopilot

	mu        sync.Mutex
	lastAlive map[raft.ServerID]time.Time // when each configured server was last alive in gossip

	healthy, tolerance prometheus.Gauge
}

func newPilot(s *Server) *pilot {
	p := &pilot{s: s, lastAlive: map[raft.ServerID]time.Time{},
		healthy: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nightshift_autopilot_healthy",
			Help: "1 while every coordinator is healthy by autopilot's rules (leader only)."}),
		tolerance: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nightshift_autopilot_failure_tolerance",
			Help: "Voters that can fail with the cluster keeping quorum (leader only)."}),
	}
	s.metrics.reg.MustRegister(p.healthy, p.tolerance)
	iv := s.cfg.Autopilot.Interval
	p.ap = autopilot.New(s.raft.raft, p, autopilot.WithLogger(newHCLogger("autopilot", s.log)),
		autopilot.WithReconcileInterval(iv), autopilot.WithUpdateInterval(iv/5))
	return p
}

// run drives autopilot while this node leads.
func (p *pilot) run(ctx context.Context) {
	p.mu.Lock()
	clear(p.lastAlive) // a new leader gives every server a whole grace
	p.mu.Unlock()
	p.ap.Start(ctx)
	<-ctx.Done()
	<-p.ap.Stop()
}

func (p *pilot) AutopilotConfig() *autopilot.Config {
	c := p.s.cfg.Autopilot
	minQuorum := c.MinQuorum
	if minQuorum == 0 {
		minQuorum = 3
		if n := p.s.cfg.BootstrapExpect; n > 0 {
			minQuorum = uint(n)
		}
	}
	return &autopilot.Config{CleanupDeadServers: c.CleanupDeadServers, LastContactThreshold: c.LastContactThreshold,
		MaxTrailingLogs: c.MaxTrailingLogs, MinQuorum: minQuorum, ServerStabilizationTime: c.ServerStabilizationTime}
}

// KnownServers lists every server of the Raft configuration with its
// gossip status. A server missing from gossip counts as alive until it has
// been missing for DeadServerGrace, then as failed (autopilot removes
// failed servers, within MinQuorum); autopilot judges health from Raft
// stats on its own, so a missing server is unhealthy meanwhile.
func (p *pilot) KnownServers() map[raft.ServerID]*autopilot.Server {
	alive := map[string]gossip.Meta{}
	for _, m := range p.s.gossip.Members() {
		if m.MetaErr == nil && m.Meta.Role == gossip.RoleCoordinator {
			alive[m.Meta.ID] = m.Meta
		}
	}
	_, leader := p.s.raft.raft.LeaderWithID()
	now := time.Now()
	out := map[raft.ServerID]*autopilot.Server{}
	p.mu.Lock()
	defer p.mu.Unlock()
	configured := map[raft.ServerID]bool{}
	for _, srv := range p.s.raftServers() {
		configured[srv.ID] = true
		status := autopilot.NodeAlive
		meta, ok := alive[string(srv.ID)]
		if ok || string(srv.ID) == p.s.cfg.ID {
			p.lastAlive[srv.ID] = now
		} else if seen, known := p.lastAlive[srv.ID]; !known {
			p.lastAlive[srv.ID] = now
		} else if now.Sub(seen) > p.s.cfg.Autopilot.DeadServerGrace {
			status = autopilot.NodeFailed
		}
		out[srv.ID] = &autopilot.Server{ID: srv.ID, Name: string(srv.ID), Address: srv.Address, NodeStatus: status,
			Version: meta.Version, RaftVersion: raft.ProtocolVersionMax, IsLeader: srv.ID == leader,
			NodeType: autopilot.NodeVoter} // every coordinator may vote: it counts toward MinQuorum
	}
	for id := range p.lastAlive {
		if !configured[id] {
			delete(p.lastAlive, id)
		}
	}
	return out
}

// FetchServerStats asks every server for its Raft position, in parallel,
// within autopilot's deadline; a server that does not answer has no stats
// and counts as unhealthy.
func (p *pilot) FetchServerStats(ctx context.Context, servers map[raft.ServerID]*autopilot.Server) map[raft.ServerID]*autopilot.ServerStats {
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[raft.ServerID]*autopilot.ServerStats{}
	for id := range servers {
		addr := p.s.grpcAddrOf(string(id))
		if addr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := p.s.peerStatsCtx(ctx, addr)
			if err != nil {
				return
			}
			lc := time.Duration(st.LastContactMs) * time.Millisecond
			if st.LastContactMs < 0 {
				lc = time.Duration(1<<63 - 1)
			}
			mu.Lock()
			out[id] = &autopilot.ServerStats{LastContact: lc, LastTerm: st.LastTerm, LastIndex: st.LastIndex}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (p *pilot) NotifyState(st *autopilot.State) {
	if st == nil {
		return
	}
	healthy := 0.0
	if st.Healthy {
		healthy = 1
	}
	p.healthy.Set(healthy)
	p.tolerance.Set(float64(st.FailureTolerance))
}

// RemoveFailedServer removes a server gone longer than the grace; it
// returns at once, as autopilot asks.
func (p *pilot) RemoveFailedServer(srv *autopilot.Server) {
	go func() {
		err := p.s.raft.raft.RemoveServer(srv.ID, 0, applyTimeout).Error()
		if err != nil {
			p.s.log.Warn("autopilot: removing a dead coordinator", "peer", srv.ID, "err", err)
			return
		}
		p.s.log.Info("autopilot: removed a coordinator gone longer than dead_server_grace", "peer", srv.ID,
			"grace", p.s.cfg.Autopilot.DeadServerGrace)
	}()
}
