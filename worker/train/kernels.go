package train

import "github.com/nightshift-ml/nightshift/worker/model"

// The float32 kernels of the MLP. Row-major throughout; four rows at a
// time so each row of W (or of the gradient) is loaded once per four rows
// and inner loops run over contiguous memory. Inputs that are zero in all
// four rows (ReLU zeros, one-hot blanks) are skipped.
//
// The MLP calls the kernels through these variables: the portable scalar
// versions below by default, replaced at init by vectorized ones where the
// build and the CPU support them (see kernels_simd_amd64.go).
var (
	matmulBias = matmulBiasScalar
	addATB     = addATBScalar
	colSum     = colSumScalar
	backReLU   = backReLUScalar
)

// matmulBiasScalar computes c = a·w + b: a is n×in, w in×out, c n×out.
func matmulBiasScalar(c, a, w, b []float32, n, in, out int) {
	i := 0
	for ; i+4 <= n; i += 4 {
		c0, c1, c2, c3 := c[i*out:][:out], c[(i+1)*out:][:out], c[(i+2)*out:][:out], c[(i+3)*out:][:out]
		copy(c0, b)
		copy(c1, b)
		copy(c2, b)
		copy(c3, b)
		a0, a1, a2, a3 := a[i*in:][:in], a[(i+1)*in:][:in], a[(i+2)*in:][:in], a[(i+3)*in:][:in]
		for k := range in {
			x0, x1, x2, x3 := a0[k], a1[k], a2[k], a3[k]
			if x0 == 0 && x1 == 0 && x2 == 0 && x3 == 0 {
				continue
			}
			fma4(c0, c1, c2, c3, w[k*out:][:out], x0, x1, x2, x3)
		}
	}
	for ; i < n; i++ {
		ci := c[i*out:][:out]
		copy(ci, b)
		for k, x := range a[i*in:][:in] {
			if x != 0 {
				fma1(ci, w[k*out:][:out], x)
			}
		}
	}
}

// addATBScalar adds aᵀ·d to g: a is n×in, d n×out, g in×out.
func addATBScalar(g, a, d []float32, n, in, out int) {
	i := 0
	for ; i+4 <= n; i += 4 {
		d0, d1, d2, d3 := d[i*out:][:out], d[(i+1)*out:][:out], d[(i+2)*out:][:out], d[(i+3)*out:][:out]
		a0, a1, a2, a3 := a[i*in:][:in], a[(i+1)*in:][:in], a[(i+2)*in:][:in], a[(i+3)*in:][:in]
		for k := range in {
			x0, x1, x2, x3 := a0[k], a1[k], a2[k], a3[k]
			if x0 == 0 && x1 == 0 && x2 == 0 && x3 == 0 {
				continue
			}
			gk := g[k*out:][:out]
			for j := range gk {
				gk[j] += (x0*d0[j] + x1*d1[j]) + (x2*d2[j] + x3*d3[j])
			}
		}
	}
	for ; i < n; i++ {
		di := d[i*out:][:out]
		for k, x := range a[i*in:][:in] {
			if x != 0 {
				fma1(g[k*out:][:out], di, x)
			}
		}
	}
}

// colSumScalar adds the column sums of d (n×out) to g.
func colSumScalar(g, d []float32, n, out int) {
	g = g[:out]
	for i := range n {
		for j, v := range d[i*out:][:out] {
			g[j] += v
		}
	}
}

// backReLUScalar computes prev = (d·wᵀ) ⊙ [a > 0]: the gradient with respect to
// a layer's ReLU output a (n×in) given the gradient d (n×out) of its
// pre-activations, w being in×out.
func backReLUScalar(prev, d, w, a []float32, n, in, out int) {
	for i := range n {
		di := d[i*out:][:out]
		pi := prev[i*in:][:in]
		for k, x := range a[i*in:][:in] {
			if x > 0 {
				pi[k] = model.Dot(di, w[k*out:][:out])
			} else {
				pi[k] = 0
			}
		}
	}
}

// fma4 adds x0..x3 times w to c0..c3.
func fma4(c0, c1, c2, c3, w []float32, x0, x1, x2, x3 float32) {
	n := len(w)
	c0, c1, c2, c3 = c0[:n], c1[:n], c2[:n], c3[:n]
	for j, v := range w {
		c0[j] += x0 * v
		c1[j] += x1 * v
		c2[j] += x2 * v
		c3[j] += x3 * v
	}
}

// fma1 adds x times w to c.
func fma1(c, w []float32, x float32) {
	c = c[:len(w)]
	for j, v := range w {
		c[j] += x * v
	}
}
