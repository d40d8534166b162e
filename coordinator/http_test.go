package coordinator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// TestReadyzWaitsForGossipSeed starts a coordinator whose only gossip seed
// is a port nobody listens on: it starts anyway (it used to exit with
// "gossip: join …: connection refused"), leads its one-voter cluster, and
// /readyz is ready but says it is degraded, naming the gossip join (an
// unready coordinator would deadlock an ordered start whose seeds are its
// peers); once a member starts on that port, the coordinator joins it and
// the degraded line goes.
func TestReadyzReportsGossipJoin(t *testing.T) {
	seedAddr := testkit.DeadAddr(t)
	cfg := TestConfig()
	cfg.ID, cfg.DataDir, cfg.Bootstrap, cfg.Seeds = "c1", t.TempDir(), true, []string{seedAddr}
	cfg.HTTPAddr = "127.0.0.1:0"
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("a coordinator whose seeds are down must start: %v", err)
	}
	t.Cleanup(s.Kill)
	readyz := func() (int, string) { return testkit.Get(t, "http://"+s.HTTPAddr()+"/readyz") }
	testkit.Wait(t, 10*time.Second, "leadership and a failed join round", func() bool {
		_, err := s.gossip.Joined()
		return s.IsLeader() && err != nil && strings.Contains(err.Error(), "last error")
	})
	code, body := readyz()
	if code != http.StatusOK || !strings.Contains(body, "ready; leader c1") ||
		!strings.Contains(body, "degraded: gossip: not joined any seed yet") || !strings.Contains(body, seedAddr) {
		t.Fatalf("/readyz with the seed down = %d %q; want 200, degraded, naming the gossip join", code, body)
	}

	seed, err := gossip.Start(gossip.Config{Name: "w1", BindAddr: seedAddr, Fast: true,
		Meta: gossip.Meta{Role: gossip.RoleWorker, ID: "w1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = seed.Shutdown() })
	testkit.Wait(t, 10*time.Second, "/readyz to drop the degraded line", func() bool {
		code, body := readyz()
		return code == http.StatusOK && !strings.Contains(body, "degraded")
	})
}

// TestReadyzSaysInsecure: a coordinator whose API listens beyond loopback
// without TLS (insecure: true) says so in /readyz.
func TestReadyzSaysInsecure(t *testing.T) {
	s := startLeader(t, func(cfg *Config) {
		cfg.HTTPAddr, cfg.GRPCAddr, cfg.LoopbackOnly, cfg.Insecure = "127.0.0.1:0", "0.0.0.0:0", false, true
	})
	code, body := testkit.Get(t, "http://"+s.HTTPAddr()+"/readyz")
	if code != http.StatusOK || !strings.Contains(body, "INSECURE: grpc_addr 0.0.0.0:0 listens beyond loopback without mutual TLS") {
		t.Fatalf("/readyz = %d %q", code, body)
	}
}

// TestMetricsExportState: /metrics carries the replicated state (jobs by
// state, the queue per pool, workers) and the node's Raft indexes.
func TestMetricsExportState(t *testing.T) {
	s := startLeader(t, func(cfg *Config) { cfg.HTTPAddr = "127.0.0.1:0" })
	conn := dial(t, s.Addr())
	callRetry(t, func(ctx context.Context) (*pb.RegisterResponse, error) {
		return pb.NewWorkerServiceClient(conn).Register(ctx, &pb.RegisterRequest{Worker: &pb.Worker{Id: "w1", Slots: 2, Pool: "gpu"}})
	})
	callRetry(t, func(ctx context.Context) (*pb.SubmitJobResponse, error) {
		return pb.NewJobServiceClient(conn).SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Name: "n", Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 5}}}})
	})
	_, body := testkit.Get(t, "http://"+s.HTTPAddr()+"/metrics")
	for _, want := range []string{
		`nightshift_jobs{kind="noop",state="running"} 1`,
		`nightshift_tasks_pending{pool="default"} 5`,
		`nightshift_tasks_pending{pool="gpu"} 0`,
		`nightshift_tasks_running{pool="default"} 0`,
		`nightshift_workers{pool="gpu",state="active"} 1`,
		`nightshift_raft_commit_index `,
		`nightshift_raft_applied_index `,
		`nightshift_raft_term 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// startLeader starts a one-voter coordinator with tweak applied to its
// test config and waits for it to lead.
func startLeader(t *testing.T, tweak func(*Config)) *Server {
	t.Helper()
	cfg := TestConfig()
	cfg.ID, cfg.DataDir, cfg.Bootstrap = "c1", t.TempDir(), true
	tweak(&cfg)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	testkit.Wait(t, 10*time.Second, "leadership", s.IsLeader)
	return s
}

// TestConsoleOverTLS: with http_tls the console, /metrics and the health
// checks are served over TLS with the node's certificate (a browser checks
// it against the cluster's CA, with no client certificate), plain HTTP
// gets nothing, and the login cookie is marked Secure. http_tls without a
// certificate is refused at start.
func TestConsoleOverTLS(t *testing.T) {
	pki := t.TempDir()
	if _, err := rpc.WriteDevPKI(pki, []string{"127.0.0.1"}, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	bad := TestConfig()
	bad.ID, bad.DataDir, bad.HTTPAddr, bad.HTTPTLS = "c0", t.TempDir(), "127.0.0.1:0", true
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "http_tls needs tls.cert_file") {
		t.Fatalf("http_tls without a certificate: %v", err)
	}
	s := startLeader(t, func(cfg *Config) {
		cfg.HTTPAddr, cfg.HTTPTLS, cfg.Tokens, cfg.TLS = "127.0.0.1:0", true, TokensRequired, rpc.DevTLS(pki, "coordinator")
	})
	conn, err := rpc.Dial(s.Addr(), rpc.DevTLS(pki, "client"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	boot := callRetry(t, func(ctx context.Context) (*pb.CreateTokenResponse, error) {
		return pb.NewTokenServiceClient(conn).BootstrapToken(ctx, &pb.BootstrapTokenRequest{Name: "ops"})
	})
	caPEM, err := os.ReadFile(filepath.Join(pki, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "https://" + s.HTTPAddr()
	resp, err := c.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz over TLS: %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + s.HTTPAddr() + "/healthz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Fatal("plain HTTP was answered")
	}
	resp, err = c.PostForm(base+"/ui/login", url.Values{"token": {boot.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].Secure || !cookies[0].HttpOnly {
		t.Fatalf("login cookie over TLS: %v", cookies)
	}
}
