package kern

// General K×K convolutions (im2col + the packed GEMM of Conv1x1, whose
// epilogue applies the activation, ReLU included) and max pooling, for the
// offline (clip-at-a-time) models. These work on activations laid out as
// C×T×H×W: T frames of each channel stored one after another, so that every
// (channel, frame) plane is contiguous and a 1×1 convolution of all T frames
// is a single GEMM with T·H·W columns. The unfolding and the pooling run as
// jobs of the pool, like the other kernels.

// ConvScratch is the working memory of Conv: the Scratch handed to Conv1x1
// and the im2col buffer. It grows to the largest layer it has seen and is then
// reused without allocation. A ConvScratch is used by one goroutine at a time.
type ConvScratch struct {
	Scratch
	col []float32
}

// ConvGeom is the geometry of a convolution over T frames: Cin input
// channels of H×W, a KH×KW kernel, one stride and one zero padding for both
// axes.
type ConvGeom struct {
	Cin, T, H, W int
	KH, KW       int
	Stride, Pad  int
}

// Out returns the output height and width, PyTorch's
// ⌊(H + 2·Pad − KH)/Stride⌋ + 1.
func (g ConvGeom) Out() (oh, ow int) {
	return (g.H+2*g.Pad-g.KH)/g.Stride + 1, (g.W+2*g.Pad-g.KW)/g.Stride + 1
}

// K is the GEMM depth Cin·KH·KW, the number of columns of the weights.
func (g ConvGeom) K() int { return g.Cin * g.KH * g.KW }

func (g ConvGeom) valid() bool {
	if g.Cin <= 0 || g.T <= 0 || g.H <= 0 || g.W <= 0 || g.KH <= 0 || g.KW <= 0 || g.Stride <= 0 || g.Pad < 0 {
		return false
	}
	oh, ow := g.Out()
	return oh > 0 && ow > 0 && g.Pad < g.KH && g.Pad < g.KW
}

// Conv computes out = act(a·im2col(in) + bias + res): a convolution of in
// (Cin×T×H×W) with the weights a (Cout × Cin·KH·KW, PyTorch's OIHW order),
// writing Cout×T×OH×OW values to out. res (Cout×T×OH×OW) may be nil; it is
// added before act, and out may be the same slice as res. act is ActNone,
// ActReLU6 or ActReLU.
//
// A 1×1 convolution with stride 1 and no padding reads in directly; any
// other geometry is first unfolded (im2col) into s.
func Conv(p *Pool, s *ConvScratch, a *Mat, in []float32, g ConvGeom, bias, res []float32, act Act, out []float32) {
	if !g.valid() {
		panic("kern: Conv: bad geometry")
	}
	if a.K != g.K() {
		panic("kern: Conv: a.K != Cin·KH·KW")
	}
	if act != ActNone && act != ActReLU6 && act != ActReLU {
		panic("kern: Conv: unknown activation")
	}
	oh, ow := g.Out()
	n := g.T * oh * ow
	if len(in) < g.Cin*g.T*g.H*g.W || len(bias) < a.M || len(out) < a.M*n || (res != nil && len(res) < a.M*n) {
		panic("kern: Conv: slice too short")
	}
	b := in
	if g.KH != 1 || g.KW != 1 || g.Stride != 1 || g.Pad != 0 {
		s.col = grow(s.col, g.K()*n)
		im2col(p, s.col, in, g)
		b = s.col
	}
	Conv1x1(p, &s.Scratch, a, nil, 0, b, n, bias, res, act, out)
}

// im2col unfolds in (Cin×T×H×W) into col: row (c·KH + ky)·KW + kx, column
// (t·OH + oy)·OW + ox holds in[c][t][oy·Stride − Pad + ky][ox·Stride − Pad + kx],
// or zero outside the image. The rows are shared among p's threads.
func im2col(p *Pool, col, in []float32, g ConvGeom) {
	rows := g.K()
	j := p.getJob()
	j.kind = kindIm2col
	j.c = im2colJob{col: col, in: in, g: g}
	j.c.chunk, j.ntask = chunks(rows, 8*p.Threads())
	p.run(j, &j.buf)
	p.putJob(j)
}

// im2colJob is one im2col call; task t unfolds rows [t·chunk, (t+1)·chunk).
type im2colJob struct {
	col, in []float32
	g       ConvGeom
	chunk   int
}

func (m *im2colJob) task(t int, _ *[]float32) {
	g := m.g
	oh, ow := g.Out()
	n := g.T * oh * ow
	hw := g.H * g.W
	st := g.Stride
	for row := t * m.chunk; row < min((t+1)*m.chunk, g.K()); row++ {
		c, ky, kx := row/(g.KH*g.KW), row/g.KW%g.KH, row%g.KW
		// Output rows whose input row oy·st − Pad + ky is inside [0, H).
		y0, y1 := validRange(oh, g.H, st, ky-g.Pad)
		x0, x1 := validRange(ow, g.W, st, kx-g.Pad)
		dst := m.col[row*n : (row+1)*n]
		for f := 0; f < g.T; f++ {
			plane := m.in[(c*g.T+f)*hw : (c*g.T+f+1)*hw]
			d := dst[f*oh*ow : (f+1)*oh*ow]
			clear(d[:y0*ow])
			clear(d[y1*ow:])
			for oy := y0; oy < y1; oy++ {
				iy := oy*st - g.Pad + ky
				src := plane[iy*g.W : (iy+1)*g.W]
				drow := d[oy*ow : (oy+1)*ow]
				clear(drow[:x0])
				clear(drow[x1:])
				ix := x0*st - g.Pad + kx
				if st == 1 {
					copy(drow[x0:x1], src[ix:ix+x1-x0])
				} else {
					for ox := x0; ox < x1; ox++ {
						drow[ox] = src[ix]
						ix += st
					}
				}
			}
		}
	}
}

// validRange returns the output positions [lo, hi) among out whose input
// position o·stride + off lies in [0, size).
func validRange(out, size, stride, off int) (lo, hi int) {
	// o·stride + off ≥ 0  ⇔  o ≥ ⌈−off/stride⌉
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	// o·stride + off ≤ size−1  ⇔  o ≤ ⌊(size−1−off)/stride⌋
	if size-1-off < 0 {
		hi = 0
	} else {
		hi = (size-1-off)/stride + 1
	}
	lo = min(lo, out)
	hi = min(max(hi, lo), out)
	return lo, hi
}

// MaxPool takes the maximum over k×k windows (stride, zero-free padding pad:
// padded positions never win, as in PyTorch's MaxPool2d) of each of the
// planes h×w planes of in, writing planes × OH × OW values to out, where
// OH = ⌊(h + 2·pad − k)/stride⌋ + 1 (likewise OW). A NaN in a window
// makes its maximum NaN. The planes are shared among p's threads.
func MaxPool(p *Pool, in []float32, planes, h, w, k, stride, pad int, out []float32) {
	if planes <= 0 || h <= 0 || w <= 0 {
		return
	}
	if k <= 0 || stride <= 0 || pad < 0 || 2*pad > k {
		panic("kern: MaxPool: bad geometry")
	}
	oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	if oh <= 0 || ow <= 0 {
		panic("kern: MaxPool: window larger than the padded input")
	}
	if len(in) < planes*h*w || len(out) < planes*oh*ow {
		panic("kern: MaxPool: slice too short")
	}
	j := p.getJob()
	j.kind = kindMaxPool
	j.m = maxPoolJob{in: in, out: out, planes: planes, h: h, w: w, k: k, stride: stride, pad: pad, oh: oh, ow: ow}
	j.m.chunk, j.ntask = chunks(planes, 8*p.Threads())
	p.run(j, &j.buf)
	p.putJob(j)
}

// maxPoolJob is one MaxPool call; task t pools planes [t·chunk, (t+1)·chunk).
type maxPoolJob struct {
	in, out              []float32
	planes, chunk        int
	h, w, k, stride, pad int
	oh, ow               int
}

// task pools its planes a row at a time: the maximum of the window's input
// rows, column by column, into the participant's buffer, then the maximum
// over each window's columns of that row.
func (m *maxPoolJob) task(t int, buf *[]float32) {
	h, w := m.h, m.w
	*buf = grow(*buf, w)
	col := *buf
	for pl := t * m.chunk; pl < min((t+1)*m.chunk, m.planes); pl++ {
		src := m.in[pl*h*w : (pl+1)*h*w]
		dst := m.out[pl*m.oh*m.ow : (pl+1)*m.oh*m.ow]
		for oy := 0; oy < m.oh; oy++ {
			y0 := max(oy*m.stride-m.pad, 0)
			y1 := min(oy*m.stride-m.pad+m.k, h)
			copy(col, src[y0*w:y0*w+w])
			for y := y0 + 1; y < y1; y++ {
				row := src[y*w : y*w+w]
				row = row[:len(col)]
				for i, v := range row {
					col[i] = max(col[i], v)
				}
			}
			d := dst[oy*m.ow : (oy+1)*m.ow]
			for ox := range d {
				x0 := max(ox*m.stride-m.pad, 0)
				x1 := min(ox*m.stride-m.pad+m.k, w)
				v := col[x0]
				for _, u := range col[x0+1 : x1] {
					v = max(v, u)
				}
				d[ox] = v
			}
		}
	}
}
