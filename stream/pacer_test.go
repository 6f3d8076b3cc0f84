package stream

import (
	"testing"
	"time"
)

// stamps returns n timestamps of a source at fps starting at t0, each
// shifted by jitter(i).
func stamps(t0 time.Time, n int, fps float64, jitter func(i int) time.Duration) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = t0.Add(time.Duration(float64(i) * float64(time.Second) / fps))
		if jitter != nil {
			out[i] = out[i].Add(jitter(i))
		}
	}
	return out
}

func TestPacer(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// A deterministic ±4 ms wobble.
	wobble := func(i int) time.Duration { return time.Duration((i*7919)%9-4) * time.Millisecond }
	tests := []struct {
		name      string
		fps       float64
		ts        []time.Time
		wantDue   int
		wantFirst []bool // the pattern of the first frames, when given
	}{
		{"30 fps source at 15 fps: every other frame", 15, stamps(t0, 60, 30, nil), 30,
			[]bool{true, false, true, false, true, false}},
		{"30 fps with jitter at 15 fps", 15, stamps(t0, 60, 30, wobble), 30,
			[]bool{true, false, true, false, true, false}},
		{"20 fps source at 15 fps: 15 per second", 15, stamps(t0, 60, 20, nil), 45, nil},
		{"15 fps source at 15 fps: all", 15, stamps(t0, 30, 15, wobble), 30, nil},
		{"10 fps source at 15 fps: all", 15, stamps(t0, 30, 10, nil), 30, nil},
		{"60 fps source at 15 fps: one in four", 15, stamps(t0, 120, 60, nil), 30,
			[]bool{true, false, false, false, true}},
		{"fps 0: all", 0, stamps(t0, 10, 30, nil), 10, nil},
		{"same timestamp twice", 15, []time.Time{t0, t0, t0.Add(70 * time.Millisecond)}, 2,
			[]bool{true, false, true}},
		{"a gap does not let a burst through", 15,
			append(stamps(t0, 4, 30, nil), stamps(t0.Add(time.Second), 6, 30, nil)...), 2 + 3,
			[]bool{true, false, true, false, true, false, true, false, true, false}},
		{"time going back restarts the schedule", 15,
			append(stamps(t0.Add(time.Second), 4, 30, nil), stamps(t0, 4, 30, nil)...), 4,
			[]bool{true, false, true, false, true, false, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPacer(tt.fps)
			due := 0
			var got []bool
			for _, ts := range tt.ts {
				d := p.Due(ts)
				got = append(got, d)
				if d {
					due++
				}
			}
			if due != tt.wantDue {
				t.Errorf("%d frames due, want %d (pattern %v)", due, tt.wantDue, got)
			}
			for i, w := range tt.wantFirst {
				if got[i] != w {
					t.Errorf("frame %d due = %v, want %v (pattern %v)", i, got[i], w, got[:len(tt.wantFirst)])
					break
				}
			}
		})
	}
}

func TestPacerReset(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewPacer(15)
	if !p.Due(t0) {
		t.Fatal("first frame not due")
	}
	if p.Due(t0.Add(10 * time.Millisecond)) {
		t.Fatal("frame 10 ms later is due")
	}
	p.Reset()
	if !p.Due(t0.Add(20 * time.Millisecond)) {
		t.Fatal("first frame after Reset not due")
	}
	if got, want := p.Interval(), time.Second/15; got != want {
		t.Errorf("Interval = %v, want %v", got, want)
	}
}
