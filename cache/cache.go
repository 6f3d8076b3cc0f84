// Package cache holds the per-stream state of an online temporal shift
// network: for every shifted block, the channels of the previous frame that
// the block hands on to the next one.
//
// A State is a set of slots, one per shifted block, each a planar C×H×W
// float32 buffer. The engine reads a slot in place while it computes the
// block (the cached channels are the first rows of the block's first 1×1
// convolution) and then overwrites it with the current frame's channels, so a
// frame costs one small copy per shifted block and no allocation.
package cache

import (
	"fmt"
	"slices"
)

// Shape is the C×H×W shape of one slot.
type Shape struct {
	C, H, W int
}

// Len is the number of float32 values in a slot of this shape.
func (s Shape) Len() int { return s.C * s.H * s.W }

// String formats the shape as (C,H,W), as PyTorch prints sizes.
func (s Shape) String() string { return fmt.Sprintf("(%d,%d,%d)", s.C, s.H, s.W) }

// State is the shift state of one stream. It is used by one goroutine at a
// time.
type State struct {
	shapes []Shape
	slots  [][]float32
	frames int64
}

// New returns a zeroed State with one slot per shape, backed by a single
// allocation.
func New(shapes []Shape) *State {
	total := 0
	for _, s := range shapes {
		total += s.Len()
	}
	backing := make([]float32, total)
	slots := make([][]float32, len(shapes))
	off := 0
	for i, s := range shapes {
		slots[i] = backing[off : off+s.Len() : off+s.Len()]
		off += s.Len()
	}
	return &State{shapes: slices.Clone(shapes), slots: slots}
}

// Len is the number of slots.
func (s *State) Len() int { return len(s.slots) }

// Shapes returns the slot shapes, in block order.
func (s *State) Shapes() []Shape { return slices.Clone(s.shapes) }

// Slot returns slot i: the previous frame's channels for the i-th shifted
// block (zeros before the first frame). The engine overwrites it in place.
func (s *State) Slot(i int) []float32 { return s.slots[i] }

// Store copies the current frame's channels src into slot i.
func (s *State) Store(i int, src []float32) {
	copy(s.slots[i], src[:len(s.slots[i])])
}

// Advance records that one more frame has gone through the network.
func (s *State) Advance() { s.frames++ }

// Frames is the number of frames since the State was made or last Reset.
func (s *State) Frames() int64 { return s.frames }

// Reset zeroes every slot, as at the start of a stream.
func (s *State) Reset() {
	for _, sl := range s.slots {
		clear(sl)
	}
	s.frames = 0
}

// Bytes is the memory held by the slots.
func (s *State) Bytes() int {
	n := 0
	for _, sh := range s.shapes {
		n += 4 * sh.Len()
	}
	return n
}
