package web

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream"
)

// laneStepper is the stream.Stepper of a session: its model step goes
// through the server's Batcher (so that its frames share batches with other
// sessions'), and a reset restarts the session's own Stream.
type laneStepper struct {
	lane  *onlinetsm.BatchClient
	model *onlinetsm.Stream // lane's Stream
}

var _ stream.Stepper = laneStepper{}

// Step sends frame to the Batcher and returns the logits, which stay valid
// until the next Step. A closed Batcher (the server is closing) ends the
// run quietly.
func (l laneStepper) Step(ctx context.Context, frame []float32) ([]float32, error) {
	logits, err := l.lane.Step(ctx, frame)
	if errors.Is(err, onlinetsm.ErrBatcherClosed) {
		return nil, fmt.Errorf("%w: %w", stream.ErrStop, err)
	}
	return logits, err
}

// Reset clears the session's shift cache.
func (l laneStepper) Reset() { l.model.Reset() }

// runStream is stream.Run over the session's video — pacing, the newest
// due frame winning, preprocessing, smoothing — with the model step going
// through the server's Batcher, and the metrics updated with every
// prediction. It returns when the source ends (nil), ctx is done
// (ctx.Err()), the sink fails or the model fails.
func (ss *session) runStream(ctx context.Context, sink func(stream.Prediction) error) (stream.Stats, error) {
	opts := ss.srv.opts.Stream
	opts.Stepper = laneStepper{lane: ss.lane, model: ss.model}
	opts.Log = ss.log
	var lastDropped int64
	return stream.Run(ctx, ss.src, ss.srv.opts.Model, opts, func(p stream.Prediction) error {
		lat := time.Duration(p.LatencyMS * float64(time.Millisecond))
		ss.srv.metrics.onPrediction(lat, p.Dropped-lastDropped)
		lastDropped = p.Dropped
		if f := ss.srv.opts.OnPrediction; f != nil {
			f(ss.id, p)
		}
		return sink(p)
	})
}
