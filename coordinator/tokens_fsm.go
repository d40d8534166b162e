package coordinator

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// API tokens in the replicated state (docs/architecture.md §9): the FSM
// stores a token (the bootstrap token only while there is none) and
// revokes one; the leader makes the secret and stamps the times.

// putToken stores a new token. The bootstrap token applies only to a
// state without tokens: two bootstrap calls racing get one token, and the
// other call a refusal.
func (a *applier) putToken(c *pb.PutToken) *applyResult {
	t := c.GetToken()
	switch {
	case t.GetId() == "" || t.GetName() == "" || len(t.GetSecretSha256()) == 0:
		return &applyResult{err: fmt.Errorf("%w: a token needs an id, a name and a secret", errInvalid)}
	case !rpc.RoleAllows(t.Role, t.Role):
		return &applyResult{err: fmt.Errorf("%w: token role %q: want one of %v", errInvalid, t.Role, rpc.TokenRoles)}
	case getToken(a.txn, t.Id) != nil:
		return &applyResult{err: fmt.Errorf("%w: token %s exists", errConflict, t.Id)}
	case c.Bootstrap && firstToken(a.txn) != nil:
		return &applyResult{err: fmt.Errorf("%w: the cluster has tokens already; an admin creates more (nightshift tokens create)", errFailedPrecond)}
	}
	t = proto.Clone(t).(*pb.Token)
	t.CreateUnixMs = a.now
	a.insert(tableTokens, t)
	return &applyResult{token: t}
}

// revokeToken revokes a token; revoking it again changes nothing.
func (a *applier) revokeToken(c *pb.RevokeToken) *applyResult {
	t := getToken(a.txn, c.GetId())
	if t == nil {
		return &applyResult{err: fmt.Errorf("%w: no token %s", errNotFound, c.GetId())}
	}
	if t.RevokeUnixMs == 0 {
		t = proto.Clone(t).(*pb.Token)
		t.RevokeUnixMs, t.RevokedBy = a.now, c.RevokedBy
		a.insert(tableTokens, t)
	}
	return &applyResult{token: t}
}
