//go:build goexperiment.simd && amd64

package kernels

import (
	"os"
	"simd/archsimd"
	"unsafe"
)

// The vectorized kernels, built only with GOEXPERIMENT=simd and chosen
// at init only when the CPU has the features: AVX-512 (avx512_amd64.go)
// or else AVX2+FMA; otherwise the scalar kernels of kernels.go stay the
// default.
//
// All three products of a layer run through one GEMM driver (gemm): the
// output is cut into tiles of 4 rows × nr columns, each held in registers
// over the whole reduction as eight accumulators (4 rows × 2 vectors) fed
// by broadcast-FMA and written once, with the bias, ReLU or ReLU mask
// applied on the way out:
//
//	forward      act(l+1) = act(l)·W + b      B: W packed (PackW)
//	weight grad  gW      += act(l)ᵀ·δ         B: δ packed per block
//	input grad   δ(l)     = (δ·Wᵀ) ⊙ [a > 0]  B: Wᵀ packed (PackWT)
//
// Training packs W and Wᵀ once per LossGrad call, scoring packs W once per
// model. B is packed in panels of nr columns (PackPanels), A in groups of
// four rows interleaved (packA4), so the micro-kernel reads two sequential
// streams at constant offsets. The B panel (kc×nr floats: 16 KB for a
// 256-wide layer under AVX2) stays in L1 while the row groups stream
// past it from L2.
//
// Why four rows: the Go compiler allocates 15 vector registers and its
// FMA overwrites a multiplicand, so a broadcast used twice is copied;
// 8 accumulators + 4 broadcasts + 2 B vectors + 1 copy is the most that
// fits. Eight FMA chains leave the FMA units short of their peak (70% on
// an Intel core, 85% on a Zen 5), so under AVX-512 whole 12×32 tiles go
// to kern12x32, written in assembly with all 32 registers (24
// accumulators): at the FMA peak, 1.2× kern4x32 from L1 on Zen 5. It reads
// the same packed A (three groups of four) and keeps the same order of
// operations, so the results stay bit-identical.
//
// Determinism: every output element is one fused multiply-add chain over
// the reduction index in increasing order, started from its initial value
// (bias, previous gradient, or zero). That order depends on the shapes
// only, not on the tile shape or the vector width, so the AVX2 and
// AVX-512 kernels give bit-identical results; they differ from the scalar
// kernels in the last bits (fused multiply-add, order of summation).
// Unlike the scalar kernels, zero inputs are not skipped, so a zero times
// an infinite or NaN weight gives NaN here where the scalar kernels give
// the other terms' sum.
//
// VZEROUPPER (archsimd.ClearAVXUpperBits) ends every stretch of 256- and
// 512-bit code, before any code the compiler emits as legacy SSE: scalar
// float code (losses, the optimiser), 4-lane vectors (moved and spilled
// with MOVUPS), copy and clear. Such instructions after AVX code that
// left the upper register halves dirty run many times slower on Intel
// cores (math.Exp took 18% of LossGrad, the 4-lane output layer 13×
// its time, without it).

func init() {
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		available = append(available, &avx2Set)
	}
	if useAVX512() {
		available = append(available, &avx512Set)
	}
	defaultSet = pick(os.Getenv("NIGHTSHIFT_KERNELS"))
}

// pick returns the widest set the CPU supports, no wider than limit:
// NIGHTSHIFT_KERNELS=avx2 keeps an AVX-512 machine on the AVX2 kernels
// (same results, to compare with AVX2-only machines),
// NIGHTSHIFT_KERNELS=scalar on the portable ones (different last bits).
// Anything else: no limit.
func pick(limit string) *Set {
	switch {
	case limit == "scalar":
		return &scalarSet
	case limit != "avx2" && useAVX512():
		return &avx512Set
	case archsimd.X86.AVX2() && archsimd.X86.FMA():
		return &avx2Set
	}
	return &scalarSet
}

// avx2Set: 4×16 tiles of eight 8-lane accumulators.
var avx2Set = simdSet("avx2", 16)

// simdSet returns the vectorized set with panels nr wide: 16 (AVX2) or
// 32 (AVX-512).
func simdSet(name string, nr int) Set {
	return Set{
		name:       name,
		nr:         nr,
		scratchLen: func(n, in, out int) int { return simdScratchLen(nr, n, in, out) },
		forward: func(c, a, wp, b, s []float32, n, in, out int, relu bool) {
			forwardSIMD(nr, c, a, wp, b, s, n, in, out, relu)
		},
		weightGrad: func(g, gb, a, d, s []float32, n, in, out int) {
			weightGradSIMD(nr, g, gb, a, d, s, n, in, out)
		},
		inputGrad: func(prev, d, wtp, a, s []float32, n, in, out int) {
			inputGradSIMD(nr, prev, d, wtp, a, s, n, in, out)
		},
		relu: reluSIMD,
	}
}

// reluSIMD is reluScalar eight lanes at a time, without branches (the
// signs of activations are random, and a branch per element mispredicts
// half the time): max(x, 0) with NaN kept, as the forward epilogue does.
func reluSIMD(x []float32) {
	var zero f32x8
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v := load8(x[i:])
		store8(zero.Merge(v, v.Less(zero)), x[i:])
	}
	archsimd.ClearAVXUpperBits()
	reluScalar(x[i:])
}

// a4Len is the length of a buffer for an m×k matrix packed by packA4,
// with two steps of slack (see PackedLen).
func a4Len(m, k int) int { return (m+3)/4*4*k + 8 }

// packA4 packs the m×k matrix A, A(r, c) = src[r·rs + c·cs], in groups of
// four rows: group g holds A(4g…4g+3, 0), then A(4g…4g+3, 1), …, zero
// past row m. Two layouts have vector paths: row-major rows (cs == 1, a
// 4×8 transpose in registers) and the transpose of a row-major matrix
// (rs == 1, four contiguous floats per step).
func packA4(dst, src []float32, m, k, rs, cs int) {
	dst = dst[:a4Len(m, k)]
	clear(dst[len(dst)-8:])
	if rs == 1 {
		// Four contiguous floats per step: a block transpose at 16-byte
		// grain, eight source rows at a time so both sides stay in L1.
		full := m / 4 * 4
		for c0 := 0; c0 < k; c0 += 8 {
			c1 := min(c0+8, k)
			for g := 0; g < full; g += 4 {
				p := dst[g*k:][:4*k]
				for c := c0; c < c1; c++ {
					archsimd.LoadFloat32x4((*[4]float32)(src[g+c*cs:][:4])).Store((*[4]float32)(p[4*c:][:4]))
				}
			}
		}
		if full == m {
			return
		}
	}
	for g := 0; g < m; g += 4 {
		p := dst[g*k:][:4*k]
		rows := min(4, m-g)
		switch {
		case rs == 1 && rows == 4:
			// Done above.
		case cs == 1 && rows == 4:
			s0, s1, s2, s3 := src[g*rs:][:k], src[(g+1)*rs:][:k], src[(g+2)*rs:][:k], src[(g+3)*rs:][:k]
			c := 0
			for ; c+8 <= k; c += 8 {
				transpose4x8(p[4*c:][:32], s0[c:], s1[c:], s2[c:], s3[c:])
			}
			archsimd.ClearAVXUpperBits()
			for ; c < k; c++ {
				q := p[4*c:][:4]
				q[0], q[1], q[2], q[3] = s0[c], s1[c], s2[c], s3[c]
			}
		default:
			clear(p)
			for r := range rows {
				for c := range k {
					p[4*c+r] = src[(g+r)*rs+c*cs]
				}
			}
		}
	}
}

// transpose4x8 writes the 4×8 block of rows s0…s3 (first 8 floats each)
// column by column to p: s0[0], s1[0], s2[0], s3[0], s0[1], ….
func transpose4x8(p, s0, s1, s2, s3 []float32) {
	r0, r1, r2, r3 := load8(s0), load8(s1), load8(s2), load8(s3)
	// Within each 128-bit half: t0 = r0[0] r0[1] r1[0] r1[1], …
	t0 := r0.SelectFromPairGrouped(0, 1, 4, 5, r1)
	t1 := r0.SelectFromPairGrouped(2, 3, 6, 7, r1)
	t2 := r2.SelectFromPairGrouped(0, 1, 4, 5, r3)
	t3 := r2.SelectFromPairGrouped(2, 3, 6, 7, r3)
	// o0 = column 0 (low half) and column 4 (high half), …
	o0 := t0.SelectFromPairGrouped(0, 2, 4, 6, t2)
	o1 := t0.SelectFromPairGrouped(1, 3, 5, 7, t2)
	o2 := t1.SelectFromPairGrouped(0, 2, 4, 6, t3)
	o3 := t1.SelectFromPairGrouped(1, 3, 5, 7, t3)
	p = p[:32]
	store8(o0.Select128FromPair(0, 2, o1), p)
	store8(o2.Select128FromPair(0, 2, o3), p[8:])
	store8(o0.Select128FromPair(1, 3, o1), p[16:])
	store8(o2.Select128FromPair(1, 3, o3), p[24:])
}

// packPanelsSIMD is PackPanels with vector moves for whole panels.
func packPanelsSIMD(dst, src []float32, k, n, ld, nr int) {
	if n%nr != 0 || nr%8 != 0 {
		PackPanels(dst, src, k, n, ld, nr)
		return
	}
	dst = dst[:PackedLen(k, n, nr)]
	clear(dst[len(dst)-2*nr:])
	for r := range k {
		row := src[r*ld:][:n]
		for j0 := 0; j0 < n; j0 += nr {
			q := dst[j0*k+r*nr:][:nr]
			for j := 0; j < nr; j += 8 {
				store8(load8(row[j0+j:]), q[j:])
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

// simdScratchLen: forward packs a (n×in), inputGrad d (n×out), weightGrad
// d in panels and aᵀ (in×n).
func simdScratchLen(nr, n, in, out int) int {
	return max(a4Len(n, in), a4Len(n, out), PackedLen(n, out, nr)+a4Len(in, n))
}

// Epilogues: what happens to a tile's accumulators on the way out.
const (
	epNone = iota // store
	epReLU        // store max(x, 0) (NaN stays NaN)
	epMask        // store x where the mask element is > 0, else 0
)

// gemmArgs describes one tile product: for r < 4, j < nr,
//
//	C(r, j) = ep(I(r, j) + Σ_{k<kc} A(r, k)·B(k, j))
//
// with A packed by packA4 (a: the tile's group), B a packed panel (b), C
// rows ldc bytes apart, I (initial values) rows ldi bytes apart (0: the
// same row for every r) and the epMask mask rows ldm bytes apart. For
// gemm, init nil means zero.
type gemmArgs struct {
	c    unsafe.Pointer
	ldc  uintptr
	a, b unsafe.Pointer
	kc   int
	init unsafe.Pointer
	ldi  uintptr
	mask unsafe.Pointer
	ldm  uintptr
	ep   int
}

// maxTile bounds 4·nr for the scratch tiles of partial tiles.
const maxTile = 4 * 32

// zeroRow is the initial row of a product without one (init nil). The
// kernels always load their initial values: a zero vector constant
// before the loop would stay live through it and cost a register.
var zeroRow [32]float32

// gemm computes the m×n output described by g (at row 0, column 0) from
// ap (A packed by packA4) and bp (B packed in panels of nr, kc·nr floats
// each). Panels in the outer loop, row groups inside: three groups at a
// time where the panel is 32 wide (kern12x32), else one. Tiles that are not
// whole (m not a multiple of 4, n of nr) go through scratch tiles.
func gemm(nr int, g gemmArgs, m, n int, ap, bp []float32) {
	if m == 0 || n == 0 {
		return
	}
	kc := g.kc
	ap, bp = ap[:a4Len(m, kc)], bp[:PackedLen(kc, n, nr)]
	t := g
	for j0 := 0; j0 < n; j0 += nr {
		t.b = unsafe.Pointer(&bp[j0*kc])
		cols := min(nr, n-j0)
		col := uintptr(j0) * 4
		for i := 0; i < m; {
			t.a = unsafe.Pointer(&ap[i*kc])
			rows := 4
			if nr == 32 && cols == nr && i+12 <= m {
				rows = 12
			}
			i0 := i
			i += rows
			if cols < nr || i0+4 > m {
				gemmPartial(nr, &t, &g, i0, min(4, m-i0), cols, col)
				continue
			}
			r := uintptr(i0)
			t.c = unsafe.Add(g.c, r*g.ldc+col)
			if g.init != nil {
				t.init = unsafe.Add(g.init, r*g.ldi+col)
			} else {
				t.init, t.ldi = unsafe.Pointer(&zeroRow), 0
			}
			if g.ep == epMask {
				t.mask = unsafe.Add(g.mask, r*g.ldm+col)
			}
			switch {
			case rows == 12:
				kern12(&t)
			case nr == 32:
				kern4x32(&t)
			default:
				kern4x16(&t)
			}
		}
	}
}

// gemmPartial runs the tile of t (rows i… of g, rows < 4 of them, cols <
// nr columns from byte offset col) through scratch tiles: the initial
// values and mask in, the tile out.
func gemmPartial(nr int, t, g *gemmArgs, i, rows, cols int, col uintptr) {
	var tc, ti, tm [maxTile]float32
	u := *t
	u.c, u.ldc = unsafe.Pointer(&tc), uintptr(nr)*4
	u.init, u.ldi = unsafe.Pointer(&ti), uintptr(nr)*4
	u.mask, u.ldm = nil, 0
	if g.ep == epMask {
		u.mask, u.ldm = unsafe.Pointer(&tm), uintptr(nr)*4
	}
	for r := range rows {
		if g.init != nil {
			copy(ti[r*nr:][:cols], unsafe.Slice((*float32)(unsafe.Add(g.init, uintptr(i+r)*g.ldi+col)), cols))
		}
		if g.ep == epMask {
			copy(tm[r*nr:][:cols], unsafe.Slice((*float32)(unsafe.Add(g.mask, uintptr(i+r)*g.ldm+col)), cols))
		}
	}
	if nr == 32 {
		kern4x32(&u)
	} else {
		kern4x16(&u)
	}
	for r := range rows {
		copy(unsafe.Slice((*float32)(unsafe.Add(g.c, uintptr(i+r)*g.ldc+col)), cols), tc[r*nr:][:cols])
	}
}

// forwardSIMD computes c = a·W + b (then ReLU when relu) with wp the
// packed W.
func forwardSIMD(nr int, c, a, wp, b, s []float32, n, in, out int, relu bool) {
	if n == 0 || out == 0 {
		return
	}
	c, b = c[:n*out], b[:out]
	ap := s[:a4Len(n, in)]
	packA4(ap, a[:n*in], n, in, in, 1)
	if out == 1 {
		forwardNarrow(c, ap, wp, b[0], n, in, nr, relu)
		archsimd.ClearAVXUpperBits()
		return
	}
	g := gemmArgs{
		c: unsafe.Pointer(&c[0]), ldc: uintptr(out) * 4, kc: in,
		init: unsafe.Pointer(&b[0]),
		ep:   epNone,
	}
	if relu {
		g.ep = epReLU
	}
	gemm(nr, g, n, out, ap, wp)
	archsimd.ClearAVXUpperBits()
}

// forwardNarrow is forwardSIMD for out == 1, where a panel would be
// mostly padding: per row the same chain over k, four rows per 4-lane
// vector (one group of ap), four groups at a time. wp holds w[k] at k·nr.
func forwardNarrow(c, ap, wp []float32, b float32, n, in, nr int, relu bool) {
	archsimd.ClearAVXUpperBits() // 4-lane code: its moves and spills are SSE
	ap, wp = ap[:a4Len(n, in)], wp[:PackedLen(in, 1, nr)]
	groups := (n + 3) / 4
	init := archsimd.BroadcastFloat32x4(b)
	var t [16]float32
	for g := 0; g < groups; g += 4 {
		acc0, acc1, acc2, acc3 := init, init, init, init
		if g+4 <= groups {
			p := ap[g*4*in:][:16*in]
			p0, p1, p2, p3 := p[:4*in], p[4*in:][:4*in], p[8*in:][:4*in], p[12*in:][:4*in]
			for k := range in {
				w := archsimd.BroadcastFloat32x4(wp[k*nr])
				acc0 = archsimd.LoadFloat32x4((*[4]float32)(p0[4*k:])).MulAdd(w, acc0)
				acc1 = archsimd.LoadFloat32x4((*[4]float32)(p1[4*k:])).MulAdd(w, acc1)
				acc2 = archsimd.LoadFloat32x4((*[4]float32)(p2[4*k:])).MulAdd(w, acc2)
				acc3 = archsimd.LoadFloat32x4((*[4]float32)(p3[4*k:])).MulAdd(w, acc3)
			}
		} else {
			for k := range in {
				w := archsimd.BroadcastFloat32x4(wp[k*nr])
				acc0 = archsimd.LoadFloat32x4((*[4]float32)(ap[g*4*in+4*k:])).MulAdd(w, acc0)
				if g+1 < groups {
					acc1 = archsimd.LoadFloat32x4((*[4]float32)(ap[(g+1)*4*in+4*k:])).MulAdd(w, acc1)
				}
				if g+2 < groups {
					acc2 = archsimd.LoadFloat32x4((*[4]float32)(ap[(g+2)*4*in+4*k:])).MulAdd(w, acc2)
				}
			}
		}
		acc0.Store((*[4]float32)(t[0:]))
		acc1.Store((*[4]float32)(t[4:]))
		acc2.Store((*[4]float32)(t[8:]))
		acc3.Store((*[4]float32)(t[12:]))
		rows := t[:min(16, n-4*g)]
		if relu {
			reluScalar(rows)
		}
		copy(c[4*g:], rows)
	}
}

// weightGradSIMD adds aᵀ·d to g and the column sums of d to gb. Each
// element of g continues its chain from its current value.
func weightGradSIMD(nr int, g, gb, a, d, s []float32, n, in, out int) {
	if n > 0 && in > 0 && out == 1 {
		weightGradNarrow(g[:in], a[:n*in], d[:n], n, in)
	} else if n > 0 && in > 0 && out > 0 {
		g, a, d = g[:in*out], a[:n*in], d[:n*out]
		dp := s[:PackedLen(n, out, nr)]
		ap := s[len(dp):][:a4Len(in, n)]
		packPanelsSIMD(dp, d, n, out, out, nr)
		packA4(ap, a, in, n, 1, in)
		args := gemmArgs{
			c: unsafe.Pointer(&g[0]), ldc: uintptr(out) * 4, kc: n,
			init: unsafe.Pointer(&g[0]), ldi: uintptr(out) * 4,
			ep: epNone,
		}
		gemm(nr, args, in, out, ap, dp)
	}
	colSumSIMD(gb, d, n, out)
	archsimd.ClearAVXUpperBits()
}

// weightGradNarrow is weightGradSIMD's product for out == 1: g (in) +=
// aᵀ·d, per feature the same chain over the rows, eight features per
// vector, four vectors at a time.
func weightGradNarrow(g, a, d []float32, n, in int) {
	f := 0
	for ; f+32 <= in; f += 32 {
		acc0, acc1, acc2, acc3 := load8(g[f:]), load8(g[f+8:]), load8(g[f+16:]), load8(g[f+24:])
		for i, v := range d {
			x := archsimd.BroadcastFloat32x8(v)
			row := a[i*in+f:][:32]
			acc0 = load8(row).MulAdd(x, acc0)
			acc1 = load8(row[8:]).MulAdd(x, acc1)
			acc2 = load8(row[16:]).MulAdd(x, acc2)
			acc3 = load8(row[24:]).MulAdd(x, acc3)
		}
		store8(acc0, g[f:])
		store8(acc1, g[f+8:])
		store8(acc2, g[f+16:])
		store8(acc3, g[f+24:])
	}
	// The rest four features at a time, in 4-lane vectors after
	// VZEROUPPER (so the scalar moves filling partial ones are cheap);
	// not through archsimd's SlicePart loads, which checkptr rejects at
	// the end of an allocation.
	archsimd.ClearAVXUpperBits()
	for ; f < in; f += 4 {
		e := min(f+4, in)
		var t [4]float32
		copy(t[:], g[f:e])
		acc := archsimd.LoadFloat32x4(&t)
		for i, v := range d[:n] {
			copy(t[:], a[i*in+f:i*in+e])
			acc = archsimd.LoadFloat32x4(&t).MulAdd(archsimd.BroadcastFloat32x4(v), acc)
		}
		acc.Store(&t)
		copy(g[f:e], t[:])
	}
}

// inputGradSIMD computes prev = (d·Wᵀ) ⊙ [a > 0] with wtp the packed Wᵀ.
func inputGradSIMD(nr int, prev, d, wtp, a, s []float32, n, in, out int) {
	if n == 0 || in == 0 {
		return
	}
	prev, a = prev[:n*in], a[:n*in]
	ap := s[:a4Len(n, out)]
	packA4(ap, d[:n*out], n, out, out, 1)
	g := gemmArgs{
		c: unsafe.Pointer(&prev[0]), ldc: uintptr(in) * 4, kc: out,
		mask: unsafe.Pointer(&a[0]), ldm: uintptr(in) * 4,
		ep: epMask,
	}
	gemm(nr, g, n, in, ap, wtp)
	archsimd.ClearAVXUpperBits()
}

type f32x8 = archsimd.Float32x8

func load8(s []float32) f32x8 { return archsimd.LoadFloat32x8((*[8]float32)(s[:8])) }

func store8(v f32x8, s []float32) { v.Store((*[8]float32)(s[:8])) }

func addStore8(v f32x8, s []float32) { store8(load8(s).Add(v), s) }

// colSumSIMD adds the column sums of d (n×out) to g: per column, the sum
// of the rows in order, then added to g.
func colSumSIMD(g, d []float32, n, out int) {
	g, d = g[:out], d[:n*out]
	j := 0
	for ; j+8 <= out; j += 8 {
		var s f32x8
		for i := range n {
			s = s.Add(load8(d[i*out+j:]))
		}
		addStore8(s, g[j:])
	}
	archsimd.ClearAVXUpperBits()
	for ; j < out; j++ {
		var s float32
		for i := range n {
			s += d[i*out+j]
		}
		g[j] += s
	}
}

// ld8 loads 8 floats at p.
func ld8(p unsafe.Pointer) f32x8 { return archsimd.LoadFloat32x8((*[8]float32)(p)) }

// out8 applies the epilogue to v and stores it at p; m is the mask.
func out8(v f32x8, p unsafe.Pointer, ep int, m unsafe.Pointer) {
	var zero f32x8
	switch ep {
	case epReLU:
		v = zero.Merge(v, v.Less(zero))
	case epMask:
		v = v.Masked(ld8(m).Greater(zero))
	}
	v.Store((*[8]float32)(p))
}

// kern4x16 is the AVX2 micro-kernel: a 4×16 tile in eight accumulators,
// two reduction steps per iteration. A and B pointers run one step past
// the last one read, into the slack of the packed buffers. The
// intrinsics are written out, no helpers, so that the loop carries no
// inlining marks.
func kern4x16(g *gemmArgs) {
	pi, ldi := g.init, g.ldi
	c00, c01 := ld8(pi), ld8(unsafe.Add(pi, 32))
	pi = unsafe.Add(pi, ldi)
	c10, c11 := ld8(pi), ld8(unsafe.Add(pi, 32))
	pi = unsafe.Add(pi, ldi)
	c20, c21 := ld8(pi), ld8(unsafe.Add(pi, 32))
	pi = unsafe.Add(pi, ldi)
	c30, c31 := ld8(pi), ld8(unsafe.Add(pi, 32))
	pa, pb := g.a, g.b
	k := g.kc
	for ; k >= 2; k -= 2 {
		b0 := archsimd.LoadFloat32x8((*[8]float32)(pb))
		b1 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pb, 32)))
		x := archsimd.LoadFloat32x4((*[4]float32)(pa)).Broadcast1To8()
		c00, c01 = x.MulAdd(b0, c00), x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 4))).Broadcast1To8()
		c10, c11 = x.MulAdd(b0, c10), x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 8))).Broadcast1To8()
		c20, c21 = x.MulAdd(b0, c20), x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 12))).Broadcast1To8()
		c30, c31 = b0.MulAdd(x, c30), b1.MulAdd(x, c31)
		b0 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pb, 64)))
		b1 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pb, 96)))
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 16))).Broadcast1To8()
		c00, c01 = x.MulAdd(b0, c00), x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 20))).Broadcast1To8()
		c10, c11 = x.MulAdd(b0, c10), x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 24))).Broadcast1To8()
		c20, c21 = x.MulAdd(b0, c20), x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 28))).Broadcast1To8()
		c30, c31 = b0.MulAdd(x, c30), b1.MulAdd(x, c31)
		pa, pb = unsafe.Add(pa, 32), unsafe.Add(pb, 128)
	}
	if k == 1 {
		b0 := archsimd.LoadFloat32x8((*[8]float32)(pb))
		b1 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(pb, 32)))
		x := archsimd.LoadFloat32x4((*[4]float32)(pa)).Broadcast1To8()
		c00, c01 = x.MulAdd(b0, c00), x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 4))).Broadcast1To8()
		c10, c11 = x.MulAdd(b0, c10), x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 8))).Broadcast1To8()
		c20, c21 = x.MulAdd(b0, c20), x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 12))).Broadcast1To8()
		c30, c31 = b0.MulAdd(x, c30), b1.MulAdd(x, c31)
	}
	pc, ldc, ep := g.c, g.ldc, g.ep
	pm, ldm := g.mask, g.ldm
	if ep != epMask {
		pm, ldm = pc, ldc // unused; any valid pointer
	}
	out8(c00, pc, ep, pm)
	out8(c01, unsafe.Add(pc, 32), ep, unsafe.Add(pm, 32))
	pc, pm = unsafe.Add(pc, ldc), unsafe.Add(pm, ldm)
	out8(c10, pc, ep, pm)
	out8(c11, unsafe.Add(pc, 32), ep, unsafe.Add(pm, 32))
	pc, pm = unsafe.Add(pc, ldc), unsafe.Add(pm, ldm)
	out8(c20, pc, ep, pm)
	out8(c21, unsafe.Add(pc, 32), ep, unsafe.Add(pm, 32))
	pc, pm = unsafe.Add(pc, ldc), unsafe.Add(pm, ldm)
	out8(c30, pc, ep, pm)
	out8(c31, unsafe.Add(pc, 32), ep, unsafe.Add(pm, 32))
	archsimd.ClearAVXUpperBits()
}
