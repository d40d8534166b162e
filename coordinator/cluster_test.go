package coordinator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// testCluster is N coordinators on loopback with real Raft, gossip and gRPC.
type testCluster struct {
	t     *testing.T
	nodes []*Server
	dirs  []string
}

func startNode(t *testing.T, id, dir string, bootstrap bool, seeds []string, tweak func(*Config)) *Server {
	t.Helper()
	cfg := TestConfig()
	cfg.ID, cfg.DataDir, cfg.Bootstrap, cfg.Seeds = id, dir, bootstrap, seeds
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
	c := &testCluster{t: t}
	for i := range n {
		dir := t.TempDir()
		var seeds []string
		if i > 0 {
			seeds = []string{c.nodes[0].GossipAddr()}
		}
		s := startNode(t, fmt.Sprintf("c%d", i+1), dir, i == 0, seeds, tweak)
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

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
	waitFor(c.t, 10*time.Second, "a leader", func() bool { return c.leader() != nil })
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
	var last error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := fn(ctx)
		cancel()
		if err == nil {
			return v
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("call kept failing: %v", last)
	var zero T
	return zero
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
		var reports []*pb.TaskReport
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			resp, err := workers.Lease(context.Background(), &pb.LeaseRequest{WorkerId: "w1", MaxTasks: 8, Reports: reports, WaitMs: 100})
			if err != nil {
				time.Sleep(50 * time.Millisecond) // leader change: reports are retried with the next call
				continue
			}
			reports = nil
			for _, as := range resp.Assignments {
				reports = append(reports, &pb.TaskReport{Attempt: as.Attempt, Outcome: &pb.TaskReport_Success{Success: &pb.TaskResult{}}})
			}
			j, err := jobs.GetJob(context.Background(), &pb.GetJobRequest{Id: sub.Job.Id})
			if err == nil && j.Job.State == pb.JobState_JOB_STATE_SUCCEEDED {
				if j.Job.TasksSucceeded != tasks {
					t.Fatalf("job %s: %d of %d tasks", name, j.Job.TasksSucceeded, tasks)
				}
				return
			}
		}
		t.Fatalf("job %s did not finish", name)
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
	waitFor(t, 10*time.Second, "the follower to apply 30 jobs", func() bool { return len(gone.Store().Snapshot().Jobs()) == 30 })
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
	back := startNode(t, id, dir, false, []string{leader.GossipAddr()}, func(cfg *Config) { cfg.RaftAddr = raftAddr })
	c.nodes[idx] = back
	waitFor(t, 15*time.Second, "the restarted follower to catch up", func() bool {
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
		waitFor(t, 5*time.Second, "GC on "+s.ID(), func() bool {
			v := s.Store().Snapshot()
			return v.Job(ids[0]) == nil && v.Job(ids[1]) != nil && v.Job(ids[2]) != nil
		})
	}
}
