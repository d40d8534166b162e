package train

import "math"

// lineSearch finds a step α along d from x (loss f0, directional
// derivative gd < 0) that satisfies the strong Wolfe conditions
//
//	f(x+αd) ≤ f0 + c1·α·gd   and   |∇f(x+αd)·d| ≤ c2·|gd|
//
// by bracketing and zooming with safeguarded cubic interpolation (Nocedal
// and Wright, algorithms 3.5 and 3.6). On success the point and its
// gradient are in xt and gt. When the budget runs out it falls back to the
// best point that satisfies the first (Armijo) condition.
func (m *lbfgs) lineSearch(x []float64, f0 float64, g0, d []float64, gd, alpha float64, xt, gt []float64) (float64, bool) {
	c1, c2 := m.opts.C1, m.opts.C2
	budget := m.opts.MaxLineSearch
	at := func(a float64) (float64, float64) {
		for i := range x {
			xt[i] = x[i] + a*d[i]
		}
		f := m.eval(xt, gt)
		budget--
		return f, dotf(gt, d)
	}
	armijo := func(a, f float64) bool { return f <= f0+c1*a*gd && !math.IsNaN(f) }
	curvature := func(dg float64) bool { return math.Abs(dg) <= -c2*gd }

	prevA, prevF, prevD := 0.0, f0, gd
	var lo, hi, flo, fhi, dlo, dhi float64
	bracketed := false
	for first := true; budget > 0; first = false {
		f, dg := at(alpha)
		if !armijo(alpha, f) || (!first && f >= prevF) {
			lo, flo, dlo, hi, fhi, dhi = prevA, prevF, prevD, alpha, f, dg
			bracketed = true
			break
		}
		if curvature(dg) {
			return f, true
		}
		if dg >= 0 {
			lo, flo, dlo, hi, fhi, dhi = alpha, f, dg, prevA, prevF, prevD
			bracketed = true
			break
		}
		prevA, prevF, prevD = alpha, f, dg
		alpha *= 2
	}
	if !bracketed {
		return m.fallback(prevA, prevF, at)
	}
	for budget > 0 {
		if math.Abs(hi-lo) <= 1e-16*math.Max(math.Abs(lo), math.Abs(hi)) {
			break
		}
		a := cubicMin(lo, flo, dlo, hi, fhi, dhi)
		f, dg := at(a)
		if !armijo(a, f) || f >= flo {
			hi, fhi, dhi = a, f, dg
			continue
		}
		if curvature(dg) {
			return f, true
		}
		if dg*(hi-lo) >= 0 {
			hi, fhi, dhi = lo, flo, dlo
		}
		lo, flo, dlo = a, f, dg
	}
	return m.fallback(lo, flo, at)
}

// fallback re-evaluates the step a found to decrease the loss (f < f at
// 0 means a > 0 and the Armijo condition held), or reports failure.
func (m *lbfgs) fallback(a, f float64, at func(float64) (float64, float64)) (float64, bool) {
	if a <= 0 {
		return f, false
	}
	ft, _ := at(a)
	return ft, ft == f
}

// cubicMin returns the minimiser of the cubic interpolating (a, fa, da)
// and (b, fb, db), kept at least a tenth of the interval from either end;
// bisection when the cubic has no usable minimiser.
func cubicMin(a, fa, da, b, fb, db float64) float64 {
	lo, hi := math.Min(a, b), math.Max(a, b)
	w := hi - lo
	d1 := da + db - 3*(fa-fb)/(a-b)
	disc := d1*d1 - da*db
	x := (lo + hi) / 2
	if disc >= 0 {
		d2 := math.Copysign(math.Sqrt(disc), b-a)
		den := db - da + 2*d2
		if den != 0 {
			c := b - (b-a)*(db+d2-d1)/den
			if !math.IsNaN(c) && !math.IsInf(c, 0) {
				x = c
			}
		}
	}
	return math.Min(math.Max(x, lo+0.1*w), hi-0.1*w)
}
