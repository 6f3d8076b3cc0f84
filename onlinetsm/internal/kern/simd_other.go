//go:build !amd64 || purego

package kern

// hasAsm is false: no assembly kernels on this platform or build.
const hasAsm = false

// hasAVX512 is false: no assembly kernels on this platform or build.
const hasAVX512 = false

func sgemm6x16(k int, a, b, c *float32, ldc int, bias, res *float32, ldr, rows, cols, np, flags, ldb, pstride, k0 int, b1 *float32) {
	panic("kern: no assembly kernels")
}

func sgemm6x16Z(k int, a, b, c *float32, ldc int, bias, res *float32, ldr, rows, cols, np, flags, ldb, pstride, k0 int, b1 *float32) {
	panic("kern: no assembly kernels")
}

func dwS1Z(dst, src, zero *float32, h, w, y0, y1 int, f, bias *float32, relu int) {
	panic("kern: no assembly kernels")
}

func dwS2Z(dst, src, zero *float32, h, w, ow, y0, y1 int, f, bias *float32, relu int) {
	panic("kern: no assembly kernels")
}

func dwPlaneAVX2(dst, q *float32, offs *[9]int, ra, oh, ow int, f, bias *float32, relu int) {
	panic("kern: no assembly kernels")
}

func padS1AVX2(dst, src *float32, h, w int) {
	panic("kern: no assembly kernels")
}

func padS2AVX2(pe, po, src *float32, h, w, ws int) {
	panic("kern: no assembly kernels")
}

func dwPairS1AVX2(dst, q *float32, ra, oh, ow int, f, bias *float32, relu int) {
	panic("kern: no assembly kernels")
}

func gather16AVX2(dst, src *float32, offs *int, n, base int) {
	panic("kern: no assembly kernels")
}

func copy16AVX2(dst, src *float32, stride, n int) {
	panic("kern: no assembly kernels")
}
