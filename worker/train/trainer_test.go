package train_test

import (
	"context"
	"errors"
	"math"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/sample"
	"github.com/nightshift-ml/nightshift/storage"
	"github.com/nightshift-ml/nightshift/worker/collective"
	"github.com/nightshift-ml/nightshift/worker/train"
)

// trainDataset ingests a small generated dataset (labels drawn from a
// known logistic model) and returns its URI.
func trainDataset(t *testing.T, rows int) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	uri := func(rel string) string { return "file://" + filepath.Join(dir, rel) }
	b, key, err := storage.Open(ctx, uri("src"), storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Write(ctx, b, key, sample.Spec{Files: 1, RowsPerFile: rows, Features: 2, Seed: 11, Format: "parquet"}); err != nil {
		t.Fatal(err)
	}
	res, err := shard.Ingest(ctx, storage.Config{}, []string{uri("src/raw")}, uri("ds"),
		shard.Options{RowsPerShard: int64(rows / 3), BatchRows: 700}, shard.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.URI
}

func logisticSpec(ds string) *pb.TrainSpec {
	sp := &pb.TrainSpec{
		Dataset: ds, Label: "label", ModelName: "churn", Output: "file:///unused",
		Model:     &pb.ModelConfig{Family: "logistic", L2: 1e-4},
		Optimizer: &pb.OptimizerConfig{Name: "adam", Lr: 0.05},
		Epochs:    2, BatchPerMember: 64, Seed: 5, Holdout: 0.2, AuditSamples: true,
	}
	for _, c := range []string{"age", "income", "tenure_months", "purchases", "avg_basket", "days_since_last", "f00", "f01"} {
		sp.Features = append(sp.Features, &pb.FeatureSpec{Column: c, Kind: "numeric"})
	}
	for _, c := range []string{"region", "device", "plan"} {
		sp.Features = append(sp.Features, &pb.FeatureSpec{Column: c, Kind: "categorical", Buckets: 8})
	}
	return sp
}

// ring is n collective hubs, each behind a real gRPC server on loopback.
type ring struct {
	addrs []string
	hubs  []*collective.Hub
}

func newRing(t *testing.T, n int) *ring {
	t.Helper()
	r := &ring{}
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		h, stop, err := collective.Serve(ln, rpc.TLSConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		r.addrs, r.hubs = append(r.addrs, ln.Addr().String()), append(r.hubs, h)
	}
	return r
}

// member is one trainer on one hub of the ring.
type member struct {
	tr  *train.Trainer
	hub int
}

// runGeneration runs one generation of the given members (in rank order)
// to its end, each on its own goroutine, and returns their errors.
func runGeneration(t *testing.T, r *ring, job string, gen uint64, ms []member, ckpt int64, hooks func(rank int) train.Hooks) []error {
	t.Helper()
	return runGenerationWrapped(t, r, job, gen, ms, ckpt, func(rank int, g *collective.Group) (train.Comm, train.Hooks) {
		if hooks == nil {
			return g, train.Hooks{}
		}
		return g, hooks(rank)
	})
}

func newTrainer(t *testing.T, sp *pb.TrainSpec) *train.Trainer {
	t.Helper()
	d, err := train.Load(context.Background(), storage.Config{}, sp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Release)
	return train.NewTrainer(sp, d)
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
}

func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// TestTrainGroupDeterministic trains the same job twice on two members:
// both members end with the same parameters, both runs bit-identically,
// the sample audit counts every training row exactly once per epoch, and
// the holdout metrics are those of a model that learnt something.
func TestTrainGroupDeterministic(t *testing.T) {
	ds := trainDataset(t, 3000)
	var params [][]float32
	for run := range 2 {
		sp := logisticSpec(ds)
		r := newRing(t, 2)
		ms := []member{{newTrainer(t, sp), 0}, {newTrainer(t, sp), 1}}
		noErrors(t, runGeneration(t, r, "job", 1, ms, 0, nil))
		a, b := ms[0].tr.State(), ms[1].tr.State()
		if !sameBits(a.Params, b.Params) {
			t.Fatalf("run %d: members disagree on the parameters", run)
		}
		if len(a.Epochs) != 2 {
			t.Fatalf("run %d: %d epoch records, want 2", run, len(a.Epochs))
		}
		train := ms[0].tr.Data().TrainRows
		for _, e := range a.Epochs {
			if e.AuditedRows != train {
				t.Fatalf("epoch %d audited %d rows, want %d", e.Epoch, e.AuditedRows, train)
			}
		}
		last := a.Epochs[1].Holdout
		if last["auc"] < 0.7 || last["logloss"] > 0.65 || last["rows"] == 0 {
			t.Fatalf("holdout metrics %v: the model did not learn", last)
		}
		params = append(params, a.Params)
	}
	if !sameBits(params[0], params[1]) {
		t.Fatal("two runs with the same dataset, spec, seed and membership differ")
	}
}

// dying is a member's Comm that dies (closes its group, as a killed
// process's connections close) at the first collective after its trainer
// applied step dieAfter.
type dying struct {
	*collective.Group
	dieAfter int64
	applied  int64
}

func (d *dying) AllReduce(ctx context.Context, v []float32) error {
	if d.applied >= d.dieAfter {
		d.Group.Close()
		return errors.New("member killed")
	}
	return d.Group.AllReduce(ctx, v)
}

// TestTrainGroupLosesMember kills one member of three mid-epoch, on each
// data path (the stream path with one chunk per window): the two
// survivors regroup in a new generation without a checkpoint and finish
// from the last completed step; the audit proves no training row of any
// epoch was used twice or skipped. Replaying the same membership history
// gives bit-identical weights, and a worker joining later receives the
// state from a peer.
func TestTrainGroupLosesMember(t *testing.T) {
	for _, path := range []string{train.PathMemory, train.PathStream} {
		t.Run(path, func(t *testing.T) { testLosesMember(t, path) })
	}
}

func testLosesMember(t *testing.T, path string) {
	ds := trainDataset(t, 3000)
	const killAt = 7
	run := func() (*train.State, *train.State) {
		sp := logisticSpec(ds)
		r := newRing(t, 4)
		ms := []member{{newPathTrainer(t, sp, path, 1), 0}, {newPathTrainer(t, sp, path, 1), 1}, {newPathTrainer(t, sp, path, 1), 2}}
		errs := runGenerationWrapped(t, r, "job", 1, ms, 0, func(rank int, g *collective.Group) (train.Comm, train.Hooks) {
			if rank != 2 {
				return g, train.Hooks{}
			}
			d := &dying{Group: g, dieAfter: killAt}
			return d, train.Hooks{Applied: func(step int64, _ []int64) { d.applied = step }}
		})
		for rank, err := range errs {
			if err == nil {
				t.Fatalf("rank %d finished although a member died", rank)
			}
		}
		// Rank 2 dies right after applying step killAt; a survivor may
		// have missed the last chunks of that step (the dying member's
		// stream was cut), so it holds killAt or killAt-1 applied steps.
		for rank, m := range ms[:2] {
			if s := m.tr.State().Step; s != killAt && s != killAt-1 {
				t.Fatalf("survivor %d stopped at step %d, want %d or %d", rank, s, killAt-1, killAt)
			}
		}
		// Generation 2: the survivors continue from their state.
		noErrors(t, runGeneration(t, r, "job", 2, ms[:2], 0, nil))
		st := ms[0].tr.State()
		if g := st.History[1]; g.Source != "peer" || g.Step < killAt-1 {
			t.Fatalf("generation 2 started from %s at step %d, want a peer's state at ≥ %d", g.Source, g.Step, killAt-1)
		}
		if !ms[0].tr.Done() || !sameBits(st.Params, ms[1].tr.State().Params) {
			t.Fatal("survivors did not finish with identical parameters")
		}
		for _, e := range st.Epochs {
			if e.AuditedRows != ms[0].tr.Data().TrainRows {
				t.Fatalf("epoch %d audited %d rows", e.Epoch, e.AuditedRows)
			}
		}
		// Generation 3: a new worker joins the finished group and gets
		// everything from a peer.
		joiner := member{newPathTrainer(t, sp, path, 1), 3}
		noErrors(t, runGeneration(t, r, "job", 3, []member{ms[1], ms[0], joiner}, 0, nil))
		if !sameBits(joiner.tr.State().Params, st.Params) || joiner.tr.State().Step != st.Step {
			t.Fatal("the joiner did not receive the group's state")
		}
		return st, joiner.tr.State()
	}
	a, _ := run()
	b, _ := run()
	if a.History[1].Step != b.History[1].Step {
		t.Skipf("the survivors stopped at different steps (%d, %d): membership histories differ", a.History[1].Step, b.History[1].Step)
	}
	if !sameBits(a.Params, b.Params) {
		t.Fatal("replaying the membership history gave different weights")
	}
}

// TestTrainGroupResumesFromCheckpoint loses the whole group: a new group
// of fresh members resumes from the last checkpoint and the audit still
// counts every row exactly once.
func TestTrainGroupResumesFromCheckpoint(t *testing.T) {
	ds := trainDataset(t, 3000)
	sp := logisticSpec(ds)
	sp.CheckpointEverySteps = 5
	store := newCheckpointStore()
	hooks := func(die *dying) train.Hooks {
		h := store.hooks()
		h.Applied = func(step int64, _ []int64) {
			if die != nil {
				die.applied = step
			}
		}
		return h
	}
	r := newRing(t, 4)
	ms := []member{{newTrainer(t, sp), 0}, {newTrainer(t, sp), 1}}
	runGenerationWrapped(t, r, "job", 1, ms, 0, func(rank int, g *collective.Group) (train.Comm, train.Hooks) {
		d := &dying{Group: g, dieAfter: 12}
		return d, hooks(d)
	})
	last := store.last()
	if last != 10 {
		t.Fatalf("last checkpoint at step %d, want 10", last)
	}
	fresh := []member{{newTrainer(t, sp), 2}, {newTrainer(t, sp), 3}}
	noErrors(t, runGenerationWrapped(t, r, "job", 2, fresh, last, func(rank int, g *collective.Group) (train.Comm, train.Hooks) {
		return g, hooks(nil)
	}))
	st := fresh[0].tr.State()
	if g := st.History[len(st.History)-1]; g.Source != "checkpoint" || g.Step != last {
		t.Fatalf("generation 2 started from %s at step %d, want the checkpoint at %d", g.Source, g.Step, last)
	}
	for _, e := range st.Epochs {
		if e.AuditedRows != fresh[0].tr.Data().TrainRows {
			t.Fatalf("epoch %d audited %d rows", e.Epoch, e.AuditedRows)
		}
	}
}

// checkpointStore keeps a group's checkpoints in memory.
type checkpointStore struct {
	mu    sync.Mutex
	ckpts map[int64][]byte
}

func newCheckpointStore() *checkpointStore { return &checkpointStore{ckpts: map[int64][]byte{}} }

// hooks writes checkpoints to the store and reads them back.
func (c *checkpointStore) hooks() train.Hooks {
	return train.Hooks{
		Checkpoint: func(_ context.Context, st *train.State) error {
			b, err := st.MarshalBinary()
			c.mu.Lock()
			c.ckpts[st.Step] = b
			c.mu.Unlock()
			return err
		},
		LoadCheckpoint: func(_ context.Context, step int64) (*train.State, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			st := &train.State{}
			return st, st.UnmarshalBinary(c.ckpts[step])
		},
	}
}

// last is the step of the newest checkpoint (0: none).
func (c *checkpointStore) last() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := int64(0)
	for s := range c.ckpts {
		last = max(last, s)
	}
	return last
}

// runGenerationWrapped is runGeneration with a per-rank Comm and hooks.
func runGenerationWrapped(t *testing.T, r *ring, job string, gen uint64, ms []member, ckpt int64, wrap func(rank int, g *collective.Group) (train.Comm, train.Hooks)) []error {
	t.Helper()
	addrs := make([]string, len(ms))
	for i, m := range ms {
		addrs[i] = r.addrs[m.hub]
	}
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for rank, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := r.hubs[m.hub].Join(context.Background(), collective.Config{Group: job, Generation: gen, Rank: rank, Addrs: addrs})
			if err != nil {
				errs[rank] = err
				return
			}
			defer g.Close()
			c, h := wrap(rank, g)
			errs[rank] = m.tr.Generation(context.Background(), c, gen, addrs, ckpt, h)
			if errs[rank] != nil {
				g.Close() // a failed member leaves, breaking the ring for the rest
			}
		}()
	}
	wg.Wait()
	return errs
}
