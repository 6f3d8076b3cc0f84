package kern

// Naive reference implementations: the original single-threaded code the
// optimised kernels must match.

func refActivate(v float32, act Act) float32 {
	if act != ActNone && v < 0 {
		return 0
	}
	if act == ActReLU6 && v > 6 {
		return 6
	}
	return v
}

// refConv1x1 takes the row-major M×K weights w.
func refConv1x1(w []float32, M, K int, b0 []float32, k0 int, b1 []float32, n int, bias, res []float32, act Act, c []float32) {
	for m := 0; m < M; m++ {
		row := c[m*n : (m+1)*n]
		for j := range row {
			row[j] = bias[m]
		}
		for k := 0; k < K; k++ {
			wv := w[m*K+k]
			var src []float32
			if k < k0 {
				src = b0[k*n : (k+1)*n]
			} else {
				src = b1[(k-k0)*n : (k-k0+1)*n]
			}
			for j, v := range src {
				row[j] += wv * v
			}
		}
		for j := range row {
			v := row[j]
			if res != nil {
				v += res[m*n+j]
			}
			row[j] = refActivate(v, act)
		}
	}
}

func refDepthwise3x3(in []float32, c, h, w, stride int, wts, bias []float32, act Act, out []float32) {
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
				dst[oy*ow+ox] = refActivate(sum, act)
			}
		}
	}
}

// refConv3x3 takes the row-major cout×(cin·9) weights w.
func refConv3x3(w []float32, cout int, in []float32, cin, h, wd, stride int, bias []float32, act Act, out []float32) {
	oh, ow := OutSize(h, stride), OutSize(wd, stride)
	n := oh * ow
	col := make([]float32, cin*9*n)
	for ci := 0; ci < cin; ci++ {
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				row := col[((ci*9)+ky*3+kx)*n:][:n]
				for oy := 0; oy < oh; oy++ {
					y := oy*stride + ky - 1
					for ox := 0; ox < ow; ox++ {
						x := ox*stride + kx - 1
						v := float32(0)
						if y >= 0 && y < h && x >= 0 && x < wd {
							v = in[(ci*h+y)*wd+x]
						}
						row[oy*ow+ox] = v
					}
				}
			}
		}
	}
	refConv1x1(w, cout, cin*9, nil, 0, col, n, bias, nil, act, out)
}

func refAvgPool(in []float32, c, hw int, out []float32) {
	for ch := 0; ch < c; ch++ {
		var sum float32
		for _, v := range in[ch*hw : (ch+1)*hw] {
			sum += v
		}
		out[ch] = sum / float32(hw)
	}
}

func refLinear(w, bias, in []float32, m, k int, out []float32) {
	for i := 0; i < m; i++ {
		sum := bias[i]
		for j, v := range w[i*k : (i+1)*k] {
			sum += v * in[j]
		}
		out[i] = sum
	}
}
