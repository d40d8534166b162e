package train

import "math"

// GLM is the objective of a single dense layer: linear regression
// (out = 1, squared error), logistic regression (out = 1, log loss) or
// softmax regression (out = classes, cross-entropy). It accumulates in
// float64.
type GLM struct {
	in, out int
	kind    int
	l2      float64
	g       []float64 // gradient accumulator, NumParams
	z       []float64 // one row's outputs, out
}

// NewGLM returns a single-layer objective with in inputs and out outputs;
// kind is the family's loss (see NewObjective). Most callers want
// NewObjective.
func NewGLM(in, out, kind int, l2 float64) *GLM {
	return &GLM{in: in, out: out, kind: kind, l2: l2,
		g: make([]float64, in*out+out), z: make([]float64, out)}
}

// Dim implements Objective.
func (o *GLM) Dim() int { return o.in }

// NumParams implements Objective.
func (o *GLM) NumParams() int { return o.in*o.out + o.out }

// LossGrad implements Objective.
func (o *GLM) LossGrad(params, X, y []float32, rows int, grad []float32) float64 {
	checkArgs(o, params, X, y, rows, grad)
	clear(o.g)
	var loss float64
	if o.out == 1 {
		loss = o.single(params, X, y, rows)
	} else {
		loss = o.multi(params, X, y, rows)
	}
	nw := o.in * o.out
	if o.l2 != 0 {
		s := o.l2 * float64(rows)
		var sq float64
		for i, v := range params[:nw] {
			f := float64(v)
			sq += f * f
			o.g[i] += s * f
		}
		loss += 0.5 * s * sq
	}
	for i, v := range o.g {
		grad[i] = float32(v)
	}
	return loss
}

// single is LossGrad's data term for one output.
func (o *GLM) single(params, X, y []float32, rows int) float64 {
	in := o.in
	w, b := params[:in], float64(params[in])
	g := o.g[:in]
	var loss, gb float64
	for r := range rows {
		x := X[r*in:][:in]
		z := b + dot64(x, w)
		t := float64(y[r])
		var dz float64
		if o.kind == outBinary {
			loss += logLoss(z, t)
			dz = sigmoid(z) - t
		} else {
			d := z - t
			loss += 0.5 * d * d
			dz = d
		}
		gb += dz
		axpy64(g, x, dz)
	}
	o.g[in] = gb
	return loss
}

// multi is LossGrad's data term for softmax regression.
func (o *GLM) multi(params, X, y []float32, rows int) float64 {
	in, out := o.in, o.out
	w, b := params[:in*out], params[in*out:]
	gw, gb := o.g[:in*out], o.g[in*out:]
	z := o.z
	var loss float64
	for r := range rows {
		x := X[r*in:][:in]
		for j := range z {
			z[j] = float64(b[j])
		}
		for k, xk := range x {
			if xk != 0 {
				axpy64(z, w[k*out:][:out], float64(xk))
			}
		}
		loss += softmaxGrad(z, classIndex(y[r], out))
		for j, d := range z {
			gb[j] += d
		}
		for k, xk := range x {
			if xk != 0 {
				gk := gw[k*out:][:out]
				f := float64(xk)
				for j, d := range z {
					gk[j] += f * d
				}
			}
		}
	}
	return loss
}

// dot64 is the dot product of two float32 vectors accumulated in float64.
func dot64(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	k := 0
	for ; k+4 <= len(a); k += 4 {
		s0 += float64(a[k]) * float64(b[k])
		s1 += float64(a[k+1]) * float64(b[k+1])
		s2 += float64(a[k+2]) * float64(b[k+2])
		s3 += float64(a[k+3]) * float64(b[k+3])
	}
	for ; k < len(a); k++ {
		s0 += float64(a[k]) * float64(b[k])
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy64 adds a·x to g.
func axpy64(g []float64, x []float32, a float64) {
	g = g[:len(x)]
	k := 0
	for ; k+4 <= len(x); k += 4 {
		g[k] += a * float64(x[k])
		g[k+1] += a * float64(x[k+1])
		g[k+2] += a * float64(x[k+2])
		g[k+3] += a * float64(x[k+3])
	}
	for ; k < len(x); k++ {
		g[k] += a * float64(x[k])
	}
}

// logLoss is log(1+e^z) − t·z, the logistic loss of logit z against
// target t, computed as max(z,0) + log1p(e^−|z|) − t·z.
func logLoss(z, t float64) float64 {
	return math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) - t*z
}

// sigmoid is 1/(1+e^−z) without overflow.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// softmaxGrad replaces logits z with the gradient of the cross-entropy
// against class c, softmax(z) − onehot(c), and returns the loss
// log Σ e^z_j − z_c (a log-sum-exp, shifted by the maximum).
func softmaxGrad(z []float64, c int) float64 {
	zc, m := z[c], z[0]
	for _, v := range z[1:] {
		m = math.Max(m, v)
	}
	var s float64
	for j, v := range z {
		e := math.Exp(v - m)
		z[j] = e
		s += e
	}
	loss := m + math.Log(s) - zc
	for j := range z {
		z[j] /= s
	}
	z[c]--
	return loss
}
