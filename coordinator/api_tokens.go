package coordinator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// tokensAPI serves TokenService: the first admin token, then tokens an
// admin creates, lists and revokes (the method table in auth.go says who
// may call what). Writes go to the leader, which makes the secret.
type tokensAPI struct {
	pb.UnimplementedTokenServiceServer
	s *Server
}

// maxTokenTTL bounds a token's lifetime (ten years is "forever" with a
// number on it; 0 means no expiry).
const maxTokenTTL = 10 * 365 * 24 * time.Hour

func (a *tokensAPI) BootstrapToken(ctx context.Context, req *pb.BootstrapTokenRequest) (*pb.CreateTokenResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewTokenServiceClient(conn).BootstrapToken(fctx, req)
	}
	return a.create(ctx, orText(req.Name, "bootstrap"), "admin", 0, true)
}

func (a *tokensAPI) CreateToken(ctx context.Context, req *pb.CreateTokenRequest) (*pb.CreateTokenResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewTokenServiceClient(conn).CreateToken(fctx, req)
	}
	if !slices.Contains(rpc.TokenRoles, req.Role) {
		return nil, toStatus(fmt.Errorf("%w: role %q: want %s", errInvalid, req.Role, strings.Join(rpc.TokenRoles, ", ")))
	}
	if req.TtlS < 0 || time.Duration(req.TtlS)*time.Second > maxTokenTTL {
		return nil, toStatus(fmt.Errorf("%w: ttl %ds: want 0 (no expiry) up to %s", errInvalid, req.TtlS, maxTokenTTL))
	}
	return a.create(ctx, req.Name, req.Role, time.Duration(req.TtlS)*time.Second, false)
}

// create makes a token's secret on the leader and stores its hash.
func (a *tokensAPI) create(ctx context.Context, name, role string, ttl time.Duration, bootstrap bool) (*pb.CreateTokenResponse, error) {
	name = strings.TrimSpace(name)
	if err := jobspec.CheckModelName(name); err != nil {
		return nil, toStatus(fmt.Errorf("%w: token name: %v", errInvalid, err))
	}
	id, hash, secret, err := rpc.NewToken()
	if err != nil {
		return nil, toStatus(err)
	}
	now := time.Now()
	t := &pb.Token{Id: id, Name: name, Role: role, SecretSha256: hash, CreatedBy: callerName(ctx)}
	if ttl > 0 {
		t.ExpireUnixMs = now.Add(ttl).UnixMilli()
	}
	res, err := a.s.apply(ctx, &pb.Command{UnixMs: now.UnixMilli(), Op: &pb.Command_PutToken{PutToken: &pb.PutToken{Token: t, Bootstrap: bootstrap}}})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CreateTokenResponse{Token: redacted(res.token), Secret: secret}, nil
}

func (a *tokensAPI) ListTokens(ctx context.Context, req *pb.ListTokensRequest) (*pb.ListTokensResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewTokenServiceClient(conn).ListTokens(fctx, req)
	}
	resp := &pb.ListTokensResponse{}
	for _, t := range a.s.store.Snapshot().Tokens() {
		resp.Tokens = append(resp.Tokens, redacted(t))
	}
	return resp, nil
}

func (a *tokensAPI) RevokeToken(ctx context.Context, req *pb.RevokeTokenRequest) (*pb.RevokeTokenResponse, error) {
	if conn, fctx, err := a.s.fwd.leader(ctx); err != nil {
		return nil, toStatus(err)
	} else if conn != nil {
		return pb.NewTokenServiceClient(conn).RevokeToken(fctx, req)
	}
	res, err := a.s.apply(ctx, &pb.Command{Op: &pb.Command_RevokeToken{RevokeToken: &pb.RevokeToken{Id: req.Id, RevokedBy: callerName(ctx)}}})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.RevokeTokenResponse{Token: redacted(res.token)}, nil
}

// redacted is a token without its secret's hash: nothing an answer or a
// log needs, nothing a reader could brute-force offline.
func redacted(t *pb.Token) *pb.Token {
	if t == nil {
		return nil
	}
	c := proto.Clone(t).(*pb.Token)
	c.SecretSha256 = nil
	return c
}

func orText(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
