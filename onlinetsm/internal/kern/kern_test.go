package kern

import (
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
)

// paths runs f once per kernel path this CPU and build support, as subtests
// named by the path, and logs which ran.
func paths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	ps := Available()
	t.Logf("kernel paths: %v (CPU: %v)", ps, Features())
	for _, p := range ps {
		t.Run(p.String(), func(t *testing.T) {
			restore, err := Use(p)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			f(t)
		})
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func nanSlice(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

const tol = 1e-5

func check(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	if e := paritytest.RelErr(got, want); e > tol {
		t.Errorf("%s: relative error %.3g > %g", what, e, tol)
	}
}

type c1Case struct {
	m, k, n, k0 int
	res         bool
	act         Act
}

func (c c1Case) String() string {
	return fmt.Sprintf("M%d_K%d_N%d_k0%d_res%v_act%d", c.m, c.k, c.n, c.k0, c.res, c.act)
}

func conv1x1Cases() []c1Case {
	cs := []c1Case{
		{16, 32, 12544, 0, false, ActReLU6},
		{24, 96, 3136, 12, true, ActNone},
		{144, 24, 3136, 3, false, ActReLU6},
		{32, 144, 784, 0, true, ActNone},
		{96, 576, 196, 0, true, ActNone},
		{160, 960, 49, 0, true, ActNone},
		{1280, 320, 49, 0, false, ActReLU6},
		{56, 8, 49, 1, false, ActReLU6},
		{1, 1, 1, 0, false, ActNone},
		{1, 1, 1, 1, false, ActNone},
		{5, 3, 7, 2, true, ActReLU6},
		{6, 16, 16, 0, true, ActReLU6},
		{7, 17, 17, 5, true, ActNone},
		{13, 0, 33, 0, true, ActReLU6},
		{12, 5, 15, 5, false, ActReLU6},
		{37, 41, 100, 20, true, ActReLU6},
		{64, 192, 196, 24, false, ActNone},
		// Packed B with more than four tiles: the AVX-512 kernel's groups
		// of four, then of two, then single tiles, with the partial last
		// tile alone (13 tiles), in a group of four (8), in a pair (6) and
		// after a pair (7).
		{60, 40, 200, 7, true, ActReLU6},
		{66, 24, 120, 0, true, ActNone},
		{60, 40, 90, 5, true, ActReLU6},
		{62, 30, 110, 0, false, ActNone},
		// ReLU (ResNet), fused into the epilogue: whole and masked tiles.
		{64, 48, 200, 0, true, ActReLU},
		{13, 20, 37, 9, false, ActReLU},
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 25; i++ {
		c := c1Case{m: 1 + rng.Intn(70), k: rng.Intn(130), n: 1 + rng.Intn(600), res: rng.Intn(2) == 0, act: Act(rng.Intn(3))}
		c.k0 = rng.Intn(c.k + 1)
		cs = append(cs, c)
	}
	return cs
}

func runConv1x1(t *testing.T, p *Pool, s *Scratch, rng *rand.Rand, c c1Case) {
	t.Helper()
	w := randSlice(rng, c.m*c.k)
	bias := randSlice(rng, c.m)
	b := randSlice(rng, c.k*c.n)
	var b0 []float32
	if c.k0 > 0 {
		b0 = b[:c.k0*c.n]
	}
	b1 := b[c.k0*c.n:]
	var res []float32
	if c.res {
		res = randSlice(rng, c.m*c.n)
	}
	want := make([]float32, c.m*c.n)
	refConv1x1(w, c.m, c.k, b0, c.k0, b1, c.n, bias, res, c.act, want)
	got := nanSlice(c.m * c.n)
	Conv1x1(p, s, NewMat(w, c.m, c.k), b0, c.k0, b1, c.n, bias, res, c.act, got)
	check(t, c.String(), got, want)
}

func pools(t *testing.T, f func(t *testing.T, p *Pool)) {
	t.Helper()
	for _, th := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("threads%d", th), func(t *testing.T) {
			var p *Pool // th == 0: nil pool
			if th > 0 {
				p = NewPool(th)
				defer p.Close()
			}
			f(t, p)
		})
	}
}

func TestConv1x1(t *testing.T) {
	paths(t, func(t *testing.T) {
		pools(t, func(t *testing.T, p *Pool) {
			rng := rand.New(rand.NewSource(2))
			var s Scratch
			for _, c := range conv1x1Cases() {
				if testing.Short() && c.m*c.k*c.n > 1e6 {
					continue
				}
				runConv1x1(t, p, &s, rng, c)
			}
		})
	})
}

// TestConv1x1ResAlias checks that c may be the residual slice itself.
func TestConv1x1ResAlias(t *testing.T) {
	paths(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(3))
		p := NewPool(2)
		defer p.Close()
		m, k, n := 20, 20, 37
		w, bias, b := randSlice(rng, m*k), randSlice(rng, m), randSlice(rng, k*n)
		res := randSlice(rng, m*n)
		want := make([]float32, m*n)
		refConv1x1(w, m, k, nil, 0, b, n, bias, res, ActReLU6, want)
		var s Scratch
		Conv1x1(p, &s, NewMat(w, m, k), nil, 0, b, n, bias, res, ActReLU6, res)
		check(t, "alias", res, want)
	})
}

type dwCase struct{ c, h, w, stride int }

func dwCases() []dwCase {
	cs := []dwCase{
		{32, 112, 112, 1}, {96, 112, 112, 2}, {144, 56, 56, 1}, {144, 56, 56, 2},
		{192, 28, 28, 2}, {576, 14, 14, 1}, {576, 14, 14, 2}, {960, 7, 7, 1},
		{1, 1, 1, 1}, {1, 1, 1, 2}, {2, 1, 5, 2}, {3, 5, 1, 1}, {3, 2, 2, 2},
		{5, 9, 9, 1}, {5, 9, 9, 2}, {3, 33, 47, 1}, {3, 33, 47, 2}, {4, 8, 40, 2},
		{3, 17, 31, 2}, {2, 7, 7, 3}, {2, 10, 11, 4}, {10, 67, 1, 1}, {16, 9, 3, 1},
		{16, 9, 5, 2}, {24, 2, 9, 1},
	}
	rng := rand.New(rand.NewSource(4))
	for i := 0; i < 20; i++ {
		cs = append(cs, dwCase{1 + rng.Intn(20), 1 + rng.Intn(70), 1 + rng.Intn(70), 1 + rng.Intn(2)})
	}
	return cs
}

func TestDepthwise3x3(t *testing.T) {
	paths(t, func(t *testing.T) {
		pools(t, func(t *testing.T, p *Pool) {
			rng := rand.New(rand.NewSource(5))
			for _, c := range dwCases() {
				for _, act := range []Act{ActNone, ActReLU6} {
					runDW(t, p, rng, c, act)
				}
			}
		})
	})
}

func runDW(t *testing.T, p *Pool, rng *rand.Rand, c dwCase, act Act) {
	t.Helper()
	in := randSlice(rng, c.c*c.h*c.w)
	wts := randSlice(rng, c.c*9)
	bias := randSlice(rng, c.c)
	oh, ow := OutSize(c.h, c.stride), OutSize(c.w, c.stride)
	want := make([]float32, c.c*oh*ow)
	refDepthwise3x3(in, c.c, c.h, c.w, c.stride, wts, bias, act, want)
	got := nanSlice(len(want))
	Depthwise3x3(p, in, c.c, c.h, c.w, c.stride, wts, bias, act, got)
	check(t, fmt.Sprintf("%+v act%d", c, act), got, want)
}

type c3Case struct{ cout, cin, h, w, stride int }

func TestConv3x3(t *testing.T) {
	cs := []c3Case{
		{32, 3, 224, 224, 2}, {16, 3, 32, 32, 1}, {7, 2, 9, 13, 2}, {1, 1, 1, 1, 1},
		{1, 1, 1, 1, 2}, {5, 3, 17, 18, 2}, {8, 4, 15, 33, 1}, {6, 3, 10, 10, 3},
		{13, 2, 5, 40, 2}, {3, 1, 3, 19, 1}, {4, 3, 5, 1, 2}, {4, 3, 6, 2, 2},
		{3, 2, 1, 2, 1}, {5, 3, 4, 3, 1}, {2, 3, 3, 17, 2},
	}
	paths(t, func(t *testing.T) {
		pools(t, func(t *testing.T, p *Pool) {
			rng := rand.New(rand.NewSource(6))
			var s Scratch
			for _, c := range cs {
				in := randSlice(rng, c.cin*c.h*c.w)
				w := randSlice(rng, c.cout*c.cin*9)
				bias := randSlice(rng, c.cout)
				oh, ow := OutSize(c.h, c.stride), OutSize(c.w, c.stride)
				want := make([]float32, c.cout*oh*ow)
				refConv3x3(w, c.cout, in, c.cin, c.h, c.w, c.stride, bias, ActReLU6, want)
				got := nanSlice(len(want))
				Conv3x3(p, &s, NewMat(w, c.cout, c.cin*9), in, c.cin, c.h, c.w, c.stride, bias, ActReLU6, got)
				check(t, fmt.Sprintf("%+v", c), got, want)
			}
		})
	})
}

func TestAvgPoolLinear(t *testing.T) {
	paths(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(7))
		for _, sz := range [][2]int{{1280, 49}, {3, 1}, {17, 5}} {
			in := randSlice(rng, sz[0]*sz[1])
			want, got := make([]float32, sz[0]), nanSlice(sz[0])
			refAvgPool(in, sz[0], sz[1], want)
			AvgPool(in, sz[0], sz[1], got)
			check(t, fmt.Sprint("avgpool", sz), got, want)
		}
		for _, sz := range [][2]int{{27, 1280}, {1, 1}, {5, 13}, {3, 33}} {
			w, bias, in := randSlice(rng, sz[0]*sz[1]), randSlice(rng, sz[0]), randSlice(rng, sz[1])
			want, got := make([]float32, sz[0]), nanSlice(sz[0])
			refLinear(w, bias, in, sz[0], sz[1], want)
			Linear(w, bias, in, sz[0], sz[1], got)
			check(t, fmt.Sprint("linear", sz), got, want)
		}
	})
}

// TestConcurrentCallers runs several streams on one pool at once.
func TestConcurrentCallers(t *testing.T) {
	paths(t, func(t *testing.T) {
		p := NewPool(3)
		defer p.Close()
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(int64(100 + g)))
				var s Scratch
				for i := 0; i < 15; i++ {
					c := c1Case{m: 1 + rng.Intn(40), k: 1 + rng.Intn(60), n: 1 + rng.Intn(300), res: rng.Intn(2) == 0, act: Act(rng.Intn(3))}
					c.k0 = rng.Intn(c.k + 1)
					runConv1x1(t, p, &s, rng, c)
					runDW(t, p, rng, dwCase{1 + rng.Intn(10), 1 + rng.Intn(30), 1 + rng.Intn(30), 1 + rng.Intn(2)}, ActReLU6)
				}
			}(g)
		}
		wg.Wait()
	})
}

// TestNoAllocs checks that kernels do not allocate once warmed up.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	paths(t, func(t *testing.T) {
		for _, th := range []int{1, 2} {
			t.Run(fmt.Sprint("threads", th), func(t *testing.T) {
				p := NewPool(th)
				defer p.Close()
				rng := rand.New(rand.NewSource(8))
				var s Scratch
				// Conv1x1 shapes (with shift split) and a residual.
				a := NewMat(randSlice(rng, 96*576), 96, 576)
				b := randSlice(rng, 576*196)
				bias := randSlice(rng, 1280)
				res := randSlice(rng, 96*196)
				c := make([]float32, 1280*196)
				a2 := NewMat(randSlice(rng, 144*24), 144, 24)
				b2 := randSlice(rng, 24*3136)
				c2 := make([]float32, 144*3136)
				stem := NewMat(randSlice(rng, 32*27), 32, 27)
				frame := randSlice(rng, 3*64*64)
				dwin := randSlice(rng, 144*56*56)
				dww := randSlice(rng, 144*9)
				dwout := make([]float32, 144*56*56)
				a3 := NewMat(randSlice(rng, 1280*160), 1280, 160)
				f := func() {
					Conv1x1(p, &s, a3, nil, 0, b, 49, bias, nil, ActReLU6, c)
					Conv1x1(p, &s, a, b[:100*196], 100, b[100*196:], 196, bias, res, ActNone, c)
					Conv1x1(p, &s, a2, nil, 0, b2, 3136, bias, nil, ActReLU6, c2)
					Conv3x3(p, &s, stem, frame, 3, 64, 64, 2, bias, ActReLU6, c)
					Depthwise3x3(p, dwin, 144, 56, 56, 1, dww, bias, ActReLU6, dwout)
					Depthwise3x3(p, dwin, 144, 56, 56, 2, dww, bias, ActReLU6, dwout)
				}
				for i := 0; i < 10; i++ {
					f() // let every worker grow its buffers
				}
				if n := testing.AllocsPerRun(20, f); n != 0 {
					t.Errorf("%v allocations per run, want 0", n)
				}
			})
		}
	})
}

// TestDepthwiseActs checks that the depthwise kernels refuse the activation
// only the GEMM kernels implement, instead of skipping it.
func TestDepthwiseActs(t *testing.T) {
	in, out, wts, bias := make([]float32, 2*4*4), make([]float32, 2*4*4), make([]float32, 2*9), make([]float32, 2)
	for _, tc := range []struct {
		name string
		call func()
	}{
		{"Depthwise3x3", func() { Depthwise3x3(nil, in, 2, 4, 4, 1, wts, bias, ActReLU, out) }},
		{"Depthwise3x3Batch", func() {
			Depthwise3x3Batch(nil, [][]float32{in, in}, 2, 4, 4, 1, wts, bias, ActReLU, [][]float32{out, make([]float32, len(out))})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Fatal("ActReLU accepted")
				}
			}()
			tc.call()
		})
	}
}
