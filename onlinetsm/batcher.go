package onlinetsm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of BatcherOptions.
const (
	// DefaultMaxBatch is the most streams a Batcher steps together.
	DefaultMaxBatch = 8
	// DefaultMaxWait is how long a Batcher waits, after the first frame of
	// a batch arrives, for other streams' frames.
	DefaultMaxWait = 4 * time.Millisecond
)

// ErrBatcherClosed is returned by BatchClient.Step once its Batcher is
// closed.
var ErrBatcherClosed = errors.New("onlinetsm: batcher closed")

// BatchInfo describes one batch a Batcher ran.
type BatchInfo struct {
	// Size is the number of streams stepped together.
	Size int
	// Wait is the time from the batch's first frame arriving to inference
	// starting; Inference is the time the batch took.
	Wait, Inference time.Duration
}

// BatcherOptions configure a Batcher. The zero value uses the defaults.
type BatcherOptions struct {
	// MaxBatch bounds the streams stepped together (default
	// DefaultMaxBatch, at most MaxBatchSize).
	MaxBatch int
	// MaxWait bounds how long the first frame of a batch waits for more
	// (default DefaultMaxWait; negative means no waiting: a batch holds
	// the frames already queued). A batch runs as soon as every stream
	// with a client has a frame in it, or it is full.
	MaxWait time.Duration
	// OnBatch, if set, is called after every batch, on the Batcher's
	// goroutine, before the batch's streams get their logits (for
	// metrics); it must be quick.
	OnBatch func(BatchInfo)
}

// Batcher steps the Streams of many goroutines through one Model in
// batches: each stream's goroutine calls BatchClient.Step with its next
// frame; a collector goroutine gathers the frames that arrive within
// MaxWait of the first one (up to MaxBatch), runs them as one Batch, and
// hands each stream its logits. A Batcher is safe for concurrent use.
type Batcher struct {
	m       *Model
	opts    BatcherOptions
	reqs    chan *batchReq
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
	clients atomic.Int64
}

// batchReq is one stream's frame waiting for its batch; each BatchClient
// owns one, reused for every frame.
type batchReq struct {
	s      *Stream
	frame  []float32
	logits []float32
	err    error
	at     time.Time
	done   chan struct{} // capacity 1
}

// NewBatcher starts a Batcher for m. Close it when done.
func NewBatcher(m *Model, opts BatcherOptions) *Batcher {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	opts.MaxBatch = min(opts.MaxBatch, MaxBatchSize)
	if opts.MaxWait == 0 {
		opts.MaxWait = DefaultMaxWait
	}
	b := &Batcher{
		m: m, opts: opts,
		reqs: make(chan *batchReq),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	go b.collect()
	return b
}

// Model returns the model the Batcher runs.
func (b *Batcher) Model() *Model { return b.m }

// Options returns the Batcher's options with the defaults filled in.
func (b *Batcher) Options() BatcherOptions { return b.opts }

// Close stops the collector. Frames already in a batch are answered (with
// ErrBatcherClosed if they had not run); later Steps return
// ErrBatcherClosed. Close is idempotent.
func (b *Batcher) Close() {
	b.once.Do(func() { close(b.quit) })
	<-b.done
}

// BatchClient is one stream's handle on a Batcher. It is used by one
// goroutine at a time.
type BatchClient struct {
	b      *Batcher
	req    batchReq
	closed bool
}

// NewClient returns the handle through which s is stepped by the Batcher.
// s must belong to the Batcher's model and must not be stepped by any other
// means (or other client) while a Step is in progress. Close the client when
// the stream ends: the Batcher stops waiting for its frames.
func (b *Batcher) NewClient(s *Stream) (*BatchClient, error) {
	if s == nil {
		return nil, errors.New("onlinetsm: batcher: nil stream")
	}
	if s.m != b.m {
		return nil, errors.New("onlinetsm: batcher: the stream belongs to another model")
	}
	b.clients.Add(1)
	return &BatchClient{b: b, req: batchReq{s: s, done: make(chan struct{}, 1)}}, nil
}

// Stream returns the client's stream.
func (c *BatchClient) Stream() *Stream { return c.req.s }

// Close releases the client. It is idempotent and must not run during a
// Step.
func (c *BatchClient) Close() {
	if !c.closed {
		c.closed = true
		c.b.clients.Add(-1)
	}
}

// Step runs frame (raw CHW values, as for StepData) as the stream's next
// frame in the Batcher's next batch and returns its logits, which belong to
// the stream until its next step. The result is that of Stream.StepData: a
// bad frame fails this stream alone and leaves its cache untouched.
//
// ctx bounds the wait for a place in a batch; once the frame is in a batch,
// Step waits for it to finish (a few milliseconds), since the batch reads
// the frame and writes the stream. Step does not allocate in the steady
// state.
func (c *BatchClient) Step(ctx context.Context, frame []float32) ([]float32, error) {
	if c.closed {
		return nil, errors.New("onlinetsm: batcher: step on a closed client")
	}
	r := &c.req
	r.frame, r.logits, r.err, r.at = frame, nil, nil, time.Now()
	select {
	case c.b.reqs <- r:
	case <-ctx.Done():
		r.frame = nil
		return nil, ctx.Err()
	case <-c.b.quit:
		r.frame = nil
		return nil, ErrBatcherClosed
	}
	<-r.done
	r.frame = nil
	return r.logits, r.err
}

// collect is the Batcher's goroutine.
func (b *Batcher) collect() {
	defer close(b.done)
	batch := b.m.NewBatch(b.opts.MaxBatch)
	pending := make([]*batchReq, 0, b.opts.MaxBatch)
	streams := make([]*Stream, 0, b.opts.MaxBatch)
	frames := make([][]float32, 0, b.opts.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case r := <-b.reqs:
			pending = append(pending, r)
		case <-b.quit:
			return
		}
		first := pending[0].at
		closing := false
		if b.opts.MaxWait > 0 {
			timer.Reset(b.opts.MaxWait)
		gather:
			for len(pending) < b.opts.MaxBatch && int64(len(pending)) < b.clients.Load() {
				select {
				case r := <-b.reqs:
					pending = append(pending, r)
				case <-timer.C:
					break gather
				case <-b.quit:
					closing = true
					break gather
				}
			}
			timer.Stop()
		} else {
		drain:
			for len(pending) < b.opts.MaxBatch {
				select {
				case r := <-b.reqs:
					pending = append(pending, r)
				default:
					break drain
				}
			}
		}
		if closing {
			for _, r := range pending {
				r.err = ErrBatcherClosed
				r.done <- struct{}{}
			}
			return
		}
		// A bad frame fails its own stream only.
		streams, frames = streams[:0], frames[:0]
		for _, r := range pending {
			if err := b.m.checkFrame(r.frame); err != nil {
				r.err = fmt.Errorf("onlinetsm: step: %w", err)
				continue
			}
			streams = append(streams, r.s)
			frames = append(frames, r.frame)
		}
		start := time.Now()
		var err error
		if len(streams) > 0 {
			_, err = batch.Step(streams, frames)
		}
		took := time.Since(start)
		if b.opts.OnBatch != nil && len(streams) > 0 {
			b.opts.OnBatch(BatchInfo{Size: len(streams), Wait: start.Sub(first), Inference: took})
		}
		for _, r := range pending {
			if r.err == nil {
				if err != nil {
					r.err = err
				} else {
					r.logits = r.s.logits
				}
			}
			r.done <- struct{}{}
		}
		clear(pending)
		pending = pending[:0]
		clear(streams)
		clear(frames)
	}
}

// checkFrame reports why data is not a valid frame for m, or nil.
func (m *Model) checkFrame(data []float32) error {
	n := m.size
	if len(data) != 3*n*n {
		return fmt.Errorf("frame has %d values, want 3×%d×%d = %d", len(data), n, n, 3*n*n)
	}
	if allFinite(data) {
		return nil
	}
	for i, v := range data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("frame value %d (channel %d, y %d, x %d) is %v", i, i/(n*n), i/n%n, i%n, v)
		}
	}
	return nil
}

// allFinite reports whether x holds no NaN or infinity: v·0 is 0 for a
// finite v and NaN otherwise, and a NaN makes the sums NaN. Four branch-free
// sums run several times faster than testing every value.
func allFinite(x []float32) bool {
	var s0, s1, s2, s3 float32
	for len(x) >= 4 {
		v := (*[4]float32)(x)
		s0 += v[0] * 0
		s1 += v[1] * 0
		s2 += v[2] * 0
		s3 += v[3] * 0
		x = x[4:]
	}
	for _, v := range x {
		s0 += v * 0
	}
	return s0+s1+s2+s3 == 0
}
