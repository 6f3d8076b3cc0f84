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
// counterpart of the capture sources of package stream/capture: it does not
// pace, and counts nothing; stream.Run reads it on its own goroutine as
// fast as frames come, paces them, and counts the frames it skips and
// drops.
type pushSource struct {
	mu     sync.Mutex
	img    *image.YCbCr
	ts     time.Time
	reset  bool
	fresh  bool          // img has not been read yet
	notify chan struct{} // has a token while a fresh frame waits
	done   chan struct{} // closed by Close
	once   sync.Once
}

var _ stream.Source = (*pushSource)(nil)

func newPushSource() *pushSource {
	return &pushSource{notify: make(chan struct{}, 1), done: make(chan struct{})}
}

// Put offers a decoded frame captured at ts. The source keeps img until a
// later Put replaces it; the caller must not modify it afterwards. reset
// marks a discontinuity (the model's cache restarts with this frame).
func (s *pushSource) Put(img *image.YCbCr, ts time.Time, reset bool) {
	s.mu.Lock()
	s.img, s.ts = img, ts
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
	for {
		select {
		case <-s.done:
			return stream.Frame{}, io.EOF
		default:
		}
		s.mu.Lock()
		if s.fresh {
			img, ts, reset := s.img, s.ts, s.reset
			s.fresh, s.reset = false, false
			s.mu.Unlock()
			b := img.Bounds()
			dst := stream.FitRGBA(buf, b.Dx(), b.Dy())
			draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
			return stream.Frame{Image: dst, Time: ts, Reset: reset}, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return stream.Frame{}, ctx.Err()
		case <-s.done:
			return stream.Frame{}, io.EOF
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
