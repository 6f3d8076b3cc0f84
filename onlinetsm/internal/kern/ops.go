package kern

// Mat is a weight matrix of M rows and K columns, packed once for the GEMM.
type Mat struct {
	M, K int
	w    []float32 // row-major M×K
}

// NewMat packs the row-major m×k matrix w. w is not retained.
func NewMat(w []float32, m, k int) *Mat {
	if len(w) != m*k {
		panic("kern: NewMat: len(w) != m*k")
	}
	return &Mat{M: m, K: k, w: append([]float32(nil), w...)}
}

// Scratch is one caller's working memory. It grows to the largest layer it
// has seen and is then reused without allocation. A Scratch is used by one
// goroutine at a time.
type Scratch struct {
	buf []float32
}

func (s *Scratch) get(n int) []float32 {
	if cap(s.buf) < n {
		s.buf = make([]float32, n)
	}
	return s.buf[:n]
}

// Conv1x1 computes c[m][j] = act(Σ_k A[m][k]·B[k][j] + bias[m] + res[m][j])
// for m < a.M, j < n: a 1×1 convolution of a CHW input with n = H·W pixels.
// Rows k < k0 of B are read from b0 (k0×n), rows k ≥ k0 from b1
// ((a.K−k0)×n), which lets a shifted block read its cached channels in place.
// res may be nil (no residual); it is added before act.
func Conv1x1(p *Pool, s *Scratch, a *Mat, b0 []float32, k0 int, b1 []float32, n int, bias, res []float32, act Act, c []float32) {
	for m := 0; m < a.M; m++ {
		row := c[m*n : (m+1)*n]
		for j := range row {
			row[j] = bias[m]
		}
		for k := 0; k < a.K; k++ {
			w := a.w[m*a.K+k]
			var src []float32
			if k < k0 {
				src = b0[k*n : (k+1)*n]
			} else {
				src = b1[(k-k0)*n : (k-k0+1)*n]
			}
			for j, v := range src {
				row[j] += w * v
			}
		}
		for j := range row {
			v := row[j]
			if res != nil {
				v += res[m*n+j]
			}
			row[j] = activate(v, act)
		}
	}
}

// OutSize is the output side of a 3×3 convolution with padding 1.
func OutSize(in, stride int) int { return (in-1)/stride + 1 }

// Depthwise3x3 convolves each of the c channels of in (c×h×w) with its own
// 3×3 filter wts[ch*9:] (padding 1, stride 1 or 2), adds bias and applies
// act, writing c×OutSize(h)×OutSize(w) values to out.
func Depthwise3x3(p *Pool, in []float32, c, h, w, stride int, wts, bias []float32, act Act, out []float32) {
	oh, ow := OutSize(h, stride), OutSize(w, stride)
	for ch := 0; ch < c; ch++ {
		src := in[ch*h*w : (ch+1)*h*w]
		f := wts[ch*9 : ch*9+9]
		dst := out[ch*oh*ow : (ch+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				sum := bias[ch]
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
				dst[oy*ow+ox] = activate(sum, act)
			}
		}
	}
}

// Conv3x3 is a dense 3×3 convolution (padding 1) of in (cin×h×w) with the
// weights a (cout × cin·9, PyTorch's OIHW order), plus bias and act, writing
// cout×OutSize(h)×OutSize(w) values to out.
func Conv3x3(p *Pool, s *Scratch, a *Mat, in []float32, cin, h, w, stride int, bias []float32, act Act, out []float32) {
	oh, ow := OutSize(h, stride), OutSize(w, stride)
	n := oh * ow
	col := s.get(cin * 9 * n)
	for ci := 0; ci < cin; ci++ {
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				row := col[((ci*9)+ky*3+kx)*n:][:n]
				for oy := 0; oy < oh; oy++ {
					y := oy*stride + ky - 1
					for ox := 0; ox < ow; ox++ {
						x := ox*stride + kx - 1
						v := float32(0)
						if y >= 0 && y < h && x >= 0 && x < w {
							v = in[(ci*h+y)*w+x]
						}
						row[oy*ow+ox] = v
					}
				}
			}
		}
	}
	var tmp Scratch
	Conv1x1(p, &tmp, a, nil, 0, col, n, bias, nil, act, out)
}

// AvgPool writes the mean of each of the c planes of hw values to out[c].
func AvgPool(in []float32, c, hw int, out []float32) {
	for ch := 0; ch < c; ch++ {
		var sum float32
		for _, v := range in[ch*hw : (ch+1)*hw] {
			sum += v
		}
		out[ch] = sum / float32(hw)
	}
}

// Linear computes out[m] = Σ_k w[m*k+k']·in[k'] + bias[m] for the row-major
// m×k matrix w.
func Linear(w, bias, in []float32, m, k int, out []float32) {
	for i := 0; i < m; i++ {
		sum := bias[i]
		for j, v := range w[i*k : (i+1)*k] {
			sum += v * in[j]
		}
		out[i] = sum
	}
}
