package coordinator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// Gossip key rotation (docs/architecture.md §9): install a key everywhere,
// use it, remove the old one. The leader proposes use and remove only
// after every live gossip member confirmed the previous step in its
// metadata (gossip.Meta.Keys and Primary), so no member ever receives a
// message it cannot decrypt, and no member is suspected for it.

// maxMissingNamed bounds the members a refusal or a listing names.
const maxMissingNamed = 20

func (a *adminAPI) ListGossipKeys(ctx context.Context, req *pb.ListGossipKeysRequest) (*pb.GossipKeyringResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewAdminServiceClient(conn).ListGossipKeys(fctx, req)
	}
	return a.s.keyringStatus(a.s.store.Snapshot().GossipKeyring()), nil
}

func (a *adminAPI) InstallGossipKey(ctx context.Context, req *pb.InstallGossipKeyRequest) (*pb.GossipKeyringResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewAdminServiceClient(conn).InstallGossipKey(fctx, req)
	}
	if !a.s.gossip.Encrypted() {
		return nil, toStatus(fmt.Errorf("%w: %v", errFailedPrecond, gossip.ErrNotEncrypted))
	}
	if err := checkGossipKey(req.Key); err != nil {
		return nil, toStatus(fmt.Errorf("%w: %v", errInvalid, err))
	}
	return a.s.applyKeyring(ctx, &pb.Command{Op: &pb.Command_InstallGossipKey{InstallGossipKey: &pb.InstallGossipKey{
		Key: req.Key, Actor: callerName(ctx), Current: a.s.gossip.PrimaryKey()}}})
}

func (a *adminAPI) UseGossipKey(ctx context.Context, req *pb.UseGossipKeyRequest) (*pb.GossipKeyringResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewAdminServiceClient(conn).UseGossipKey(fctx, req)
	}
	ring := a.s.store.Snapshot().GossipKeyring()
	if ringKey(ring, req.Id) == nil {
		return nil, toStatus(fmt.Errorf("%w: gossip key %s is not installed (nightshift operator gossip keyring list)", errNotFound, req.Id))
	}
	if missing := a.s.liveMembers(func(m gossip.Meta) bool { return !slices.Contains(m.Keys, req.Id) }); len(missing) > 0 {
		return nil, toStatus(fmt.Errorf("%w: gossip key %s is not yet held by %s: using it now would make them deaf to the others (retry when they have it; workers get it with their next heartbeat)",
			errFailedPrecond, req.Id, nameSome(missing)))
	}
	return a.s.applyKeyring(ctx, &pb.Command{Op: &pb.Command_UseGossipKey{UseGossipKey: &pb.UseGossipKey{Id: req.Id, Actor: callerName(ctx)}}})
}

func (a *adminAPI) RemoveGossipKey(ctx context.Context, req *pb.RemoveGossipKeyRequest) (*pb.GossipKeyringResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewAdminServiceClient(conn).RemoveGossipKey(fctx, req)
	}
	// What the state alone says first (not installed, the primary): the
	// FSM would refuse it too, and its reason is the one to give.
	switch ring := a.s.store.Snapshot().GossipKeyring(); {
	case ringKey(ring, req.Id) == nil:
		return nil, toStatus(fmt.Errorf("%w: gossip key %s is not installed", errNotFound, req.Id))
	case ring.Primary == req.Id:
		return nil, toStatus(fmt.Errorf("%w: gossip key %s is the primary: use another key first", errFailedPrecond, req.Id))
	}
	if still := a.s.liveMembers(func(m gossip.Meta) bool { return m.Primary == req.Id }); len(still) > 0 {
		return nil, toStatus(fmt.Errorf("%w: gossip key %s still encrypts on %s: removing it now would make the others deaf to them (retry when they switched)",
			errFailedPrecond, req.Id, nameSome(still)))
	}
	return a.s.applyKeyring(ctx, &pb.Command{Op: &pb.Command_RemoveGossipKey{RemoveGossipKey: &pb.RemoveGossipKey{Id: req.Id, Actor: callerName(ctx)}}})
}

// applyKeyring commits a keyring change and answers with the ring's status.
func (s *Server) applyKeyring(ctx context.Context, cmd *pb.Command) (*pb.GossipKeyringResponse, error) {
	cmd.UnixMs = time.Now().UnixMilli()
	res, err := s.apply(ctx, cmd)
	if err != nil {
		return nil, toStatus(err)
	}
	return s.keyringStatus(res.keyring), nil
}

// liveMembers names the live gossip members (as this node sees them) for
// which bad holds; a member whose metadata does not decode confirms
// nothing, so it is named too.
func (s *Server) liveMembers(bad func(gossip.Meta) bool) []string {
	var out []string
	for _, m := range s.gossip.Members() {
		if m.Alive() && (m.MetaErr != nil || bad(m.Meta)) {
			out = append(out, m.Name)
		}
	}
	return out
}

func nameSome(names []string) string {
	if len(names) > maxMissingNamed {
		return strings.Join(names[:maxMissingNamed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxMissingNamed)
	}
	return strings.Join(names, ", ")
}

// keyringStatus reports each key of the ring with how many live members
// hold it and encrypt with it. Before the first install the ring is the
// configured key, as this node holds it.
func (s *Server) keyringStatus(ring *pb.GossipKeyring) *pb.GossipKeyringResponse {
	resp := &pb.GossipKeyringResponse{Version: ring.GetVersion()}
	keys := ring.GetKeys()
	primary := ring.GetPrimary()
	if ring == nil {
		if k := s.gossip.PrimaryKey(); k != nil {
			primary = gossip.KeyID(k)
			keys = []*pb.GossipKey{{Id: primary, InstalledBy: "config"}}
		}
	}
	members := s.gossip.Members()
	for _, k := range keys {
		st := &pb.GossipKeyStatus{Id: k.Id, Primary: k.Id == primary, InstallUnixMs: k.InstallUnixMs, InstalledBy: k.InstalledBy}
		for _, m := range members {
			switch {
			case !m.Alive():
				continue
			case m.MetaErr == nil && slices.Contains(m.Meta.Keys, k.Id):
				st.Members++
			case len(st.Missing) < maxMissingNamed:
				st.Missing = append(st.Missing, m.Name)
			}
			if m.MetaErr == nil && m.Meta.Primary == k.Id {
				st.PrimaryOn++
			}
		}
		resp.Keys = append(resp.Keys, st)
	}
	for _, m := range members {
		if m.Alive() {
			resp.LiveMembers++
		}
	}
	return resp
}
