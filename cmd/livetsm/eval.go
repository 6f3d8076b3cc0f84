package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livetsm/livetsm/crosseval"
	"github.com/livetsm/livetsm/stream"
	"github.com/livetsm/livetsm/stream/synth"
)

// evalResult is what `livetsm eval --json` prints.
type evalResult struct {
	Model     string   `json:"model"`
	Clips     int      `json:"clips"`
	Frames    int      `json:"frames"`
	Seed      uint64   `json:"seed"`
	Correct   int      `json:"correct"`
	Accuracy  float64  `json:"accuracy"`
	Labels    []string `json:"labels"`
	Confusion [][]int  `json:"confusion"` // [true class][predicted class]
	Seconds   float64  `json:"seconds"`
}

// evalCmd runs the engine online over held-out synthetic gesture clips and
// reports accuracy and a confusion matrix.
// maxEvalFrames bounds the frames per clip of eval --synthetic, from the
// flag or from the model's metadata.
const maxEvalFrames = 1024

func evalCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	if slices.Contains(args, "--cross") || slices.Contains(args, "-cross") {
		return evalCrossCmd(ctx, args, stdout, log)
	}
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	synthetic := fs.Bool("synthetic", false, "evaluate on held-out synthetic gesture clips (this or --cross is required)")
	clips := fs.Int("clips", 500, "number of clips, classes in turn")
	seed := fs.Uint64("seed", 2000003, "generator seed (training used seed 1 and held-out seed 1000003)")
	frames := fs.Int("frames", 0, "frames per clip (default: the model's metadata, else 8)")
	var mf modelFlags
	mf.register(fs, modelChoice)
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*synthetic {
		return errors.New("eval: give --synthetic (held-out synthetic clips) or --cross (a second renderer over photographs, through the real decoders)")
	}
	if *clips <= 0 {
		return errors.New("eval: --clips must be positive")
	}
	if *frames < 0 || *frames > maxEvalFrames {
		return fmt.Errorf("eval: --frames %d out of range [0, %d]", *frames, maxEvalFrames)
	}
	if err := mf.validate(); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	m, name, err := mf.load(log)
	if err != nil {
		return err
	}
	defer m.Close()
	meta := m.Metadata()
	n := *frames
	if n == 0 {
		n = 8
		if v, err := strconv.Atoi(meta["frames"]); err == nil && v > 0 && v <= maxEvalFrames {
			n = v
		}
	}
	fps := stream.ModelFPS(m)
	// Which model class each gesture is: by name, so a model with other
	// labels (or another order) is scored correctly or refused.
	names := m.Labels()
	toModel := make([]int, synth.NumClasses)
	for i, g := range synth.Labels() {
		toModel[i] = -1
		for j, l := range names {
			if l == g {
				toModel[i] = j
			}
		}
		if toModel[i] < 0 {
			return fmt.Errorf("eval: the model has no class %q (its labels: %s)", g, strings.Join(names, ", "))
		}
	}
	side := m.Preprocessor().Resize
	gen := synth.New(synth.Config{Width: side, Height: side, FPS: fps, Seed: *seed})
	pre := m.Preprocessor()
	frame := make([]float32, 3*m.InputSize()*m.InputSize())
	res := evalResult{Model: name, Clips: *clips, Frames: n, Seed: *seed, Labels: names}
	res.Confusion = make([][]int, len(names))
	for i := range res.Confusion {
		res.Confusion[i] = make([]int, len(names))
	}
	s := m.NewStream()
	smooth := stream.NewSmoother(m.Classes(), 0, true)
	var shown []crosseval.Shown
	start := time.Now()
	log.Info("eval", "model", name, "clips", *clips, "frames", n, "seed", *seed, "render", side, "input", m.InputSize())
	for c := 0; c < *clips; c++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		clip := gen.Clip(c%synth.NumClasses, n)
		s.Reset()
		smooth.Reset()
		shown = shown[:0]
		// The label the user sees: each frame through the engine's
		// smoothing, as the terminal and the page show it; the clip's
		// answer is the first gesture shown from the motion's start on
		// (crosseval's rule).
		for t, img := range clip.Frames {
			if err := pre.Into(frame, img); err != nil {
				return err
			}
			logits, err := s.StepData(frame)
			if err != nil {
				return err
			}
			idx, _ := smooth.Push(logits)
			shown = append(shown, crosseval.Shown{At: float64(t) / fps, Label: names[idx]})
		}
		answer, _ := crosseval.Answer(shown, float64(clip.Start)/fps, float64(n)/fps)
		best := slices.Index(names, answer)
		want := toModel[clip.Label]
		res.Confusion[want][best]++
		if best == want {
			res.Correct++
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.Accuracy = float64(res.Correct) / float64(*clips)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	return printConfusion(stdout, res)
}

func printConfusion(w io.Writer, r evalResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d/%d clips correct, accuracy %.1f%% (%d frames per clip, seed %d, %.1f s)\n\n",
		r.Model, r.Correct, r.Clips, 100*r.Accuracy, r.Frames, r.Seed, r.Seconds)
	fmt.Fprintf(&b, "%-32s", "true \\ predicted")
	for j := range r.Labels {
		fmt.Fprintf(&b, "%5d", j)
	}
	b.WriteString("\n")
	for i, l := range r.Labels {
		fmt.Fprintf(&b, "%2d %-29.29s", i, l)
		for _, v := range r.Confusion[i] {
			fmt.Fprintf(&b, "%5d", v)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
