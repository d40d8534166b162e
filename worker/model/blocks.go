package model

import (
	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// predictBlocks scores softmax and mlp models: rows go through the layers
// in row-major float32 blocks of p.rows.
func (p *Predictor) predictBlocks(rec arrow.Record) []arrow.Array {
	m := p.m
	n := int(rec.NumRows())
	multi := m.spec.multiclass()
	nout := m.layers[len(m.layers)-1].out
	bufs := make([]*memory.Buffer, nout)
	cols := make([][]float64, nout)
	for k := range cols {
		bufs[k], cols[k] = p.newFloat64(n)
	}
	if multi {
		p.cls = grow(p.cls, n)
		p.prob = grow(p.prob, nout)
	}
	p.ensureBlocks()
	nd := m.first.in
	for lo := 0; lo < n; lo += p.rows {
		hi := min(lo+p.rows, n)
		nb := hi - lo
		p.fillSparse(rec, lo, hi, p.x[:nb*nd], p.cat[:nb*m.ncat])
		logits := p.forward(p.x[:nb*nd], p.cat[:nb*m.ncat], nb)
		p.emit(logits, lo, nb, cols)
	}
	p.sortBad()
	out := make([]arrow.Array, 0, nout+1)
	for k := range cols {
		out = append(out, p.finishFloat64(bufs[k], cols[k]))
	}
	if multi {
		out = append(out, p.classColumn(n))
	}
	return out
}

// ensureBlocks sizes the block buffers.
func (p *Predictor) ensureBlocks() {
	m := p.m
	widest := 0
	for _, l := range m.layers {
		widest = max(widest, l.out)
	}
	p.x = grow(p.x, p.rows*m.first.in)
	p.cat = grow(p.cat, p.rows*m.ncat)
	for i := range p.h {
		p.h[i] = grow(p.h[i], p.rows*widest)
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// fillSparse writes rows [lo, hi) as the first layer consumes them: the
// numeric inputs into the dense block x (nb × first.in) and each
// categorical feature's active input into cat (nb × ncat, -1 for none).
func (p *Predictor) fillSparse(rec arrow.Record, lo, hi int, x []float32, cat []int32) {
	m := p.m
	nd, ncat := m.first.in, m.ncat
	for f := range m.spec.Features {
		feat, a := &m.spec.Features[f], rec.Column(p.cols[f])
		if feat.Kind == KindNumeric {
			p.numericInto(x[m.denseOff[f]:], nd, a, lo, hi, feat)
			continue
		}
		c, in := m.catPos[f], m.inputs[f]
		for r, b := range bucketBlock(a, lo, hi, feat.Buckets, p.cache(f), p.bk) {
			if b >= 0 {
				cat[r*ncat+c] = int32(in.off) + b
				continue
			}
			cat[r*ncat+c] = -1
			if feat.Missing == MissingFail {
				p.addBad(lo+r, feat.Column, "missing value")
			}
		}
	}
}

// forward runs nb rows through the layers and returns the output layer's
// values, nb × out row-major.
func (p *Predictor) forward(x []float32, cat []int32, nb int) []float32 {
	m := p.m
	c := p.h[0][:nb*m.first.out]
	dense(c, x, &m.first, nb)
	if m.ncat > 0 {
		l0 := &m.layers[0]
		out := l0.out
		for r := range nb {
			cr := c[r*out : (r+1)*out]
			for _, k := range cat[r*m.ncat : (r+1)*m.ncat] {
				if k >= 0 {
					add(cr, l0.w[int(k)*out:][:out])
				}
			}
		}
	}
	a := c
	for li := 1; li < len(m.layers); li++ {
		relu(a)
		l := &m.layers[li]
		c = p.h[li%2][:nb*l.out]
		dense(c, a, l, nb)
		a = c
	}
	return a
}

// add adds w to c.
func add(c, w []float32) {
	c = c[:len(w)]
	for j, v := range w {
		c[j] += v
	}
}

// emit turns the output layer's values of rows [lo, lo+nb) into the
// output columns: the value (regression), the sigmoid (binary), or the
// softmax and the arg max (multiclass).
func (p *Predictor) emit(logits []float32, lo, nb int, cols [][]float64) {
	m := p.m
	k := len(cols)
	multi := m.spec.multiclass()
	binary := m.spec.Objective == ObjectiveBinary
	for r := range nb {
		l := logits[r*k : (r+1)*k]
		if !allFinite32(l) {
			p.addBad(lo+r, "", "model output is not finite")
			continue
		}
		switch {
		case multi:
			p.cls[lo+r] = int32(softmax(p.prob, l))
			for j := range cols {
				cols[j][lo+r] = p.prob[j]
			}
		case binary:
			cols[0][lo+r] = sigmoid(float64(l[0]))
		default:
			cols[0][lo+r] = float64(l[0])
		}
	}
}
