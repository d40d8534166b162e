package train

import (
	"fmt"
	"math"
)

// Optimizer updates parameters from a gradient summed over a global batch
// of batch rows (it divides by batch). State returns the step count and
// moments as float32 values; SetState restores them into an optimiser
// built with the same options and parameter count, after which it
// continues bit-identically.
type Optimizer interface {
	Step(params, grad []float32, batch int)
	State() []float32
	SetState(state []float32) error
}

// The step count t travels in State as two float32 holding exact integers
// below 2^24: t mod 2^24 and t / 2^24.
const stepSplit = 1 << 24

func putStep(dst []float32, t int64) {
	dst[0], dst[1] = float32(t%stepSplit), float32(t/stepSplit)
}

func getStep(src []float32) (int64, error) {
	lo, hi := src[0], src[1]
	if lo < 0 || lo >= stepSplit || hi < 0 || hi >= stepSplit || lo != float32(int64(lo)) || hi != float32(int64(hi)) {
		return 0, fmt.Errorf("%w: step count (%v, %v)", ErrBadState, lo, hi)
	}
	return int64(lo) + int64(hi)*stepSplit, nil
}

// SGD is stochastic gradient descent with momentum μ:
// v ← μ·v + g, then p ← p − lr·v, or with Nesterov p ← p − lr·(g + μ·v),
// where g is the mean gradient. Momentum 0 is plain SGD.
type SGD struct {
	Schedule Schedule
	Momentum float64
	Nesterov bool
	t        int64
	v        []float32
}

// NewSGD returns SGD for n parameters.
func NewSGD(n int, lr Schedule, momentum float64, nesterov bool) *SGD {
	return &SGD{Schedule: lr, Momentum: momentum, Nesterov: nesterov, v: make([]float32, n)}
}

// Step implements Optimizer.
func (o *SGD) Step(params, grad []float32, batch int) {
	checkStep(len(o.v), params, grad, batch)
	lr := o.Schedule.LR(o.t)
	inv := 1 / float64(batch)
	mu := o.Momentum
	v := o.v[:len(params)]
	grad = grad[:len(params)]
	for i := range params {
		g := float64(grad[i]) * inv
		vi := float32(mu*float64(v[i]) + g)
		v[i] = vi
		u := float64(vi)
		if o.Nesterov {
			u = g + mu*u
		}
		params[i] = float32(float64(params[i]) - lr*u)
	}
	o.t++
}

// State implements Optimizer: the step count, then v.
func (o *SGD) State() []float32 {
	s := make([]float32, 2+len(o.v))
	putStep(s, o.t)
	copy(s[2:], o.v)
	return s
}

// SetState implements Optimizer.
func (o *SGD) SetState(s []float32) error {
	if len(s) != 2+len(o.v) {
		return fmt.Errorf("%w: %d values for SGD over %d parameters", ErrBadState, len(s), len(o.v))
	}
	t, err := getStep(s)
	if err != nil {
		return err
	}
	o.t = t
	copy(o.v, s[2:])
	return nil
}

// Adam is Adam with bias correction: m ← β1·m + (1−β1)·g,
// v ← β2·v + (1−β2)·g², p ← p − lr·m̂/(√v̂ + ε) with m̂ = m/(1−β1^t),
// v̂ = v/(1−β2^t), g the mean gradient and t counting from 1.
type Adam struct {
	Schedule Schedule
	Beta1    float64
	Beta2    float64
	Eps      float64
	t        int64
	m, v     []float32
}

// NewAdam returns Adam for n parameters with the usual constants
// β1 = 0.9, β2 = 0.999, ε = 1e-8 (fields may be changed before the first
// step).
func NewAdam(n int, lr Schedule) *Adam {
	return &Adam{Schedule: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, m: make([]float32, n), v: make([]float32, n)}
}

// Step implements Optimizer.
func (o *Adam) Step(params, grad []float32, batch int) {
	checkStep(len(o.m), params, grad, batch)
	lr := o.Schedule.LR(o.t)
	o.t++
	b1, b2 := o.Beta1, o.Beta2
	c1 := 1 - math.Pow(b1, float64(o.t))
	c2 := 1 - math.Pow(b2, float64(o.t))
	inv := 1 / float64(batch)
	m, v := o.m[:len(params)], o.v[:len(params)]
	grad = grad[:len(params)]
	for i := range params {
		g := float64(grad[i]) * inv
		mi := float32(b1*float64(m[i]) + (1-b1)*g)
		vi := float32(b2*float64(v[i]) + (1-b2)*g*g)
		m[i], v[i] = mi, vi
		mh := float64(mi) / c1
		vh := float64(vi) / c2
		params[i] = float32(float64(params[i]) - lr*mh/(math.Sqrt(vh)+o.Eps))
	}
}

// State implements Optimizer: the step count, then m, then v.
func (o *Adam) State() []float32 {
	n := len(o.m)
	s := make([]float32, 2+2*n)
	putStep(s, o.t)
	copy(s[2:], o.m)
	copy(s[2+n:], o.v)
	return s
}

// SetState implements Optimizer.
func (o *Adam) SetState(s []float32) error {
	n := len(o.m)
	if len(s) != 2+2*n {
		return fmt.Errorf("%w: %d values for Adam over %d parameters", ErrBadState, len(s), n)
	}
	t, err := getStep(s)
	if err != nil {
		return err
	}
	o.t = t
	copy(o.m, s[2:2+n])
	copy(o.v, s[2+n:])
	return nil
}

// checkStep panics on inconsistent Step arguments: a broken invariant.
func checkStep(n int, params, grad []float32, batch int) {
	if len(params) != n || len(grad) != n || batch <= 0 {
		panic(fmt.Sprintf("train: Step: %d params, %d grads, batch %d; optimiser has %d", len(params), len(grad), batch, n))
	}
}
