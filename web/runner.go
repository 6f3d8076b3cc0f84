package web

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"time"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream"
)

// runStream is stream.Run for a session, with the model step going through
// the server's Batcher instead of a private Stream.Step: the same pacing
// (done as frames are put: see newPacedSource), preprocessing, smoothing and
// Predictions. It returns when the source ends (nil), ctx is done
// (ctx.Err()), the sink fails or the model fails.
//
// stream.Run makes its own Stream and steps it itself, so its frames
// cannot share a batch with other sessions'; this adapter is the web
// server's way in until stream.Options can name the step function.
func (ss *session) runStream(ctx context.Context, sink func(stream.Prediction) error) (st stream.Stats, err error) {
	srv := ss.srv
	m := srv.opts.Model
	opts := srv.opts.Stream
	clock := opts.Clock
	if clock == nil {
		clock = stream.WallClock{}
	}
	topK := opts.TopK
	if topK <= 0 {
		topK = 5
	}
	pre := m.Preprocessor()
	n := m.InputSize()
	input := make([]float32, 3*n*n)
	smooth := stream.NewSmoother(m.Classes(), opts.Window, !opts.NoSmooth)
	labels := m.Labels()

	var latSum float64
	var times [16]time.Time
	ntimes := 0
	var lastDropped int64
	start := clock.Now()
	defer func() {
		st.Frames, st.Skipped, st.Dropped = ss.src.counts()
		st.Elapsed = clock.Now().Sub(start)
		if s := st.Elapsed.Seconds(); s > 0 {
			st.FPS = float64(st.Predictions) / s
		}
		if st.Predictions > 0 {
			st.MeanLatencyMS = latSum / float64(st.Predictions)
		}
	}()
	var buf *image.RGBA
	for {
		f, seq, err := ss.src.read(ctx, buf)
		switch {
		case errors.Is(err, io.EOF):
			return st, nil
		case err != nil && ctx.Err() != nil:
			return st, ctx.Err()
		case err != nil:
			return st, fmt.Errorf("stream: read: %w", err)
		}
		buf = f.Image
		reset := f.Reset && st.Predictions > 0
		if reset {
			ss.model.Reset()
			smooth.Reset()
			st.Resets++
			ss.log.Info("fresh cache after a discontinuity", "frame", seq)
		}
		if err := pre.Into(input, f.Image); err != nil {
			return st, fmt.Errorf("stream: frame %d: %w", seq, err)
		}
		logits, err := ss.lane.Step(ctx, input)
		if err != nil {
			if ctx.Err() != nil {
				return st, ctx.Err()
			}
			if errors.Is(err, onlinetsm.ErrBatcherClosed) {
				return st, nil
			}
			return st, fmt.Errorf("stream: frame %d: %w", seq, err)
		}
		idx, probs := smooth.Push(logits)
		now := clock.Now()
		lat := now.Sub(f.Time)
		st.Predictions++
		latMS := float64(lat) / float64(time.Millisecond)
		latSum += latMS
		_, _, dropped := ss.src.counts()
		srv.metrics.onPrediction(lat, dropped-lastDropped)
		lastDropped = dropped

		times[ntimes%len(times)] = now
		ntimes++
		fps := 0.0
		if k := min(ntimes, len(times)); k > 1 {
			if d := now.Sub(times[(ntimes-k)%len(times)]).Seconds(); d > 0 {
				fps = float64(k-1) / d
			}
		}
		top := onlinetsm.TopK(probs, topK)
		classes := make([]stream.Class, len(top))
		for i, j := range top {
			classes[i] = stream.Class{Label: labels[j], Score: probs[j]}
		}
		if err := sink(stream.Prediction{
			TS: f.Time, Frame: seq, Label: labels[idx], Index: idx, Score: probs[idx], Top: classes,
			LatencyMS: round(latMS, 2), FPS: round(fps, 1), Dropped: dropped, Reset: reset,
		}); err != nil {
			if errors.Is(err, stream.ErrStop) {
				return st, nil
			}
			return st, err
		}
	}
}

// round rounds x to d decimals.
func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}
