package coordinator

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// Bearer tokens on the client API (docs/architecture.md §9). When tokens
// are on, every call of a client service carries "authorization: Bearer
// nst_ID_SECRET"; the token, read from this node's state, must exist, match,
// be neither revoked nor expired, and have a role that allows the method
// (methodRoles). The worker API stays under mutual TLS (worker
// certificates); the caller's identity goes into the context for the
// records (callerName).

// Token modes of Config.Tokens.
const (
	TokensAuto     = "auto"     // on when the API listens beyond loopback
	TokensRequired = "required" // always on
	TokensOff      = "off"      // never (certificates, or loopback, only)
)

// methodRoles is the role each client method needs. A method of a client
// service missing here needs admin (fail closed); services not named by
// clientServices are not token-checked.
var methodRoles = map[string]string{
	"/nightshift.v1.JobService/GetJob":   "read",
	"/nightshift.v1.JobService/ListJobs": "read",
	"/nightshift.v1.JobService/WatchJob": "read",
	// Submitting and the pipelines of a schedule.
	"/nightshift.v1.JobService/SubmitJob": "submit",
	// Operating: stopping work, moving workers, production, schedules.
	"/nightshift.v1.JobService/CancelJob":           "operate",
	"/nightshift.v1.ModelService/ListModels":        "read",
	"/nightshift.v1.ModelService/GetModel":          "read",
	"/nightshift.v1.ModelService/ResolveModel":      "read",
	"/nightshift.v1.ModelService/PromoteModel":      "operate",
	"/nightshift.v1.ModelService/RollbackModel":     "operate",
	"/nightshift.v1.AdminService/ListWorkers":       "read",
	"/nightshift.v1.AdminService/ListPeers":         "read",
	"/nightshift.v1.AdminService/DrainWorker":       "operate",
	"/nightshift.v1.AdminService/UndrainWorker":     "operate",
	"/nightshift.v1.AdminService/AddPeer":           "admin",
	"/nightshift.v1.AdminService/RemovePeer":        "admin",
	"/nightshift.v1.AdminService/ListGossipKeys":    "read",
	"/nightshift.v1.AdminService/InstallGossipKey":  "admin",
	"/nightshift.v1.AdminService/UseGossipKey":      "admin",
	"/nightshift.v1.AdminService/RemoveGossipKey":   "admin",
	"/nightshift.v1.DataService/GetProfile":         "read",
	"/nightshift.v1.DataService/InferContract":      "read",
	"/nightshift.v1.DataService/Validate":           "read",
	"/nightshift.v1.ScheduleService/GetSchedule":    "read",
	"/nightshift.v1.ScheduleService/ListSchedules":  "read",
	"/nightshift.v1.ScheduleService/NextSlots":      "read",
	"/nightshift.v1.ScheduleService/ListRuns":       "read",
	"/nightshift.v1.ScheduleService/GetRun":         "read",
	"/nightshift.v1.ScheduleService/PutSchedule":    "submit",
	"/nightshift.v1.ScheduleService/RunSchedule":    "submit",
	"/nightshift.v1.ScheduleService/Backfill":       "submit",
	"/nightshift.v1.ScheduleService/StartPipeline":  "submit",
	"/nightshift.v1.ScheduleService/PauseSchedule":  "operate",
	"/nightshift.v1.ScheduleService/DeleteSchedule": "operate",
	"/nightshift.v1.ScheduleService/ResumeRun":      "operate",
	"/nightshift.v1.ScheduleService/CancelRun":      "operate",
	"/nightshift.v1.TokenService/CreateToken":       "admin",
	"/nightshift.v1.TokenService/ListTokens":        "admin",
	"/nightshift.v1.TokenService/RevokeToken":       "admin",
}

// clientServices are the services tokens guard.
var clientServices = []string{"JobService", "ModelService", "AdminService", "DataService", "ScheduleService", "TokenService"}

// bootstrapMethod may be called without a token: the FSM applies it only
// while the state holds no token.
const bootstrapMethod = "/nightshift.v1.TokenService/BootstrapToken"

// neededRole is the role a method needs; checked is false for methods
// tokens do not guard (the worker API, health).
func neededRole(method string) (role string, checked bool) {
	if r, ok := methodRoles[method]; ok {
		return r, true
	}
	for _, svc := range clientServices {
		if strings.HasPrefix(method, "/nightshift.v1."+svc+"/") {
			return "admin", true
		}
	}
	return "", false
}

// errUnauthenticated is every refusal of a token itself: missing,
// malformed, unknown, wrong secret, revoked or expired look alike, so a
// caller learns nothing about which tokens exist.
var errUnauthenticated = status.Error(codes.Unauthenticated, "missing or invalid bearer token (set NIGHTSHIFT_TOKEN or --token; an admin creates tokens with nightshift tokens create)")

type identityKey struct{}

// identity is who made a call: a token's name and role.
type identity struct{ name, role string }

// callerName is who made a call, for the records ("" when tokens are off:
// an operator).
func callerName(ctx context.Context) string {
	id, _ := ctx.Value(identityKey{}).(identity)
	return id.name
}

// signedReason is a reason with its caller's name ("by alice: …") when
// tokens name the caller, for the records of a write.
func signedReason(ctx context.Context, reason string) string {
	who := callerName(ctx)
	switch {
	case who == "":
		return reason
	case reason == "":
		return "by " + who
	}
	return "by " + who + ": " + reason
}

// authorize checks a call's bearer token when tokens are on and returns
// the context with the caller's identity.
func (s *Server) authorize(ctx context.Context, method string) (context.Context, error) {
	if !s.tokensOn() || method == bootstrapMethod {
		return ctx, nil
	}
	need, checked := neededRole(method)
	if !checked {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(rpc.AuthorizationHeader)
	if len(vals) != 1 {
		return ctx, errUnauthenticated
	}
	who, err := s.checkBearer(vals[0], need, method)
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, identityKey{}, who), nil
}

// checkBearer checks an Authorization value ("Bearer nst_…") against the
// tokens of this node's state for an action (a method, a console page)
// that needs role need: the caller's identity, errUnauthenticated, or
// PermissionDenied naming the role needed.
func (s *Server) checkBearer(header, need, action string) (identity, error) {
	id, hash, err := rpc.ParseBearer(header)
	if err != nil {
		return identity{}, errUnauthenticated
	}
	t := s.store.Snapshot().Token(id)
	now := time.Now().UnixMilli()
	if t == nil || !rpc.SameSecret(t.SecretSha256, hash) || t.RevokeUnixMs != 0 || (t.ExpireUnixMs != 0 && now >= t.ExpireUnixMs) {
		return identity{}, errUnauthenticated
	}
	if !rpc.RoleAllows(t.Role, need) {
		return identity{}, status.Errorf(codes.PermissionDenied, "%s needs a token of role %s or above; %s's role is %s", action, need, t.Name, t.Role)
	}
	return identity{name: t.Name, role: t.Role}, nil
}

// tokensOn reports whether the client API requires bearer tokens.
func (s *Server) tokensOn() bool {
	switch s.cfg.Tokens {
	case TokensRequired:
		return true
	case TokensOff:
		return false
	}
	return !rpc.IsLoopback(s.cfg.GRPCAddr)
}

// authInterceptors enforce authorize on unary and streaming calls.
func (s *Server) authInterceptors() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			ctx, err := s.authorize(ctx, info.FullMethod)
			if err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			ctx, err := s.authorize(ss.Context(), info.FullMethod)
			if err != nil {
				return err
			}
			return h(srv, &identityStream{ServerStream: ss, ctx: ctx})
		}),
	}
}

// identityStream is a server stream whose context carries the caller.
type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }
