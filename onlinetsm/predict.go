package onlinetsm

import (
	"math"
	"slices"
)

// Prediction is one class and its score.
type Prediction struct {
	Index int     `json:"index"`
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// Softmax writes the softmax of logits into dst (grown if too short) and
// returns it. It is stable for large logits.
func Softmax(dst, logits []float32) []float32 {
	if cap(dst) < len(logits) {
		dst = make([]float32, len(logits))
	}
	dst = dst[:len(logits)]
	if len(logits) == 0 {
		return dst
	}
	mx := slices.Max(logits)
	var sum float64
	for i, v := range logits {
		e := math.Exp(float64(v - mx))
		dst[i] = float32(e)
		sum += e
	}
	for i := range dst {
		dst[i] = float32(float64(dst[i]) / sum)
	}
	return dst
}

// TopK returns the indices of the k largest scores, largest first; ties go
// to the lower index. k is clamped to len(scores).
func TopK(scores []float32, k int) []int {
	k = min(max(k, 0), len(scores))
	idx := make([]int, 0, k)
	for i, v := range scores {
		// Insert i keeping idx sorted by score, descending.
		pos := len(idx)
		for pos > 0 && scores[idx[pos-1]] < v {
			pos--
		}
		if pos >= k {
			continue
		}
		if len(idx) < k {
			idx = append(idx, 0)
		}
		copy(idx[pos+1:], idx[pos:len(idx)-1])
		idx[pos] = i
	}
	return idx
}

// Top returns the k most likely classes for logits, with softmax scores and
// the model's labels.
func (m *Model) Top(logits []float32, k int) []Prediction {
	probs := Softmax(nil, logits)
	idx := TopK(probs, k)
	out := make([]Prediction, len(idx))
	for i, j := range idx {
		out[i] = Prediction{Index: j, Label: m.labels[j], Score: probs[j]}
	}
	return out
}
