//go:build goexperiment.simd && amd64

package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"simd/archsimd"
	"testing"
	"unsafe"
)

// TestKernelsDispatch checks that the CPU gets the widest vectorized
// kernels it supports, so that the tests exercise them, and the limits
// NIGHTSHIFT_KERNELS sets.
func TestKernelsDispatch(t *testing.T) {
	want := &scalarSet
	switch {
	case useAVX512():
		want = &avx512Set
	case archsimd.X86.AVX2() && archsimd.X86.FMA():
		want = &avx2Set
	}
	if got := pick(""); got != want {
		t.Fatalf("pick: %s, want %s", got.name, want.name)
	}
	if os.Getenv("NIGHTSHIFT_KERNELS") == "" && Default() != want {
		t.Fatalf("kernels in use: %s, want %s", Default().name, want.name)
	}
	if got := pick("scalar"); got != &scalarSet {
		t.Fatalf("pick(scalar): %s", got.name)
	}
	if got := pick("avx2"); want != &scalarSet && got != &avx2Set {
		t.Fatalf("pick(avx2): %s", got.name)
	}
	if a := Available(); a[len(a)-1] != want {
		t.Fatalf("Available ends with %s, want %s", a[len(a)-1].name, want.name)
	}
}

// TestPackA4 checks packA4's vector paths against the definition, with
// every row and column tail.
func TestPackA4(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, m := range []int{1, 3, 4, 5, 8, 13} {
		for _, k := range []int{1, 7, 8, 9, 17} {
			src := kernelData(rng, m*k)
			for _, st := range [][2]int{{k, 1}, {1, m}} { // row-major, transposed
				rs, cs := st[0], st[1]
				dst := kernelData(rng, a4Len(m, k))
				packA4(dst, src, m, k, rs, cs)
				for g := 0; g < (m+3)/4; g++ {
					for c := range k {
						for r := range 4 {
							want := float32(0)
							if 4*g+r < m {
								want = src[(4*g+r)*rs+c*cs]
							}
							if got := dst[4*g*k+4*c+r]; got != want {
								t.Fatalf("m %d k %d strides %v: group %d col %d row %d: %v, want %v", m, k, st, g, c, r, got, want)
							}
						}
					}
				}
				for i, v := range dst[len(dst)-8:] {
					if v != 0 {
						t.Fatalf("m %d k %d: slack[%d] = %v", m, k, i, v)
					}
				}
			}
		}
	}
}

// TestPackPanels checks packPanelsSIMD against PackPanels, and
// PackPanelsT against the definition.
func TestPackPanels(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, nr := range []int{16, 32} {
		for _, k := range []int{1, 5, 33} {
			for _, n := range []int{1, 16, 17, 32, 64, 96} {
				src := kernelData(rng, k*n)
				want, got := kernelData(rng, PackedLen(k, n, nr)), kernelData(rng, PackedLen(k, n, nr))
				PackPanels(want, src, k, n, n, nr)
				packPanelsSIMD(got, src, k, n, n, nr)
				if i, ok := sameBits(got, want); !ok {
					t.Fatalf("nr %d k %d n %d: [%d] %v, want %v", nr, k, n, i, got[i], want[i])
				}
				for j0 := 0; j0 < n+nr; j0 += nr {
					for r := range k {
						for c := range nr {
							w := float32(0)
							if j0+c < n {
								w = src[r*n+j0+c]
							}
							if j0 >= n {
								break
							}
							if v := want[j0*k+r*nr+c]; v != w {
								t.Fatalf("PackPanels nr %d k %d n %d: (%d, %d) = %v, want %v", nr, k, n, r, j0+c, v, w)
							}
						}
					}
				}
				srcT := kernelData(rng, n*k) // n×k; its transpose is k×n
				pt := kernelData(rng, PackedLen(k, n, nr))
				PackPanelsT(pt, srcT, k, n, k, nr)
				for r := range k {
					for j := range n {
						if v, w := pt[j/nr*nr*k+r*nr+j%nr], srcT[j*k+r]; v != w {
							t.Fatalf("PackPanelsT nr %d k %d n %d: (%d, %d) = %v, want %v", nr, k, n, r, j, v, w)
						}
					}
				}
			}
		}
	}
}

// TestKernelsAVX512MatchAVX2 checks the AVX-512 kernels give exactly the
// AVX2 kernels' bits, kernel by kernel (worker/train checks a whole
// LossGrad), so that
// members on either kind of CPU keep identical weights.
func TestKernelsAVX512MatchAVX2(t *testing.T) {
	if !useAVX512() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sh := range [][3]int{{1, 1, 1}, {5, 7, 3}, {37, 65, 257}, {128, 256, 256}, {131, 64, 256}, {128, 256, 1}, {9, 33, 47}} {
		c := newKernelCase(rng, sh[0], sh[1], sh[2])
		f1, r1, g1, gb1, p1 := c.run(&avx2Set)
		f2, r2, g2, gb2, p2 := c.run(&avx512Set)
		for _, x := range []struct {
			name string
			a, b []float32
		}{{"forward", f1, f2}, {"forward+relu", r1, r2}, {"weightGrad", g1, g2}, {"biasGrad", gb1, gb2}, {"inputGrad", p1, p2}} {
			if i, ok := sameBits(x.a, x.b); !ok {
				t.Fatalf("%v %s[%d]: avx2 %v, avx512 %v", sh, x.name, i, x.a[i], x.b[i])
			}
		}
	}
}

// TestKernelsNarrowMatchGEMM checks the out == 1 paths (forward and
// weight gradient) give exactly the GEMM's bits for that column: the
// order of operations per element is the same.
func TestKernelsNarrowMatchGEMM(t *testing.T) {
	for _, ks := range Available()[1:] {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, sh := range [][2]int{{1, 1}, {5, 3}, {37, 65}, {128, 256}, {131, 36}, {16, 40}} {
			n, in := sh[0], sh[1]
			wide := newKernelCase(rng, n, in, 2)
			narrow := &kernelCase{n: n, in: in, out: 1, a: wide.a, w: make([]float32, in), b: wide.b[:1],
				d: make([]float32, n), g0: make([]float32, in), gb0: wide.gb0[:1], ones: wide.ones}
			for k := range in {
				narrow.w[k], narrow.g0[k] = wide.w[2*k], wide.g0[2*k]
			}
			for i := range n {
				narrow.d[i] = wide.d[2*i]
			}
			fw, rw, gw, _, _ := wide.run(ks)
			fn, rn, gn, _, _ := narrow.run(ks)
			for i := range n {
				if math.Float32bits(fn[i]) != math.Float32bits(fw[2*i]) || math.Float32bits(rn[i]) != math.Float32bits(rw[2*i]) {
					t.Fatalf("%s %v: forward row %d: narrow %v/%v, gemm %v/%v", ks.name, sh, i, fn[i], rn[i], fw[2*i], rw[2*i])
				}
			}
			for k := range in {
				if math.Float32bits(gn[k]) != math.Float32bits(gw[2*k]) {
					t.Fatalf("%s %v: weightGrad %d: narrow %v, gemm %v", ks.name, sh, k, gn[k], gw[2*k])
				}
			}
		}
	}
}

// TestKern12x32MatchesKern4x32 checks the assembly tile against three
// kern4x32 tiles on the same packed A, bit for bit, for every epilogue and
// for both kinds of initial rows (one shared row, ldi 0; one row each),
// with NaN, ±Inf and -0 among the inputs, the initial values and the mask.
func TestKern12x32MatchesKern4x32(t *testing.T) {
	if !useAVX512() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(12, 32))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0}
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			if rng.IntN(40) == 0 {
				x[i] = special[rng.IntN(len(special))]
			} else {
				x[i] = float32(rng.NormFloat64())
			}
		}
		return x
	}
	for _, kc := range []int{0, 1, 2, 7, 64} {
		a, b := fill(12*kc+8), fill(32*kc+64)
		ini, mask := fill(12*32), fill(12*32)
		for _, ep := range []int{epNone, epReLU, epMask} {
			for _, ldi := range []uintptr{0, 128} {
				got, want := make([]float32, 12*32), make([]float32, 12*32)
				g := gemmArgs{c: unsafe.Pointer(&got[0]), ldc: 128, a: unsafe.Pointer(&a[0]), b: unsafe.Pointer(&b[0]), kc: kc,
					init: unsafe.Pointer(&ini[0]), ldi: ldi, mask: unsafe.Pointer(&mask[0]), ldm: 128, ep: ep}
				kern12(&g)
				for grp := range 3 {
					h := g
					h.c = unsafe.Pointer(&want[grp*4*32])
					h.a = unsafe.Add(g.a, grp*16*kc)
					h.init = unsafe.Add(g.init, uintptr(grp*4)*ldi)
					h.mask = unsafe.Pointer(&mask[grp*4*32])
					kern4x32(&h)
				}
				if i, ok := sameBits(got, want); !ok {
					t.Fatalf("kc %d ep %d ldi %d: element %d (row %d, column %d): kern12x32 %v, kern4x32 %v", kc, ep, ldi, i, i/32, i%32, got[i], want[i])
				}
			}
		}
	}
}

// BenchmarkTiles times the AVX-512 micro-kernels alone, from L1, over a
// reduction of 256 (the MLP's hidden layer): GFLOP/s against the core's
// FMA peak.
func BenchmarkTiles(b *testing.B) {
	if !useAVX512() {
		b.Skip("no AVX-512")
	}
	const kc = 256
	a, bp, c := make([]float32, 12*kc+8), make([]float32, 32*kc+64), make([]float32, 12*32)
	g := gemmArgs{c: unsafe.Pointer(&c[0]), ldc: 128, a: unsafe.Pointer(&a[0]), b: unsafe.Pointer(&bp[0]), kc: kc, init: unsafe.Pointer(&c[0]), ldi: 128}
	for _, k := range []struct {
		name string
		rows int
		f    func(*gemmArgs)
	}{{"4x32", 4, kern4x32}, {"12x32", 12, kern12}} {
		b.Run(k.name, func(b *testing.B) {
			for b.Loop() {
				k.f(&g)
			}
			b.ReportMetric(2*float64(k.rows*32*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
