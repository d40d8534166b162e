//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// The AVX-512 micro-kernels: the AVX2 ones (simd_amd64.go) at
// twice the width, 4×32 tiles in eight 16-lane accumulators. Same
// per-element order of operations, so bit-identical results. Chosen at
// init only where the CPU and the OS support AVX-512 (archsimd checks
// both); 16-lane code must never run elsewhere (SIGILL).

// useAVX512 reports whether the AVX-512 kernels can run here.
func useAVX512() bool {
	return archsimd.X86.AVX512() && archsimd.X86.AVX2() && archsimd.X86.FMA()
}

// avx512Set: 4×32 tiles of eight 16-lane accumulators.
var avx512Set = simdSet("avx512", 32)

type f32x16 = archsimd.Float32x16

// ld16 loads 16 floats at p.
func ld16(p unsafe.Pointer) f32x16 { return archsimd.LoadFloat32x16((*[16]float32)(p)) }

// out16 applies the epilogue to v and stores it at p; m is the mask.
func out16(v f32x16, p unsafe.Pointer, ep int, m unsafe.Pointer) {
	var zero f32x16
	switch ep {
	case epReLU:
		v = zero.Merge(v, v.Less(zero))
	case epMask:
		v = v.Masked(ld16(m).Greater(zero))
	}
	v.Store((*[16]float32)(p))
}

// kern12x32 is kern4x32 for three row groups at once (kern12x32_amd64.s):
// a 12×32 tile in 24 accumulators, A's groups 16·kc bytes apart from a.
// Written in assembly because it needs registers the compiler does not
// give SIMD code (X16–X31): 24 accumulators keep both FMA units busy
// where kern4x32's eight cannot, and each broadcast feeds two FMAs from
// a register. The same chain per element as kern4x32, so the same bits.
//
//go:noescape
func kern12x32(c unsafe.Pointer, ldc uintptr, a, b unsafe.Pointer, kc int, ini unsafe.Pointer, ldi uintptr, mask unsafe.Pointer, ldm uintptr, ep int)

// kern12 runs kern12x32 on the tile g describes (rows of its A group and
// the two groups after it).
func kern12(g *gemmArgs) {
	kern12x32(g.c, g.ldc, g.a, g.b, g.kc, g.init, g.ldi, g.mask, g.ldm, g.ep)
}

// kern4x32 is kern4x16 at 16 lanes.
func kern4x32(g *gemmArgs) {
	pi, ldi := g.init, g.ldi
	c00, c01 := ld16(pi), ld16(unsafe.Add(pi, 64))
	pi = unsafe.Add(pi, ldi)
	c10, c11 := ld16(pi), ld16(unsafe.Add(pi, 64))
	pi = unsafe.Add(pi, ldi)
	c20, c21 := ld16(pi), ld16(unsafe.Add(pi, 64))
	pi = unsafe.Add(pi, ldi)
	c30, c31 := ld16(pi), ld16(unsafe.Add(pi, 64))
	pa, pb := g.a, g.b
	k := g.kc
	for ; k >= 2; k -= 2 {
		b0 := archsimd.LoadFloat32x16((*[16]float32)(pb))
		b1 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pb, 64)))
		x := archsimd.LoadFloat32x4((*[4]float32)(pa)).Broadcast1To16()
		c00, c01 = x.MulAdd(b0, c00), x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 4))).Broadcast1To16()
		c10, c11 = x.MulAdd(b0, c10), x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 8))).Broadcast1To16()
		c20, c21 = x.MulAdd(b0, c20), x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 12))).Broadcast1To16()
		c30, c31 = b0.MulAdd(x, c30), b1.MulAdd(x, c31)
		b0 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pb, 128)))
		b1 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pb, 192)))
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 16))).Broadcast1To16()
		c00, c01 = x.MulAdd(b0, c00), x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 20))).Broadcast1To16()
		c10, c11 = x.MulAdd(b0, c10), x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 24))).Broadcast1To16()
		c20, c21 = x.MulAdd(b0, c20), x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 28))).Broadcast1To16()
		c30, c31 = b0.MulAdd(x, c30), b1.MulAdd(x, c31)
		pa, pb = unsafe.Add(pa, 32), unsafe.Add(pb, 256)
	}
	if k == 1 {
		b0 := archsimd.LoadFloat32x16((*[16]float32)(pb))
		b1 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(pb, 64)))
		x := archsimd.LoadFloat32x4((*[4]float32)(pa)).Broadcast1To16()
		c00, c01 = x.MulAdd(b0, c00), x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 4))).Broadcast1To16()
		c10, c11 = x.MulAdd(b0, c10), x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 8))).Broadcast1To16()
		c20, c21 = x.MulAdd(b0, c20), x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(pa, 12))).Broadcast1To16()
		c30, c31 = b0.MulAdd(x, c30), b1.MulAdd(x, c31)
	}
	pc, ldc, ep := g.c, g.ldc, g.ep
	pm, ldm := g.mask, g.ldm
	if ep != epMask {
		pm, ldm = pc, ldc // unused; any valid pointer
	}
	out16(c00, pc, ep, pm)
	out16(c01, unsafe.Add(pc, 64), ep, unsafe.Add(pm, 64))
	pc, pm = unsafe.Add(pc, ldc), unsafe.Add(pm, ldm)
	out16(c10, pc, ep, pm)
	out16(c11, unsafe.Add(pc, 64), ep, unsafe.Add(pm, 64))
	pc, pm = unsafe.Add(pc, ldc), unsafe.Add(pm, ldm)
	out16(c20, pc, ep, pm)
	out16(c21, unsafe.Add(pc, 64), ep, unsafe.Add(pm, 64))
	pc, pm = unsafe.Add(pc, ldc), unsafe.Add(pm, ldm)
	out16(c30, pc, ep, pm)
	out16(c31, unsafe.Add(pc, 64), ep, unsafe.Add(pm, 64))
	archsimd.ClearAVXUpperBits()
}
