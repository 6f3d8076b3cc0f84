package onlinetsm

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/livetsm/livetsm/internal/paritytest"
	"github.com/livetsm/livetsm/onlinetsm/internal/ckpt"
)

func TestPublishedConfigShapes(t *testing.T) {
	m, err := NewRandom(1.0, 27, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := "[(3,56,56) (4,28,28) (4,28,28) (8,14,14) (8,14,14) (8,14,14) (12,14,14) (12,14,14) (20,7,7) (20,7,7)]"
	got := m.CacheShapes()
	if fmt.Sprint(got) != want {
		t.Fatalf("cache shapes %v, want %v", got, want)
	}
	if m.Width() != 1 || m.Classes() != 27 || m.InputSize() != 224 {
		t.Fatalf("width %v classes %d size %d", m.Width(), m.Classes(), m.InputSize())
	}
}

// NewRandom refuses widths outside (0, 4], NaN and infinities included.
func TestRandomBadWidth(t *testing.T) {
	for _, w := range []float64{0, -1, 4.5, math.NaN(), math.Inf(1)} {
		if m, err := NewRandom(w, 5, 2); err == nil || !strings.Contains(err.Error(), "out of range") {
			if m != nil {
				m.Close()
			}
			t.Errorf("width %v: error %v, want out of range", w, err)
		}
	}
}

func TestWidthsAndSizes(t *testing.T) {
	for _, tc := range []struct {
		width float64
		size  int
	}{{0.35, 96}, {0.5, 112}, {0.75, 100}, {1.0, 64}, {1.4, 64}} {
		m, err := NewRandom(tc.width, 5, 2, WithInputSize(tc.size))
		if err != nil {
			t.Fatalf("width %v: %v", tc.width, err)
		}
		if !paritytest.Near(m.Width(), tc.width, 0.05) {
			t.Errorf("inferred width %v, want ≈%v", m.Width(), tc.width)
		}
		logits, err := m.NewStream().Step(syntheticFrame(0, tc.size))
		if err != nil {
			t.Fatal(err)
		}
		if len(logits) != 5 {
			t.Fatalf("%d logits", len(logits))
		}
		m.Close()
	}
}

// withTensors builds a model from a modified random state dict.
func withTensors(t *testing.T, edit func(map[string]*ckpt.Tensor), opts ...Option) error {
	t.Helper()
	sd := randomStateDict(0.35, 4, 3)
	edit(sd)
	m, err := build(&ckpt.Checkpoint{Format: "test", Tensors: sd}, opts)
	if err == nil {
		m.Close()
	}
	return err
}

func TestBadWeights(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(map[string]*ckpt.Tensor)
		opts []Option
		want string
	}{
		{"missing key", func(sd map[string]*ckpt.Tensor) { delete(sd, "features.5.conv.4.running_var") }, nil, `missing key "features.5.conv.4.running_var"`},
		{"extra key", func(sd map[string]*ckpt.Tensor) {
			sd["features.3.conv.9.weight"] = &ckpt.Tensor{Shape: []int{1}, Data: []float32{1}}
		}, nil, `unexpected keys ["features.3.conv.9.weight"]`},
		{"wrong shape", func(sd map[string]*ckpt.Tensor) {
			sd["classifier.bias"] = &ckpt.Tensor{Shape: []int{5}, Data: make([]float32, 5)}
		}, nil, `key "classifier.bias" has shape [5], want [4]`},
		{"wrong conv shape", func(sd map[string]*ckpt.Tensor) {
			sd["features.4.conv.3.weight"].Shape = []int{sd["features.4.conv.3.weight"].Shape[0] / 2, 2, 3, 3}
		}, nil, `key "features.4.conv.3.weight" has shape`},
		{"rank", func(sd map[string]*ckpt.Tensor) {
			sd["classifier.weight"].Shape = []int{len(sd["classifier.weight"].Data)}
		}, nil, `key "classifier.weight" has shape`},
		{"nan weight", func(sd map[string]*ckpt.Tensor) { sd["features.7.conv.0.weight"].Data[3] = float32(math.NaN()) }, nil, `key "features.7.conv.0.weight" holds a non-finite value at index 3`},
		{"negative variance", func(sd map[string]*ckpt.Tensor) { sd["features.2.conv.1.running_var"].Data[0] = -1 }, nil, "negative variance"},
		{"too many blocks", func(sd map[string]*ckpt.Tensor) { sd["features.18.conv.0.weight"] = sd["features.17.conv.0.weight"] }, nil, "more than 17"},
		{"labels", func(map[string]*ckpt.Tensor) {}, []Option{WithLabels([]string{"a", "b"})}, "2 labels given for a model of 4 classes"},
		{"input size", func(map[string]*ckpt.Tensor) {}, []Option{WithInputSize(8)}, "input size 8 out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := withTensors(t, tc.edit, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestBadFrames(t *testing.T) {
	m, err := NewRandom(0.35, 4, 3, WithInputSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := m.NewStream()
	good := syntheticFrame(1, 64)
	want, err := s.Step(good)
	if err != nil {
		t.Fatal(err)
	}
	want = append([]float32(nil), want...)
	nan := syntheticFrame(1, 64)
	nan.Data().([]float32)[5000] = float32(math.NaN())
	inf := syntheticFrame(1, 64)
	inf.Data().([]float32)[7] = float32(math.Inf(-1))
	for _, tc := range []struct {
		name  string
		frame *tensor.Dense
		want  string
	}{
		{"nil", nil, "nil frame"},
		{"shape", syntheticFrame(1, 32), "frame has shape (3, 32, 32), want (3, 64, 64)"},
		{"channels", tensor.New(tensor.WithShape(4, 64, 64), tensor.Of(tensor.Float32)), "want (3, 64, 64)"},
		{"dtype", tensor.New(tensor.WithShape(3, 64, 64), tensor.Of(tensor.Float64)), "dtype float64"},
		{"nan", nan, "frame value 5000 (channel 1, y 14, x 8) is NaN"},
		{"inf", inf, "is -Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Step(tc.frame); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Rejected frames leave the cache alone: a fresh stream fed the same good
	// frames agrees exactly.
	s2 := m.NewStream()
	if _, err := s2.Step(good); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Step(syntheticFrame(2, 64))
	b, _ := s2.Step(syntheticFrame(2, 64))
	if relErr(a, b) != 0 || s.Frames() != 2 {
		t.Fatalf("rejected frames changed the stream's state (frames %d)", s.Frames())
	}
	// A batch dimension of one is accepted.
	batched := syntheticFrame(1, 64)
	batched.Reshape(1, 3, 64, 64)
	s.Reset()
	got, err := s.Step(batched)
	if err != nil {
		t.Fatal(err)
	}
	if relErr(got, want) != 0 {
		t.Fatal("(1,3,H,W) frame gave other logits")
	}
}

func TestConcurrentStreams(t *testing.T) {
	m, err := NewRandom(0.35, 4, 3, WithInputSize(64), WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	solo := m.NewStream()
	var want [][]float32
	for f := 0; f < 4; f++ {
		l, err := solo.Step(syntheticFrame(f, 64))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, append([]float32(nil), l...))
	}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			s := m.NewStream()
			for f := 0; f < 4; f++ {
				l, err := s.Step(syntheticFrame(f, 64))
				if err != nil {
					errs <- err
					return
				}
				if relErr(l, want[f]) > 1e-6 {
					errs <- fmt.Errorf("stream %d frame %d differs from the solo run", g, f)
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestStepAllocs(t *testing.T) {
	eachKernelPath(t, func(t *testing.T) {
		for _, threads := range []int{1, 2} {
			m, err := NewRandom(0.35, 4, 3, WithInputSize(96), WithThreads(threads))
			if err != nil {
				t.Fatal(err)
			}
			s := m.NewStream()
			frame := syntheticFrame(0, 96)
			if _, err := s.Step(frame); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(5, func() { s.Step(frame) }); n != 0 {
				t.Errorf("threads %d: Step allocates %v times per frame", threads, n)
			}
			m.Close()
		}
	})
}

// Threads split the work, never the arithmetic of one output: a stream gives
// the same logits run after run, and within float tolerance of one thread,
// on every kernel path.
func TestThreadsDeterministic(t *testing.T) {
	eachKernelPath(t, func(t *testing.T) {
		run := func(threads int) [][]float32 {
			m, err := NewRandom(1.0, 27, 5, WithInputSize(96), WithThreads(threads))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s := m.NewStream()
			var out [][]float32
			for f := 0; f < 6; f++ {
				l, err := s.Step(syntheticFrame(f, 96))
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, append([]float32(nil), l...))
			}
			return out
		}
		one := run(1)
		first := run(2)
		for rep := 0; rep < 5; rep++ {
			again := run(2)
			for f := range again {
				if e := relErr(again[f], first[f]); e != 0 {
					t.Fatalf("threads 2, repetition %d, frame %d: logits differ from the first run (relative %.2g)", rep, f, e)
				}
			}
		}
		for f := range one {
			if e := relErr(first[f], one[f]); e > 1e-5 {
				t.Fatalf("frame %d: threads 2 vs 1 relative error %.2g", f, e)
			}
		}
	})
}
