package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/onlinetsm"
)

func TestLoadModel(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The published key layout with 27 classes, as the parity fixture
	// (width 0.35) stands in for mobilenetv2_jester_online.pth.tar.
	ckpt := filepath.Join("..", "..", "onlinetsm", "testdata", "tsm_w035.pth.tar")
	dir := t.TempDir()
	three := filepath.Join(dir, "three.txt")
	if err := os.WriteFile(three, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, weights, labels string
		wantLabel0, wantErr   string
	}{
		{"default model", "", "", "Swiping Left", ""},
		{"published layout with jester labels", ckpt, "jester", onlinetsm.JesterLabels()[0], ""},
		{"labels that do not fit", ckpt, three, "", "3 labels given for a model of 27 classes"},
		{"missing labels file", ckpt, filepath.Join(dir, "none.txt"), "", "--labels: open"},
		{"missing weights", filepath.Join(dir, "none.pth"), "", "", "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, err := loadModel(tc.weights, tc.labels, 0, 1, log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if got := m.Labels()[0]; got != tc.wantLabel0 {
				t.Fatalf("first label %q, want %q", got, tc.wantLabel0)
			}
		})
	}
}
