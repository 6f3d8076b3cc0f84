package stream

import "github.com/livetsm/livetsm/onlinetsm"

// DefaultWindow is the number of frames whose logits are averaged when
// smoothing, as in the published demo.
const DefaultWindow = 12

// Smoother turns each frame's logits into a steadier prediction, as the
// published online demo (temporal-shift-module/online_demo/main.py) does:
//
//  1. average the logits of the last Window frames (the demo sums them,
//     which has the same argmax) and take the argmax;
//  2. refine with the history of emitted labels: when the new label differs
//     from the last one emitted and the last two emitted labels do not
//     agree, keep the last one. A new label therefore has to hold for two
//     steps before the output moves on from it.
//
// Scores are the softmax of the averaged logits. The demo's Jester-specific
// remapping (masking five classes, folding "Doing other things" into "No
// gesture") is not applied: it depends on one label set. The demo starts
// its history at "No gesture"; a Smoother starts empty and emits its first
// prediction as it is.
//
// With smoothing off, Push returns each frame's own argmax and softmax.
// A Smoother is used by one goroutine at a time.
type Smoother struct {
	on     bool
	window int
	ring   [][]float32 // the last window frames' logits
	n, pos int
	avg    []float32
	probs  []float32
	hist   [2]int // the last two emitted indices, most recent first
	nhist  int
}

// NewSmoother returns a Smoother for a model of the given class count.
// window ≤ 0 means DefaultWindow; on false turns smoothing off.
func NewSmoother(classes, window int, on bool) *Smoother {
	if window <= 0 {
		window = DefaultWindow
	}
	if !on {
		window = 1
	}
	s := &Smoother{on: on, window: window, avg: make([]float32, classes), probs: make([]float32, classes)}
	s.ring = make([][]float32, window)
	for i := range s.ring {
		s.ring[i] = make([]float32, classes)
	}
	return s
}

// Push adds one frame's logits and returns the index of the label to show
// and the scores of all classes (softmax, summing to 1). The scores slice
// belongs to the Smoother and is overwritten by the next Push. Logits of a
// length other than the class count are truncated or zero-padded.
func (s *Smoother) Push(logits []float32) (int, []float32) {
	slot := s.ring[s.pos]
	clear(slot)
	copy(slot, logits)
	s.pos = (s.pos + 1) % s.window
	s.n = min(s.n+1, s.window)

	clear(s.avg)
	for i := 0; i < s.n; i++ {
		for c, v := range s.ring[i] {
			s.avg[c] += v
		}
	}
	inv := 1 / float32(s.n)
	for c := range s.avg {
		s.avg[c] *= inv
	}
	s.probs = onlinetsm.Softmax(s.probs, s.avg)
	idx := argmax(s.avg)
	if !s.on {
		return idx, s.probs
	}
	if s.nhist > 0 && idx != s.hist[0] && (s.nhist < 2 || s.hist[0] != s.hist[1]) {
		idx = s.hist[0]
	}
	s.hist[1], s.hist[0] = s.hist[0], idx
	s.nhist = min(s.nhist+1, 2)
	return idx, s.probs
}

// Reset forgets the logits and the label history, as at the start of a new
// video.
func (s *Smoother) Reset() {
	s.n, s.pos, s.nhist = 0, 0, 0
}

// argmax returns the index of the largest value; ties go to the lower index.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
