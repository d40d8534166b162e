#include "textflag.h"

// func addF32(dst *float32, src *byte, n int)
//
// dst[i] += src[i] for n float32s; src may be unaligned. SSE2 (every amd64
// CPU has it): ADDPS and ADDSS round exactly like Go's float32 addition, so
// the sums are the bits the portable code gives.
TEXT ·addF32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	CMPQ CX, $16
	JLT  tail4

loop16:
	MOVUPS 0(DI), X0
	MOVUPS 16(DI), X1
	MOVUPS 32(DI), X2
	MOVUPS 48(DI), X3
	MOVUPS 0(SI), X4
	MOVUPS 16(SI), X5
	MOVUPS 32(SI), X6
	MOVUPS 48(SI), X7
	ADDPS  X4, X0
	ADDPS  X5, X1
	ADDPS  X6, X2
	ADDPS  X7, X3
	MOVUPS X0, 0(DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	MOVUPS X3, 48(DI)
	ADDQ   $64, DI
	ADDQ   $64, SI
	SUBQ   $16, CX
	CMPQ   CX, $16
	JGE    loop16

tail4:
	CMPQ   CX, $4
	JLT    tail1
	MOVUPS 0(DI), X0
	MOVUPS 0(SI), X4
	ADDPS  X4, X0
	MOVUPS X0, 0(DI)
	ADDQ   $16, DI
	ADDQ   $16, SI
	SUBQ   $4, CX
	JMP    tail4

tail1:
	TESTQ CX, CX
	JEQ   done
	MOVSS 0(DI), X0
	MOVSS 0(SI), X4
	ADDSS X4, X0
	MOVSS X0, 0(DI)
	ADDQ  $4, DI
	ADDQ  $4, SI
	DECQ  CX
	JMP   tail1

done:
	RET

// func copyF32(dst *float32, src *byte, n int)
//
// dst[i] = src[i] for n float32s; src may be unaligned. It prefetches the
// destination ahead of the stores: the all-gather writes each chunk into a
// part of the vector that is usually out of cache, where runtime.memmove
// (stores only) runs at under half this speed.
TEXT ·copyF32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	CMPQ CX, $16
	JLT  ctail1

cloop16:
	PREFETCHT0 512(DI)
	MOVUPS     0(SI), X4
	MOVUPS     16(SI), X5
	MOVUPS     32(SI), X6
	MOVUPS     48(SI), X7
	MOVUPS     X4, 0(DI)
	MOVUPS     X5, 16(DI)
	MOVUPS     X6, 32(DI)
	MOVUPS     X7, 48(DI)
	ADDQ       $64, DI
	ADDQ       $64, SI
	SUBQ       $16, CX
	CMPQ       CX, $16
	JGE        cloop16

ctail1:
	TESTQ CX, CX
	JEQ   cdone
	MOVL  0(SI), AX
	MOVL  AX, 0(DI)
	ADDQ  $4, DI
	ADDQ  $4, SI
	DECQ  CX
	JMP   ctail1

cdone:
	RET

// func copyNTF32(dst *float32, src *byte, n int)
//
// copyF32 with MOVNTPS stores once dst is 16-byte aligned, then SFENCE so
// the stores are visible before any later store (a channel send handing the
// chunk on, say).
TEXT ·copyNTF32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

nalign:
	TESTQ CX, CX
	JEQ   ndone
	TESTQ $15, DI
	JEQ   naligned
	MOVL  0(SI), AX
	MOVL  AX, 0(DI)
	ADDQ  $4, DI
	ADDQ  $4, SI
	DECQ  CX
	JMP   nalign

naligned:
	CMPQ CX, $16
	JLT  ntail1

nloop16:
	MOVUPS  0(SI), X4
	MOVUPS  16(SI), X5
	MOVUPS  32(SI), X6
	MOVUPS  48(SI), X7
	MOVNTPS X4, 0(DI)
	MOVNTPS X5, 16(DI)
	MOVNTPS X6, 32(DI)
	MOVNTPS X7, 48(DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     nloop16
	SFENCE

ntail1:
	TESTQ CX, CX
	JEQ   ndone
	MOVL  0(SI), AX
	MOVL  AX, 0(DI)
	ADDQ  $4, DI
	ADDQ  $4, SI
	DECQ  CX
	JMP   ntail1

ndone:
	RET
