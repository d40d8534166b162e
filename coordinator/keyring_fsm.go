package coordinator

import (
	"bytes"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The gossip keyring in the replicated state (docs/architecture.md §9).
// The FSM checks what the state alone can tell (the key exists, is not the
// primary, the ring has room); whether every member confirmed a step is
// the leader's check before it proposes (api_keyring.go), because it
// depends on gossip, which the log cannot replay.

// maxGossipKeys bounds the ring: a rotation needs two keys, and each key's
// ID travels in every member's 512-byte gossip metadata.
const maxGossipKeys = 4

// keyringCopy returns a writable copy of the ring (an empty one before the
// first install).
func (a *applier) keyringCopy() *pb.GossipKeyring {
	if r := getKeyring(a.txn); r != nil {
		return proto.Clone(r).(*pb.GossipKeyring)
	}
	return &pb.GossipKeyring{}
}

func (a *applier) putKeyring(r *pb.GossipKeyring) *applyResult {
	r.Version = a.index
	a.insert(tableGossipKeyring, r)
	return &applyResult{keyring: r}
}

// installGossipKey adds a key. The first install starts the ring with the
// key the cluster already encrypts with (the leader's, in the command) as
// its primary. Installing a key the ring holds changes nothing.
func (a *applier) installGossipKey(c *pb.InstallGossipKey) *applyResult {
	r := a.keyringCopy()
	if len(r.Keys) == 0 {
		if err := checkGossipKey(c.Current); err != nil {
			return &applyResult{err: fmt.Errorf("%w: the cluster's current gossip key: %v", errFailedPrecond, err)}
		}
		r.Keys = append(r.Keys, &pb.GossipKey{Id: gossip.KeyID(c.Current), Key: c.Current, InstallUnixMs: a.now, InstalledBy: "config"})
		r.Primary = gossip.KeyID(c.Current)
	}
	if err := checkGossipKey(c.Key); err != nil {
		return &applyResult{err: fmt.Errorf("%w: %v", errInvalid, err)}
	}
	if ringKey(r, gossip.KeyID(c.Key)) != nil {
		return &applyResult{keyring: getKeyring(a.txn)}
	}
	if len(r.Keys) >= maxGossipKeys {
		return &applyResult{err: fmt.Errorf("%w: the keyring holds %d keys, the most it may: remove one first", errFailedPrecond, len(r.Keys))}
	}
	r.Keys = append(r.Keys, &pb.GossipKey{Id: gossip.KeyID(c.Key), Key: bytes.Clone(c.Key), InstallUnixMs: a.now, InstalledBy: c.Actor})
	return a.putKeyring(r)
}

// useGossipKey makes an installed key the primary.
func (a *applier) useGossipKey(c *pb.UseGossipKey) *applyResult {
	r := a.keyringCopy()
	if ringKey(r, c.Id) == nil {
		return &applyResult{err: fmt.Errorf("%w: gossip key %s is not installed (nightshift operator gossip keyring list)", errNotFound, c.Id)}
	}
	if r.Primary == c.Id {
		return &applyResult{keyring: getKeyring(a.txn)}
	}
	r.Primary, r.UseUnixMs, r.UsedBy = c.Id, a.now, c.Actor
	return a.putKeyring(r)
}

// removeGossipKey drops a key other than the primary.
func (a *applier) removeGossipKey(c *pb.RemoveGossipKey) *applyResult {
	r := a.keyringCopy()
	switch {
	case ringKey(r, c.Id) == nil:
		return &applyResult{err: fmt.Errorf("%w: gossip key %s is not installed", errNotFound, c.Id)}
	case r.Primary == c.Id:
		return &applyResult{err: fmt.Errorf("%w: gossip key %s is the primary: use another key first", errFailedPrecond, c.Id)}
	}
	r.Keys = slices.DeleteFunc(r.Keys, func(k *pb.GossipKey) bool { return k.Id == c.Id })
	return a.putKeyring(r)
}

func ringKey(r *pb.GossipKeyring, id string) *pb.GossipKey {
	if r == nil {
		return nil
	}
	for _, k := range r.Keys {
		if k.Id == id {
			return k
		}
	}
	return nil
}

// checkGossipKey refuses what memberlist cannot encrypt with.
func checkGossipKey(k []byte) error {
	if len(k) == 0 {
		return fmt.Errorf("gossip key is empty")
	}
	return gossip.CheckKey(k)
}
