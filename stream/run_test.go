package stream

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livetsm/livetsm/onlinetsm"
)

// fakeClock is a Clock that moves only when told: Now advances by step on
// every call, and After fires at once, recording the wait.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	step  time.Duration
	waits []time.Duration
}

func newFakeClock(step time.Duration) *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), step: step}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// testImage returns a small image whose colour depends on i, so that frames
// differ.
func testImage(i int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 48, 40))
	c := color.RGBA{uint8(40 * i), uint8(255 - 30*i), uint8(90 + 50*i), 255}
	for y := 0; y < 40; y++ {
		for x := 0; x < 48; x++ {
			if (x+y+i)%7 < 3 {
				img.SetRGBA(x, y, c)
			}
		}
	}
	return img
}

// sliceSource serves frames from a slice, then err (io.EOF by default).
type sliceSource struct {
	frames []Frame
	live   bool
	err    error
	n      int
	closed bool
}

func (s *sliceSource) Read(ctx context.Context, buf *image.RGBA) (Frame, error) {
	if err := ctx.Err(); err != nil {
		return Frame{}, err
	}
	if s.n >= len(s.frames) {
		if s.err != nil {
			return Frame{}, s.err
		}
		return Frame{}, io.EOF
	}
	f := s.frames[s.n]
	s.n++
	return f, nil
}

func (s *sliceSource) Live() bool   { return s.live }
func (s *sliceSource) Close() error { s.closed = true; return nil }

// framesAt returns n frames at fps from t0, with images testImage(i%5).
func framesAt(t0 time.Time, n int, fps float64) []Frame {
	out := make([]Frame, n)
	for i := range out {
		out[i] = Frame{Image: testImage(i % 5), Time: t0.Add(time.Duration(float64(i) * float64(time.Second) / fps))}
	}
	return out
}

func testModel(t *testing.T) *onlinetsm.Model {
	t.Helper()
	m, err := onlinetsm.NewRandom(0.35, 4, 3, onlinetsm.WithInputSize(32), onlinetsm.WithThreads(1),
		onlinetsm.WithLabels([]string{"a", "b", "c", "d"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func collect(t *testing.T, src Source, m *onlinetsm.Model, opts Options) ([]Prediction, Stats) {
	t.Helper()
	var got []Prediction
	st, err := Run(context.Background(), src, m, opts, func(p Prediction) error {
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got, st
}

// Run refuses a frame rate that is not a finite number before it reads.
func TestRunNonFiniteFPS(t *testing.T) {
	m := testModel(t)
	for _, fps := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		src := &sliceSource{frames: framesAt(time.Now(), 3, 15)}
		_, err := Run(context.Background(), src, m, Options{FPS: fps}, func(Prediction) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "not a finite number") {
			t.Errorf("FPS %v: error %v, want not a finite number", fps, err)
		}
		if src.n != 0 {
			t.Errorf("FPS %v: %d frames read", fps, src.n)
		}
	}
}

func TestRunFile(t *testing.T) {
	m := testModel(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		opts       Options
		n          int
		srcFPS     float64
		wantFrames []int64
	}{
		{"30 fps file at 15 fps", Options{}, 8, 30, []int64{0, 2, 4, 6}},
		{"30 fps file at 10 fps", Options{FPS: 10}, 9, 30, []int64{0, 3, 6}},
		{"10 fps file at 15 fps: every frame", Options{NoSmooth: true}, 4, 10, []int64{0, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock(10 * time.Millisecond)
			tt.opts.Clock = clk
			got, st := collect(t, &sliceSource{frames: framesAt(t0, tt.n, tt.srcFPS)}, m, tt.opts)
			var frames []int64
			for _, p := range got {
				frames = append(frames, p.Frame)
				// Now is called when the frame is read and once the
				// prediction is made: one 10 ms step.
				if p.LatencyMS != 10 {
					t.Errorf("frame %d latency %v ms, want 10", p.Frame, p.LatencyMS)
				}
				if len(p.Top) != 4 || p.Top[0].Score < p.Top[1].Score || p.Score <= 0 || p.Label == "" {
					t.Errorf("frame %d: bad prediction %+v", p.Frame, p)
				}
				if p.Frame > 2 && p.FPS != 50 {
					t.Errorf("frame %d fps %v, want 50 (one prediction every two 10 ms ticks)", p.Frame, p.FPS)
				}
			}
			if !slices.Equal(frames, tt.wantFrames) {
				t.Errorf("frames %v, want %v", frames, tt.wantFrames)
			}
			want := Stats{Frames: int64(tt.n), Predictions: int64(len(tt.wantFrames)), Skipped: int64(tt.n - len(tt.wantFrames))}
			if st.Frames != want.Frames || st.Predictions != want.Predictions || st.Skipped != want.Skipped || st.Dropped != 0 {
				t.Errorf("stats %+v, want %+v", st, want)
			}
		})
	}
}

// TestRunResetStartsAfresh checks that a frame marked Reset restarts the
// cache and the smoothing: what follows it is predicted exactly as by a new
// run.
func TestRunResetStartsAfresh(t *testing.T) {
	m := testModel(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := framesAt(t0, 6, 15)
	b := framesAt(t0.Add(time.Hour), 6, 15)
	slices.Reverse(b) // other content than a's
	for i := range b {
		b[i].Time = t0.Add(time.Hour + time.Duration(i)*time.Second/15)
	}
	fresh, _ := collect(t, &sliceSource{frames: slices.Clone(b)}, m, Options{Clock: newFakeClock(time.Millisecond)})

	b[0].Reset = true
	joined, st := collect(t, &sliceSource{frames: append(slices.Clone(a), b...)}, m, Options{Clock: newFakeClock(time.Millisecond)})
	if st.Resets != 1 {
		t.Errorf("Resets = %d, want 1", st.Resets)
	}
	after := joined[len(a):]
	if !after[0].Reset || slices.ContainsFunc(joined[:len(a)], func(p Prediction) bool { return p.Reset }) {
		t.Errorf("Reset flags wrong")
	}
	for i := range fresh {
		if after[i].Label != fresh[i].Label || after[i].Score != fresh[i].Score {
			t.Errorf("frame %d after reset: %s %v, fresh run: %s %v", i, after[i].Label, after[i].Score, fresh[i].Label, fresh[i].Score)
		}
	}
}

func TestRunEnds(t *testing.T) {
	m := testModel(t)
	t0 := time.Now()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		src     *sliceSource
		sink    func(n int) error
		wantErr error
		wantN   int
	}{
		{"EOF is a normal end", &sliceSource{frames: framesAt(t0, 3, 15)}, nil, nil, 3},
		{"ErrStop is a normal end", &sliceSource{frames: framesAt(t0, 5, 15)},
			func(n int) error {
				if n == 2 {
					return ErrStop
				}
				return nil
			}, nil, 2},
		{"sink error", &sliceSource{frames: framesAt(t0, 5, 15)},
			func(n int) error { return boom }, boom, 1},
		{"source error", &sliceSource{frames: framesAt(t0, 2, 15), err: boom}, nil, boom, 2},
		// A live source this fast outruns the model: 1 or 2 predictions.
		{"live source error", &sliceSource{frames: framesAt(t0, 2, 15), err: boom, live: true}, nil, boom, -1},
		{"frame without image", &sliceSource{frames: []Frame{{Time: t0}}}, nil, nil, 0},
		{"empty image", &sliceSource{frames: []Frame{{Time: t0, Image: image.NewRGBA(image.Rect(0, 0, 0, 0))}}}, nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			_, err := Run(context.Background(), tt.src, m, Options{}, func(p Prediction) error {
				n++
				if tt.sink != nil {
					return tt.sink(n)
				}
				return nil
			})
			switch {
			case tt.name == "frame without image" || tt.name == "empty image":
				if err == nil {
					t.Errorf("Run succeeded on a bad frame")
				}
			case !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil):
				t.Errorf("Run error %v, want %v", err, tt.wantErr)
			}
			if n != tt.wantN && !(tt.wantN == -1 && n >= 1) {
				t.Errorf("%d predictions, want %d", n, tt.wantN)
			}
		})
	}
}

func TestRunCancel(t *testing.T) {
	m := testModel(t)
	ctx, cancel := context.WithCancel(context.Background())
	src := &blockingSource{reads: make(chan struct{}, 16), frames: make(chan Frame)}
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, src, m, Options{}, func(Prediction) error { return nil })
		done <- err
	}()
	<-src.reads
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run error %v, want context.Canceled", err)
	}
}

// blockingSource is a live source fed by the test: Read announces itself on
// reads and then waits for a frame.
type blockingSource struct {
	reads  chan struct{}
	frames chan Frame
}

func (s *blockingSource) Read(ctx context.Context, buf *image.RGBA) (Frame, error) {
	s.reads <- struct{}{}
	select {
	case f, ok := <-s.frames:
		if !ok {
			return Frame{}, io.EOF
		}
		return f, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

func (s *blockingSource) Live() bool   { return true }
func (s *blockingSource) Close() error { return nil }

// TestRunLiveLatestWins holds the model busy on one frame while three more
// arrive: the newest is processed next and the two before it are dropped.
func TestRunLiveLatestWins(t *testing.T) {
	m := testModel(t)
	src := &blockingSource{reads: make(chan struct{}, 16), frames: make(chan Frame)}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	fr := framesAt(t0, 8, 15)
	busy := make(chan struct{})
	started := make(chan struct{})
	var got []Prediction
	var mu sync.Mutex
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), src, m, Options{Clock: newFakeClock(time.Millisecond)}, func(p Prediction) error {
			mu.Lock()
			got = append(got, p)
			n := len(got)
			mu.Unlock()
			if n == 1 {
				close(started)
				<-busy // the model is "busy" until the test says so
			}
			return nil
		})
		done <- err
	}()
	<-src.reads
	src.frames <- fr[0]
	<-started // the model is on frame 0
	for i := 1; i <= 3; i++ {
		<-src.reads // the reader is back: frame i-1 is in the mailbox
		src.frames <- fr[i]
	}
	<-src.reads // frame 3 is in the mailbox, replacing 2, which replaced 1
	close(busy)
	close(src.frames) // then EOF
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	var frames []int64
	for _, p := range got {
		frames = append(frames, p.Frame)
	}
	if !slices.Equal(frames, []int64{0, 3}) {
		t.Errorf("processed frames %v, want [0 3]", frames)
	}
	if last := got[len(got)-1]; last.Dropped != 2 {
		t.Errorf("dropped %d, want 2", last.Dropped)
	}
}

// countingStepper is a Stepper over a model Stream that counts its calls
// and fails with err from step failAt (counted from 1) on.
type countingStepper struct {
	st     *onlinetsm.Stream
	steps  int
	resets []int // steps done before each Reset
	failAt int
	err    error
}

func (c *countingStepper) Step(ctx context.Context, frame []float32) ([]float32, error) {
	c.steps++
	if c.failAt > 0 && c.steps >= c.failAt {
		return nil, c.err
	}
	return c.st.StepData(frame)
}

func (c *countingStepper) Reset() {
	c.resets = append(c.resets, c.steps)
	c.st.Reset()
}

// TestRunStepper checks that Run sends every model step and cache reset
// through Options.Stepper, with the same predictions as its own Stream, and
// how a Stepper's errors end the run.
func TestRunStepper(t *testing.T) {
	m := testModel(t)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	boom := errors.New("boom")
	tests := []struct {
		name       string
		live       bool
		resetAt    int // frame marked Reset; 0: none
		failAt     int
		err        error
		wantSteps  int
		wantResets []int
		wantPreds  int64
		wantErr    error
	}{
		{"file", false, 0, 0, nil, 5, nil, 5, nil},
		{"file with a discontinuity", false, 3, 0, nil, 5, []int{3}, 5, nil},
		{"live with a discontinuity", true, 2, 0, nil, 5, []int{2}, 5, nil},
		{"step error", false, 0, 3, boom, 3, nil, 2, boom},
		{"step stops", false, 0, 4, fmt.Errorf("%w: closed", ErrStop), 4, nil, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := framesAt(t0, 5, 15)
			if tt.resetAt > 0 {
				frames[tt.resetAt].Reset = true
			}
			want, _ := collect(t, &sliceSource{frames: slices.Clone(frames)}, m, Options{Clock: newFakeClock(time.Millisecond)})

			cs := &countingStepper{st: m.NewStream(), failAt: tt.failAt, err: tt.err}
			var got []Prediction
			if tt.live {
				// One frame at a time, so that none is dropped.
				ls := &lockstepSource{frames: frames, next: make(chan struct{}, 1)}
				ls.next <- struct{}{}
				st, err := Run(context.Background(), ls, m, Options{Clock: newFakeClock(time.Millisecond), Stepper: cs},
					func(p Prediction) error {
						got = append(got, p)
						ls.next <- struct{}{}
						return nil
					})
				if err != nil || st.Predictions != tt.wantPreds || st.Dropped != 0 {
					t.Fatalf("Run: %+v, %v", st, err)
				}
			} else {
				src := &sliceSource{frames: slices.Clone(frames)}
				st, err := Run(context.Background(), src, m, Options{Clock: newFakeClock(time.Millisecond), Stepper: cs},
					func(p Prediction) error {
						got = append(got, p)
						return nil
					})
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Errorf("Run error %v, want %v", err, tt.wantErr)
				}
				if st.Predictions != tt.wantPreds {
					t.Errorf("Predictions = %d, want %d", st.Predictions, tt.wantPreds)
				}
			}
			if cs.steps != tt.wantSteps || !slices.Equal(cs.resets, tt.wantResets) {
				t.Errorf("steps %d resets %v, want %d %v", cs.steps, cs.resets, tt.wantSteps, tt.wantResets)
			}
			if int64(len(got)) != tt.wantPreds {
				t.Fatalf("%d predictions, want %d", len(got), tt.wantPreds)
			}
			for i, p := range got {
				if p.Label != want[i].Label || p.Score != want[i].Score || p.Reset != want[i].Reset {
					t.Errorf("frame %d: %s %v reset %v, own Stream: %s %v reset %v", i, p.Label, p.Score, p.Reset,
						want[i].Label, want[i].Score, want[i].Reset)
				}
			}
		})
	}
}

// lockstepSource is a live source that serves its next frame only once
// told to on next, then ends with io.EOF.
type lockstepSource struct {
	frames []Frame
	next   chan struct{}
	n      int
}

func (s *lockstepSource) Read(ctx context.Context, buf *image.RGBA) (Frame, error) {
	select {
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-s.next:
	}
	if s.n >= len(s.frames) {
		return Frame{}, io.EOF
	}
	f := s.frames[s.n]
	s.n++
	return f, nil
}

func (s *lockstepSource) Live() bool   { return true }
func (s *lockstepSource) Close() error { return nil }
