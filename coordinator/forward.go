package coordinator

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// forwardedKey marks a call a follower already forwarded, so a stale view
// of leadership cannot bounce a call between followers.
const forwardedKey = "x-nightshift-forwarded"

// forwarder finds the leader's gRPC address (Raft knows its ID, gossip
// knows the ID's address) and keeps one connection per coordinator.
type forwarder struct {
	s     *Server
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newForwarder(s *Server) *forwarder {
	return &forwarder{s: s, conns: map[string]*grpc.ClientConn{}}
}

// leader returns a connection to the leader and a context marking the
// call as forwarded, or nil when this node leads. A follower that cannot
// find the leader, or a call forwarded once already, gets errNotLeader.
func (f *forwarder) leader(ctx context.Context) (*grpc.ClientConn, context.Context, error) {
	if f.s.raft.raft.State() == raft.Leader {
		return nil, ctx, nil
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get(forwardedKey)) > 0 {
		return nil, ctx, errNotLeader
	}
	_, id := f.s.raft.raft.LeaderWithID()
	if id == "" {
		return nil, ctx, errNotLeader
	}
	addr := f.s.grpcAddrOf(string(id))
	if addr == "" {
		return nil, ctx, errNotLeader
	}
	conn, err := f.conn(addr)
	if err != nil {
		return nil, ctx, err
	}
	out := metadata.AppendToOutgoingContext(ctx, forwardedKey, f.s.cfg.ID)
	// The leader checks the caller's token again (its state is as new as
	// this node's or newer): pass it on.
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for _, v := range md.Get(rpc.AuthorizationHeader) {
			out = metadata.AppendToOutgoingContext(out, rpc.AuthorizationHeader, v)
		}
	}
	return conn, out, nil
}

func (f *forwarder) conn(addr string) (*grpc.ClientConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.conns[addr]; ok {
		return c, nil
	}
	c, err := rpc.DialVia(addr, f.s.cfg.TLS, f.s.cfg.Dialer, grpc.WithChainUnaryInterceptor(viaLeader(addr)))
	if err != nil {
		return nil, err
	}
	f.conns[addr] = c
	return c, nil
}

// viaLeader makes the Unavailable errors of forwarded calls say that they
// come from (or from reaching) the leader: a follower that cannot reach the
// leader it knows answers "forwarded to the leader at ...: connection
// error ...", not a bare transport error. The code stays Unavailable, so
// callers still retry.
func viaLeader(addr string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable {
			return status.Errorf(codes.Unavailable, "forwarded to the leader at %s: %s", addr, st.Message())
		}
		return err
	}
}

func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for addr, c := range f.conns {
		_ = c.Close()
		delete(f.conns, addr)
	}
}

// grpcAddrOf returns a coordinator's gRPC address from gossip.
func (s *Server) grpcAddrOf(id string) string {
	if id == s.cfg.ID {
		return s.cfg.GRPCAdvertise
	}
	for _, m := range s.gossip.Members() {
		if m.MetaErr == nil && m.Meta.Role == gossip.RoleCoordinator && m.Meta.ID == id {
			return m.Meta.GRPC
		}
	}
	return ""
}
