package train

import (
	"errors"
	"math"
	"testing"
)

// quadGrad writes the gradient of batch·½Σa_i(p_i−c_i)², summed over a
// batch of identical rows.
func quadGrad(p, g []float32, batch int) {
	for i := range p {
		a := float32(1 + i%3)
		c := float32(i) - 2
		g[i] = float32(batch) * a * (p[i] - c)
	}
}

func optimizers(n int) map[string]func() Optimizer {
	return map[string]func() Optimizer{
		"sgd":          func() Optimizer { return NewSGD(n, Constant(0.1), 0, false) },
		"momentum":     func() Optimizer { return NewSGD(n, StepDecay{Base: 0.1, Gamma: 0.5, Every: 200}, 0.9, false) },
		"nesterov":     func() Optimizer { return NewSGD(n, Cosine{Base: 0.1, Min: 0.001, Warmup: 10, Total: 500}, 0.9, true) },
		"adam":         func() Optimizer { return NewAdam(n, Constant(0.05)) },
		"adam-cosine":  func() Optimizer { return NewAdam(n, Cosine{Base: 0.1, Min: 0.0, Warmup: 20, Total: 500}) },
		"adam-stepped": func() Optimizer { return NewAdam(n, StepDecay{Base: 0.1, Gamma: 0.5, Every: 100}) },
	}
}

func TestOptimizersConverge(t *testing.T) {
	const n, batch = 7, 32
	for name, mk := range optimizers(n) {
		t.Run(name, func(t *testing.T) {
			o := mk()
			p, g := make([]float32, n), make([]float32, n)
			for range 500 {
				quadGrad(p, g, batch)
				o.Step(p, g, batch)
			}
			for i, v := range p {
				if c := float64(i) - 2; math.Abs(float64(v)-c) > 1e-3 {
					t.Fatalf("p[%d] = %v, want %v", i, v, c)
				}
			}
		})
	}
}

// TestOptimizerStateRoundTrip checks that a fresh optimiser given the
// state of another after N steps continues bit-identically to an
// uninterrupted run.
func TestOptimizerStateRoundTrip(t *testing.T) {
	const n, batch, steps = 5, 8, 37
	for name, mk := range optimizers(n) {
		t.Run(name, func(t *testing.T) {
			run := func(o Optimizer, p []float32, k int) {
				g := make([]float32, n)
				for range k {
					quadGrad(p, g, batch)
					o.Step(p, g, batch)
				}
			}
			a, pa := mk(), make([]float32, n)
			run(a, pa, 2*steps)

			b, pb := mk(), make([]float32, n)
			run(b, pb, steps)
			c := mk()
			if err := c.SetState(b.State()); err != nil {
				t.Fatal(err)
			}
			pc := append([]float32(nil), pb...)
			run(c, pc, steps)
			for i := range pa {
				if math.Float32bits(pa[i]) != math.Float32bits(pc[i]) {
					t.Fatalf("p[%d]: uninterrupted %v, resumed %v", i, pa[i], pc[i])
				}
			}
			if sa, sc := a.State(), c.State(); len(sa) != len(sc) {
				t.Fatal("state lengths differ")
			} else {
				for i := range sa {
					if math.Float32bits(sa[i]) != math.Float32bits(sc[i]) {
						t.Fatalf("state[%d]: %v vs %v", i, sa[i], sc[i])
					}
				}
			}
			if err := c.SetState(make([]float32, 3)); !errors.Is(err, ErrBadState) {
				t.Fatalf("short state: %v", err)
			}
		})
	}
}

func TestStepCountRoundTrip(t *testing.T) {
	s := make([]float32, 2)
	for _, v := range []int64{0, 1, stepSplit - 1, stepSplit, 123456789012} {
		putStep(s, v)
		if got, err := getStep(s); err != nil || got != v {
			t.Errorf("step %d: got %d, %v", v, got, err)
		}
	}
	if _, err := getStep([]float32{0.5, 0}); err == nil {
		t.Error("fractional step accepted")
	}
}

func TestSchedules(t *testing.T) {
	for _, c := range []struct {
		s    Schedule
		t    int64
		want float64
	}{
		{Constant(0.3), 99, 0.3},
		{StepDecay{Base: 1, Gamma: 0.1, Every: 10}, 9, 1},
		{StepDecay{Base: 1, Gamma: 0.1, Every: 10}, 25, 0.01},
		{Cosine{Base: 1, Min: 0, Warmup: 4, Total: 104}, 0, 0.25},
		{Cosine{Base: 1, Min: 0, Warmup: 4, Total: 104}, 4, 1},
		{Cosine{Base: 1, Min: 0, Warmup: 4, Total: 104}, 54, 0.5},
		{Cosine{Base: 1, Min: 0.1, Warmup: 4, Total: 104}, 500, 0.1},
	} {
		if got := c.s.LR(c.t); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%#v.LR(%d) = %v, want %v", c.s, c.t, got, c.want)
		}
	}
}
