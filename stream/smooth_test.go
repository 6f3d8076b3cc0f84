package stream

import (
	"slices"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
)

// oneHot returns logits of n classes that favour class c.
func oneHot(n, c int) []float32 {
	l := make([]float32, n)
	l[c] = 4
	return l
}

func TestSmoother(t *testing.T) {
	tests := []struct {
		name   string
		on     bool
		window int
		frames [][]float32
		want   []int
	}{
		{"off: each frame's argmax", false, 0,
			[][]float32{oneHot(3, 0), oneHot(3, 1), oneHot(3, 2), oneHot(3, 1)},
			[]int{0, 1, 2, 1}},
		{"history: a new label must hold two steps", true, 1,
			[][]float32{oneHot(3, 0), oneHot(3, 1), oneHot(3, 1), oneHot(3, 1), oneHot(3, 2), oneHot(3, 0), oneHot(3, 0)},
			// 0 is taken as it is; 1 is held back once (history [0]); then
			// accepted (history [0 0]); 2 is accepted (history [1 1]); 0 is
			// held back (history [2 1]) and accepted next (history [2 2]).
			[]int{0, 0, 1, 1, 2, 2, 0}},
		{"history: a one-frame blip shows, a change after it is held", true, 1,
			[][]float32{oneHot(3, 0), oneHot(3, 0), oneHot(3, 2), oneHot(3, 0), oneHot(3, 0)},
			[]int{0, 0, 2, 2, 0}},
		{"window: the average outvotes one frame", true, 3,
			[][]float32{{3, 0, 0}, {3, 0, 0}, {0, 5, 0}, {0, 5, 0}, {0, 5, 0}},
			// averages (3,0,0) (3,0,0) (2,1.67,0) (1,3.33,0) (0,5,0): class 1
			// wins the average at the 4th frame and, the last two labels
			// agreeing, shows at once.
			[]int{0, 0, 0, 1, 1}},
		{"window of 12 by default", true, 0,
			append(slices.Repeat([][]float32{{1, 0}}, 11), slices.Repeat([][]float32{{0, 1.2}}, 12)...),
			// 11 frames of class 0, then class 1 overtakes the 12-frame
			// average at its 6th frame (sum 6×1 vs 6×1.2 = 7.2).
			append(slices.Repeat([]int{0}, 11+5), slices.Repeat([]int{1}, 7)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSmoother(len(tt.frames[0]), tt.window, tt.on)
			var got []int
			for _, f := range tt.frames {
				idx, probs := s.Push(f)
				got = append(got, idx)
				var sum float64
				for _, p := range probs {
					sum += float64(p)
				}
				if !paritytest.Near(sum, 1, 1e-5) {
					t.Fatalf("scores sum to %v", sum)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("labels %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSmootherScoresAreSoftmaxOfAverage(t *testing.T) {
	s := NewSmoother(2, 2, true)
	s.Push([]float32{0, 2})
	_, probs := s.Push([]float32{2, 0})
	// The average is (1, 1): equal scores.
	if !paritytest.Near(float64(probs[0]), 0.5, 1e-6) || !paritytest.Near(float64(probs[1]), 0.5, 1e-6) {
		t.Errorf("scores %v, want [0.5 0.5]", probs)
	}
}

func TestSmootherReset(t *testing.T) {
	s := NewSmoother(3, 4, true)
	for range 5 {
		s.Push(oneHot(3, 0))
	}
	s.Reset()
	// With the history and logits gone, a new label shows at once.
	if idx, _ := s.Push(oneHot(3, 2)); idx != 2 {
		t.Errorf("after Reset got %d, want 2", idx)
	}
}
