package coordinator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc/faultnet"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// freeAddrs reserves n loopback ports (gossip, Raft): the seeds of
// an auto-joining cluster name every member before any of them runs.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ln.Addr().String())
		_ = ln.Close()
	}
	return out
}

// voters returns a node's configuration as "id:voter" or "id:nonvoter",
// sorted.
func voters(s *Server) []string {
	var out []string
	for _, srv := range s.raftServers() {
		kind := "voter"
		if srv.Suffrage != raft.Voter {
			kind = "nonvoter"
		}
		out = append(out, string(srv.ID)+":"+kind)
	}
	slices.Sort(out)
	return out
}

// TestAutoJoinAnyOrder: three coordinators started with bootstrap_expect 3
// in a random order, with gaps, each given all three gossip addresses (its
// own too, as a headless Service's name resolves), form one cluster by
// themselves. A fourth joins later and is promoted by autopilot; killed,
// it is removed once dead_server_grace passed; one whose data is lost
// comes back under a new Raft address and catches up; and the three,
// all stopped and restarted in another random order, come back with their
// state.
func TestAutoJoinAnyOrder(t *testing.T) {
	fnet := faultnet.New()
	seeds := freeAddrs(t, 4)
	// Raft addresses are fixed, as DNS names are in Kubernetes: a whole
	// cluster restarting finds its peers where its configuration says.
	raftAddrs := freeAddrs(t, 4)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()}
	nodes := make([]*Server, 4)
	t.Cleanup(func() {
		for _, s := range nodes {
			if s != nil {
				s.Kill()
			}
		}
	})
	start := func(i int) {
		nodes[i] = startNode(t, fnet, fmt.Sprintf("c%d", i+1), dirs[i], false, seeds[:3], func(c *Config) {
			c.GossipAddr, c.RaftAddr, c.BootstrapExpect = seeds[i], raftAddrs[i], 3
			c.Autopilot.DeadServerGrace = 2 * time.Second
		})
	}
	leaderOf := func(idx ...int) *Server {
		var l *Server
		testkit.Wait(t, 20*time.Second, "a leader", func() bool {
			for _, i := range idx {
				if s := nodes[i]; s != nil && s.IsLeader() && s.leading() != nil {
					l = s
					return true
				}
			}
			return false
		})
		return l
	}
	order := rand.Perm(3)
	t.Logf("start order %v", order)
	for k, i := range order {
		start(i)
		if k == 0 {
			time.Sleep(700 * time.Millisecond) // alone for a while: it must not bootstrap
			if n := len(nodes[i].raftServers()); n != 0 {
				t.Fatalf("a lone coordinator bootstrapped a %d-server cluster", n)
			}
		}
	}
	want3 := []string{"c1:voter", "c2:voter", "c3:voter"}
	leader := leaderOf(0, 1, 2)
	for _, i := range order {
		testkit.Wait(t, 10*time.Second, "every node to hold the 3-voter configuration", func() bool {
			return slices.Equal(voters(nodes[i]), want3)
		})
	}
	conn := dial(t, leader.Addr())
	jobs := pb.NewJobServiceClient(conn)
	sub := callRetry(t, func(ctx context.Context) (*pb.SubmitJobResponse, error) {
		return jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Name: "kept", Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 3}}}})
	})

	// A fourth coordinator joins the running cluster: added as a
	// non-voter, promoted once stable.
	nodes[3] = startNode(t, fnet, "c4", dirs[3], false, seeds[:3], func(c *Config) {
		c.GossipAddr, c.RaftAddr, c.BootstrapExpect = seeds[3], raftAddrs[3], 3
		c.Autopilot.DeadServerGrace = 2 * time.Second
	})
	want4 := append(slices.Clone(want3), "c4:voter")
	testkit.Wait(t, 20*time.Second, "c4 to be added and promoted", func() bool {
		return slices.Equal(voters(leaderOf(0, 1, 2)), want4)
	})

	// Killed, it is removed after the grace (bootstrap_expect 3 is the
	// floor, so the three others stay).
	nodes[3].Kill()
	nodes[3] = nil
	testkit.Wait(t, 20*time.Second, "autopilot to remove dead c4", func() bool {
		return slices.Equal(voters(leaderOf(0, 1, 2)), want3)
	})

	// A follower loses its data and comes back on a new Raft port: it does
	// not bootstrap (its peers hold state); the leader updates its address
	// and it catches up.
	leader = leaderOf(0, 1, 2)
	lost := slices.IndexFunc(nodes[:3], func(s *Server) bool { return s != leader })
	nodes[lost].Kill()
	if err := os.RemoveAll(dirs[lost]); err != nil {
		t.Fatal(err)
	}
	raftAddrs[lost] = freeAddrs(t, 1)[0]
	start(lost)
	testkit.Wait(t, 20*time.Second, "the wiped coordinator to catch up", func() bool {
		return nodes[lost].Store().Snapshot().Job(sub.Job.Id) != nil && slices.Equal(voters(nodes[lost]), want3)
	})

	// All three stop; they restart in another random order.
	for i := range 3 {
		nodes[i].Kill()
		nodes[i] = nil
	}
	order = rand.Perm(3)
	t.Logf("restart order %v", order)
	for _, i := range order {
		start(i)
		time.Sleep(200 * time.Millisecond)
	}
	leader = leaderOf(0, 1, 2)
	testkit.Wait(t, 10*time.Second, "the job to survive the restart", func() bool {
		return leader.Store().Snapshot().Job(sub.Job.Id) != nil
	})
	if got := voters(leader); !slices.Equal(got, want3) {
		t.Fatalf("after the restart the configuration is %v, want %v", got, want3)
	}
}

// TestBootstrapExpectConfig: what Validate refuses.
func TestBootstrapExpectConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		tweak func(*Config)
		want  string
	}{
		"with bootstrap": {func(c *Config) { c.Bootstrap, c.BootstrapExpect, c.Seeds = true, 3, []string{"a:1"} }, "exclude each other"},
		"without seeds":  {func(c *Config) { c.BootstrapExpect = 3 }, "needs seeds"},
		"negative":       {func(c *Config) { c.BootstrapExpect = -1 }, "bootstrap_expect -1"},
		"bad pool":       {func(c *Config) { c.Autoscale.Pools = map[string]PoolScale{"gpu": {MinWorkers: 5, MaxWorkers: 2}} }, "pools.gpu: min_workers 5 is above max_workers 2"},
		"short token":    {func(c *Config) { c.InitialToken = "nst_admin_short" }, "at least 32"},
	} {
		t.Run(name, func(t *testing.T) {
			c := TestConfig()
			c.ID, c.DataDir = "c1", t.TempDir()
			tc.tweak(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
