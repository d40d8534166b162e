package train

import (
	"fmt"
	"math"
)

// LossGradFunc evaluates an objective at params: it returns the loss and
// overwrites grad with its gradient. A data-parallel caller implements it
// by computing its slice and all-reducing loss and gradient.
type LossGradFunc func(params, grad []float32) (loss float64)

// LBFGSOptions tune Minimize. Zero values take the defaults shown.
type LBFGSOptions struct {
	History       int     // correction pairs kept, m (10)
	MaxIter       int     // iterations (1000)
	MaxLineSearch int     // evaluations per line search (40)
	GradTol       float64 // stop when max|gᵢ| ≤ GradTol (1e-7)
	FuncTol       float64 // stop when the relative decrease ≤ FuncTol (1e-12)
	C1, C2        float64 // strong Wolfe constants (1e-4, 0.9)
}

func (o LBFGSOptions) withDefaults() LBFGSOptions {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.History, 10)
	def(&o.MaxIter, 1000)
	def(&o.MaxLineSearch, 40)
	deff(&o.GradTol, 1e-7)
	deff(&o.FuncTol, 1e-12)
	deff(&o.C1, 1e-4)
	deff(&o.C2, 0.9)
	return o
}

// LBFGSResult reports how Minimize ended.
type LBFGSResult struct {
	Iterations  int
	Evaluations int
	Loss        float64 // at the returned parameters
	GradMax     float64 // max|gᵢ| there
	Converged   bool    // a tolerance was met
	Reason      string  // why it stopped
}

// LBFGS fits obj on the in-memory batch (X, y, rows) by minimising the
// mean objective, (1/rows)·LossGrad, i.e. mean loss + λ/2·‖W‖², starting
// from and overwriting params. It is meant for linear and logistic
// models (convex); any Objective works.
func LBFGS(obj Objective, X, y []float32, rows int, params []float32, opts LBFGSOptions) (LBFGSResult, error) {
	if rows <= 0 || len(X) < rows*obj.Dim() || len(y) < rows {
		return LBFGSResult{}, fmt.Errorf("%w: %d rows, len(X) %d, len(y) %d, dim %d", ErrBadArgument, rows, len(X), len(y), obj.Dim())
	}
	if n, ok := obj.(interface{ NumParams() int }); ok && n.NumParams() != len(params) {
		return LBFGSResult{}, fmt.Errorf("%w: %d params, objective has %d", ErrBadArgument, len(params), n.NumParams())
	}
	inv := 1 / float64(rows)
	f := func(p, g []float32) float64 {
		loss := obj.LossGrad(p, X, y, rows, g)
		for i, v := range g {
			g[i] = float32(float64(v) * inv)
		}
		return loss * inv
	}
	return Minimize(f, params, opts)
}

// lbfgs is the state of one Minimize run. Iterates are kept in float64;
// f is always evaluated at their float32 rounding, which becomes the
// iterate.
type lbfgs struct {
	f      LossGradFunc
	opts   LBFGSOptions
	p32    []float32 // parameters handed to f
	g32    []float32 // gradient from f
	evals  int
	s, y   [][]float64 // correction pairs, ring of History
	rho    []float64
	alpha  []float64
	head   int // index of the oldest pair
	npairs int
}

// Minimize minimises f from params with L-BFGS (two-loop recursion and a
// line search satisfying the strong Wolfe conditions) and leaves the best
// point found in params. A line search that cannot progress (typically at
// the float32 resolution of the parameters) ends the run with Converged
// false and a Reason; errors are only for bad arguments or a non-finite
// starting loss.
func Minimize(f LossGradFunc, params []float32, opts LBFGSOptions) (LBFGSResult, error) {
	opts = opts.withDefaults()
	n := len(params)
	if n == 0 {
		return LBFGSResult{}, fmt.Errorf("%w: no parameters", ErrBadArgument)
	}
	m := &lbfgs{f: f, opts: opts, p32: make([]float32, n), g32: make([]float32, n),
		s: make([][]float64, opts.History), y: make([][]float64, opts.History),
		rho: make([]float64, opts.History), alpha: make([]float64, opts.History)}
	for i := range m.s {
		m.s[i], m.y[i] = make([]float64, n), make([]float64, n)
	}
	x, g := make([]float64, n), make([]float64, n)
	for i, v := range params {
		x[i] = float64(v)
	}
	fx := m.eval(x, g)
	if math.IsNaN(fx) || math.IsInf(fx, 0) {
		return LBFGSResult{Evaluations: m.evals, Loss: fx}, fmt.Errorf("%w: starting loss %v", ErrBadArgument, fx)
	}
	res := m.run(x, g, fx)
	for i, v := range x {
		params[i] = float32(v)
	}
	res.Evaluations = m.evals
	return res, nil
}

// eval evaluates f at float32(x), rounds x to it, and fills g.
func (m *lbfgs) eval(x, g []float64) float64 {
	for i, v := range x {
		m.p32[i] = float32(v)
		x[i] = float64(m.p32[i])
	}
	fx := m.f(m.p32, m.g32)
	for i, v := range m.g32 {
		g[i] = float64(v)
	}
	m.evals++
	return fx
}

func (m *lbfgs) run(x, g []float64, fx float64) LBFGSResult {
	n := len(x)
	d, xt, gt := make([]float64, n), make([]float64, n), make([]float64, n)
	res := LBFGSResult{Loss: fx}
	for res.Iterations = 0; res.Iterations < m.opts.MaxIter; res.Iterations++ {
		res.GradMax = maxAbs(g)
		if res.GradMax <= m.opts.GradTol {
			res.Converged, res.Reason = true, "gradient tolerance"
			return res
		}
		m.direction(d, g)
		gd := dotf(g, d)
		if gd >= 0 { // not a descent direction: drop the history
			m.npairs = 0
			m.direction(d, g)
			gd = dotf(g, d)
		}
		step := 1.0
		if m.npairs == 0 {
			step = 1 / math.Sqrt(dotf(g, g))
		}
		ft, ok := m.lineSearch(x, fx, g, d, gd, step, xt, gt)
		if !ok {
			if m.npairs > 0 { // retry along the steepest descent
				m.npairs = 0
				res.Iterations--
				continue
			}
			res.Reason = "line search failed"
			return res
		}
		m.push(x, xt, g, gt)
		prev := fx
		copy(x, xt)
		copy(g, gt)
		fx = ft
		res.Loss = fx
		if prev-fx <= m.opts.FuncTol*math.Max(math.Max(math.Abs(prev), math.Abs(fx)), 1) {
			res.GradMax = maxAbs(g)
			res.Iterations++
			res.Converged, res.Reason = true, "function tolerance"
			return res
		}
	}
	res.GradMax = maxAbs(g)
	res.Reason = "iteration limit"
	return res
}

// push records the pair s = xt − x, y = gt − g when its curvature sᵀy is
// positive.
func (m *lbfgs) push(x, xt, g, gt []float64) {
	var sy, ss, yy float64
	for i := range x {
		si, yi := xt[i]-x[i], gt[i]-g[i]
		sy += si * yi
		ss += si * si
		yy += yi * yi
	}
	if sy <= 1e-12*math.Sqrt(ss*yy) || sy <= 0 {
		return
	}
	k := (m.head + m.npairs) % len(m.s)
	if m.npairs == len(m.s) {
		k = m.head
		m.head = (m.head + 1) % len(m.s)
	} else {
		m.npairs++
	}
	s, y := m.s[k], m.y[k]
	for i := range x {
		s[i] = xt[i] - x[i]
		y[i] = gt[i] - g[i]
	}
	m.rho[k] = 1 / sy
}

// direction sets d = −H·g by the two-loop recursion, H₀ = (sᵀy/yᵀy)·I
// from the newest pair.
func (m *lbfgs) direction(d, g []float64) {
	for i, v := range g {
		d[i] = -v
	}
	if m.npairs == 0 {
		m.head = 0
		return
	}
	h := len(m.s)
	for j := m.npairs - 1; j >= 0; j-- {
		k := (m.head + j) % h
		m.alpha[k] = m.rho[k] * dotf(m.s[k], d)
		axpyf(d, m.y[k], -m.alpha[k])
	}
	newest := (m.head + m.npairs - 1) % h
	scale := 1 / (m.rho[newest] * dotf(m.y[newest], m.y[newest]))
	for i := range d {
		d[i] *= scale
	}
	for j := 0; j < m.npairs; j++ {
		k := (m.head + j) % h
		b := m.rho[k] * dotf(m.y[k], d)
		axpyf(d, m.s[k], m.alpha[k]-b)
	}
}

func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func dotf(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func axpyf(y, x []float64, a float64) {
	for i, v := range x {
		y[i] += a * v
	}
}
