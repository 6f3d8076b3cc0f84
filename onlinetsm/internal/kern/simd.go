package kern

import "unsafe"

// Tile geometry of the GEMM micro-kernel.
const (
	mr = 6  // rows of A (output channels) per packed panel
	nr = 16 // columns of B (pixels) per packed panel
)

// bsrc locates the B operand of a run of GEMM tiles: row kk of tile t is
// b[t*pstride+kk*ldb:][:nr] for kk < k0 and b1[t*pstride+(kk-k0)*ldb:][:nr]
// after. Packed panels have ldb = nr, pstride = k·nr, k0 = k.
type bsrc struct {
	b, b1        []float32
	ldb, pstride int
	k0           int
}

// packed returns the bsrc of k×nr panels stored one after another in b.
func packed(b []float32, k int) bsrc {
	return bsrc{b: b, ldb: nr, pstride: k * nr, k0: k}
}

// gemmTiles computes rows (≤ mr) rows of np tiles side by side, the last one
// cols (≤ nr) wide: c[r*ldc+t*nr+j] = act(Σ_kk a[kk*mr+r]·B_t[kk][j] + bias[r]
// + res[r*ldr+t*nr+j]); res may be nil.
func gemmTiles(k int, a []float32, bs bsrc, c []float32, ldc int, bias, res []float32, ldr, rows, cols, np int, act Act) {
	if rows < 1 || rows > mr || cols < 1 || cols > nr || np < 1 || bs.k0 < 0 || bs.k0 > k {
		panic("kern: gemmTiles: bad size")
	}
	width := (np-1)*nr + cols
	_ = a[:k*mr]
	if bs.k0 > 0 {
		_ = bs.b[:(np-1)*bs.pstride+(bs.k0-1)*bs.ldb+nr]
	}
	if k > bs.k0 {
		_ = bs.b1[:(np-1)*bs.pstride+(k-bs.k0-1)*bs.ldb+nr]
	}
	_ = c[:(rows-1)*ldc+width]
	_ = bias[:rows]
	if res != nil {
		_ = res[:(rows-1)*ldr+width]
	}
	if useAsm() {
		flags := int(act)
		ap, bp, cp, biasp, resp, b1p := unsafe.SliceData(a), unsafe.SliceData(bs.b), unsafe.SliceData(c), unsafe.SliceData(bias), unsafe.SliceData(res), unsafe.SliceData(bs.b1)
		if useAVX512() {
			sgemm6x16Z(k, ap, bp, cp, ldc, biasp, resp, ldr, rows, cols, np, flags, 4*bs.ldb, 4*bs.pstride, bs.k0, b1p)
		} else {
			sgemm6x16(k, ap, bp, cp, ldc, biasp, resp, ldr, rows, cols, np, flags, 4*bs.ldb, 4*bs.pstride, bs.k0, b1p)
		}
		return
	}
	for t := 0; t < np; t++ {
		var rs []float32
		if res != nil {
			rs = res[t*nr:]
		}
		w := nr
		if t == np-1 {
			w = cols
		}
		tileGo(k, a, bs, t*bs.pstride, c[t*nr:], ldc, bias, rs, ldr, rows, w, act)
	}
}

func tileGo(k int, a []float32, bs bsrc, off int, c []float32, ldc int, bias, res []float32, ldr, rows, cols int, act Act) {
	var acc [mr][nr]float32
	for kk := 0; kk < k; kk++ {
		av := (*[mr]float32)(a[kk*mr:])
		var bv *[nr]float32
		if kk < bs.k0 {
			bv = (*[nr]float32)(bs.b[off+kk*bs.ldb:])
		} else {
			bv = (*[nr]float32)(bs.b1[off+(kk-bs.k0)*bs.ldb:])
		}
		for r := 0; r < mr; r++ {
			x := av[r]
			row := &acc[r]
			for j := 0; j < nr; j += 4 {
				row[j] += x * bv[j]
				row[j+1] += x * bv[j+1]
				row[j+2] += x * bv[j+2]
				row[j+3] += x * bv[j+3]
			}
		}
	}
	for r := 0; r < rows; r++ {
		dst := c[r*ldc : r*ldc+cols]
		bi := bias[r]
		var rr []float32
		if res != nil {
			rr = res[r*ldr : r*ldr+cols]
		}
		for j := range dst {
			v := acc[r][j] + bi
			if rr != nil {
				v += rr[j]
			}
			dst[j] = act.apply(v)
		}
	}
}

func relu6(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 6 {
		return 6
	}
	return v
}

// dwPlane computes dst[oy*ow+ox] = act(bias + Σ_t f[t]·q[oy*ra+offs[t]+ox])
// for oy < oh, ox < ow. q must extend 8 floats past the last tap read. s1
// says that offs is the stride-1 pattern offs[t] = (t/3)·ra + t%3.
func dwPlane(dst, q []float32, offs *[9]int, ra, oh, ow int, f []float32, bias float32, act Act, s1 bool) {
	if oh <= 0 || ow <= 0 {
		return
	}
	_ = dst[:oh*ow]
	_ = f[:9]
	maxOff := 0
	for _, o := range offs {
		if o < 0 {
			panic("kern: dwPlane: negative offset")
		}
		maxOff = max(maxOff, o)
	}
	_ = q[:(oh-1)*ra+maxOff+(ow+7)&^7]
	if useAsm() {
		r := int(act)
		if s1 && oh >= 2 && ow >= 8 {
			pairs := oh &^ 1
			dwPairS1AVX2(unsafe.SliceData(dst), unsafe.SliceData(q), ra, pairs, ow, unsafe.SliceData(f), &bias, r)
			if pairs == oh {
				return
			}
			dst, q, oh = dst[pairs*ow:], q[pairs*ra:], 1
		}
		dwPlaneAVX2(unsafe.SliceData(dst), unsafe.SliceData(q), offs, ra, oh, ow, unsafe.SliceData(f), &bias, r)
		return
	}
	dwPlaneGo(dst, q, offs, ra, oh, ow, f, bias, act)
}

func dwPlaneGo(dst, q []float32, offs *[9]int, ra, oh, ow int, f []float32, bias float32, act Act) {
	f0, f1, f2, f3, f4, f5, f6, f7, f8 := f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]
	for oy := 0; oy < oh; oy++ {
		base := oy * ra
		t0 := q[base+offs[0]:][:ow]
		t1 := q[base+offs[1]:][:ow]
		t2 := q[base+offs[2]:][:ow]
		t3 := q[base+offs[3]:][:ow]
		t4 := q[base+offs[4]:][:ow]
		t5 := q[base+offs[5]:][:ow]
		t6 := q[base+offs[6]:][:ow]
		t7 := q[base+offs[7]:][:ow]
		t8 := q[base+offs[8]:][:ow]
		d := dst[oy*ow:][:ow]
		for x := range d {
			v := bias + f0*t0[x] + f1*t1[x] + f2*t2[x] + f3*t3[x] + f4*t4[x] +
				f5*t5[x] + f6*t6[x] + f7*t7[x] + f8*t8[x]
			d[x] = act.apply(v)
		}
	}
}

// gather16 copies len(offs) rows of nr floats: dst[k*nr:][:nr] =
// src[offs[k]+base:][:nr]. Offsets must be non-negative.
func gather16(dst, src []float32, offs []int, base int) {
	n := len(offs)
	if n == 0 {
		return
	}
	_ = dst[:n*nr]
	if useAsm() {
		for _, o := range offs {
			_ = src[o+base : o+base+nr]
		}
		gather16AVX2(unsafe.SliceData(dst), unsafe.SliceData(src), unsafe.SliceData(offs), n, base)
		return
	}
	for k, o := range offs {
		copy(dst[k*nr:k*nr+nr], src[o+base:o+base+nr])
	}
}

// copy16 copies n rows of nr floats: dst[k*nr:][:nr] = src[k*stride:][:nr].
func copy16(dst, src []float32, stride, n int) {
	if n <= 0 {
		return
	}
	_ = dst[:n*nr]
	_ = src[:(n-1)*stride+nr]
	if useAsm() {
		copy16AVX2(unsafe.SliceData(dst), unsafe.SliceData(src), stride, n)
		return
	}
	for k := 0; k < n; k++ {
		*(*[nr]float32)(dst[k*nr:]) = *(*[nr]float32)(src[k*stride:])
	}
}
