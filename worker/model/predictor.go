package model

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// Row block sizes. Linear models accumulate one block of z in L1 while
// streaming every feature column through it; block models fill a
// row-major input block and push it through the layers.
const (
	linearBlock   = 2048
	maxBlockRows  = 256
	blockScratchF = 16 << 10 // float32s per activation buffer, to size blocks
)

// Predictor scores record batches with one model. It owns scratch buffers
// reused across calls, so it allocates nothing per row; it is not safe for
// concurrent use: make one per goroutine with Model.NewPredictor.
type Predictor struct {
	m    *Model
	mem  memory.Allocator
	rows int // rows per block on the block path

	schema *arrow.Schema // the schema cols was resolved for
	cols   []int

	conv   []float64      // numeric column values of one block
	bk     []int32        // categorical buckets of one block
	caches []*bucketCache // per feature, categoricals only
	cat    []int32        // active categorical inputs, rows × categoricals
	x      []float32      // row-major input block
	h      [2][]float32
	feat   []float32 // Features output
	cls    []int32   // predicted class per row
	prob   []float64 // one row's class probabilities
	bad    []RowError
}

// NewPredictor returns a Predictor for m.
func (m *Model) NewPredictor() *Predictor {
	p := &Predictor{m: m, mem: outputPool}
	widest := m.first.in
	for _, l := range m.layers {
		widest = max(widest, l.out)
	}
	p.rows = max(4, min(maxBlockRows, blockScratchF/max(1, widest))&^3)
	p.conv = make([]float64, max(linearBlock, p.rows))
	p.bk = make([]int32, len(p.conv))
	return p
}

// Predict scores every row of rec and returns one array per OutputFields
// column, each rec.NumRows() long; the caller releases them. If a row
// cannot be scored it returns a *RowError for the first such row and no
// arrays. Columns are found by name, so rec may hold other columns too.
func (p *Predictor) Predict(rec arrow.Record) ([]arrow.Array, error) {
	out, bad, err := p.PredictMasked(rec)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		releaseAll(out)
		e := bad[0]
		return nil, &e
	}
	return out, nil
}

// PredictMasked is Predict that scores what it can: a row that cannot be
// scored is null in every output column and reported in bad, one RowError
// per row in row order. bad is valid until the next call. The error is for
// a record that cannot feed the model at all (a missing column).
func (p *Predictor) PredictMasked(rec arrow.Record) (out []arrow.Array, bad []RowError, err error) {
	if err := p.bind(rec.Schema()); err != nil {
		return nil, nil, err
	}
	n := int(rec.NumRows())
	p.bad = p.bad[:0]
	switch p.m.spec.Family {
	case FamilyLinear, FamilyLogistic:
		buf, vals := p.newFloat64(n)
		p.predictLinear(rec, vals)
		p.sortBad()
		return []arrow.Array{p.finishFloat64(buf, vals)}, p.bad, nil
	}
	return p.predictBlocks(rec), p.bad, nil
}

// Features materialises the pipeline output of rec row-major: X[r*dim+j]
// is input j of row r. X is reused by the next call. Rows that cannot be
// scored have their offending inputs zeroed, and the first is reported as
// a *RowError alongside the full X.
func (p *Predictor) Features(rec arrow.Record) (X []float32, rows, dim int, err error) {
	if err := p.bind(rec.Schema()); err != nil {
		return nil, 0, 0, err
	}
	rows, dim = int(rec.NumRows()), p.m.inputDim
	if cap(p.feat) < rows*dim {
		p.feat = make([]float32, rows*dim)
	}
	X = p.feat[:rows*dim]
	p.bad = p.bad[:0]
	for lo := 0; lo < rows; lo += linearBlock {
		hi := min(lo+linearBlock, rows)
		p.fill(rec, lo, hi, X[lo*dim:hi*dim])
	}
	p.sortBad()
	if len(p.bad) > 0 {
		e := p.bad[0]
		return X, rows, dim, &e
	}
	return X, rows, dim, nil
}

// bind resolves the model's columns in schema, once per schema.
func (p *Predictor) bind(schema *arrow.Schema) error {
	if schema == p.schema {
		return nil
	}
	cols, err := p.m.resolve(schema)
	if err != nil {
		return err
	}
	p.schema, p.cols = schema, cols
	return nil
}

func (p *Predictor) addBad(row int, column, reason string) {
	p.bad = append(p.bad, RowError{Row: int64(row), Column: column, Reason: reason})
}

// sortBad orders bad rows by row, keeping the first reason found for each.
func (p *Predictor) sortBad() {
	if len(p.bad) < 2 {
		return
	}
	slices.SortStableFunc(p.bad, func(a, b RowError) int { return cmp.Compare(a.Row, b.Row) })
	p.bad = slices.CompactFunc(p.bad, func(a, b RowError) bool { return a.Row == b.Row })
}

// predictLinear computes the linear predictor column by column into z
// (one value per row), then applies the link.
func (p *Predictor) predictLinear(rec arrow.Record, z []float64) {
	m := p.m
	w, bias := m.layers[0].w, float64(m.layers[0].b[0])
	logistic := m.spec.Family == FamilyLogistic
	for lo := 0; lo < len(z); lo += linearBlock {
		hi := min(lo+linearBlock, len(z))
		zb := z[lo:hi]
		for r := range zb {
			zb[r] = bias
		}
		// Float64 columns without nulls are added four at a time, which
		// loads and stores z a quarter as often.
		var group [4]stdColumn
		ng := 0
		for f := range m.spec.Features {
			feat, in, a := &m.spec.Features[f], m.inputs[f], rec.Column(p.cols[f])
			if feat.Kind == KindCategorical {
				p.addCategorical(zb, a, lo, hi, f, w[in.off:in.off+in.width])
				continue
			}
			ws := float64(w[in.off]) / feat.Std
			if f64, ok := a.(*array.Float64); ok && !hasNulls(a, lo, hi) {
				group[ng] = stdColumn{x: f64.Float64Values()[lo:hi], mean: feat.Mean, ws: ws}
				if ng++; ng == len(group) {
					axpyStd4(zb, &group)
					ng = 0
				}
				continue
			}
			xs := numericBlock(a, lo, hi, p.conv)
			if !hasNulls(a, lo, hi) {
				axpyStd(zb, xs, feat.Mean, ws)
				continue
			}
			bm, off := a.NullBitmapBytes(), a.Data().Offset()+lo
			axpyStdValid(zb, xs, bm, off, feat.Mean, ws)
			for r := range zb {
				if !isNull(bm, off, r) {
					continue
				}
				switch feat.Missing {
				case MissingIndicator:
					zb[r] += float64(w[in.off+1])
				case MissingFail:
					p.addBad(lo+r, feat.Column, "missing value")
				}
			}
		}
		for _, c := range group[:ng] {
			axpyStd(zb, c.x, c.mean, c.ws)
		}
		if !allFinite(zb) {
			p.diagnoseLinear(rec, lo, zb)
		}
		if logistic {
			sigmoidBlock(zb)
		}
	}
}

func (p *Predictor) addCategorical(z []float64, a arrow.Array, lo, hi, f int, w []float32) {
	feat := &p.m.spec.Features[f]
	for r, b := range bucketBlock(a, lo, hi, feat.Buckets, p.cache(f), p.bk) {
		if b >= 0 {
			z[r] += float64(w[b])
		} else if feat.Missing == MissingFail {
			p.addBad(lo+r, feat.Column, "missing value")
		}
	}
}

// cache returns feature f's bucket cache.
func (p *Predictor) cache(f int) *bucketCache {
	if p.caches == nil {
		p.caches = make([]*bucketCache, len(p.m.spec.Features))
	}
	if p.caches[f] == nil {
		p.caches[f] = new(bucketCache)
	}
	return p.caches[f]
}

// diagnoseLinear finds the input to blame for each non-finite z and sets
// that z to 0, so the row's output is a clean null.
func (p *Predictor) diagnoseLinear(rec arrow.Record, lo int, z []float64) {
	for r, v := range z {
		if valueReason(v) == "" {
			continue
		}
		z[r] = 0
		column, reason := "", "linear predictor is not finite"
		for f, feat := range p.m.spec.Features {
			if feat.Kind != KindNumeric {
				continue
			}
			if x, ok := valueAt(rec.Column(p.cols[f]), lo+r); ok && valueReason(x) != "" {
				column, reason = feat.Column, valueReason(x)
				break
			}
		}
		p.addBad(lo+r, column, reason)
	}
}

// fill writes the full pipeline output of rows [lo, hi) into x, row-major
// with InputDim columns (categoricals one-hot), recording rows that cannot
// be scored.
func (p *Predictor) fill(rec arrow.Record, lo, hi int, x []float32) {
	dim := p.m.inputDim
	clear(x)
	for f := range p.m.spec.Features {
		feat, in, a := &p.m.spec.Features[f], p.m.inputs[f], rec.Column(p.cols[f])
		if feat.Kind == KindNumeric {
			p.numericInto(x[in.off:], dim, a, lo, hi, feat)
			continue
		}
		for r, b := range bucketBlock(a, lo, hi, feat.Buckets, p.cache(f), p.bk) {
			if b >= 0 {
				x[r*dim+in.off+int(b)] = 1
			} else if feat.Missing == MissingFail {
				p.addBad(lo+r, feat.Column, "missing value")
			}
		}
	}
}

// numericInto writes the standardised values of rows [lo, hi) of a numeric
// feature to dst[r*stride] and, under missing:"indicator", the 0/1
// indicator to dst[r*stride+1]. Nulls are imputed (z = 0) and non-finite
// values zeroed; rows that cannot be scored are recorded.
func (p *Predictor) numericInto(dst []float32, stride int, a arrow.Array, lo, hi int, feat *Feature) {
	xs := numericBlock(a, lo, hi, p.conv)
	finite := fillStd(dst, stride, xs, feat.Mean, 1/feat.Std)
	indicator := feat.Missing == MissingIndicator
	if indicator {
		for r := range xs {
			dst[r*stride+1] = 0
		}
	}
	if hasNulls(a, lo, hi) {
		bm, off := a.NullBitmapBytes(), a.Data().Offset()+lo
		for r := range xs {
			if !isNull(bm, off, r) {
				continue
			}
			dst[r*stride] = 0
			switch {
			case indicator:
				dst[r*stride+1] = 1
			case feat.Missing == MissingFail:
				p.addBad(lo+r, feat.Column, "missing value")
			}
		}
	}
	if finite {
		return
	}
	for r, v := range xs {
		if valueReason(float64(dst[r*stride])) == "" {
			continue
		}
		dst[r*stride] = 0
		reason := valueReason(v)
		if reason == "" {
			reason = fmt.Sprintf("standardised value of %g overflows float32", v)
		}
		p.addBad(lo+r, feat.Column, reason)
	}
}

func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		a.Release()
	}
}
