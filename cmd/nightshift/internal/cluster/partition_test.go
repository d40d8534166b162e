package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/coordinator"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/proto/testkit"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
)

// clientNode is the test's own name on a cluster's network: its API calls
// are cut by partitions that name it, like any node's.
const clientNode = "client"

// startFaultCluster starts a cluster whose Raft and gRPC run over
// Cluster.Net, logging to the test on failure.
func startFaultCluster(t *testing.T, coordinators, workers int, tweak func(*Options)) *Cluster {
	t.Helper()
	return startCluster(t, coordinators, workers, func(o *Options) {
		o.Faults, o.Logger = true, failureLog(t)
		if tweak != nil {
			tweak(o)
		}
	})
}

// netJobs returns a JobService client of addr that dials through the
// cluster's network as clientNode.
func netJobs(t *testing.T, c *Cluster, addr string) pb.JobServiceClient {
	t.Helper()
	conn, err := rpc.DialVia(addr, rpc.TLSConfig{}, c.Net.Node(clientNode).DialContext)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pb.NewJobServiceClient(conn)
}

func coordinatorIDs(c *Cluster) []string {
	var ids []string
	for _, s := range c.Coordinators {
		ids = append(ids, s.ID())
	}
	return ids
}

// termWatch samples every coordinator's Raft term and leadership and
// records who led each term; two leaders in one term is a split brain.
type termWatch struct {
	stop, done chan struct{}
	mu         sync.Mutex
	leaders    map[uint64]string
	conflicts  []string
}

func watchTerms(c *Cluster) *termWatch {
	w := &termWatch{stop: make(chan struct{}), done: make(chan struct{}), leaders: map[uint64]string{}}
	nodes := slices.Clone(c.Coordinators)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, s := range nodes {
				if term, leader := s.RaftTerm(); leader {
					w.record(term, s.ID())
				}
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *termWatch) record(term uint64, id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if prev, ok := w.leaders[term]; ok && prev != id {
		w.conflicts = append(w.conflicts, fmt.Sprintf("term %d led by %s and %s", term, prev, id))
		return
	}
	w.leaders[term] = id
}

// finish stops sampling and returns the leader of each term seen.
func (w *termWatch) finish() (map[uint64]string, []string) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.leaders, w.conflicts
}

// submitter submits no-op jobs one after another, each through the next
// coordinator in turn and retried under the same idempotency key until
// acknowledged, and keeps the acknowledged ones.
type submitter struct {
	stop, done chan struct{}
	mu         sync.Mutex
	acked      []*pb.Job
	refused    int
}

func startSubmitter(t *testing.T, c *Cluster) *submitter {
	s := &submitter{stop: make(chan struct{}), done: make(chan struct{})}
	var clients []pb.JobServiceClient
	for _, co := range c.Coordinators {
		clients = append(clients, netJobs(t, c, co.Addr()))
	}
	go func() {
		defer close(s.done)
		pause := time.Duration(0) // a refused submit is retried after a capped backoff, as a client would
		for i, try := 0, 0; ; try++ {
			select {
			case <-s.stop:
				return
			case <-time.After(pause):
			}
			spec := &pb.JobSpec{IdempotencyKey: fmt.Sprintf("partition-%d", i), Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 8, SleepMs: 1}}}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			resp, err := clients[try%len(clients)].SubmitJob(ctx, &pb.SubmitJobRequest{Spec: spec})
			cancel()
			s.mu.Lock()
			if err == nil {
				s.acked = append(s.acked, resp.Job)
				i++
				pause = 0
			} else {
				s.refused++
				pause = min(max(2*pause, 5*time.Millisecond), 200*time.Millisecond)
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *submitter) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}

func (s *submitter) finish() ([]*pb.Job, int) {
	close(s.stop)
	<-s.done
	return s.acked, s.refused
}

// TestRepeatedLeaderPartitions cuts the leader of 5 voters off from every
// other node (coordinators, workers, the client) three times while no-op
// jobs are submitted and run: partitioned, blackholed, and partitioned
// while the other links are slow. Each time the majority elects a new leader
// and keeps acknowledging writes. Throughout, no term has two leaders;
// once healed, every acknowledged job is on every node at the same Raft
// index, every node holds the same jobs in the same order, and every task
// of every job succeeded once, with the same result on every node.
func TestRepeatedLeaderPartitions(t *testing.T) {
	c := startFaultCluster(t, 5, 2, nil)
	c.Net.Node(clientNode)
	terms := watchTerms(c)
	sub := startSubmitter(t, c)
	progress := func(what string, n int) {
		t.Helper()
		from := sub.count()
		testkit.Wait(t, 20*time.Second, fmt.Sprintf("%d more acknowledged submits %s", n, what), func() bool { return sub.count() >= from+n })
	}
	progress("before the first partition", 3)
	// The leader is cut off by a partition (its peers' dials are refused),
	// then by a blackhole (they hang), then by a partition while the links
	// between the others are slow.
	for round, fault := range []string{"partition", "blackhole", "partition with slow links"} {
		var old *coordinator.Server
		testkit.Wait(t, 10*time.Second, "a leader", func() bool { old = c.Leader(); return old != nil })
		switch fault {
		case "blackhole":
			c.Net.Blackhole(old.ID())
		case "partition with slow links":
			for _, a := range c.Coordinators {
				for _, b := range c.Coordinators {
					if a != b && a != old && b != old {
						c.Net.Delay(a.ID(), b.ID(), 5*time.Millisecond)
					}
				}
			}
			c.Isolate(old.ID())
		default:
			c.Isolate(old.ID())
		}
		start := time.Now()
		testkit.Wait(t, 10*time.Second, "a leader among the majority", func() bool {
			l := c.Leader()
			return l != nil && l != old && !old.IsLeader()
		})
		t.Logf("round %d (%s): leader %s cut off; new leader after %s", round+1, fault, old.ID(), time.Since(start).Round(time.Millisecond))
		progress("while the old leader is cut off", 3)
		c.Net.Heal()
		progress("after healing", 2)
	}
	acked, refused := sub.finish()
	leaders, conflicts := terms.finish()
	t.Logf("%d submits acknowledged, %d refused or timed out; %d terms seen with a leader", len(acked), refused, len(leaders))
	for _, m := range conflicts {
		t.Error("split brain: " + m)
	}

	// Every acknowledged job finishes.
	for _, j := range acked {
		if final := waitJob(t, c, j.Id, time.Minute, nil); final.State != pb.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("job %s: %s %s", j.Id, final.State, final.Error)
		}
	}
	// Late commits of unacknowledged submits may still land: wait until the
	// nodes agree on a log where every job has finished.
	testkit.Wait(t, 30*time.Second, "every node to apply the same finished jobs", func() bool {
		l := c.Leader()
		if l == nil {
			return false
		}
		want := l.Store().Snapshot().Jobs()
		for _, j := range want {
			if j.State != pb.JobState_JOB_STATE_SUCCEEDED {
				return false
			}
		}
		for _, s := range c.Coordinators {
			got := s.Store().Snapshot().Jobs()
			if s.AppliedIndex() < l.AppliedIndex() || !slices.EqualFunc(got, want, func(a, b *pb.Job) bool {
				return a.Id == b.Id && a.Seq == b.Seq && a.State == b.State
			}) {
				return false
			}
		}
		return true
	})
	ref := c.Leader().Store().Snapshot()
	for _, j := range acked {
		if got := ref.Job(j.Id); got == nil || got.Seq != j.Seq {
			t.Errorf("job %s acknowledged at index %d, committed as %v", j.Id, j.Seq, got)
		}
	}
	jobs := ref.Jobs()
	t.Logf("%d jobs committed (%d acknowledged)", len(jobs), len(acked))
	for _, s := range c.Coordinators {
		v := s.Store().Snapshot()
		got := v.Jobs()
		for i, j := range jobs {
			if got[i].Id != j.Id || got[i].Seq != j.Seq {
				t.Fatalf("%s: job %d is %s at index %d; the leader has %s at %d", s.ID(), i, got[i].Id, got[i].Seq, j.Id, j.Seq)
			}
			checkTasksOnce(t, s.ID(), got[i], ref.Tasks(j.Id), v.Tasks(j.Id))
		}
	}
}

// checkTasksOnce asserts a finished job's tasks all succeeded, each with
// one committed result, the same on node as on the leader.
func checkTasksOnce(t *testing.T, node string, j *pb.Job, want, got []*pb.Task) {
	t.Helper()
	if j.State != pb.JobState_JOB_STATE_SUCCEEDED || j.TasksSucceeded != j.TasksTotal || int(j.TasksTotal) != len(got) {
		t.Fatalf("%s: job %s %s with %d/%d tasks succeeded, %d tasks", node, j.Id, j.State, j.TasksSucceeded, j.TasksTotal, len(got))
	}
	for i, task := range got {
		if task.State != pb.TaskState_TASK_STATE_SUCCEEDED || task.Result == nil || len(task.Active) != 0 {
			t.Fatalf("%s: job %s task %d is %s (result %v, %d attempts active)", node, j.Id, task.Index, task.State, task.Result, len(task.Active))
		}
		if !proto.Equal(task.Result, want[i].Result) {
			t.Fatalf("%s: job %s task %d committed %v; the leader has %v", node, j.Id, task.Index, task.Result, want[i].Result)
		}
	}
}

// TestQuorumLossRefusesWritesAndRecovers cuts 3 of 5 voters off from each
// other and from the 2 left: no side has a quorum. A submit to any of the
// five fails within a few seconds with Unavailable naming the missing
// leader, never hangs; once healed, a submit succeeds and reaches every
// node.
func TestQuorumLossRefusesWritesAndRecovers(t *testing.T) {
	c := startFaultCluster(t, 5, 0, nil)
	leader, err := c.WaitLeader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := coordinatorIDs(c)
	var cut []string
	for _, id := range ids {
		if id != leader.ID() && len(cut) < 3 {
			cut = append(cut, id)
		}
	}
	for _, id := range cut {
		// Cut from the coordinators only: the client still reaches all five.
		c.Net.Partition([]string{id}, ids)
	}
	t.Logf("leader %s; cut off %v", leader.ID(), cut)
	spec := &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 1}}}
	const bound = 5 * time.Second
	for _, s := range c.Coordinators {
		ctx, cancel := context.WithTimeout(context.Background(), 3*bound)
		start := time.Now()
		_, err := netJobs(t, c, s.Addr()).SubmitJob(ctx, &pb.SubmitJobRequest{Spec: spec})
		took := time.Since(start)
		cancel()
		t.Logf("submit to %s: %v after %s", s.ID(), err, took.Round(time.Millisecond))
		// The old leader says it lost its quorum (or has none); a follower
		// says it could not reach the leader or knows none.
		want := []string{"forwarded to the leader", "no leader with a quorum"}
		if s == leader {
			want = []string{"lost its quorum", "no leader with a quorum"}
		}
		if status.Code(err) != codes.Unavailable || !slices.ContainsFunc(want, func(w string) bool { return strings.Contains(err.Error(), w) }) {
			t.Errorf("submit to %s without a quorum: %v, want Unavailable saying one of %q", s.ID(), err, want)
		}
		if took > bound {
			t.Errorf("submit to %s took %s to fail, want under %s", s.ID(), took, bound)
		}
	}

	c.Net.Heal()
	jobs := netJobs(t, c, leader.Addr())
	var resp *pb.SubmitJobResponse
	testkit.Retry(t, 20*time.Second, "a submit after healing", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var err error
		resp, err = jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: spec})
		return err
	})
	testkit.Wait(t, 20*time.Second, "the job on every node", func() bool {
		for _, s := range c.Coordinators {
			if s.Store().Snapshot().Job(resp.Job.Id) == nil {
				return false
			}
		}
		return true
	})
}

// TestCutOffWorkerOutputNeverCommitted cuts a worker's gRPC to every
// coordinator while it holds scoring attempts, and lets it run them: it
// still reaches storage and writes its attempts' objects, but cannot
// report. The coordinators expire its leases and rescore the shards on
// the other worker. The committed output lists only attempts the
// coordinator accepted, holds every row exactly once, and none of the
// cut-off worker's objects; once healed, its late reports are rejected.
func TestCutOffWorkerOutputNeverCommitted(t *testing.T) {
	f := newFixture(t, 1, 400, 20) // 20 shards
	c := startFaultCluster(t, 3, 2, nil)
	zombie := c.Workers[0]
	if c.Net.Dials(zombie.ID()) == 0 {
		t.Fatal("the worker's coordinator client does not dial through worker.Config.Dialer: a partition could not cut it")
	}
	zombie.Pause() // the Pause hook holds attempts before they write
	job := submitScore(t, c, f, "")
	testkit.Wait(t, 10*time.Second, "the worker to hold attempts", func() bool { return zombie.Running() > 0 })
	// Its attempts, as the leader recorded them.
	type attempt struct {
		task, number int32
	}
	var mine []attempt
	testkit.Wait(t, 10*time.Second, "the leader to record the worker's attempts", func() bool {
		mine = nil
		l := c.Leader()
		if l == nil {
			return false
		}
		for _, task := range l.Store().Snapshot().Tasks(job.Id) {
			for _, a := range task.Active {
				if a.WorkerId == zombie.ID() {
					mine = append(mine, attempt{task.Index, a.Number})
				}
			}
		}
		return len(mine) > 0
	})
	c.Net.Partition([]string{zombie.ID()}, coordinatorIDs(c))
	zombie.Resume()
	b, dir, err := storage.Open(context.Background(), job.OutputDir, f.st)
	if err != nil {
		t.Fatal(err)
	}
	late := map[string]bool{}
	for _, a := range mine {
		late[scoreout.AttemptKey(int(a.task), int(a.number), "")] = true
	}
	testkit.Wait(t, 10*time.Second, "the cut-off worker to write its attempts' objects", func() bool {
		for key := range late {
			if _, err := b.Stat(context.Background(), storage.JoinKey(dir, key)); err != nil {
				return false
			}
		}
		return true
	})
	t.Logf("%s wrote %d objects while cut off: %v", zombie.ID(), len(late), mine)

	final := waitJob(t, c, job.Id, time.Minute, nil)
	if final.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s", final.State, final.Error)
	}
	onlyCommitted(t, checkScoreOutput(t, f, final))
	man, err := scoreout.ReadManifest(context.Background(), b, dir)
	if err != nil {
		t.Fatal(err)
	}
	tasks := c.Leader().Store().Snapshot().Tasks(job.Id)
	for _, o := range man.Objects {
		r := tasks[o.Shard].Result
		if r.WorkerId == zombie.ID() || late[r.Object] {
			t.Fatalf("shard %d committed from the cut-off worker's attempt %d (%s)", o.Shard, r.Attempt, r.Object)
		}
		if o.Checksum != scoreout.Checksum(r.Crc32C) || o.Rows != r.Rows {
			t.Fatalf("shard %d: the manifest lists %s/%d rows, the accepted attempt %d reported %s/%d",
				o.Shard, o.Checksum, o.Rows, r.Attempt, scoreout.Checksum(r.Crc32C), r.Rows)
		}
	}

	// Healed, the worker delivers its reports: rejected as stale, and the
	// committed output stays as it was.
	c.Net.Heal()
	testkit.Wait(t, 20*time.Second, "the healed worker to settle its stale attempts", func() bool { return zombie.Running() == 0 })
	after, err := scoreout.ReadManifest(context.Background(), b, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(after.Objects, man.Objects) {
		t.Fatal("the committed manifest changed after the cut-off worker reported")
	}
	for _, task := range c.Leader().Store().Snapshot().Tasks(job.Id) {
		if task.Result.GetWorkerId() == zombie.ID() {
			t.Fatalf("shard %d committed from the cut-off worker after healing", task.Index)
		}
	}
}
