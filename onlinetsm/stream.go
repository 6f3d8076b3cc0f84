package onlinetsm

import (
	"fmt"
	"math"
	"strconv"

	"gorgonia.org/tensor"

	"github.com/livetsm/livetsm/cache"
	"github.com/livetsm/livetsm/onlinetsm/internal/kern"
)

// Stream runs a Model over the frames of one video, one frame at a time,
// carrying the temporal shift cache from frame to frame. A Stream is used by
// one goroutine at a time; many Streams may share one Model.
type Stream struct {
	m       *Model
	state   *cache.State
	scratch kern.Scratch
	x, y    []float32 // block input and output
	hid, dw []float32 // expanded and depthwise activations
	pooled  []float32
	logits  []float32
}

// NewStream returns a Stream at the start of a video (the cache holds zeros).
func (m *Model) NewStream() *Stream {
	return &Stream{
		m:      m,
		state:  cache.New(m.shapes),
		x:      make([]float32, m.maxAct),
		y:      make([]float32, m.maxAct),
		hid:    make([]float32, m.maxHid),
		dw:     make([]float32, m.maxDW),
		pooled: make([]float32, m.lastC),
		logits: make([]float32, m.classes),
	}
}

// Model returns the model the stream runs.
func (s *Stream) Model() *Model { return s.m }

// State returns the stream's shift cache.
func (s *Stream) State() *cache.State { return s.state }

// Frames is the number of frames stepped since the stream began or was last
// reset.
func (s *Stream) Frames() int64 { return s.state.Frames() }

// Reset clears the shift cache, as at the start of a new video.
func (s *Stream) Reset() { s.state.Reset() }

// Step runs one frame through the network and returns the logits. The frame
// is a normalised float32 tensor of shape (3, H, W) or (1, 3, H, W) with H and
// W equal to the model's input size.
//
// The returned slice belongs to the Stream and is overwritten by the next
// Step; copy it to keep it. A frame that is rejected (wrong shape or type,
// NaN or infinite values) leaves the cache as it was.
func (s *Stream) Step(frame *tensor.Dense) ([]float32, error) {
	if frame == nil {
		return nil, fmt.Errorf("onlinetsm: step: nil frame")
	}
	if frame.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("onlinetsm: step: frame has dtype %v, want float32", frame.Dtype())
	}
	shape := frame.Shape()
	n := s.m.size
	ok := (len(shape) == 3 && shape[0] == 3 && shape[1] == n && shape[2] == n) ||
		(len(shape) == 4 && shape[0] == 1 && shape[1] == 3 && shape[2] == n && shape[3] == n)
	if !ok {
		return nil, fmt.Errorf("onlinetsm: step: frame has shape %s, want (3, %d, %d)", fmtShape(shape), n, n)
	}
	if frame.IsView() {
		return nil, fmt.Errorf("onlinetsm: step: frame is a view; pass a materialized tensor")
	}
	// Float32s reads the backing slice without the allocation of Data().
	return s.StepData(frame.Float32s())
}

// StepData is Step for a frame given as its raw CHW values (3·H·W float32).
func (s *Stream) StepData(data []float32) ([]float32, error) {
	n := s.m.size
	if len(data) != 3*n*n {
		return nil, fmt.Errorf("onlinetsm: step: frame has %d values, want 3×%d×%d = %d", len(data), n, n, 3*n*n)
	}
	if !allFinite(data) {
		for i, v := range data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("onlinetsm: step: frame value %d (channel %d, y %d, x %d) is %v", i, i/(n*n), i/n%n, i%n, v)
			}
		}
	}
	s.forward(data)
	return s.logits, nil
}

func (s *Stream) forward(frame []float32) {
	m := s.m
	pool := m.pool
	cur, _ := s.forwardBlocks(frame, len(m.blocks))
	kern.Conv1x1(pool, &s.scratch, m.head.w, nil, 0, cur, m.lastHW, m.head.bias, nil, kern.ActReLU6, s.hid)
	kern.AvgPool(s.hid, m.lastC, m.lastHW, s.pooled)
	kern.Linear(m.fcW, m.fcB, s.pooled, m.classes, m.lastC, s.logits)
	s.state.Advance()
}

// fmtShape formats a shape as PyTorch prints sizes: (3, 224, 224).
func fmtShape(shape []int) string {
	b := []byte{'('}
	for i, d := range shape {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(d), 10)
	}
	return string(append(b, ')'))
}
