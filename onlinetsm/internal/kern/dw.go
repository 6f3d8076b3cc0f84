package kern

import "unsafe"

// Padded planes. A 3×3 convolution with padding 1 reads, for output (oy, ox)
// and tap t = ky*3+kx, the value q[oy*ra + offs[t] + ox] of a zero-padded
// copy q of the input plane, so every kernel runs without border tests:
//
//   - stride 1: q is the (h+2)×(w+2) plane with a zero border;
//   - stride 2: q holds the even columns Pe and the odd columns Po of that
//     padded plane, each (h+2)×(ow+1) followed by planeGap floats, so every
//     tap reads contiguously.

// planeSlack is how far kernels may read past the last plane; planeGap
// separates the two halves of a stride-2 plane so that the writes of fillPlane
// past the end of one half do not reach the other.
const (
	planeSlack = 16
	planeGap   = 8
)

// planeGeom returns the size ps of one padded plane, its row advance ra per
// output row and the nine tap offsets, for stride 1 or 2.
func planeGeom(h, w, stride int) (ps, ra int, offs [9]int) {
	if stride == 1 {
		wp := w + 2
		for t := range offs {
			offs[t] = t/3*wp + t%3
		}
		return (h + 2) * wp, wp, offs
	}
	ws := OutSize(w, 2) + 1
	e := (h+2)*ws + planeGap
	for t := range offs {
		ky, kx := t/3, t%3
		offs[t] = ky * ws
		switch kx {
		case 1:
			offs[t] += e
		case 2:
			offs[t]++
		}
	}
	return 2 * e, 2 * ws, offs
}

// fillPlane writes the padded form of the h×w plane src into q[:ps]. It may
// write zeros into q[ps:ps+8]. With borders false it leaves the top and bottom
// padding rows alone: fillPlane only ever writes zeros there, so a buffer
// cleared once can be refilled for many planes of one geometry.
func fillPlane(q, src []float32, h, w, stride int, borders bool) {
	src = src[:h*w]
	if stride == 1 {
		wp := w + 2
		ps := (h + 2) * wp
		_ = q[:ps+8]
		if useAsm() {
			padS1AVX2(&q[wp], unsafe.SliceData(src), h, w)
		} else {
			for y := 0; y < h; y++ {
				row := q[(y+1)*wp : (y+2)*wp]
				row[0] = 0
				copy(row[1:w+1], src[y*w:(y+1)*w])
				row[w+1] = 0
			}
		}
		if borders {
			clear(q[:wp])
			clear(q[(h+1)*wp : ps])
		}
		return
	}
	ws := OutSize(w, 2) + 1
	e := (h+2)*ws + planeGap
	_ = q[:2*e]
	pe, po := q[:e-planeGap], q[e:2*e-planeGap]
	if useAsm() {
		padS2AVX2(&pe[ws], &po[ws], unsafe.SliceData(src), h, w, ws)
	} else {
		half := w / 2
		for y := 0; y < h; y++ {
			r := (y + 1) * ws
			er, or := pe[r:r+ws], po[r:r+ws]
			s := src[y*w : (y+1)*w]
			er[0] = 0
			// Padded column 2i+1 is input column 2i (odd plane); padded
			// column 2i+2 is input column 2i+1 (even plane, index i+1).
			for i := 0; i < half; i++ {
				or[i] = s[2*i]
				er[i+1] = s[2*i+1]
			}
			o := half
			if w&1 != 0 {
				or[half] = s[w-1]
				o++
			}
			clear(or[o:])
			clear(er[half+1:])
		}
	}
	if borders {
		clear(pe[:ws])
		clear(po[:ws])
		clear(pe[(h+1)*ws:])
		clear(po[(h+1)*ws:])
	}
}

// dwJob is one depthwise convolution split into channel ranges.
type dwJob struct {
	in              []float32
	c, h, w, stride int
	oh, ow          int
	wts, bias       []float32
	act             Act // ActNone or ActReLU6 (dwAct)
	out             []float32
	chunk           int // channels per task
	bands           int // bands of output rows (AVX-512 kernels only; else 1)
	ps, ra          int
	offs            [9]int
}

// task runs task t: the channels of chunk t%nchunk in band t/nchunk, so
// that, as the pool hands each thread a contiguous part of the tasks, a
// thread computes the same rows of every channel, the pixels that the
// neighbouring GEMMs' column blocks give it.
func (d *dwJob) task(t int, bufp *[]float32) {
	nchunk := (d.c + d.chunk - 1) / d.chunk
	band := t / nchunk
	c0 := t % nchunk * d.chunk
	c1 := min(d.c, c0+d.chunk)
	hw, ohw := d.h*d.w, d.oh*d.ow
	if d.stride != 1 && d.stride != 2 {
		for ch := c0; ch < c1; ch++ {
			dwGeneric(d.in[ch*hw:(ch+1)*hw], d.h, d.w, d.stride, d.wts[ch*9:ch*9+9], d.bias[ch], d.act, d.out[ch*ohw:(ch+1)*ohw])
		}
		return
	}
	if d.zkernels() {
		bands := max(d.bands, 1)
		d.taskZ(c0, c1, band*d.oh/bands, (band+1)*d.oh/bands, bufp)
		return
	}
	need := d.ps + planeSlack
	if cap(*bufp) < need {
		*bufp = make([]float32, need)
	}
	q := (*bufp)[:need]
	for ch := c0; ch < c1; ch++ {
		// The padding rows stay zero from one channel to the next.
		fillPlane(q, d.in[ch*hw:(ch+1)*hw], d.h, d.w, d.stride, ch == c0)
		dwPlane(d.out[ch*ohw:(ch+1)*ohw], q, &d.offs, d.ra, d.oh, d.ow, d.wts[ch*9:ch*9+9], d.bias[ch], d.act, d.stride == 1)
	}
}

// dwAct panics unless act is one the depthwise kernels implement (their
// assembly flag is int(act): 0 none, 1 ReLU6), naming the caller fn.
func dwAct(fn string, act Act) {
	if act != ActNone && act != ActReLU6 {
		panic("kern: " + fn + ": activation must be ActNone or ActReLU6")
	}
}

// zkernels reports whether the job runs on the AVX-512 kernels that read
// the planes as they are (stride 1 or 2, 8 output columns or more), which
// can also split the rows into bands.
func (d *dwJob) zkernels() bool {
	return (d.stride == 1 || d.stride == 2) && d.ow >= 8 && useAVX512()
}

// taskZ runs output rows [y0, y1) of channels [c0, c1) on the AVX-512
// kernels that read the planes as they are, without padded copies.
func (d *dwJob) taskZ(c0, c1, y0, y1 int, bufp *[]float32) {
	if c1 <= c0 || y1 <= y0 || d.h*d.w == 0 {
		return
	}
	zero := d.zeroRows(bufp)
	hw, ohw := d.h*d.w, d.oh*d.ow
	for ch := c0; ch < c1; ch++ {
		d.planeZ(d.out[ch*ohw:(ch+1)*ohw], d.in[ch*hw:(ch+1)*hw], ch, y0, y1, zero)
	}
}

// zeroRows returns the zero rows (w+32 zeros, then w+32 floats of scratch)
// that the AVX-512 kernels read above and below a plane, in *bufp.
func (d *dwJob) zeroRows(bufp *[]float32) []float32 {
	need := 2 * (d.w + 32)
	if cap(*bufp) < need {
		*bufp = make([]float32, need)
	}
	zero := (*bufp)[:need]
	clear(zero[:d.w+32]) // the buffer held other data before
	return zero
}

// planeZ computes output rows [y0, y1) of channel ch, whose input plane is
// in and output plane out, on the AVX-512 kernels.
func (d *dwJob) planeZ(out, in []float32, ch, y0, y1 int, zero []float32) {
	_ = in[d.h*d.w-1]
	_ = out[d.oh*d.ow-1]
	_ = zero[2*(d.w+32)-1]
	f := d.wts[ch*9 : ch*9+9]
	r := int(d.act)
	if d.stride == 1 {
		dwS1Z(&out[0], &in[0], &zero[0], d.h, d.w, y0, y1, &f[0], &d.bias[ch], r)
	} else {
		dwS2Z(&out[0], &in[0], &zero[0], d.h, d.w, d.ow, y0, y1, &f[0], &d.bias[ch], r)
	}
}

// dwGeneric is the direct depthwise 3×3 convolution of one plane for any
// stride.
func dwGeneric(src []float32, h, w, stride int, f []float32, bias float32, act Act, dst []float32) {
	oh, ow := OutSize(h, stride), OutSize(w, stride)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			sum := bias
			for ky := 0; ky < 3; ky++ {
				y := oy*stride + ky - 1
				if y < 0 || y >= h {
					continue
				}
				for kx := 0; kx < 3; kx++ {
					x := ox*stride + kx - 1
					if x < 0 || x >= w {
						continue
					}
					sum += f[ky*3+kx] * src[y*w+x]
				}
			}
			dst[oy*ow+ox] = act.apply(sum)
		}
	}
}
