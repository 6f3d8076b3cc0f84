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
	relu    bool
	c       []float32
	nc      int // columns per task (multiple of nr unless it covers n)
	nbN     int // column blocks
	ppb     int // A panels per task
}

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
	// Columns per block: the packed B block (k×nc) should stay in L2.
	ncMax := min(max((64*1024/k)&^(nr-1), nr), 512)
	n16 := (g.n + nr - 1) &^ (nr - 1)
	nc := min(ncMax, n16)
	nbN := (g.n + nc - 1) / nc
	nbM := 1
	if threads > 1 {
		want := 4 * threads
		if nbN < want {
			nc2 := ((g.n+want-1)/want + nr - 1) &^ (nr - 1)
			if nc2 >= 64 {
				nc = nc2
				nbN = (g.n + nc - 1) / nc
			}
		}
		if nbN < want {
			nbM = min(g.np, (want+nbN-1)/nbN)
		}
	}
	ppb := (g.np + nbM - 1) / nbM
	nbM = (g.np + ppb - 1) / ppb
	g.nc, g.nbN, g.ppb = nc, nbN, ppb
	return nbN * nbM
}

func (g *gemmJob) task(t int, bufp *[]float32) {
	nb, mb := t%g.nbN, t/g.nbN
	j0 := nb * g.nc
	j1 := min(g.n, j0+g.nc)
	p0 := mb * g.ppb
	p1 := min(g.np, p0+g.ppb)
	w := j1 - j0
	npan := (w + nr - 1) / nr
	K, n := g.k, g.n
	need := npan * K * nr
	if cap(*bufp) < need {
		*bufp = make([]float32, need)
	}
	pk := (*bufp)[:need]
	switch g.mode {
	case srcSplit:
		g.packSplit(pk, j0, w)
	case srcPlanes:
		g.packPlanes(pk, j0, w)
	default:
		g.packGather(pk, j0, w)
	}
	var zero [mr]float32
	for p := p0; p < p1; p++ {
		a := g.ap[p*K*mr : (p+1)*K*mr]
		m0 := p * mr
		rows := min(mr, g.m-m0)
		for q := 0; q < npan; q++ {
			jj := j0 + q*nr
			cols := min(nr, j1-jj)
			b := pk[q*K*nr : (q+1)*K*nr]
			if rows == mr && cols == nr {
				var res []float32
				if g.res != nil {
					res = g.res[m0*n+jj:]
				}
				tile(K, a, b, g.c[m0*n+jj:], n, g.bias[m0:m0+mr], res, n, g.relu)
				continue
			}
			// Edge tile: compute into a temporary, then apply the
			// epilogue to the valid rows × cols.
			var tmp [mr * nr]float32
			tile(K, a, b, tmp[:], nr, zero[:], nil, 0, false)
			for r := 0; r < rows; r++ {
				m := m0 + r
				dst := g.c[m*n+jj : m*n+jj+cols]
				bi := g.bias[m]
				var rr []float32
				if g.res != nil {
					rr = g.res[m*n+jj : m*n+jj+cols]
				}
				for j := range dst {
					v := tmp[r*nr+j] + bi
					if rr != nil {
						v += rr[j]
					}
					if g.relu {
						v = relu6(v)
					}
					dst[j] = v
				}
			}
		}
	}
}

// packSplit packs columns [j0, j0+w) of B (rows from b0 then b1) into
// panels of nr columns: pk[q*K*nr + k*nr + j] = B[k][j0+q*nr+j].
func (g *gemmJob) packSplit(pk []float32, j0, w int) {
	K, n := g.k, g.n
	ps := K * nr
	for k := 0; k < K; k++ {
		var src []float32
		if k < g.k0 {
			src = g.b0[k*n+j0 : k*n+j0+w]
		} else {
			src = g.b1[(k-g.k0)*n+j0 : (k-g.k0)*n+j0+w]
		}
		off := k * nr
		j := 0
		for ; j+nr <= w; j += nr {
			*(*[nr]float32)(pk[off:]) = *(*[nr]float32)(src[j:])
			off += ps
		}
		if j < w {
			d := pk[off : off+nr]
			copy(d, src[j:])
			clear(d[w-j:])
		}
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
			base := oy*g.ra + ox
			for k, o := range g.qoff[:K] {
				*(*[nr]float32)(pk[off+k*nr:]) = *(*[nr]float32)(g.q[o+base:])
			}
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
