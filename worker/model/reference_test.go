package model_test

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/nightshift-ml/nightshift/worker/model"
)

// testSchema has a column of every type the pipeline reads.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "a", Type: arrow.PrimitiveTypes.Float64, Nullable: true}, // nulls, NaN, ±Inf
	{Name: "b", Type: arrow.PrimitiveTypes.Int64},
	{Name: "c", Type: arrow.PrimitiveTypes.Float32, Nullable: true}, // nulls
	{Name: "d", Type: arrow.PrimitiveTypes.Uint16},
	{Name: "e", Type: arrow.PrimitiveTypes.Int8, Nullable: true}, // nulls
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},  // nulls
	{Name: "ls", Type: arrow.BinaryTypes.LargeString},
	{Name: "ds", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "ic", Type: arrow.PrimitiveTypes.Int32},
	{Name: "uc", Type: arrow.PrimitiveTypes.Uint8},
}, nil)

var levels = []string{"north", "south", "east", "west", "", "ünïcode", "a,b", "x y z", "7", "-3"}

// testRecord makes n rows of testSchema. With nonFinite, column a holds
// some NaN and ±Inf values.
func testRecord(t testing.TB, n int, seed uint64, nonFinite bool) arrow.Record {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	b := array.NewRecordBuilder(memory.DefaultAllocator, testSchema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		a := b.Field(1).(*array.Float64Builder)
		switch {
		case r.Float64() < 0.05:
			a.AppendNull()
		case nonFinite && i%97 == 13:
			a.Append([]float64{math.NaN(), math.Inf(1), math.Inf(-1)}[i%3])
		default:
			a.Append(3 + 2*r.NormFloat64())
		}
		b.Field(2).(*array.Int64Builder).Append(int64(r.IntN(1000)) - 500)
		if c := b.Field(3).(*array.Float32Builder); r.Float64() < 0.03 {
			c.AppendNull()
		} else {
			c.Append(float32(r.NormFloat64()))
		}
		b.Field(4).(*array.Uint16Builder).Append(uint16(r.IntN(60000)))
		if e := b.Field(5).(*array.Int8Builder); r.Float64() < 0.04 {
			e.AppendNull()
		} else {
			e.Append(int8(r.IntN(200) - 100))
		}
		if s := b.Field(6).(*array.StringBuilder); r.Float64() < 0.05 {
			s.AppendNull()
		} else {
			s.Append(levels[r.IntN(len(levels))])
		}
		b.Field(7).(*array.LargeStringBuilder).Append(levels[r.IntN(len(levels))])
		ds := b.Field(8).(*array.BinaryDictionaryBuilder)
		if r.Float64() < 0.02 {
			ds.AppendNull()
		} else if err := ds.AppendString(levels[r.IntN(len(levels))]); err != nil {
			t.Fatal(err)
		}
		b.Field(9).(*array.Int32Builder).Append(int32(r.IntN(30) - 10))
		b.Field(10).(*array.Uint8Builder).Append(uint8(r.IntN(256)))
	}
	return b.NewRecord()
}

// refRow is the straightforward reference: one row at a time, in float64,
// straight from the spec's definitions.
type refRow struct {
	bad     bool
	inputs  []float64
	outputs []float64 // one per float output column
	class   string
}

func reference(spec model.Spec, w []float32, rec arrow.Record, row int) refRow {
	var out refRow
	for _, f := range spec.Features {
		col := rec.Column(rec.Schema().FieldIndices(f.Column)[0])
		null := col.IsNull(row)
		if f.Kind == model.KindNumeric {
			z, ind := 0.0, 0.0
			switch {
			case null && f.Missing == model.MissingFail:
				out.bad = true
			case null:
				ind = 1
			default:
				x := numAt(col, row)
				if math.IsNaN(x) || math.IsInf(x, 0) {
					out.bad = true
				} else {
					z = (x - f.Mean) / f.Std
				}
			}
			out.inputs = append(out.inputs, z)
			if f.Missing == model.MissingIndicator {
				out.inputs = append(out.inputs, ind)
			}
			continue
		}
		onehot := make([]float64, f.Buckets)
		if null {
			out.bad = out.bad || f.Missing == model.MissingFail
		} else {
			h := fnv.New32a()
			h.Write([]byte(textAt(col, row)))
			onehot[h.Sum32()%uint32(f.Buckets)] = 1
		}
		out.inputs = append(out.inputs, onehot...)
	}
	// Dense layers, ReLU between them.
	h := out.inputs
	shapes := layerShapes(spec, len(h))
	off := 0
	for li, sh := range shapes {
		in, o := sh[0], sh[1]
		next := make([]float64, o)
		for j := range o {
			s := float64(w[off+in*o+j])
			for k := range in {
				s += h[k] * float64(w[off+k*o+j])
			}
			if li < len(shapes)-1 && s < 0 {
				s = 0
			}
			next[j] = s
		}
		off += in*o + o
		h = next
	}
	switch {
	case spec.Family == model.FamilySoftmax || spec.Objective == model.ObjectiveMulticlass:
		m := math.Inf(-1)
		for _, v := range h {
			m = math.Max(m, v)
		}
		sum := 0.0
		for _, v := range h {
			sum += math.Exp(v - m)
		}
		best := 0
		for j, v := range h {
			out.outputs = append(out.outputs, math.Exp(v-m)/sum)
			if v > h[best] {
				best = j
			}
		}
		out.class = spec.Classes[best]
	case spec.Family == model.FamilyLogistic || spec.Objective == model.ObjectiveBinary:
		out.outputs = []float64{1 / (1 + math.Exp(-h[0]))}
	default:
		out.outputs = []float64{h[0]}
	}
	return out
}

func layerShapes(spec model.Spec, in int) [][2]int {
	out := 1
	if len(spec.Classes) > 0 {
		out = len(spec.Classes)
	}
	var s [][2]int
	for _, h := range spec.Hidden {
		s = append(s, [2]int{in, h})
		in = h
	}
	return append(s, [2]int{in, out})
}

func weightCount(spec model.Spec) int {
	dim := 0
	for _, f := range spec.Features {
		switch {
		case f.Kind == model.KindCategorical:
			dim += f.Buckets
		case f.Missing == model.MissingIndicator:
			dim += 2
		default:
			dim++
		}
	}
	n := 0
	for _, sh := range layerShapes(spec, dim) {
		n += sh[0]*sh[1] + sh[1]
	}
	return n
}

func randomWeights(spec model.Spec, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	w := make([]float32, weightCount(spec))
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.5)
	}
	return w
}

func numAt(a arrow.Array, i int) float64 {
	switch c := a.(type) {
	case *array.Float64:
		return c.Value(i)
	case *array.Float32:
		return float64(c.Value(i))
	case *array.Int64:
		return float64(c.Value(i))
	case *array.Int32:
		return float64(c.Value(i))
	case *array.Int8:
		return float64(c.Value(i))
	case *array.Uint16:
		return float64(c.Value(i))
	case *array.Uint8:
		return float64(c.Value(i))
	}
	panic("numAt: " + a.DataType().String())
}

func textAt(a arrow.Array, i int) string {
	switch c := a.(type) {
	case *array.String:
		return c.Value(i)
	case *array.LargeString:
		return c.Value(i)
	case *array.Dictionary:
		return c.Dictionary().(*array.String).Value(c.GetValueIndex(i))
	case *array.Int32:
		return strconv.FormatInt(int64(c.Value(i)), 10)
	case *array.Uint8:
		return strconv.FormatUint(uint64(c.Value(i)), 10)
	}
	panic("textAt: " + a.DataType().String())
}
