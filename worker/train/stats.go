package train

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v15/arrow"
)

// The statistics pass: before the first step every member reads its share
// of the chunks (Share over the chunks, in dataset order) — on either data
// path, the same chunks — accumulates the moments of the numeric features
// over their training rows, checks every label and, for a multiclass model
// whose spec lists no classes, collects the distinct labels. The members
// exchange their parts as exact bytes and combine them in rank order, so
// every member, and both data paths, get the same statistics bit for bit.

// statistics runs the pass across the group and returns the
// standardisation statistics and the classes.
func (d *Data) statistics(ctx context.Context, comm Comm) (means, stds []float64, classes []string, err error) {
	mine, seen, err := d.statsShare(ctx, comm.Size(), comm.Rank())
	if err != nil {
		return nil, nil, nil, err
	}
	msg := encodeMoments(mine)
	if msg, err = appendStrings(msg, seen); err != nil {
		return nil, nil, nil, err
	}
	parts, err := allGather(ctx, comm, msg)
	if err != nil {
		return nil, nil, nil, err
	}
	total := make([]Moments, len(mine))
	found := map[string]bool{}
	for r, p := range parts {
		if len(p) < 24*len(mine) {
			return nil, nil, nil, fmt.Errorf("%w: statistics from rank %d: %d bytes", ErrBadState, r, len(p))
		}
		ms, err := decodeMoments(p[:24*len(mine)], len(mine))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("statistics from rank %d: %w", r, err)
		}
		for i := range total {
			total[i].Merge(ms[i])
		}
		rd := stateReader{b: p[24*len(mine):]}
		for _, c := range rd.strs("classes") {
			found[c] = true
		}
		if rd.err != nil || len(rd.b) > 0 {
			return nil, nil, nil, fmt.Errorf("%w: statistics from rank %d: bad class list", ErrBadState, r)
		}
	}
	means, stds = Standardisation(total)
	classes = d.Spec.Classes
	if d.discoversClasses() {
		for c := range found {
			classes = append(classes, c)
		}
		slices.Sort(classes)
	}
	return means, stds, classes, nil
}

// discoversClasses reports whether the classes come from the data.
func (d *Data) discoversClasses() bool {
	return d.Task == EvalMulticlass && len(d.Spec.Classes) == 0
}

// statsShare is one member's part of the pass: the moments of its chunks'
// training rows and, when the classes come from the data, their distinct
// labels, sorted. Data without records (FromMatrix) has no statistics.
func (d *Data) statsShare(ctx context.Context, n, rank int) ([]Moments, []string, error) {
	ms := make([]Moments, len(d.Spec.Features))
	if d.Records == nil && d.ds == nil {
		return ms, nil, nil
	}
	discover := d.discoversClasses()
	if !discover {
		if err := d.setClasses(d.Spec.Classes); err != nil {
			return nil, nil, err
		}
	}
	seen := map[string]bool{}
	var lab []float32
	lo, hi := Share(len(d.plan.chunks), n, rank)
	for ci := lo; ci < hi; ci++ {
		rec, err := d.record(ctx, ci)
		if err != nil {
			return nil, nil, err
		}
		first := d.plan.chunks[ci].start
		d.addMoments(ms, rec, first)
		if discover {
			err = d.distinctLabels(seen, rec, first)
		} else {
			lab = grow(lab, int(rec.NumRows()))
			err = d.labels(rec, first, lab)
		}
		rec.Release()
		if err != nil {
			return nil, nil, err
		}
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	slices.Sort(out)
	return ms, out, nil
}

// distinctLabels adds rec's labels to seen; a null label is an error
// naming the row.
func (d *Data) distinctLabels(seen map[string]bool, rec arrow.Record, first int64) error {
	col := rec.Column(rec.Schema().FieldIndices(d.Spec.Label)[0])
	for i := range col.Len() {
		if col.IsNull(i) {
			return fmt.Errorf("%w: %s: label %q is null", ErrBadData, d.where(first+int64(i)), d.Spec.Label)
		}
		seen[labelString(col, i)] = true
	}
	return nil
}

// shareGrad adds to grad the gradient of this member's share of the
// training rows (its chunks, as in the statistics pass) at params, one
// chunk at a time in dataset order on either data path, and returns the
// loss. scratch holds the per-chunk gradient.
func (t *Trainer) shareGrad(ctx context.Context, n, rank int, params, grad, scratch []float32) (float64, error) {
	d := t.data
	dim := int64(d.Dim)
	lo, hi := Share(len(d.plan.chunks), n, rank)
	var loss float64
	for ci := lo; ci < hi; ci++ {
		c := d.plan.chunks[ci]
		x, y := t.lbX, t.lbY
		if d.X != nil {
			x, y = d.X[c.start*dim:(c.start+c.rows)*dim], d.Label[c.start:c.start+c.rows]
		} else {
			rec, err := d.record(ctx, ci)
			if err != nil {
				return 0, err
			}
			x, y = grow(x, int(c.rows*dim)), grow(y, int(c.rows))
			t.lbX, t.lbY = x, y
			err = d.features(t.pred, rec, c.start, x, y)
			rec.Release()
			if err != nil {
				return 0, err
			}
		}
		// Compact the chunk's training rows (holdout blocks left out).
		t.lbTX, t.lbTY = t.lbTX[:0], t.lbTY[:0]
		h := heldBlocks{p: &d.plan, block: -1}
		for i := range c.rows {
			if !h.at(c.start + i) {
				t.lbTX = append(t.lbTX, x[i*dim:(i+1)*dim]...)
				t.lbTY = append(t.lbTY, y[i])
			}
		}
		rows := len(t.lbTY)
		if rows == 0 {
			continue
		}
		loss += t.obj.LossGrad(params, t.lbTX, t.lbTY, rows, scratch)
		for i, g := range scratch {
			grad[i] += g
		}
	}
	return loss, nil
}
