package kern

import (
	"fmt"
	"math/rand"
	"runtime"
	"testing"
	"time"
)

func benchPaths(b *testing.B, f func(b *testing.B)) {
	for _, p := range Available() {
		b.Run(p.String(), func(b *testing.B) {
			restore, err := Use(p)
			if err != nil {
				b.Fatal(err)
			}
			defer restore()
			f(b)
		})
	}
}

func benchThreads(b *testing.B, f func(b *testing.B, p *Pool)) {
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("t%d", th), func(b *testing.B) {
			p := NewPool(th)
			defer p.Close()
			f(b, p)
		})
	}
}

// reportFlops reports GFLOP/s by wall time and, where available, by CPU time
// of the whole process (cpu-GFLOP/s, meaningful for t1 on a loaded machine:
// for tN it is the per-core rate).
func reportFlops(b *testing.B, flopsPerOp float64, cpu0 float64) {
	b.ReportMetric(flopsPerOp*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 && cpu0 > 0 {
		b.ReportMetric(flopsPerOp*float64(b.N)/cpu/1e9, "cpu-GFLOP/s")
	}
}

func BenchmarkConv1x1(b *testing.B) {
	shapes := [][3]int{ // M, K, N
		{16, 32, 12544}, {96, 16, 12544}, {144, 24, 3136}, {24, 144, 3136},
		{192, 32, 784}, {384, 64, 196}, {576, 96, 196}, {96, 576, 196},
		{960, 160, 49}, {160, 960, 49}, {1280, 320, 49},
	}
	benchPaths(b, func(b *testing.B) {
		for _, sh := range shapes {
			m, k, n := sh[0], sh[1], sh[2]
			b.Run(fmt.Sprintf("M%d_K%d_N%d", m, k, n), func(b *testing.B) {
				benchThreads(b, func(b *testing.B, p *Pool) {
					rng := rand.New(rand.NewSource(1))
					a := NewMat(randSlice(rng, m*k), m, k)
					src := randSlice(rng, k*n)
					bias := randSlice(rng, m)
					c := make([]float32, m*n)
					var s Scratch
					b.ResetTimer()
					cpu0 := cpuSeconds()
					for i := 0; i < b.N; i++ {
						Conv1x1(p, &s, a, nil, 0, src, n, bias, nil, ActReLU6, c)
					}
					reportFlops(b, 2*float64(m*k*n), cpu0)
				})
			})
		}
	})
}

func BenchmarkDepthwise3x3(b *testing.B) {
	shapes := []dwCase{
		{32, 112, 112, 1}, {96, 112, 112, 2}, {144, 56, 56, 1}, {144, 56, 56, 2},
		{192, 28, 28, 1}, {576, 14, 14, 1}, {576, 14, 14, 2}, {960, 7, 7, 1},
	}
	benchPaths(b, func(b *testing.B) {
		for _, c := range shapes {
			b.Run(fmt.Sprintf("C%d_%dx%d_s%d", c.c, c.h, c.w, c.stride), func(b *testing.B) {
				benchThreads(b, func(b *testing.B, p *Pool) {
					rng := rand.New(rand.NewSource(1))
					in := randSlice(rng, c.c*c.h*c.w)
					wts, bias := randSlice(rng, c.c*9), randSlice(rng, c.c)
					oh, ow := OutSize(c.h, c.stride), OutSize(c.w, c.stride)
					out := make([]float32, c.c*oh*ow)
					b.ResetTimer()
					cpu0 := cpuSeconds()
					for i := 0; i < b.N; i++ {
						Depthwise3x3(p, in, c.c, c.h, c.w, c.stride, wts, bias, ActReLU6, out)
					}
					reportFlops(b, 2*9*float64(c.c*oh*ow), cpu0)
				})
			})
		}
	})
}

func BenchmarkConv3x3Stem(b *testing.B) {
	benchPaths(b, func(b *testing.B) {
		benchThreads(b, func(b *testing.B, p *Pool) {
			rng := rand.New(rand.NewSource(1))
			a := NewMat(randSlice(rng, 32*27), 32, 27)
			in := randSlice(rng, 3*224*224)
			bias := randSlice(rng, 32)
			out := make([]float32, 32*112*112)
			var s Scratch
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				Conv3x3(p, &s, a, in, 3, 224, 224, 2, bias, ActReLU6, out)
			}
			reportFlops(b, 2*32*27*112*112, cpu0)
		})
	})
}

// mbv2 is one MobileNetV2 layer for the whole-network benchmark.
type mbv2 struct {
	kind          int // 0 conv1x1, 1 depthwise, 2 stem
	m, k, h, w, s int
	res           bool
	mat           *Mat
}

func mobileNetV2Layers(rng *rand.Rand) (layers []mbv2, flops float64) {
	layers = append(layers, mbv2{kind: 2, m: 32, k: 27, h: 224, w: 224, s: 2})
	flops += 2 * 32 * 27 * 112 * 112
	cin, hw := 32, 112
	for _, st := range [][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}} {
		for i := 0; i < st[2]; i++ {
			s := 1
			if i == 0 {
				s = st[3]
			}
			hid := cin * st[0]
			if st[0] != 1 {
				layers = append(layers, mbv2{kind: 0, m: hid, k: cin, h: hw, w: hw})
				flops += 2 * float64(hid*cin*hw*hw)
			}
			layers = append(layers, mbv2{kind: 1, m: hid, h: hw, w: hw, s: s})
			ohw := OutSize(hw, s)
			flops += 2 * 9 * float64(hid*ohw*ohw)
			layers = append(layers, mbv2{kind: 0, m: st[1], k: hid, h: ohw, w: ohw, res: s == 1 && cin == st[1]})
			flops += 2 * float64(st[1]*hid*ohw*ohw)
			cin, hw = st[1], ohw
		}
	}
	layers = append(layers, mbv2{kind: 0, m: 1280, k: cin, h: hw, w: hw})
	flops += 2 * float64(1280*cin*hw*hw)
	for i := range layers {
		l := &layers[i]
		if l.kind != 1 {
			l.mat = NewMat(randSlice(rng, l.m*l.k), l.m, l.k)
		}
	}
	return layers, flops
}

// BenchmarkMobileNetV2 runs every convolution of MobileNetV2 (224 px, width
// 1.0) once per iteration: the kernel time of one frame.
func BenchmarkMobileNetV2(b *testing.B) {
	benchPaths(b, func(b *testing.B) {
		benchThreads(b, func(b *testing.B, p *Pool) {
			rng := rand.New(rand.NewSource(1))
			layers, flops := mobileNetV2Layers(rng)
			const big = 96 * 112 * 112
			x, y, z := randSlice(rng, big), make([]float32, big), make([]float32, big)
			wts, bias := randSlice(rng, 1280*9), randSlice(rng, 1280)
			frame := randSlice(rng, 3*224*224)
			var s Scratch
			var kindTime [3]time.Duration
			run := func() {
				cur := x
				for _, l := range layers {
					t0 := threadCPU()
					switch l.kind {
					case 2:
						Conv3x3(p, &s, l.mat, frame, 3, 224, 224, 2, bias, ActReLU6, cur)
					case 1:
						Depthwise3x3(p, cur, l.m, l.h, l.w, l.s, wts, bias, ActReLU6, y)
						cur, y = y, cur
					case 0:
						var res []float32
						act := ActReLU6
						if l.m < l.k {
							act = ActNone
						}
						if l.res {
							res = z[:l.m*l.h*l.w]
						}
						Conv1x1(p, &s, l.mat, nil, 0, cur, l.h*l.w, bias, res, act, y)
						cur, y = y, cur
					}
					kindTime[l.kind] += threadCPU() - t0
				}
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			run()
			kindTime = [3]time.Duration{}
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				run()
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/frame")
			// Thread CPU time per layer kind (the caller's share only).
			for k, name := range []string{"pw-cpu-ms", "dw-cpu-ms", "stem-cpu-ms"} {
				b.ReportMetric(kindTime[k].Seconds()*1e3/float64(b.N), name)
			}
			if cpu := cpuSeconds() - cpu0; cpu > 0 && cpu0 > 0 {
				b.ReportMetric(cpu*1e3/float64(b.N), "cpu-ms/frame")
			}
			reportFlops(b, flops, cpu0)
		})
	})
}

func BenchmarkHead(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	in := randSlice(rng, 1280*49)
	w, bias := randSlice(rng, 27*1280), randSlice(rng, 27)
	pooled, out := make([]float32, 1280), make([]float32, 27)
	for i := 0; i < b.N; i++ {
		AvgPool(in, 1280, 49, pooled)
		Linear(w, bias, pooled, 27, 1280, out)
	}
}

// BenchmarkMicroKernel runs the GEMM micro-kernel alone on operands that stay
// in L1 (one packed A panel, four packed B tiles, K = 128): the in-cache peak
// that the convolutions' GFLOP/s compare with.
func BenchmarkMicroKernel(b *testing.B) {
	benchPaths(b, func(b *testing.B) {
		const k, np = 128, 4
		rng := rand.New(rand.NewSource(1))
		a, pk := randSlice(rng, k*mr), randSlice(rng, np*k*nr)
		bias, c := randSlice(rng, mr), make([]float32, mr*np*nr)
		for b.Loop() {
			gemmTiles(k, a, packed(pk, k), c, np*nr, bias, nil, 0, mr, nr, np, ActNone)
		}
		b.ReportMetric(2*mr*np*nr*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
