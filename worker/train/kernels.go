package train

import "github.com/nightshift-ml/nightshift/worker/model"

// The float32 kernels of the MLP: per layer and per block of rows, the
// forward product (c = a·W + b, then ReLU on hidden layers), the weight
// gradient (gW += aᵀ·d, gb += column sums of d) and the gradient with
// respect to the layer's input (prev = (d·Wᵀ) ⊙ [a > 0]). Row-major
// throughout.
//
// A kernelSet bundles one implementation. The vectorized sets (see
// kernels_simd_amd64.go) take W and Wᵀ packed into panels of nr columns,
// which the MLP prepares once per LossGrad call (packPanels,
// packPanelsT); the scalar set (nr == 0) takes W as it is. Every set is
// deterministic: each output element is accumulated in an order fixed by
// the shapes alone.
type kernelSet struct {
	name string
	// nr is the panel width of packed operands; 0: no packing.
	nr int
	// scratchLen is the length of the scratch s the three products need
	// for n rows of a layer in→out.
	scratchLen func(n, in, out int) int
	// forward computes c = a·W + b (then ReLU when relu): a is n×in, c
	// n×out; wp is W (in×out) packed for the set.
	forward func(c, a, wp, b, s []float32, n, in, out int, relu bool)
	// weightGrad adds aᵀ·d to g (in×out) and the column sums of d (n×out)
	// to gb.
	weightGrad func(g, gb, a, d, s []float32, n, in, out int)
	// inputGrad computes prev = (d·Wᵀ) ⊙ [a > 0]: prev and a are n×in, d
	// n×out; wtp is Wᵀ (out×in) packed for the set.
	inputGrad func(prev, d, wtp, a, s []float32, n, in, out int)
}

// scalarKernels is the portable set: four rows at a time so each row of
// W (or of the gradient) is loaded once per four rows, inner loops over
// contiguous memory, inputs that are zero in all four rows (ReLU zeros,
// one-hot blanks) skipped.
var scalarKernels = kernelSet{
	name:       "scalar",
	scratchLen: func(n, in, out int) int { return 0 },
	forward:    forwardScalar,
	weightGrad: weightGradScalar,
	inputGrad: func(prev, d, w, a, _ []float32, n, in, out int) {
		backReLUScalar(prev, d, w, a, n, in, out)
	},
}

// kernels is the set new MLPs use: the scalar one unless init finds a
// vectorized one the build and the CPU support.
var kernels = &scalarKernels

// packedLen is the length of a buffer for a k×n matrix packed in panels
// of nr columns: n rounded up to a multiple of nr, plus two rows of slack
// so that the micro-kernels' pointers, which run one step ahead, never
// leave the buffer. nr == 0: k×n.
func packedLen(k, n, nr int) int {
	if nr == 0 {
		return k * n
	}
	return k*((n+nr-1)/nr*nr) + 2*nr
}

// packPanels packs the k×n matrix src (rows ld apart) into dst in panels
// of nr > 0 columns: panel p holds columns p·nr … p·nr+nr−1 of row 0,
// then of row 1, …, zero past column n.
func packPanels(dst, src []float32, k, n, ld, nr int) {
	dst = dst[:packedLen(k, n, nr)]
	clear(dst[len(dst)-2*nr:])
	for j0 := 0; j0 < n; j0 += nr {
		w := min(nr, n-j0)
		p := dst[j0*k:][:k*nr]
		for r := range k {
			row := p[r*nr:][:nr]
			copy(row, src[r*ld+j0:][:w])
			clear(row[w:])
		}
	}
}

// packPanelsT packs the transpose of the n×k matrix src (rows ld apart),
// the k×n matrix srcᵀ, into dst as packPanels would.
func packPanelsT(dst, src []float32, k, n, ld, nr int) {
	dst = dst[:packedLen(k, n, nr)]
	clear(dst[len(dst)-2*nr:])
	for j0 := 0; j0 < n; j0 += nr {
		w := min(nr, n-j0)
		p := dst[j0*k:][:k*nr]
		for c := range w {
			s := src[(j0+c)*ld:][:k]
			for r, v := range s {
				p[r*nr+c] = v
			}
		}
		if w < nr {
			for r := range k {
				clear(p[r*nr+w : (r+1)*nr])
			}
		}
	}
}

// forwardScalar computes c = a·w + b, then ReLU when relu.
func forwardScalar(c, a, w, b, _ []float32, n, in, out int, relu bool) {
	matmulBiasScalar(c, a, w, b, n, in, out)
	if relu {
		reluInPlace(c[:n*out])
	}
}

// weightGradScalar adds aᵀ·d to g and the column sums of d to gb.
func weightGradScalar(g, gb, a, d, _ []float32, n, in, out int) {
	addATBScalar(g, a, d, n, in, out)
	colSumScalar(gb, d, n, out)
}

// reluInPlace zeroes the negative elements of x (NaNs stay).
func reluInPlace(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}

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
