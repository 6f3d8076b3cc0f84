//go:build amd64 && !purego

package kern

import "golang.org/x/sys/cpu"

// hasAsm reports whether the AVX2/FMA assembly kernels can run here.
var hasAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// sgemm6x16 computes the 6×16 tile c[r*ldc+j] = act(Σ_k a[k*6+r]·b[k*16+j] +
// bias[r] + res[r*ldr+j]) for r < 6, j < 16, with res optional (nil) and act
// ReLU6 when flags&1 != 0.
//
//go:noescape
func sgemm6x16(k int, a, b, c *float32, ldc int, bias, res *float32, ldr int, flags int)

// dwPlaneAVX2 is the AVX2 version of dwPlaneGo.
//
//go:noescape
func dwPlaneAVX2(dst, q *float32, offs *[9]int, ra, oh, ow int, f, bias *float32, relu int)

// deintAVX2 splits n pairs of src into ev (even elements) and od (odd).
//
//go:noescape
func deintAVX2(src *float32, n int, ev, od *float32)
