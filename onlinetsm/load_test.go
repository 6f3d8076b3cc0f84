package onlinetsm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/onlinetsm/internal/ckpt"
	"github.com/livetsm/livetsm/onlinetsm/internal/ckpt/ckpttest"
)

// The fixture's weights written as safetensors (float32 and float16) with
// livetsm metadata load to the same model.
func TestLoadSafetensors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "tsm_w035.pth"))
	if err != nil {
		t.Fatal(err)
	}
	ck, err := ckpt.Read(raw)
	if err != nil {
		t.Fatal(err)
	}
	labels := make([]string, 27)
	for i := range labels {
		labels[i] = "gesture " + string(rune('A'+i))
	}
	meta := map[string]string{"input_size": "160", "labels": `["` + strings.Join(labels, `","`) + `"]`}
	ref, err := Load(filepath.Join("testdata", "tsm_w035.pth"), WithInputSize(160))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, tc := range []struct {
		name string
		half bool
		tol  float64
	}{{"float32", false, 1e-6}, {"float16", true, 5e-2}} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := ckpttest.WriteSafetensors(&buf, ck.Tensors, meta, tc.half); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "model.safetensors")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Format() != "safetensors" || m.InputSize() != 160 || m.Labels()[3] != "gesture D" {
				t.Fatalf("format %q size %d labels %q: metadata not applied", m.Format(), m.InputSize(), m.Labels()[:4])
			}
			a, b := ref.NewStream(), m.NewStream()
			for f := 0; f < 3; f++ {
				want, _ := a.Step(syntheticFrame(f, 160))
				got, err := b.Step(syntheticFrame(f, 160))
				if err != nil {
					t.Fatal(err)
				}
				if e := relErr(got, want); e > tc.tol {
					t.Fatalf("frame %d: relative error %.2g > %g", f, e, tc.tol)
				}
			}
		})
	}
}

// The parity fixtures written by tools/make_fixtures.py are read in both
// torch.save formats.
func TestCheckpointRepoFixtures(t *testing.T) {
	var got []*ckpt.Checkpoint
	for _, name := range []string{"testdata/tsm_w035.pth", "testdata/tsm_w035.pth.tar"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		ck, err := ckpt.Read(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %s, %d tensors", name, ck.Format, len(ck.Tensors))
		got = append(got, ck)
	}
	if got[0].Format != ckpt.FormatZip || got[1].Format != ckpt.FormatLegacy {
		t.Errorf("formats %q, %q", got[0].Format, got[1].Format)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join("testdata", "tsm_w035.pth.tar"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "nope.pth"), "no such file"},
		{"truncated", write("cut.pth.tar", raw[:len(raw)/2]), "cut.pth.tar"},
		{"not a checkpoint", write("labels.txt", []byte("Swiping Left\nSwiping Right\n")), "labels.txt"},
		{"empty", write("empty.pth", nil), "empty.pth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Load(tc.path)
			if err == nil {
				m.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "onlinetsm: ") {
				t.Fatalf("error %q, want it to start with \"onlinetsm: \" and contain %q", err, tc.want)
			}
		})
	}
}
