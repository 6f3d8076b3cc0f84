package onlinetsm_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livetsm/livetsm/internal/paritytest"
	"github.com/livetsm/livetsm/onlinetsm"
)

// soloLogits steps a fresh stream over frames alone and returns a copy of
// every frame's logits.
func soloLogits(t *testing.T, m *onlinetsm.Model, frames [][]float32) [][]float32 {
	t.Helper()
	s := m.NewStream()
	out := make([][]float32, len(frames))
	for i, f := range frames {
		l, err := s.StepData(f)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = append([]float32(nil), l...)
	}
	return out
}

// TestStepBatchMatchesSolo steps B = 1…5 streams, each with its own frames,
// together over several frames (the caches carried), in a different order
// every frame, with the last stream joining two frames late, and compares
// each stream's logits with the same stream stepped alone.
func TestStepBatchMatchesSolo(t *testing.T) {
	const frames = 4
	m, err := onlinetsm.NewRandom(0.5, 12, 3, onlinetsm.WithInputSize(96), onlinetsm.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, tc := range []struct {
		streams int
		join    int // the frame at which the last stream joins
		plane   int // batch the blocks on planes of at most this many pixels
	}{
		{1, 0, onlinetsm.DefaultBatchPlane}, {2, 0, onlinetsm.DefaultBatchPlane}, {3, 2, onlinetsm.DefaultBatchPlane},
		{4, 1, onlinetsm.DefaultBatchPlane}, {5, 2, onlinetsm.DefaultBatchPlane},
		{3, 1, 1 << 30}, {5, 0, 1 << 30}, {4, 2, 0},
	} {
		t.Run(fmt.Sprintf("B%d_join%d_plane%d", tc.streams, tc.join, tc.plane), func(t *testing.T) {
			in := make([][][]float32, tc.streams)
			want := make([][][]float32, tc.streams)
			for i := range in {
				n := frames
				if i == tc.streams-1 {
					n -= tc.join
				}
				in[i] = randFrames(m, n, uint64(100*tc.streams+i))
				want[i] = soloLogits(t, m, in[i])
			}
			b := m.NewBatch(tc.streams)
			onlinetsm.SetBatchPlane(b, tc.plane)
			ss := make([]*onlinetsm.Stream, tc.streams)
			for i := range ss {
				ss[i] = m.NewStream()
			}
			rng := rand.New(rand.NewPCG(uint64(tc.streams), 1))
			for f := 0; f < frames; f++ {
				var idx []int
				for _, i := range rng.Perm(tc.streams) {
					if i == tc.streams-1 && f < tc.join {
						continue
					}
					idx = append(idx, i)
				}
				streams := make([]*onlinetsm.Stream, len(idx))
				data := make([][]float32, len(idx))
				for k, i := range idx {
					streams[k] = ss[i]
					data[k] = in[i][f-frameOffset(i, tc.streams, tc.join)]
				}
				out, err := b.Step(streams, data)
				if err != nil {
					t.Fatal(err)
				}
				for k, i := range idx {
					w := want[i][f-frameOffset(i, tc.streams, tc.join)]
					if e := paritytest.RelErr(out[k], w); e > 1e-5 {
						t.Errorf("frame %d, stream %d (position %d): relative error %.3g > 1e-5", f, i, k, e)
					}
				}
			}
		})
	}
}

func frameOffset(i, streams, join int) int {
	if i == streams-1 {
		return join
	}
	return 0
}

// TestStepBatchErrors checks that a bad batch fails as a whole, naming the
// bad stream, and changes no cache.
func TestStepBatchErrors(t *testing.T) {
	m, err := onlinetsm.NewRandom(0.35, 5, 1, onlinetsm.WithInputSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	other, err := onlinetsm.NewRandom(0.35, 5, 1, onlinetsm.WithInputSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	b := m.NewBatch(3)
	s0, s1, s2 := m.NewStream(), m.NewStream(), m.NewStream()
	good := randFrames(m, 3, 9)
	if _, err := b.Step([]*onlinetsm.Stream{s0, s1, s2}, good); err != nil {
		t.Fatal(err)
	}
	nan := append([]float32(nil), good[2]...)
	nan[70] = float32(math.NaN())
	inf := append([]float32(nil), good[1]...)
	inf[5] = float32(math.Inf(1))
	for _, tc := range []struct {
		name    string
		streams []*onlinetsm.Stream
		frames  [][]float32
		want    string
	}{
		{"count mismatch", []*onlinetsm.Stream{s0, s1}, good, "2 streams but 3 frames"},
		{"too many", []*onlinetsm.Stream{s0, s1, s2, m.NewStream()}, append(good, good[0]), "exceed the batch size 3"},
		{"nil stream", []*onlinetsm.Stream{s0, nil}, good[:2], "stream 1 is nil"},
		{"repeated", []*onlinetsm.Stream{s0, s1, s0}, good, "stream 2 is the same Stream as stream 0"},
		{"foreign", []*onlinetsm.Stream{s0, other.NewStream()}, good[:2], "stream 1 belongs to another model"},
		{"short frame", []*onlinetsm.Stream{s0, s1}, [][]float32{good[0], good[1][:10]}, "stream 1: frame has 10 values"},
		{"NaN", []*onlinetsm.Stream{s0, s1, s2}, [][]float32{good[0], good[1], nan}, "stream 2: frame value 70 (channel 0, y 1, x 6) is NaN"},
		{"Inf", []*onlinetsm.Stream{s0, s1}, [][]float32{good[0], inf}, "stream 1: frame value 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := [][]byte{s0.Snapshot(), s1.Snapshot(), s2.Snapshot()}
			out, err := b.Step(tc.streams, tc.frames)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Step: %v (out %d), want an error containing %q", err, len(out), tc.want)
			}
			for i, s := range []*onlinetsm.Stream{s0, s1, s2} {
				if string(s.Snapshot()) != string(before[i]) {
					t.Errorf("stream %d changed by a refused batch", i)
				}
			}
		})
	}
	if out, err := b.Step(nil, nil); err != nil || len(out) != 0 {
		t.Fatalf("empty batch: %v, %d results", err, len(out))
	}
}

// TestStepBatchNoAllocs checks that a warmed-up Batch steps without heap
// allocation.
func TestStepBatchNoAllocs(t *testing.T) {
	onlinetsm.EachKernelPath(t, func(t *testing.T) {
		m, err := onlinetsm.NewRandom(0.5, 12, 3, onlinetsm.WithInputSize(96), onlinetsm.WithThreads(2))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		b := m.NewBatch(4)
		ss := []*onlinetsm.Stream{m.NewStream(), m.NewStream(), m.NewStream(), m.NewStream()}
		frames := randFrames(m, 4, 5)
		for range 5 {
			if _, err := b.Step(ss, frames); err != nil {
				t.Fatal(err)
			}
		}
		if n := testing.AllocsPerRun(10, func() { b.Step(ss, frames) }); n != 0 {
			t.Errorf("%v allocations per batch, want 0", n)
		}
	})
}

// TestStepBatchConcurrent runs two Batches of one model from two goroutines
// (run with -race) and checks both against solo runs.
func TestStepBatchConcurrent(t *testing.T) {
	m, err := onlinetsm.NewRandom(0.35, 6, 2, onlinetsm.WithInputSize(64), onlinetsm.WithThreads(3))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var wg sync.WaitGroup
	for g := range 2 {
		in := [][][]float32{randFrames(m, 3, uint64(10*g)), randFrames(m, 3, uint64(10*g+1))}
		want := [][][]float32{soloLogits(t, m, in[0]), soloLogits(t, m, in[1])}
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := m.NewBatch(2)
			ss := []*onlinetsm.Stream{m.NewStream(), m.NewStream()}
			for f := range 3 {
				out, err := b.Step(ss, [][]float32{in[0][f], in[1][f]})
				if err != nil {
					t.Error(err)
					return
				}
				for i := range out {
					if e := paritytest.RelErr(out[i], want[i][f]); e > 1e-5 {
						t.Errorf("goroutine %d, frame %d, stream %d: relative error %.3g", g, f, i, e)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStepBatch compares B streams stepped one by one with the same B
// streams stepped as one batch, at 224 px, width 1.0, on 1 and 2 threads,
// and reports frames/s and CPU ms per frame (the robust figure on a shared
// machine).
func BenchmarkStepBatch(b *testing.B) {
	for _, threads := range []int{1, 2} {
		m, err := onlinetsm.NewRandom(1.0, 27, 1, onlinetsm.WithThreads(threads))
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		for _, n := range []int{1, 4, 8} {
			ss := make([]*onlinetsm.Stream, n)
			for i := range ss {
				ss[i] = m.NewStream()
			}
			frames := randFrames(m, n, 3)
			report := func(b *testing.B, c0 time.Duration) {
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "frames/s")
				b.ReportMetric((cpuTime()-c0).Seconds()*1e3/float64(n*b.N), "cpu-ms/frame")
			}
			b.Run(fmt.Sprintf("threads=%d/solo/streams=%d", threads, n), func(b *testing.B) {
				c0 := cpuTime()
				for b.Loop() {
					for i, s := range ss {
						s.StepData(frames[i])
					}
				}
				report(b, c0)
			})
			for _, plane := range []int{1 << 30, 28 * 28, 14 * 14} {
				bt := m.NewBatch(n)
				onlinetsm.SetBatchPlane(bt, plane)
				b.Run(fmt.Sprintf("threads=%d/batch/plane=%d/streams=%d", threads, min(plane, 112*112), n), func(b *testing.B) {
					c0 := cpuTime()
					for b.Loop() {
						bt.Step(ss, frames)
					}
					report(b, c0)
				})
			}
		}
	}
}
