package defaultmodel

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
	"github.com/livetsm/livetsm/onlinetsm"
)

// parityFile is testdata/parity.json, written by tools/ship_model.py with the
// model it ships.
type parityFile struct {
	SHA256 string      `json:"sha256"`
	Size   int         `json:"size"`
	Logits [][]float32 `json:"logits"`
}

// The embedded model gives PyTorch's logits (tools/tsm_reference.py with the
// same weights), frame after frame with the cache carried, on every kernel
// path this CPU runs.
func TestParityWithPyTorch(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "parity.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref parityFile
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("testdata/parity.json: %v", err)
	}
	sum := sha256.Sum256(weights)
	if got := hex.EncodeToString(sum[:]); got != ref.SHA256 {
		t.Fatalf("testdata/parity.json is of the model with SHA-256 %s, the embedded one is %s: "+
			"ship models with tools/ship_model.py (or rewrite the fixture with its --fixture-only)", ref.SHA256, got)
	}
	if len(ref.Logits) < 2 {
		t.Fatalf("testdata/parity.json holds %d frames, want at least 2", len(ref.Logits))
	}
	for _, path := range onlinetsm.KernelPaths() {
		t.Run(path, func(t *testing.T) {
			restore, err := onlinetsm.UseKernels(path)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			m, err := Load()
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.InputSize() != ref.Size {
				t.Fatalf("input size %d, the fixture's %d", m.InputSize(), ref.Size)
			}
			s := m.NewStream()
			worst := 0.0
			for f, want := range ref.Logits {
				got, err := s.Step(paritytest.SyntheticFrame(f, ref.Size))
				if err != nil {
					t.Fatalf("frame %d: %v", f, err)
				}
				e := paritytest.RelErr(got, want)
				if e > 1e-4 {
					t.Errorf("frame %d: max|Go−PyTorch|/max|PyTorch| = %.2g > 1e-4", f, e)
				}
				worst = max(worst, e)
			}
			t.Logf("worst relative error %.2g over %d frames", worst, len(ref.Logits))
		})
	}
}
