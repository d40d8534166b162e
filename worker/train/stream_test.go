package train_test

import (
	"context"
	"errors"
	"testing"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/worker/collective"
	"github.com/nightshift-ml/nightshift/worker/train"
)

// newPathTrainer loads the dataset on the given data path with windows of
// window chunks (many windows on a small dataset).
func newPathTrainer(t *testing.T, sp *pb.TrainSpec, path string, window int) *train.Trainer {
	t.Helper()
	sp.DataPath = path
	tr := newTrainer(t, sp)
	if got := tr.Data().Path; got != path {
		t.Fatalf("data path %q, want %q", got, path)
	}
	tr.Data().SetWindow(window)
	return tr
}

// stopping is a Comm whose whole generation stops after step stopAt: at
// the first all-reduce after it, every member first completes one more
// (tiny) all-reduce with the others — so all have applied exactly stopAt
// steps — then fails, as members do when a new generation supersedes
// theirs.
type stopping struct {
	*collective.Group
	stopAt  int64
	applied int64
}

var errSuperseded = errors.New("generation superseded")

func (s *stopping) AllReduce(ctx context.Context, v []float32) error {
	if s.applied >= s.stopAt {
		if err := s.Group.AllReduce(ctx, make([]float32, 1)); err != nil {
			return err
		}
		return errSuperseded
	}
	return s.Group.AllReduce(ctx, v)
}

// runUntil runs one generation of ms that stops after step stopAt (0:
// runs to the end), with the given extra hooks.
func runUntil(t *testing.T, r *ring, gen uint64, ms []member, ckpt, stopAt int64, extra train.Hooks) {
	t.Helper()
	errs := runGenerationWrapped(t, r, "job", gen, ms, ckpt, func(rank int, g *collective.Group) (train.Comm, train.Hooks) {
		h := extra
		if stopAt == 0 {
			return g, h
		}
		s := &stopping{Group: g, stopAt: stopAt}
		applied := h.Applied
		h.Applied = func(step int64, rows []int64) {
			s.applied = step
			if applied != nil {
				applied(step, rows)
			}
		}
		return s, h
	})
	for rank, err := range errs {
		if stopAt == 0 && err != nil {
			t.Fatalf("generation %d rank %d: %v", gen, rank, err)
		}
		if stopAt > 0 && !errors.Is(err, errSuperseded) {
			t.Fatalf("generation %d rank %d: %v, want it stopped after step %d", gen, rank, err, stopAt)
		}
	}
	for rank, m := range ms {
		if stopAt > 0 && m.tr.State().Step != stopAt {
			t.Fatalf("generation %d rank %d stopped at step %d, want %d", gen, rank, m.tr.State().Step, stopAt)
		}
	}
}

// elasticRun trains with a membership history that changes the group
// size twice mid-epoch — 3 members for 5 steps, 2 for 5 more, then 3 (two
// of them new) to the end — and returns the final state.
func elasticRun(t *testing.T, sp *pb.TrainSpec, path string, window int) *train.State {
	t.Helper()
	r := newRing(t, 5)
	ms := []member{{newPathTrainer(t, sp, path, window), 0}, {newPathTrainer(t, sp, path, window), 1}, {newPathTrainer(t, sp, path, window), 2}}
	runUntil(t, r, 1, ms, 0, 5, train.Hooks{})
	runUntil(t, r, 2, []member{ms[1], ms[0]}, 0, 10, train.Hooks{})
	joiners := []member{ms[0], {newPathTrainer(t, sp, path, window), 3}, {newPathTrainer(t, sp, path, window), 4}}
	runUntil(t, r, 3, joiners, 0, 0, train.Hooks{})
	st := joiners[0].tr.State()
	for _, m := range joiners[1:] {
		if !sameBits(m.tr.State().Params, st.Params) {
			t.Fatal("members of the last generation disagree on the parameters")
		}
	}
	train := ms[0].tr.Data().TrainRows
	if len(st.Epochs) != int(sp.Epochs) {
		t.Fatalf("%d epoch records, want %d", len(st.Epochs), sp.Epochs)
	}
	for _, e := range st.Epochs {
		if e.AuditedRows != train {
			t.Fatalf("epoch %d audited %d rows, want %d", e.Epoch, e.AuditedRows, train)
		}
	}
	if st.Samples != int64(sp.Epochs)*train {
		t.Fatalf("%d samples over %d epochs of %d rows: rows were padded, dropped or repeated", st.Samples, sp.Epochs, train)
	}
	return st
}

// TestStreamMatchesMemory trains the same jobs through the same
// membership history (the group size changing mid-epoch, members joining
// with nothing) on the memory path and on the stream path with one chunk
// per window: the audit proves every epoch used every training row
// exactly once on both, and the weights and holdout metrics are
// bit-identical.
func TestStreamMatchesMemory(t *testing.T) {
	ds := trainDataset(t, 3000)
	mlp := func() *pb.TrainSpec {
		sp := logisticSpec(ds)
		sp.Model = &pb.ModelConfig{Family: "mlp", Hidden: []int32{16}, Objective: "binary"}
		return sp
	}
	for _, c := range []struct {
		name string
		spec func() *pb.TrainSpec
	}{{"logistic", func() *pb.TrainSpec { return logisticSpec(ds) }}, {"mlp", mlp}} {
		t.Run(c.name, func(t *testing.T) {
			mem := elasticRun(t, c.spec(), train.PathMemory, 1)
			str := elasticRun(t, c.spec(), train.PathStream, 1)
			if !sameBits(mem.Params, str.Params) {
				t.Fatal("the stream path's weights differ from the memory path's")
			}
			for i := range mem.Epochs {
				a, b := mem.Epochs[i], str.Epochs[i]
				if a.TrainLoss != b.TrainLoss || a.Holdout["logloss"] != b.Holdout["logloss"] || a.Holdout["auc"] != b.Holdout["auc"] {
					t.Fatalf("epoch %d: memory %+v, stream %+v", i, a, b)
				}
			}
			if auc := str.Epochs[len(str.Epochs)-1].Holdout["auc"]; auc < 0.7 {
				t.Fatalf("holdout auc %v: the model did not learn", auc)
			}
		})
	}
}

// TestStreamResumesMidEpoch stops a streaming group mid-epoch and resumes
// it with fresh members from the last checkpoint (taken mid-window): the
// weights are bit-identical to a run that never stopped.
func TestStreamResumesMidEpoch(t *testing.T) {
	ds := trainDataset(t, 3000)
	sp := logisticSpec(ds)
	sp.CheckpointEverySteps = 5
	hooks := newCheckpointStore().hooks()
	r := newRing(t, 6)
	whole := []member{{newPathTrainer(t, sp, train.PathStream, 1), 0}, {newPathTrainer(t, sp, train.PathStream, 1), 1}}
	runUntil(t, r, 1, whole, 0, 0, train.Hooks{})

	ms := []member{{newPathTrainer(t, sp, train.PathStream, 1), 2}, {newPathTrainer(t, sp, train.PathStream, 1), 3}}
	runUntil(t, r, 1, ms, 0, 13, hooks)
	fresh := []member{{newPathTrainer(t, sp, train.PathStream, 1), 4}, {newPathTrainer(t, sp, train.PathStream, 1), 5}}
	runUntil(t, r, 2, fresh, 10, 0, hooks)
	st := fresh[0].tr.State()
	if g := st.History[len(st.History)-1]; g.Source != "checkpoint" || g.Step != 10 {
		t.Fatalf("the new group started from %s at step %d, want the checkpoint of step 10", g.Source, g.Step)
	}
	if !sameBits(st.Params, whole[0].tr.State().Params) {
		t.Fatal("resuming mid-epoch from a checkpoint changed the weights")
	}
	if st.Epochs[0].AuditedRows != fresh[0].tr.Data().TrainRows {
		t.Fatalf("epoch 1 audited %d rows", st.Epochs[0].AuditedRows)
	}
}
