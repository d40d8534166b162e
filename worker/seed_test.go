package worker

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/nightshift-ml/nightshift/proto/gossip"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// seedNode is a gossip member standing in for a coordinator: workers join
// it, and it records what it hears of them. It relies on events only:
// gossip.Node.Members hands out memberlist's live node records, which
// memberlist keeps mutating, so reading them races.
type seedNode struct {
	node *gossip.Node
	logs testkit.Buffer

	mu     sync.Mutex
	last   map[string]gossip.Member // the latest event per node
	events map[string]int           // events per node
}

// newSeed starts a seed advertising a coordinator whose gRPC API is at grpcAddr.
func newSeed(t *testing.T, grpcAddr string) *seedNode {
	t.Helper()
	s := &seedNode{last: map[string]gossip.Member{}, events: map[string]int{}}
	n, err := gossip.Start(gossip.Config{Name: "c1", BindAddr: "127.0.0.1:0", Fast: true,
		Meta:   gossip.Meta{Role: gossip.RoleCoordinator, ID: "c1", GRPC: grpcAddr},
		Logger: slog.New(slog.NewTextHandler(&s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnChange: func(m gossip.Member) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.last[m.Name] = m
			s.events[m.Name]++
		}})
	if err != nil {
		t.Fatal(err)
	}
	s.node = n
	t.Cleanup(func() { _ = n.Shutdown() })
	return s
}

// member returns the latest event about a node and how many came.
func (s *seedNode) member(name string) (gossip.Member, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[name], s.events[name]
}

// logged reports whether the seed's memberlist logged text.
func (s *seedNode) logged(text string) bool { return strings.Contains(s.logs.String(), text) }
