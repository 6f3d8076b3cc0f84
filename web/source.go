package web

import (
	"context"
	"image"
	"image/draw"
	"io"
	"sync"
	"time"

	"github.com/livetsm/livetsm/stream"
)

// pushSource is a live stream.Source fed by pushed decoded frames: the track
// reader calls Put for every decoded frame and stream.Run reads the newest
// one. A frame not yet read when the next arrives is replaced (the newest
// frame wins), so a slow model never queues video. It is the web
// counterpart of the capture sources of package stream/capture.
type pushSource struct {
	mu    sync.Mutex
	img   *image.YCbCr
	ts    time.Time
	seq   int64 // img's number among all frames put, from 0
	reset bool
	fresh bool          // img has not been read yet
	pacer *stream.Pacer // nil: every frame is due
	// Counters: frames put, frames left out by pacing, due frames replaced
	// before they were read.
	frames, skipped, dropped int64
	notify                   chan struct{} // has a token while a fresh frame waits
	done                     chan struct{} // closed by Close
	once                     sync.Once
}

var _ stream.Source = (*pushSource)(nil)

func newPushSource() *pushSource {
	return &pushSource{notify: make(chan struct{}, 1), done: make(chan struct{})}
}

// newPacedSource is a pushSource that keeps only the frames due at fps (as
// stream.Run's pacing does), so that a replaced frame is a frame the model
// should have seen: a dropped one.
func newPacedSource(fps float64) *pushSource {
	s := newPushSource()
	s.pacer = stream.NewPacer(fps)
	return s
}

// Put offers a decoded frame captured at ts. The source keeps img until a
// later Put replaces it; the caller must not modify it afterwards. reset
// marks a discontinuity (the model's cache restarts with this frame).
func (s *pushSource) Put(img *image.YCbCr, ts time.Time, reset bool) {
	s.mu.Lock()
	seq := s.frames
	s.frames++
	if s.pacer != nil {
		if reset {
			s.pacer.Reset()
		}
		if !s.pacer.Due(ts) {
			s.skipped++
			s.reset = s.reset || reset
			s.mu.Unlock()
			return
		}
	}
	if s.fresh {
		s.dropped++
	}
	s.img, s.ts, s.seq = img, ts, seq
	s.reset = s.reset || reset // a replaced frame's reset carries over
	s.fresh = true
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Read waits for a frame newer than the last one read and converts it to
// RGBA in buf (when buf has its size). It returns io.EOF once the source is
// closed.
func (s *pushSource) Read(ctx context.Context, buf *image.RGBA) (stream.Frame, error) {
	f, _, err := s.read(ctx, buf)
	return f, err
}

// counts returns the frames put, skipped by pacing and dropped so far.
func (s *pushSource) counts() (frames, skipped, dropped int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames, s.skipped, s.dropped
}

// read is Read, also returning the frame's number among all frames put.
func (s *pushSource) read(ctx context.Context, buf *image.RGBA) (stream.Frame, int64, error) {
	for {
		select {
		case <-s.done:
			return stream.Frame{}, 0, io.EOF
		default:
		}
		s.mu.Lock()
		if s.fresh {
			img, ts, reset, seq := s.img, s.ts, s.reset, s.seq
			s.fresh, s.reset = false, false
			s.mu.Unlock()
			b := img.Bounds()
			dst := stream.FitRGBA(buf, b.Dx(), b.Dy())
			draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
			return stream.Frame{Image: dst, Time: ts, Reset: reset}, seq, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return stream.Frame{}, 0, ctx.Err()
		case <-s.done:
			return stream.Frame{}, 0, io.EOF
		case <-s.notify:
		}
	}
}

// Live reports true: frames arrive in real time.
func (s *pushSource) Live() bool { return true }

// Close ends the source: a Read in progress and all later ones return
// io.EOF. It is safe to call more than once.
func (s *pushSource) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}
