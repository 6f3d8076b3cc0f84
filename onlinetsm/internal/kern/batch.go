package kern

// Batched kernels: one call computes a layer for several streams at once.
//
// Conv1x1Batch treats the streams' pixels as the columns of one GEMM, so the
// packed weights of a layer are streamed once per column block for the whole
// batch instead of once per stream, a layer costs one pool dispatch instead
// of one per stream, and the partial last tile of each stream's plane (49
// pixels are 3 tiles of 16 and one of 1) is filled with the next stream's
// pixels instead of padding. Every output is computed by the same
// micro-kernel as in Conv1x1, so results equal those of each stream alone
// to float32 rounding (bit for bit, except where a stream's partial last
// tile of at most 8 columns alone took the micro-kernel's narrow path,
// which sums in another order).
//
// Depthwise3x3Batch runs the depthwise convolution of several streams as one
// job over (stream, channel) planes.

// Seg is one stream's operands of a batched 1×1 convolution: rows k < k0 of
// its B operand come from B0 (k0×n), rows k ≥ k0 from B1 ((K−k0)×n); Res
// (may be nil) is added before the activation; C receives the M×n result.
// C must not overlap B0 or B1; it may be the same slice as Res.
type Seg struct {
	B0, B1 []float32
	Res    []float32
	C      []float32
}

// batchJob is a batched Conv1x1 (dw false) or Depthwise3x3 (dw true).
type batchJob struct {
	dw   bool
	g    gemmJob // geometry and task plan; g.n is the batch's pixel count
	segs []Seg
	n    int // pixels per stream
	// Depthwise: the planes of stream s are ins[s] (c×h×w) and outs[s].
	d         dwJob
	ins, outs [][]float32
}

// Conv1x1Batch is Conv1x1 for several streams sharing the weights a, bias
// and activation, each with its own operands segs[i], all with k0 cached
// rows and n pixels: for every i, segs[i].C = act(a·[B0; B1] + bias + Res).
// It runs as one GEMM over the streams' concatenated pixels. segs is read
// during the call only; nothing is retained.
func Conv1x1Batch(p *Pool, s *Scratch, a *Mat, segs []Seg, k0, n int, bias []float32, act Act) {
	M, K := a.M, a.K
	if M == 0 || n <= 0 || len(segs) == 0 {
		return
	}
	if k0 < 0 || k0 > K || len(bias) < M {
		panic("kern: Conv1x1Batch: bad k0 or short bias")
	}
	for i := range segs {
		g := &segs[i]
		if len(g.B0) < k0*n || len(g.B1) < (K-k0)*n || len(g.C) < M*n || (g.Res != nil && len(g.Res) < M*n) {
			panic("kern: Conv1x1Batch: slice too short")
		}
		if (g.Res == nil) != (segs[0].Res == nil) {
			panic("kern: Conv1x1Batch: some streams have a residual and some not")
		}
	}
	if len(segs) == 1 {
		g := &segs[0]
		Conv1x1(p, s, a, g.B0, k0, g.B1, n, bias, g.Res, act, g.C)
		return
	}
	j := p.getJob()
	j.kind = kindBatch
	j.b = batchJob{
		g: gemmJob{
			ap: a.ap, m: M, k: K, np: a.np, mode: srcSplit, k0: k0,
			n: len(segs) * n, bias: bias, act: act,
		},
		segs: segs, n: n,
	}
	j.ntask = j.b.g.plan(p.Threads())
	j.b.prepare(s)
	p.run(j, &j.buf)
	p.putJob(j)
}

// The batch's pixels are the streams' pixels one stream after another;
// tile q is pixels [q·nr, q·nr+nr) of the batch. A tile inside one stream
// reads and writes that stream's slices in place; a tile that straddles
// streams (when n is not a multiple of nr) is packed from its pieces and
// computed into a small buffer that is then scattered, so that no tile
// computes padding.

// simple reports whether tile q lies in one stream, and where.
func (b *batchJob) simple(q int) (ok bool, seg, jj, cols int) {
	j0 := q * nr
	j1 := min(j0+nr, b.g.n)
	seg = j0 / b.n
	return (j1-1)/b.n == seg, seg, j0 - seg*b.n, j1 - j0
}

// prepare packs the whole batch's B once, on the caller, when the plan
// shares one column block across the tasks.
func (b *batchJob) prepare(s *Scratch) {
	if !b.g.shared {
		return
	}
	tiles := (b.g.n + nr - 1) / nr
	s.pack = grow(s.pack, tiles*b.g.k*nr)
	b.g.pk = s.pack
	b.packTiles(b.g.pk, 0, tiles)
}

// packTiles packs tiles [q0, q0+count) into consecutive K×nr panels of pk.
func (b *batchJob) packTiles(pk []float32, q0, count int) {
	K, k0, ps := b.g.k, b.g.k0, b.g.k*nr
	for i := 0; i < count; i++ {
		q := q0 + i
		d := pk[i*ps : (i+1)*ps]
		if ok, si, jj, cols := b.simple(q); ok {
			g := &b.segs[si]
			if k0 > 0 {
				copyRows(d, g.B0, jj, b.n, k0, cols)
			}
			if K > k0 {
				copyRows(d[k0*nr:], g.B1, jj, b.n, K-k0, cols)
			}
			continue
		}
		// Straddling: row by row, piece by piece (no nr-wide overrun).
		for j, end := q*nr, min(q*nr+nr, b.g.n); j < end; {
			si, jj := j/b.n, j%b.n
			cols := min(b.n-jj, end-j)
			col := j - q*nr
			g := &b.segs[si]
			for k := 0; k < k0; k++ {
				copy(d[k*nr+col:k*nr+col+cols], g.B0[k*b.n+jj:])
			}
			for k := k0; k < K; k++ {
				copy(d[k*nr+col:k*nr+col+cols], g.B1[(k-k0)*b.n+jj:])
			}
			j += cols
		}
	}
}

// straddle computes the rows [m0, m0+rows) of straddling tile q from its
// packed B panel pb, through the buffers ct and rt (mr·nr floats each).
func (b *batchJob) straddle(q int, ap []float32, pb bsrc, m0, rows int, ct, rt []float32) {
	g := &b.g
	j0, end := q*nr, min(q*nr+nr, g.n)
	hasRes := b.segs[0].Res != nil
	if hasRes {
		for j := j0; j < end; {
			si, jj := j/b.n, j%b.n
			cols := min(b.n-jj, end-j)
			col := j - j0
			res := b.segs[si].Res
			for r := 0; r < rows; r++ {
				copy(rt[r*nr+col:r*nr+col+cols], res[(m0+r)*b.n+jj:])
			}
			j += cols
		}
	}
	var res []float32
	if hasRes {
		res = rt
	}
	gemmTiles(g.k, ap, pb, ct, nr, g.bias[m0:m0+rows], res, nr, rows, end-j0, 1, g.act)
	for j := j0; j < end; {
		si, jj := j/b.n, j%b.n
		cols := min(b.n-jj, end-j)
		col := j - j0
		c := b.segs[si].C
		for r := 0; r < rows; r++ {
			copy(c[(m0+r)*b.n+jj:(m0+r)*b.n+jj+cols], ct[r*nr+col:])
		}
		j += cols
	}
}

func (b *batchJob) task(t int, bufp *[]float32) {
	if b.dw {
		b.dwTask(t, bufp)
		return
	}
	g := &b.g
	nb, mb := t/g.nbM, t%g.nbM
	q0 := nb * g.nc / nr
	q1 := (min(g.n, (nb+1)*g.nc) + nr - 1) / nr
	p0 := mb * g.ppb
	p1 := min(g.np, p0+g.ppb)
	K := g.k
	if g.direct {
		b.taskDirect(q0, q1, p0, p1, bufp)
		return
	}
	need := 2 * mr * nr
	if !g.shared {
		need += (q1 - q0) * K * nr
	}
	if cap(*bufp) < need {
		*bufp = make([]float32, need)
	}
	buf := (*bufp)[:need]
	ct, rt := buf[:mr*nr], buf[mr*nr:2*mr*nr]
	var pk []float32
	if g.shared {
		pk = g.pk[q0*K*nr:]
	} else {
		pk = buf[2*mr*nr:]
		b.packTiles(pk, q0, q1-q0)
	}
	for p := p0; p < p1; p++ {
		m0 := p * mr
		rows := min(mr, g.m-m0)
		ap := g.ap[p*K*mr : (p+1)*K*mr]
		for q := q0; q < q1; {
			ok, si, jj, _ := b.simple(q)
			if !ok {
				b.straddle(q, ap, packed(pk[(q-q0)*K*nr:], K), m0, rows, ct, rt)
				q++
				continue
			}
			// A run of tiles inside stream si: one gemmTiles call.
			end := q + 1
			lastCols := 0
			for ; end <= q1; end++ {
				ok2, si2, _, cols := b.simple(end - 1)
				if !ok2 || si2 != si {
					break
				}
				lastCols = cols
			}
			end--
			sg := &b.segs[si]
			var res []float32
			if sg.Res != nil {
				res = sg.Res[m0*b.n+jj:]
			}
			gemmTiles(K, ap, packed(pk[(q-q0)*K*nr:], K), sg.C[m0*b.n+jj:], b.n, g.bias[m0:m0+rows], res, b.n, rows, lastCols, end-q, g.act)
			q = end
		}
	}
}

// taskDirect is task for few A panels: full tiles inside one stream read B
// in place; other tiles are packed one at a time.
func (b *batchJob) taskDirect(q0, q1, p0, p1 int, bufp *[]float32) {
	g := &b.g
	K, n := g.k, b.n
	need := 2*mr*nr + K*nr
	if cap(*bufp) < need {
		*bufp = make([]float32, need)
	}
	buf := (*bufp)[:need]
	ct, rt, pk := buf[:mr*nr], buf[mr*nr:2*mr*nr], buf[2*mr*nr:]
	for q := q0; q < q1; q++ {
		ok, si, jj, cols := b.simple(q)
		sg := &b.segs[si]
		var bs bsrc
		if ok && cols == nr {
			bs = bsrc{ldb: n, k0: g.k0}
			if g.k0 > 0 {
				bs.b = sg.B0[jj:]
			}
			if K > g.k0 {
				bs.b1 = sg.B1[jj:]
			}
		} else {
			b.packTiles(pk, q, 1)
			bs = packed(pk, K)
		}
		for p := p0; p < p1; p++ {
			m0 := p * mr
			rows := min(mr, g.m-m0)
			ap := g.ap[p*K*mr : (p+1)*K*mr]
			if !ok {
				b.straddle(q, ap, bs, m0, rows, ct, rt)
				continue
			}
			var res []float32
			if sg.Res != nil {
				res = sg.Res[m0*n+jj:]
			}
			gemmTiles(K, ap, bs, sg.C[m0*n+jj:], n, g.bias[m0:m0+rows], res, n, rows, cols, 1, g.act)
		}
	}
}

// Depthwise3x3Batch is Depthwise3x3 for several streams sharing the filters
// wts, bias and activation: for every i, outs[i] = dw(ins[i]), each c×h×w
// in and c×OutSize(h)×OutSize(w) out. It runs as one job over all the
// streams' channels. ins and outs are read during the call only.
func Depthwise3x3Batch(p *Pool, ins [][]float32, c, h, w, stride int, wts, bias []float32, act Act, outs [][]float32) {
	if c <= 0 || h <= 0 || w <= 0 || len(ins) == 0 {
		return
	}
	if stride < 1 || stride > 2 {
		panic("kern: Depthwise3x3Batch: stride must be 1 or 2")
	}
	dwAct("Depthwise3x3Batch", act)
	if len(outs) != len(ins) {
		panic("kern: Depthwise3x3Batch: len(outs) != len(ins)")
	}
	oh, ow := OutSize(h, stride), OutSize(w, stride)
	if len(wts) < c*9 || len(bias) < c {
		panic("kern: Depthwise3x3Batch: short weights")
	}
	for i := range ins {
		if len(ins[i]) < c*h*w || len(outs[i]) < c*oh*ow {
			panic("kern: Depthwise3x3Batch: slice too short")
		}
	}
	if len(ins) == 1 {
		Depthwise3x3(p, ins[0], c, h, w, stride, wts, bias, act, outs[0])
		return
	}
	j := p.getJob()
	j.kind = kindBatch
	j.b = batchJob{
		dw: true, ins: ins, outs: outs,
		d: dwJob{c: c, h: h, w: w, stride: stride, oh: oh, ow: ow, wts: wts, bias: bias, act: act},
	}
	j.b.d.ps, j.b.d.ra, j.b.d.offs = planeGeom(h, w, stride)
	planes := len(ins) * c
	threads := p.Threads()
	ntask := 1
	if threads > 1 {
		ntask = 8 * threads
	}
	j.b.d.chunk, j.ntask = chunks(planes, ntask)
	p.run(j, &j.buf)
	p.putJob(j)
}

// dwTask convolves planes [t·chunk, (t+1)·chunk) of the batch, plane i
// being channel i%c of stream i/c.
func (b *batchJob) dwTask(t int, bufp *[]float32) {
	d := &b.d
	i0 := t * d.chunk
	i1 := min(len(b.ins)*d.c, i0+d.chunk)
	hw, ohw := d.h*d.w, d.oh*d.ow
	if d.zkernels() {
		zero := d.zeroRows(bufp)
		for i := i0; i < i1; i++ {
			si, ch := i/d.c, i%d.c
			d.planeZ(b.outs[si][ch*ohw:(ch+1)*ohw], b.ins[si][ch*hw:(ch+1)*hw], ch, 0, d.oh, zero)
		}
		return
	}
	need := d.ps + planeSlack
	if cap(*bufp) < need {
		*bufp = make([]float32, need)
	}
	q := (*bufp)[:need]
	for i := i0; i < i1; i++ {
		si, ch := i/d.c, i%d.c
		in, out := b.ins[si], b.outs[si]
		fillPlane(q, in[ch*hw:(ch+1)*hw], d.h, d.w, d.stride, i == i0)
		dwPlane(out[ch*ohw:(ch+1)*ohw], q, &d.offs, d.ra, d.oh, d.ow, d.wts[ch*9:ch*9+9], d.bias[ch], d.act, d.stride == 1)
	}
}
