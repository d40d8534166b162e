package shard

import (
	"encoding/binary"
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
	if col, diff := columnDiff(u.schema, utcAsPlain(src.Schema())); diff != "" {
		src.Close()
		return nil, &InputError{Object: u.obj.URI, Column: col,
			Reason: fmt.Sprintf("schema differs from the first object's (%s): %s", u.plan.Objects[0].URI, diff)}
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
		if col, err := checkArrays(rec); err != nil {
			rec.Release()
			return nil, &InputError{Object: d.u.obj.URI, Row: base + 1, Column: col,
				Reason: fmt.Sprintf("corrupt batch of %d rows from here: %v", rec.NumRows(), err)}
		}
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
// nullable fields, UTC timestamps as plain ones) so every shard carries
// one schema.
func withSchema(rec arrow.Record, schema *arrow.Schema) arrow.Record {
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		if dt := schema.Field(i).Type; !arrow.TypeEqual(c.DataType(), dt) {
			d := c.Data()
			nd := array.NewData(dt, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
			cols[i] = array.MakeFromData(nd)
			nd.Release()
			defer cols[i].Release()
			continue
		}
		cols[i] = c
	}
	return array.NewRecord(schema, cols, rec.NumRows())
}

// utcAsPlain returns s with timestamps in UTC as plain timestamps, the
// type the dataset schema records for them.
func utcAsPlain(s *arrow.Schema) *arrow.Schema {
	fs := s.Fields()
	for i, f := range fs {
		if ts, ok := f.Type.(*arrow.TimestampType); ok && ts.TimeZone == "UTC" {
			fs[i].Type = &arrow.TimestampType{Unit: ts.Unit}
		}
	}
	return arrow.NewSchema(fs, nil)
}

// checkArrays verifies that rec's buffers are large enough for its
// lengths and that string offsets stay inside their data, so a corrupt
// source that decoded without complaint cannot crash later readers. It
// returns the first bad column and why.
func checkArrays(rec arrow.Record) (string, error) {
	for i, col := range rec.Columns() {
		if err := checkArray(col, rec.NumRows()); err != nil {
			return rec.ColumnName(i), err
		}
	}
	return "", nil
}

func checkArray(col arrow.Array, rows int64) error {
	d := col.Data()
	n, off := int64(d.Len()), int64(d.Offset())
	if n != rows || off < 0 {
		return fmt.Errorf("column holds %d values at offset %d, the batch %d rows", n, off, rows)
	}
	bufs := d.Buffers()
	bufLen := func(i int) int64 {
		if i >= len(bufs) || bufs[i] == nil {
			return 0
		}
		return int64(bufs[i].Len())
	}
	bitmap := (off + n + 7) / 8
	if bufLen(0) > 0 && bufLen(0) < bitmap || d.NullN() != 0 && bufLen(0) == 0 && n > 0 {
		return fmt.Errorf("%d values with a %d-byte validity bitmap and %d nulls", n, bufLen(0), d.NullN())
	}
	if nulls := int64(col.NullN()); nulls < 0 || nulls > n {
		return fmt.Errorf("%d nulls in %d values", nulls, n)
	}
	var offsets, values int64
	switch dt := d.DataType().(type) {
	case *arrow.BooleanType:
		values = (off + n + 7) / 8
	case arrow.FixedWidthDataType:
		values = (off + n) * int64(dt.BitWidth()/8)
	case *arrow.StringType, *arrow.BinaryType:
		offsets = 4
	case *arrow.LargeStringType:
		offsets = 8
	default:
		return fmt.Errorf("type %s is not supported", dt)
	}
	if offsets == 0 {
		if bufLen(1) < values {
			return fmt.Errorf("%d values need %d bytes, the buffer holds %d", n, values, bufLen(1))
		}
		return nil
	}
	if n == 0 {
		return nil
	}
	if bufLen(1) < (off+n+1)*offsets {
		return fmt.Errorf("%d values need %d offset bytes, the buffer holds %d", n, (off+n+1)*offsets, bufLen(1))
	}
	raw := bufs[1].Bytes()
	at := func(i int64) int64 {
		if offsets == 4 {
			return int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
		return int64(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	prev := at(off)
	if prev < 0 {
		return fmt.Errorf("negative offset %d", prev)
	}
	for i := off + 1; i <= off+n; i++ {
		cur := at(i)
		if cur < prev {
			return fmt.Errorf("offsets decrease at value %d", i-off)
		}
		prev = cur
	}
	if prev > bufLen(2) {
		return fmt.Errorf("offsets reach byte %d of a %d-byte data buffer", prev, bufLen(2))
	}
	return nil
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
