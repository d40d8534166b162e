package model

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"

	"github.com/apache/arrow/go/v15/arrow"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Model is a validated model: its spec and weights, split into layers. It
// is read-only after New and safe to share between goroutines; scoring
// goes through a Predictor per goroutine.
type Model struct {
	// Spec is the model's model.json. Its informational fields (Label,
	// Hyper, Metrics, Lineage) may be edited before Save; scoring uses a
	// private copy taken by New.
	Spec Spec

	spec Spec // what scoring reads

	weights  []float32
	layers   []layer
	inputs   []input // per feature: where its inputs start in the pipeline output
	inputDim int
	outputs  []arrow.Field

	// The block path feeds the first layer a dense block of the numeric
	// inputs only and adds the weight rows of the active categorical
	// buckets directly, so hashed one-hots cost one row each, not
	// Buckets columns each.
	first    layer // layers[0] restricted to the numeric inputs
	denseOff []int // per feature: offset in the dense block, -1 for categoricals
	catPos   []int // per feature: index among the categoricals, -1 for numerics
	ncat     int
}

// layer is one dense layer: out = in · W + b, W row-major [in×out].
type layer struct {
	in, out int
	w       []float32 // in×out, row-major
	wt      []float32 // out×in (W transposed), kept for narrow layers
	b       []float32
}

// input locates one feature's inputs in the pipeline output.
type input struct {
	off, width int
}

// narrowLayer is the output width below which a layer is computed as dot
// products over its transposed weights rather than row updates.
const narrowLayer = 16

// New validates spec and weights and builds a Model. It takes ownership of
// weights (the caller must not modify them afterwards) and sets
// spec.Weights.Count and CRC32C from them; an empty spec.Weights.File
// becomes "weights.bin".
func New(spec Spec, weights []float32) (*Model, error) {
	if spec.Weights.File == "" {
		spec.Weights.File = WeightsFile
	}
	spec.Weights.Count = int64(len(weights))
	spec.Weights.CRC32C = weightsCRC(weights)
	if err := spec.normalize(); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	for i, v := range weights {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%w: weight %d is %v", ErrCorruptWeights, i, v)
		}
	}
	m := &Model{Spec: cloneSpec(spec), spec: cloneSpec(spec), weights: weights, inputDim: spec.InputDim()}
	off := 0
	for _, f := range spec.Features {
		m.inputs = append(m.inputs, input{off: off, width: f.width()})
		off += f.width()
	}
	rest := weights
	for _, sh := range spec.LayerShapes() {
		in, out := sh[0], sh[1]
		l := layer{in: in, out: out, w: rest[:in*out], b: rest[in*out : in*out+out]}
		rest = rest[in*out+out:]
		if out < narrowLayer && len(m.layers) > 0 { // the first layer runs as m.first
			l.wt = transpose(l.w, in, out)
		}
		m.layers = append(m.layers, l)
	}
	m.outputs = outputFields(&spec)
	if spec.Family == FamilySoftmax || spec.Family == FamilyMLP {
		m.splitFirstLayer()
	}
	return m, nil
}

// splitFirstLayer builds first, denseOff and catPos.
func (m *Model) splitFirstLayer() {
	l0 := &m.layers[0]
	var rows []int // rows of W feeding the dense block
	for f, feat := range m.spec.Features {
		in := m.inputs[f]
		if feat.Kind == KindCategorical {
			m.denseOff = append(m.denseOff, -1)
			m.catPos = append(m.catPos, m.ncat)
			m.ncat++
			continue
		}
		m.denseOff = append(m.denseOff, len(rows))
		m.catPos = append(m.catPos, -1)
		for k := range in.width {
			rows = append(rows, in.off+k)
		}
	}
	out := l0.out
	m.first = layer{in: len(rows), out: out, w: make([]float32, len(rows)*out), b: l0.b}
	for i, k := range rows {
		copy(m.first.w[i*out:(i+1)*out], l0.w[k*out:(k+1)*out])
	}
	if out < narrowLayer {
		m.first.wt = transpose(m.first.w, m.first.in, out)
	}
}

// transpose returns the out×in transpose of the row-major in×out w.
func transpose(w []float32, in, out int) []float32 {
	t := make([]float32, in*out)
	for k := range in {
		for j := range out {
			t[j*in+k] = w[k*out+j]
		}
	}
	return t
}

// cloneSpec copies s deeply enough that edits to the copy's slices and
// maps do not reach s.
func cloneSpec(s Spec) Spec {
	s.Features = slices.Clone(s.Features)
	s.Hidden = slices.Clone(s.Hidden)
	s.Classes = slices.Clone(s.Classes)
	s.Hyper = maps.Clone(s.Hyper)
	s.Metrics = maps.Clone(s.Metrics)
	if s.Lineage != nil {
		l := *s.Lineage
		l.Spec, l.Membership = slices.Clone(l.Spec), slices.Clone(l.Membership)
		s.Lineage = &l
	}
	return s
}

// weightsCRC is the CRC-32C of weights encoded as little-endian float32.
func weightsCRC(w []float32) uint32 {
	var buf [4096]byte
	crc := uint32(0)
	for len(w) > 0 {
		n := min(len(w), len(buf)/4)
		for i, v := range w[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		crc = crc32.Update(crc, castagnoli, buf[:4*n])
		w = w[n:]
	}
	return crc
}

// InputDim is the width of the pipeline output: the number of model inputs.
func (m *Model) InputDim() int { return m.inputDim }

// Weights returns the model's weights in weights.bin order. The slice is
// shared: callers must not modify it.
func (m *Model) Weights() []float32 { return m.weights }

// Output column names.
const (
	ColumnPrediction     = "prediction"
	ColumnProbability    = "probability"
	ColumnPredictedClass = "predicted_class"
	ProbabilityPrefix    = "probability_"
)

// OutputFields returns the prediction columns Predict produces: linear and
// mlp regression models give "prediction"; logistic and mlp binary models
// "probability" (of the positive class); softmax and mlp multiclass models
// "probability_<class>" per class and "predicted_class". Every column is
// nullable (a row that cannot be scored is null).
func (m *Model) OutputFields() []arrow.Field {
	return append([]arrow.Field(nil), m.outputs...)
}

func outputFields(s *Spec) []arrow.Field {
	f64 := func(name string) arrow.Field {
		return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
	}
	switch {
	case s.multiclass():
		fs := make([]arrow.Field, 0, len(s.Classes)+1)
		for _, c := range s.Classes {
			fs = append(fs, f64(ProbabilityPrefix+c))
		}
		return append(fs, arrow.Field{Name: ColumnPredictedClass, Type: arrow.BinaryTypes.String, Nullable: true})
	case s.Family == FamilyLogistic || s.Objective == ObjectiveBinary:
		return []arrow.Field{f64(ColumnProbability)}
	default:
		return []arrow.Field{f64(ColumnPrediction)}
	}
}

// Check reports whether schema can feed the model: every pipeline column
// present exactly once, numeric ones as integers or floats, categorical ones
// as strings, dictionary-encoded strings or integers. The error wraps
// ErrSchema and names the column.
func (m *Model) Check(schema *arrow.Schema) error {
	_, err := m.resolve(schema)
	return err
}

// resolve maps every feature to its column index in schema.
func (m *Model) resolve(schema *arrow.Schema) ([]int, error) {
	cols := make([]int, len(m.spec.Features))
	for i, f := range m.spec.Features {
		idx := schema.FieldIndices(f.Column)
		switch len(idx) {
		case 0:
			return nil, fmt.Errorf("%w: column %q is not in the input", ErrSchema, f.Column)
		case 1:
		default:
			return nil, fmt.Errorf("%w: column %q appears %d times in the input", ErrSchema, f.Column, len(idx))
		}
		dt := schema.Field(idx[0]).Type
		ok := false
		if f.Kind == KindNumeric {
			ok = isNumeric(dt)
		} else {
			ok = isCategorical(dt)
		}
		if !ok {
			return nil, fmt.Errorf("%w: column %q has type %s, which a %s feature cannot use", ErrSchema, f.Column, dt, f.Kind)
		}
		cols[i] = idx[0]
	}
	return cols, nil
}

func isInteger(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func isNumeric(dt arrow.DataType) bool {
	return isInteger(dt) || dt.ID() == arrow.FLOAT32 || dt.ID() == arrow.FLOAT64
}

func isCategorical(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		return true
	case arrow.DICTIONARY:
		v := dt.(*arrow.DictionaryType).ValueType.ID()
		return v == arrow.STRING || v == arrow.LARGE_STRING
	}
	return isInteger(dt)
}
