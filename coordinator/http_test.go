package coordinator

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/proto/gossip"
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
	cfg := TestConfig()
	cfg.ID, cfg.DataDir, cfg.Bootstrap = "c1", t.TempDir(), true
	cfg.HTTPAddr, cfg.GRPCAddr, cfg.LoopbackOnly, cfg.Insecure = "127.0.0.1:0", "0.0.0.0:0", false, true
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	testkit.Wait(t, 10*time.Second, "leadership", s.IsLeader)
	code, body := testkit.Get(t, "http://"+s.HTTPAddr()+"/readyz")
	if code != http.StatusOK || !strings.Contains(body, "INSECURE: grpc_addr 0.0.0.0:0 listens beyond loopback without mutual TLS") {
		t.Fatalf("/readyz = %d %q", code, body)
	}
}
