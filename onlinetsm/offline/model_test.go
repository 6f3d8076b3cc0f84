package offline

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/onlinetsm/internal/ckpt"
)

// fixture is what tools/make_offline_fixtures.py writes per model.
type fixture struct {
	Size     int         `json:"size"`
	Segments int         `json:"segments"`
	Classes  int         `json:"classes"`
	Logits   [][]float32 `json:"logits"`
}

// fixtureFrames reads the fixture's uint8 frames (T, H, W, 3) and normalises
// them as mmaction2 does, in float32: (x − mean) / std.
func fixtureFrames(t *testing.T, size, n int) [][]float32 {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "frames.u8"))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != n*size*size*3 {
		t.Fatalf("frames.u8 has %d bytes, want %d", len(raw), n*size*size*3)
	}
	frames := make([][]float32, n)
	hw := size * size
	for i := range frames {
		f := make([]float32, 3*hw)
		for j := 0; j < hw; j++ {
			for c := 0; c < 3; c++ {
				f[c*hw+j] = (float32(raw[(i*hw+j)*3+c]) - MMActionMean[c]) / MMActionStd[c]
			}
		}
		frames[i] = f
	}
	return frames
}

// TestParityWithPyTorch compares the consensus logits of two views
// (the 8 frames in order, then reversed) with tools/offline_reference.py's,
// on every kernel path.
func TestParityWithPyTorch(t *testing.T) {
	cases := []struct {
		name, arch string
		depth      int
		shifted    int
	}{
		{"r50", ArchResNetTSM, 50, 16},
		{"r101", ArchResNetTSM, 101, 18}, // every other block (i % 2 == 0): 2+2+12+2
		{"mbv2", ArchMobileNetV2TSM, 0, -1},
	}
	paths := onlinetsm.KernelPaths()
	t.Logf("kernel paths: %v", paths)
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			restore, err := onlinetsm.UseKernels(path)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					var fx fixture
					js, err := os.ReadFile(filepath.Join("testdata", c.name+".json"))
					if err != nil {
						t.Fatal(err)
					}
					if err := json.Unmarshal(js, &fx); err != nil {
						t.Fatal(err)
					}
					for _, threads := range []int{1, 2} {
						m, err := Load(filepath.Join("testdata", c.name+".pth"), WithThreads(threads))
						if err != nil {
							t.Fatal(err)
						}
						defer m.Close()
						if m.Arch() != c.arch || m.Depth() != c.depth || m.Classes() != fx.Classes {
							t.Fatalf("arch %s depth %d classes %d, want %s %d %d", m.Arch(), m.Depth(), m.Classes(), c.arch, c.depth, fx.Classes)
						}
						if c.shifted >= 0 && len(m.ShiftedBlocks()) != c.shifted {
							t.Errorf("%d shifted blocks %v, want %d", len(m.ShiftedBlocks()), m.ShiftedBlocks(), c.shifted)
						}
						frames := fixtureFrames(t, fx.Size, fx.Segments)
						rev := slices.Clone(frames)
						slices.Reverse(rev)
						for v, view := range [][][]float32{frames, rev} {
							got, err := m.LogitsData(view, fx.Size, fx.Size)
							if err != nil {
								t.Fatal(err)
							}
							e := paritytest.RelErr(got, fx.Logits[v])
							t.Logf("%s threads %d view %d: max|Go−PyTorch|/max|PyTorch| = %.2g", c.name, threads, v, e)
							if e > 1e-4 {
								t.Errorf("view %d: relative error %.3g > 1e-4\n got %v\nwant %v", v, e, got, fx.Logits[v])
							}
						}
						// Classify averages the views' softmaxes.
						probs, err := m.ClassifyData([][][]float32{frames, rev}, fx.Size, fx.Size)
						if err != nil {
							t.Fatal(err)
						}
						p0, p1 := onlinetsm.Softmax(nil, fx.Logits[0]), onlinetsm.Softmax(nil, fx.Logits[1])
						for i := range probs {
							if want := (p0[i] + p1[i]) / 2; !paritytest.Near(float64(probs[i]), float64(want), 1e-5) {
								t.Fatalf("prob %d = %v, want %v", i, probs[i], want)
							}
						}
					}
				})
			}
		})
	}
}

// TestShiftMatters checks that the order of the segments changes the
// result (the shift mixes neighbouring frames) and that a clip's result
// does not depend on what ran before.
func TestShiftMatters(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "r50.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	frames := fixtureFrames(t, 64, 8)
	a, err := m.LogitsData(frames, 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	swapped := slices.Clone(frames)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	b, err := m.LogitsData(swapped, 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	if paritytest.RelErr(a, b) < 1e-6 {
		t.Error("swapping two segments does not change the logits: no temporal shift?")
	}
	c, err := m.LogitsData(frames, 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, c) {
		t.Error("the same clip gives different logits on a second run")
	}
}

func TestBadInput(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "mbv2.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	good := fixtureFrames(t, 64, 8)
	nan := slices.Clone(good)
	nan[3] = slices.Clone(nan[3])
	nan[3][5] = float32(math.NaN())
	for _, c := range []struct {
		name   string
		frames [][]float32
		h, w   int
	}{
		{"no frames", nil, 64, 64},
		{"wrong size", good, 32, 32},
		{"too small", [][]float32{make([]float32, 3*16*16)}, 16, 16},
		{"NaN", nan, 64, 64},
		{"short frame", append(slices.Clone(good[:7]), good[0][:100]), 64, 64},
	} {
		if _, err := m.LogitsData(c.frames, c.h, c.w); err == nil {
			t.Errorf("%s: no error", c.name)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
}

// TestCheckpointErrors: an online checkpoint, missing and extra keys.
func TestCheckpointErrors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "r50.pth"))
	if err != nil {
		t.Fatal(err)
	}
	ck, err := ckpt.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(map[string]*ckpt.Tensor)) *ckpt.Checkpoint {
		t2 := map[string]*ckpt.Tensor{}
		for k, v := range ck.Tensors {
			t2[k] = v
		}
		f(t2)
		return &ckpt.Checkpoint{Format: ck.Format, Tensors: t2}
	}
	for _, c := range []struct {
		name string
		ck   *ckpt.Checkpoint
	}{
		{"missing bn", edit(func(t map[string]*ckpt.Tensor) { delete(t, "backbone.layer2.1.conv2.bn.running_var") })},
		{"extra key", edit(func(t map[string]*ckpt.Tensor) {
			t["backbone.extra.weight"] = &ckpt.Tensor{Shape: []int{1}, Data: []float32{1}}
		})},
		{"missing fc", edit(func(t map[string]*ckpt.Tensor) { delete(t, "cls_head.fc_cls.weight") })},
		{"missing block", edit(func(t map[string]*ckpt.Tensor) {
			for k := range t {
				if len(k) > 18 && k[:18] == "backbone.layer3.5." {
					delete(t, k)
				}
			}
		})},
		{"no backbone", &ckpt.Checkpoint{Tensors: map[string]*ckpt.Tensor{"features.0.0.weight": {Shape: []int{1}, Data: []float32{1}}}}},
	} {
		if _, err := build(c.ck, nil); err == nil {
			t.Errorf("%s: no error", c.name)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	if _, err := Load(filepath.Join("testdata", "r50.pth"), WithLabels([]string{"a"})); err == nil {
		t.Error("1 label for 10 classes: no error")
	}
	if _, err := Load(filepath.Join("testdata", "nope.pth")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestCheckpointMMActionMeta reads mmaction2-style checkpoints written by
// torch.save (tools/make_offline_fixtures.py): {"meta": {..., numpy int64,
// numpy float64, np.array ...}, "state_dict": ..., "optimizer": ...}. The
// numpy objects outside the state dict become inert placeholders.
func TestCheckpointMMActionMeta(t *testing.T) {
	for _, name := range []string{"r50.pth", "r101.pth", "mbv2.pth"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		ck, err := ckpt.Read(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ck.Format != ckpt.FormatZip {
			t.Errorf("%s: format %q", name, ck.Format)
		}
		if _, ok := ck.Tensors["cls_head.fc_cls.weight"]; !ok {
			t.Errorf("%s: no cls_head.fc_cls.weight among %d tensors", name, len(ck.Tensors))
		}
		for k := range ck.Tensors {
			if !strings.HasPrefix(k, "backbone.") && !strings.HasPrefix(k, "cls_head.") {
				t.Errorf("%s: tensor %q from outside the state dict", name, k)
			}
		}
	}
}
