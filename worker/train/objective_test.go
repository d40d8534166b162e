package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nightshift-ml/nightshift/worker/model"
)

// testSpec returns a spec with nnum numeric features and, when buckets >
// 0, one categorical feature.
func testSpec(family, objective string, hidden []int, classes, nnum, buckets int) *model.Spec {
	s := &model.Spec{FormatVersion: model.FormatVersion, Family: family, Objective: objective, Hidden: hidden}
	for i := range nnum {
		s.Features = append(s.Features, model.Feature{Column: fmt.Sprintf("x%d", i), Kind: model.KindNumeric, Std: 1, Missing: model.MissingImpute})
	}
	if buckets > 0 {
		s.Features = append(s.Features, model.Feature{Column: "c", Kind: model.KindCategorical, Buckets: buckets, Missing: model.MissingImpute})
	}
	for i := range classes {
		s.Classes = append(s.Classes, fmt.Sprintf("k%d", i))
	}
	return s
}

type gradCase struct {
	name    string
	spec    *model.Spec
	l2      float64
	rows    int
	hidden  []int
	kind    int
	classes int
}

func gradCases() []gradCase {
	return []gradCase{
		{name: "linear", spec: testSpec(model.FamilyLinear, "", nil, 0, 5, 3), l2: 0.3, rows: 37, kind: outRegression},
		{name: "logistic", spec: testSpec(model.FamilyLogistic, "", nil, 0, 6, 0), l2: 0.2, rows: 41, kind: outBinary},
		{name: "logistic-nol2", spec: testSpec(model.FamilyLogistic, "", nil, 0, 3, 4), l2: 0, rows: 9, kind: outBinary},
		{name: "softmax", spec: testSpec(model.FamilySoftmax, "", nil, 3, 4, 3), l2: 0.1, rows: 33, kind: outMulticlass, classes: 3},
		{name: "mlp-regression", spec: testSpec(model.FamilyMLP, model.ObjectiveRegression, []int{7, 5}, 0, 4, 2), l2: 0.05, rows: 150, hidden: []int{7, 5}, kind: outRegression},
		{name: "mlp-binary", spec: testSpec(model.FamilyMLP, model.ObjectiveBinary, []int{9}, 0, 5, 0), l2: 0.1, rows: 131, hidden: []int{9}, kind: outBinary},
		{name: "mlp-multiclass", spec: testSpec(model.FamilyMLP, model.ObjectiveMulticlass, []int{6, 5}, 4, 3, 3), l2: 0.2, rows: 45, hidden: []int{6, 5}, kind: outMulticlass, classes: 4},
	}
}

// randomProblem fills params, X and y for objective o.
func randomProblem(rng *rand.Rand, o Objective, rows, kind, classes int) (params, X, y []float32) {
	params = make([]float32, o.NumParams())
	for i := range params {
		params[i] = float32(rng.NormFloat64() * 0.5)
	}
	X = make([]float32, rows*o.Dim())
	for i := range X {
		X[i] = float32(rng.NormFloat64())
		if rng.IntN(5) == 0 {
			X[i] = 0
		}
	}
	y = make([]float32, rows)
	for i := range y {
		switch kind {
		case outRegression:
			y[i] = float32(rng.NormFloat64())
		case outBinary:
			y[i] = float32(rng.IntN(2))
		default:
			y[i] = float32(rng.IntN(classes))
		}
	}
	return params, X, y
}

// refLoss is a plain float64 implementation of the objective: the sum over
// rows of loss_i + λ/2‖W‖².
func refLoss(p []float64, X, y []float32, rows, in int, hidden []int, out, kind int, l2 float64) float64 {
	widths := append(append([]int{in}, hidden...), out)
	var loss float64
	for r := range rows {
		a := make([]float64, in)
		for k := range a {
			a[k] = float64(X[r*in+k])
		}
		off := 0
		for l := 1; l < len(widths); l++ {
			ni, no := widths[l-1], widths[l]
			z := make([]float64, no)
			for j := range z {
				z[j] = p[off+ni*no+j]
				for k := range ni {
					z[j] += a[k] * p[off+k*no+j]
				}
				if l < len(widths)-1 {
					z[j] = math.Max(z[j], 0)
				}
			}
			off += ni*no + no
			a = z
		}
		t := float64(y[r])
		switch kind {
		case outRegression:
			loss += 0.5 * (a[0] - t) * (a[0] - t)
		case outBinary:
			loss += math.Log(1+math.Exp(a[0])) - t*a[0]
		default:
			var s float64
			for _, v := range a {
				s += math.Exp(v)
			}
			loss += math.Log(s) - a[int(t)]
		}
	}
	off := 0
	for l := 1; l < len(widths); l++ {
		ni, no := widths[l-1], widths[l]
		for _, v := range p[off : off+ni*no] {
			loss += float64(rows) * l2 / 2 * v * v
		}
		off += ni*no + no
	}
	return loss
}

// TestGradientFiniteDifferences checks every family's loss against a
// float64 reference and its gradient against central differences of it.
func TestGradientFiniteDifferences(t *testing.T) {
	for _, c := range gradCases() {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(c.name))))
			o, err := NewObjective(c.spec, c.l2)
			if err != nil {
				t.Fatal(err)
			}
			out := 1
			if c.classes > 0 {
				out = c.classes
			}
			params, X, y := randomProblem(rng, o, c.rows, c.kind, c.classes)
			grad := make([]float32, o.NumParams())
			loss := o.LossGrad(params, X, y, c.rows, grad)

			p := make([]float64, len(params))
			for i, v := range params {
				p[i] = float64(v)
			}
			f := func() float64 { return refLoss(p, X, y, c.rows, o.Dim(), c.hidden, out, c.kind, c.l2) }
			want := f()
			if math.Abs(loss-want) > 1e-5*math.Abs(want) {
				t.Fatalf("loss %v, reference %v", loss, want)
			}
			const h = 1e-5
			var num, den float64
			for i := range p {
				v := p[i]
				p[i] = v + h
				fp := f()
				p[i] = v - h
				fm := f()
				p[i] = v
				fd := (fp - fm) / (2 * h)
				d := float64(grad[i]) - fd
				num += d * d
				den += fd * fd
			}
			if rel := math.Sqrt(num / den); rel > 1e-5 {
				t.Fatalf("gradient relative error %.3g", rel)
			}
		})
	}
}

// TestLossGradSums checks that the loss and gradient of a batch are the
// sums of those of its halves (what an all-reduce relies on).
func TestLossGradSums(t *testing.T) {
	for _, c := range gradCases() {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, 3))
			o, _ := NewObjective(c.spec, c.l2)
			params, X, y := randomProblem(rng, o, c.rows, c.kind, c.classes)
			n := o.NumParams()
			g, g1, g2 := make([]float32, n), make([]float32, n), make([]float32, n)
			h := c.rows / 3
			loss := o.LossGrad(params, X, y, c.rows, g)
			l1 := o.LossGrad(params, X, y, h, g1)
			l2 := o.LossGrad(params, X[h*o.Dim():], y[h:], c.rows-h, g2)
			if math.Abs(loss-(l1+l2)) > 1e-9*math.Abs(loss) {
				t.Fatalf("loss %v, halves %v", loss, l1+l2)
			}
			for i := range g {
				if d := math.Abs(float64(g[i] - (g1[i] + g2[i]))); d > 1e-4*(1+math.Abs(float64(g[i]))) {
					t.Fatalf("grad[%d] %v, halves %v", i, g[i], g1[i]+g2[i])
				}
			}
		})
	}
}

// TestLossGradNoAlloc checks the hot path does not allocate.
func TestLossGradNoAlloc(t *testing.T) {
	for _, c := range gradCases() {
		o, _ := NewObjective(c.spec, c.l2)
		params, X, y := randomProblem(rand.New(rand.NewPCG(4, 5)), o, c.rows, c.kind, c.classes)
		grad := make([]float32, o.NumParams())
		if a := testing.AllocsPerRun(5, func() { o.LossGrad(params, X, y, c.rows, grad) }); a != 0 {
			t.Errorf("%s: %v allocations per call", c.name, a)
		}
	}
}

// TestLossStable checks extreme logits give finite losses.
func TestLossStable(t *testing.T) {
	if v := logLoss(1000, 0); v != 1000 {
		t.Errorf("logLoss(1000, 0) = %v", v)
	}
	if v := logLoss(-1000, 0); v != 0 {
		t.Errorf("logLoss(-1000, 0) = %v", v)
	}
	z := []float64{1000, -1000, 0}
	if v := softmaxGrad(z, 1); v != 2000 {
		t.Errorf("softmax loss = %v, want 2000", v)
	}
}

func TestNewObjectiveErrors(t *testing.T) {
	for _, s := range []*model.Spec{nil, testSpec("tree", "", nil, 0, 2, 0), testSpec(model.FamilySoftmax, "", nil, 1, 2, 0),
		testSpec(model.FamilyMLP, "", []int{3}, 0, 2, 0), testSpec(model.FamilyMLP, model.ObjectiveBinary, nil, 0, 2, 0)} {
		if _, err := NewObjective(s, 0); err == nil {
			t.Errorf("NewObjective(%+v) succeeded", s)
		}
	}
	if _, err := NewObjective(testSpec(model.FamilyLinear, "", nil, 0, 2, 0), -1); err == nil {
		t.Error("negative l2 accepted")
	}
}
