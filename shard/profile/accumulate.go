package profile

import (
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// FormatVersion is the DatasetProfile layout this package writes and reads.
const FormatVersion = 1

// Accumulator computes the partial profile of one shard from its record
// batches. It is not safe for concurrent use.
type Accumulator struct {
	schema *arrow.Schema
	rows   int64
	cols   []*columnAcc
}

// columnAcc is one column's counts and, by kind, its statistics.
type columnAcc struct {
	kind  pb.ColumnKind
	typ   string
	count int64
	nulls int64
	num   *numericCol // NUMERIC
	cat   *catSummary // CATEGORICAL
}

// NewAccumulator returns an empty accumulator for records of schema.
func NewAccumulator(schema *arrow.Schema) *Accumulator {
	a := &Accumulator{schema: schema, cols: make([]*columnAcc, schema.NumFields())}
	for i, f := range schema.Fields() {
		c := &columnAcc{kind: KindOf(f.Type), typ: TypeName(f.Type)}
		switch c.kind {
		case pb.ColumnKind_COLUMN_KIND_NUMERIC:
			c.num = newNumericCol(f.Type)
		case pb.ColumnKind_COLUMN_KIND_CATEGORICAL:
			c.cat = newCatSummary()
		}
		a.cols[i] = c
	}
	return a
}

// TypeName is a column's type in a profile: Arrow's String form of the
// type ("int64", "float64", "utf8", "bool", "timestamp[ms]",
// "dictionary<values=utf8, indices=int32, ordered=false>"). It is the
// specific form rather than dt.Name() so that columns merge only when
// their types are the same, unit and value type included.
func TypeName(dt arrow.DataType) string { return dt.String() }

// KindOf says which statistics a column of type dt gets: integers and
// floats are numeric; strings, booleans and dictionaries of strings are
// categorical; anything else has counts only.
func KindOf(dt arrow.DataType) pb.ColumnKind {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return pb.ColumnKind_COLUMN_KIND_NUMERIC
	case arrow.STRING, arrow.LARGE_STRING, arrow.BOOL:
		return pb.ColumnKind_COLUMN_KIND_CATEGORICAL
	case arrow.DICTIONARY:
		switch dt.(*arrow.DictionaryType).ValueType.ID() {
		case arrow.STRING, arrow.LARGE_STRING:
			return pb.ColumnKind_COLUMN_KIND_CATEGORICAL
		}
	}
	return pb.ColumnKind_COLUMN_KIND_OTHER
}

// Add counts the rows of rec, whose columns must have the accumulator's
// names and types, in order (nullability and metadata are not compared:
// they change no statistic).
func (a *Accumulator) Add(rec arrow.Record) error {
	if err := sameColumns(a.schema, rec.Schema()); err != nil {
		return err
	}
	for i, c := range a.cols {
		c.add(rec.Column(i))
	}
	a.rows += rec.NumRows()
	return nil
}

// add counts one column of a record.
func (c *columnAcc) add(arr arrow.Array) {
	c.count += int64(arr.Len())
	c.nulls += int64(arr.NullN())
	switch c.kind {
	case pb.ColumnKind_COLUMN_KIND_NUMERIC:
		c.num.add(arr)
	case pb.ColumnKind_COLUMN_KIND_CATEGORICAL:
		c.nulls += addCategorical(c.cat, arr)
	}
}

// sameColumns reports the first column where got differs from want in
// name or type.
func sameColumns(want, got *arrow.Schema) error {
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("record has %d columns, the schema %d", got.NumFields(), want.NumFields())
	}
	for i, f := range want.Fields() {
		g := got.Field(i)
		if g.Name != f.Name {
			return fmt.Errorf("column %d: record has column %q where the schema has %q", i, g.Name, f.Name)
		}
		if !arrow.TypeEqual(g.Type, f.Type) {
			return fmt.Errorf("column %q: record has type %s, the schema %s", f.Name, g.Type, f.Type)
		}
	}
	return nil
}

// addCategorical counts the values of a string, large string, bool or
// dictionary-of-strings array. It returns the rows that are null though
// the array's validity says otherwise (dictionary indices that point at a
// null entry).
func addCategorical(c *catSummary, arr arrow.Array) (moreNulls int64) {
	nulls := arr.NullN() > 0
	switch a := arr.(type) {
	case *array.String:
		for i := range a.Len() {
			if !nulls || a.IsValid(i) {
				c.add(a.Value(i))
			}
		}
	case *array.LargeString:
		for i := range a.Len() {
			if !nulls || a.IsValid(i) {
				c.add(a.Value(i))
			}
		}
	case *array.Boolean:
		// Two values: count them, then enter each once.
		var t, f int64
		for i := range a.Len() {
			if !nulls || a.IsValid(i) {
				if a.Value(i) {
					t++
				} else {
					f++
				}
			}
		}
		if t > 0 {
			c.addN("true", t)
		}
		if f > 0 {
			c.addN("false", f)
		}
	case *array.Dictionary:
		return addDictionary(c, a)
	}
	return 0
}

// addDictionary counts a dictionary array's values, value by value as a
// plain string column would (so the summary is the same as the decoded
// column's). An index that points at a null dictionary entry is a null
// row, which the array's NullN does not count: it returns how many.
func addDictionary(c *catSummary, a *array.Dictionary) (moreNulls int64) {
	var value func(int) (string, bool)
	switch d := a.Dictionary().(type) {
	case *array.String:
		value = func(j int) (string, bool) { return d.Value(j), d.IsValid(j) }
	case *array.LargeString:
		value = func(j int) (string, bool) { return d.Value(j), d.IsValid(j) }
	default:
		return 0
	}
	for i := range a.Len() {
		if a.IsNull(i) {
			continue
		}
		if s, ok := value(a.GetValueIndex(i)); ok {
			c.add(s)
		} else {
			moreNulls++
		}
	}
	return moreNulls
}

// Partial returns the shard's partial profile: format_version 1, its rows,
// shards = 1 and one column per schema field in order, with categorical top
// lists sorted and no quantiles (Finish adds them to a merged profile).
// Dataset and fingerprint are left for the caller. Partial does not change
// the accumulator: more records may follow.
func (a *Accumulator) Partial() *pb.DatasetProfile {
	p := &pb.DatasetProfile{FormatVersion: FormatVersion, Rows: a.rows, Shards: 1, Columns: make([]*pb.ColumnProfile, len(a.cols))}
	for i, c := range a.cols {
		cp := &pb.ColumnProfile{Name: a.schema.Field(i).Name, Type: c.typ, Kind: c.kind, Count: c.count, Nulls: c.nulls}
		switch c.kind {
		case pb.ColumnKind_COLUMN_KIND_NUMERIC:
			cp.Numeric = c.num.stats()
		case pb.ColumnKind_COLUMN_KIND_CATEGORICAL:
			cp.Categorical = c.cat.stats(c.count - c.nulls)
		}
		p.Columns[i] = cp
	}
	return p
}
