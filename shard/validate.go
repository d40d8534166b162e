package shard

import (
	"fmt"
	"math"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// columnarDecoder adapts a Parquet or Arrow source to a unit: it checks the
// object's schema against the plan's and applies the row rules text formats
// apply while parsing (finite floats, a present label).
type columnarDecoder struct {
	u    *unitEnv
	src  columnarSource
	rows int64 // data rows read so far, for 1-based row numbers
}

func newColumnarDecoder(u *unitEnv) (*columnarDecoder, error) {
	src, err := openColumnar(u.ctx, u.st, u.plan.Format, u.obj)
	if err != nil {
		return nil, err
	}
	if diff := sameColumns(u.schema, src.Schema()); diff != "" {
		src.Close()
		return nil, objectError(u.obj.URI, "schema differs from the first object's (%s): %s", u.plan.Objects[0].URI, diff)
	}
	return &columnarDecoder{u: u, src: src}, nil
}

func (d *columnarDecoder) next() (arrow.Record, error) {
	for {
		rec, err := d.src.Next()
		if err != nil {
			return nil, err
		}
		base := d.rows
		d.rows += rec.NumRows()
		bad, err := d.badRows(rec, base)
		if err != nil {
			rec.Release()
			return nil, err
		}
		out := withSchema(rec, d.u.schema)
		rec.Release()
		if len(bad) > 0 {
			kept := dropRows(out, bad)
			out.Release()
			out = kept
		}
		if out.NumRows() > 0 {
			return out, nil
		}
		out.Release()
	}
}

// badRows lists the rows of rec that break a row rule, reporting each to
// the bad-row sink (which fails the unit under the "fail" policy).
func (d *columnarDecoder) badRows(rec arrow.Record, base int64) (map[int]bool, error) {
	var bad map[int]bool
	mark := func(row int, col, reason string) error {
		if bad[row] {
			return nil
		}
		e := &InputError{Object: d.u.obj.URI, Row: base + int64(row) + 1, Column: col, Reason: reason}
		if err := d.u.bad.add(e, ""); err != nil {
			return err
		}
		if bad == nil {
			bad = map[int]bool{}
		}
		bad[row] = true
		return nil
	}
	for c, f := range rec.Schema().Fields() {
		col := rec.Column(c)
		if f.Name == d.u.plan.Options.Label && col.NullN() > 0 {
			for i := range col.Len() {
				if col.IsNull(i) {
					if err := mark(i, f.Name, "label is missing"); err != nil {
						return nil, err
					}
				}
			}
		}
		if d.u.plan.Options.AllowNonFinite {
			continue
		}
		for i := range col.Len() {
			v, ok := floatAt(col, i)
			if ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
				if err := mark(i, f.Name, fmt.Sprintf("non-finite value %v (pass --allow-non-finite to keep it)", v)); err != nil {
					return nil, err
				}
			}
		}
	}
	return bad, nil
}

func floatAt(a arrow.Array, i int) (float64, bool) {
	if a.IsNull(i) {
		return 0, false
	}
	switch c := a.(type) {
	case *array.Float64:
		return c.Value(i), true
	case *array.Float32:
		return float64(c.Value(i)), true
	}
	return 0, false
}

// withSchema re-labels rec's columns with the dataset schema (same types,
// nullable fields) so every shard carries one schema.
func withSchema(rec arrow.Record, schema *arrow.Schema) arrow.Record {
	return array.NewRecord(schema, rec.Columns(), rec.NumRows())
}

// dropRows returns rec without the listed rows.
func dropRows(rec arrow.Record, drop map[int]bool) arrow.Record {
	var parts []arrow.Record
	start := -1
	n := int(rec.NumRows())
	for i := 0; i <= n; i++ {
		keep := i < n && !drop[i]
		switch {
		case keep && start < 0:
			start = i
		case !keep && start >= 0:
			parts = append(parts, rec.NewSlice(int64(start), int64(i)))
			start = -1
		}
	}
	out := concatRecords(rec.Schema(), parts)
	for _, p := range parts {
		p.Release()
	}
	return out
}

// concatRecords joins records of one schema into one (an empty record for none).
func concatRecords(schema *arrow.Schema, parts []arrow.Record) arrow.Record {
	if len(parts) == 1 {
		parts[0].Retain()
		return parts[0]
	}
	cols := make([]arrow.Array, schema.NumFields())
	var rows int64
	for _, p := range parts {
		rows += p.NumRows()
	}
	for c := range cols {
		chunks := make([]arrow.Array, len(parts))
		for i, p := range parts {
			chunks[i] = p.Column(c)
		}
		if len(chunks) == 0 {
			cols[c] = array.MakeArrayOfNull(memory.DefaultAllocator, schema.Field(c).Type, 0)
			continue
		}
		col, err := array.Concatenate(chunks, memory.DefaultAllocator)
		if err != nil {
			panic(fmt.Sprintf("shard: concatenating column %d of one schema: %v", c, err)) // same types by construction
		}
		cols[c] = col
	}
	out := array.NewRecord(schema, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return out
}

func (d *columnarDecoder) close() { d.src.Close() }
