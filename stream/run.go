package stream

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/livetsm/livetsm/onlinetsm"
)

// Options configure Run. The zero value runs at the model's frame rate with
// smoothing on.
type Options struct {
	// FPS is the rate frames are fed to the model; 0 (or less) means the
	// model's metadata ("fps") or DefaultFPS. NaN or an infinity is an
	// error.
	FPS float64
	// NoSmooth turns smoothing off: each prediction is the frame's own
	// argmax and softmax.
	NoSmooth bool
	// Window is the number of frames whose logits are averaged when
	// smoothing; 0 means DefaultWindow.
	Window int
	// TopK is the number of classes listed in Prediction.Top; 0 means 5.
	TopK int
	// Clock times latencies and rates; nil means the wall clock.
	Clock Clock
	// Log receives the run's log records; nil discards them.
	Log *slog.Logger
	// Stepper runs the model step for every processed frame, and its Reset
	// restarts the cache on a discontinuity; nil means Run uses its own
	// model.NewStream(). A server sets it to send the step through a
	// cross-stream batcher.
	Stepper Stepper
}

// Stepper runs the model on the frames of one stream, keeping the stream's
// shift cache between steps. Run calls it from one goroutine at a time.
type Stepper interface {
	// Step runs the model on frame, a preprocessed frame (3·S·S float32
	// values in CHW order, S being the model's InputSize), and returns the
	// class logits. The logits must stay valid until the next Step; Run
	// does not keep frame after Step returns. ctx is Run's context. An
	// error matching ErrStop (errors.Is) ends the run without an error.
	Step(ctx context.Context, frame []float32) ([]float32, error)
	// Reset clears the shift cache: the next Step starts a fresh stream.
	Reset()
}

// streamStepper is the default Stepper: a private onlinetsm.Stream.
type streamStepper struct{ st *onlinetsm.Stream }

func (s streamStepper) Step(_ context.Context, frame []float32) ([]float32, error) {
	return s.st.StepData(frame)
}

func (s streamStepper) Reset() { s.st.Reset() }

// Stats summarise a run.
type Stats struct {
	// Frames is the number of frames read from the source.
	Frames int64 `json:"frames"`
	// Predictions is the number of frames the model processed.
	Predictions int64 `json:"predictions"`
	// Skipped counts frames left out by pacing (the source was faster than
	// the model's rate).
	Skipped int64 `json:"skipped"`
	// Dropped counts frames that were due but replaced by a newer one
	// because inference was behind (live sources only).
	Dropped int64 `json:"dropped"`
	// Resets counts discontinuities (reconnects) that restarted the cache.
	Resets int64 `json:"resets"`
	// Elapsed is the time from the start of the run to its end.
	Elapsed time.Duration `json:"elapsed_ns"`
	// FPS is Predictions per second of Elapsed.
	FPS float64 `json:"fps"`
	// MeanLatencyMS is the mean of the predictions' LatencyMS.
	MeanLatencyMS float64 `json:"mean_latency_ms"`
}

// ModelFPS returns the frame rate a model asks for in its metadata ("fps"),
// or DefaultFPS.
func ModelFPS(m *onlinetsm.Model) float64 {
	if v, ok := m.Metadata()["fps"]; ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && f <= 1000 {
			return f
		}
	}
	return DefaultFPS
}

// readerGrace bounds how long Run waits, once it is done, for the reader
// goroutine of a live source blocked in Read.
const readerGrace = 500 * time.Millisecond

// item is a frame with what the runner knows about it.
type item struct {
	Frame
	seq  int64
	got  time.Time // when Read returned it
	live bool      // capture time is on the wall clock
}

// Run feeds src to model — pacing, preprocessing, the model step (on a
// Stream of its own, or Options.Stepper), smoothing — and calls sink with
// every prediction, until the source ends (io.EOF: Run returns nil), ctx is
// done (Run returns ctx.Err()), the sink returns an error (ErrStop: Run
// returns nil) or the source or the model fails.
//
// A live source is read on its own goroutine as fast as frames come; frames
// are paced by their timestamps and the newest due frame waits in a
// one-frame mailbox, replacing (and counting as dropped) one the model had
// not yet taken, so memory stays bounded however slow inference is. Frames
// of a source that is not live are read in turn and paced by timestamp
// only, as fast as the model runs. A frame marked Reset restarts the shift
// cache and the smoothing.
//
// Run does not close src. Once it returns, a reader blocked in src.Read may
// linger until that Read returns (at most readerGrace is spent waiting).
func Run(ctx context.Context, src Source, model *onlinetsm.Model, opts Options, sink func(Prediction) error) (Stats, error) {
	if src == nil || model == nil || sink == nil {
		return Stats{}, errors.New("stream: run: nil source, model or sink")
	}
	if math.IsNaN(opts.FPS) || math.IsInf(opts.FPS, 0) {
		return Stats{}, fmt.Errorf("stream: run: FPS %g is not a finite number", opts.FPS)
	}
	r := &runner{
		model: model,
		opts:  opts,
		clock: clockOr(opts.Clock),
		log:   opts.Log,
		sink:  sink,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	fps := opts.FPS
	if fps <= 0 {
		fps = ModelFPS(model)
	}
	r.topK = opts.TopK
	if r.topK <= 0 {
		r.topK = 5
	}
	r.pacer = NewPacer(fps)
	r.pre = model.Preprocessor()
	n := model.InputSize()
	r.input = make([]float32, 3*n*n)
	r.st = opts.Stepper
	if r.st == nil {
		r.st = streamStepper{model.NewStream()}
	}
	r.smooth = NewSmoother(model.Classes(), opts.Window, !opts.NoSmooth)
	r.labels = model.Labels()
	r.start = r.clock.Now()
	r.log.Info("run", "fps", fps, "smooth", !opts.NoSmooth, "live", src.Live(), "size", n)

	var err error
	if src.Live() {
		err = r.runLive(ctx, src)
	} else {
		err = r.runFile(ctx, src)
	}
	r.stats.Elapsed = r.clock.Now().Sub(r.start)
	if s := r.stats.Elapsed.Seconds(); s > 0 {
		r.stats.FPS = float64(r.stats.Predictions) / s
	}
	if r.stats.Predictions > 0 {
		r.stats.MeanLatencyMS = r.latSum / float64(r.stats.Predictions)
	}
	if errors.Is(err, ErrStop) || errors.Is(err, io.EOF) {
		err = nil
	}
	return r.stats, err
}

type runner struct {
	model  *onlinetsm.Model
	opts   Options
	clock  Clock
	log    *slog.Logger
	sink   func(Prediction) error
	topK   int
	pacer  *Pacer
	pre    *onlinetsm.Preprocessor
	input  []float32
	st     Stepper
	smooth *Smoother
	labels []string

	start  time.Time
	stats  Stats
	latSum float64
	times  [16]time.Time // the last predictions' times, a ring
	ntimes int
}

// runFile reads a source that is not live: every frame, paced by timestamp.
func (r *runner) runFile(ctx context.Context, src Source) error {
	var buf *image.RGBA
	for seq := int64(0); ; seq++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := src.Read(ctx, buf)
		if err != nil {
			return readErr(ctx, err)
		}
		r.stats.Frames++
		buf = f.Image
		if f.Reset {
			r.pacer.Reset()
		}
		if !r.pacer.Due(f.Time) {
			r.stats.Skipped++
			continue
		}
		if err := r.process(ctx, item{Frame: f, seq: seq, got: r.clock.Now()}); err != nil {
			return err
		}
	}
}

// readErr passes io.EOF on and names any other read failure.
func readErr(ctx context.Context, err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("stream: read: %w", err)
}

// runLive reads a live source on its own goroutine and processes the newest
// due frame whenever the model is free.
func (r *runner) runLive(ctx context.Context, src Source) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mb := &mailbox{notify: make(chan struct{}, 1), free: make(chan *image.RGBA, 3)}
	var frames, skipped int64 // owned by the reader until done is closed
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := int64(0); ; seq++ {
			f, err := src.Read(ctx, mb.buffer())
			if err != nil {
				mb.mu.Lock()
				mb.err = err
				mb.mu.Unlock()
				mb.signal()
				return
			}
			got := r.clock.Now()
			frames++
			if f.Reset {
				r.pacer.Reset()
			}
			if !r.pacer.Due(f.Time) {
				skipped++
				mb.recycle(f.Image)
				continue
			}
			mb.put(&item{Frame: f, seq: seq, got: got, live: true})
		}
	}()
	defer func() {
		cancel()
		select {
		case <-done:
			r.stats.Frames, r.stats.Skipped = frames, skipped
		case <-time.After(readerGrace):
			r.log.Warn("source still blocked in read; not waiting for it")
		}
		mb.mu.Lock()
		r.stats.Dropped = mb.dropped
		mb.mu.Unlock()
	}()

	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-mb.notify:
		}
		mb.mu.Lock()
		f, rerr, dropped := mb.frame, mb.err, mb.dropped
		mb.frame = nil
		mb.mu.Unlock()
		if f != nil {
			r.stats.Dropped = dropped
			err := r.process(ctx, *f)
			mb.recycle(f.Image)
			if err != nil {
				return err
			}
		}
		if rerr != nil {
			return readErr(ctx, rerr)
		}
	}
}

// process runs one due frame through the model and hands the prediction to
// the sink.
func (r *runner) process(ctx context.Context, f item) error {
	reset := f.Reset && r.stats.Predictions > 0
	if reset {
		r.st.Reset()
		r.smooth.Reset()
		r.stats.Resets++
		r.log.Info("fresh cache after a discontinuity", "frame", f.seq)
	}
	if f.Image == nil {
		return fmt.Errorf("stream: frame %d has no image", f.seq)
	}
	if err := r.pre.Into(r.input, f.Image); err != nil {
		return fmt.Errorf("stream: frame %d: %w", f.seq, err)
	}
	logits, err := r.st.Step(ctx, r.input)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("stream: frame %d: %w", f.seq, err)
	}
	idx, probs := r.smooth.Push(logits)
	now := r.clock.Now()
	base := f.got
	if f.live {
		base = f.Time
	}
	lat := float64(now.Sub(base)) / float64(time.Millisecond)
	r.stats.Predictions++
	r.latSum += lat

	r.times[r.ntimes%len(r.times)] = now
	r.ntimes++
	fps := 0.0
	if k := min(r.ntimes, len(r.times)); k > 1 {
		oldest := r.times[(r.ntimes-k)%len(r.times)]
		if d := now.Sub(oldest).Seconds(); d > 0 {
			fps = float64(k-1) / d
		}
	}

	top := onlinetsm.TopK(probs, r.topK)
	classes := make([]Class, len(top))
	for i, j := range top {
		classes[i] = Class{Label: r.labels[j], Score: probs[j]}
	}
	return r.sink(Prediction{
		TS:        f.Time,
		Frame:     f.seq,
		Label:     r.labels[idx],
		Index:     idx,
		Score:     probs[idx],
		Top:       classes,
		LatencyMS: round(lat, 2),
		FPS:       round(fps, 1),
		Dropped:   r.stats.Dropped,
		Reset:     reset,
	})
}

// round rounds x to d decimals.
func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}
