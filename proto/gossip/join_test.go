package gossip

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/proto/testkit"
)

const waitTimeout = 10 * time.Second

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Wait(t, waitTimeout, what, cond)
}

// freePort returns a loopback port nobody listens on (now).
func freePort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(testkit.DeadAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func startNode(t *testing.T, name, bind string) *Node {
	t.Helper()
	n, err := Start(Config{Name: name, BindAddr: bind, Fast: true, Meta: Meta{Role: RoleWorker, ID: name}})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	return n
}

func hasMember(n *Node, name string) bool {
	for _, m := range n.Members() {
		if m.Name == name {
			return true
		}
	}
	return false
}

// TestJoinRetriesUntilSeedComesUp starts a node whose only seed is a port
// nobody listens on: it keeps running, retries, and says it is not joined;
// once a node starts on that port, it joins it.
func TestJoinRetriesUntilSeedComesUp(t *testing.T) {
	seedAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	var logs testkit.Buffer
	a := startNode(t, "a", "127.0.0.1:0")
	a.JoinInBackground(context.Background(), []string{seedAddr}, slog.New(slog.NewTextHandler(&logs, nil)))

	waitFor(t, "two failed join rounds", func() bool { return logs.Count("no seed answered; retrying") >= 2 })
	joined, err := a.Joined()
	if joined || err == nil {
		t.Fatalf("Joined() = %v, %v with the seed down; want false and a reason", joined, err)
	}
	for _, want := range []string{"not joined any seed yet", "last error", seedAddr} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reason %q does not say %q", err, want)
		}
	}
	t.Log(err)
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("reason %q spans lines", err)
	}

	startNode(t, "seed", seedAddr)
	waitFor(t, "the node to join the seed", func() bool {
		ok, _ := a.Joined()
		return ok && hasMember(a, "seed")
	})
	if got := logs.Count("joined the cluster"); got != 1 {
		t.Errorf("logged the join %d times, want once", got)
	}
}

// TestJoinWithoutSeedsIsJoined: a node given no seeds starts a cluster.
func TestJoinWithoutSeedsIsJoined(t *testing.T) {
	a := startNode(t, "a", "127.0.0.1:0")
	if ok, err := a.Joined(); !ok || err != nil {
		t.Fatalf("Joined() before JoinInBackground = %v, %v; want true", ok, err)
	}
	a.JoinInBackground(context.Background(), nil, nil)
	if ok, err := a.Joined(); !ok || err != nil {
		t.Fatalf("Joined() without seeds = %v, %v; want true", ok, err)
	}
}

// TestJoinLoopEndsWithNodeOrContext: Shutdown and a cancelled context
// both end the retries, and Shutdown waits for the loop.
func TestJoinLoopEndsWithNodeOrContext(t *testing.T) {
	dead := []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))}

	a := startNode(t, "a", "127.0.0.1:0")
	a.JoinInBackground(context.Background(), dead, nil)
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.joinDone:
	default:
		t.Fatal("Shutdown returned before the join loop ended")
	}

	b := startNode(t, "b", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	b.JoinInBackground(ctx, dead, nil)
	cancel()
	select {
	case <-b.joinDone:
	case <-time.After(waitTimeout):
		t.Fatal("the join loop outlived its context")
	}
	if ok, _ := b.Joined(); ok {
		t.Fatal("Joined() = true after the loop gave up")
	}
}
