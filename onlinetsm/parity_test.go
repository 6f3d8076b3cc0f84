package onlinetsm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
)

// parityFile is onlinetsm/testdata/parity.json, written by tools/make_fixtures.py.
type parityFile struct {
	Width   float64 `json:"width"`
	Classes int     `json:"classes"`
	Cases   []struct {
		Size   int         `json:"size"`
		Order  []int       `json:"order"`
		Logits [][]float32 `json:"logits"`
	} `json:"cases"`
}

func readParity(t *testing.T) parityFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "parity.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p parityFile
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// syntheticFrame and relErr are the parity tests' frames and error measure,
// shared with the default model's parity test.
var (
	syntheticFrame = paritytest.SyntheticFrame
	relErr         = paritytest.RelErr
)

func TestParityWithPyTorch(t *testing.T) {
	ref := readParity(t)
	eachKernelPath(t, func(t *testing.T) {
		for _, file := range []struct{ name, format string }{
			{"tsm_w035.pth", "pytorch-zip"},
			{"tsm_w035.pth.tar", "pytorch-legacy"},
		} {
			for _, c := range ref.Cases {
				m, err := Load(filepath.Join("testdata", file.name), WithInputSize(c.Size))
				if err != nil {
					t.Fatal(err)
				}
				if m.Format() != file.format {
					t.Errorf("%s: format %q, want %q", file.name, m.Format(), file.format)
				}
				if m.Classes() != ref.Classes || !paritytest.Near(m.Width(), ref.Width, 1e-9) {
					t.Errorf("%s: %d classes width %v, want %d and %v", file.name, m.Classes(), m.Width(), ref.Classes, ref.Width)
				}
				s := m.NewStream()
				worst := 0.0
				for i, frame := range c.Order {
					got, err := s.Step(syntheticFrame(frame, c.Size))
					if err != nil {
						t.Fatal(err)
					}
					e := relErr(got, c.Logits[i])
					worst = max(worst, e)
					if e > 1e-4 {
						t.Errorf("%s size %d order %v frame %d: relative error %.3g > 1e-4", file.name, c.Size, c.Order[:2], i, e)
					}
				}
				t.Logf("%s size %d order %v: worst relative error %.2g over %d frames", file.name, c.Size, c.Order[:2], worst, len(c.Order))
				m.Close()
			}
		}
	})
}

// The cache must matter: a frame's logits depend on the frames before it,
// and Reset brings back the first frame's logits exactly.
func TestCacheMatters(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "tsm_w035.pth"), WithInputSize(160))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := m.NewStream()
	first, err := s.Step(syntheticFrame(3, 160))
	if err != nil {
		t.Fatal(err)
	}
	first = append([]float32(nil), first...)
	var afterOthers []float32
	for _, f := range []int{5, 1, 3} {
		if afterOthers, err = s.Step(syntheticFrame(f, 160)); err != nil {
			t.Fatal(err)
		}
	}
	if e := relErr(afterOthers, first); e < 1e-3 {
		t.Errorf("frame 3 after frames 3,5,1 gave the logits of frame 3 alone (relative difference %.2g): the cache has no effect", e)
	}
	if s.Frames() != 4 {
		t.Errorf("Frames = %d, want 4", s.Frames())
	}
	s.Reset()
	again, err := s.Step(syntheticFrame(3, 160))
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if again[i] != first[i] {
			t.Fatalf("after Reset logit %d = %v, want exactly %v", i, again[i], first[i])
		}
	}
	// A second stream on the same model is independent of the first.
	other, err := m.NewStream().Step(syntheticFrame(3, 160))
	if err != nil {
		t.Fatal(err)
	}
	if relErr(other, first) != 0 {
		t.Error("a new stream's first frame differs from another stream's first frame")
	}
}
