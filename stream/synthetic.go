package stream

import (
	"context"
	"errors"
	"image"
	"io"
	"sync"
	"time"

	"github.com/livetsm/livetsm/stream/synth"
)

// SyntheticOptions configure a SyntheticSource.
type SyntheticOptions struct {
	// Config sets the generator: frame size, frame rate (default 15) and seed.
	Config synth.Config
	// Live paces frames to the wall clock (Clock) at Config.FPS, like a
	// camera; otherwise frames come as fast as they are rendered, with
	// timestamps 1/FPS apart.
	Live bool
	// Frames ends the source with io.EOF after this many frames; 0 means
	// never.
	Frames int64
	// Clock times a live source; nil means the wall clock.
	Clock Clock
}

// SyntheticSource is a Source of synthetic hand-gesture video from package
// synth: an endless stream of gestures with rest between them.
type SyntheticSource struct {
	live   *synth.Live
	opts   SyntheticOptions
	clock  Clock
	period time.Duration
	start  time.Time
	n      int64

	mu     sync.Mutex
	closed bool
}

// NewSynthetic returns a SyntheticSource for opts.
func NewSynthetic(opts SyntheticOptions) *SyntheticSource {
	g := synth.New(opts.Config)
	return &SyntheticSource{
		live:   g.Live(),
		opts:   opts,
		clock:  clockOr(opts.Clock),
		period: time.Duration(float64(time.Second) / g.Config().FPS),
	}
}

// Read renders the next frame, waiting for its time when the source is
// live. The frame is a new image; buf is not used.
func (s *SyntheticSource) Read(ctx context.Context, buf *image.RGBA) (Frame, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return Frame{}, errors.New("synthetic: source closed")
	}
	if err := ctx.Err(); err != nil {
		return Frame{}, err
	}
	if s.opts.Frames > 0 && s.n >= s.opts.Frames {
		return Frame{}, io.EOF
	}
	if s.n == 0 {
		s.start = s.clock.Now()
	}
	ts := s.start.Add(time.Duration(s.n) * s.period)
	if !s.opts.Live {
		img, _ := s.live.Next()
		s.n++
		return Frame{Image: img, Time: ts}, nil
	}
	if err := sleep(ctx, s.clock, ts.Sub(s.clock.Now())); err != nil {
		return Frame{}, err
	}
	img, _ := s.live.Next()
	// Like a camera, a live source stamps a frame when it is captured (here:
	// rendered) and, when it cannot keep up, skips ahead instead of
	// falling further behind.
	now := s.clock.Now()
	s.n++
	if behind := now.Sub(s.start.Add(time.Duration(s.n) * s.period)); behind > s.period {
		s.n += int64(behind / s.period)
	}
	return Frame{Image: img, Time: now}, nil
}

// Live reports whether the source is paced to the wall clock.
func (s *SyntheticSource) Live() bool { return s.opts.Live }

// Close ends the source: later Reads fail.
func (s *SyntheticSource) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
