package profile_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// table is generated test data: a schema and, per column, the values row
// by row (nil for null) that the brute-force expectations are computed
// from. records cuts it into Arrow record batches.
type table struct {
	schema *arrow.Schema
	cols   [][]any
}

func (t *table) rows() int { return len(t.cols[0]) }

// genColumn makes one column of n values.
type genColumn struct {
	field arrow.Field
	gen   func(r *rand.Rand, row int) any
}

func genTable(n int, seed uint64, cols []genColumn) *table {
	r := rand.New(rand.NewPCG(seed, 99))
	t := &table{cols: make([][]any, len(cols))}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.field
		t.cols[i] = make([]any, n)
	}
	for row := range n {
		for i, c := range cols {
			t.cols[i][row] = c.gen(r, row)
		}
	}
	t.schema = arrow.NewSchema(fields, nil)
	return t
}

func nullable(p float64, gen func(r *rand.Rand, row int) any) func(r *rand.Rand, row int) any {
	return func(r *rand.Rand, row int) any {
		if r.Float64() < p {
			return nil
		}
		return gen(r, row)
	}
}

var (
	dictType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	tsType   = &arrow.TimestampType{Unit: arrow.Millisecond}
)

// mixedColumns covers every kind: integers of several widths, floats with
// nulls, NaN, ±Inf and -0, strings of low and high cardinality, unique
// ids, large strings, booleans, a dictionary and a timestamp.
func mixedColumns() []genColumn {
	zipfs := map[*rand.Rand]*rand.Zipf{}
	zipf := func(r *rand.Rand) uint64 {
		z, ok := zipfs[r]
		if !ok {
			z = rand.NewZipf(r, 1.1, 4, 30000)
			zipfs[r] = z
		}
		return z.Uint64()
	}
	f := func(name string, dt arrow.DataType, gen func(r *rand.Rand, row int) any) genColumn {
		return genColumn{arrow.Field{Name: name, Type: dt, Nullable: true}, gen}
	}
	return []genColumn{
		f("i64", arrow.PrimitiveTypes.Int64, nullable(0.05, func(r *rand.Rand, _ int) any { return int64(r.NormFloat64()*1000) + 50 })),
		f("i32", arrow.PrimitiveTypes.Int32, func(r *rand.Rand, _ int) any { return int32(r.IntN(101) - 50) }),
		f("u8", arrow.PrimitiveTypes.Uint8, func(r *rand.Rand, _ int) any { return uint8(r.IntN(256)) }),
		f("u64", arrow.PrimitiveTypes.Uint64, func(r *rand.Rand, _ int) any { return uint64(r.Int64N(1e15)) }),
		f("f64", arrow.PrimitiveTypes.Float64, nullable(0.05, func(r *rand.Rand, _ int) any {
			switch p := r.Float64(); {
			case p < 0.02:
				return math.NaN()
			case p < 0.03:
				return math.Inf(1)
			case p < 0.04:
				return math.Inf(-1)
			case p < 0.05:
				return math.Copysign(0, -1)
			}
			return r.NormFloat64()*100 + 7
		})),
		f("f32", arrow.PrimitiveTypes.Float32, func(r *rand.Rand, _ int) any { return float32(r.ExpFloat64() * 3) }),
		f("s_low", arrow.BinaryTypes.String, nullable(0.1, func(r *rand.Rand, _ int) any { return fmt.Sprintf("level-%02d", r.IntN(40)) })),
		f("s_high", arrow.BinaryTypes.String, func(r *rand.Rand, _ int) any { return fmt.Sprintf("z%d", zipf(r)) }),
		f("s_ids", arrow.BinaryTypes.String, func(_ *rand.Rand, row int) any { return fmt.Sprintf("id-%08d", row*7919%1000003) }),
		f("ls", arrow.BinaryTypes.LargeString, nullable(0.02, func(r *rand.Rand, _ int) any { return []string{"a", "b", "", "ü"}[r.IntN(4)] })),
		f("b", arrow.FixedWidthTypes.Boolean, nullable(0.1, func(r *rand.Rand, _ int) any { return r.IntN(3) == 0 })),
		f("dict", dictType, nullable(0.05, func(r *rand.Rand, _ int) any { return fmt.Sprintf("d%d", r.IntN(20)) })),
		f("ts", tsType, nullable(0.3, func(r *rand.Rand, row int) any { return int64(row) * 1000 })),
	}
}

// records cuts rows [lo, hi) of t into batches of at most batch rows.
func (t *table) records(lo, hi, batch int) []arrow.Record {
	var out []arrow.Record
	for s := lo; s < hi; s += batch {
		out = append(out, t.record(s, min(s+batch, hi)))
	}
	return out
}

func (t *table) record(lo, hi int) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, t.schema)
	defer b.Release()
	for i, col := range t.cols {
		fb := b.Field(i)
		for _, v := range col[lo:hi] {
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int64Builder:
				fb.Append(v.(int64))
			case *array.Int32Builder:
				fb.Append(v.(int32))
			case *array.Uint8Builder:
				fb.Append(v.(uint8))
			case *array.Uint64Builder:
				fb.Append(v.(uint64))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			case *array.Float32Builder:
				fb.Append(v.(float32))
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.LargeStringBuilder:
				fb.Append(v.(string))
			case *array.BooleanBuilder:
				fb.Append(v.(bool))
			case *array.BinaryDictionaryBuilder:
				if err := fb.AppendString(v.(string)); err != nil {
					panic(err)
				}
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(v.(int64)))
			default:
				panic(fmt.Sprintf("no case for %T", fb))
			}
		}
	}
	return b.NewRecord()
}

func release(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}

// asFloat is a numeric value as the profile sees it.
func asFloat(v any) float64 {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case int32:
		return float64(v)
	case uint8:
		return float64(v)
	case uint64:
		return float64(v)
	case float64:
		return v
	case float32:
		return float64(v)
	}
	panic(fmt.Sprintf("not numeric: %T", v))
}

// asCategory is a categorical value as the profile counts it.
func asCategory(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return fmt.Sprint(v)
	}
	panic(fmt.Sprintf("not categorical: %T", v))
}
