//go:build amd64 && !purego

#include "textflag.h"

// Lane masks for partial stores: the 8 dwords at masktab<>+4*(8-n) have
// their first n lanes set.
DATA masktab<>+0(SB)/4, $0xffffffff
DATA masktab<>+4(SB)/4, $0xffffffff
DATA masktab<>+8(SB)/4, $0xffffffff
DATA masktab<>+12(SB)/4, $0xffffffff
DATA masktab<>+16(SB)/4, $0xffffffff
DATA masktab<>+20(SB)/4, $0xffffffff
DATA masktab<>+24(SB)/4, $0xffffffff
DATA masktab<>+28(SB)/4, $0xffffffff
DATA masktab<>+32(SB)/4, $0
DATA masktab<>+36(SB)/4, $0
DATA masktab<>+40(SB)/4, $0
DATA masktab<>+44(SB)/4, $0
DATA masktab<>+48(SB)/4, $0
DATA masktab<>+52(SB)/4, $0
DATA masktab<>+56(SB)/4, $0
DATA masktab<>+60(SB)/4, $0
GLOBL masktab<>(SB), RODATA|NOPTR, $64

// One rank-1 update of the 6×16 accumulators Y0..Y11 from the packed A
// column at SI+aoff and the packed B row at DI+boff.
#define RANK1(aoff, boff) \
	VMOVUPS boff(DI), Y12 \
	VMOVUPS boff+32(DI), Y13 \
	VBROADCASTSS aoff(SI), Y14 \
	VFMADD231PS Y12, Y14, Y0 \
	VFMADD231PS Y13, Y14, Y1 \
	VBROADCASTSS aoff+4(SI), Y15 \
	VFMADD231PS Y12, Y15, Y2 \
	VFMADD231PS Y13, Y15, Y3 \
	VBROADCASTSS aoff+8(SI), Y14 \
	VFMADD231PS Y12, Y14, Y4 \
	VFMADD231PS Y13, Y14, Y5 \
	VBROADCASTSS aoff+12(SI), Y15 \
	VFMADD231PS Y12, Y15, Y6 \
	VFMADD231PS Y13, Y15, Y7 \
	VBROADCASTSS aoff+16(SI), Y14 \
	VFMADD231PS Y12, Y14, Y8 \
	VFMADD231PS Y13, Y14, Y9 \
	VBROADCASTSS aoff+20(SI), Y15 \
	VFMADD231PS Y12, Y15, Y10 \
	VFMADD231PS Y13, Y15, Y11

// func sgemm6x16(k int, a, b, c *float32, ldc int, bias, res *float32, ldr int, flags int)
TEXT ·sgemm6x16(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

loop4:
	CMPQ CX, $4
	JLT  loop1
	PREFETCHT0 512(DI)
	RANK1(0, 0)
	RANK1(24, 64)
	PREFETCHT0 576(DI)
	RANK1(48, 128)
	RANK1(72, 192)
	ADDQ $96, SI
	ADDQ $256, DI
	SUBQ $4, CX
	JMP  loop4

loop1:
	TESTQ CX, CX
	JEQ   epilogue
	RANK1(0, 0)
	ADDQ  $24, SI
	ADDQ  $64, DI
	DECQ  CX
	JMP   loop1

epilogue:
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ bias+40(FP), BX
	VBROADCASTSS 0(BX), Y12
	VBROADCASTSS 4(BX), Y13
	VADDPS Y12, Y0, Y0
	VADDPS Y12, Y1, Y1
	VADDPS Y13, Y2, Y2
	VADDPS Y13, Y3, Y3
	VBROADCASTSS 8(BX), Y12
	VBROADCASTSS 12(BX), Y13
	VADDPS Y12, Y4, Y4
	VADDPS Y12, Y5, Y5
	VADDPS Y13, Y6, Y6
	VADDPS Y13, Y7, Y7
	VBROADCASTSS 16(BX), Y12
	VBROADCASTSS 20(BX), Y13
	VADDPS Y12, Y8, Y8
	VADDPS Y12, Y9, Y9
	VADDPS Y13, Y10, Y10
	VADDPS Y13, Y11, Y11

	MOVQ  res+48(FP), R8
	TESTQ R8, R8
	JEQ   act
	MOVQ  ldr+56(FP), R9
	SHLQ  $2, R9
	VADDPS (R8), Y0, Y0
	VADDPS 32(R8), Y1, Y1
	ADDQ   R9, R8
	VADDPS (R8), Y2, Y2
	VADDPS 32(R8), Y3, Y3
	ADDQ   R9, R8
	VADDPS (R8), Y4, Y4
	VADDPS 32(R8), Y5, Y5
	ADDQ   R9, R8
	VADDPS (R8), Y6, Y6
	VADDPS 32(R8), Y7, Y7
	ADDQ   R9, R8
	VADDPS (R8), Y8, Y8
	VADDPS 32(R8), Y9, Y9
	ADDQ   R9, R8
	VADDPS (R8), Y10, Y10
	VADDPS 32(R8), Y11, Y11

act:
	MOVQ  flags+64(FP), AX
	TESTQ $1, AX
	JEQ   store
	VXORPS       Y12, Y12, Y12
	MOVL         $0x40c00000, AX
	MOVQ         AX, X13
	VBROADCASTSS X13, Y13
	VMAXPS Y12, Y0, Y0
	VMAXPS Y12, Y1, Y1
	VMAXPS Y12, Y2, Y2
	VMAXPS Y12, Y3, Y3
	VMAXPS Y12, Y4, Y4
	VMAXPS Y12, Y5, Y5
	VMAXPS Y12, Y6, Y6
	VMAXPS Y12, Y7, Y7
	VMAXPS Y12, Y8, Y8
	VMAXPS Y12, Y9, Y9
	VMAXPS Y12, Y10, Y10
	VMAXPS Y12, Y11, Y11
	VMINPS Y13, Y0, Y0
	VMINPS Y13, Y1, Y1
	VMINPS Y13, Y2, Y2
	VMINPS Y13, Y3, Y3
	VMINPS Y13, Y4, Y4
	VMINPS Y13, Y5, Y5
	VMINPS Y13, Y6, Y6
	VMINPS Y13, Y7, Y7
	VMINPS Y13, Y8, Y8
	VMINPS Y13, Y9, Y9
	VMINPS Y13, Y10, Y10
	VMINPS Y13, Y11, Y11

store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    DX, DI
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, 32(DI)
	ADDQ    DX, DI
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ    DX, DI
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	ADDQ    DX, DI
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 32(DI)
	ADDQ    DX, DI
	VMOVUPS Y10, (DI)
	VMOVUPS Y11, 32(DI)
	VZEROUPPER
	RET

// One 8-lane output vector of the 9-tap plane kernel: Yacc = bias +
// Σ_t Y(t)·tap_t[x], taps at AX,BX,CX,DX,SI,DI,R8,R9,R10 plus R12*4+off.
#define DWVEC(off, acc) \
	VBROADCASTSS (R13), acc \
	VFMADD231PS off(AX)(R12*4), Y0, acc \
	VFMADD231PS off(BX)(R12*4), Y1, acc \
	VFMADD231PS off(CX)(R12*4), Y2, acc \
	VFMADD231PS off(DX)(R12*4), Y3, acc \
	VFMADD231PS off(SI)(R12*4), Y4, acc \
	VFMADD231PS off(DI)(R12*4), Y5, acc \
	VFMADD231PS off(R8)(R12*4), Y6, acc \
	VFMADD231PS off(R9)(R12*4), Y7, acc \
	VFMADD231PS off(R10)(R12*4), Y8, acc

#define DWACT(acc) \
	VMAXPS Y9, acc, acc \
	VMINPS Y10, acc, acc

// func dwPlaneAVX2(dst, q *float32, offs *[9]int, ra, oh, ow int, f, bias *float32, relu int)
//
// For oy < oh, ox < ow: dst[oy*ow+ox] = act(*bias + Σ_t f[t]·q[oy*ra+offs[t]+ox]).
// Reads up to 7 floats past the last tap of a row.
TEXT ·dwPlaneAVX2(SB), NOSPLIT, $16-72
	MOVQ f+48(FP), R11
	VBROADCASTSS 0(R11), Y0
	VBROADCASTSS 4(R11), Y1
	VBROADCASTSS 8(R11), Y2
	VBROADCASTSS 12(R11), Y3
	VBROADCASTSS 16(R11), Y4
	VBROADCASTSS 20(R11), Y5
	VBROADCASTSS 24(R11), Y6
	VBROADCASTSS 28(R11), Y7
	VBROADCASTSS 32(R11), Y8
	MOVQ relu+64(FP), R11
	TESTQ R11, R11
	JEQ  noact
	VXORPS Y9, Y9, Y9
	MOVL   $0x40c00000, R11
	MOVQ   R11, X10
	VBROADCASTSS X10, Y10
	JMP  actdone
noact:
	// max(x, -inf) and min(x, +inf) leave x unchanged.
	MOVL   $0xff800000, R11
	MOVQ   R11, X9
	VBROADCASTSS X9, Y9
	MOVL   $0x7f800000, R11
	MOVQ   R11, X10
	VBROADCASTSS X10, Y10
actdone:
	MOVQ bias+56(FP), R13
	MOVQ dst+0(FP), R11
	MOVQ q+8(FP), R14
	MOVQ R14, 0(SP)      // row base pointer
	MOVQ oh+32(FP), R14
	MOVQ R14, 8(SP)      // rows left
	TESTQ R14, R14
	JEQ  done

row:
	MOVQ 0(SP), R14
	MOVQ offs+16(FP), R12
	MOVQ 0(R12), AX
	LEAQ (R14)(AX*4), AX
	MOVQ 8(R12), BX
	LEAQ (R14)(BX*4), BX
	MOVQ 16(R12), CX
	LEAQ (R14)(CX*4), CX
	MOVQ 24(R12), DX
	LEAQ (R14)(DX*4), DX
	MOVQ 32(R12), SI
	LEAQ (R14)(SI*4), SI
	MOVQ 40(R12), DI
	LEAQ (R14)(DI*4), DI
	MOVQ 48(R12), R8
	LEAQ (R14)(R8*4), R8
	MOVQ 56(R12), R9
	LEAQ (R14)(R9*4), R9
	MOVQ 64(R12), R10
	LEAQ (R14)(R10*4), R10
	MOVQ ra+24(FP), R12
	LEAQ (R14)(R12*4), R14
	MOVQ R14, 0(SP)
	XORQ R12, R12

col32:
	LEAQ 32(R12), R14
	CMPQ R14, ow+40(FP)
	JGT  col8
	DWVEC(0, Y11)
	DWVEC(32, Y12)
	DWVEC(64, Y13)
	DWVEC(96, Y14)
	DWACT(Y11)
	DWACT(Y12)
	DWACT(Y13)
	DWACT(Y14)
	VMOVUPS Y11, (R11)
	VMOVUPS Y12, 32(R11)
	VMOVUPS Y13, 64(R11)
	VMOVUPS Y14, 96(R11)
	ADDQ $128, R11
	MOVQ R14, R12
	JMP  col32

col8:
	LEAQ 8(R12), R14
	CMPQ R14, ow+40(FP)
	JGT  tail
	DWVEC(0, Y11)
	DWACT(Y11)
	VMOVUPS Y11, (R11)
	ADDQ $32, R11
	MOVQ R14, R12
	JMP  col8

tail:
	MOVQ ow+40(FP), R14
	SUBQ R12, R14
	JEQ  rowdone
	DWVEC(0, Y11)
	DWACT(Y11)
	// mask for the R14 remaining lanes
	LEAQ masktab<>+32(SB), R12
	SHLQ $2, R14
	SUBQ R14, R12
	VMOVDQU (R12), Y15
	VMASKMOVPS Y11, Y15, (R11)
	ADDQ R14, R11

rowdone:
	DECQ 8(SP)
	JNE  row

done:
	VZEROUPPER
	RET

// func deintAVX2(src *float32, n int, ev, od *float32)
//
// ev[i] = src[2i], od[i] = src[2i+1] for i < n.
TEXT ·deintAVX2(SB), NOSPLIT, $0-32
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ ev+16(FP), DI
	MOVQ od+24(FP), DX

deint8:
	CMPQ CX, $8
	JLT  deint1
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xdd, Y1, Y0, Y3
	VPERMPD $0xd8, Y2, Y2
	VPERMPD $0xd8, Y3, Y3
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, (DX)
	ADDQ $64, SI
	ADDQ $32, DI
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  deint8

deint1:
	TESTQ CX, CX
	JEQ   deintdone
	MOVSS (SI), X0
	MOVSS 4(SI), X1
	MOVSS X0, (DI)
	MOVSS X1, (DX)
	ADDQ  $8, SI
	ADDQ  $4, DI
	ADDQ  $4, DX
	DECQ  CX
	JMP   deint1

deintdone:
	VZEROUPPER
	RET
