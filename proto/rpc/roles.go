package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Roles a certificate can name (docs/architecture.md §9).
const (
	RoleCoordinator = "coordinator"
	RoleWorker      = "worker"
	RoleClient      = "client"
)

// CertRole returns the role a certificate names: its first Organizational
// Unit, else its Common Name (as `nightshift tls` issues them).
func CertRole(c *x509.Certificate) string {
	if len(c.Subject.OrganizationalUnit) > 0 {
		return c.Subject.OrganizationalUnit[0]
	}
	return c.Subject.CommonName
}

// StateRole returns the role of the verified peer certificate of a TLS
// connection, or "" when there is none.
func StateRole(st tls.ConnectionState) string {
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return ""
	}
	return CertRole(st.VerifiedChains[0][0])
}

// Policy maps a gRPC service name ("nightshift.v1.AdminService") to the
// roles allowed to call it. Services it does not name are open to every
// verified peer.
type Policy map[string][]string

// allowed checks the caller of method against the policy. Without TLS on
// the connection there is no role to check: servers without certificates
// accept every caller (dev mode binds loopback only).
func (p Policy) allowed(ctx context.Context, method string) error {
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.AuthInfo == nil {
		return nil
	}
	info, ok := pr.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil
	}
	service := strings.TrimPrefix(method, "/")
	if i := strings.IndexByte(service, '/'); i >= 0 {
		service = service[:i]
	}
	roles, ok := p[service]
	if !ok {
		return nil
	}
	role := StateRole(info.State)
	if !slices.Contains(roles, role) {
		return status.Errorf(codes.PermissionDenied, "%s: a %q certificate may not call it (allowed: %s)", method, role, strings.Join(roles, ", "))
	}
	return nil
}

// Interceptors returns server options enforcing the policy on unary and
// streaming calls.
func (p Policy) Interceptors() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := p.allowed(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := p.allowed(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}
