package coordinator

import (
	"bytes"
	"errors"
	"testing"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func gossipKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// installKey installs k on a cluster whose configured key is 'c'.
func installKey(h *fsmHarness, k []byte) *applyResult {
	h.t.Helper()
	return h.apply(&pb.Command{Op: &pb.Command_InstallGossipKey{InstallGossipKey: &pb.InstallGossipKey{
		Key: k, Actor: "alice", Current: gossipKey('c')}}})
}

// TestFSMGossipKeyring walks a rotation through the state: the first
// install starts the ring with the configured key as primary, a second
// install of the same key changes nothing, use switches, the primary
// cannot be removed, the old key can; versions are the Raft indexes, and
// the ring is bounded.
func TestFSMGossipKeyring(t *testing.T) {
	h := newHarness(t)
	h.now = t0
	cur, next := gossip.KeyID(gossipKey('c')), gossip.KeyID(gossipKey('n'))
	res := installKey(h, gossipKey('n'))
	if res.err != nil {
		t.Fatal(res.err)
	}
	r := res.keyring
	if len(r.Keys) != 2 || r.Primary != cur || r.Keys[0].InstalledBy != "config" || r.Keys[1].Id != next || r.Keys[1].InstalledBy != "alice" || r.Version == 0 {
		t.Fatalf("after the first install: %v", r)
	}
	if again := installKey(h, gossipKey('n')); again.err != nil || again.keyring.Version != r.Version {
		t.Fatalf("installing the key again: %v %v", again.err, again.keyring)
	}
	if res := installKey(h, []byte("short")); !errors.Is(res.err, errInvalid) {
		t.Fatalf("a 5-byte key: %v", res.err)
	}
	use := func(id string) *applyResult {
		return h.apply(&pb.Command{Op: &pb.Command_UseGossipKey{UseGossipKey: &pb.UseGossipKey{Id: id, Actor: "bob"}}})
	}
	remove := func(id string) *applyResult {
		return h.apply(&pb.Command{Op: &pb.Command_RemoveGossipKey{RemoveGossipKey: &pb.RemoveGossipKey{Id: id}}})
	}
	if res := use("000000000000"); !errors.Is(res.err, errNotFound) {
		t.Fatalf("use of an unknown key: %v", res.err)
	}
	res = use(next)
	if res.err != nil || res.keyring.Primary != next || res.keyring.UsedBy != "bob" || res.keyring.Version <= r.Version {
		t.Fatalf("use: %v %v", res.err, res.keyring)
	}
	if res := remove(next); !errors.Is(res.err, errFailedPrecond) {
		t.Fatalf("removing the primary: %v", res.err)
	}
	if res := remove(cur); res.err != nil || len(res.keyring.Keys) != 1 || res.keyring.Keys[0].Id != next {
		t.Fatalf("remove: %v %v", res.err, res.keyring)
	}
	for i := range maxGossipKeys - 1 {
		if res := installKey(h, gossipKey(byte('p'+i))); res.err != nil {
			t.Fatal(res.err)
		}
	}
	if res := installKey(h, gossipKey('z')); !errors.Is(res.err, errFailedPrecond) {
		t.Fatalf("a fifth key: %v", res.err)
	}
}

// TestFSMWorkerEventsNameTheActor: a drain records who did it; the history
// survives the worker registering again (which cannot overwrite it).
func TestFSMWorkerEventsNameTheActor(t *testing.T) {
	h := newHarness(t)
	h.register("w1")
	h.apply(&pb.Command{Op: &pb.Command_SetWorkerState{SetWorkerState: &pb.SetWorkerState{
		WorkerId: "w1", State: pb.WorkerState_WORKER_STATE_DRAINING, Actor: "alice"}}})
	h.apply(&pb.Command{Op: &pb.Command_RegisterWorker{RegisterWorker: &pb.RegisterWorker{Worker: &pb.Worker{Id: "w1", Slots: 1,
		Events: []*pb.JobEvent{{Message: "forged"}}}}}})
	w := h.store.Snapshot().Worker("w1")
	var got []string
	for _, e := range w.Events {
		got = append(got, e.Message)
	}
	if len(got) != 3 || got[1] != "draining by alice" || got[2][:10] != "registered" || w.State != pb.WorkerState_WORKER_STATE_DRAINING {
		t.Fatalf("worker events %q, state %s", got, w.State)
	}
}
