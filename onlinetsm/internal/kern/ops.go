package kern

// Mat is a weight matrix of M rows and K columns, packed once for the GEMM.
type Mat struct {
	M, K int
	ap   []float32 // packed panels of mr rows: ap[p*K*mr + k*mr + r] = w[(p*mr+r)*K + k]
	np   int       // number of panels, ⌈M/mr⌉
}

// NewMat packs the row-major m×k matrix w. w is not retained.
func NewMat(w []float32, m, k int) *Mat {
	if m < 0 || k < 0 || len(w) != m*k {
		panic("kern: NewMat: len(w) != m*k")
	}
	np := (m + mr - 1) / mr
	ap := make([]float32, np*k*mr)
	for i := 0; i < m; i++ {
		p, r := i/mr, i%mr
		for kk := 0; kk < k; kk++ {
			ap[p*k*mr+kk*mr+r] = w[i*k+kk]
		}
	}
	return &Mat{M: m, K: k, ap: ap, np: np}
}

// Scratch is one caller's working memory. It grows to the largest layer it
// has seen and is then reused without allocation. A Scratch is used by one
// goroutine at a time.
type Scratch struct {
	pack []float32 // B packed once for all tasks
	q    []float32 // padded input planes of Conv3x3
	qoff []int     // Conv3x3 tap offsets into q
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// Conv1x1 computes c[m][j] = act(Σ_k A[m][k]·B[k][j] + bias[m] + res[m][j])
// for m < a.M, j < n: a 1×1 convolution of a CHW input with n = H·W pixels.
// Rows k < k0 of B are read from b0 (k0×n), rows k ≥ k0 from b1
// ((a.K−k0)×n), which lets a shifted block read its cached channels in place.
// res may be nil (no residual); it is added before act.
//
// c must not overlap b0 or b1; it may be the same slice as res.
func Conv1x1(p *Pool, s *Scratch, a *Mat, b0 []float32, k0 int, b1 []float32, n int, bias, res []float32, act Act, c []float32) {
	M, K := a.M, a.K
	if M == 0 || n <= 0 {
		return
	}
	if k0 < 0 || k0 > K || len(b0) < k0*n || len(b1) < (K-k0)*n || len(bias) < M || len(c) < M*n ||
		(res != nil && len(res) < M*n) {
		panic("kern: Conv1x1: slice too short")
	}
	j := p.getJob()
	j.kind = kindGemm
	j.g = gemmJob{
		ap: a.ap, m: M, k: K, np: a.np,
		mode: srcSplit, b0: b0, k0: k0, b1: b1,
		n: n, bias: bias, res: res, act: act, c: c,
	}
	j.ntask = j.g.plan(p.Threads())
	j.g.prepare(s)
	p.run(j, &j.buf)
	p.putJob(j)
}

// OutSize is the output side of a 3×3 convolution with padding 1.
func OutSize(in, stride int) int { return (in-1)/stride + 1 }

// Depthwise3x3 convolves each of the c channels of in (c×h×w) with its own
// 3×3 filter wts[ch*9:] (padding 1, stride 1 or 2), adds bias and applies
// act, writing c×OutSize(h)×OutSize(w) values to out.
func Depthwise3x3(p *Pool, in []float32, c, h, w, stride int, wts, bias []float32, act Act, out []float32) {
	if c <= 0 || h <= 0 || w <= 0 {
		return
	}
	if stride < 1 {
		panic("kern: Depthwise3x3: stride < 1")
	}
	dwAct("Depthwise3x3", act)
	oh, ow := OutSize(h, stride), OutSize(w, stride)
	if len(in) < c*h*w || len(wts) < c*9 || len(bias) < c || len(out) < c*oh*ow {
		panic("kern: Depthwise3x3: slice too short")
	}
	j := p.getJob()
	j.kind = kindDW
	j.d = dwJob{
		in: in, c: c, h: h, w: w, stride: stride, oh: oh, ow: ow,
		wts: wts, bias: bias, act: act, out: out,
	}
	if stride <= 2 {
		j.d.ps, j.d.ra, j.d.offs = planeGeom(h, w, stride)
	}
	threads := p.Threads()
	ntask, bands := 1, 1
	if threads > 1 {
		ntask = min(c, 8*threads)
		if j.d.zkernels() && oh >= 4*threads {
			// A band of rows per thread, each cut into channel chunks.
			bands = threads
			ntask = min(c, 8)
		}
	}
	j.d.chunk = (c + ntask - 1) / ntask
	j.d.bands = bands
	j.ntask = bands * ((c + j.d.chunk - 1) / j.d.chunk)
	p.run(j, &j.buf)
	p.putJob(j)
}

// Conv3x3 is a dense 3×3 convolution (padding 1) of in (cin×h×w) with the
// weights a (cout × cin·9, PyTorch's OIHW order), plus bias and act, writing
// cout×OutSize(h)×OutSize(w) values to out.
func Conv3x3(p *Pool, s *Scratch, a *Mat, in []float32, cin, h, w, stride int, bias []float32, act Act, out []float32) {
	if a.K != cin*9 {
		panic("kern: Conv3x3: a.K != cin*9")
	}
	if stride < 1 {
		panic("kern: Conv3x3: stride < 1")
	}
	oh, ow := OutSize(h, stride), OutSize(w, stride)
	n := oh * ow
	if a.M == 0 || h <= 0 || w <= 0 {
		return
	}
	if len(in) < cin*h*w || len(bias) < a.M || len(out) < a.M*n {
		panic("kern: Conv3x3: slice too short")
	}
	j := p.getJob()
	j.kind = kindGemm
	j.g = gemmJob{
		ap: a.ap, m: a.M, k: a.K, np: a.np,
		n: n, bias: bias, act: act, c: out,
		ow: ow, in: in, cin: cin, h: h, w: w, s: stride,
	}
	if stride <= 2 {
		ps, ra, offs := planeGeom(h, w, stride)
		s.q = grow(s.q, cin*ps+planeSlack)
		clear(s.q[cin*ps:])
		if cap(s.qoff) < a.K {
			s.qoff = make([]int, a.K)
		}
		s.qoff = s.qoff[:a.K]
		for ci := 0; ci < cin; ci++ {
			fillPlane(s.q[ci*ps:], in[ci*h*w:(ci+1)*h*w], h, w, stride, true)
			for t, o := range offs {
				s.qoff[ci*9+t] = ci*ps + o
			}
		}
		j.g.mode, j.g.q, j.g.qoff, j.g.ra = srcPlanes, s.q, s.qoff, ra
	} else {
		j.g.mode = srcGather
	}
	j.ntask = j.g.plan(p.Threads())
	j.g.prepare(s)
	p.run(j, &j.buf)
	p.putJob(j)
}

// AvgPool writes the mean of each of the c planes of hw values to out[c].
func AvgPool(in []float32, c, hw int, out []float32) {
	for ch := 0; ch < c; ch++ {
		out[ch] = sum(in[ch*hw:(ch+1)*hw]) / float32(hw)
	}
}

// Linear computes out[m] = Σ_k w[m*k+k']·in[k'] + bias[m] for the row-major
// m×k matrix w.
func Linear(w, bias, in []float32, m, k int, out []float32) {
	in = in[:k]
	for i := 0; i < m; i++ {
		out[i] = bias[i] + dot(w[i*k:(i+1)*k], in)
	}
}

// sum adds x with eight independent partial sums.
func sum(x []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(x) >= 8 {
		v := (*[8]float32)(x)
		s0 += v[0]
		s1 += v[1]
		s2 += v[2]
		s3 += v[3]
		s4 += v[4]
		s5 += v[5]
		s6 += v[6]
		s7 += v[7]
		x = x[8:]
	}
	for _, v := range x {
		s0 += v
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// dot is Σ a[i]·b[i] over len(a) ≤ len(b), with eight partial sums.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(a) >= 8 && len(b) >= 8 {
		u, v := (*[8]float32)(a), (*[8]float32)(b)
		s0 += u[0] * v[0]
		s1 += u[1] * v[1]
		s2 += u[2] * v[2]
		s3 += u[3] * v[3]
		s4 += u[4] * v[4]
		s5 += u[5] * v[5]
		s6 += u[6] * v[6]
		s7 += u[7] * v[7]
		a, b = a[8:], b[8:]
	}
	for i, v := range a {
		s0 += v * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
