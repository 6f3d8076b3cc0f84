package stream

import (
	"context"
	"errors"
	"image"
	"time"
)

// Frame is one picture from a Source with the time it was captured.
type Frame struct {
	// Image holds the pixels. It belongs to whoever called Source.Read until
	// it is handed back to a later Read as the buffer to fill.
	Image *image.RGBA
	// Time is when the frame was captured: the wall clock for live sources,
	// the source's start plus the frame's presentation time for files.
	Time time.Time
	// Reset marks the first frame after a discontinuity (a reconnect): the
	// model's shift cache and the smoothing history start afresh with it.
	Reset bool
}

// Source delivers frames one at a time, in capture order.
type Source interface {
	// Read returns the next frame. It fills buf when buf is non-nil and has
	// the frame's size, and allocates a new image otherwise. It returns
	// io.EOF when a finite source (a file) has no more frames. Read is called
	// by one goroutine at a time.
	Read(ctx context.Context, buf *image.RGBA) (Frame, error)
	// Live reports whether frames arrive in real time (a camera, a network
	// stream): Run then reads them as fast as they come and lets the newest
	// frame win when inference falls behind. Frames of a source that is not
	// live (a file) are all read and paced by their timestamps alone,
	// without waiting for the wall clock.
	Live() bool
	// Close releases the source. It may be called while a Read is in
	// progress on another goroutine; that Read then fails.
	Close() error
}

// ErrStop may be returned by a sink given to Run to end the run early
// without an error.
var ErrStop = errors.New("stream: stop")

// Clock tells the time and waits. Tests use a fake one; nil means the wall
// clock wherever a Clock is taken.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// WallClock is the real Clock, backed by package time.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (WallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func clockOr(c Clock) Clock {
	if c == nil {
		return WallClock{}
	}
	return c
}

// sleep waits for d on c, or until ctx is done.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.After(d):
		return nil
	}
}

// FitRGBA returns buf when it is a w×h RGBA image at the origin with a tight
// stride (so its Pix can be filled in one copy), and a new such image
// otherwise. Sources use it to reuse the buffers Read is given.
func FitRGBA(buf *image.RGBA, w, h int) *image.RGBA {
	if buf != nil && buf.Rect == image.Rect(0, 0, w, h) && buf.Stride == 4*w && len(buf.Pix) == 4*w*h {
		return buf
	}
	return image.NewRGBA(image.Rect(0, 0, w, h))
}
