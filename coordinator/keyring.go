package coordinator

import (
	"time"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// keyringLoop keeps this coordinator's gossip keyring equal to the
// replicated one: every coordinator applies each change the log commits
// (and a restarted one the ring its snapshot restores), whatever its
// configured gossip_key says. Workers get the ring with their heartbeats.
func (s *Server) keyringLoop() {
	defer s.wg.Done()
	var applied, failed uint64
	for {
		view := s.store.Snapshot()
		ring, changed := view.GossipKeyringWatch()
		if ring != nil && ring.Version != applied {
			if err := applyKeyring(s.gossip, ring); err != nil {
				if failed != ring.Version { // once per version, not per retry
					s.log.Error("applying the gossip keyring failed; retrying", "version", ring.Version, "err", err)
					failed = ring.Version
				}
				select {
				case <-s.stop:
					return
				case <-time.After(time.Second):
				}
				continue
			}
			applied = ring.Version
			s.log.Info("gossip keyring applied", "version", ring.Version, "primary", ring.Primary, "keys", len(ring.Keys))
		}
		select {
		case <-s.stop:
			return
		case <-changed:
		case <-view.Abandoned():
		}
	}
}

// keyringFor is what a heartbeat answer carries: the ring, when it is newer
// than the one the worker holds.
func keyringFor(view *View, held uint64) *pb.GossipKeyring {
	if r := view.GossipKeyring(); r != nil && r.Version > held {
		return r
	}
	return nil
}

// applyKeyring makes a gossip member's keyring the replicated ring.
func applyKeyring(n *gossip.Node, r *pb.GossipKeyring) error {
	keys, primary, err := r.Material()
	if err != nil {
		return err
	}
	return n.SetKeyring(keys, primary)
}
