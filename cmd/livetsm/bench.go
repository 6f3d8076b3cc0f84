package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/livetsm/livetsm/onlinetsm"
)

// benchResult is what `livetsm bench --json` prints, one object per run.
type benchResult struct {
	Weights        string  `json:"weights"`
	Width          float64 `json:"width"`
	Classes        int     `json:"classes"`
	Size           int     `json:"size"`
	Threads        int     `json:"threads"`
	Frames         int     `json:"frames"`
	MedianMS       float64 `json:"median_ms"`
	P90MS          float64 `json:"p90_ms"`
	MeanMS         float64 `json:"mean_ms"`
	MinMS          float64 `json:"min_ms"`
	FPS            float64 `json:"fps"`
	AllocsPerFrame float64 `json:"allocs_per_frame"` // the median over frames of one step's heap allocations
	// ProcessAllocsPerFrame is the whole process's heap allocations over the
	// timed frames, divided by their number: the step's own and any other
	// goroutine's (nats-server's package, linked in for `livetsm nats`,
	// reads /proc once a second in every process).
	ProcessAllocsPerFrame float64 `json:"process_allocs_per_frame"`
	GOARCH                string  `json:"goarch"`
	Kernels               string  `json:"kernels"` // kernel path: portable, avx2, avx512
}

func benchCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs, modelChoice|modelInput)
	fs.Lookup("weights").Usage = "checkpoint `FILE` to load: PyTorch or safetensors (default: random weights of the published config, width 1.0, 27 classes)"
	fs.Lookup("size").Usage = "model input side in pixels (default: the model's; 224 for the random model)"
	frames := fs.Int("frames", 60, "frames to time (after 5 warm-up frames)")
	width := fs.Float64("width", 1.0, "width multiplier of the random model (without --weights)")
	asJSON := fs.Bool("json", false, "print one JSON object line")
	kernels := fs.String("kernels", "", "kernel `PATH`: portable, avx2, avx512 or auto (default: $LIVETSM_KERNELS, else auto)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *frames <= 0 {
		return fmt.Errorf("bench: --frames must be positive")
	}
	if err := mf.validate(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *kernels != "" {
		restore, err := onlinetsm.UseKernels(*kernels)
		if err != nil {
			return fmt.Errorf("bench: --kernels: %w", err)
		}
		defer restore()
	}
	var (
		m    *onlinetsm.Model
		name string
		err  error
	)
	if mf.weights == "" {
		name = fmt.Sprintf("random (width %g, 27 classes)", *width)
		opts := []onlinetsm.Option{onlinetsm.WithInputSize(cmp.Or(mf.size, onlinetsm.DefaultInputSize))}
		if mf.threads > 0 {
			opts = append(opts, onlinetsm.WithThreads(mf.threads))
		}
		m, err = onlinetsm.NewRandom(*width, 27, 1, opts...)
	} else {
		m, name, err = mf.load(log)
	}
	if err != nil {
		return err
	}
	defer m.Close()
	log.Info("bench", "weights", name, "width", m.Width(), "classes", m.Classes(), "size", m.InputSize(), "threads", m.Threads(), "frames", *frames)

	// A few distinct normalised frames, cycled, so the cache sees changes.
	rng := rand.New(rand.NewPCG(7, 7))
	inputs := make([][]float32, 4)
	for i := range inputs {
		inputs[i] = make([]float32, 3*m.InputSize()*m.InputSize())
		for j := range inputs[i] {
			inputs[i][j] = float32(rng.NormFloat64())
		}
	}
	s := m.NewStream()
	for i := 0; i < 5; i++ {
		if _, err := s.StepData(inputs[i%len(inputs)]); err != nil {
			return err
		}
	}
	lat := make([]float64, 0, *frames)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := 0; i < *frames; i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		if _, err := s.StepData(inputs[i%len(inputs)]); err != nil {
			return err
		}
		lat = append(lat, float64(time.Since(t0).Nanoseconds())/1e6)
	}
	total := time.Since(start)
	runtime.ReadMemStats(&after)
	// ReadMemStats itself does not allocate; lat was allocated up front.
	allocs, err := stepAllocs(ctx, s, inputs, min(max(*frames, 3), 30))
	if err != nil {
		return err
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	var sum float64
	for _, v := range lat {
		sum += v
	}
	r := benchResult{
		Weights: name, Width: m.Width(), Classes: m.Classes(), Size: m.InputSize(), Threads: m.Threads(), Frames: *frames,
		MedianMS:              percentile(sorted, 0.5),
		P90MS:                 percentile(sorted, 0.9),
		MeanMS:                sum / float64(len(lat)),
		MinMS:                 sorted[0],
		FPS:                   float64(*frames) / total.Seconds(),
		AllocsPerFrame:        allocs,
		ProcessAllocsPerFrame: float64(after.Mallocs-before.Mallocs) / float64(*frames),
		GOARCH:                runtime.GOARCH,
		Kernels:               onlinetsm.KernelPath(),
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	_, err = fmt.Fprintf(stdout, "%s, %d px, %d threads, %s kernels, %d frames\nper frame: median %.2f ms  p90 %.2f ms  mean %.2f ms  min %.2f ms\nthroughput: %.1f frames/s  heap allocations per frame: %g (median), %.2f (whole process)\n",
		r.Weights, r.Size, r.Threads, r.Kernels, r.Frames, r.MedianMS, r.P90MS, r.MeanMS, r.MinMS, r.FPS, r.AllocsPerFrame, r.ProcessAllocsPerFrame)
	return err
}

// stepAllocs steps s n more times (until ctx ends), outside the timed frames (reading the
// memory statistics stops the world), and returns the median of the heap
// allocations counted across each step. The count is the whole process's, so
// another goroutine's allocations land in a few steps; the median leaves them
// out.
func stepAllocs(ctx context.Context, s *onlinetsm.Stream, inputs [][]float32, n int) (float64, error) {
	counts := make([]float64, n)
	var before, after runtime.MemStats
	for i := range counts {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		runtime.ReadMemStats(&before)
		if _, err := s.StepData(inputs[i%len(inputs)]); err != nil {
			return 0, err
		}
		runtime.ReadMemStats(&after)
		counts[i] = float64(after.Mallocs - before.Mallocs)
	}
	slices.Sort(counts)
	return percentile(counts, 0.5), nil
}

// percentile returns the q-quantile of sorted values (nearest rank).
func percentile(sorted []float64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
