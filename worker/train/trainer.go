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
	// (global indices) this member computed in it; tests count them.
	Applied func(step int64, rows []int32)
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
	st    *State // nil until the first generation synchronised it

	perm      []int32 // current epoch's permutation of Train positions
	permEpoch int32
	xb, yb    []float32
	buf       []float32
	rows      []int32
	lastCkpt  time.Time
}

// NewTrainer returns a trainer over data, which it owns from now on.
func NewTrainer(spec *pb.TrainSpec, data *Data) *Trainer {
	return &Trainer{spec: spec, data: data, permEpoch: -1}
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
	for !t.Done() {
		if t.st.Offset < int64(len(t.data.Train)) {
			if err := t.step(ctx, comm, hooks); err != nil {
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
	if t.data.X == nil {
		if err := t.data.Build(st.Means, st.Stds); err != nil {
			return err
		}
	}
	if t.obj == nil {
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
	}
	if len(st.Params) != t.obj.NumParams() {
		return fmt.Errorf("%w: %d parameters, the model has %d", ErrBadState, len(st.Params), t.obj.NumParams())
	}
	if st.Opt != nil {
		if err := t.opt.SetState(st.Opt); err != nil {
			return err
		}
	}
	t.st = st
	return nil
}

// initialise computes the feature statistics across the group (each
// member its share of the training rows, exchanged exactly as float64)
// and the initial parameters from the seed.
func (t *Trainer) initialise(ctx context.Context, comm Comm) error {
	lo, hi := Share(len(t.data.Train), comm.Size(), comm.Rank())
	mine := t.data.Moments(lo, hi)
	parts, err := allGather(ctx, comm, encodeMoments(mine))
	if err != nil {
		return err
	}
	total := make([]Moments, len(mine))
	for r, p := range parts {
		ms, err := decodeMoments(p, len(mine))
		if err != nil {
			return fmt.Errorf("statistics from rank %d: %w", r, err)
		}
		for i := range total {
			total[i].Merge(ms[i])
		}
	}
	means, stds := Standardisation(total)
	st := &State{Means: means, Stds: stds, Classes: t.data.Spec.Classes}
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
		st.Coverage = make([]float32, len(t.data.Train))
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
	per := (int64(len(t.data.Train)) + b - 1) / b
	return per * int64(t.epochs())
}

// step runs one synchronous step: this member's share of the next global
// batch of the epoch's permutation, the gradient all-reduce, the update.
func (t *Trainer) step(ctx context.Context, comm Comm, hooks Hooks) error {
	n, rank := comm.Size(), comm.Rank()
	st := t.st
	perm := t.permutation(st.Epoch)
	size := int(min(int64(t.spec.BatchPerMember)*int64(n), int64(len(perm))-st.Offset))
	lo, hi := Share(size, n, rank)
	rows := t.gather(perm[st.Offset+int64(lo) : st.Offset+int64(hi)])
	np := t.obj.NumParams()
	width := np + 1
	if st.Coverage != nil {
		width += len(st.Coverage)
	}
	t.buf = grow(t.buf, width)
	buf := t.buf[:width]
	clear(buf)
	loss := 0.0
	if rows > 0 {
		loss = t.obj.LossGrad(st.Params, t.xb[:rows*t.data.Dim], t.yb[:rows], rows, buf[:np])
	}
	buf[np] = float32(loss)
	if st.Coverage != nil {
		cov := buf[np+1:]
		for _, p := range perm[st.Offset+int64(lo) : st.Offset+int64(hi)] {
			cov[p]++
		}
	}
	if err := comm.AllReduce(ctx, buf); err != nil {
		return err
	}
	// The step is complete on this member from here on: apply it whole.
	t.opt.Step(st.Params, buf[:np], size)
	if st.Coverage != nil {
		for i, c := range buf[np+1:] {
			st.Coverage[i] += c
		}
	}
	st.Step++
	st.Offset += int64(size)
	st.Samples += int64(size)
	st.LossSum += float64(buf[np]) / float64(size)
	st.LossSteps++
	if hooks.Applied != nil {
		hooks.Applied(st.Step, t.rowsOf(perm[st.Offset-int64(size)+int64(lo):st.Offset-int64(size)+int64(hi)]))
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

// ShuffleBlock is how many consecutive training rows an epoch's order
// keeps together: the permutation is of blocks of this many rows (the
// training contract allows rows or fixed-size row blocks;
// docs/architecture.md §8). Gathering a batch then copies
// 4 KiB runs (at 64 float32 inputs) the prefetcher streams, instead of
// one cache-missing row at a time — the difference between the gather
// costing as much as a logistic step and costing next to nothing.
const ShuffleBlock = 16

// permutation returns the epoch's order of training positions.
func (t *Trainer) permutation(epoch int32) []int32 {
	if t.permEpoch != epoch {
		t.perm = EpochOrder(t.spec.Seed, int(epoch), len(t.data.Train))
		t.permEpoch = epoch
	}
	return t.perm
}

// EpochOrder returns the order in which an epoch visits n training
// positions: a Permutation of ShuffleBlock-row blocks, each block's rows
// in order. It depends only on (seed, epoch, n).
func EpochOrder(seed uint64, epoch, n int) []int32 {
	nb := (n + ShuffleBlock - 1) / ShuffleBlock
	out := make([]int32, 0, n)
	for _, b := range Permutation(seed, epoch, nb) {
		for p := int(b) * ShuffleBlock; p < min(int(b+1)*ShuffleBlock, n); p++ {
			out = append(out, int32(p))
		}
	}
	return out
}

// gather copies the rows at the given training positions into the
// contiguous batch buffers, a run of consecutive rows at a time, and
// returns how many rows.
func (t *Trainer) gather(pos []int32) int {
	dim := t.data.Dim
	t.xb = grow(t.xb, len(pos)*dim)
	t.yb = grow(t.yb, len(pos))
	train := t.data.Train
	for i := 0; i < len(pos); {
		r := int(train[pos[i]])
		j := i + 1
		for j < len(pos) && int(train[pos[j]]) == r+(j-i) {
			j++
		}
		n := j - i
		copy(t.xb[i*dim:(i+n)*dim], t.data.X[r*dim:(r+n)*dim])
		copy(t.yb[i:i+n], t.data.Label[r:r+n])
		i = j
	}
	return len(pos)
}

func (t *Trainer) rowsOf(pos []int32) []int32 {
	t.rows = t.rows[:0]
	for _, p := range pos {
		t.rows = append(t.rows, t.data.Train[p])
	}
	return t.rows
}

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
		for i, c := range st.Coverage {
			if c != 1 {
				return fmt.Errorf("%w: sample audit: epoch %d used training row %d %v times (want exactly once)", ErrBadData, st.Epoch+1, t.data.Train[i], c)
			}
		}
		rec.AuditedRows = int64(len(st.Coverage))
		clear(st.Coverage)
	}
	st.Epochs = append(st.Epochs, rec)
	st.Epoch++
	st.Offset, st.LossSum, st.LossSteps = 0, 0, 0
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
