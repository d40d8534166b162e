package worker

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

func TestHTTPAndHealth(t *testing.T) {
	f := newFake(t)
	f.update(func(f *fakeCoord) { f.down = true }) // not registered yet
	cfg := testConfig(t, "w1", f.addr)
	cfg.HTTPAddr = "127.0.0.1:0"
	a, _ := runAgent(t, cfg)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + a.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before registration = %d, want 503", code)
	}

	f.update(func(f *fakeCoord) { f.down = false })
	f.add(noop("j1", 0, 0))
	f.waitFor(t, "the report", func(f *fakeCoord) bool { return f.distinctLocked() == 1 })
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after registration = %d, want 200", code)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`nightshift_worker_tasks_started_total{kind="noop",worker="w1"} 1`,
		`nightshift_worker_tasks_succeeded_total{kind="noop",worker="w1"} 1`,
		`nightshift_worker_running{worker="w1"} 0`,
		`nightshift_worker_task_seconds_count{kind="noop",worker="w1"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	conn, err := rpc.Dial(a.GRPCAddr(), rpc.TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc, err := grpc_health_v1.NewHealthClient(conn).Check(context.Background(), &grpc_health_v1.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health = %v, %v; want SERVING", hc, err)
	}
}

// TestReadyzReportsGossipJoin starts a worker whose only gossip seed is a
// port nobody listens on: it keeps running and registers, and /readyz is
// ready but degraded, naming the gossip join; once a seed starts on that
// port, it joins and the degraded line goes.
func TestReadyzReportsGossipJoin(t *testing.T) {
	f := newFake(t)
	seedAddr := testkit.DeadAddr(t)
	cfg := testConfig(t, "w1", f.addr)
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Seeds = []string{seedAddr}
	a, _ := runAgent(t, cfg)
	readyz := func() (int, string) { return testkit.Get(t, "http://"+a.HTTPAddr()+"/readyz") }
	waitUntil(t, "registration", func() bool { return agentState(a, func(a *Agent) bool { return a.registered }) })
	waitUntil(t, "a failed join round", func() bool {
		_, err := a.gossip.Joined()
		return err != nil && strings.Contains(err.Error(), "last error")
	})
	code, body := readyz()
	if code != http.StatusOK || !strings.Contains(body, "degraded: gossip: not joined any seed yet") || !strings.Contains(body, seedAddr) {
		t.Fatalf("/readyz with the seed down = %d %q; want 200, degraded, naming the gossip join", code, body)
	}

	seed, err := gossip.Start(gossip.Config{Name: "c1", BindAddr: seedAddr, Fast: true,
		Meta: gossip.Meta{Role: gossip.RoleCoordinator, ID: "c1", GRPC: f.addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = seed.Shutdown() })
	waitUntil(t, "/readyz to drop the degraded line", func() bool {
		code, body := readyz()
		return code == http.StatusOK && !strings.Contains(body, "degraded")
	})
}

// TestReadyzSaysInsecure: a worker listening beyond loopback without TLS
// (insecure: true) says so in /readyz, ready or not.
func TestReadyzSaysInsecure(t *testing.T) {
	f := newFake(t)
	cfg := testConfig(t, "w1", f.addr)
	cfg.HTTPAddr, cfg.GRPCAddr, cfg.LoopbackOnly, cfg.Insecure = "127.0.0.1:0", "0.0.0.0:0", false, true
	a, _ := runAgent(t, cfg)
	_, body := testkit.Get(t, "http://"+a.HTTPAddr()+"/readyz")
	if !strings.Contains(body, "INSECURE: grpc_addr 0.0.0.0:0 listens beyond loopback without mutual TLS") {
		t.Fatalf("/readyz: %q", body)
	}
}
