package defaultmodel

import (
	"slices"
	"testing"
)

var gestures = []string{"Swiping Left", "Swiping Right", "Swiping Up", "Swiping Down",
	"Zooming In With Full Hand", "Zooming Out With Full Hand", "Turning Hand Clockwise",
	"Turning Hand Counterclockwise", "No gesture"}

func TestLoad(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !slices.Equal(m.Labels(), gestures) {
		t.Errorf("labels %q, want %q", m.Labels(), gestures)
	}
	meta := m.Metadata()
	for _, k := range []string{"arch", "width", "input_size", "fps", "mean", "std", "labels", "shift_blocks"} {
		if meta[k] == "" {
			t.Errorf("metadata %q missing", k)
		}
	}
	if len(weights) > 5<<20 {
		t.Errorf("embedded weights are %d bytes, over the 5 MB budget", len(weights))
	}
	if got := len(m.ShiftBlocks()); got != 10 {
		t.Errorf("%d shifted blocks, want 10", got)
	}
}
