//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 kernels.

// Clamp bounds for each activation flag f, lower and upper at 8·f:
// f = 0 (none): -inf, +inf; 1 (ReLU6): 0, 6; 2 (ReLU): 0, +inf.
DATA clamp512<>+0(SB)/4, $0xff800000
DATA clamp512<>+4(SB)/4, $0x7f800000
DATA clamp512<>+8(SB)/4, $0
DATA clamp512<>+12(SB)/4, $0x40c00000
DATA clamp512<>+16(SB)/4, $0
DATA clamp512<>+20(SB)/4, $0x7f800000
GLOBL clamp512<>(SB), RODATA|NOPTR, $24

// 256 zero bytes (never written): the residual read when there is none,
// with a row stride of 0.

GLOBL zeros512<>(SB), NOPTR, $256
// One k step of one row r of the GEMM tiles: Z24.. hold row k of the tiles'
// B, bc gets A's element (k, r) from off bytes into SI, and each tile's
// accumulator a0.. its product.
#define FMA4(off, bc, a0, a1, a2, a3) \
	VBROADCASTSS off(SI), bc \
	VFMADD231PS Z24, bc, a0 \
	VFMADD231PS Z25, bc, a1 \
	VFMADD231PS Z26, bc, a2 \
	VFMADD231PS Z27, bc, a3

#define FMA2(off, bc, a0, a1) \
	VBROADCASTSS off(SI), bc \
	VFMADD231PS Z24, bc, a0 \
	VFMADD231PS Z25, bc, a1

#define FMA1(off, bc, a0) \
	VBROADCASTSS off(SI), bc \
	VFMADD231PS Z24, bc, a0

// The epilogue of one output row: + bias (off bytes into BX), + the residual
// row at R8 (zeros when there is none), clamped to [Z30, Z31], stored at DI;
// under K1, but the fourth tile of four under K4 and the second of two under
// K2 (the last tile's columns).
#define EPI4(off, a0, a1, a2, a3) \
	VBROADCASTSS off(BX), Z28 \
	VADDPS Z28, a0, a0 \
	VADDPS Z28, a1, a1 \
	VADDPS Z28, a2, a2 \
	VADDPS Z28, a3, a3 \
	VMOVUPS.Z 0(R8), K1, Z24 \
	VMOVUPS.Z 64(R8), K1, Z25 \
	VMOVUPS.Z 128(R8), K1, Z26 \
	VMOVUPS.Z 192(R8), K4, Z27 \
	VADDPS Z24, a0, a0 \
	VADDPS Z25, a1, a1 \
	VADDPS Z26, a2, a2 \
	VADDPS Z27, a3, a3 \
	VMAXPS a0, Z30, a0 \
	VMAXPS a1, Z30, a1 \
	VMAXPS a2, Z30, a2 \
	VMAXPS a3, Z30, a3 \
	VMINPS a0, Z31, a0 \
	VMINPS a1, Z31, a1 \
	VMINPS a2, Z31, a2 \
	VMINPS a3, Z31, a3 \
	VMOVUPS a0, K1, (DI) \
	VMOVUPS a1, K1, 64(DI) \
	VMOVUPS a2, K1, 128(DI) \
	VMOVUPS a3, K4, 192(DI)

#define EPI2(off, a0, a1) \
	VBROADCASTSS off(BX), Z28 \
	VADDPS Z28, a0, a0 \
	VADDPS Z28, a1, a1 \
	VMOVUPS.Z 0(R8), K1, Z24 \
	VMOVUPS.Z 64(R8), K2, Z25 \
	VADDPS Z24, a0, a0 \
	VADDPS Z25, a1, a1 \
	VMAXPS a0, Z30, a0 \
	VMAXPS a1, Z30, a1 \
	VMINPS a0, Z31, a0 \
	VMINPS a1, Z31, a1 \
	VMOVUPS a0, K1, (DI) \
	VMOVUPS a1, K2, 64(DI)

#define EPI1(off, a0) \
	VBROADCASTSS off(BX), Z28 \
	VADDPS Z28, a0, a0 \
	VMOVUPS.Z 0(R8), K1, Z24 \
	VADDPS Z24, a0, a0 \
	VMAXPS a0, Z30, a0 \
	VMINPS a0, Z31, a0 \
	VMOVUPS a0, K1, (DI)

// On to the next output row, or to done after the last.
#define NEXTROW(done) \
	DECQ R10 \
	JEQ  done \
	ADDQ DX, DI \
	ADDQ R9, R8


// func sgemm6x16Z(k int, a, b, c *float32, ldc int, bias, res *float32, ldr, rows, cols, np, flags, ldb, pstride, k0 int, b1 *float32)
//
// The AVX-512 version of sgemm6x16, with the same arguments and results. It
// computes four tiles at once (6 rows × 64 columns in 24 zmm accumulators)
// while at least four are left, then two (12 accumulators), then one.
//
// Registers kept across tiles: R12 pstride, R13 ldb,
// R14 3·pstride, Z30/Z31 the clamp bounds. Locals: 0(SP) B of the next
// tile, 8(SP) its C, 16(SP) its residual, 24(SP) tiles left, 32(SP) the
// residual's row stride in bytes (0 when there is none), 40(SP) b1 of the
// next tile.
TEXT ·sgemm6x16Z(SB), NOSPLIT, $48-128
	MOVQ np+80(FP), AX
	TESTQ AX, AX
	JEQ  ret
	MOVQ AX, 24(SP)
	MOVQ b+16(FP), AX
	MOVQ AX, 0(SP)
	MOVQ c+24(FP), AX
	MOVQ AX, 8(SP)
	MOVQ b1+120(FP), AX
	MOVQ AX, 40(SP)
	MOVQ res+48(FP), AX
	MOVQ ldr+56(FP), BX
	SHLQ $2, BX
	TESTQ AX, AX
	JNE  hasres
	LEAQ zeros512<>(SB), AX
	XORQ BX, BX
hasres:
	MOVQ AX, 16(SP)
	MOVQ BX, 32(SP)
	LEAQ clamp512<>(SB), R11
	MOVQ flags+88(FP), AX
	LEAQ (R11)(AX*8), R11
	VBROADCASTSS 0(R11), Z30
	VBROADCASTSS 4(R11), Z31
	MOVQ pstride+104(FP), R12
	MOVQ ldb+96(FP), R13
	LEAQ (R12)(R12*2), R14

group:
	MOVQ 24(SP), AX
	CMPQ AX, $4
	JLT  pair
	// K1: all 16 lanes; K4: the last tile's columns when it is the last.
	MOVL $0xffff, BX
	KMOVW BX, K1
	CMPQ AX, $4
	JNE  qmask
	MOVQ cols+72(FP), CX
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
qmask:
	KMOVW BX, K4
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	MOVQ a+8(FP), SI
	MOVQ 0(SP), DI
	MOVQ k0+112(FP), CX
	MOVQ k+0(FP), DX
	SUBQ CX, DX
qseg:
	TESTQ CX, CX
	JEQ  qnext
qloop:
	VMOVUPS (DI), Z24
	VMOVUPS (DI)(R12*1), Z25
	VMOVUPS (DI)(R12*2), Z26
	VMOVUPS (DI)(R14*1), Z27
	FMA4(0, Z28, Z0, Z1, Z2, Z3)
	FMA4(4, Z29, Z4, Z5, Z6, Z7)
	FMA4(8, Z28, Z8, Z9, Z10, Z11)
	FMA4(12, Z29, Z12, Z13, Z14, Z15)
	FMA4(16, Z28, Z16, Z17, Z18, Z19)
	FMA4(20, Z29, Z20, Z21, Z22, Z23)
	ADDQ $24, SI
	ADDQ R13, DI
	DECQ CX
	JNE  qloop
qnext:
	TESTQ DX, DX
	JEQ  qepi
	MOVQ DX, CX
	XORQ DX, DX
	MOVQ 40(SP), DI
	JMP  qseg
qepi:
	MOVQ 8(SP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ bias+40(FP), BX
	MOVQ 16(SP), R8
	MOVQ 32(SP), R9
	MOVQ rows+64(FP), R10
	EPI4(0, Z0, Z1, Z2, Z3)
	NEXTROW(qdone)
	EPI4(4, Z4, Z5, Z6, Z7)
	NEXTROW(qdone)
	EPI4(8, Z8, Z9, Z10, Z11)
	NEXTROW(qdone)
	EPI4(12, Z12, Z13, Z14, Z15)
	NEXTROW(qdone)
	EPI4(16, Z16, Z17, Z18, Z19)
	NEXTROW(qdone)
	EPI4(20, Z20, Z21, Z22, Z23)
qdone:
	// Next group: four tiles on.
	ADDQ $256, 8(SP)
	MOVQ 32(SP), AX
	TESTQ AX, AX
	JEQ  qres
	ADDQ $256, 16(SP)
qres:
	LEAQ (R12)(R12*1), AX
	SHLQ $1, AX
	ADDQ AX, 0(SP)
	ADDQ AX, 40(SP)
	SUBQ $4, 24(SP)
	JMP  group

pair:
	CMPQ AX, $2
	JLT  single
	// K1: all 16 lanes; K2: the second tile's columns when it is the last.
	MOVL $0xffff, BX
	KMOVW BX, K1
	CMPQ AX, $2
	JNE  pmask
	MOVQ cols+72(FP), CX
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
pmask:
	KMOVW BX, K2
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	MOVQ a+8(FP), SI
	MOVQ 0(SP), DI
	MOVQ k0+112(FP), CX
	MOVQ k+0(FP), DX
	SUBQ CX, DX
pseg:
	TESTQ CX, CX
	JEQ  pnext
ploop:
	VMOVUPS (DI), Z24
	VMOVUPS (DI)(R12*1), Z25
	FMA2(0, Z28, Z0, Z1)
	FMA2(4, Z29, Z2, Z3)
	FMA2(8, Z28, Z4, Z5)
	FMA2(12, Z29, Z6, Z7)
	FMA2(16, Z28, Z8, Z9)
	FMA2(20, Z29, Z10, Z11)
	ADDQ $24, SI
	ADDQ R13, DI
	DECQ CX
	JNE  ploop
pnext:
	TESTQ DX, DX
	JEQ  pepi
	MOVQ DX, CX
	XORQ DX, DX
	MOVQ 40(SP), DI
	JMP  pseg
pepi:
	MOVQ 8(SP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ bias+40(FP), BX
	MOVQ 16(SP), R8
	MOVQ 32(SP), R9
	MOVQ rows+64(FP), R10
	EPI2(0, Z0, Z1)
	NEXTROW(pdone)
	EPI2(4, Z2, Z3)
	NEXTROW(pdone)
	EPI2(8, Z4, Z5)
	NEXTROW(pdone)
	EPI2(12, Z6, Z7)
	NEXTROW(pdone)
	EPI2(16, Z8, Z9)
	NEXTROW(pdone)
	EPI2(20, Z10, Z11)
pdone:
	ADDQ $128, 8(SP)
	MOVQ 32(SP), AX
	TESTQ AX, AX
	JEQ  pres
	ADDQ $128, 16(SP)
pres:
	LEAQ (R12)(R12*1), AX
	ADDQ AX, 0(SP)
	ADDQ AX, 40(SP)
	SUBQ $2, 24(SP)
	JMP  group

single:
	TESTQ AX, AX
	JEQ  ret
	MOVL $0xffff, BX
	CMPQ AX, $1
	JNE  smask
	MOVQ cols+72(FP), CX
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
smask:
	KMOVW BX, K1
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	MOVQ a+8(FP), SI
	MOVQ 0(SP), DI
	MOVQ k0+112(FP), CX
	MOVQ k+0(FP), DX
	SUBQ CX, DX
sseg:
	// One k at a time, as in the groups of four, so that a tile's sums are
	// the same whichever way it is computed.
	TESTQ CX, CX
	JEQ  snext
sloop:
	VMOVUPS (DI), Z24
	FMA1(0, Z28, Z0)
	FMA1(4, Z29, Z1)
	FMA1(8, Z28, Z2)
	FMA1(12, Z29, Z3)
	FMA1(16, Z28, Z4)
	FMA1(20, Z29, Z5)
	ADDQ $24, SI
	ADDQ R13, DI
	DECQ CX
	JNE  sloop
snext:
	TESTQ DX, DX
	JEQ  sepi
	MOVQ DX, CX
	XORQ DX, DX
	MOVQ 40(SP), DI
	JMP  sseg
sepi:
	MOVQ 8(SP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ bias+40(FP), BX
	MOVQ 16(SP), R8
	MOVQ 32(SP), R9
	MOVQ rows+64(FP), R10
	EPI1(0, Z0)
	NEXTROW(sdone)
	EPI1(4, Z1)
	NEXTROW(sdone)
	EPI1(8, Z2)
	NEXTROW(sdone)
	EPI1(12, Z3)
	NEXTROW(sdone)
	EPI1(16, Z4)
	NEXTROW(sdone)
	EPI1(20, Z5)
sdone:
	ADDQ $64, 8(SP)
	MOVQ 32(SP), AX
	TESTQ AX, AX
	JEQ  sres
	ADDQ $64, 16(SP)
sres:
	ADDQ R12, 0(SP)
	ADDQ R12, 40(SP)
	DECQ 24(SP)
	JMP  group

ret:
	VZEROUPPER
	RET

// DWSETUP loads the nine weights at f into Z0..Z8 and the clamp bounds for
// the activation flag relu (0: none, 1: ReLU6) into Z9 and Z10, clobbering
// R11 and R12.
#define DWSETUP(f, relu) \
	MOVQ f, R11 \
	VBROADCASTSS 0(R11), Z0 \
	VBROADCASTSS 4(R11), Z1 \
	VBROADCASTSS 8(R11), Z2 \
	VBROADCASTSS 12(R11), Z3 \
	VBROADCASTSS 16(R11), Z4 \
	VBROADCASTSS 20(R11), Z5 \
	VBROADCASTSS 24(R11), Z6 \
	VBROADCASTSS 28(R11), Z7 \
	VBROADCASTSS 32(R11), Z8 \
	MOVQ relu, R12 \
	LEAQ clamp512<>(SB), R11 \
	LEAQ (R11)(R12*8), R11 \
	VBROADCASTSS 0(R11), Z9 \
	VBROADCASTSS 4(R11), Z10


// One column kx of dwS1Z's taps for output rows y and y+1, under mask m, the
// input rows y−1..y+2 read at off bytes from the column: fa, fb, fc are the
// weights of kx in kernel rows 0, 1, 2. Rows y−1 and y+1 go straight into
// the sums Z11 (output row y) and Z12 (y+1); rows y and y+1's middle-row
// products into Z13 and Z14, added at the end. Masked loads feed registers:
// arithmetic with a masked memory operand is far slower on Zen 5. S1TAP0 is
// the first column, which starts Z13 and Z14.
#define S1TAP0(off, m) \
	VMOVUPS.Z off(BX)(R12*4), m, Z15 \
	VMULPS Z15, Z3, Z13 \
	VFMADD231PS Z15, Z0, Z12 \
	VMOVUPS.Z off(CX)(R12*4), m, Z15 \
	VFMADD231PS Z15, Z6, Z11 \
	VMULPS Z15, Z3, Z14 \
	VMOVUPS.Z off(AX)(R12*4), m, Z16 \
	VFMADD231PS Z16, Z0, Z11 \
	VMOVUPS.Z off(DX)(R12*4), m, Z17 \
	VFMADD231PS Z17, Z6, Z12

#define S1TAP(off, m, fa, fb, fc) \
	VMOVUPS.Z off(BX)(R12*4), m, Z15 \
	VFMADD231PS Z15, fb, Z13 \
	VFMADD231PS Z15, fa, Z12 \
	VMOVUPS.Z off(CX)(R12*4), m, Z15 \
	VFMADD231PS Z15, fc, Z11 \
	VFMADD231PS Z15, fb, Z14 \
	VMOVUPS.Z off(AX)(R12*4), m, Z16 \
	VFMADD231PS Z16, fa, Z11 \
	VMOVUPS.Z off(DX)(R12*4), m, Z17 \
	VFMADD231PS Z17, fc, Z12

// The end of dwS1Z's vector: sums, clamp, and the two rows stored under m.
#define S1END(m) \
	VADDPS Z13, Z11, Z11 \
	VADDPS Z14, Z12, Z12 \
	VMAXPS Z11, Z9, Z11 \
	VMINPS Z11, Z10, Z11 \
	VMAXPS Z12, Z9, Z12 \
	VMINPS Z12, Z10, Z12 \
	VMOVUPS Z11, m, (R11)(R12*4) \
	VMOVUPS Z12, m, (SI)(R12*4)

// S1TAP0W, S1TAPW and S1ENDW are S1TAP0, S1TAP and S1END for whole vectors
// inside the plane: plain loads (masked ones cost more) and stores.
#define S1TAP0W(off) \
	VMOVUPS off(BX)(R12*4), Z15 \
	VMULPS Z15, Z3, Z13 \
	VFMADD231PS Z15, Z0, Z12 \
	VMOVUPS off(CX)(R12*4), Z15 \
	VFMADD231PS Z15, Z6, Z11 \
	VMULPS Z15, Z3, Z14 \
	VFMADD231PS off(AX)(R12*4), Z0, Z11 \
	VFMADD231PS off(DX)(R12*4), Z6, Z12

#define S1TAPW(off, fa, fb, fc) \
	VMOVUPS off(BX)(R12*4), Z15 \
	VFMADD231PS Z15, fb, Z13 \
	VFMADD231PS Z15, fa, Z12 \
	VMOVUPS off(CX)(R12*4), Z15 \
	VFMADD231PS Z15, fc, Z11 \
	VFMADD231PS Z15, fb, Z14 \
	VFMADD231PS off(AX)(R12*4), fa, Z11 \
	VFMADD231PS off(DX)(R12*4), fc, Z12

#define S1ENDW \
	VADDPS Z13, Z11, Z11 \
	VADDPS Z14, Z12, Z12 \
	VMAXPS Z11, Z9, Z11 \
	VMINPS Z11, Z10, Z11 \
	VMAXPS Z12, Z9, Z12 \
	VMINPS Z12, Z10, Z12 \
	VMOVUPS Z11, (R11)(R12*4) \
	VMOVUPS Z12, (SI)(R12*4)


// func dwS1Z(dst, src, zero *float32, h, w, y0, y1 int, f, bias *float32, relu int)
//
// Rows y0 ≤ y < y1 of the stride-1 depthwise 3×3 convolution (padding 1)
// of one h×w plane, read as it is, without a padded copy:
// dst[y*w+x] = act(*bias + Σ_{ky,kx} f[3ky+kx]·src[(y+ky−1)*w + x+kx−1]),
// the terms outside the plane zero, summed in dwPairS1AVX2's order, two
// output rows at a time. Rows above and below the plane are read from zero
// (w+32 floats of zeros); the columns left and right of it are masked off.
// When y1−y0 is odd, the last row's partner is written to the w floats
// after those (scratch, never read).
//
// Registers: Z0..Z8 weights, Z9/Z10 clamp bounds, K1/K2/K3 the masks of the
// first vector of a row's taps kx = 0, 1, 2, K4/K5/K6 those of the last
// vector (when a row has two or more), AX/BX/CX/DX input rows y−1..y+2,
// R11/SI output rows y and y+1, R12 column, R13 bias, R8 y, DI zero.
// Locals: 0(SP) columns before the last vector, 8(SP) whether a row has
// more than one vector.
TEXT ·dwS1Z(SB), NOSPLIT, $16-80
	DWSETUP(f+56(FP), relu+72(FP))
	MOVQ w+32(FP), R9
	TESTQ R9, R9
	JEQ  s1done
	// Vectors per row: nv = ceil(w/16); the last starts at 16(nv−1).
	LEAQ 15(R9), R10
	SHRQ $4, R10
	DECQ R10
	SHLQ $4, R10
	MOVQ R10, 0(SP)
	MOVQ R10, 8(SP)
	MOVQ R9, R14
	SUBQ R10, R14 // rem: columns in the last vector, 1..16
	TESTQ R10, R10
	JNE  s1two
	// One vector: kx=1 lanes < w, kx=0 those but lane 0, kx=2 lanes < w−1.
	MOVQ R14, CX
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	KMOVW BX, K2
	MOVL $0xfffe, BX
	KMOVW BX, K1
	KANDW K1, K2, K1
	MOVQ R14, CX
	DECQ CX
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	KMOVW BX, K3
	JMP  s1masks
s1two:
	// First vector: lane 0 of kx=0 off. Last: lanes < rem, kx=2 < rem−1.
	MOVL $0xfffe, BX
	KMOVW BX, K1
	MOVL $0xffff, BX
	KMOVW BX, K2
	KMOVW BX, K3
	MOVQ R14, CX
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	KMOVW BX, K5
	KMOVW K5, K4
	MOVQ R14, CX
	DECQ CX
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	KMOVW BX, K6
s1masks:
	MOVQ bias+64(FP), R13
	MOVQ zero+16(FP), DI
	MOVQ y0+40(FP), R8
	MOVQ R8, R14
	IMULQ w+32(FP), R14
	MOVQ dst+0(FP), R11
	LEAQ (R11)(R14*4), R11
s1pair:
	MOVQ h+24(FP), R9
	CMPQ R8, y1+48(FP)
	JGE  s1done
	// Input rows y−1 .. y+2 (zero outside the plane), output rows y, y+1.
	MOVQ w+32(FP), R10
	MOVQ R8, R14
	IMULQ R10, R14
	MOVQ src+8(FP), BX
	LEAQ (BX)(R14*4), BX
	MOVQ DI, AX
	TESTQ R8, R8
	JEQ  s1a
	MOVQ R10, AX
	SHLQ $2, AX
	NEGQ AX
	ADDQ BX, AX
s1a:
	LEAQ (BX)(R10*4), CX
	LEAQ (CX)(R10*4), DX
	LEAQ (R11)(R10*4), SI
	LEAQ 1(R8), R14
	CMPQ R14, R9
	JLT  s1b
	MOVQ DI, CX
s1b:
	CMPQ R14, y1+48(FP)
	JLT  s1c
	LEAQ (DI)(R10*4), SI // an odd count: the second row goes to scratch
	ADDQ $128, SI
s1c:
	LEAQ 2(R8), R14
	CMPQ R14, R9
	JLT  s1d
	MOVQ DI, DX
s1d:
	XORQ R12, R12
	VBROADCASTSS (R13), Z11
	VBROADCASTSS (R13), Z12
	S1TAP0(-4, K1)
	S1TAP(0, K2, Z1, Z4, Z7)
	S1TAP(4, K3, Z2, Z5, Z8)
	S1END(K2)
	MOVQ 8(SP), R14
	TESTQ R14, R14
	JEQ  s1rowdone
	MOVQ $16, R12
s1vec:
	CMPQ R12, 0(SP)
	JGE  s1last
	VBROADCASTSS (R13), Z11
	VBROADCASTSS (R13), Z12
	S1TAP0W(-4)
	S1TAPW(0, Z1, Z4, Z7)
	S1TAPW(4, Z2, Z5, Z8)
	S1ENDW
	ADDQ $16, R12
	JMP  s1vec
s1last:
	VBROADCASTSS (R13), Z11
	VBROADCASTSS (R13), Z12
	S1TAP0(-4, K4)
	S1TAP(0, K5, Z1, Z4, Z7)
	S1TAP(4, K6, Z2, Z5, Z8)
	S1END(K5)
s1rowdone:
	MOVQ w+32(FP), R10
	LEAQ (R11)(R10*8), R11
	ADDQ $2, R8
	JMP  s1pair
s1done:
	VZEROUPPER
	RET
DATA permidx512<>+0(SB)/4, $0
DATA permidx512<>+4(SB)/4, $2
DATA permidx512<>+8(SB)/4, $4
DATA permidx512<>+12(SB)/4, $6
DATA permidx512<>+16(SB)/4, $8
DATA permidx512<>+20(SB)/4, $10
DATA permidx512<>+24(SB)/4, $12
DATA permidx512<>+28(SB)/4, $14
DATA permidx512<>+32(SB)/4, $16
DATA permidx512<>+36(SB)/4, $18
DATA permidx512<>+40(SB)/4, $20
DATA permidx512<>+44(SB)/4, $22
DATA permidx512<>+48(SB)/4, $24
DATA permidx512<>+52(SB)/4, $26
DATA permidx512<>+56(SB)/4, $28
DATA permidx512<>+60(SB)/4, $30
DATA permidx512<>+64(SB)/4, $1
DATA permidx512<>+68(SB)/4, $3
DATA permidx512<>+72(SB)/4, $5
DATA permidx512<>+76(SB)/4, $7
DATA permidx512<>+80(SB)/4, $9
DATA permidx512<>+84(SB)/4, $11
DATA permidx512<>+88(SB)/4, $13
DATA permidx512<>+92(SB)/4, $15
DATA permidx512<>+96(SB)/4, $17
DATA permidx512<>+100(SB)/4, $19
DATA permidx512<>+104(SB)/4, $21
DATA permidx512<>+108(SB)/4, $23
DATA permidx512<>+112(SB)/4, $25
DATA permidx512<>+116(SB)/4, $27
DATA permidx512<>+120(SB)/4, $29
DATA permidx512<>+124(SB)/4, $31
GLOBL permidx512<>(SB), RODATA|NOPTR, $128

// (1<<i)-1 for i = 0..16: the masks of the first i lanes.
DATA lanemask<>+0(SB)/2, $0
DATA lanemask<>+2(SB)/2, $1
DATA lanemask<>+4(SB)/2, $3
DATA lanemask<>+6(SB)/2, $7
DATA lanemask<>+8(SB)/2, $15
DATA lanemask<>+10(SB)/2, $31
DATA lanemask<>+12(SB)/2, $63
DATA lanemask<>+14(SB)/2, $127
DATA lanemask<>+16(SB)/2, $255
DATA lanemask<>+18(SB)/2, $511
DATA lanemask<>+20(SB)/2, $1023
DATA lanemask<>+22(SB)/2, $2047
DATA lanemask<>+24(SB)/2, $4095
DATA lanemask<>+26(SB)/2, $8191
DATA lanemask<>+28(SB)/2, $16383
DATA lanemask<>+30(SB)/2, $32767
DATA lanemask<>+32(SB)/2, $65535
GLOBL lanemask<>(SB), RODATA|NOPTR, $34

// One input row of dwS2Z's 16 outputs, under masks m0 and m1 for its two
// 16-column halves: even columns (kx=1, weight fb), odd (kx=2, fc), and the
// odd ones shifted one lane up with the previous vector's last odd column
// from carry (kx=0, fa), summed into acc.
#define S2ROW(ptr, m0, m1, carry, fa, fb, fc, acc) \
	VMOVUPS.Z (ptr)(R12*8), m0, Z13 \
	VMOVUPS.Z 64(ptr)(R12*8), m1, Z14 \
	VMOVAPS Z13, Z15 \
	VPERMT2PS Z14, Z30, Z15 \
	VPERMT2PS Z14, Z31, Z13 \
	VALIGND $15, carry, Z13, Z17 \
	VMOVAPS Z13, carry \
	VFMADD231PS Z17, fa, acc \
	VFMADD231PS Z15, fb, acc \
	VFMADD231PS Z13, fc, acc

// S2ROWW is S2ROW for whole vectors inside the plane: plain loads (masked
// ones cost more).
#define S2ROWW(ptr, carry, fa, fb, fc, acc) \
	VMOVUPS (ptr)(R12*8), Z13 \
	VMOVUPS 64(ptr)(R12*8), Z14 \
	VMOVAPS Z13, Z15 \
	VPERMT2PS Z14, Z30, Z15 \
	VPERMT2PS Z14, Z31, Z13 \
	VALIGND $15, carry, Z13, Z17 \
	VMOVAPS Z13, carry \
	VFMADD231PS Z17, fa, acc \
	VFMADD231PS Z15, fb, acc \
	VFMADD231PS Z13, fc, acc

// func dwS2Z(dst, src, zero *float32, h, w, ow, y0, y1 int, f, bias *float32, relu int)
//
// Rows y0 ≤ y < y1 of the stride-2 depthwise 3×3 convolution (padding 1)
// of one h×w plane into the plane dst, ow wide, read as it is, without a
// deinterleaved copy:
// dst[y*ow+x] = act(*bias + Σ_{ky,kx} f[3ky+kx]·src[(2y+ky−1)*w + 2x+kx−1]),
// the terms outside the plane zero. For 16 outputs it loads the 32 input
// columns from 2x, splits them into even (kx=1) and odd (kx=2) lanes, and
// takes the kx=0 lanes from the odd ones shifted by one lane, the first
// coming from the previous 16 (zero at the left edge). Rows above and below
// the plane are read from zero (w+32 floats of zeros); columns right of it
// are masked off.
//
// Registers: Z0..Z8 weights, Z9/Z10 clamp bounds, Z30/Z31 the even and odd
// lane indices, Z18..Z20 each input row's previous odd lanes, K1 the output
// lanes of the last vector, K2/K3 its input lanes, AX/BX/CX input rows
// 2y−1..2y+1, R11 the output row, R12 the output column, R13
// bias, R8 y, DI zero.
TEXT ·dwS2Z(SB), NOSPLIT, $0-88
	DWSETUP(f+64(FP), relu+80(FP))
	VMOVDQU32 permidx512<>+0(SB), Z30
	VMOVDQU32 permidx512<>+64(SB), Z31
	MOVQ bias+72(FP), R13
	MOVQ zero+16(FP), DI
	MOVQ y0+48(FP), R8
	MOVQ R8, R14
	IMULQ ow+40(FP), R14
	MOVQ dst+0(FP), R11
	LEAQ (R11)(R14*4), R11
s2row:
	CMPQ R8, y1+56(FP)
	JGE  s2done
	MOVQ w+32(FP), R10
	SHLQ $2, R10 // input row in bytes
	MOVQ R8, R14
	SHLQ $1, R14
	IMULQ R10, R14
	MOVQ src+8(FP), BX
	ADDQ R14, BX // row 2y
	MOVQ DI, AX
	TESTQ R8, R8
	JEQ  s2a
	MOVQ BX, AX
	SUBQ R10, AX
s2a:
	LEAQ (BX)(R10*1), CX
	LEAQ 1(R8)(R8*1), R14
	CMPQ R14, h+24(FP)
	JLT  s2c
	MOVQ DI, CX
s2c:
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	XORQ R12, R12
s2vec:
	MOVQ ow+40(FP), R9
	SUBQ R12, R9 // outputs left
	JLE  s2rowdone
	CMPQ R9, $16
	JLT  s2tail
	LEAQ 16(R12)(R12*1), R10 // 2x + 32 (in floats) must stay within w
	ADDQ $16, R10
	CMPQ R10, w+32(FP)
	JGT  s2tail
	VBROADCASTSS (R13), Z11
	VPXORD Z12, Z12, Z12
	S2ROWW(AX, Z18, Z0, Z1, Z2, Z11)
	S2ROWW(BX, Z19, Z3, Z4, Z5, Z12)
	S2ROWW(CX, Z20, Z6, Z7, Z8, Z11)

	VADDPS Z12, Z11, Z11
	VMAXPS Z11, Z9, Z11
	VMINPS Z11, Z10, Z11
	VMOVUPS Z11, (R11)(R12*4)
	ADDQ $16, R12
	JMP  s2vec
s2tail:
	// The last vector: K1 = min(outputs left, 16) lanes, K2/K3 the input
	// columns left (w − 2x) in its two halves.
	LEAQ lanemask<>(SB), R14
	CMPQ R9, $16
	JLE  s2k1
	MOVQ $16, R9
s2k1:
	KMOVW (R14)(R9*2), K1
	MOVQ w+32(FP), R9
	SUBQ R12, R9
	SUBQ R12, R9 // input columns left
	MOVQ R9, R10
	CMPQ R10, $16
	JLE  s2k2
	MOVQ $16, R10
s2k2:
	KMOVW (R14)(R10*2), K2
	SUBQ $16, R9
	JGE  s2k3
	XORQ R9, R9
s2k3:
	CMPQ R9, $16
	JLE  s2k4
	MOVQ $16, R9
s2k4:
	KMOVW (R14)(R9*2), K3
	VBROADCASTSS (R13), Z11
	VPXORD Z12, Z12, Z12
	S2ROW(AX, K2, K3, Z18, Z0, Z1, Z2, Z11)
	S2ROW(BX, K2, K3, Z19, Z3, Z4, Z5, Z12)
	S2ROW(CX, K2, K3, Z20, Z6, Z7, Z8, Z11)

	VADDPS Z12, Z11, Z11
	VMAXPS Z11, Z9, Z11
	VMINPS Z11, Z10, Z11
	VMOVUPS Z11, K1, (R11)(R12*4)
s2rowdone:
	MOVQ ow+40(FP), R9
	LEAQ (R11)(R9*4), R11
	INCQ R8
	JMP  s2row
s2done:
	VZEROUPPER
	RET
