package model_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/nightshift-ml/nightshift/worker/model"
)

func num(col string, mean, std float64, missing string) model.Feature {
	return model.Feature{Column: col, Kind: model.KindNumeric, Mean: mean, Std: std, Missing: missing}
}

func cat(col string, buckets int, missing string) model.Feature {
	return model.Feature{Column: col, Kind: model.KindCategorical, Buckets: buckets, Missing: missing}
}

// allNumeric and allCategorical cover every column type and policy that
// does not make rows unscorable.
var (
	allNumeric = []model.Feature{
		num("a", 3, 2, model.MissingImpute), num("b", -10, 300, model.MissingFail),
		num("c", 0.1, 0.9, model.MissingIndicator), num("d", 30000, 17000, model.MissingImpute),
		num("e", 0, 50, model.MissingIndicator),
	}
	allCategorical = []model.Feature{
		cat("s", 7, model.MissingImpute), cat("ls", 5, model.MissingFail), cat("ds", 4, model.MissingImpute),
		cat("ic", 11, model.MissingFail), cat("uc", 3, model.MissingImpute),
	}
	mixed = append(append([]model.Feature{}, allNumeric...), allCategorical...)
)

func spec(family, objective string, hidden []int, classes []string, feats ...model.Feature) model.Spec {
	return model.Spec{FormatVersion: 1, Family: family, Objective: objective, Hidden: hidden, Classes: classes, Features: feats}
}

var predictCases = []struct {
	name string
	spec model.Spec
	tol  float64 // absolute tolerance on outputs
}{
	{"linear", spec(model.FamilyLinear, "", nil, nil, mixed...), 1e-9},
	{"logistic", spec(model.FamilyLogistic, "", nil, nil, mixed...), 1e-12},
	{"logistic/numeric-fail", spec(model.FamilyLogistic, "", nil, nil, num("a", 0, 1, model.MissingFail), num("c", 0, 1, model.MissingFail)), 1e-12},
	{"logistic/categorical-fail", spec(model.FamilyLogistic, "", nil, nil, cat("s", 13, model.MissingFail), cat("ds", 2, model.MissingFail)), 1e-12},
	{"logistic/one-bucket", spec(model.FamilyLogistic, "", nil, nil, cat("s", 1, model.MissingImpute)), 1e-12},
	{"softmax", spec(model.FamilySoftmax, "", nil, []string{"x", "y", "z"}, mixed...), 1e-5},
	{"softmax/categorical-only", spec(model.FamilySoftmax, "", nil, []string{"p", "q"}, allCategorical...), 1e-5},
	{"softmax/wide", spec(model.FamilySoftmax, "", nil, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, mixed...), 1e-5},
	{"mlp/regression", spec(model.FamilyMLP, model.ObjectiveRegression, []int{9, 5}, nil, mixed...), 1e-4},
	{"mlp/binary", spec(model.FamilyMLP, model.ObjectiveBinary, []int{33}, nil, mixed...), 1e-5},
	{"mlp/multiclass", spec(model.FamilyMLP, model.ObjectiveMulticlass, []int{16, 12, 8}, []string{"a", "b", "c", "d"}, mixed...), 1e-5},
	{"mlp/numeric-fail", spec(model.FamilyMLP, model.ObjectiveBinary, []int{6}, nil, num("a", 0, 1, model.MissingFail), cat("s", 3, model.MissingFail)), 1e-5},
}

func TestPredictMatchesReference(t *testing.T) {
	full := testRecord(t, 2600, 1, true) // crosses block boundaries, ragged tail
	defer full.Release()
	sliced := full.NewSlice(37, 2300) // non-zero array offsets
	defer sliced.Release()
	for i, tc := range predictCases {
		for _, rec := range []arrow.Record{full, sliced} {
			t.Run(fmt.Sprintf("%s/offset-%d", tc.name, rec.Column(0).Data().Offset()), func(t *testing.T) {
				w := randomWeights(tc.spec, uint64(i))
				m, err := model.New(tc.spec, w)
				if err != nil {
					t.Fatal(err)
				}
				checkPredict(t, m, rec, tc.tol)
			})
		}
	}
}

func checkPredict(t *testing.T, m *model.Model, rec arrow.Record, tol float64) {
	t.Helper()
	p := m.NewPredictor()
	for range 2 { // the second pass reuses the predictor's buffers
		out, bad, err := p.PredictMasked(rec)
		if err != nil {
			t.Fatal(err)
		}
		fields := m.OutputFields()
		if len(out) != len(fields) {
			t.Fatalf("%d output arrays, want %d", len(out), len(fields))
		}
		for j, a := range out {
			if !arrow.TypeEqual(a.DataType(), fields[j].Type) || a.Len() != int(rec.NumRows()) {
				t.Fatalf("output %d is %s × %d, want %s × %d", j, a.DataType(), a.Len(), fields[j].Type, rec.NumRows())
			}
		}
		badRows := map[int64]bool{}
		for k, e := range bad {
			if k > 0 && bad[k-1].Row >= e.Row {
				t.Fatalf("bad rows out of order: %v then %v", bad[k-1], e)
			}
			badRows[e.Row] = true
		}
		nbad := 0
		for r := range int(rec.NumRows()) {
			ref := reference(m.Spec, m.Weights(), rec, r)
			if ref.bad != badRows[int64(r)] {
				t.Fatalf("row %d: bad = %v, reference says %v", r, badRows[int64(r)], ref.bad)
			}
			if ref.bad {
				nbad++
				for j, a := range out {
					if !a.IsNull(r) {
						t.Fatalf("row %d is bad but output %d is not null", r, j)
					}
				}
				continue
			}
			for j, want := range ref.outputs {
				got := out[j].(*array.Float64).Value(r)
				if out[j].IsNull(r) || math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
					t.Fatalf("row %d output %s = %v (null %v), reference %v", r, fields[j].Name, got, out[j].IsNull(r), want)
				}
			}
			if ref.class != "" {
				got := out[len(out)-1].(*array.String).Value(r)
				if got != ref.class && !nearTie(out, r) {
					t.Fatalf("row %d predicted_class = %q, reference %q", r, got, ref.class)
				}
			}
		}
		for _, a := range out {
			if a.NullN() != nbad {
				t.Fatalf("%d nulls in an output, want %d", a.NullN(), nbad)
			}
			a.Release()
		}
		checkPredictError(t, p, rec, bad)
	}
}

// nearTie reports whether the top two class probabilities of row r are
// within float32 noise, where the arg max may legitimately differ.
func nearTie(out []arrow.Array, r int) bool {
	var p []float64
	for _, a := range out[:len(out)-1] {
		p = append(p, a.(*array.Float64).Value(r))
	}
	best, second := 0.0, 0.0
	for _, v := range p {
		if v > best {
			best, second = v, best
		} else if v > second {
			second = v
		}
	}
	return best-second < 1e-5
}

// checkPredictError checks that Predict fails on the first bad row.
func checkPredictError(t *testing.T, p *model.Predictor, rec arrow.Record, bad []model.RowError) {
	t.Helper()
	want := append([]model.RowError(nil), bad...)
	out, err := p.Predict(rec)
	if len(want) == 0 {
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out {
			a.Release()
		}
		return
	}
	var re *model.RowError
	if !errors.As(err, &re) || *re != want[0] {
		t.Fatalf("Predict error = %v, want %v", err, want[0])
	}
	if out != nil {
		t.Fatal("Predict returned arrays with an error")
	}
}

func TestRowErrorReasons(t *testing.T) {
	rec := testRecord(t, 300, 3, true)
	defer rec.Release()
	a := rec.Column(1).(*array.Float64)
	for _, family := range []string{model.FamilyLogistic, model.FamilySoftmax} {
		var classes []string
		if family == model.FamilySoftmax {
			classes = []string{"n", "y"}
		}
		s := spec(family, "", nil, classes, num("a", 0, 1, model.MissingFail), cat("s", 5, model.MissingFail))
		m, err := model.New(s, randomWeights(s, 9))
		if err != nil {
			t.Fatal(err)
		}
		_, bad, err := m.NewPredictor().PredictMasked(rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range bad {
			r := int(e.Row)
			var want model.RowError
			switch {
			case a.IsNull(r):
				want = model.RowError{Row: e.Row, Column: "a", Reason: "missing value"}
			case math.IsNaN(a.Value(r)):
				want = model.RowError{Row: e.Row, Column: "a", Reason: "value is NaN"}
			case math.IsInf(a.Value(r), 1):
				want = model.RowError{Row: e.Row, Column: "a", Reason: "value is +Inf"}
			case math.IsInf(a.Value(r), -1):
				want = model.RowError{Row: e.Row, Column: "a", Reason: "value is -Inf"}
			default:
				want = model.RowError{Row: e.Row, Column: "s", Reason: "missing value"}
			}
			if e != want {
				t.Errorf("%s: got %+v, want %+v", family, e, want)
			}
		}
		if len(bad) == 0 {
			t.Fatalf("%s: no bad rows found", family)
		}
	}
}

func TestFeaturesMatchReference(t *testing.T) {
	rec := testRecord(t, 1500, 4, false)
	defer rec.Release()
	s := spec(model.FamilyLogistic, "", nil, nil, mixed...)
	m, err := model.New(s, randomWeights(s, 4))
	if err != nil {
		t.Fatal(err)
	}
	p := m.NewPredictor()
	X, rows, dim, err := p.Features(rec)
	var re *model.RowError
	if err != nil && !errors.As(err, &re) {
		t.Fatal(err)
	}
	if rows != int(rec.NumRows()) || dim != m.InputDim() || len(X) != rows*dim {
		t.Fatalf("Features gave %d×%d (%d values), want %d×%d", rows, dim, len(X), rec.NumRows(), m.InputDim())
	}
	firstBad := -1
	for r := range rows {
		ref := reference(s, m.Weights(), rec, r)
		if ref.bad && firstBad < 0 {
			firstBad = r
		}
		if ref.bad {
			continue
		}
		for j, want := range ref.inputs {
			if got := float64(X[r*dim+j]); math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
				t.Fatalf("X[%d,%d] = %v, reference %v", r, j, got, want)
			}
		}
	}
	if (firstBad >= 0) != (re != nil) || re != nil && re.Row != int64(firstBad) {
		t.Fatalf("Features error %v, first bad row %d", err, firstBad)
	}
}

func TestPredictMissingColumn(t *testing.T) {
	rec := testRecord(t, 10, 5, false)
	defer rec.Release()
	for _, f := range []model.Feature{num("nope", 0, 1, model.MissingImpute), num("s", 0, 1, model.MissingImpute), cat("a", 3, model.MissingImpute)} {
		s := spec(model.FamilyLinear, "", nil, nil, f)
		m, err := model.New(s, randomWeights(s, 1))
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.NewPredictor().Predict(rec)
		if !errors.Is(err, model.ErrSchema) || !containsQuoted(err.Error(), f.Column) {
			t.Errorf("feature %+v: Predict error = %v, want ErrSchema naming the column", f, err)
		}
		if err2 := m.Check(rec.Schema()); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("Check = %v, Predict = %v", err2, err)
		}
	}
}

func containsQuoted(s, name string) bool {
	return strings.Contains(s, `"`+name+`"`)
}

func TestCheckTypes(t *testing.T) {
	s := spec(model.FamilyLinear, "", nil, nil, mixed...)
	m, err := model.New(s, randomWeights(s, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(testSchema); err != nil {
		t.Fatal(err)
	}
	dup := arrow.NewSchema(append(testSchema.Fields(), arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Float64}), nil)
	if err := m.Check(dup); err == nil || !strings.Contains(err.Error(), `"a" appears 2 times`) {
		t.Errorf("Check(duplicate a) = %v", err)
	}
	ts := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.FixedWidthTypes.Boolean}}, nil)
	one := spec(model.FamilyLinear, "", nil, nil, num("a", 0, 1, model.MissingImpute))
	m1, _ := model.New(one, randomWeights(one, 1))
	if err := m1.Check(ts); !errors.Is(err, model.ErrSchema) || !strings.Contains(err.Error(), "bool") {
		t.Errorf("Check(bool a) = %v", err)
	}
}

func TestOutputFields(t *testing.T) {
	for _, tc := range []struct {
		s    model.Spec
		want []string
	}{
		{spec(model.FamilyLinear, "", nil, nil, allNumeric...), []string{"prediction"}},
		{spec(model.FamilyLogistic, "", nil, nil, allNumeric...), []string{"probability"}},
		{spec(model.FamilyMLP, model.ObjectiveRegression, []int{2}, nil, allNumeric...), []string{"prediction"}},
		{spec(model.FamilyMLP, model.ObjectiveBinary, []int{2}, nil, allNumeric...), []string{"probability"}},
		{spec(model.FamilySoftmax, "", nil, []string{"lo", "hi"}, allNumeric...), []string{"probability_lo", "probability_hi", "predicted_class"}},
		{spec(model.FamilyMLP, model.ObjectiveMulticlass, []int{2}, []string{"x", "y", "z"}, allNumeric...), []string{"probability_x", "probability_y", "probability_z", "predicted_class"}},
	} {
		m, err := model.New(tc.s, randomWeights(tc.s, 1))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range m.OutputFields() {
			got = append(got, f.Name)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s/%s: OutputFields = %v, want %v", tc.s.Family, tc.s.Objective, got, tc.want)
		}
	}
}

func TestLogisticExtremes(t *testing.T) {
	// Huge linear predictors must saturate cleanly, not overflow to NaN.
	s := spec(model.FamilyLogistic, "", nil, nil, num("b", 0, 1e-3, model.MissingImpute))
	w := []float32{1e4, 0}
	m, err := model.New(s, w)
	if err != nil {
		t.Fatal(err)
	}
	rec := testRecord(t, 200, 6, false)
	defer rec.Release()
	out, err := m.NewPredictor().Predict(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer out[0].Release()
	b := rec.Column(2).(*array.Int64)
	for r := range int(rec.NumRows()) {
		got := out[0].(*array.Float64).Value(r)
		want := 0.0
		if b.Value(r) > 0 {
			want = 1
		} else if b.Value(r) == 0 {
			want = 0.5
		}
		if got != want {
			t.Fatalf("row %d (b=%d): probability %v, want %v", r, b.Value(r), got, want)
		}
	}
}

func TestNewRejectsBadWeights(t *testing.T) {
	s := spec(model.FamilyLinear, "", nil, nil, num("a", 0, 1, model.MissingImpute))
	if _, err := model.New(s, []float32{1}); !errors.Is(err, model.ErrInvalidSpec) || !strings.Contains(err.Error(), "weights.count") {
		t.Errorf("New with 1 weight = %v, want a weights.count error", err)
	}
	if _, err := model.New(s, []float32{float32(math.NaN()), 0}); !errors.Is(err, model.ErrCorruptWeights) {
		t.Errorf("New with NaN weight = %v, want ErrCorruptWeights", err)
	}
}
