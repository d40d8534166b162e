package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nightshift-ml/nightshift/worker/model"
)

func TestMinimizeRosenbrock(t *testing.T) {
	f := func(p, g []float32) float64 {
		x, y := float64(p[0]), float64(p[1])
		g[0] = float32(-2*(1-x) - 400*x*(y-x*x))
		g[1] = float32(200 * (y - x*x))
		return (1-x)*(1-x) + 100*(y-x*x)*(y-x*x)
	}
	p := []float32{-1.2, 1}
	res, err := Minimize(f, p, LBFGSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(p[0])-1) > 1e-3 || math.Abs(float64(p[1])-1) > 1e-3 {
		t.Fatalf("minimum at %v (%+v)", p, res)
	}
	t.Logf("%+v", res)
}

// solve solves the dense system A·x = b (n×n, row-major) by Gaussian
// elimination with partial pivoting.
func solve(a, b []float64, n int) []float64 {
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r*n+c]) > math.Abs(a[p*n+c]) {
				p = r
			}
		}
		for k := range n {
			a[c*n+k], a[p*n+k] = a[p*n+k], a[c*n+k]
		}
		b[c], b[p] = b[p], b[c]
		for r := c + 1; r < n; r++ {
			f := a[r*n+c] / a[c*n+c]
			for k := c; k < n; k++ {
				a[r*n+k] -= f * a[c*n+k]
			}
			b[r] -= f * b[c]
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := b[r]
		for k := r + 1; k < n; k++ {
			s -= a[r*n+k] * x[k]
		}
		x[r] = s / a[r*n+r]
	}
	return x
}

// TestLBFGSRidge compares LBFGS on a linear model with the closed-form
// ridge solution (bias unpenalised).
func TestLBFGSRidge(t *testing.T) {
	const rows, dim, l2 = 500, 6, 0.1
	rng := rand.New(rand.NewPCG(7, 8))
	X, y := make([]float32, rows*dim), make([]float32, rows)
	for r := range rows {
		z := 0.5
		for k := range dim {
			v := float32(rng.NormFloat64())
			X[r*dim+k] = v
			z += float64(k-2) * float64(v)
		}
		y[r] = float32(z + rng.NormFloat64())
	}
	// Normal equations of mean ½(z−y)² + λ/2‖w‖² in (w, b).
	n := dim + 1
	a, b := make([]float64, n*n), make([]float64, n)
	for r := range rows {
		row := append(make([]float64, 0, n), 0)[:0]
		for k := range dim {
			row = append(row, float64(X[r*dim+k]))
		}
		row = append(row, 1)
		for i := range n {
			for j := range n {
				a[i*n+j] += row[i] * row[j] / rows
			}
			b[i] += row[i] * float64(y[r]) / rows
		}
	}
	for i := range dim {
		a[i*n+i] += l2
	}
	want := solve(a, b, n)

	obj, err := NewObjective(testSpec(model.FamilyLinear, "", nil, 0, dim, 0), l2)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]float32, obj.NumParams())
	res, err := LBFGS(obj, X, y, rows, p, LBFGSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range p {
		if math.Abs(float64(p[i])-want[i]) > 1e-5 {
			t.Fatalf("param %d = %v, want %v (%+v)", i, p[i], want[i], res)
		}
	}
	t.Logf("%+v", res)
}

// TestLBFGSLogistic checks the logistic fit reaches a stationary point of
// mean loss + λ/2‖W‖².
func TestLBFGSLogistic(t *testing.T) {
	const rows, dim, l2 = 2000, 10, 1e-3
	rng := rand.New(rand.NewPCG(9, 10))
	X, y := make([]float32, rows*dim), make([]float32, rows)
	for r := range rows {
		z := -0.3
		for k := range dim {
			v := float32(rng.NormFloat64())
			X[r*dim+k] = v
			z += float64(k%3-1) * float64(v)
		}
		if rng.Float64() < sigmoid(z) {
			y[r] = 1
		}
	}
	obj, _ := NewObjective(testSpec(model.FamilyLogistic, "", nil, 0, dim, 0), l2)
	p := make([]float32, obj.NumParams())
	res, err := LBFGS(obj, X, y, rows, p, LBFGSOptions{GradTol: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	g := make([]float32, len(p))
	obj.LossGrad(p, X, y, rows, g)
	for i, v := range g {
		if math.Abs(float64(v)/rows) > 1e-5 {
			t.Fatalf("mean gradient[%d] = %v at the optimum (%+v)", i, float64(v)/rows, res)
		}
	}
	t.Logf("%+v", res)
}

func TestLBFGSBadArguments(t *testing.T) {
	obj, _ := NewObjective(testSpec(model.FamilyLogistic, "", nil, 0, 2, 0), 0)
	if _, err := LBFGS(obj, nil, nil, 0, make([]float32, 3), LBFGSOptions{}); err == nil {
		t.Error("zero rows accepted")
	}
	if _, err := LBFGS(obj, make([]float32, 4), make([]float32, 2), 2, make([]float32, 2), LBFGSOptions{}); err == nil {
		t.Error("wrong parameter count accepted")
	}
}
