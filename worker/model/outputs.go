package model

import (
	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// newFloat64 allocates an n-value float64 column buffer from the pool and
// returns it with its values as a slice to fill.
func (p *Predictor) newFloat64(n int) (*memory.Buffer, []float64) {
	buf := memory.NewResizableBuffer(p.mem)
	buf.Resize(n * arrow.Float64SizeBytes)
	return buf, arrow.Float64Traits.CastFromBytes(buf.Bytes())
}

// finishFloat64 wraps a filled column buffer as an array, null (and 0) at
// the bad rows. It takes over the buffer's reference.
func (p *Predictor) finishFloat64(buf *memory.Buffer, vals []float64) arrow.Array {
	defer buf.Release()
	validity := p.validity(len(vals))
	if validity != nil {
		defer validity.Release()
		for _, e := range p.bad {
			vals[e.Row] = 0 // deterministic bytes under the null
		}
	}
	data := array.NewData(arrow.PrimitiveTypes.Float64, len(vals), []*memory.Buffer{validity, buf}, nil, len(p.bad), 0)
	defer data.Release()
	return array.NewFloat64Data(data)
}

// validity returns a bitmap with the bad rows cleared, or nil when every
// row is valid. Every byte is written, padding bits included.
func (p *Predictor) validity(n int) *memory.Buffer {
	if len(p.bad) == 0 {
		return nil
	}
	buf := memory.NewResizableBuffer(p.mem)
	buf.Resize((n + 7) / 8)
	bm := buf.Bytes()
	for i := range bm {
		bm[i] = 0xFF
	}
	if n%8 != 0 {
		bm[len(bm)-1] = byte(1)<<(n%8) - 1
	}
	for _, e := range p.bad {
		bm[e.Row>>3] &^= 1 << (e.Row & 7)
	}
	return buf
}

// classColumn builds predicted_class from p.cls, null at the bad rows.
func (p *Predictor) classColumn(n int) arrow.Array {
	classes := p.m.spec.Classes
	b := array.NewStringBuilder(p.mem)
	defer b.Release()
	b.Reserve(n)
	size := 0
	for _, c := range classes {
		size = max(size, len(c))
	}
	b.ReserveData(n * size)
	next := 0 // index into p.bad, which is sorted by row
	for r := range n {
		if next < len(p.bad) && p.bad[next].Row == int64(r) {
			next++
			b.AppendNull()
			continue
		}
		b.Append(classes[p.cls[r]])
	}
	return b.NewArray()
}
