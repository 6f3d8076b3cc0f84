package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
)

// convRef is a direct (seven-loop) convolution over C×T×H×W input, in
// float64, with the activation applied after bias and residual.
func convRef(w []float32, cout int, in []float32, g ConvGeom, bias, res []float32, act Act) []float32 {
	oh, ow := g.Out()
	n := g.T * oh * ow
	out := make([]float32, cout*n)
	for o := 0; o < cout; o++ {
		for t := 0; t < g.T; t++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					s := float64(bias[o])
					for c := 0; c < g.Cin; c++ {
						for ky := 0; ky < g.KH; ky++ {
							iy := oy*g.Stride - g.Pad + ky
							if iy < 0 || iy >= g.H {
								continue
							}
							for kx := 0; kx < g.KW; kx++ {
								ix := ox*g.Stride - g.Pad + kx
								if ix < 0 || ix >= g.W {
									continue
								}
								s += float64(w[((o*g.Cin+c)*g.KH+ky)*g.KW+kx]) * float64(in[((c*g.T+t)*g.H+iy)*g.W+ix])
							}
						}
					}
					j := o*n + (t*oh+oy)*ow + ox
					if res != nil {
						s += float64(res[j])
					}
					switch act {
					case ActReLU:
						s = math.Max(s, 0)
					case ActReLU6:
						s = math.Min(math.Max(s, 0), 6)
					}
					out[j] = float32(s)
				}
			}
		}
	}
	return out
}

func convTestRand(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

type convCase struct {
	cout int
	g    ConvGeom
	act  Act
	res  bool
}

func TestConv(t *testing.T) {
	cases := []convCase{
		{8, ConvGeom{Cin: 3, T: 2, H: 23, W: 17, KH: 7, KW: 7, Stride: 2, Pad: 3}, ActReLU, false}, // ResNet stem
		{16, ConvGeom{Cin: 8, T: 3, H: 14, W: 14, KH: 3, KW: 3, Stride: 1, Pad: 1}, ActReLU, false},
		{16, ConvGeom{Cin: 8, T: 2, H: 15, W: 13, KH: 3, KW: 3, Stride: 2, Pad: 1}, ActReLU, false},
		{12, ConvGeom{Cin: 16, T: 2, H: 9, W: 9, KH: 1, KW: 1, Stride: 1, Pad: 0}, ActNone, true},
		{12, ConvGeom{Cin: 16, T: 2, H: 9, W: 11, KH: 1, KW: 1, Stride: 2, Pad: 0}, ActNone, false}, // downsample
		{7, ConvGeom{Cin: 5, T: 1, H: 6, W: 8, KH: 3, KW: 5, Stride: 1, Pad: 2}, ActReLU6, true},
		{5, ConvGeom{Cin: 2, T: 4, H: 3, W: 3, KH: 3, KW: 3, Stride: 3, Pad: 1}, ActReLU, true},
		{40, ConvGeom{Cin: 24, T: 8, H: 7, W: 7, KH: 3, KW: 3, Stride: 1, Pad: 1}, ActReLU, true},
	}
	paths(t, func(t *testing.T) { testConv(t, cases) })
}

func testConv(t *testing.T, cases []convCase) {
	for _, threads := range []int{1, 3} {
		p := NewPool(threads)
		defer p.Close()
		var s ConvScratch
		for i, c := range cases {
			t.Run(fmt.Sprintf("threads%d/%d", threads, i), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 9))
				oh, ow := c.g.Out()
				n := c.g.T * oh * ow
				w := convTestRand(rng, c.cout*c.g.K())
				in := convTestRand(rng, c.g.Cin*c.g.T*c.g.H*c.g.W)
				bias := convTestRand(rng, c.cout)
				var res []float32
				if c.res {
					res = convTestRand(rng, c.cout*n)
				}
				want := convRef(w, c.cout, in, c.g, bias, res, c.act)
				out := make([]float32, c.cout*n)
				Conv(p, &s, NewMat(w, c.cout, c.g.K()), in, c.g, bias, res, c.act, out)
				if e := paritytest.RelErr(out, want); e > 1e-5 {
					t.Fatalf("rel err %.3g", e)
				}
				if c.res { // out aliasing res
					alias := append([]float32(nil), res...)
					Conv(p, &s, NewMat(w, c.cout, c.g.K()), in, c.g, bias, alias, c.act, alias)
					if e := paritytest.RelErr(alias, want); e > 1e-5 {
						t.Fatalf("aliased: rel err %.3g", e)
					}
				}
			})
		}
	}
}

func TestConvNoAllocs(t *testing.T) {
	paths(t, func(t *testing.T) {
		p := NewPool(2)
		defer p.Close()
		g := ConvGeom{Cin: 8, T: 2, H: 20, W: 20, KH: 3, KW: 3, Stride: 2, Pad: 1}
		rng := rand.New(rand.NewPCG(1, 2))
		oh, ow := g.Out()
		a := NewMat(convTestRand(rng, 16*g.K()), 16, g.K())
		in := convTestRand(rng, g.Cin*g.T*g.H*g.W)
		bias := convTestRand(rng, 16)
		out := make([]float32, 16*g.T*oh*ow)
		var s ConvScratch
		Conv(p, &s, a, in, g, bias, nil, ActReLU, out)
		if n := testing.AllocsPerRun(20, func() { Conv(p, &s, a, in, g, bias, nil, ActReLU, out) }); n > 0 {
			t.Errorf("%v allocations per Conv", n)
		}
	})
}

func TestMaxPool(t *testing.T) {
	pools(t, func(t *testing.T, p *Pool) { testMaxPool(t, p) })
}

func testMaxPool(t *testing.T, p *Pool) {
	for _, c := range []struct{ planes, h, w, k, s, pad int }{
		{3, 8, 8, 3, 2, 1}, {2, 7, 9, 3, 2, 1}, {1, 5, 5, 2, 2, 0}, {4, 1, 1, 3, 2, 1}, {2, 6, 4, 3, 1, 1},
		{37, 12, 11, 3, 2, 1}, // more planes than tasks: chunks of several
	} {
		rng := rand.New(rand.NewPCG(uint64(c.h), uint64(c.w)))
		in := convTestRand(rng, c.planes*c.h*c.w)
		oh, ow := (c.h+2*c.pad-c.k)/c.s+1, (c.w+2*c.pad-c.k)/c.s+1
		out := make([]float32, c.planes*oh*ow)
		MaxPool(p, in, c.planes, c.h, c.w, c.k, c.s, c.pad, out)
		for pl := 0; pl < c.planes; pl++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					m := float32(math.Inf(-1))
					for ky := 0; ky < c.k; ky++ {
						for kx := 0; kx < c.k; kx++ {
							y, x := oy*c.s-c.pad+ky, ox*c.s-c.pad+kx
							if y >= 0 && y < c.h && x >= 0 && x < c.w {
								m = max(m, in[(pl*c.h+y)*c.w+x])
							}
						}
					}
					if got := out[(pl*oh+oy)*ow+ox]; got != m {
						t.Fatalf("%+v: plane %d (%d,%d) = %v, want %v", c, pl, oy, ox, got, m)
					}
				}
			}
		}
	}
}

// TestMaxPoolNaN checks that a NaN wins its windows, as in PyTorch.
func TestMaxPoolNaN(t *testing.T) {
	in := []float32{1, 2, 3, 4, float32(math.NaN()), 6, 7, 8, 9} // 3×3, NaN at (1,1)
	out := make([]float32, 4)
	MaxPool(nil, in, 1, 3, 3, 2, 1, 0, out) // 2×2 windows, stride 1
	for i, v := range out {
		if !math.IsNaN(float64(v)) {
			t.Fatalf("window %d: %v, want NaN (out %v)", i, v, out)
		}
	}
}
