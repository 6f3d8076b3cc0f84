package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/livetsm/livetsm/stream"
)

// Event is the payload of a prediction on the bus: the JSON object that
// `livetsm --json` prints, plus the stream it belongs to and the worker
// (process) that made it.
type Event struct {
	stream.Prediction
	// Stream is the stream (camera) id; the subject is Subject(Stream).
	Stream string `json:"stream"`
	// Worker names the process that ran the model.
	Worker string `json:"worker"`
}

// DefaultPublishQueue is how many predictions a Publisher holds while its
// goroutine hands earlier ones to the connection.
const DefaultPublishQueue = 1024

// PublisherStats count a Publisher's predictions.
type PublisherStats struct {
	// Published is the number of predictions handed to the connection.
	// While the bus is away, nats.go buffers them and sends them on
	// reconnecting.
	Published int64
	// Errors counts predictions the connection refused (its reconnect
	// buffer was full, or it was closed) or that failed to encode.
	Errors int64
	// Dropped counts predictions left out because the queue was full.
	Dropped int64
}

// Publisher publishes predictions on the bus without ever making its
// caller wait: Publish queues the prediction and returns; a goroutine of
// the Publisher encodes it and hands it to the NATS connection. Create it
// with NewPublisher and Close it when done. It is safe for concurrent use.
type Publisher struct {
	nc     *nats.Conn
	worker string
	log    *slog.Logger
	ch     chan Event

	mu     sync.RWMutex // guards closed against sends on ch
	closed bool
	done   chan struct{}

	pending                    atomic.Int64 // queued or being handed over
	published, errors, dropped atomic.Int64
	lastErrLog                 atomic.Int64 // unix nanoseconds
}

// NewPublisher returns a Publisher of predictions on nc, made by worker.
// The caller keeps ownership of nc and closes it after the Publisher.
func NewPublisher(nc *nats.Conn, worker string, log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{
		nc: nc, worker: worker, log: log,
		ch:   make(chan Event, DefaultPublishQueue),
		done: make(chan struct{}),
	}
	go p.loop()
	return p
}

// Publish queues p, a prediction of stream streamID. It never blocks: when
// the queue is full the prediction is dropped and counted.
func (p *Publisher) Publish(streamID string, pr stream.Prediction) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		p.errors.Add(1)
		return
	}
	p.pending.Add(1)
	select {
	case p.ch <- Event{Prediction: pr, Stream: streamID, Worker: p.worker}:
	default:
		p.pending.Add(-1)
		p.dropped.Add(1)
	}
}

func (p *Publisher) loop() {
	defer close(p.done)
	for ev := range p.ch {
		b, err := json.Marshal(ev)
		if err == nil {
			err = p.nc.Publish(Subject(ev.Stream), b)
		}
		p.pending.Add(-1)
		if err != nil {
			p.errors.Add(1)
			// One line a second at most: a full buffer fails every frame.
			now := time.Now().UnixNano()
			if last := p.lastErrLog.Load(); now-last > int64(time.Second) && p.lastErrLog.CompareAndSwap(last, now) {
				p.log.Warn("publish prediction", "stream", ev.Stream, "err", err, "errors", p.errors.Load())
			}
			continue
		}
		p.published.Add(1)
	}
}

// Flush waits until the queued predictions are handed to the connection
// and the server has them, or ctx is done.
func (p *Publisher) Flush(ctx context.Context) error {
	for p.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if !p.nc.IsConnected() {
		return fmt.Errorf("flush: %w", nats.ErrConnectionReconnecting)
	}
	if err := p.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

// Close stops taking predictions, hands the queued ones to the connection
// and waits for that (at most timeout), then flushes the connection within
// what is left of it. It does not close the connection.
func (p *Publisher) Close(timeout time.Duration) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return nil
	}
	p.closed = true
	close(p.ch)
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	select {
	case <-p.done:
	case <-ctx.Done():
		// The loop only waits on nc.Publish, which returns; wait for it.
		<-p.done
	}
	if !p.nc.IsConnected() {
		return nil // what is buffered is lost with the connection
	}
	if err := p.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("publisher: flush: %w", err)
	}
	return nil
}

// Stats returns the Publisher's counts.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{Published: p.published.Load(), Errors: p.errors.Load(), Dropped: p.dropped.Load()}
}
