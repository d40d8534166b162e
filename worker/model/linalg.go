package model

import (
	"math"
	"runtime"
	"sync"
	"weak"

	"github.com/nightshift-ml/nightshift/worker/kernels"
)

// The float64 kernels below are scoring's own (linear and logistic models,
// the feature pipeline, the links): plain Go written for the compiler,
// bounds checks hoisted by re-slicing to a common length, inner loops
// unrolled, no allocation. The float32 dense layers of softmax and mlp
// models run on worker/kernels, shared with training (dense).

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
// value written is finite. Four rows per step, with four accumulators for
// the finiteness check, so that no chain of dependent additions limits
// the loop.
func fillStd(dst []float32, stride int, x []float64, mean, inv float64) bool {
	var a0, a1, a2, a3 float32
	r := 0
	if len(x) >= 4 {
		_ = dst[(len(x)-1)*stride]
	}
	for ; r+4 <= len(x); r += 4 {
		f0 := float32((x[r] - mean) * inv)
		f1 := float32((x[r+1] - mean) * inv)
		f2 := float32((x[r+2] - mean) * inv)
		f3 := float32((x[r+3] - mean) * inv)
		dst[r*stride] = f0
		dst[(r+1)*stride] = f1
		dst[(r+2)*stride] = f2
		dst[(r+3)*stride] = f3
		a0 += f0 * 0 // stays 0 unless some f is NaN or ±Inf
		a1 += f1 * 0
		a2 += f2 * 0
		a3 += f3 * 0
	}
	for ; r < len(x); r++ {
		f := float32((x[r] - mean) * inv)
		dst[r*stride] = f
		a0 += f * 0
	}
	return (a0+a1)+(a2+a3) == 0
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
// row-major. It runs the forward product of worker/kernels, the very
// kernels training uses, with the set chosen for this CPU (AVX-512 or
// AVX2 under GOEXPERIMENT=simd, else the portable one) and W packed for
// that set once per model (packedW).
//
// Against the portable kernels, the vectorized ones change scoring
// outputs in the last bits only (fused multiply-adds, inputs that are
// zero not skipped): relative differences of the order of 1e-7 per
// layer in float32, far inside the tolerances of the reference tests
// (predict_test.go: 1e-5 for softmax and mlp). Either way the result is
// deterministic: the same model and rows give the same bits on the same
// machine and kernel set.
func dense(c, a []float32, l *layer, n int) {
	ks := kernels.Default()
	if l.in == 0 || l.out == 0 {
		ks = kernels.Scalar() // no weights to pack: c = b
	}
	w := l.w
	if ks.PanelWidth() > 0 {
		w = packedW(ks, l)
	}
	sp := scratchPool.Get().(*[]float32)
	s := grow(*sp, ks.ScratchLen(n, l.in, l.out))
	ks.Forward(c[:n*l.out], a[:n*l.in], w, l.b, s, n, l.in, l.out, false)
	*sp = s
	scratchPool.Put(sp)
}

// scratchPool holds the kernels' scratch (the packed rows of a block),
// shared by the Predictors of all goroutines.
var scratchPool = sync.Pool{New: func() any { return new([]float32) }}

// packKey identifies a layer's W packed for one kernel set: a weak
// pointer to its first weight, so that the cache does not keep a Model
// alive.
type packKey struct {
	w  weak.Pointer[float32]
	ks *kernels.Set
}

// packCache maps a packKey to W packed for its set ([]float32). Entries
// are made on a layer's first block and dropped by a cleanup when the
// layer's weights are collected. A Model is immutable after New, so
// W never changes under its packed copy.
var packCache sync.Map

// packedW returns l.w packed for ks (PanelWidth > 0), packing it on the
// first call for l.
func packedW(ks *kernels.Set, l *layer) []float32 {
	key := packKey{w: weak.Make(&l.w[0]), ks: ks}
	if v, ok := packCache.Load(key); ok {
		return v.([]float32)
	}
	wp := ks.PackW(make([]float32, ks.PackedLen(l.in, l.out)), l.w, l.in, l.out)
	if v, loaded := packCache.LoadOrStore(key, wp); loaded {
		return v.([]float32)
	}
	runtime.AddCleanup(&l.w[0], func(k packKey) { packCache.Delete(k) }, key)
	return wp
}

// relu clamps negative values to zero in place (NaN stays NaN).
func relu(x []float32) { kernels.ReLU(x) }

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
