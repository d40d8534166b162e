package coordinator

import (
	"errors"
	"testing"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

func putToken(h *fsmHarness, id, role string, bootstrap bool) *applyResult {
	h.t.Helper()
	return h.apply(&pb.Command{Op: &pb.Command_PutToken{PutToken: &pb.PutToken{Bootstrap: bootstrap,
		Token: &pb.Token{Id: id, Name: "n-" + id, Role: role, SecretSha256: []byte(id)}}}})
}

// TestFSMTokens: the bootstrap token applies only to a state without
// tokens (two racing bootstraps make one token); IDs are unique; a bad
// role is refused; revoking keeps the token, stamped, once.
func TestFSMTokens(t *testing.T) {
	h := newHarness(t)
	h.now = t0
	if res := putToken(h, "a", "admin", true); res.err != nil || res.token.CreateUnixMs != t0 {
		t.Fatalf("bootstrap: %v %v", res.err, res.token)
	}
	if res := putToken(h, "b", "admin", true); !errors.Is(res.err, errFailedPrecond) {
		t.Fatalf("a second bootstrap: %v", res.err)
	}
	if res := putToken(h, "a", "read", false); !errors.Is(res.err, errConflict) {
		t.Fatalf("a duplicate ID: %v", res.err)
	}
	if res := putToken(h, "c", "root", false); !errors.Is(res.err, errInvalid) {
		t.Fatalf("role root: %v", res.err)
	}
	if res := putToken(h, "d", "submit", false); res.err != nil {
		t.Fatal(res.err)
	}
	h.now = t0 + 1000
	res := h.apply(&pb.Command{Op: &pb.Command_RevokeToken{RevokeToken: &pb.RevokeToken{Id: "d", RevokedBy: "n-a"}}})
	if res.err != nil || res.token.RevokeUnixMs != t0+1000 || res.token.RevokedBy != "n-a" {
		t.Fatalf("revoke: %v %v", res.err, res.token)
	}
	h.now = t0 + 2000
	if res := h.apply(&pb.Command{Op: &pb.Command_RevokeToken{RevokeToken: &pb.RevokeToken{Id: "d", RevokedBy: "x"}}}); res.token.RevokeUnixMs != t0+1000 {
		t.Fatalf("revoking again changed the record: %v", res.token)
	}
	if res := h.apply(&pb.Command{Op: &pb.Command_RevokeToken{RevokeToken: &pb.RevokeToken{Id: "zz"}}}); !errors.Is(res.err, errNotFound) {
		t.Fatalf("revoke unknown: %v", res.err)
	}
	if n := len(h.store.Snapshot().Tokens()); n != 2 {
		t.Fatalf("%d tokens, want 2", n)
	}
}
