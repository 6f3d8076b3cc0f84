//go:build !amd64 || purego

package kern

// hasAsm is false: no assembly kernels on this platform or build.
const hasAsm = false

func sgemm6x16(k int, a, b, c *float32, ldc int, bias, res *float32, ldr int, flags int) {
	panic("kern: no assembly kernels")
}

func dwPlaneAVX2(dst, q *float32, offs *[9]int, ra, oh, ow int, f, bias *float32, relu int) {
	panic("kern: no assembly kernels")
}

func deintAVX2(src *float32, n int, ev, od *float32) {
	panic("kern: no assembly kernels")
}
