package onlinetsm

import (
	"fmt"

	"github.com/livetsm/livetsm/onlinetsm/internal/kern"
)

// MaxBatchSize bounds the number of streams one Batch steps together.
const MaxBatchSize = 64

// Batch is a reusable workspace that steps several Streams of one Model
// through the network together: every layer runs once for the whole batch,
// the 1×1 convolutions as one GEMM over all the streams' pixels (the packed
// weights are read once per layer rather than once per stream), the
// depthwise convolutions as one job over all the streams' channels. Each
// Stream keeps its own shift cache, read and updated exactly as Step does,
// so a stream's logits are the same (to float32 rounding) whichever streams
// it is batched with, and the same as stepping it alone.
//
// The activations live in each Stream's own buffers, so a Batch itself is
// small. It is used by one goroutine at a time; many Batches may share one
// Model.
type Batch struct {
	m    *Model
	size int

	split   int // the first block run batched
	scratch kern.Scratch
	// Per stream of the current batch: its activation buffers (the
	// stream's own) and GEMM operands.
	cur, next, hids, dws [][]float32
	segs                 []kern.Seg
	out                  [][]float32
}

// DefaultBatchPlane is the largest plane (H·W pixels of a block's input)
// whose blocks a Batch runs batched; blocks on larger planes run stream by
// stream. Measured on a 2-core AMD EPYC at 224 px (width 1.0): batching
// the 28² and larger layers only loses cache locality (one stream already
// gives their GEMMs hundreds to thousands of columns), while the 14² and 7²
// layers, whose weights are large and planes small, gain.
const DefaultBatchPlane = 14 * 14

// NewBatch returns a Batch for up to size streams (size is clamped to
// [1, MaxBatchSize]).
func (m *Model) NewBatch(size int) *Batch {
	size = min(max(size, 1), MaxBatchSize)
	b := &Batch{
		m: m, size: size,
		cur:  make([][]float32, size),
		next: make([][]float32, size),
		hids: make([][]float32, size),
		dws:  make([][]float32, size),
		segs: make([]kern.Seg, size),
		out:  make([][]float32, size),
	}
	b.setPlane(DefaultBatchPlane)
	return b
}

// setPlane batches the blocks whose input plane has at most plane pixels.
func (b *Batch) setPlane(plane int) {
	b.split = len(b.m.blocks)
	for i, blk := range b.m.blocks {
		if blk.h*blk.w <= plane {
			b.split = i
			break
		}
	}
}

// Size is the most streams the Batch steps at once.
func (b *Batch) Size() int { return b.size }

// Model returns the model the Batch runs.
func (b *Batch) Model() *Model { return b.m }

// Step runs frames[i] through the network as the next frame of streams[i],
// for every i, in one pass, and returns the logits of each stream in order.
// Each frame holds the raw CHW values (3·H·W float32) of a normalised frame,
// as for StepData.
//
// The i-th returned slice belongs to streams[i] and is overwritten by that
// stream's next Step or batched step (it is the slice Step would return);
// the outer slice belongs to the Batch and is overwritten by its next Step.
// Copy what you keep.
//
// Step is all or nothing: every stream and frame is checked first (a nil,
// repeated or foreign stream, a frame of the wrong size or with NaN or
// infinite values), and an error names the first bad one and leaves every
// cache untouched. The streams must not be stepped elsewhere during the
// call. Step does not allocate in the steady state.
func (b *Batch) Step(streams []*Stream, frames [][]float32) ([][]float32, error) {
	if err := b.check(streams, frames); err != nil {
		return nil, err
	}
	n := len(streams)
	if n == 0 {
		return b.out[:0], nil
	}
	b.forward(streams, frames)
	out := b.out[:n]
	for i, s := range streams {
		out[i] = s.logits
	}
	return out, nil
}

// check validates a batch before any state changes.
func (b *Batch) check(streams []*Stream, frames [][]float32) error {
	if len(streams) != len(frames) {
		return fmt.Errorf("onlinetsm: batch: %d streams but %d frames", len(streams), len(frames))
	}
	if len(streams) > b.size {
		return fmt.Errorf("onlinetsm: batch: %d streams exceed the batch size %d", len(streams), b.size)
	}
	for i, s := range streams {
		switch {
		case s == nil:
			return fmt.Errorf("onlinetsm: batch: stream %d is nil", i)
		case s.m != b.m:
			return fmt.Errorf("onlinetsm: batch: stream %d belongs to another model", i)
		}
		for j := range i {
			if streams[j] == s {
				return fmt.Errorf("onlinetsm: batch: stream %d is the same Stream as stream %d", i, j)
			}
		}
		if err := b.m.checkFrame(frames[i]); err != nil {
			return fmt.Errorf("onlinetsm: batch: stream %d: %w", i, err)
		}
	}
	return nil
}

// forward is Stream.forward for a batch. The blocks before b.split (large
// planes, where one stream already gives the GEMMs thousands of columns)
// run stream by stream in the streams' own buffers, which keeps each
// stream's activations in cache; the blocks from b.split on and the head
// run batched: each layer once for all the streams.
func (b *Batch) forward(streams []*Stream, frames [][]float32) {
	m := b.m
	pool := m.pool
	n := len(streams)
	cur, next := b.cur[:n], b.next[:n]
	hids, dws, segs := b.hids[:n], b.dws[:n], b.segs[:n]
	for i, s := range streams {
		cur[i], next[i] = s.forwardBlocks(frames[i], b.split)
		hids[i], dws[i] = s.hid, s.dw
	}
	for bi := b.split; bi < len(m.blocks); bi++ {
		blk := &m.blocks[bi]
		hw, ohw := blk.h*blk.w, blk.oh*blk.ow
		if blk.expand == nil {
			kern.Depthwise3x3Batch(pool, cur, blk.hid, blk.h, blk.w, blk.stride, blk.dwW, blk.dwB, kern.ActReLU6, dws)
		} else {
			k0 := 0
			if blk.slot >= 0 {
				k0 = blk.shiftC
			}
			for i, s := range streams {
				segs[i] = kern.Seg{B1: cur[i][k0*hw:], C: hids[i]}
				if k0 > 0 {
					segs[i].B0 = s.state.Slot(blk.slot)
				}
			}
			kern.Conv1x1Batch(pool, &b.scratch, blk.expand.w, segs, k0, hw, blk.expand.bias, kern.ActReLU6)
			kern.Depthwise3x3Batch(pool, hids, blk.hid, blk.h, blk.w, blk.stride, blk.dwW, blk.dwB, kern.ActReLU6, dws)
		}
		for i := range streams {
			segs[i] = kern.Seg{B1: dws[i], C: next[i]}
			if blk.res {
				segs[i].Res = cur[i]
			}
		}
		kern.Conv1x1Batch(pool, &b.scratch, blk.proj.w, segs, 0, ohw, blk.proj.bias, kern.ActNone)
		if blk.slot >= 0 {
			for i, s := range streams {
				s.state.Store(blk.slot, cur[i][:blk.shiftC*hw])
			}
		}
		for i := range n {
			cur[i], next[i] = next[i], cur[i]
		}
	}
	for i := range streams {
		segs[i] = kern.Seg{B1: cur[i], C: hids[i]}
	}
	kern.Conv1x1Batch(pool, &b.scratch, m.head.w, segs, 0, m.lastHW, m.head.bias, kern.ActReLU6)
	for i, s := range streams {
		kern.AvgPool(hids[i], m.lastC, m.lastHW, s.pooled)
		kern.Linear(m.fcW, m.fcB, s.pooled, m.classes, m.lastC, s.logits)
		s.state.Advance()
	}
	// Drop the references to the streams' buffers.
	clear(segs)
	clear(cur)
	clear(next)
	clear(hids)
	clear(dws)
}

// forwardBlocks runs the stem and blocks [0, end) of Stream.forward on the
// stream's own buffers and returns the block input of block end and the
// other activation buffer.
func (s *Stream) forwardBlocks(frame []float32, end int) (cur, next []float32) {
	m := s.m
	pool := m.pool
	kern.Conv3x3(pool, &s.scratch, m.stem.w, frame, 3, m.size, m.size, 2, m.stem.bias, kern.ActReLU6, s.x)
	cur, next = s.x, s.y
	for i := range m.blocks[:end] {
		b := &m.blocks[i]
		hw, ohw := b.h*b.w, b.oh*b.ow
		var res []float32
		if b.res {
			res = cur
		}
		if b.expand == nil {
			kern.Depthwise3x3(pool, cur, b.hid, b.h, b.w, b.stride, b.dwW, b.dwB, kern.ActReLU6, s.dw)
		} else {
			var b0, b1 []float32 = nil, cur
			k0 := 0
			if b.slot >= 0 {
				k0 = b.shiftC
				b0, b1 = s.state.Slot(b.slot), cur[k0*hw:]
			}
			kern.Conv1x1(pool, &s.scratch, b.expand.w, b0, k0, b1, hw, b.expand.bias, nil, kern.ActReLU6, s.hid)
			kern.Depthwise3x3(pool, s.hid, b.hid, b.h, b.w, b.stride, b.dwW, b.dwB, kern.ActReLU6, s.dw)
		}
		kern.Conv1x1(pool, &s.scratch, b.proj.w, nil, 0, s.dw, ohw, b.proj.bias, res, kern.ActNone, next)
		if b.slot >= 0 {
			s.state.Store(b.slot, cur[:b.shiftC*hw])
		}
		cur, next = next, cur
	}
	return cur, next
}

// Bytes is the memory a Stream holds: its shift cache and its activation
// buffers (for memory accounting of many streams).
func (s *Stream) Bytes() int {
	return s.state.Bytes() + 4*(len(s.x)+len(s.y)+len(s.hid)+len(s.dw)+len(s.pooled)+len(s.logits))
}
