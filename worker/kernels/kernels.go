package kernels

// The float32 kernels of a dense layer, per block of rows: the forward
// product (c = a·W + b, then ReLU on hidden layers), the weight gradient
// (gW += aᵀ·d, gb += column sums of d) and the gradient with respect to
// the layer's input (prev = (d·Wᵀ) ⊙ [a > 0]). Row-major throughout.
//
// A Set bundles one implementation. The vectorized sets (see
// simd_amd64.go) take W and Wᵀ packed into panels of nr columns (PackW,
// PackWT), which training prepares once per LossGrad call and scoring
// once per model; the scalar set (nr == 0) takes W as it is.

// Set is one implementation of the kernels. Use Default, or a member of
// Available.
type Set struct {
	name string
	// nr is the panel width of packed operands; 0: no packing.
	nr int
	// scratchLen is the length of the scratch s the three products need
	// for n rows of a layer in→out.
	scratchLen func(n, in, out int) int
	forward    func(c, a, wp, b, s []float32, n, in, out int, relu bool)
	weightGrad func(g, gb, a, d, s []float32, n, in, out int)
	inputGrad  func(prev, d, wtp, a, s []float32, n, in, out int)
	relu       func(x []float32)
}

// Name is the set's name: "scalar", "avx2" or "avx512".
func (s *Set) Name() string { return s.name }

// PanelWidth is the width of the panels the set packs W and Wᵀ into; 0
// for a set that takes them unpacked.
func (s *Set) PanelWidth() int { return s.nr }

// PackedLen is the length of the buffer PackW needs for an in×out W (and
// PackWT for the same W).
func (s *Set) PackedLen(in, out int) int {
	if s.nr == 0 {
		return 0
	}
	return max(PackedLen(in, out, s.nr), PackedLen(out, in, s.nr))
}

// PackW returns W (in×out, row-major) as Forward takes it: packed into
// dst (at least PackedLen(in, out) long) for a vectorized set, w itself
// for the scalar one.
func (s *Set) PackW(dst, w []float32, in, out int) []float32 {
	if s.nr == 0 {
		return w[:in*out]
	}
	PackPanels(dst, w, in, out, out, s.nr)
	return dst[:PackedLen(in, out, s.nr)]
}

// PackWT returns Wᵀ for the in×out W as InputGrad takes it: packed into
// dst (at least PackedLen(in, out) long) for a vectorized set, w itself
// for the scalar one.
func (s *Set) PackWT(dst, w []float32, in, out int) []float32 {
	if s.nr == 0 {
		return w[:in*out]
	}
	PackPanelsT(dst, w, out, in, out, s.nr)
	return dst[:PackedLen(out, in, s.nr)]
}

// ScratchLen is the length of the scratch the three products need for n
// rows of a layer in→out; scratch is caller-owned so that the kernels
// allocate nothing.
func (s *Set) ScratchLen(n, in, out int) int { return s.scratchLen(n, in, out) }

// Forward computes c = a·W + b, then ReLU when relu: a is n×in, c n×out,
// wp is W (in×out) from PackW, b the bias (out), scratch at least
// ScratchLen(n, in, out) long.
func (s *Set) Forward(c, a, wp, b, scratch []float32, n, in, out int, relu bool) {
	s.forward(c, a, wp, b, scratch, n, in, out, relu)
}

// WeightGrad adds aᵀ·d to g (in×out) and the column sums of d (n×out) to
// gb (out); a is n×in.
func (s *Set) WeightGrad(g, gb, a, d, scratch []float32, n, in, out int) {
	s.weightGrad(g, gb, a, d, scratch, n, in, out)
}

// InputGrad computes prev = (d·Wᵀ) ⊙ [a > 0]: prev and a are n×in, d
// n×out; wtp is Wᵀ from PackWT.
func (s *Set) InputGrad(prev, d, wtp, a, scratch []float32, n, in, out int) {
	s.inputGrad(prev, d, wtp, a, scratch, n, in, out)
}

// ReLU zeroes the negative elements of x in place (NaN stays NaN).
func (s *Set) ReLU(x []float32) { s.relu(x) }

// scalarSet is the portable set: four rows at a time so each row of
// W (or of the gradient) is loaded once per four rows, inner loops over
// contiguous memory, inputs that are zero in all four rows (ReLU zeros,
// one-hot blanks) skipped.
var scalarSet = Set{
	name:       "scalar",
	scratchLen: func(n, in, out int) int { return 0 },
	forward:    forwardScalar,
	weightGrad: weightGradScalar,
	inputGrad: func(prev, d, w, a, _ []float32, n, in, out int) {
		backReLUScalar(prev, d, w, a, n, in, out)
	},
	relu: reluScalar,
}

// Scalar returns the portable set, which runs everywhere.
func Scalar() *Set { return &scalarSet }

// defaultSet is the set Default returns: the scalar one unless init
// finds a vectorized one the build and the CPU support.
var defaultSet = &scalarSet

// Default returns the set chosen at init for this CPU (see the package
// documentation).
func Default() *Set { return defaultSet }

// available lists the sets that can run here, scalar first then by width;
// the vectorized init appends to it.
var available = []*Set{&scalarSet}

// Available returns every set that can run on this machine, the scalar
// one first, then the vectorized ones from the narrowest.
func Available() []*Set { return append([]*Set(nil), available...) }

// PackedLen is the length of a buffer for a k×n matrix packed in panels
// of nr columns: n rounded up to a multiple of nr, plus two rows of slack
// so that the micro-kernels' pointers, which run one step ahead, never
// leave the buffer. nr == 0: k×n.
func PackedLen(k, n, nr int) int {
	if nr == 0 {
		return k * n
	}
	return k*((n+nr-1)/nr*nr) + 2*nr
}

// PackPanels packs the k×n matrix src (rows ld apart) into dst in panels
// of nr > 0 columns: panel p holds columns p·nr … p·nr+nr−1 of row 0,
// then of row 1, …, zero past column n.
func PackPanels(dst, src []float32, k, n, ld, nr int) {
	dst = dst[:PackedLen(k, n, nr)]
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

// PackPanelsT packs the transpose of the n×k matrix src (rows ld apart),
// the k×n matrix srcᵀ, into dst as PackPanels would.
func PackPanelsT(dst, src []float32, k, n, ld, nr int) {
	dst = dst[:PackedLen(k, n, nr)]
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

// Dot returns the dot product of a and b (len(b) >= len(a)) with four
// independent accumulators, in a fixed order: the same inputs give the
// same bits.
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

// ReLU zeroes the negative elements of x in place (NaN stays NaN), with
// the default set's implementation.
func ReLU(x []float32) { defaultSet.relu(x) }

// forwardScalar computes c = a·w + b, then ReLU when relu.
func forwardScalar(c, a, w, b, _ []float32, n, in, out int, relu bool) {
	matmulBiasScalar(c, a, w, b, n, in, out)
	if relu {
		reluScalar(c[:n*out])
	}
}

// weightGradScalar adds aᵀ·d to g and the column sums of d to gb.
func weightGradScalar(g, gb, a, d, _ []float32, n, in, out int) {
	addATBScalar(g, a, d, n, in, out)
	colSumScalar(gb, d, n, out)
}

// reluScalar zeroes the negative elements of x (NaN stays).
func reluScalar(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}

// matmulBiasScalar computes c = a·w + b: a is n×in, w in×out, c n×out.
// Four rows at a time, it adds a[i,k] times row k of W to row i of c for
// two k per pass (axpy4x2), so each row of W is loaded once per four rows
// and each output once per two products; input values that are zero in
// all four rows (ReLU zeros, one-hot blanks) are skipped. A single
// output column (out == 1) is a dot product per row instead.
func matmulBiasScalar(c, a, w, b []float32, n, in, out int) {
	if out == 1 {
		w, b0 := w[:in], b[0]
		for i := range n {
			c[i] = b0 + Dot(a[i*in:][:in], w)
		}
		return
	}
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
				axpy1(g[k*out:][:out], di, x)
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

// backReLUScalar computes prev = (d·wᵀ) ⊙ [a > 0]: the gradient with
// respect to a layer's ReLU output a (n×in) given the gradient d (n×out)
// of its pre-activations, w being in×out.
func backReLUScalar(prev, d, w, a []float32, n, in, out int) {
	for i := range n {
		di := d[i*out:][:out]
		pi := prev[i*in:][:in]
		for k, x := range a[i*in:][:in] {
			if x > 0 {
				pi[k] = Dot(di, w[k*out:][:out])
			} else {
				pi[k] = 0
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
// two products. The additions stay in input order, (c + x·v) + y·u, so
// that a row's result is the same chain as axpy1's whatever rows share
// its group of four and whichever columns the group skips as zero: a
// row's outputs do not depend on how rows are batched.
func axpy4x2(c0, c1, c2, c3, v, u []float32, x0, x1, x2, x3, y0, y1, y2, y3 float32) {
	n := len(v)
	u, c0, c1, c2, c3 = u[:n], c0[:n], c1[:n], c2[:n], c3[:n]
	j := 0
	for ; j+2 <= n; j += 2 {
		v0, u0, v1, u1 := v[j], u[j], v[j+1], u[j+1]
		c0[j] = c0[j] + x0*v0 + y0*u0
		c1[j] = c1[j] + x1*v0 + y1*u0
		c2[j] = c2[j] + x2*v0 + y2*u0
		c3[j] = c3[j] + x3*v0 + y3*u0
		c0[j+1] = c0[j+1] + x0*v1 + y0*u1
		c1[j+1] = c1[j+1] + x1*v1 + y1*u1
		c2[j+1] = c2[j+1] + x2*v1 + y2*u1
		c3[j+1] = c3[j+1] + x3*v1 + y3*u1
	}
	for ; j < n; j++ {
		vj, uj := v[j], u[j]
		c0[j] = c0[j] + x0*vj + y0*uj
		c1[j] = c1[j] + x1*vj + y1*uj
		c2[j] = c2[j] + x2*vj + y2*uj
		c3[j] = c3[j] + x3*vj + y3*uj
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
