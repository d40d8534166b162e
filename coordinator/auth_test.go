package coordinator

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// TestTokensGuardTheClientAPI runs a coordinator that requires tokens:
// without one, with a malformed, forged, revoked or expired one, a call
// is Unauthenticated with one message that tells nothing apart; a token
// whose role is too weak is PermissionDenied naming the role needed; the
// first admin token is made once; the worker API is not token-guarded;
// no answer carries a secret's hash.
func TestTokensGuardTheClientAPI(t *testing.T) {
	s := startLeader(t, func(cfg *Config) { cfg.Tokens = TokensRequired })
	conn := dial(t, s.Addr())
	tokens, jobs, admin := pb.NewTokenServiceClient(conn), pb.NewJobServiceClient(conn), pb.NewAdminServiceClient(conn)
	with := func(token string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), rpc.AuthorizationHeader, rpc.BearerHeader(token))
	}
	code := func(what string, err error, want codes.Code) string {
		t.Helper()
		if status.Code(err) != want {
			t.Fatalf("%s: %v, want %s", what, err, want)
		}
		return status.Convert(err).Message()
	}

	// No token, or not one at all: the same refusal.
	unauth := code("no token", errOf(jobs.ListJobs(context.Background(), &pb.ListJobsRequest{})), codes.Unauthenticated)
	for _, h := range []string{"Basic abc", "Bearer ", "Bearer nst_", "Bearer nst_x", "Bearer xyz_a_b", "bearer nst_a_b"} {
		ctx := metadata.AppendToOutgoingContext(context.Background(), rpc.AuthorizationHeader, h)
		if msg := code(h, errOf(jobs.ListJobs(ctx, &pb.ListJobsRequest{})), codes.Unauthenticated); msg != unauth {
			t.Errorf("%q: %q, want the one message %q", h, msg, unauth)
		}
	}
	// The worker API is guarded by certificates, not tokens.
	callRetry(t, func(ctx context.Context) (*pb.RegisterResponse, error) {
		return pb.NewWorkerServiceClient(conn).Register(ctx, &pb.RegisterRequest{Worker: &pb.Worker{Id: "w1", Slots: 1}})
	})

	boot, err := tokens.BootstrapToken(context.Background(), &pb.BootstrapTokenRequest{Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if boot.Token.Role != "admin" || !strings.HasPrefix(boot.Secret, "nst_"+boot.Token.Id+"_") || boot.Token.SecretSha256 != nil {
		t.Fatalf("bootstrap: %v", boot)
	}
	code("a second bootstrap", errOf(tokens.BootstrapToken(context.Background(), &pb.BootstrapTokenRequest{Name: "eve"})), codes.FailedPrecondition)
	root := with(boot.Secret)
	mk := func(name, role string, ttl int64) string {
		t.Helper()
		resp, err := tokens.CreateToken(root, &pb.CreateTokenRequest{Name: name, Role: role, TtlS: ttl})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if resp.Token.CreatedBy != "ops" {
			t.Errorf("%s created by %q, want ops", name, resp.Token.CreatedBy)
		}
		return resp.Secret
	}
	alice, reader, brief := mk("alice", "submit", 0), mk("rita", "read", 0), mk("brief", "operate", 1)
	code("role root", errOf(tokens.CreateToken(root, &pb.CreateTokenRequest{Name: "x", Role: "root"})), codes.InvalidArgument)

	// Roles: read lists, submit submits, neither drains; operate drains.
	if _, err := jobs.ListJobs(with(reader), &pb.ListJobsRequest{}); err != nil {
		t.Fatal(err)
	}
	msg := code("read submits", errOf(jobs.SubmitJob(with(reader), &pb.SubmitJobRequest{Spec: noopSpec("r", 1)})), codes.PermissionDenied)
	if !strings.Contains(msg, "needs a token of role submit") || !strings.Contains(msg, "rita's role is read") {
		t.Errorf("permission message %q", msg)
	}
	spec := noopSpec("a", 1)
	spec.Owner = "mallory" // a client's own claim; the token says who it is
	sub, err := jobs.SubmitJob(with(alice), &pb.SubmitJobRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if got := sub.Job.GetSpec().GetOwner(); got != "alice" {
		t.Errorf("the job records owner %q, want alice (the token's name)", got)
	}
	code("submit drains", errOf(admin.DrainWorker(with(alice), &pb.DrainWorkerRequest{Id: "w1"})), codes.PermissionDenied)
	code("submit lists tokens", errOf(tokens.ListTokens(with(alice), &pb.ListTokensRequest{})), codes.PermissionDenied)

	// A forged secret, a revoked token and an expired one: the same refusal.
	last := "A"
	if strings.HasSuffix(alice, "A") {
		last = "B"
	}
	forged := alice[:len(alice)-1] + last
	if msg := code("forged", errOf(jobs.ListJobs(with(forged), &pb.ListJobsRequest{})), codes.Unauthenticated); msg != unauth {
		t.Errorf("forged: %q", msg)
	}
	aliceID := strings.SplitN(strings.TrimPrefix(alice, "nst_"), "_", 2)[0]
	if r, err := tokens.RevokeToken(root, &pb.RevokeTokenRequest{Id: aliceID}); err != nil || r.Token.RevokedBy != "ops" || r.Token.SecretSha256 != nil {
		t.Fatalf("revoke: %v %v", r, err)
	}
	if msg := code("revoked", errOf(jobs.ListJobs(with(alice), &pb.ListJobsRequest{})), codes.Unauthenticated); msg != unauth {
		t.Errorf("revoked: %q", msg)
	}
	time.Sleep(1100 * time.Millisecond)
	if msg := code("expired", errOf(admin.ListWorkers(with(brief), &pb.ListWorkersRequest{})), codes.Unauthenticated); msg != unauth {
		t.Errorf("expired: %q", msg)
	}
	list, err := tokens.ListTokens(root, &pb.ListTokensRequest{})
	if err != nil || len(list.Tokens) != 4 {
		t.Fatalf("list: %v %v", list, err)
	}
	for _, tk := range list.Tokens {
		if tk.SecretSha256 != nil {
			t.Errorf("token %s listed with its hash", tk.Id)
		}
	}
}

// errOf keeps a call's error.
func errOf[T any](_ T, err error) error { return err }

func noopSpec(name string, tasks int32) *pb.JobSpec {
	return &pb.JobSpec{Name: name, Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: tasks}}}
}

// TestNeededRoleCoversEveryClientMethod: each method of a client service
// is in the table (a new method must be placed on the ladder, not fall to
// admin by accident), and the worker API is not token-checked.
func TestNeededRoleCoversEveryClientMethod(t *testing.T) {
	for _, sd := range []grpc.ServiceDesc{pb.JobService_ServiceDesc, pb.ModelService_ServiceDesc, pb.AdminService_ServiceDesc,
		pb.DataService_ServiceDesc, pb.ScheduleService_ServiceDesc, pb.TokenService_ServiceDesc} {
		var names []string
		for _, m := range sd.Methods {
			names = append(names, m.MethodName)
		}
		for _, s := range sd.Streams {
			names = append(names, s.StreamName)
		}
		for _, n := range names {
			full := "/" + sd.ServiceName + "/" + n
			if _, ok := methodRoles[full]; !ok && full != bootstrapMethod {
				t.Errorf("%s has no role in methodRoles", full)
			}
		}
	}
	if _, checked := neededRole("/nightshift.v1.WorkerService/Lease"); checked {
		t.Error("the worker API is token-checked")
	}
	if r, checked := neededRole("/nightshift.v1.AdminService/Future"); !checked || r != "admin" {
		t.Errorf("an unknown client method needs %q (checked %v), want admin", r, checked)
	}
}

// TestTokensThroughAFollower: a follower checks the token and forwards
// it, and the leader checks it again: bootstrap, create and a write all
// work through a follower, and a revoked token stops working there too.
func TestTokensThroughAFollower(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Tokens = TokensRequired })
	conn := dial(t, c.follower().Addr())
	tokens, jobs := pb.NewTokenServiceClient(conn), pb.NewJobServiceClient(conn)
	boot := callRetry(t, func(ctx context.Context) (*pb.CreateTokenResponse, error) {
		return tokens.BootstrapToken(ctx, &pb.BootstrapTokenRequest{Name: "ops"})
	})
	root := metadata.AppendToOutgoingContext(context.Background(), rpc.AuthorizationHeader, rpc.BearerHeader(boot.Secret))
	var bob *pb.CreateTokenResponse
	testkit.Retry(t, 10*time.Second, "the follower to know the bootstrap token", func() error {
		var err error
		bob, err = tokens.CreateToken(root, &pb.CreateTokenRequest{Name: "bob", Role: "submit"})
		return err
	})
	asBob := metadata.AppendToOutgoingContext(context.Background(), rpc.AuthorizationHeader, rpc.BearerHeader(bob.Secret))
	testkit.Retry(t, 10*time.Second, "a submit through the follower", func() error {
		_, err := jobs.SubmitJob(asBob, &pb.SubmitJobRequest{Spec: noopSpec("b", 1)})
		return err
	})
	if _, err := tokens.RevokeToken(root, &pb.RevokeTokenRequest{Id: bob.Token.Id}); err != nil {
		t.Fatal(err)
	}
	testkit.Wait(t, 10*time.Second, "the revoked token refused by the follower", func() bool {
		_, err := jobs.ListJobs(asBob, &pb.ListJobsRequest{Stale: true})
		return status.Code(err) == codes.Unauthenticated
	})
}
