package worker

import (
	"log/slog"
	"time"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	nightshiftv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// States a worker advertises in gossip.
const (
	stateActive   = "active"
	stateDraining = "draining"
)

// meta is what the worker advertises in gossip.
func (a *Agent) meta(state string) gossip.Meta {
	return gossip.Meta{
		Role:    gossip.RoleWorker,
		ID:      a.cfg.ID,
		Pool:    a.cfg.Pool,
		Slots:   a.cfg.Slots,
		Labels:  a.cfg.Labels,
		GRPC:    a.grpcAddr,
		Version: a.cfg.Version,
		State:   state,
	}
}

// stateLocked is the state to advertise now.
func (a *Agent) stateLocked() string {
	if a.localDrain || a.opDrain || a.shutdown {
		return stateDraining
	}
	return stateActive
}

// onMember learns coordinators' gRPC addresses from gossip events. It runs
// on memberlist's goroutines and must not block. (It trusts events rather
// than Node.Members, whose entries memberlist keeps mutating: reading them
// is a data race. A coordinator is forgotten once an event says it is
// gone; until then a dead one costs a failed dial and a rotation.)
func (a *Agent) onMember(m gossip.Member) {
	if m.MetaErr != nil || m.Meta.Role != gossip.RoleCoordinator || m.Meta.GRPC == "" {
		return
	}
	a.client.learn(m.Name, m.Meta.GRPC, m.Alive())
}

// joinGossip joins the seeds in the background (proto/gossip retries while
// none answers): a worker started before the rest of the cluster keeps
// trying rather than failing, and /readyz says so meanwhile. The loop ends
// with the agent's life or when the gossip member stops.
func (a *Agent) joinGossip() {
	a.gossip.JoinInBackground(a.life, a.cfg.Seeds, a.base.With("subsystem", "worker-gossip"))
}

// rejoinLoop joins the seeds again whenever the worker's gossip view
// holds no live coordinator although it joined once: after every
// coordinator restarted at once, the coordinators' seeds name only each
// other, and the workers, still a cluster among themselves, would never
// meet them again (the leader would then notice a dead worker only by its
// lease running out, not by gossip).
func (a *Agent) rejoinLoop() {
	every := 5 * time.Second
	if a.cfg.FastGossip {
		every = 250 * time.Millisecond
	}
	log := a.base.With("subsystem", "worker-gossip")
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.life.Done():
			return
		case <-t.C:
		}
		if joined, _ := a.gossip.Joined(); !joined || len(a.cfg.Seeds) == 0 || a.seesCoordinator() {
			continue
		}
		if n, err := a.gossip.Rejoin(a.life); n > 0 {
			log.Info("gossip: no coordinator in view; joined the seeds again", "answered", n)
		} else if err != nil {
			log.Debug("gossip: rejoining the seeds", "err", err)
		}
	}
}

// seesCoordinator reports whether gossip shows a live coordinator.
func (a *Agent) seesCoordinator() bool {
	for _, m := range a.gossip.Members() {
		if m.MetaErr == nil && m.Meta.Role == gossip.RoleCoordinator {
			return true
		}
	}
	return false
}

// metaLoop advertises the worker's state (active or draining) whenever it
// changes. It runs apart because SetMeta waits for the broadcast.
func (a *Agent) metaLoop() {
	log := a.base.With("subsystem", "worker-gossip")
	last := stateActive // what New advertised
	for {
		a.mu.Lock()
		state, ch := a.stateLocked(), a.changed
		a.mu.Unlock()
		if state != last {
			if err := a.gossip.SetMeta(a.meta(state)); err != nil {
				log.Warn("advertising state", "state", state, "err", err)
			}
			last = state
		}
		if !waitChange(a.life, ch) {
			return
		}
	}
}

// applyKeyring installs a gossip keyring newer than the one held (the
// coordinator sends it with a heartbeat answer); the member then
// advertises its keys, which is how the rotation's driver learns this
// worker is ready for the next step. A failure is retried with the next
// heartbeat, which carries the ring again.
func (a *Agent) applyKeyring(log *slog.Logger, r *nightshiftv1.GossipKeyring) {
	if r == nil || r.Version <= a.keyringVersion.Load() {
		return
	}
	keys, primary, err := r.Material()
	if err == nil {
		err = a.gossip.SetKeyring(keys, primary)
	}
	if err != nil {
		log.Error("applying the gossip keyring failed", "version", r.Version, "err", err)
		return
	}
	a.keyringVersion.Store(r.Version)
	log.Info("gossip keyring applied", "version", r.Version, "primary", r.Primary, "keys", len(r.Keys))
}
