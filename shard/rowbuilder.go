package shard

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// cell is one parsed value waiting for its row to be accepted.
type cell struct {
	null bool
	i    int64
	u    uint64
	f    float64
	b    bool
	s    string
}

// rowBuilder turns text cells (CSV fields, JSON scalars) into Arrow batches.
// A row is parsed whole into pending cells first and appended only when
// every cell parsed, so a bad row never leaves the builders ragged.
type rowBuilder struct {
	schema         *arrow.Schema
	rb             *array.RecordBuilder
	pending        []cell
	label          int // column index of the label, or -1
	allowNonFinite bool
	rows           int
}

func newRowBuilder(schema *arrow.Schema, opts Options) *rowBuilder {
	label := -1
	if opts.Label != "" {
		if idx := schema.FieldIndices(opts.Label); len(idx) > 0 {
			label = idx[0]
		}
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	rb.Reserve(opts.BatchRows)
	return &rowBuilder{schema: schema, rb: rb, pending: make([]cell, schema.NumFields()),
		label: label, allowNonFinite: opts.AllowNonFinite}
}

// setNull marks column i missing in the pending row; it fails for the label.
func (r *rowBuilder) setNull(i int) string {
	if i == r.label {
		return "label is missing"
	}
	r.pending[i] = cell{null: true}
	return ""
}

// setText parses s into column i of the pending row. It returns a reason
// when the value does not fit the column's type, "" when it does.
func (r *rowBuilder) setText(i int, s string) string {
	if s == "" {
		return r.setNull(i)
	}
	c := &r.pending[i]
	*c = cell{}
	dt := r.schema.Field(i).Type
	var err error
	switch t := dt.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type:
		c.i, err = strconv.ParseInt(s, 10, t.(arrow.FixedWidthDataType).BitWidth())
	case *arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type:
		c.u, err = strconv.ParseUint(s, 10, t.(arrow.FixedWidthDataType).BitWidth())
	case *arrow.Float32Type, *arrow.Float64Type:
		c.f, err = strconv.ParseFloat(s, t.(arrow.FixedWidthDataType).BitWidth())
		if err == nil && !r.allowNonFinite && (math.IsNaN(c.f) || math.IsInf(c.f, 0)) {
			return fmt.Sprintf("non-finite value %q (pass --allow-non-finite to keep it)", s)
		}
	case *arrow.BooleanType:
		c.b, err = strconv.ParseBool(s)
	case *arrow.StringType, *arrow.LargeStringType, *arrow.BinaryType:
		c.s = s
	case *arrow.Date32Type:
		var tm time.Time
		tm, err = time.Parse(time.DateOnly, s)
		c.i = int64(arrow.Date32FromTime(tm))
	case *arrow.TimestampType:
		var tm time.Time
		if tm, err = parseTime(s); err == nil {
			c.i, err = timestampIn(tm, t.Unit)
		}
	default:
		return fmt.Sprintf("type %s cannot be parsed from text", dt)
	}
	if err != nil {
		return fmt.Sprintf("%q is not a valid %s", truncate(s, 64), dt)
	}
	return ""
}

// timestampIn returns tm as a count of unit since the epoch, or an error
// when that count does not fit in an int64 (nanoseconds span 1678-2262).
func timestampIn(tm time.Time, unit arrow.TimeUnit) (int64, error) {
	ts, err := arrow.TimestampFromTime(tm, unit)
	if err == nil && !ts.ToTime(unit).Equal(tm.Truncate(unit.Multiplier())) {
		err = fmt.Errorf("out of range")
	}
	return int64(ts), err
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time")
}

// commit appends the pending row to the builders.
func (r *rowBuilder) commit() {
	for i := range r.pending {
		c := &r.pending[i]
		fb := r.rb.Field(i)
		if c.null {
			fb.AppendNull()
			continue
		}
		switch b := fb.(type) {
		case *array.Int8Builder:
			b.Append(int8(c.i))
		case *array.Int16Builder:
			b.Append(int16(c.i))
		case *array.Int32Builder:
			b.Append(int32(c.i))
		case *array.Int64Builder:
			b.Append(c.i)
		case *array.Uint8Builder:
			b.Append(uint8(c.u))
		case *array.Uint16Builder:
			b.Append(uint16(c.u))
		case *array.Uint32Builder:
			b.Append(uint32(c.u))
		case *array.Uint64Builder:
			b.Append(c.u)
		case *array.Float32Builder:
			b.Append(float32(c.f))
		case *array.Float64Builder:
			b.Append(c.f)
		case *array.BooleanBuilder:
			b.Append(c.b)
		case *array.StringBuilder:
			b.Append(c.s)
		case *array.LargeStringBuilder:
			b.Append(c.s)
		case *array.BinaryBuilder:
			b.AppendString(c.s)
		case *array.Date32Builder:
			b.Append(arrow.Date32(c.i))
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(c.i))
		default:
			panic(fmt.Sprintf("shard: no append for %T", fb)) // setText rejected the type already
		}
	}
	r.rows++
}

// full reports whether a batch's worth of rows is buffered.
func (r *rowBuilder) full(batchRows int) bool { return r.rows >= batchRows }

// flush returns the buffered rows as a record (nil when none) and resets.
func (r *rowBuilder) flush() arrow.Record {
	if r.rows == 0 {
		return nil
	}
	r.rows = 0
	return r.rb.NewRecord()
}

func (r *rowBuilder) release() { r.rb.Release() }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
