package kern

// gemmJob is one GEMM C = act(A·B + bias + res) split into tasks of nc
// columns × ppb packed A panels. B comes from one of three sources (mode).
type gemmJob struct {
	ap      []float32 // A packed in panels of mr rows (np panels of K·mr)
	m, k    int
	np      int
	mode    int
	b0, b1  []float32 // srcSplit: rows k < k0 from b0, the rest from b1
	k0      int
	q       []float32 // srcPlanes: padded input planes (im2col implicit)
	qoff    []int     // per-k offset into q of pixel (0,0)
	ra, ow  int       // q row advance per output row; output width
	in      []float32 // srcGather: the raw input (any stride)
	cin     int
	h, w, s int
	n       int
	bias    []float32
	res     []float32
	act     Act
	c       []float32
	nc      int       // columns per task (multiple of nr unless it covers n)
	nbN     int       // column blocks
	nbM     int       // row blocks (of ppb A panels): task t is column block t/nbM, row block t%nbM
	ppb     int       // A panels per task
	shared  bool      // one column block split over A: B is packed once...
	pk      []float32 // ...here, by the caller, before the tasks run
	direct  bool      // few A panels: tiles read B in place, unpacked
}

// Conv1x1 reads B in place, unpacked, when there are at most directPanels A
// panels, or at most directPanelsLongK and K ≥ directLongK: packing B costs
// a pass over it, repaid only when enough A panels reuse it (or the tile loop
// is short enough for the per-tile call overhead of the direct mode to show).
const (
	directPanels      = 8
	directPanelsLongK = 16
	directLongK       = 128
)

// macsPerTask is the work of one task when a big GEMM is split finely for
// load balance (about 10 µs).
const macsPerTask = 400_000

// Sources of the B operand.
const (
	srcSplit  = iota // Conv1x1: two row ranges b0, b1
	srcPlanes        // Conv3x3 stride 1/2: padded planes q with offsets qoff
	srcGather        // Conv3x3 other strides: direct gather from in
)

// plan chooses the task decomposition for the given thread count and
// returns the number of tasks.
func (g *gemmJob) plan(threads int) int {
	k := max(g.k, 1)
	// Blocks are whole multiples of the tiles the micro-kernel computes
	// together.
	gran := tileGroup() * nr
	// Columns per block: the packed B block (k×nc) should stay in L2.
	ncMax := min(max((64*1024/k)&^(gran-1), gran), 512)
	n16 := (g.n + nr - 1) &^ (nr - 1)
	nc := min(ncMax, n16)
	nbN := (g.n + nc - 1) / nc
	nbM := 1
	if threads > 1 {
		want := max(4*threads, min(16*threads, g.m*g.k*g.n/macsPerTask))
		if nbN < want {
			// Narrower blocks than 64 columns are not worth their packing;
			// then the tasks split A instead.
			if w := (g.n + want - 1) / want; w > 64-nr {
				nc = (w + gran - 1) &^ (gran - 1)
				nbN = (g.n + nc - 1) / nc
			}
		}
		if nbN < want {
			nbM = min(g.np, (want+nbN-1)/nbN)
		}
	}
	ppb := (g.np + nbM - 1) / nbM
	nbM = (g.np + ppb - 1) / ppb
	g.nc, g.nbN, g.nbM, g.ppb = nc, nbN, nbM, ppb
	g.shared = nbN == 1 && nbM > 1
	g.direct = g.mode == srcSplit && !g.shared &&
		(g.np <= directPanels || g.np <= directPanelsLongK && g.k >= directLongK)
	return nbN * nbM
}

// tileGroup is how many nr-column tiles the GEMM micro-kernel of the
// current path computes at once: four on the AVX-512 path, else one.
func tileGroup() int {
	if useAVX512() {
		return 4
	}
	return 1
}

func (g *gemmJob) task(t int, bufp *[]float32) {
	nb, mb := t/g.nbM, t%g.nbM
	j0 := nb * g.nc
	j1 := min(g.n, j0+g.nc)
	p0 := mb * g.ppb
	p1 := min(g.np, p0+g.ppb)
	w := j1 - j0
	npan := (w + nr - 1) / nr
	K, n := g.k, g.n
	if g.direct {
		g.taskDirect(j0, j1, p0, p1, bufp)
		return
	}
	pk := g.pk
	if !g.shared {
		need := npan * K * nr
		if cap(*bufp) < need {
			*bufp = make([]float32, need)
		}
		pk = (*bufp)[:need]
		g.pack(pk, j0, w)
	}
	lastCols := w - (npan-1)*nr
	for p := p0; p < p1; p++ {
		m0 := p * mr
		rows := min(mr, g.m-m0)
		var res []float32
		if g.res != nil {
			res = g.res[m0*n+j0:]
		}
		gemmTiles(K, g.ap[p*K*mr:(p+1)*K*mr], packed(pk, K), g.c[m0*n+j0:], n, g.bias[m0:m0+rows], res, n, rows, lastCols, npan, g.act)
	}
}

// taskDirect computes columns [j0, j1) × A panels [p0, p1) reading B in
// place, one column panel at a time so that it stays in L1 across the A
// panels (on the AVX-512 path, up to four panels at a time, which its
// micro-kernel computes together). A partial last panel is packed, since a
// tile reads nr columns.
func (g *gemmJob) taskDirect(j0, j1, p0, p1 int, bufp *[]float32) {
	K, n := g.k, g.n
	group := tileGroup()
	for jj := j0; jj < j1; {
		cols, tiles := min(nr, j1-jj), 1
		var bs bsrc
		if cols == nr {
			tiles = min(group, (j1-jj)/nr)
			bs = bsrc{ldb: n, pstride: nr, k0: g.k0}
			if g.k0 > 0 {
				bs.b = g.b0[jj:]
			}
			if K > g.k0 {
				bs.b1 = g.b1[jj:]
			}
		} else {
			need := K * nr
			if cap(*bufp) < need {
				*bufp = make([]float32, need)
			}
			pk := (*bufp)[:need]
			g.packSplit(pk, jj, cols)
			bs = packed(pk, K)
		}
		for p := p0; p < p1; p++ {
			m0 := p * mr
			rows := min(mr, g.m-m0)
			var res []float32
			if g.res != nil {
				res = g.res[m0*n+jj:]
			}
			gemmTiles(K, g.ap[p*K*mr:(p+1)*K*mr], bs, g.c[m0*n+jj:], n, g.bias[m0:m0+rows], res, n, rows, cols, tiles, g.act)
		}
		jj += tiles * nr
	}
}

// pack packs columns [j0, j0+w) of B into pk.
func (g *gemmJob) pack(pk []float32, j0, w int) {
	switch g.mode {
	case srcSplit:
		g.packSplit(pk, j0, w)
	case srcPlanes:
		g.packPlanes(pk, j0, w)
	default:
		g.packGather(pk, j0, w)
	}
}

// prepare runs on the caller before the tasks: it packs the shared B block.
func (g *gemmJob) prepare(s *Scratch) {
	if !g.shared {
		return
	}
	s.pack = grow(s.pack, (g.n+nr-1)/nr*g.k*nr)
	g.pk = s.pack
	g.pack(g.pk, 0, g.n)
}

// packSplit packs columns [j0, j0+w) of B (rows from b0 then b1) into
// panels of nr columns: pk[q*K*nr + k*nr + j] = B[k][j0+q*nr+j]. Columns of
// a partial last panel past w hold arbitrary values: tiles never store them.
func (g *gemmJob) packSplit(pk []float32, j0, w int) {
	K, n, k0 := g.k, g.n, g.k0
	ps := K * nr
	for j := 0; j < w; j += nr {
		d := pk[j/nr*ps : (j/nr+1)*ps]
		cols := min(nr, w-j)
		if k0 > 0 {
			copyRows(d, g.b0, j0+j, n, k0, cols)
		}
		if K > k0 {
			copyRows(d[k0*nr:], g.b1, j0+j, n, K-k0, cols)
		}
	}
}

// copyRows sets d[k*nr:][:cols] = src[base+k*n:][:cols] for k < rows,
// copying whole rows of nr floats where src is long enough.
func copyRows(d, src []float32, base, n, rows, cols int) {
	full := rows
	if cols < nr {
		// Rows whose nr-float read stays inside src.
		full = 0
		if room := len(src) - base - nr; room >= 0 {
			full = min(rows, room/n+1)
		}
	}
	copy16(d, src[base:], n, full)
	for k := full; k < rows; k++ {
		copy(d[k*nr:k*nr+cols], src[base+k*n:base+k*n+cols])
	}
}

// packPlanes packs columns [j0, j0+w) of the implicit im2col matrix whose
// row k at pixel (oy, ox) is q[qoff[k] + oy*ra + ox].
func (g *gemmJob) packPlanes(pk []float32, j0, w int) {
	K, ow := g.k, g.ow
	ps := K * nr
	for q, off := 0, 0; q*nr < w; q, off = q+1, off+ps {
		j := j0 + q*nr
		cols := min(nr, w-q*nr)
		oy, ox := j/ow, j%ow
		if cols == nr && ox+nr <= ow {
			gather16(pk[off:off+ps], g.q, g.qoff[:K], oy*g.ra+ox)
			continue
		}
		for c := 0; c < nr; c++ {
			if c >= cols {
				for k := 0; k < K; k++ {
					pk[off+k*nr+c] = 0
				}
				continue
			}
			base := oy*g.ra + ox
			for k, o := range g.qoff[:K] {
				pk[off+k*nr+c] = g.q[o+base]
			}
			if ox++; ox == ow {
				ox = 0
				oy++
			}
		}
	}
}

// packGather packs columns [j0, j0+w) of the im2col matrix of a 3×3
// convolution with padding 1 and any stride, reading the input directly.
func (g *gemmJob) packGather(pk []float32, j0, w int) {
	K, ow := g.k, g.ow
	ps := K * nr
	for q, off := 0, 0; q*nr < w; q, off = q+1, off+ps {
		for c := 0; c < nr; c++ {
			j := j0 + q*nr + c
			if q*nr+c >= w {
				for k := 0; k < K; k++ {
					pk[off+k*nr+c] = 0
				}
				continue
			}
			oy, ox := j/ow, j%ow
			for k := 0; k < K; k++ {
				ci, ky, kx := k/9, k%9/3, k%3
				y, x := oy*g.s+ky-1, ox*g.s+kx-1
				v := float32(0)
				if y >= 0 && y < g.h && x >= 0 && x < g.w {
					v = g.in[(ci*g.h+y)*g.w+x]
				}
				pk[off+k*nr+c] = v
			}
		}
	}
}
