package stream

import "time"

// Class is one class and its score.
type Class struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// Prediction is what Run emits for every frame the model processes.
type Prediction struct {
	// TS is the frame's capture time.
	TS time.Time `json:"ts"`
	// Frame is the frame's number among all frames read from the source,
	// from 0, counting those skipped by pacing and dropped.
	Frame int64 `json:"frame"`
	// Label is the predicted class (after smoothing, when on) and Index its
	// index among the model's labels.
	Label string `json:"label"`
	Index int    `json:"index"`
	// Score is the softmax score of Label.
	Score float32 `json:"score"`
	// Top lists the most likely classes, best first.
	Top []Class `json:"top5"`
	// LatencyMS is the time from capture (for live sources; from reading,
	// for files) to this prediction, in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	// FPS is the rate of recent predictions, per second.
	FPS float64 `json:"fps"`
	// Dropped counts the frames that were due but lost because inference
	// was behind, since the run began.
	Dropped int64 `json:"dropped"`
	// Reset is set on the first prediction after a discontinuity (a
	// reconnect), which starts from a fresh cache.
	Reset bool `json:"reset,omitempty"`
}
