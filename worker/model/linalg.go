package model

import "math"

// The kernels below are plain Go written for the compiler: bounds checks
// hoisted by re-slicing to a common length, inner loops unrolled 4×, and
// no allocation. They are the hot loops of scoring and training.

// axpyStd adds (x[i]-mean)*ws to z[i]: one standardised numeric feature's
// contribution to a linear predictor.
func axpyStd(z, x []float64, mean, ws float64) {
	x = x[:len(z)]
	i := 0
	for ; i+4 <= len(z); i += 4 {
		z0, z1, z2, z3 := z[i]+(x[i]-mean)*ws, z[i+1]+(x[i+1]-mean)*ws, z[i+2]+(x[i+2]-mean)*ws, z[i+3]+(x[i+3]-mean)*ws
		z[i], z[i+1], z[i+2], z[i+3] = z0, z1, z2, z3
	}
	for ; i < len(z); i++ {
		z[i] += (x[i] - mean) * ws
	}
}

// stdColumn is one standardised numeric column of a linear model: z
// gains (x[i]-mean)*ws.
type stdColumn struct {
	x        []float64
	mean, ws float64
}

// axpyStd4 is axpyStd for four columns at once.
func axpyStd4(z []float64, c *[4]stdColumn) {
	n := len(z)
	x0, x1, x2, x3 := c[0].x[:n], c[1].x[:n], c[2].x[:n], c[3].x[:n]
	m0, m1, m2, m3 := c[0].mean, c[1].mean, c[2].mean, c[3].mean
	w0, w1, w2, w3 := c[0].ws, c[1].ws, c[2].ws, c[3].ws
	i := 0
	for ; i+2 <= n; i += 2 {
		a := ((x0[i]-m0)*w0 + (x1[i]-m1)*w1) + ((x2[i]-m2)*w2 + (x3[i]-m3)*w3)
		b := ((x0[i+1]-m0)*w0 + (x1[i+1]-m1)*w1) + ((x2[i+1]-m2)*w2 + (x3[i+1]-m3)*w3)
		z[i] += a
		z[i+1] += b
	}
	for ; i < n; i++ {
		z[i] += ((x0[i]-m0)*w0 + (x1[i]-m1)*w1) + ((x2[i]-m2)*w2 + (x3[i]-m3)*w3)
	}
}

// axpyStdValid is axpyStd that skips the rows whose validity bit (bit
// off+i of bitmap) is clear.
func axpyStdValid(z, x []float64, bitmap []byte, off int, mean, ws float64) {
	x = x[:len(z)]
	for i := range z {
		if !isNull(bitmap, off, i) {
			z[i] += (x[i] - mean) * ws
		}
	}
}

// fillStd writes float32((x[r]-mean)*inv) to dst[r*stride]: one numeric
// feature's column of a row-major input block. It reports whether every
// value written is finite.
func fillStd(dst []float32, stride int, x []float64, mean, inv float64) bool {
	var acc float32
	for r, v := range x {
		f := float32((v - mean) * inv)
		dst[r*stride] = f
		acc += f * 0 // stays 0 unless some f is NaN or ±Inf
	}
	return acc == 0
}

// allFinite reports whether no value of z is NaN or ±Inf.
func allFinite(z []float64) bool {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(z); i += 4 {
		a0 += z[i] * 0
		a1 += z[i+1] * 0
		a2 += z[i+2] * 0
		a3 += z[i+3] * 0
	}
	for ; i < len(z); i++ {
		a0 += z[i] * 0
	}
	return a0+a1+a2+a3 == 0
}

// allFinite32 is allFinite for float32.
func allFinite32(z []float32) bool {
	var a0, a1, a2, a3 float32
	i := 0
	for ; i+4 <= len(z); i += 4 {
		a0 += z[i] * 0
		a1 += z[i+1] * 0
		a2 += z[i+2] * 0
		a3 += z[i+3] * 0
	}
	for ; i < len(z); i++ {
		a0 += z[i] * 0
	}
	return a0+a1+a2+a3 == 0
}

// dense computes c = a·W + b for n rows: a is n×l.in and c n×l.out, both
// row-major.
func dense(c, a []float32, l *layer, n int) {
	if l.wt != nil {
		denseDot(c, a, l.wt, l.b, n, l.in, l.out)
	} else {
		denseRows(c, a, l.w, l.b, n, l.in, l.out)
	}
}

// denseRows is the wide-layer kernel: four rows at a time, it adds a[i,k]
// times row k of W to row i of c for every k, so each row of W is loaded
// once per four rows and the inner loop runs over contiguous memory. Input
// values that are zero in all four rows (ReLU zeros, one-hot blanks) are
// skipped.
func denseRows(c, a, w, b []float32, n, in, out int) {
	i := 0
	for ; i+4 <= n; i += 4 {
		c0, c1, c2, c3 := c[i*out:][:out], c[(i+1)*out:][:out], c[(i+2)*out:][:out], c[(i+3)*out:][:out]
		copy(c0, b)
		copy(c1, b)
		copy(c2, b)
		copy(c3, b)
		a0, a1, a2, a3 := a[i*in:][:in], a[(i+1)*in:][:in], a[(i+2)*in:][:in], a[(i+3)*in:][:in]
		k := 0
		for ; k+2 <= in; k += 2 {
			x0, x1, x2, x3 := a0[k], a1[k], a2[k], a3[k]
			y0, y1, y2, y3 := a0[k+1], a1[k+1], a2[k+1], a3[k+1]
			xz := x0 == 0 && x1 == 0 && x2 == 0 && x3 == 0
			yz := y0 == 0 && y1 == 0 && y2 == 0 && y3 == 0
			switch {
			case xz && yz:
			case xz:
				axpy4(c0, c1, c2, c3, w[(k+1)*out:][:out], y0, y1, y2, y3)
			case yz:
				axpy4(c0, c1, c2, c3, w[k*out:][:out], x0, x1, x2, x3)
			default:
				axpy4x2(c0, c1, c2, c3, w[k*out:][:out], w[(k+1)*out:][:out], x0, x1, x2, x3, y0, y1, y2, y3)
			}
		}
		if k < in {
			axpy4(c0, c1, c2, c3, w[k*out:][:out], a0[k], a1[k], a2[k], a3[k])
		}
	}
	for ; i < n; i++ {
		ci := c[i*out:][:out]
		copy(ci, b)
		ai := a[i*in:][:in]
		for k, x := range ai {
			if x != 0 {
				axpy1(ci, w[k*out:][:out], x)
			}
		}
	}
}

// axpy4 adds x0..x3 times w to c0..c3.
func axpy4(c0, c1, c2, c3, w []float32, x0, x1, x2, x3 float32) {
	n := len(w)
	c0, c1, c2, c3 = c0[:n], c1[:n], c2[:n], c3[:n]
	j := 0
	for ; j+4 <= n; j += 4 {
		w0, w1, w2, w3 := w[j], w[j+1], w[j+2], w[j+3]
		c0[j] += x0 * w0
		c0[j+1] += x0 * w1
		c0[j+2] += x0 * w2
		c0[j+3] += x0 * w3
		c1[j] += x1 * w0
		c1[j+1] += x1 * w1
		c1[j+2] += x1 * w2
		c1[j+3] += x1 * w3
		c2[j] += x2 * w0
		c2[j+1] += x2 * w1
		c2[j+2] += x2 * w2
		c2[j+3] += x2 * w3
		c3[j] += x3 * w0
		c3[j+1] += x3 * w1
		c3[j+2] += x3 * w2
		c3[j+3] += x3 * w3
	}
	for ; j < n; j++ {
		wj := w[j]
		c0[j] += x0 * wj
		c1[j] += x1 * wj
		c2[j] += x2 * wj
		c3[j] += x3 * wj
	}
}

// axpy4x2 adds x0..x3 times v and y0..y3 times u to c0..c3: two input
// columns per pass, so each output value is loaded and stored once per
// two products.
func axpy4x2(c0, c1, c2, c3, v, u []float32, x0, x1, x2, x3, y0, y1, y2, y3 float32) {
	n := len(v)
	u, c0, c1, c2, c3 = u[:n], c0[:n], c1[:n], c2[:n], c3[:n]
	j := 0
	for ; j+2 <= n; j += 2 {
		v0, u0, v1, u1 := v[j], u[j], v[j+1], u[j+1]
		c0[j] += x0*v0 + y0*u0
		c1[j] += x1*v0 + y1*u0
		c2[j] += x2*v0 + y2*u0
		c3[j] += x3*v0 + y3*u0
		c0[j+1] += x0*v1 + y0*u1
		c1[j+1] += x1*v1 + y1*u1
		c2[j+1] += x2*v1 + y2*u1
		c3[j+1] += x3*v1 + y3*u1
	}
	for ; j < n; j++ {
		vj, uj := v[j], u[j]
		c0[j] += x0*vj + y0*uj
		c1[j] += x1*vj + y1*uj
		c2[j] += x2*vj + y2*uj
		c3[j] += x3*vj + y3*uj
	}
}

// axpy1 adds x times w to c.
func axpy1(c, w []float32, x float32) {
	c = c[:len(w)]
	j := 0
	for ; j+4 <= len(w); j += 4 {
		c[j] += x * w[j]
		c[j+1] += x * w[j+1]
		c[j+2] += x * w[j+2]
		c[j+3] += x * w[j+3]
	}
	for ; j < len(w); j++ {
		c[j] += x * w[j]
	}
}

// denseDot is the narrow-layer kernel: each output is a dot product of an
// input row with a row of W transposed (wt, out×in).
func denseDot(c, a, wt, b []float32, n, in, out int) {
	for i := range n {
		ai := a[i*in:][:in]
		ci := c[i*out:][:out]
		for j := range ci {
			ci[j] = b[j] + Dot(ai, wt[j*in:][:in])
		}
	}
}

// Dot returns the dot product of a and b (len(b) >= len(a)) with four
// independent accumulators, in a fixed order: the same inputs give the same
// bits. Scoring and training share it.
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	k := 0
	for ; k+4 <= len(a); k += 4 {
		s0 += a[k] * b[k]
		s1 += a[k+1] * b[k+1]
		s2 += a[k+2] * b[k+2]
		s3 += a[k+3] * b[k+3]
	}
	for ; k < len(a); k++ {
		s0 += a[k] * b[k]
	}
	return (s0 + s1) + (s2 + s3)
}

// relu clamps negative values to zero in place (NaN stays NaN).
func relu(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}

// sigmoid is the logistic function, stable for large |z|: with
// e = exp(-|z|) <= 1 it is 1/(1+e) for z >= 0 and e/(1+e) below.
func sigmoid(z float64) float64 {
	return logistic(z, expNonPos(-math.Abs(z)))
}

// logistic finishes sigmoid(z) given e = exp(-|z|). The branch on the
// sign is made on the sign bit instead, as the random signs of scored rows
// would mispredict half the time.
func logistic(z, e float64) float64 {
	if math.Abs(z) > -expMin {
		e = 0 // exp(-|z|) is below the smallest normal
	}
	r := 1 / (1 + e)
	neg := uint64(int64(math.Float64bits(z)) >> 63) // all ones when z < 0
	return math.Float64frombits(math.Float64bits(r)&^neg | math.Float64bits(e*r)&neg)
}

// sigmoidBlock replaces each z[i] with sigmoid(z[i]). It evaluates four
// exponentials side by side: each is a chain of dependent multiply-adds,
// and interleaving four chains keeps the floating-point units busy.
func sigmoidBlock(z []float64) {
	i := 0
	for ; i+4 <= len(z); i += 4 {
		q := z[i : i+4 : i+4]
		k0, r0 := expReduce(-math.Abs(q[0]))
		k1, r1 := expReduce(-math.Abs(q[1]))
		k2, r2 := expReduce(-math.Abs(q[2]))
		k3, r3 := expReduce(-math.Abs(q[3]))
		p0, p1, p2, p3 := expTaylor[0], expTaylor[0], expTaylor[0], expTaylor[0]
		for _, c := range expTaylor[1:] {
			p0, p1, p2, p3 = p0*r0+c, p1*r1+c, p2*r2+c, p3*r3+c
		}
		q[0] = logistic(q[0], p0*expScale(k0))
		q[1] = logistic(q[1], p1*expScale(k1))
		q[2] = logistic(q[2], p2*expScale(k2))
		q[3] = logistic(q[3], p3*expScale(k3))
	}
	for ; i < len(z); i++ {
		z[i] = sigmoid(z[i])
	}
}

// expMin is where exp(x) leaves the normal range; expNonPos returns 0
// below it.
const expMin = -708

// expTaylor holds 1/n! for n = 12 down to 0: e^r to degree 12, in Horner
// order. On |r| <= ln2/2 its truncation error is below 2e-16.
var expTaylor = [...]float64{1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320,
	1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1, 1}

// expReduce splits x = k·ln2 + r with k an integer (returned as a float)
// and |r| <= ln2/2. x is clamped to [expMin, 0].
func expReduce(x float64) (k, r float64) {
	const (
		log2e   = 1.44269504088896338700e+00
		ln2Hi   = 6.93147180369123816490e-01
		ln2Lo   = 1.90821492927058770002e-10
		shifter = 0x1.8p52 // adding and subtracting it rounds to an integer
	)
	x = max(x, expMin)
	k = (x*log2e + shifter) - shifter
	return k, (x - k*ln2Hi) - k*ln2Lo
}

// expScale returns 2^k for an integer k in [-1022, 0], from its bits.
func expScale(k float64) float64 {
	return math.Float64frombits(uint64(int64(k)+1023) << 52)
}

// expNonPos returns e^x for x <= 0 (0 below expMin, where the result would
// be subnormal), within a few ulp of math.Exp and without a call or a
// branch on the common path: e^r by its Taylor polynomial, 2^k by the
// exponent bits.
func expNonPos(x float64) float64 {
	if x < expMin || x != x {
		if x != x {
			return x
		}
		return 0
	}
	k, r := expReduce(x)
	p := expTaylor[0]
	for _, c := range expTaylor[1:] {
		p = p*r + c
	}
	return p * expScale(k)
}

// softmax writes the softmax of logits to p (same length), subtracting the
// maximum first so no exponent overflows. It returns the index of the
// largest probability (the first on ties).
func softmax(p []float64, logits []float32) int {
	p = p[:len(logits)]
	best := 0
	for j, v := range logits {
		if v > logits[best] {
			best = j
		}
	}
	m := float64(logits[best])
	var sum float64
	for j, v := range logits {
		e := math.Exp(float64(v) - m)
		p[j] = e
		sum += e
	}
	for j := range p {
		p[j] /= sum
	}
	return best
}
