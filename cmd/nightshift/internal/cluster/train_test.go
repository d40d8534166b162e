package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/testkit"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/worker"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// trainSpec trains a logistic model on the fixture with the sample
// audit on: the job fails unless every training row of every epoch fed
// exactly one applied step.
func trainSpec(f *fixture, name string, minM, maxM int32) *pb.TrainSpec {
	sp := &pb.TrainSpec{
		Dataset: f.dataset, Label: "label", ModelName: name, Output: f.base + "/models",
		Model:     &pb.ModelConfig{Family: "logistic", L2: 1e-4},
		Optimizer: &pb.OptimizerConfig{Name: "adam", Lr: 0.05},
		Epochs:    2, BatchPerMember: 16, MinMembers: minM, MaxMembers: maxM, Seed: 9, Holdout: 0.2,
		CheckpointEverySteps: 40, AuditSamples: true,
	}
	for _, c := range []string{"age", "income", "tenure_months", "purchases", "avg_basket", "days_since_last", "f00", "f01", "f02", "f03"} {
		sp.Features = append(sp.Features, &pb.FeatureSpec{Column: c, Kind: "numeric"})
	}
	for _, c := range []string{"region", "device", "plan"} {
		sp.Features = append(sp.Features, &pb.FeatureSpec{Column: c, Kind: "categorical", Buckets: 8})
	}
	return sp
}

// submitSpec submits a job through any live coordinator, retrying while
// leadership moves.
func submitSpec(t *testing.T, c *Cluster, spec *pb.JobSpec) *pb.Job {
	t.Helper()
	var job *pb.Job
	err := retry(context.Background(), func(ctx context.Context) error {
		jobs, _ := clients(t, c.Addr())
		resp, err := jobs.SubmitJob(ctx, &pb.SubmitJobRequest{Spec: spec})
		if err != nil {
			return err
		}
		job = resp.Job
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// waitTrain polls a training job until cond holds, and returns it.
func waitTrain(t *testing.T, c *Cluster, id string, d time.Duration, what string, cond func(*pb.Job) bool) *pb.Job {
	t.Helper()
	var j *pb.Job
	testkit.Retry(t, d, what, func() error {
		got, err := getJob(c, id)
		if err != nil {
			return err
		}
		if cond(got) {
			j = got
			return nil
		}
		if got.State != pb.JobState_JOB_STATE_RUNNING {
			t.Fatalf("job ended (%s: %s) while waiting for %s; events: %v", got.State, got.Error, what, got.Events)
		}
		return fmt.Errorf("not yet; training status: %v", got.GetTrain())
	})
	return j
}

func workerByID(c *Cluster, id string) *Worker {
	for _, w := range c.Workers {
		if w.ID() == id {
			return w
		}
	}
	return nil
}

// datasetBytes is the size of the fixture dataset's shards (uncompressed
// Arrow IPC: about the size of its decoded batches).
func datasetBytes(t *testing.T, f *fixture) int64 {
	t.Helper()
	ds, err := shard.OpenDataset(context.Background(), f.st, f.dataset)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, s := range ds.Manifest.Shards {
		n += s.Bytes
	}
	return n
}

// checkAudited asserts every epoch's sample audit covered all training rows.
func checkAudited(t *testing.T, j *pb.Job, epochs int) {
	t.Helper()
	ts := j.GetTrain()
	if len(ts.Epochs) != epochs {
		t.Fatalf("%d epoch records, want %d", len(ts.Epochs), epochs)
	}
	for _, e := range ts.Epochs {
		if e.AuditedRows != ts.TrainRows || e.AuditedRows == 0 {
			t.Fatalf("epoch %d: audit counted %d rows exactly once, the job trains on %d", e.Epoch, e.AuditedRows, ts.TrainRows)
		}
	}
}

// TestTrainElastic trains on three members of a 3-voter cluster, each
// streaming a dataset several times its 1 MiB memory budget, and, mid
// epoch, kills one member's worker: the survivors regroup in a new
// generation and step again within 5 s, without a checkpoint. A worker
// added later joins at the next generation; a leader failover does not
// stop the steps. The sample audit proves no training row of any epoch
// was used twice or skipped; the model is registered and promoted, and a
// scoring job by name@production uses it.
func TestTrainElastic(t *testing.T) {
	f := newFixture(t, 2, 15000, 300)
	c := startCluster(t, 3, 3, func(o *Options) {
		o.Worker = func(_ int, cfg *worker.Config) { cfg.TrainStepDelay = 5 * time.Millisecond }
		o.Logger = failureLog(t)
	})
	// A 1 MiB budget per member for a dataset several times larger: the
	// automatic choice streams it.
	sp := trainSpec(f, "churn", 2, 3)
	sp.BatchPerMember, sp.MemoryBudgetMb = 32, 1
	if b := datasetBytes(t, f); b < 3<<20 {
		t.Fatalf("the dataset's shards hold %d bytes, want several times the 1 MiB budget", b)
	}
	job := submitSpec(t, c, &pb.JobSpec{Kind: &pb.JobSpec_Train{Train: sp}})

	j := waitTrain(t, c, job.Id, time.Minute, "a 3-member group at step 30", func(j *pb.Job) bool {
		return len(j.GetTrain().GetMembers()) == 3 && j.GetTrain().GetStep() >= 30
	})
	gen, step := j.Train.Generation, j.Train.Step
	victim := j.Train.Members[1].WorkerId
	workerByID(c, victim).Kill()
	killed := time.Now()
	t.Logf("killed %s (rank 1 of generation %d) at step %d", victim, gen, step)
	j = waitTrain(t, c, job.Id, 10*time.Second, "survivors stepping in a new generation", func(j *pb.Job) bool {
		return j.Train.Generation > gen && j.Train.Step > step+5 && !slices.ContainsFunc(j.Train.Members, func(m *pb.GroupMember) bool { return m.WorkerId == victim })
	})
	regroup := time.Since(killed)
	t.Logf("generation %d with %d members stepping at %d after %s", j.Train.Generation, len(j.Train.Members), j.Train.Step, regroup)
	if regroup > 5*time.Second {
		t.Errorf("the survivors took %s to regroup and step again, want ≤ 5s", regroup)
	}
	if j.Train.CheckpointStep > 0 && j.Train.Restarts != 0 {
		t.Errorf("the survivors restarted from a checkpoint (restarts %d)", j.Train.Restarts)
	}

	// A new worker takes the free member task and joins the next generation.
	nw, err := c.AddWorker(context.Background(), func(cfg *worker.Config) { cfg.TrainStepDelay = 10 * time.Millisecond })
	if err != nil {
		t.Fatal(err)
	}
	j = waitTrain(t, c, job.Id, 20*time.Second, "the new worker in the group", func(j *pb.Job) bool {
		return slices.ContainsFunc(j.Train.Members, func(m *pb.GroupMember) bool { return m.WorkerId == nw.ID() }) && j.Train.Step > step+10
	})
	t.Logf("%s joined in generation %d", nw.ID(), j.Train.Generation)

	// Leader failover: steps go on.
	step = j.Train.Step
	t.Logf("killing leader coordinator-%d at step %d", c.KillLeader()+1, step)
	waitTrain(t, c, job.Id, 20*time.Second, "steps after the failover", func(j *pb.Job) bool { return j.Train.Step > step+20 })

	final := waitJob(t, c, job.Id, 3*time.Minute, nil)
	if final.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s; events %v", final.State, final.Error, final.Events)
	}
	checkAudited(t, final, 2)
	ts := final.Train
	if ts.DataPath != "stream" || ts.InMemoryBytes <= 0 || ts.InMemoryBytes > 1<<20 {
		t.Fatalf("data path %q holding %d bytes, want the stream path within the 1 MiB budget", ts.DataPath, ts.InMemoryBytes)
	}
	if ts.Registered.GetVersion() != 1 || !ts.Promoted {
		t.Fatalf("registered %v promoted %v (%s), want v1 promoted", ts.Registered, ts.Promoted, ts.PromotionReason)
	}
	if ts.Metrics["auc"] < 0.7 {
		t.Fatalf("holdout metrics %v", ts.Metrics)
	}
	m, err := model.Load(context.Background(), f.st, ts.ArtifactUri)
	if err != nil {
		t.Fatal(err)
	}
	if m.Spec.Lineage == nil || len(m.Spec.Lineage.Membership) == 0 || m.Spec.Lineage.DatasetFingerprint != final.DatasetFingerprint {
		t.Fatalf("artifact lineage %+v", m.Spec.Lineage)
	}

	// Scoring by registry reference resolves to the promoted version.
	score := submitSpec(t, c, &pb.JobSpec{Kind: &pb.JobSpec_Score{Score: &pb.ScoreSpec{
		Model: "churn@production", Input: f.dataset, Output: f.base + "/scored", Passthrough: []string{"id"}}}})
	sj := waitJob(t, c, score.Id, 2*time.Minute, nil)
	if sj.State != pb.JobState_JOB_STATE_SUCCEEDED || sj.RowsDone != f.rows {
		t.Fatalf("score job %s: %s, %d of %d rows", sj.State, sj.Error, sj.RowsDone, f.rows)
	}
}

// TestTrainDeterministic runs the same training job twice on two members
// with no membership change: the artifacts' weights are bit-identical.
func TestTrainDeterministic(t *testing.T) {
	f := newFixture(t, 1, 4000, 1000)
	c := startCluster(t, 1, 2, nil)
	var weights [][]float32
	for i, key := range []string{"run-a", "run-b"} {
		sp := trainSpec(f, "det", 2, 2)
		j := submitSpec(t, c, &pb.JobSpec{IdempotencyKey: key, Kind: &pb.JobSpec_Train{Train: sp}})
		final := waitJob(t, c, j.Id, 2*time.Minute, nil)
		if final.State != pb.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("run %d: %s: %s", i, final.State, final.Error)
		}
		checkAudited(t, final, 2)
		if n := len(final.Train.History); n != 1 {
			t.Fatalf("run %d: %d generations, want 1", i, n)
		}
		m, err := model.Load(context.Background(), f.st, final.Train.ArtifactUri)
		if err != nil {
			t.Fatal(err)
		}
		weights = append(weights, m.Weights())
	}
	if !slices.EqualFunc(weights[0], weights[1], func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
		t.Fatal("same dataset, spec, seed and membership history gave different weights")
	}
}

// TestTrainGroupLostResumesFromCheckpoint kills every member of a group
// mid-training: fresh workers form the next generation, which resumes
// from the last checkpoint (a restart, counted), and the job still ends
// with every epoch's rows counted exactly once.
func TestTrainGroupLostResumesFromCheckpoint(t *testing.T) {
	f := newFixture(t, 1, 4000, 1000)
	slow := func(_ int, cfg *worker.Config) { cfg.TrainStepDelay = 10 * time.Millisecond }
	c := startCluster(t, 1, 2, func(o *Options) { o.Worker, o.Logger = slow, failureLog(t) })
	sp := trainSpec(f, "resume", 2, 2)
	sp.CheckpointEverySteps = 20
	job := submitSpec(t, c, &pb.JobSpec{Kind: &pb.JobSpec_Train{Train: sp}})
	j := waitTrain(t, c, job.Id, time.Minute, "a checkpoint past step 40", func(j *pb.Job) bool {
		return j.GetTrain().GetCheckpointStep() >= 40
	})
	for _, m := range j.Train.Members {
		workerByID(c, m.WorkerId).Kill()
	}
	t.Logf("killed the whole group at step %d (checkpoint at %d)", j.Train.Step, j.Train.CheckpointStep)
	for range 2 {
		if _, err := c.AddWorker(context.Background(), func(cfg *worker.Config) { slow(0, cfg) }); err != nil {
			t.Fatal(err)
		}
	}
	final := waitJob(t, c, job.Id, 2*time.Minute, nil)
	if final.State != pb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %s: %s; events %v", final.State, final.Error, final.Events)
	}
	if final.Train.Restarts != 1 {
		t.Fatalf("restarts %d, want 1", final.Train.Restarts)
	}
	checkAudited(t, final, 2)
	m, err := model.Load(context.Background(), f.st, final.Train.ArtifactUri)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Spec.Lineage.Membership), `"source":"checkpoint"`) {
		t.Fatalf("membership history does not show the checkpoint resume: %s", m.Spec.Lineage.Membership)
	}
}

// failureLog returns a logger that keeps the cluster's log in memory and
// prints its last lines if the test fails: a training flake is otherwise
// a timeout without a story.
func failureLog(t *testing.T) *slog.Logger {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		lines := strings.Split(buf.String(), "\n")
		t.Logf("last cluster log lines:\n%s", strings.Join(lines[max(0, len(lines)-300):], "\n"))
	})
	return slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
