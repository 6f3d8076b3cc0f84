package kern

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestConv1x1Batch checks that a batched 1×1 convolution gives each stream
// what Conv1x1 gives it alone (to float32 rounding: a tile of at most 8
// columns alone takes the micro-kernel's narrow path, which sums in another
// order), for the MobileNetV2 shapes (with and
// without cached rows and residuals) and random ones, on 1 to 5 streams.
func TestConv1x1Batch(t *testing.T) {
	cases := []c1Case{
		{144, 24, 3136, 3, false, ActReLU6},
		{24, 144, 3136, 0, true, ActNone},
		{192, 32, 784, 4, false, ActReLU6},
		{96, 576, 196, 0, true, ActNone},
		{576, 96, 196, 12, false, ActReLU6},
		{160, 960, 49, 0, true, ActNone},
		{960, 160, 49, 20, false, ActReLU6},
		{1280, 320, 49, 0, false, ActReLU6},
		{5, 3, 7, 2, true, ActReLU6},
		{7, 17, 17, 5, true, ActNone},
		{13, 0, 33, 0, true, ActReLU6},
	}
	rng := rand.New(rand.NewSource(11))
	for i := 0; i < 10; i++ {
		c := c1Case{m: 1 + rng.Intn(70), k: rng.Intn(130), n: 1 + rng.Intn(300), res: rng.Intn(2) == 0, act: Act(rng.Intn(3))}
		c.k0 = rng.Intn(c.k + 1)
		cases = append(cases, c)
	}
	paths(t, func(t *testing.T) {
		pools(t, func(t *testing.T, p *Pool) {
			var s, s1 Scratch
			for _, c := range cases {
				if testing.Short() && c.m*c.k*c.n > 1e6 {
					continue
				}
				for _, nb := range []int{1, 2, 3, 5} {
					t.Run(fmt.Sprintf("%v_B%d", c, nb), func(t *testing.T) {
						runConv1x1Batch(t, p, &s, &s1, rng, c, nb)
					})
				}
			}
		})
	})
}

func runConv1x1Batch(t *testing.T, p *Pool, s, s1 *Scratch, rng *rand.Rand, c c1Case, nb int) {
	t.Helper()
	a := NewMat(randSlice(rng, c.m*c.k), c.m, c.k)
	bias := randSlice(rng, c.m)
	segs := make([]Seg, nb)
	want := make([][]float32, nb)
	for i := range segs {
		b := randSlice(rng, c.k*c.n)
		segs[i] = Seg{B0: randSlice(rng, c.k0*c.n), B1: b[c.k0*c.n:], C: nanSlice(c.m * c.n)}
		if c.res {
			segs[i].Res = randSlice(rng, c.m*c.n)
		}
		want[i] = make([]float32, c.m*c.n)
		Conv1x1(p, s1, a, segs[i].B0, c.k0, segs[i].B1, c.n, bias, segs[i].Res, c.act, want[i])
	}
	Conv1x1Batch(p, s, a, segs, c.k0, c.n, bias, c.act)
	for i := range segs {
		check(t, fmt.Sprint("stream ", i), segs[i].C, want[i])
	}
}

// TestConv1x1BatchResAlias checks that each stream's C may be its Res.
func TestConv1x1BatchResAlias(t *testing.T) {
	paths(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(12))
		p := NewPool(2)
		defer p.Close()
		m, k, n := 24, 24, 49
		a := NewMat(randSlice(rng, m*k), m, k)
		bias := randSlice(rng, m)
		segs := make([]Seg, 3)
		want := make([][]float32, 3)
		var s Scratch
		for i := range segs {
			b, res := randSlice(rng, k*n), randSlice(rng, m*n)
			want[i] = make([]float32, m*n)
			Conv1x1(p, &s, a, nil, 0, b, n, bias, res, ActNone, want[i])
			segs[i] = Seg{B1: b, Res: res, C: res}
		}
		Conv1x1Batch(p, &s, a, segs, 0, n, bias, ActNone)
		for i := range segs {
			check(t, fmt.Sprint("stream ", i), segs[i].C, want[i])
		}
	})
}

// TestDepthwise3x3Batch checks the batched depthwise convolution against
// Depthwise3x3 on each stream alone.
func TestDepthwise3x3Batch(t *testing.T) {
	paths(t, func(t *testing.T) {
		pools(t, func(t *testing.T, p *Pool) {
			rng := rand.New(rand.NewSource(13))
			for _, c := range []dwCase{{96, 56, 56, 2}, {144, 28, 28, 1}, {960, 7, 7, 1}, {576, 14, 14, 2}, {3, 5, 9, 1}, {7, 1, 1, 2}} {
				for _, nb := range []int{1, 2, 4} {
					oh, ow := OutSize(c.h, c.stride), OutSize(c.w, c.stride)
					wts, bias := randSlice(rng, c.c*9), randSlice(rng, c.c)
					ins, outs, want := make([][]float32, nb), make([][]float32, nb), make([][]float32, nb)
					for i := range ins {
						ins[i] = randSlice(rng, c.c*c.h*c.w)
						outs[i] = nanSlice(c.c * oh * ow)
						want[i] = make([]float32, c.c*oh*ow)
						Depthwise3x3(p, ins[i], c.c, c.h, c.w, c.stride, wts, bias, ActReLU6, want[i])
					}
					Depthwise3x3Batch(p, ins, c.c, c.h, c.w, c.stride, wts, bias, ActReLU6, outs)
					for i := range outs {
						check(t, fmt.Sprintf("%v B%d stream %d", c, nb, i), outs[i], want[i])
					}
				}
			}
		})
	})
}

// TestBatchNoAllocs checks that the batched kernels do not allocate once
// warmed up.
func TestBatchNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	paths(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(14))
		p := NewPool(2)
		defer p.Close()
		var s Scratch
		a := NewMat(randSlice(rng, 160*960), 160, 960)
		a2 := NewMat(randSlice(rng, 144*24), 144, 24)
		bias, dww := randSlice(rng, 960), randSlice(rng, 144*9)
		segs, segs2 := make([]Seg, 4), make([]Seg, 4)
		ins, outs := make([][]float32, 4), make([][]float32, 4)
		for i := range segs {
			segs[i] = Seg{B1: randSlice(rng, 960*49), Res: randSlice(rng, 160*49), C: make([]float32, 160*49)}
			segs2[i] = Seg{B0: randSlice(rng, 3*3136), B1: randSlice(rng, 21*3136), C: make([]float32, 144*3136)}
			ins[i], outs[i] = randSlice(rng, 144*56*56), make([]float32, 144*28*28)
		}
		f := func() {
			Conv1x1Batch(p, &s, a, segs, 0, 49, bias, ActNone)
			Conv1x1Batch(p, &s, a2, segs2, 3, 3136, bias, ActReLU6)
			Depthwise3x3Batch(p, ins, 144, 56, 56, 2, dww, bias, ActReLU6, outs)
		}
		for i := 0; i < 10; i++ {
			f()
		}
		if n := testing.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%v allocations per run, want 0", n)
		}
	})
}

// TestBatchConcurrentCallers runs batched and single kernels from several
// goroutines on one pool (run with -race).
func TestBatchConcurrentCallers(t *testing.T) {
	paths(t, func(t *testing.T) {
		p := NewPool(3)
		defer p.Close()
		done := make(chan struct{})
		for g := 0; g < 3; g++ {
			go func(g int) {
				defer func() { done <- struct{}{} }()
				rng := rand.New(rand.NewSource(int64(200 + g)))
				var s, s1 Scratch
				for i := 0; i < 8; i++ {
					c := c1Case{m: 1 + rng.Intn(40), k: 1 + rng.Intn(60), n: 1 + rng.Intn(200), res: rng.Intn(2) == 0, act: Act(rng.Intn(3))}
					c.k0 = rng.Intn(c.k + 1)
					runConv1x1Batch(t, p, &s, &s1, rng, c, 1+rng.Intn(4))
				}
			}(g)
		}
		for g := 0; g < 3; g++ {
			<-done
		}
	})
}
