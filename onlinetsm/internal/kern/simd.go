package kern

import (
	"sync/atomic"
	"unsafe"
)

// portable forces the pure-Go kernels even where assembly is available.
var portable atomic.Bool

// SetPortable selects the pure-Go kernels (on) or the assembly kernels where
// the CPU supports them (off, the default), and returns a function restoring
// the previous setting. It is meant for tests and benchmarks: do not call it
// while kernels run. Building with the purego tag, or running on a CPU
// without AVX2 and FMA, always uses the pure-Go kernels.
func SetPortable(on bool) (restore func()) {
	prev := portable.Swap(on)
	return func() { portable.Store(prev) }
}

// Accelerated reports whether kernels currently use the assembly (AVX2/FMA)
// implementations rather than the portable pure-Go ones.
func Accelerated() bool { return useAsm() }

func useAsm() bool { return hasAsm && !portable.Load() }

// Tile geometry of the GEMM micro-kernel.
const (
	mr = 6  // rows of A (output channels) per packed panel
	nr = 16 // columns of B (pixels) per packed panel
)

// tile computes the full mr×nr tile c[r*ldc+j] = act(Σ_k a[k*mr+r]·b[k*nr+j]
// + bias[r] + res[r*ldr+j]); res may be nil.
func tile(k int, a, b, c []float32, ldc int, bias, res []float32, ldr int, relu bool) {
	_ = a[:k*mr]
	_ = b[:k*nr]
	_ = c[:(mr-1)*ldc+nr]
	_ = bias[:mr]
	if res != nil {
		_ = res[:(mr-1)*ldr+nr]
	}
	if useAsm() {
		flags := 0
		if relu {
			flags = 1
		}
		sgemm6x16(k, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc,
			unsafe.SliceData(bias), unsafe.SliceData(res), ldr, flags)
		return
	}
	tileGo(k, a, b, c, ldc, bias, res, ldr, relu)
}

func tileGo(k int, a, b, c []float32, ldc int, bias, res []float32, ldr int, relu bool) {
	var acc [mr][nr]float32
	for kk := 0; kk < k; kk++ {
		av := (*[mr]float32)(a[kk*mr:])
		bv := (*[nr]float32)(b[kk*nr:])
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
	for r := 0; r < mr; r++ {
		dst := (*[nr]float32)(c[r*ldc:])
		bi := bias[r]
		var rr *[nr]float32
		if res != nil {
			rr = (*[nr]float32)(res[r*ldr:])
		}
		for j := 0; j < nr; j++ {
			v := acc[r][j] + bi
			if rr != nil {
				v += rr[j]
			}
			if relu {
				v = relu6(v)
			}
			dst[j] = v
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
// for oy < oh, ox < ow. q must extend 8 floats past the last tap read.
func dwPlane(dst, q []float32, offs *[9]int, ra, oh, ow int, f []float32, bias float32, relu bool) {
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
		r := 0
		if relu {
			r = 1
		}
		dwPlaneAVX2(unsafe.SliceData(dst), unsafe.SliceData(q), offs, ra, oh, ow, unsafe.SliceData(f), &bias, r)
		return
	}
	dwPlaneGo(dst, q, offs, ra, oh, ow, f, bias, relu)
}

func dwPlaneGo(dst, q []float32, offs *[9]int, ra, oh, ow int, f []float32, bias float32, relu bool) {
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
			if relu {
				v = relu6(v)
			}
			d[x] = v
		}
	}
}

// deint writes ev[i] = src[2i], od[i] = src[2i+1] for i < n.
func deint(src []float32, n int, ev, od []float32) {
	if n <= 0 {
		return
	}
	_ = src[:2*n]
	_ = ev[:n]
	_ = od[:n]
	if useAsm() {
		deintAVX2(unsafe.SliceData(src), n, unsafe.SliceData(ev), unsafe.SliceData(od))
		return
	}
	src = src[:2*n]
	ev = ev[:n]
	od = od[:n]
	for i := range ev {
		ev[i] = src[2*i]
		od[i] = src[2*i+1]
	}
}
