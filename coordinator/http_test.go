package coordinator

import (
	"net"
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
// /readyz says gossip has not joined; once a member starts on that port,
// the coordinator joins it and /readyz turns ready.
func TestReadyzWaitsForGossipSeed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seedAddr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
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
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "gossip: not joined any seed yet") ||
		!strings.Contains(body, seedAddr) || strings.Contains(body, "no leader") {
		t.Fatalf("/readyz with the seed down = %d %q; want 503 naming only the gossip join", code, body)
	}

	seed, err := gossip.Start(gossip.Config{Name: "w1", BindAddr: seedAddr, Fast: true,
		Meta: gossip.Meta{Role: gossip.RoleWorker, ID: "w1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = seed.Shutdown() })
	testkit.Wait(t, 10*time.Second, "/readyz to turn ready", func() bool { code, _ := readyz(); return code == http.StatusOK })
	if _, body := readyz(); !strings.Contains(body, "leader c1") {
		t.Fatalf("/readyz when ready = %q", body)
	}
}
