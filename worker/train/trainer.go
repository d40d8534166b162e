package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/worker/model"
)

// Comm is what a trainer needs from its group generation: the collectives
// of package collective (a *collective.Group).
type Comm interface {
	Size() int
	Rank() int
	// AllReduce sums v element-wise across the group, in a fixed order, so
	// every member gets bit-identical sums.
	AllReduce(ctx context.Context, v []float32) error
	// Broadcast returns root's data on every member.
	Broadcast(ctx context.Context, root int, data []byte) ([]byte, error)
}

// Hooks connect a trainer to the world outside its group: the
// coordinator (progress, metrics) and storage (checkpoints). Only rank 0
// calls Progress, Epoch and Checkpoint; every hook may be nil.
type Hooks struct {
	// Progress follows every applied step.
	Progress func(st *State, totalSteps int64)
	// Epoch follows every finished epoch, with its record.
	Epoch func(st *State, rec EpochRecord)
	// Checkpoint stores a copy of the state; called when one is due.
	Checkpoint func(ctx context.Context, st *State) error
	// LoadCheckpoint returns the checkpoint written at step.
	LoadCheckpoint func(ctx context.Context, step int64) (*State, error)
	// Synced follows the state synchronisation that starts a generation,
	// with where the state came from: "init", "peer" or "checkpoint".
	Synced func(st *State, source string)
	// Applied follows every applied step on every member with the rows
	// (dataset row numbers) this member computed in it; tests count them.
	Applied func(step int64, rows []int64)
}

// Trainer is one member's side of a data-parallel training job. Its state
// survives group generations: a member that stays in the group continues
// from it, a joining member receives it from a peer, and a group that lost
// everyone resumes from a checkpoint (docs/architecture.md §8).
type Trainer struct {
	spec  *pb.TrainSpec
	data  *Data
	mspec model.Spec // with statistics, once known
	obj   Objective
	opt   Optimizer
	st    *State           // nil until the first generation synchronised it
	pred  *model.Predictor // the pipeline, for windows read from storage

	seg      *segment // the current segment's plan
	cur      *cursor  // this member's place in it
	buf      []float32
	lastCkpt time.Time

	lbX, lbY, lbTX, lbTY []float32 // full-batch scratch: a chunk, its training rows
}

// NewTrainer returns a trainer over data, which it owns from now on.
func NewTrainer(spec *pb.TrainSpec, data *Data) *Trainer {
	data.plan.batch = int64(max(1, spec.BatchPerMember))
	return &Trainer{spec: spec, data: data}
}

// State returns the trainer's state (nil before the first generation).
func (t *Trainer) State() *State { return t.st }

// Data returns the dataset the trainer trains on.
func (t *Trainer) Data() *Data { return t.data }

// epochs is the number of passes: one for full-batch L-BFGS.
func (t *Trainer) epochs() int32 {
	if t.spec.GetOptimizer().GetName() == "lbfgs" {
		return 1
	}
	return max(1, t.spec.Epochs)
}

// Done reports whether training finished.
func (t *Trainer) Done() bool { return t.st != nil && t.st.Epoch >= t.epochs() }

// Generation runs one group generation: it synchronises the state across
// the group, then steps until training is done (nil) or the generation
// breaks (an error: a member left, ctx was cancelled for a newer
// generation). The state is only ever changed by a whole step, so a broken
// generation leaves it at the last completed step. A permanent error wraps
// ErrBadData.
func (t *Trainer) Generation(ctx context.Context, comm Comm, gen uint64, members []string, ckptStep int64, hooks Hooks) error {
	source, err := t.sync(ctx, comm, ckptStep, hooks)
	if err != nil {
		return err
	}
	t.st.History = append(t.st.History, Generation{Generation: gen, Step: t.st.Step, Members: members, Source: source})
	if comm.Rank() == 0 && hooks.Synced != nil {
		hooks.Synced(t.st, source)
	}
	t.lastCkpt = time.Now()
	if t.spec.GetOptimizer().GetName() == "lbfgs" {
		return t.fullBatch(ctx, comm, hooks)
	}
	t.beginSegment(comm.Size())
	defer t.closeCursor()
	for !t.Done() {
		seg := t.segment(comm.Size())
		if t.st.SegSteps < seg.steps() {
			if err := t.step(ctx, comm, seg, hooks); err != nil {
				return err
			}
			continue
		}
		if err := t.endEpoch(ctx, comm, hooks); err != nil {
			return err
		}
	}
	return nil
}

// beginSegment adapts the epoch's plan to a group of n members at the
// start of a generation: a group of another size than the segment's
// marks the rows the segment's steps used as consumed and starts a new
// segment over the rest. Every member does this to the same synchronised
// state, so all agree.
func (t *Trainer) beginSegment(n int) {
	st := t.st
	if int(st.SegMembers) == n {
		return
	}
	if st.SegSteps > 0 {
		old := t.data.plan.segment(st.Epoch, st.Segment, int(st.SegMembers), st.Consumed)
		st.Consumed = old.consume(st.SegSteps)
		st.Segment++
		st.SegSteps = 0
	}
	st.SegMembers = int32(n)
	t.closeCursor()
	t.seg = nil
}

// segment returns the plan of the state's current segment.
func (t *Trainer) segment(n int) *segment {
	st := t.st
	if s := t.seg; s == nil || s.epoch != st.Epoch || s.index != st.Segment || s.n != n {
		t.closeCursor()
		t.seg = t.data.plan.segment(st.Epoch, st.Segment, n, st.Consumed)
	}
	return t.seg
}

func (t *Trainer) closeCursor() {
	if t.cur != nil {
		t.cur.close()
		t.cur = nil
	}
}

// sync makes every member's state the group's: the member with the most
// steps (or, when a newer checkpoint exists or nobody has state, the
// checkpoint) is the source, and it broadcasts its state. A group without
// any state or checkpoint initialises one together (statistics pass).
func (t *Trainer) sync(ctx context.Context, comm Comm, ckptStep int64, hooks Hooks) (string, error) {
	n, rank := comm.Size(), comm.Rank()
	// Per member: has state, its step, the newest checkpoint it knows.
	v := make([]float32, 5*n)
	if t.st != nil {
		v[5*rank] = 1
		putStep(v[5*rank+1:], t.st.Step)
	}
	putStep(v[5*rank+3:], max(ckptStep, 0))
	if err := comm.AllReduce(ctx, v); err != nil {
		return "", err
	}
	root, best, ckpt := -1, int64(-1), int64(0)
	for r := range n {
		c, err := getStep(v[5*r+3:])
		if err != nil {
			return "", err
		}
		ckpt = max(ckpt, c)
		if v[5*r] == 0 {
			continue
		}
		s, err := getStep(v[5*r+1:])
		if err != nil {
			return "", err
		}
		if s > best {
			root, best = r, s
		}
	}
	source := "peer"
	switch {
	case root < 0 && ckpt == 0:
		return "init", t.initialise(ctx, comm)
	case ckpt > best:
		source, root = "checkpoint", 0
	}
	var payload []byte
	if rank == root {
		st := t.st
		if source == "checkpoint" {
			if hooks.LoadCheckpoint == nil {
				return "", errors.New("train: a checkpoint is needed but there is no way to load it")
			}
			var err error
			if st, err = hooks.LoadCheckpoint(ctx, ckpt); err != nil {
				return "", fmt.Errorf("loading the checkpoint of step %d: %w", ckpt, err)
			}
		} else {
			st.Opt = t.opt.State()
		}
		var err error
		if payload, err = st.MarshalBinary(); err != nil {
			return "", err
		}
	}
	payload, err := comm.Broadcast(ctx, root, payload)
	if err != nil {
		return "", err
	}
	st := &State{}
	if err := st.UnmarshalBinary(payload); err != nil {
		return "", fmt.Errorf("state from rank %d: %w", root, err)
	}
	return source, t.adopt(st)
}

// adopt makes st this member's state, building what depends on it (the
// feature matrix, the objective, the optimiser) the first time.
func (t *Trainer) adopt(st *State) error {
	if t.obj == nil {
		if err := t.data.Build(st.Means, st.Stds, st.Classes); err != nil {
			return err
		}
		spec, err := t.data.SpecWith(st.Means, st.Stds)
		if err != nil {
			return err
		}
		spec.Classes = st.Classes
		t.mspec = spec
		if t.obj, err = NewObjective(&spec, t.spec.GetModel().GetL2()); err != nil {
			return err
		}
		if t.opt, err = t.newOptimizer(); err != nil {
			return err
		}
		if t.data.X == nil {
			if t.pred, err = t.data.predictor(st.Means, st.Stds); err != nil {
				return err
			}
		}
	}
	if len(st.Params) != t.obj.NumParams() {
		return fmt.Errorf("%w: %d parameters, the model has %d", ErrBadState, len(st.Params), t.obj.NumParams())
	}
	if st.Opt != nil {
		if err := t.opt.SetState(st.Opt); err != nil {
			return err
		}
	}
	if st.Coverage != nil && len(st.Coverage) != t.data.Rows {
		return fmt.Errorf("%w: a sample audit of %d rows, the dataset has %d", ErrBadState, len(st.Coverage), t.data.Rows)
	}
	if st.Consumed != nil && int64(len(st.Consumed)) != (int64(t.data.Rows)+63)/64 {
		return fmt.Errorf("%w: %d words of consumed rows for %d rows", ErrBadState, len(st.Consumed), t.data.Rows)
	}
	t.closeCursor()
	t.seg = nil
	t.st = st
	return nil
}

// initialise computes the feature statistics across the group (each
// member its share of the training rows, exchanged exactly as float64)
// and the initial parameters from the seed.
func (t *Trainer) initialise(ctx context.Context, comm Comm) error {
	means, stds, classes, err := t.data.statistics(ctx, comm)
	if err != nil {
		return err
	}
	st := &State{Means: means, Stds: stds, Classes: classes}
	spec, err := t.data.SpecWith(means, stds)
	if err != nil {
		return err
	}
	spec.Classes = st.Classes
	obj, err := NewObjective(&spec, t.spec.GetModel().GetL2())
	if err != nil {
		return err
	}
	st.Params = initParams(spec, obj.NumParams(), t.spec.Seed)
	if t.spec.AuditSamples {
		st.Coverage = make([]uint8, t.data.Rows)
	}
	return t.adopt(st)
}

func (t *Trainer) newOptimizer() (Optimizer, error) {
	o := t.spec.GetOptimizer()
	lr := o.GetLr()
	if lr <= 0 {
		lr = 0.01
	}
	var sched Schedule = Constant(lr)
	switch o.GetSchedule() {
	case "step":
		sched = StepDecay{Base: lr, Gamma: o.GetDecayRate(), Every: o.GetDecaySteps()}
	case "cosine":
		total := o.GetDecaySteps()
		if total <= 0 {
			total = t.totalSteps(max(1, int(t.spec.MinMembers)))
		}
		sched = Cosine{Base: lr, Total: total}
	}
	n := t.obj.NumParams()
	switch o.GetName() {
	case "sgd":
		return NewSGD(n, sched, o.GetMomentum(), o.GetNesterov()), nil
	case "adam", "lbfgs": // lbfgs: fullBatch never steps it; it only fills the state's optimizer slot
		return NewAdam(n, sched), nil
	}
	return nil, fmt.Errorf("%w: optimizer %q", ErrBadArgument, o.GetName())
}

// totalSteps estimates the job's steps at a group of n members.
func (t *Trainer) totalSteps(n int) int64 {
	if t.spec.GetOptimizer().GetName() == "lbfgs" {
		return int64(max(1, t.spec.GetOptimizer().GetMaxIterations()))
	}
	b := int64(max(1, t.spec.BatchPerMember)) * int64(n)
	per := (t.data.TrainRows + b - 1) / b
	return per * int64(t.epochs())
}

// step runs one synchronous step: this member's rows of step SegSteps of
// the segment (the next rows of its stream), the gradient all-reduce, the
// update. With the sample audit on, the all-reduce also carries every
// member's dataset row ids, so that every member counts every row used.
func (t *Trainer) step(ctx context.Context, comm Comm, seg *segment, hooks Hooks) error {
	n, rank := comm.Size(), comm.Rank()
	st := t.st
	if t.cur == nil {
		t.cur = newCursor(ctx, t.data, t.pred, seg, rank, st.SegSteps*t.data.plan.batch)
	}
	k := st.SegSteps
	rows := seg.take(rank, k)
	size := seg.batchSize(k)
	x, y, ids, err := t.cur.next(rows)
	if err != nil {
		return err
	}
	np := t.obj.NumParams()
	width := np + 1
	b := t.data.plan.batch
	if st.Coverage != nil {
		width += 2 * n * int(b)
	}
	t.buf = grow(t.buf, width)
	buf := t.buf[:width]
	clear(buf)
	loss := 0.0
	if rows > 0 {
		loss = t.obj.LossGrad(st.Params, x, y, int(rows), buf[:np])
	}
	buf[np] = float32(loss)
	if st.Coverage != nil {
		putRowIDs(buf[np+1+2*rank*int(b):], ids)
	}
	if err := comm.AllReduce(ctx, buf); err != nil {
		return err
	}
	// The step is complete on this member from here on: apply it whole.
	t.opt.Step(st.Params, buf[:np], int(size))
	if st.Coverage != nil {
		countRowIDs(st.Coverage, buf[np+1:])
	}
	st.Step++
	st.SegSteps++
	st.Samples += size
	st.LossSum += float64(buf[np]) / float64(size)
	st.LossSteps++
	if hooks.Applied != nil {
		hooks.Applied(st.Step, ids)
	}
	if rank == 0 {
		if hooks.Progress != nil {
			hooks.Progress(st, t.totalSteps(n))
		}
		if err := t.maybeCheckpoint(ctx, hooks); err != nil {
			return err
		}
	}
	return nil
}

// putRowIDs writes dataset row ids into an all-reduce buffer as id+1 in
// two float32 halves of 24 bits (exact in float32), 0 marking no row: a
// member writes only its own region, so the sum is every member's ids.
func putRowIDs(dst []float32, ids []int64) {
	for i, id := range ids {
		v := uint64(id) + 1
		dst[2*i], dst[2*i+1] = float32(v>>24), float32(v&(1<<24-1))
	}
}

// countRowIDs adds one use to coverage for every row id in src.
func countRowIDs(coverage []uint8, src []float32) {
	for i := 0; i+1 < len(src); i += 2 {
		v := uint64(src[i])<<24 | uint64(src[i+1])
		if v == 0 {
			continue
		}
		if c := &coverage[v-1]; *c < 255 {
			*c++
		}
	}
}

// maybeCheckpoint stores a checkpoint when one is due by steps or time.
// A failed write is logged by the hook's owner and retried at the next
// step: it does not break the generation.
func (t *Trainer) maybeCheckpoint(ctx context.Context, hooks Hooks) error {
	if hooks.Checkpoint == nil {
		return nil
	}
	bySteps := t.spec.CheckpointEverySteps > 0 && t.st.Step%int64(t.spec.CheckpointEverySteps) == 0
	byTime := t.spec.CheckpointEveryS > 0 && time.Since(t.lastCkpt) >= time.Duration(t.spec.CheckpointEveryS)*time.Second
	if !bySteps && !byTime {
		return nil
	}
	c := t.st.Clone()
	c.Opt = t.opt.State()
	if err := hooks.Checkpoint(ctx, c); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
	t.lastCkpt = time.Now()
	return nil
}

// ShuffleBlock is how many consecutive rows of a window stay together in
// its shuffle (the training contract allows rows or fixed-size row blocks;
// docs/architecture.md §8): a window is filled 4 KiB runs at a time (at
// 64 float32 inputs), which the prefetcher streams, instead of one
// cache-missing row at a time.
const ShuffleBlock = 16

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// endEpoch evaluates the holdout across the group, checks the sample
// audit and moves to the next epoch.
func (t *Trainer) endEpoch(ctx context.Context, comm Comm, hooks Hooks) error {
	st := t.st
	metrics, err := t.evaluate(ctx, comm)
	if err != nil {
		return err
	}
	rec := EpochRecord{Epoch: st.Epoch, Step: st.Step, Holdout: metrics}
	if st.LossSteps > 0 {
		rec.TrainLoss = st.LossSum / float64(st.LossSteps)
	}
	if st.Coverage != nil {
		h := heldBlocks{p: &t.data.plan, block: -1}
		for i, c := range st.Coverage {
			want := uint8(1)
			if h.at(int64(i)) {
				want = 0
			}
			if c != want {
				return fmt.Errorf("%w: sample audit: epoch %d used %s (dataset row %d) %d times (want %d)", ErrBadData, st.Epoch+1, t.data.where(int64(i)), i, c, want)
			}
		}
		rec.AuditedRows = t.data.TrainRows
		clear(st.Coverage)
	}
	st.Epochs = append(st.Epochs, rec)
	st.Epoch++
	st.Segment, st.SegSteps, st.Consumed, st.LossSum, st.LossSteps = 0, 0, nil, 0, 0
	t.closeCursor()
	t.seg = nil
	if comm.Rank() == 0 && hooks.Epoch != nil {
		hooks.Epoch(st, rec)
	}
	return nil
}

// Model returns the current model: the spec with statistics, the given
// metrics and lineage, and a copy of the parameters.
func (t *Trainer) Model() (*model.Model, error) {
	if t.st == nil {
		return nil, errors.New("train: no state yet")
	}
	spec := t.mspec
	if n := len(t.st.Epochs); n > 0 {
		spec.Metrics = t.st.Epochs[n-1].Holdout
	}
	return model.New(spec, append([]float32(nil), t.st.Params...))
}

// initParams draws the initial parameters from the seed: zeros for the
// convex single-layer families, He-uniform weights and zero biases for an
// MLP's layers.
func initParams(spec model.Spec, n int, seed uint64) []float32 {
	p := make([]float32, n)
	if spec.Family != model.FamilyMLP {
		return p
	}
	rng := splitmix{seed ^ 0x6e69676874736869} // "nightshi"
	off := 0
	for _, sh := range spec.LayerShapes() {
		in, out := sh[0], sh[1]
		limit := math.Sqrt(6 / float64(in))
		for i := range in * out {
			p[off+i] = float32((rng.float64()*2 - 1) * limit)
		}
		off += in*out + out
	}
	return p
}

// splitmix is SplitMix64: a tiny generator whose output is fixed by its
// definition, so initial weights never change with the Go version.
type splitmix struct{ s uint64 }

func (r *splitmix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *splitmix) float64() float64 { return float64(r.next()>>11) / (1 << 53) }
