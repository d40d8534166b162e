//go:build goexperiment.simd && amd64

package train

import (
	"simd/archsimd"
	"sync"
)

// AVX2+FMA versions of the MLP kernels, built only with GOEXPERIMENT=simd
// and installed at init only when the CPU has both features; otherwise the
// scalar kernels of kernels.go stay in place.
//
// The products are register-blocked: a tile of 4 rows × 16 columns (eight
// 8-lane accumulators) is held in registers over the whole inner
// dimension and written once. Every output element is accumulated in a
// fixed order that depends only on the shapes, so results are
// deterministic; they differ from the scalar kernels in the last bits
// (fused multiply-add, different summation order). Unlike the scalar
// kernels, zero inputs are not skipped, so a zero times an infinite or NaN
// weight gives NaN here where the scalar kernels give the other terms' sum.
// backReLU transposes w into a reused scratch buffer and runs the same
// product, then applies the ReLU mask.

func init() {
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		matmulBias = matmulBiasAVX2
		addATB = addATBAVX2
		colSum = colSumAVX2
		backReLU = backReLUAVX2
	}
}

type f32x8 = archsimd.Float32x8

func load8(s []float32) f32x8 { return archsimd.LoadFloat32x8((*[8]float32)(s[:8])) }

func store8(v f32x8, s []float32) { v.Store((*[8]float32)(s[:8])) }

func bcast(x float32) f32x8 { return archsimd.BroadcastFloat32x8(x) }

// matmulBiasAVX2 computes c = a·w + b: a is n×in, w in×out, c n×out.
func matmulBiasAVX2(c, a, w, b []float32, n, in, out int) {
	matmulAVX2(c, a, w, b, n, in, out)
}

// zeros16 stands in for a nil bias.
var zeros16 [16]float32

// matmulAVX2 computes c = a·w + b, or c = a·w when b is nil.
func matmulAVX2(c, a, w, b []float32, n, in, out int) {
	c, a, w = c[:n*out], a[:n*in], w[:in*out]
	j := 0
	for ; j+16 <= out; j += 16 {
		bj := zeros16[:]
		if b != nil {
			bj = b[j:][:16]
		}
		i := 0
		for ; i+4 <= n; i += 4 {
			// The bias is reloaded per tile rather than held in registers
			// across the loop, which makes the compiler spill.
			c00, c01 := load8(bj), load8(bj[8:])
			c10, c11, c20, c21, c30, c31 := c00, c01, c00, c01, c00, c01
			a0, a1, a2, a3 := a[i*in:][:in], a[(i+1)*in:][:in], a[(i+2)*in:][:in], a[(i+3)*in:][:in]
			for k := range in {
				wk := w[k*out+j:][:16]
				w0, w1 := load8(wk), load8(wk[8:])
				x := bcast(a0[k])
				c00, c01 = x.MulAdd(w0, c00), x.MulAdd(w1, c01)
				x = bcast(a1[k])
				c10, c11 = x.MulAdd(w0, c10), x.MulAdd(w1, c11)
				x = bcast(a2[k])
				c20, c21 = x.MulAdd(w0, c20), x.MulAdd(w1, c21)
				x = bcast(a3[k])
				c30, c31 = x.MulAdd(w0, c30), x.MulAdd(w1, c31)
			}
			store8(c00, c[i*out+j:])
			store8(c01, c[i*out+j+8:])
			store8(c10, c[(i+1)*out+j:])
			store8(c11, c[(i+1)*out+j+8:])
			store8(c20, c[(i+2)*out+j:])
			store8(c21, c[(i+2)*out+j+8:])
			store8(c30, c[(i+3)*out+j:])
			store8(c31, c[(i+3)*out+j+8:])
		}
		for ; i < n; i++ {
			c0, c1 := load8(bj), load8(bj[8:])
			for k, v := range a[i*in:][:in] {
				wk := w[k*out+j:][:16]
				x := bcast(v)
				c0, c1 = x.MulAdd(load8(wk), c0), x.MulAdd(load8(wk[8:]), c1)
			}
			store8(c0, c[i*out+j:])
			store8(c1, c[i*out+j+8:])
		}
	}
	for ; j+8 <= out; j += 8 {
		var b0 f32x8
		if b != nil {
			b0 = load8(b[j:])
		}
		i := 0
		for ; i+4 <= n; i += 4 {
			c0, c1, c2, c3 := b0, b0, b0, b0
			a0, a1, a2, a3 := a[i*in:][:in], a[(i+1)*in:][:in], a[(i+2)*in:][:in], a[(i+3)*in:][:in]
			for k := range in {
				w0 := load8(w[k*out+j:])
				c0 = bcast(a0[k]).MulAdd(w0, c0)
				c1 = bcast(a1[k]).MulAdd(w0, c1)
				c2 = bcast(a2[k]).MulAdd(w0, c2)
				c3 = bcast(a3[k]).MulAdd(w0, c3)
			}
			store8(c0, c[i*out+j:])
			store8(c1, c[(i+1)*out+j:])
			store8(c2, c[(i+2)*out+j:])
			store8(c3, c[(i+3)*out+j:])
		}
		for ; i < n; i++ {
			c0 := b0
			for k, v := range a[i*in:][:in] {
				c0 = bcast(v).MulAdd(load8(w[k*out+j:]), c0)
			}
			store8(c0, c[i*out+j:])
		}
	}
	for ; j < out; j++ {
		var bj float32
		if b != nil {
			bj = b[j]
		}
		for i := range n {
			s := bj
			for k, v := range a[i*in:][:in] {
				s += v * w[k*out+j]
			}
			c[i*out+j] = s
		}
	}
}

// addATBAVX2 adds aᵀ·d to g: a is n×in, d n×out, g in×out.
func addATBAVX2(g, a, d []float32, n, in, out int) {
	g, a, d = g[:in*out], a[:n*in], d[:n*out]
	j := 0
	for ; j+16 <= out; j += 16 {
		k := 0
		for ; k+4 <= in; k += 4 {
			var g00, g01, g10, g11, g20, g21, g30, g31 f32x8
			for i := range n {
				ai := a[i*in+k:][:4]
				di := d[i*out+j:][:16]
				d0, d1 := load8(di), load8(di[8:])
				x := bcast(ai[0])
				g00, g01 = x.MulAdd(d0, g00), x.MulAdd(d1, g01)
				x = bcast(ai[1])
				g10, g11 = x.MulAdd(d0, g10), x.MulAdd(d1, g11)
				x = bcast(ai[2])
				g20, g21 = x.MulAdd(d0, g20), x.MulAdd(d1, g21)
				x = bcast(ai[3])
				g30, g31 = x.MulAdd(d0, g30), x.MulAdd(d1, g31)
			}
			addStore8(g00, g[k*out+j:])
			addStore8(g01, g[k*out+j+8:])
			addStore8(g10, g[(k+1)*out+j:])
			addStore8(g11, g[(k+1)*out+j+8:])
			addStore8(g20, g[(k+2)*out+j:])
			addStore8(g21, g[(k+2)*out+j+8:])
			addStore8(g30, g[(k+3)*out+j:])
			addStore8(g31, g[(k+3)*out+j+8:])
		}
		for ; k < in; k++ {
			var g0, g1 f32x8
			for i := range n {
				di := d[i*out+j:][:16]
				x := bcast(a[i*in+k])
				g0, g1 = x.MulAdd(load8(di), g0), x.MulAdd(load8(di[8:]), g1)
			}
			addStore8(g0, g[k*out+j:])
			addStore8(g1, g[k*out+j+8:])
		}
	}
	for ; j+8 <= out; j += 8 {
		k := 0
		for ; k+4 <= in; k += 4 {
			var g0, g1, g2, g3 f32x8
			for i := range n {
				ai := a[i*in+k:][:4]
				d0 := load8(d[i*out+j:])
				g0 = bcast(ai[0]).MulAdd(d0, g0)
				g1 = bcast(ai[1]).MulAdd(d0, g1)
				g2 = bcast(ai[2]).MulAdd(d0, g2)
				g3 = bcast(ai[3]).MulAdd(d0, g3)
			}
			addStore8(g0, g[k*out+j:])
			addStore8(g1, g[(k+1)*out+j:])
			addStore8(g2, g[(k+2)*out+j:])
			addStore8(g3, g[(k+3)*out+j:])
		}
		for ; k < in; k++ {
			var g0 f32x8
			for i := range n {
				g0 = bcast(a[i*in+k]).MulAdd(load8(d[i*out+j:]), g0)
			}
			addStore8(g0, g[k*out+j:])
		}
	}
	for ; j < out; j++ {
		for k := range in {
			var s float32
			for i := range n {
				s += a[i*in+k] * d[i*out+j]
			}
			g[k*out+j] += s
		}
	}
}

// addStore8 adds v to s[:8].
func addStore8(v f32x8, s []float32) {
	store8(load8(s).Add(v), s)
}

// colSumAVX2 adds the column sums of d (n×out) to g.
func colSumAVX2(g, d []float32, n, out int) {
	g, d = g[:out], d[:n*out]
	j := 0
	for ; j+8 <= out; j += 8 {
		var s f32x8
		for i := range n {
			s = s.Add(load8(d[i*out+j:]))
		}
		addStore8(s, g[j:])
	}
	for ; j < out; j++ {
		var s float32
		for i := range n {
			s += d[i*out+j]
		}
		g[j] += s
	}
}

// transposed keeps scratch buffers for wᵀ in backReLUAVX2. Unlike a
// sync.Pool it is not emptied by the garbage collector, so the hot path
// allocates only the first time each concurrent caller needs a buffer.
var transposed struct {
	sync.Mutex
	free []*[]float32
}

// maxFreeTransposed bounds the buffers kept in transposed.
const maxFreeTransposed = 16

func getTransposed(size int) *[]float32 {
	transposed.Lock()
	var p *[]float32
	if n := len(transposed.free); n > 0 {
		p = transposed.free[n-1]
		transposed.free = transposed.free[:n-1]
	}
	transposed.Unlock()
	if p == nil {
		p = new([]float32)
	}
	if cap(*p) < size {
		*p = make([]float32, size)
	}
	return p
}

func putTransposed(p *[]float32) {
	transposed.Lock()
	if len(transposed.free) < maxFreeTransposed {
		transposed.free = append(transposed.free, p)
	}
	transposed.Unlock()
}

// backReLUAVX2 computes prev = (d·wᵀ) ⊙ [a > 0] by transposing w
// (in×out) into a scratch buffer and running matmulAVX2.
func backReLUAVX2(prev, d, w, a []float32, n, in, out int) {
	p := getTransposed(in * out)
	wt := (*p)[:in*out]
	for k := range in {
		for j, v := range w[k*out:][:out] {
			wt[j*in+k] = v
		}
	}
	matmulAVX2(prev, d, wt, nil, n, out, in)
	putTransposed(p)
	for idx, x := range a[:n*in] {
		if !(x > 0) {
			prev[idx] = 0
		}
	}
}
