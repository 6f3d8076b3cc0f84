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
	// Min is the wait before the first attempt after the stream is lost
	// (for OpenRetrying, after the first failed attempt); 0 means 500 ms.
	// Each failed attempt doubles the wait, up to Max.
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

// withDefaults fills in the zero fields.
func (opts ReconnectOptions) withDefaults() ReconnectOptions {
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
	return opts
}

// ErrPermanent is matched (errors.Is) by the errors of Permanent: an
// open that no retry can fix, such as a malformed URL, a refused login or
// a path the server does not have.
var ErrPermanent = errors.New("permanent failure")

// permanentError marks an error as permanent without changing its text.
type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

// Permanent marks err as one that retrying cannot fix: OpenRetrying gives
// up at once on it. Its text is err's; errors.Is(…, ErrPermanent) is true.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// OpenRetrying opens a source with open, retrying failed attempts with the
// backoff of Reconnecting (opts.Min, doubling up to opts.Max) until one
// succeeds: for a camera that is not up yet. It gives up at once on an
// error marked Permanent, returning it, and returns ctx.Err() when ctx is
// done first. Each failure is logged with the wait before the next
// attempt, and the connection with the number of attempts it took.
func OpenRetrying(ctx context.Context, open func(ctx context.Context) (Source, error), opts ReconnectOptions) (Source, error) {
	opts = opts.withDefaults()
	clock := clockOr(opts.Clock)
	delay := opts.Min
	for attempt := 1; ; attempt++ {
		s, err := open(ctx)
		if err == nil {
			opts.Log.Info("connected", "stream", opts.Name, "attempt", attempt)
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrPermanent) {
			return nil, err
		}
		opts.Log.Warn("cannot connect yet; retrying", "stream", opts.Name, "attempt", attempt, "in", delay, "err", err)
		if err := sleep(ctx, clock, delay); err != nil {
			return nil, err
		}
		delay = min(2*delay, opts.Max)
	}
}

// Reconnecting returns a Source that reads from first and, when a read
// fails or the stream ends, closes it and opens a new one with open,
// waiting with exponential backoff between failed attempts, until ctx is
// done. The first frame after a reconnect is marked Reset so that the
// model starts from a fresh cache. Every failure to reconnect is retried,
// Permanent or not (a camera's server may refuse a path while it
// restarts). Failures to open the very first source are the caller's:
// pass an already opened one, from OpenRetrying for instance.
func Reconnecting(first Source, open func(ctx context.Context) (Source, error), opts ReconnectOptions) Source {
	opts = opts.withDefaults()
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
