package stream

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/livetsm/livetsm/stream/synth"
)

func TestSynthetic(t *testing.T) {
	tests := []struct {
		name string
		live bool
	}{{"not live", false}, {"live", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock(0)
			s := NewSynthetic(SyntheticOptions{Config: synth.Config{Width: 64, Height: 48, FPS: 20, Seed: 3}, Live: tt.live, Frames: 4, Clock: clk})
			if s.Live() != tt.live {
				t.Errorf("Live() = %v", s.Live())
			}
			var last time.Time
			for i := range 4 {
				f, err := s.Read(context.Background(), nil)
				if err != nil {
					t.Fatal(err)
				}
				if b := f.Image.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
					t.Errorf("frame size %v", b)
				}
				if i > 0 && f.Time.Sub(last) != 50*time.Millisecond {
					t.Errorf("frame %d is %v after the last, want 50ms", i, f.Time.Sub(last))
				}
				last = f.Time
			}
			if _, err := s.Read(context.Background(), nil); !errors.Is(err, io.EOF) {
				t.Errorf("after Frames: %v, want io.EOF", err)
			}
			if tt.live && len(clk.Waits()) != 3 {
				t.Errorf("live source waited %v, want 3 waits", clk.Waits())
			}
		})
	}
}

// TestRunSynthetic runs the model over the synthetic source, end to end.
func TestRunSynthetic(t *testing.T) {
	m := testModel(t)
	src := NewSynthetic(SyntheticOptions{Config: synth.Config{Width: 64, Height: 48, FPS: 30, Seed: 1}, Frames: 20})
	got, st := collect(t, src, m, Options{})
	if len(got) != 10 || st.Frames != 20 || st.Skipped != 10 {
		t.Errorf("%d predictions, stats %+v; want 10 of 20 frames", len(got), st)
	}
}
