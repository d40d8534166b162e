package train

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/worker/model"
)

// evaluate scores this member's share of the holdout blocks with the
// scoring code (model.Predictor on the dataset's own record batches, so
// the metrics are what scoring the holdout would give), exchanges the
// predictions and computes the metrics identically on every member.
func (t *Trainer) evaluate(ctx context.Context, comm Comm) (map[string]float64, error) {
	blocks := t.data.HoldBlocks
	if len(blocks) == 0 {
		return nil, nil
	}
	m, err := t.Model()
	if err != nil {
		return nil, err
	}
	lo, hi := Share(len(blocks), comm.Size(), comm.Rank())
	part, err := t.data.holdoutPart(ctx, m, blocks[lo:hi])
	if err != nil {
		return nil, err
	}
	mine, err := part.MarshalBinary()
	if err != nil {
		return nil, err
	}
	raw, err := allGather(ctx, comm, mine)
	if err != nil {
		return nil, err
	}
	parts := make([]EvalPart, len(raw))
	for r, b := range raw {
		if err := parts[r].UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("holdout predictions from rank %d: %w", r, err)
		}
	}
	return Evaluate(parts)
}

// EvaluateHoldout scores the whole holdout with m in this process and
// returns its metrics: a reference point (another model, a baseline) for
// what a training group reported.
func EvaluateHoldout(ctx context.Context, d *Data, m *model.Model) (map[string]float64, error) {
	part, err := d.holdoutPart(ctx, m, d.HoldBlocks)
	if err != nil {
		return nil, err
	}
	return Evaluate([]EvalPart{part})
}

// holdoutPart predicts the given holdout blocks with m through the
// scoring code, on slices of the dataset's own record batches.
func (d *Data) holdoutPart(ctx context.Context, m *model.Model, blocks []int64) (EvalPart, error) {
	if d.Task == EvalMulticlass && d.classIndex == nil {
		if err := d.setClasses(m.Spec.Classes); err != nil {
			return EvalPart{}, err
		}
	}
	p := m.NewPredictor()
	part := EvalPart{Task: d.Task, Classes: len(m.Spec.Classes)}
	pred := make([]float64, max(1, part.Classes))
	var lab []float32
	err := d.holdoutRuns(ctx, blocks, func(rec arrow.Record, _ int, r, off, n int64) error {
		slice := rec.NewSlice(off, off+n)
		defer slice.Release()
		lab = grow(lab, int(n))
		if err := d.labels(slice, r, lab); err != nil {
			return err
		}
		out, err := p.Predict(slice)
		if err != nil {
			return fmt.Errorf("%w: evaluating %s: %v", ErrBadData, d.where(r), err)
		}
		for i := range int(n) {
			fillPrediction(pred, out, i, part.Task)
			part.Append(pred, float64(lab[i]))
		}
		for _, a := range out {
			a.Release()
		}
		return nil
	})
	return part, err
}

// holdoutRuns walks the given holdout blocks in order as runs of rows
// within one chunk: fn gets the chunk's record batch, its index, the first
// row's dataset number r, its offset in the batch and the run's length.
// Every reader of the holdout (predictions, slice columns) walks it
// through here, so row k of one is row k of the other. On the stream path
// each chunk is read once, when its first run comes, and released after
// its last: one chunk in memory at a time.
func (d *Data) holdoutRuns(ctx context.Context, blocks []int64, fn func(rec arrow.Record, ci int, r, off, n int64) error) error {
	var rec arrow.Record
	ci := -1
	defer func() {
		if rec != nil {
			rec.Release()
		}
	}()
	for _, b := range blocks {
		start, end := b*HoldoutBlock, min((b+1)*HoldoutBlock, int64(d.Rows))
		for r := start; r < end; {
			if c := d.chunkOf(r); c != ci {
				if rec != nil {
					rec.Release()
					rec = nil
				}
				var err error
				if rec, err = d.record(ctx, c); err != nil {
					return err
				}
				ci = c
			}
			c := d.plan.chunks[ci]
			n := min(end, c.start+c.rows) - r
			if err := fn(rec, ci, r, r-c.start, n); err != nil {
				return err
			}
			r += n
		}
	}
	return nil
}

// fillPrediction reads row i of the prediction columns into pred: the
// probability or value, or for multiclass models the class probabilities
// (the columns before predicted_class).
func fillPrediction(pred []float64, out []arrow.Array, i int, task EvalTask) {
	if task != EvalMulticlass {
		pred[0] = out[0].(*array.Float64).Value(i)
		return
	}
	for k := range pred {
		pred[k] = out[k].(*array.Float64).Value(i)
	}
}

// allGather returns every member's data in rank order: one broadcast per
// rank. Exact bytes travel, so float64 partials are combined exactly and
// in the same order everywhere.
func allGather(ctx context.Context, comm Comm, mine []byte) ([][]byte, error) {
	out := make([][]byte, comm.Size())
	for r := range out {
		var send []byte
		if r == comm.Rank() {
			send = mine
		}
		got, err := comm.Broadcast(ctx, r, send)
		if err != nil {
			return nil, err
		}
		out[r] = got
	}
	return out, nil
}

// encodeMoments and decodeMoments carry feature statistics between
// members as exact float64 bits.
func encodeMoments(ms []Moments) []byte {
	b := make([]byte, 0, 24*len(ms))
	for _, m := range ms {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.N))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.Mean))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.M2))
	}
	return b
}

func decodeMoments(b []byte, n int) ([]Moments, error) {
	if len(b) != 24*n {
		return nil, fmt.Errorf("%w: %d bytes of statistics for %d features", ErrBadState, len(b), n)
	}
	ms := make([]Moments, n)
	for i := range ms {
		f := func(k int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[24*i+8*k:])) }
		ms[i] = Moments{N: f(0), Mean: f(1), M2: f(2)}
	}
	return ms, nil
}
