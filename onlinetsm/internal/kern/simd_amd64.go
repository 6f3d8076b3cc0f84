//go:build amd64 && !purego

package kern

import "golang.org/x/sys/cpu"

// hasAsm reports whether the AVX2/FMA assembly kernels can run here.
var hasAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// hasAVX512 reports whether the AVX-512 kernels can run here too.
var hasAVX512 = hasAsm && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

// sgemm6x16 computes np 6×16 tiles side by side: for tile t, c[r*ldc+16t+j]
// = act(Σ_kk a[kk*6+r]·B_t[kk][j] + bias[r] + res[r*ldr+16t+j]) for r < rows,
// j < 16 (j < cols in the last tile), 1 ≤ rows ≤ 6, 1 ≤ cols ≤ 16, with res
// optional (nil) and act ReLU6 when flags&1 != 0. Row kk of B_t is the 16
// floats at b + t·pstride + kk·ldb bytes for kk < k0, and at b1 + t·pstride
// + (kk−k0)·ldb after. Only the rows×cols part of bias, res and c is touched.
//
//go:noescape
func sgemm6x16(k int, a, b, c *float32, ldc int, bias, res *float32, ldr, rows, cols, np, flags, ldb, pstride, k0 int, b1 *float32)

// sgemm6x16Z is sgemm6x16 in AVX-512F: the same arguments and results,
// four tiles at a time on 512-bit registers.
//
//go:noescape
func sgemm6x16Z(k int, a, b, c *float32, ldc int, bias, res *float32, ldr, rows, cols, np, flags, ldb, pstride, k0 int, b1 *float32)

// dwS1Z computes rows y0 ≤ y < y1 of the stride-1 depthwise 3×3
// convolution (padding 1) of the h×w plane src into dst, without a padded
// copy: rows outside the plane are read from zero (w+32 zeros, followed by
// w floats of scratch that an odd y1−y0 writes to).
//
//go:noescape
func dwS1Z(dst, src, zero *float32, h, w, y0, y1 int, f, bias *float32, relu int)

// dwS2Z computes rows y0 ≤ y < y1 of the stride-2 depthwise 3×3
// convolution (padding 1) of the h×w plane src into the plane dst, ow wide,
// without a deinterleaved copy: rows outside the plane are read from zero
// (w+32 zeros).
//
//go:noescape
func dwS2Z(dst, src, zero *float32, h, w, ow, y0, y1 int, f, bias *float32, relu int)

// dwPlaneAVX2 is the AVX2 version of dwPlaneGo.
//
//go:noescape
func dwPlaneAVX2(dst, q *float32, offs *[9]int, ra, oh, ow int, f, bias *float32, relu int)

// dwPairS1AVX2 is dwPlaneAVX2 for stride 1 (offs[t] = (t/3)·ra + t%3) and
// an even oh, two output rows at a time.
//
//go:noescape
func dwPairS1AVX2(dst, q *float32, ra, oh, ow int, f, bias *float32, relu int)

// padS1AVX2 writes the zero-bordered rows of a stride-1 padded plane; see
// fillPlane.
//
//go:noescape
func padS1AVX2(dst, src *float32, h, w int)

// padS2AVX2 writes the even/odd rows of a stride-2 padded plane; see
// fillPlane.
//
//go:noescape
func padS2AVX2(pe, po, src *float32, h, w, ws int)

// gather16AVX2 copies n rows of 16 floats: dst[16k:16k+16] =
// src[offs[k]+base:][:16] for k < n.
//
//go:noescape
func gather16AVX2(dst, src *float32, offs *int, n, base int)

// copy16AVX2 copies n rows of 16 floats: dst[16k:16k+16] =
// src[k*stride:][:16] for k < n.
//
//go:noescape
func copy16AVX2(dst, src *float32, stride, n int)
