package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightshift-ml/nightshift/coordinator"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/testkit"
	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker"
)

func startCluster(t *testing.T, coordinators, workers int, tweak func(*Options)) *Cluster {
	t.Helper()
	opts := Options{Coordinators: coordinators, Workers: workers, Slots: 2, DataDir: t.TempDir(), Fast: true}
	if tweak != nil {
		tweak(&opts)
	}
	c, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// onlyCommitted asserts the job folder holds nothing but the committed
// objects, the manifest and the marker (no attempt leftovers).
func onlyCommitted(t *testing.T, keys []string) {
	t.Helper()
	for _, k := range keys {
		if k != scoreout.ManifestName && k != scoreout.SuccessMarker && !strings.HasPrefix(k, "part-") {
			t.Errorf("unexpected object in the job folder: %s", k)
		}
	}
}

// TestScoreExactlyOnceAcrossLeaderFailover scores a 1,000-shard dataset on
// a 3-voter cluster with 3 workers and kills the leader mid-job. The job
// finishes under the new leader without rescoring committed shards, and
// the committed output holds every input row exactly once.
func TestScoreExactlyOnceAcrossLeaderFailover(t *testing.T) {
	f := newFixture(t, 4, 5000, 20) // 20,000 rows in 1,000 shards
	if f.shards < 1000 {
		t.Fatalf("fixture has %d shards", f.shards)
	}
	c := startCluster(t, 3, 3, nil)
	job := submitScore(t, c, f, "failover")
	killed := false
	var doneAtKill int32
	final := waitJob(t, c, job.Id, 3*time.Minute, func(j *pb.Job) {
		if !killed && j.TasksSucceeded >= j.TasksTotal/3 {
			killed = true
			doneAtKill = j.TasksSucceeded
			t.Logf("killing leader coordinator-%d with %d/%d shards done", c.KillLeader()+1, j.TasksSucceeded, j.TasksTotal)
		}
	})
	if !killed {
		t.Fatal("the job finished before the leader could be killed")
	}
	if final.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s", final.State, final.Error)
	}
	onlyCommitted(t, checkScoreOutput(t, f, final))
	// Committed shards were not rescored: a shard's result attempt is its
	// first unless its attempt was in flight or lost.
	l, err := c.WaitLeader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rescored := 0
	for _, task := range l.Store().Snapshot().Tasks(job.Id) {
		if task.Attempts > 1 {
			rescored++
		}
	}
	t.Logf("%d shards done at the kill; %d of %d shards needed more than one attempt", doneAtKill, rescored, f.shards)
	if rescored > f.shards-int(doneAtKill) {
		t.Fatalf("%d shards rescored; only the %d not committed at the kill may be", rescored, f.shards-int(doneAtKill))
	}
	// Resubmitting the same job is a no-op: the existing job comes back.
	again := submitScore(t, c, f, "failover")
	if again.Id != job.Id || again.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("resubmission returned %s (%s), want the finished %s", again.Id, again.State, job.Id)
	}
}

// TestPausedWorkerOutputNeverCommitted pauses a worker holding attempts
// past its lease: the attempts are expired and rescored elsewhere; when
// the worker resumes and writes, its late output is rejected and never
// enters the committed result.
func TestPausedWorkerOutputNeverCommitted(t *testing.T) {
	f := newFixture(t, 1, 400, 20) // 20 shards
	c := startCluster(t, 1, 2, nil)
	zombie := c.Workers[0]
	zombie.Pause()
	job := submitScore(t, c, f, "")
	// Wait until the paused worker holds attempts.
	testkit.Wait(t, 10*time.Second, "the paused worker to hold attempts", func() bool { return zombie.Running() > 0 })
	final := waitJob(t, c, job.Id, time.Minute, nil)
	if final.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s", final.State, final.Error)
	}
	// A late zombie write the worker could not delete (it crashed after
	// writing), made right after the commit: the leader's sweep removes
	// it two lease TTLs after the job ended and leaves the committed
	// output alone.
	b, dir, err := storage.Open(context.Background(), final.OutputDir, f.st)
	if err != nil {
		t.Fatal(err)
	}
	late := storage.JoinKey(dir, scoreout.AttemptKey(0, 99, "parquet"))
	if _, err := b.Put(context.Background(), late, strings.NewReader("late"), 4, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	zombie.Resume()
	// The zombie now writes and reports; wait until it has given up.
	testkit.Wait(t, 20*time.Second, "the resumed worker to finish its stale attempts", func() bool { return zombie.Running() == 0 })
	l := c.Leader()
	for _, task := range l.Store().Snapshot().Tasks(job.Id) {
		if task.Result.GetWorkerId() == zombie.ID() {
			t.Fatalf("shard %d committed from the paused worker", task.Index)
		}
	}
	testkit.Wait(t, 30*time.Second, "the sweep to remove the late attempt object", func() bool {
		_, err := b.Stat(context.Background(), late)
		return errors.Is(err, storage.ErrNotFound)
	})
	checkScoreOutput(t, f, final)
}

// TestKilledWorkerRequeuedByGossip kills a worker mid-job with leases far
// longer than the test: only gossip's failure detection can requeue its
// attempts, and the job still finishes with every row once.
func TestKilledWorkerRequeuedByGossip(t *testing.T) {
	f := newFixture(t, 2, 1000, 20) // 100 shards
	c := startCluster(t, 1, 2, func(o *Options) {
		o.Coordinator = func(_ int, cfg *coordinator.Config) {
			cfg.LeaseTTL = 5 * time.Minute
			cfg.SpeculationMultiplier = 0 // no backup attempts: only gossip can rescue the victim's shards
		}
	})
	victim := c.Workers[0]
	victim.Pause() // hold its attempts so the kill lands mid-task
	job := submitScore(t, c, f, "")
	testkit.Wait(t, 10*time.Second, "the victim to hold attempts", func() bool { return victim.Running() > 0 })
	start := time.Now()
	victim.Kill()
	final := waitJob(t, c, job.Id, time.Minute, nil)
	if final.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s", final.State, final.Error)
	}
	t.Logf("job finished %s after the kill (lease TTL 5m)", time.Since(start).Round(time.Millisecond))
	onlyCommitted(t, checkScoreOutput(t, f, final))
	if w := c.Leader().Store().Snapshot().Worker(victim.ID()); w.State != pb.WorkerState_WORKER_STATE_DOWN {
		t.Fatalf("killed worker is %s", w.State)
	}
}

// TestDrainAndUndrain drains a worker through the admin API: it leases
// nothing new while drained and works again once undrained.
func TestDrainAndUndrain(t *testing.T) {
	c := startCluster(t, 1, 2, nil)
	jobs, admin := clients(t, c.Addr())
	ctx := context.Background()
	w1 := c.Workers[0]
	if _, err := admin.DrainWorker(ctx, &pb.DrainWorkerRequest{Id: w1.ID()}); err != nil {
		t.Fatal(err)
	}
	// The broker reads the worker's state from the committed store on every
	// lease call: once the leader has the drain, the worker gets no task.
	testkit.Wait(t, 5*time.Second, "the leader to record the drain", func() bool {
		l := c.Leader()
		return l != nil && l.Store().Snapshot().Worker(w1.ID()).GetState() == pb.WorkerState_WORKER_STATE_DRAINING
	})
	resp, err := jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 40, SleepMs: 5}}}})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, c, resp.Job.Id, 30*time.Second, nil)
	for _, task := range c.Leader().Store().Snapshot().Tasks(resp.Job.Id) {
		if task.Result.GetWorkerId() == w1.ID() {
			t.Fatalf("drained worker ran task %d", task.Index)
		}
	}
	if _, err := admin.UndrainWorker(ctx, &pb.DrainWorkerRequest{Id: w1.ID()}); err != nil {
		t.Fatal(err)
	}
	var ran atomic.Bool
	testkit.Wait(t, 20*time.Second, "the undrained worker to take work", func() bool {
		r, err := jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 20, SleepMs: 20}}}})
		if err != nil {
			return false
		}
		waitJob(t, c, r.Job.Id, 30*time.Second, nil)
		for _, task := range c.Leader().Store().Snapshot().Tasks(r.Job.Id) {
			if task.Result.GetWorkerId() == w1.ID() {
				ran.Store(true)
			}
		}
		return ran.Load()
	})
}

// TestPermanentFailureNamesTheShard checks a deterministic failure fails
// the job at once, naming the task and the cause, without retries.
func TestPermanentFailureNamesTheShard(t *testing.T) {
	c := startCluster(t, 1, 1, nil)
	jobs, _ := clients(t, c.Addr())
	resp, err := jobs.SubmitJob(context.Background(), &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{
		Tasks: 10, FailTasks: []int32{7}, FailPermanent: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, c, resp.Job.Id, 30*time.Second, nil)
	if j.State != pb.JobState_JOB_STATE_FAILED || !strings.Contains(j.Error, "task 7") || j.Retries != 0 {
		t.Fatalf("job %s retries %d error %q", j.State, j.Retries, j.Error)
	}
}

// TestPoolsAreRespected runs a job in pool "gpu": only the gpu worker runs it.
func TestPoolsAreRespected(t *testing.T) {
	c := startCluster(t, 1, 1, nil)
	gpu, err := c.AddWorker(context.Background(), func(cfg *worker.Config) { cfg.Pool = "gpu"; cfg.ID = "gpu-1" })
	if err != nil {
		t.Fatal(err)
	}
	jobs, _ := clients(t, c.Addr())
	resp, err := jobs.SubmitJob(context.Background(), &pb.SubmitJobRequest{Spec: &pb.JobSpec{Pool: "gpu", Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 20}}}})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, c, resp.Job.Id, 30*time.Second, nil)
	var ran []string
	for _, task := range c.Leader().Store().Snapshot().Tasks(resp.Job.Id) {
		if !slices.Contains(ran, task.Result.GetWorkerId()) {
			ran = append(ran, task.Result.GetWorkerId())
		}
	}
	if len(ran) != 1 || ran[0] != gpu.ID() {
		t.Fatalf("gpu job ran on %v", ran)
	}
}

// TestSpeculativeBackupBeatsStraggler makes one task's first attempt
// straggle: the leader starts a backup attempt on another worker, the
// backup's result is committed and the job does not wait for the straggler.
func TestSpeculativeBackupBeatsStraggler(t *testing.T) {
	c := startCluster(t, 1, 2, nil)
	jobs, _ := clients(t, c.Addr())
	start := time.Now()
	resp, err := jobs.SubmitJob(context.Background(), &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{
		Tasks: 20, SleepMs: 20, SlowTasks: []int32{3}, SlowMs: 20_000}}}})
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, c, resp.Job.Id, 15*time.Second, nil)
	if j.State != pb.JobState_JOB_STATE_SUCCEEDED || j.Speculative < 1 {
		t.Fatalf("job %s with %d speculative attempts: %s", j.State, j.Speculative, j.Error)
	}
	task := c.Leader().Store().Snapshot().Task(resp.Job.Id, 3)
	if task.Result.GetAttempt() < 2 {
		t.Fatalf("straggler committed from attempt %d", task.Result.GetAttempt())
	}
	t.Logf("job done in %s with the straggler's backup (attempt %d)", time.Since(start).Round(time.Millisecond), task.Result.GetAttempt())
}

// TestCancelStopsWorkPromptly cancels a job of long tasks: the workers
// abort their attempts within a couple of heartbeats.
func TestCancelStopsWorkPromptly(t *testing.T) {
	c := startCluster(t, 1, 2, nil)
	jobs, _ := clients(t, c.Addr())
	ctx := context.Background()
	resp, err := jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: &pb.JobSpec{Kind: &pb.JobSpec_Noop{Noop: &pb.NoopSpec{Tasks: 8, SleepMs: 60_000}}}})
	if err != nil {
		t.Fatal(err)
	}
	running := func() int { return c.Workers[0].Running() + c.Workers[1].Running() }
	testkit.Wait(t, 10*time.Second, "tasks to start", func() bool { return running() == 4 })
	start := time.Now()
	if _, err := jobs.CancelJob(ctx, &pb.CancelJobRequest{Id: resp.Job.Id, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	testkit.Wait(t, 5*time.Second, "workers to abort their attempts", func() bool { return running() == 0 })
	t.Logf("attempts aborted %s after cancel", time.Since(start).Round(time.Millisecond))
	j, _ := getJob(c, resp.Job.Id)
	if j.State != pb.JobState_JOB_STATE_CANCELLED || j.Error != "cancelled: test" {
		t.Fatalf("job %s %q", j.State, j.Error)
	}
}
