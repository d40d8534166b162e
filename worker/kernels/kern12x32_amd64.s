//go:build goexperiment.simd && amd64

#include "textflag.h"

// kern12x32 (see avx512_amd64.go): a 12×32 tile in 24 accumulators,
// Z0…Z23 (row r in Z(2r), Z(2r+1)); B's two vectors in Z24, Z25; A's
// broadcasts in Z26…Z29; Z30, Z31 for the epilogue. Registers:
//	AX, DI, SI: A's three groups of four rows (16·kc bytes apart)
//	BX: B's panel; CX: steps left
//	R8, R9: C and ldc; R10, R11: initial rows and ldi; R12, R13: mask and ldm
//	DX: the epilogue

// INIT2 loads a row's two initial vectors and steps to the next row.
#define INIT2(z0, z1) \
	VMOVUPS (R10), z0; \
	VMOVUPS 64(R10), z1; \
	ADDQ    R11, R10

// FMA4 runs one step of four rows of a group at p into the
// accumulators z0…z7.
#define FMA4(p, z0, z1, z2, z3, z4, z5, z6, z7) \
	VBROADCASTSS (p), Z26; \
	VBROADCASTSS 4(p), Z27; \
	VFMADD231PS  Z26, Z24, z0; \
	VFMADD231PS  Z26, Z25, z1; \
	VFMADD231PS  Z27, Z24, z2; \
	VFMADD231PS  Z27, Z25, z3; \
	VBROADCASTSS 8(p), Z28; \
	VBROADCASTSS 12(p), Z29; \
	VFMADD231PS  Z28, Z24, z4; \
	VFMADD231PS  Z28, Z25, z5; \
	VFMADD231PS  Z29, Z24, z6; \
	VFMADD231PS  Z29, Z25, z7

// STORE2 stores a row and steps to the next.
#define STORE2(z0, z1) \
	VMOVUPS z0, (R8); \
	VMOVUPS z1, 64(R8); \
	ADDQ    R9, R8

// RELU2: max(x, 0) with x the second source, so NaN and -0 stay.
#define RELU2(z0, z1) \
	VMAXPS z0, Z31, z0; \
	VMAXPS z1, Z31, z1; \
	STORE2(z0, z1)

// MASK2 keeps the lanes whose mask element is > 0 (ordered: NaN is not),
// zeroes the others.
#define MASK2(z0, z1) \
	VMOVUPS      (R12), Z30; \
	VCMPPS       $0x1e, Z31, Z30, K1; \
	VMOVUPS.Z    z0, K1, z0; \
	VMOVUPS      64(R12), Z30; \
	VCMPPS       $0x1e, Z31, Z30, K2; \
	VMOVUPS.Z    z1, K2, z1; \
	ADDQ         R13, R12; \
	STORE2(z0, z1)

// func kern12x32(c unsafe.Pointer, ldc uintptr, a, b unsafe.Pointer, kc int, ini unsafe.Pointer, ldi uintptr, mask unsafe.Pointer, ldm uintptr, ep int)
TEXT ·kern12x32(SB), NOSPLIT, $0-80
	MOVQ c+0(FP), R8
	MOVQ ldc+8(FP), R9
	MOVQ a+16(FP), AX
	MOVQ b+24(FP), BX
	MOVQ kc+32(FP), CX
	MOVQ ini+40(FP), R10
	MOVQ ldi+48(FP), R11
	MOVQ mask+56(FP), R12
	MOVQ ldm+64(FP), R13
	MOVQ ep+72(FP), DX

	INIT2(Z0, Z1)
	INIT2(Z2, Z3)
	INIT2(Z4, Z5)
	INIT2(Z6, Z7)
	INIT2(Z8, Z9)
	INIT2(Z10, Z11)
	INIT2(Z12, Z13)
	INIT2(Z14, Z15)
	INIT2(Z16, Z17)
	INIT2(Z18, Z19)
	INIT2(Z20, Z21)
	INIT2(Z22, Z23)

	MOVQ CX, SI
	SHLQ $4, SI
	LEAQ (AX)(SI*1), DI
	LEAQ (DI)(SI*1), SI
	TESTQ CX, CX
	JEQ  epilogue

loop:
	VMOVUPS (BX), Z24
	VMOVUPS 64(BX), Z25
	FMA4(AX, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	FMA4(DI, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	FMA4(SI, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23)
	ADDQ $16, AX
	ADDQ $16, DI
	ADDQ $16, SI
	ADDQ $128, BX
	DECQ CX
	JNZ  loop

epilogue:
	VPXORD Z31, Z31, Z31
	CMPQ   DX, $1
	JEQ    relu
	CMPQ   DX, $2
	JEQ    mask
	STORE2(Z0, Z1)
	STORE2(Z2, Z3)
	STORE2(Z4, Z5)
	STORE2(Z6, Z7)
	STORE2(Z8, Z9)
	STORE2(Z10, Z11)
	STORE2(Z12, Z13)
	STORE2(Z14, Z15)
	STORE2(Z16, Z17)
	STORE2(Z18, Z19)
	STORE2(Z20, Z21)
	STORE2(Z22, Z23)
	VZEROUPPER
	RET

relu:
	RELU2(Z0, Z1)
	RELU2(Z2, Z3)
	RELU2(Z4, Z5)
	RELU2(Z6, Z7)
	RELU2(Z8, Z9)
	RELU2(Z10, Z11)
	RELU2(Z12, Z13)
	RELU2(Z14, Z15)
	RELU2(Z16, Z17)
	RELU2(Z18, Z19)
	RELU2(Z20, Z21)
	RELU2(Z22, Z23)
	VZEROUPPER
	RET

mask:
	MASK2(Z0, Z1)
	MASK2(Z2, Z3)
	MASK2(Z4, Z5)
	MASK2(Z6, Z7)
	MASK2(Z8, Z9)
	MASK2(Z10, Z11)
	MASK2(Z12, Z13)
	MASK2(Z14, Z15)
	MASK2(Z16, Z17)
	MASK2(Z18, Z19)
	MASK2(Z20, Z21)
	MASK2(Z22, Z23)
	VZEROUPPER
	RET
