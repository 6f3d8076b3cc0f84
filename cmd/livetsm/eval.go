package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
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
	Model  string   `json:"model"`
	Clips  int      `json:"clips"`
	Frames int      `json:"frames"`
	Seed   uint64   `json:"seed"`
	Labels []string `json:"labels"`
	score           // at each clip's end
	// Rest is the second score, with the stream going on past each clip
	// (nil with --rest 0).
	Rest *restScore `json:"rest,omitempty"`
	// BySize and ByDuration split the clip-end score by the hand's size
	// (synth.Clip.Scale) and, for the gestures, by the motion's duration.
	BySize     []bucket `json:"by_hand_size"`
	ByDuration []bucket `json:"by_duration"`
	Seconds    float64  `json:"seconds"`
}

// bucket is the score of the clips whose property lies in one range.
type bucket struct {
	Range    string  `json:"range"`
	Clips    int     `json:"clips"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
}

// split is a clip property cut into ranges at edges: ranges[i] holds the
// values v with edges[i-1] <= v < edges[i].
type split struct {
	edges  []float64
	ranges []string
}

// buckets returns the empty buckets of s.
func (s split) buckets() []bucket {
	b := make([]bucket, len(s.ranges))
	for i, r := range s.ranges {
		b[i].Range = r
	}
	return b
}

// add counts a clip whose property is v into its bucket of b.
func (s split) add(b []bucket, v float64, ok bool) {
	i := 0
	for i < len(s.edges) && v >= s.edges[i] {
		i++
	}
	b[i].Clips++
	if ok {
		b[i].Correct++
	}
	b[i].Accuracy = float64(b[i].Correct) / float64(b[i].Clips)
}

// restScore scores the same clips with rest frames after each: the label the
// user sees once the stream has gone on for Seconds after the clip.
type restScore struct {
	Seconds float64 `json:"seconds"`
	Frames  int     `json:"frames"`
	score
}

// score tallies the clips' answers one way.
type score struct {
	Correct   int     `json:"correct"`
	Accuracy  float64 `json:"accuracy"`
	Confusion [][]int `json:"confusion"` // [true class][predicted class]
}

// newScore returns an empty score over n classes.
func newScore(n int) score {
	m := make([][]int, n)
	for i := range m {
		m[i] = make([]int, n)
	}
	return score{Confusion: m}
}

// add counts a clip of class want answered as got.
func (s *score) add(want, got int) {
	s.Confusion[want][got]++
	if got == want {
		s.Correct++
	}
}

// finish sets the accuracy over clips.
func (s *score) finish(clips int) { s.Accuracy = float64(s.Correct) / float64(clips) }

// maxEvalFrames bounds the frames per clip of eval --synthetic, from the
// flag or from the model's metadata.
const maxEvalFrames = 1024

// evalCmd runs the engine online over held-out synthetic gesture clips and
// reports accuracy and a confusion matrix, scored at each clip's end and
// again after --rest seconds more of the stream (the hand at rest).
func evalCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	if slices.Contains(args, "--cross") || slices.Contains(args, "-cross") {
		return evalCrossCmd(ctx, args, stdout, log)
	}
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	synthetic := fs.Bool("synthetic", false, "evaluate on held-out synthetic gesture clips (this or --cross is required)")
	clips := fs.Int("clips", 500, "number of clips, classes in turn")
	seed := fs.Uint64("seed", 2000003, "generator seed (training used seed 1 and held-out seed 1000003)")
	frames := fs.Int("frames", 0, "frames per clip (default: the model's metadata, else 8)")
	rest := fs.Float64("rest", 1.0, "seconds of rest after each clip for the second score (the stream going on, as after the cross evaluation's motions); 0: none")
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
	if !(*rest >= 0 && *rest <= 10) { // NaN fails too
		return fmt.Errorf("eval: --rest %g out of range [0, 10] seconds", *rest)
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
	res.score = newScore(len(names))
	restN := int(math.Round(*rest * fps))
	if restN > 0 {
		res.Rest = &restScore{Seconds: *rest, Frames: restN, score: newScore(len(names))}
	}
	// Palm radii are drawn log-uniform in 3–16% of the frame's shorter side
	// and motions last 0.3–1.5 s: about thirds of each.
	bySize := split{[]float64{0.05, 0.09}, []string{"palm < 5%", "5–9%", "≥ 9%"}}
	byDuration := split{[]float64{0.7, 1.1}, []string{"< 0.7 s", "0.7–1.1 s", "≥ 1.1 s"}}
	res.BySize, res.ByDuration = bySize.buckets(), byDuration.buckets()
	s := m.NewStream()
	smooth := stream.NewSmoother(m.Classes(), 0, true)
	var shown []crosseval.Shown
	start := time.Now()
	log.Info("eval", "model", name, "clips", *clips, "frames", n, "seed", *seed, "render", side, "input", m.InputSize())
	for c := 0; c < *clips; c++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		clip := gen.ClipWithRest(c%synth.NumClasses, n, restN)
		s.Reset()
		smooth.Reset()
		shown = shown[:0]
		want := toModel[clip.Label]
		// The label the user sees: each frame through the engine's
		// smoothing, as the terminal and the page show it; the clip's
		// answer is the first gesture shown from the motion's start on
		// (crosseval's rule), at the clip's end and again after the rest.
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
			if t == n-1 {
				answer, _ := crosseval.Answer(shown, float64(clip.Start)/fps, float64(n)/fps)
				got := slices.Index(names, answer)
				res.add(want, got)
				bySize.add(res.BySize, clip.Scale, got == want)
				if clip.Label != synth.NoGesture {
					byDuration.add(res.ByDuration, float64(clip.End-clip.Start)/fps, got == want)
				}
			}
		}
		if res.Rest != nil {
			answer, _ := crosseval.Answer(shown, float64(clip.Start)/fps, float64(n+restN)/fps)
			res.Rest.add(want, slices.Index(names, answer))
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.finish(*clips)
	if res.Rest != nil {
		res.Rest.finish(*clips)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	return printConfusion(stdout, res)
}

func printConfusion(w io.Writer, r evalResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d/%d clips correct, accuracy %.1f%% (%d frames per clip, seed %d, %.1f s)\n",
		r.Model, r.Correct, r.Clips, 100*r.Accuracy, r.Frames, r.Seed, r.Seconds)
	if r.Rest != nil {
		fmt.Fprintf(&b, "with %g s (%d frames) of rest after each clip: %d/%d right, %.1f%%\n",
			r.Rest.Seconds, r.Rest.Frames, r.Rest.Correct, r.Clips, 100*r.Rest.Accuracy)
	}
	writeBuckets(&b, "at the clip's end, by hand size (palm radius over the frame's shorter side)", r.BySize)
	writeBuckets(&b, "at the clip's end, by motion duration (the gestures)", r.ByDuration)
	writeMatrix(&b, "at the clip's end", r.Labels, r.Confusion)
	if r.Rest != nil {
		writeMatrix(&b, "with the rest after", r.Labels, r.Rest.Confusion)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeBuckets writes a split score on one line under a title.
func writeBuckets(b *strings.Builder, title string, bs []bucket) {
	fmt.Fprintf(b, "%s:", title)
	for i, k := range bs {
		sep := " "
		if i > 0 {
			sep = " · "
		}
		fmt.Fprintf(b, "%s%s %d/%d", sep, k.Range, k.Correct, k.Clips)
		if k.Clips > 0 {
			fmt.Fprintf(b, " (%.1f%%)", 100*k.Accuracy)
		}
	}
	b.WriteString("\n")
}

// writeMatrix writes a confusion matrix under a title.
func writeMatrix(b *strings.Builder, title string, labels []string, m [][]int) {
	fmt.Fprintf(b, "\n%s\n%-32s", title, "true \\ predicted")
	for j := range labels {
		fmt.Fprintf(b, "%5d", j)
	}
	b.WriteString("\n")
	for i, l := range labels {
		fmt.Fprintf(b, "%2d %-29.29s", i, l)
		for _, v := range m[i] {
			fmt.Fprintf(b, "%5d", v)
		}
		b.WriteString("\n")
	}
}
