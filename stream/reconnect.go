package stream

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"
)

// ReconnectOptions configure Reconnecting.
type ReconnectOptions struct {
	// Min is the wait before the first attempt after the stream is lost;
	// 0 means 500 ms. Each failed attempt doubles the wait, up to Max.
	Min time.Duration
	// Max caps the wait between attempts; 0 means 30 s.
	Max time.Duration
	// Clock waits between attempts; nil means the wall clock.
	Clock Clock
	// Log is told when the stream is lost and when it is back; nil discards.
	Log *slog.Logger
	// Name names the stream in log records (a URL, say).
	Name string
}

// Reconnecting returns a Source that reads from first and, when a read
// fails or the stream ends, closes it and opens a new one with open,
// waiting with exponential backoff between failed attempts, until ctx is
// done. The first frame after a reconnect is marked Reset so that the
// model starts from a fresh cache. Failures to open the very first source
// are the caller's: pass an already opened one.
func Reconnecting(first Source, open func(ctx context.Context) (Source, error), opts ReconnectOptions) Source {
	if opts.Min <= 0 {
		opts.Min = 500 * time.Millisecond
	}
	if opts.Max <= 0 {
		opts.Max = 30 * time.Second
	}
	opts.Max = max(opts.Max, opts.Min)
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &reconnecting{cur: first, open: open, opts: opts, clock: clockOr(opts.Clock), live: first.Live(), delay: opts.Min}
}

type reconnecting struct {
	open  func(ctx context.Context) (Source, error)
	opts  ReconnectOptions
	clock Clock
	live  bool

	mu     sync.Mutex // guards cur and closed against Close
	cur    Source
	closed bool

	delay   time.Duration // wait before the next attempt
	attempt int
	reset   bool // the next frame is the first of a new connection
}

var errClosed = errors.New("source closed")

// Live reports whether the first source was live.
func (r *reconnecting) Live() bool { return r.live }

func (r *reconnecting) current() (Source, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	return r.cur, nil
}

// Read returns the next frame, reconnecting as often as it takes.
func (r *reconnecting) Read(ctx context.Context, buf *image.RGBA) (Frame, error) {
	for {
		cur, err := r.current()
		if err != nil {
			return Frame{}, err
		}
		if cur == nil {
			if err := r.reconnect(ctx); err != nil {
				return Frame{}, err
			}
			continue
		}
		f, err := cur.Read(ctx, buf)
		if err == nil {
			if r.reset {
				f.Reset = true
				r.reset = false
				r.opts.Log.Info("stream back: predictions resume with a fresh cache", "stream", r.opts.Name, "attempts", r.attempt)
			}
			r.attempt = 0
			r.delay = r.opts.Min
			return f, nil
		}
		if ctx.Err() != nil {
			return Frame{}, ctx.Err()
		}
		r.opts.Log.Warn("stream lost; reconnecting", "stream", r.opts.Name, "err", err)
		r.mu.Lock()
		if r.cur == cur {
			r.cur = nil
		}
		r.mu.Unlock()
		cur.Close()
	}
}

// reconnect waits out the backoff and makes one attempt to open the stream.
func (r *reconnecting) reconnect(ctx context.Context) error {
	r.attempt++
	r.opts.Log.Info("reconnecting", "stream", r.opts.Name, "attempt", r.attempt, "in", r.delay)
	if err := sleep(ctx, r.clock, r.delay); err != nil {
		return err
	}
	r.delay = min(2*r.delay, r.opts.Max)
	s, err := r.open(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.opts.Log.Warn("reconnect failed", "stream", r.opts.Name, "attempt", r.attempt, "err", err)
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		s.Close()
		return errClosed
	}
	r.cur = s
	r.reset = true
	r.opts.Log.Info("reconnected", "stream", r.opts.Name, "attempt", r.attempt)
	return nil
}

// Close closes the current connection; a Read in progress fails, and no
// more attempts are made.
func (r *reconnecting) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.cur != nil {
		if err := r.cur.Close(); err != nil {
			return fmt.Errorf("close %s: %w", r.opts.Name, err)
		}
	}
	return nil
}
