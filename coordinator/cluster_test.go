package coordinator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/rpc/faultnet"
	"github.com/nightshift-ml/nightshift/proto/testkit"
)

// testCluster is N coordinators on loopback with real Raft, gossip and
// gRPC. Raft and gRPC between them run through net, where tests partition,
// blackhole and delay nodes by ID (gossip stays on plain loopback).
type testCluster struct {
	t     *testing.T
	net   *faultnet.Network
	nodes []*Server
	dirs  []string
}

func startNode(t *testing.T, fnet *faultnet.Network, id, dir string, bootstrap bool, seeds []string, tweak func(*Config)) *Server {
	t.Helper()
	cfg := TestConfig()
	cfg.ID, cfg.DataDir, cfg.Bootstrap, cfg.Seeds = id, dir, bootstrap, seeds
	nd := fnet.Node(id)
	cfg.Dialer, cfg.Listen = nd.DialContext, nd.Listen
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	return s
}

func newTestCluster(t *testing.T, n int, tweak func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, net: faultnet.New()}
	for i := range n {
		dir := t.TempDir()
		var seeds []string
		if i > 0 {
			seeds = []string{c.nodes[0].GossipAddr()}
		}
		s := startNode(t, c.net, fmt.Sprintf("c%d", i+1), dir, i == 0, seeds, tweak)
		c.nodes, c.dirs = append(c.nodes, s), append(c.dirs, dir)
		if i == 0 {
			c.waitLeader()
			continue
		}
		if err := c.leader().raft.raft.AddVoter(raft.ServerID(s.ID()), raft.ServerAddress(s.RaftAddr()), 0, 5*time.Second).Error(); err != nil {
			t.Fatalf("add voter %s: %v", s.ID(), err)
		}
	}
	t.Cleanup(func() {
		for _, s := range c.nodes {
			if s != nil {
				s.Kill()
			}
		}
	})
	c.waitLeader()
	return c
}

func (c *testCluster) leader() *Server {
	for _, s := range c.nodes {
		if s != nil && s.IsLeader() && s.leading() != nil {
			return s
		}
	}
	return nil
}

func (c *testCluster) waitLeader() *Server {
	c.t.Helper()
	testkit.Wait(c.t, 10*time.Second, "a leader", func() bool { return c.leader() != nil })
	return c.leader()
}

func (c *testCluster) follower() *Server {
	for _, s := range c.nodes {
		if s != nil && !s.IsLeader() {
			return s
		}
	}
	return nil
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := rpc.Dial(addr, rpc.TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// callRetry retries a call while the cluster has no reachable leader.
func callRetry[T any](t *testing.T, fn func(context.Context) (T, error)) T {
	t.Helper()
	var v T
	testkit.Retry(t, 15*time.Second, "a call to succeed", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		v, err = fn(ctx)
		return err
	})
	return v
}

// TestClusterNoopJobThroughFollower drives a 3-voter cluster through a
// follower: writes are forwarded, a raw gRPC worker leases and reports
// no-op tasks, the job succeeds; then the leader is killed and a second
// job still runs to completion under the new leader.
func TestClusterNoopJobThroughFollower(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	fol := c.follower()
	conn := dial(t, fol.Addr())
	jobs, workers := pb.NewJobServiceClient(conn), pb.NewWorkerServiceClient(conn)
	callRetry(t, func(ctx context.Context) (*pb.RegisterResponse, error) {
		return workers.Register(ctx, &pb.RegisterRequest{Worker: &pb.Worker{Id: "w1", Slots: 8}})
	})
	run := func(name string, tasks int32) {
		sub := callRetry(t, func(ctx context.Context) (*pb.SubmitJobResponse, error) {
			return jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Name: name, Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: tasks}}}})
		})
		// One lease round per poll: the reports of this round ride on the
		// next lease call (after a leader change they are sent again).
		var reports []*pb.TaskReport
		testkit.Wait(t, 20*time.Second, "job "+name+" to finish", func() bool {
			resp, err := workers.Lease(context.Background(), &pb.LeaseRequest{WorkerId: "w1", MaxTasks: 8, Reports: reports, WaitMs: 100})
			if err != nil {
				return false
			}
			reports = nil
			for _, as := range resp.Assignments {
				reports = append(reports, &pb.TaskReport{Attempt: as.Attempt, Outcome: &pb.TaskReport_Success{Success: &pb.TaskResult{}}})
			}
			j, err := jobs.GetJob(context.Background(), &pb.GetJobRequest{Id: sub.Job.Id})
			if err != nil || j.Job.State != pb.JobState_JOB_STATE_SUCCEEDED {
				return false
			}
			if j.Job.TasksSucceeded != tasks {
				t.Fatalf("job %s: %d of %d tasks", name, j.Job.TasksSucceeded, tasks)
			}
			return true
		})
	}
	run("first", 50)

	old := c.leader()
	old.Kill()
	for i, s := range c.nodes {
		if s == old {
			c.nodes[i] = nil
		}
	}
	c.waitLeader()
	if fol == old {
		conn = dial(t, c.follower().Addr())
		jobs, workers = pb.NewJobServiceClient(conn), pb.NewWorkerServiceClient(conn)
	}
	run("after failover", 30)
}

// TestIsolatedLeaderStepsDownAndCatchesUp cuts the leader's Raft and gRPC
// off the two followers: they elect a leader in a higher term and commit
// writes, while the old leader steps down and refuses writes with
// Unavailable. Healed, it follows the new leader and applies what it missed.
func TestIsolatedLeaderStepsDownAndCatchesUp(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	old := c.waitLeader()
	oldTerm, _ := old.RaftTerm()
	var others []string
	for _, s := range c.nodes {
		if s != old {
			others = append(others, s.ID())
		}
	}
	c.net.Partition([]string{old.ID()}, others)
	var nl *Server
	testkit.Wait(t, 10*time.Second, "a leader among the majority", func() bool {
		nl = c.leader()
		return nl != nil && nl != old
	})
	if term, _ := nl.RaftTerm(); term <= oldTerm {
		t.Fatalf("new leader %s in term %d, the old one led term %d", nl.ID(), term, oldTerm)
	}
	testkit.Wait(t, 5*time.Second, "the isolated leader to step down", func() bool { return !old.IsLeader() })
	spec := &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 1}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pb.NewJobServiceClient(dial(t, old.Addr())).SubmitJob(ctx, &pb.SubmitJobRequest{Spec: spec}); status.Code(err) != codes.Unavailable {
		t.Fatalf("submit to the isolated old leader: %v, want Unavailable", err)
	}
	jobs := pb.NewJobServiceClient(dial(t, nl.Addr()))
	resp := callRetry(t, func(ctx context.Context) (*pb.SubmitJobResponse, error) {
		return jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: spec})
	})
	c.net.Heal()
	testkit.Wait(t, 15*time.Second, "the old leader to apply the job committed without it", func() bool {
		return old.Store().Snapshot().Job(resp.Job.Id) != nil
	})
}

// TestFollowerRestartCatchesUpFromSnapshot stops a follower, commits past
// a snapshot, and restarts it: it restores the snapshot, replays the tail
// and reaches the leader's state.
func TestFollowerRestartCatchesUpFromSnapshot(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.SnapshotThreshold = 1 << 20; cfg.TrailingLogs = 4 })
	leader := c.waitLeader()
	jobs := pb.NewJobServiceClient(dial(t, leader.Addr()))
	submit := func(n int) {
		for i := range n {
			callRetry(t, func(ctx context.Context) (*pb.SubmitJobResponse, error) {
				return jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Name: fmt.Sprint(i), Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 3}}}})
			})
		}
	}
	submit(30)
	idx := -1
	for i, s := range c.nodes {
		if !s.IsLeader() {
			idx = i
			break
		}
	}
	gone := c.nodes[idx]
	testkit.Wait(t, 10*time.Second, "the follower to apply 30 jobs", func() bool { return len(gone.Store().Snapshot().Jobs()) == 30 })
	// The follower snapshots its own state, then dies.
	if err := gone.raft.raft.Snapshot().Error(); err != nil {
		t.Fatalf("follower snapshot: %v", err)
	}
	id, dir, raftAddr := gone.ID(), c.dirs[idx], gone.RaftAddr()
	gone.Kill()
	c.nodes[idx] = nil
	submit(30)
	// The leader compacts its log past what the follower has: catching up
	// now needs the leader's snapshot.
	if err := leader.raft.raft.Snapshot().Error(); err != nil {
		t.Fatalf("leader snapshot: %v", err)
	}
	back := startNode(t, c.net, id, dir, false, []string{leader.GossipAddr()}, func(cfg *Config) { cfg.RaftAddr = raftAddr })
	c.nodes[idx] = back
	testkit.Wait(t, 15*time.Second, "the restarted follower to catch up", func() bool {
		return len(back.Store().Snapshot().Jobs()) == 60 && back.AppliedIndex() >= leader.AppliedIndex()
	})
	want, got := leader.Store().Snapshot().Jobs(), back.Store().Snapshot().Jobs()
	for i := range want {
		if !proto.Equal(want[i], got[i]) {
			t.Fatalf("job %d differs:\n%v\n%v", i, want[i], got[i])
		}
	}
}

// TestFiveVotersSurviveTwoFailuresAndPeerRemoval runs 5 voters, kills two
// (the leader first), keeps committing with the remaining quorum of 3,
// then removes a dead voter through the admin API.
func TestFiveVotersSurviveTwoFailuresAndPeerRemoval(t *testing.T) {
	c := newTestCluster(t, 5, nil)
	var killed []string
	for range 2 {
		l := c.waitLeader()
		killed = append(killed, l.ID())
		l.Kill()
		for i, s := range c.nodes {
			if s == l {
				c.nodes[i] = nil
			}
		}
	}
	l := c.waitLeader()
	conn := dial(t, l.Addr())
	resp := callRetry(t, func(ctx context.Context) (*pb.SubmitJobResponse, error) {
		return pb.NewJobServiceClient(conn).SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 1}}}})
	})
	if !resp.Created {
		t.Fatal("job not created")
	}
	admin := pb.NewAdminServiceClient(conn)
	callRetry(t, func(ctx context.Context) (*pb.RemovePeerResponse, error) {
		return admin.RemovePeer(ctx, &pb.RemovePeerRequest{Id: killed[0]})
	})
	peers := callRetry(t, func(ctx context.Context) (*pb.ListPeersResponse, error) {
		return admin.ListPeers(ctx, &pb.ListPeersRequest{})
	})
	if len(peers.Peers) != 4 {
		t.Fatalf("%d peers after removing one of 5", len(peers.Peers))
	}
	for _, p := range peers.Peers {
		if p.Id == killed[0] {
			t.Fatalf("removed peer %s still listed", p.Id)
		}
	}
}

// TestJobGCReplicates forgets finished jobs through the log: every replica
// drops them, running ones stay.
func TestJobGCReplicates(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	l := c.waitLeader()
	jobs := pb.NewJobServiceClient(dial(t, l.Addr()))
	var ids []string
	for i := range 3 {
		resp := callRetry(t, func(ctx context.Context) (*pb.SubmitJobResponse, error) {
			return jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Name: fmt.Sprint(i), Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 1}}}})
		})
		ids = append(ids, resp.Job.Id)
	}
	callRetry(t, func(ctx context.Context) (*pb.CancelJobResponse, error) {
		return jobs.CancelJob(ctx, &pb.CancelJobRequest{Id: ids[0]})
	})
	l.collectJobs(context.Background(), time.Now().Add(l.cfg.JobGCAge+time.Minute))
	for _, s := range c.nodes {
		testkit.Wait(t, 5*time.Second, "GC on "+s.ID(), func() bool {
			v := s.Store().Snapshot()
			return v.Job(ids[0]) == nil && v.Job(ids[1]) != nil && v.Job(ids[2]) != nil
		})
	}
}
