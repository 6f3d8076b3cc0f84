package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/onlinetsm/offline"
	"github.com/livetsm/livetsm/stream/capture"
)

const classifyUsage = `Offline recognition of recorded videos with an mmaction2 TSM checkpoint
(ResNet-50/101 TSM or MobileNetV2 TSM):

  livetsm classify VIDEO… --weights CKPT [--labels LABELS] [--segments 8] [--clips 1]
                   [--crops center|three|ten] [--top 5] [--json] [--threads N]

Each video is decoded (FFmpeg through OpenCV), SEGMENTS frames are sampled as
mmaction2's SampleFrames(clip_len=1, num_clips=SEGMENTS, test_mode=True) (--clips 2:
twice_sample), resized to a shorter side of 256 (cv2 bilinear), cropped (centre 224,
three 256 or ten 224 crops), normalised with mmaction2's mean and std, and the
softmaxes of all views are averaged. Flags may follow the videos.

Flags:
`

// classifyConfig holds the classify command's flags.
type classifyConfig struct {
	weights, labels string
	segments, clips int
	crops           string
	top, threads    int
	asJSON          bool
	benchClips      int
	benchSize       int
}

func newClassifyFlags() (*flag.FlagSet, *classifyConfig) {
	c := &classifyConfig{}
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.StringVar(&c.weights, "weights", "", "mmaction2 checkpoint (`CKPT`, required)")
	fs.StringVar(&c.labels, "labels", "", "class names, one per line (default: class N)")
	fs.IntVar(&c.segments, "segments", 8, "frames sampled per clip (the model's num_segments)")
	fs.IntVar(&c.clips, "clips", 1, "clips per video: 1, or 2 for mmaction2's twice_sample")
	fs.StringVar(&c.crops, "crops", offline.CropCenter, "test-time crops: center, three or ten")
	fs.IntVar(&c.top, "top", 5, "classes to print per video")
	fs.IntVar(&c.threads, "threads", 0, "goroutines sharing one clip's work (default: GOMAXPROCS)")
	fs.BoolVar(&c.asJSON, "json", false, "print one JSON object per video")
	fs.IntVar(&c.benchClips, "bench-clips", 0, "time `N` clips of random frames instead of classifying videos (for bench/)")
	fs.IntVar(&c.benchSize, "bench-size", 224, "frame side of --bench-clips")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), classifyUsage)
		fs.PrintDefaults()
	}
	return fs, c
}

// classifyResult is one video's outcome; --json prints it as one line.
type classifyResult struct {
	Video   string                 `json:"video"`
	Frames  int                    `json:"frames,omitempty"`
	Indices []int                  `json:"indices,omitempty"`
	Views   int                    `json:"views,omitempty"`
	Top     []onlinetsm.Prediction `json:"top,omitempty"`
	Seconds float64                `json:"seconds"`
	Error   string                 `json:"error,omitempty"`
	// Truncated says the file ended short of the frame count its
	// container declares (cut short): Frames counts the frames read.
	Truncated bool `json:"truncated"`
}

func classifyCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs, c := newClassifyFlags()
	var videos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		videos = append(videos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case c.weights == "":
		return fmt.Errorf("classify: --weights is required (an mmaction2 TSM checkpoint)")
	case c.segments < 1 || c.segments > 64:
		return fmt.Errorf("classify: --segments %d out of range [1, 64]", c.segments)
	case c.clips != 1 && c.clips != 2:
		return fmt.Errorf("classify: --clips %d: mmaction2's TSM test sampling gives 1 clip, or 2 with twice_sample", c.clips)
	case c.top < 1:
		return fmt.Errorf("classify: --top must be positive")
	case len(videos) == 0 && c.benchClips == 0:
		return fmt.Errorf("classify: no videos given (livetsm classify -h)")
	}
	pre, err := offline.NewPreprocessor(c.crops)
	if err != nil {
		return fmt.Errorf("classify: --crops: %w", err)
	}
	var opts []offline.Option
	if c.threads > 0 {
		opts = append(opts, offline.WithThreads(c.threads))
	}
	if c.labels != "" {
		names, err := onlinetsm.ReadLabelsFile(c.labels)
		if err != nil {
			return fmt.Errorf("--labels: %w", err)
		}
		opts = append(opts, offline.WithLabels(names))
	}
	m, err := offline.Load(c.weights, opts...)
	if err != nil {
		return err
	}
	defer m.Close()
	log.Info("classify", "model", m.String(), "shifted_blocks", len(m.ShiftedBlocks()), "threads", m.Threads(),
		"segments", c.segments, "clips", c.clips, "crops", c.crops)
	if c.benchClips > 0 {
		return classifyBench(ctx, m, c, stdout)
	}

	progress := len(videos) > 1 && !c.asJSON && isTTY(os.Stderr)
	start := time.Now()
	failed := 0
	for i, v := range videos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if progress {
			fmt.Fprintf(os.Stderr, "\r\x1b[K%s %d/%d %s", bar(i, len(videos), 24), i, len(videos), shorten(v, 40))
		}
		r := classifyVideo(ctx, m, pre, c, v)
		if r.Error != "" {
			failed++
		}
		if progress {
			fmt.Fprint(os.Stderr, "\r\x1b[K")
		}
		if err := printResult(stdout, r, c.asJSON); err != nil {
			return err
		}
	}
	if progress {
		fmt.Fprint(os.Stderr, "\r\x1b[K")
	}
	el := time.Since(start)
	if !c.asJSON {
		fmt.Fprintf(stdout, "%d video(s): %d classified, %d failed, %.1f s (%.2f s per video)\n",
			len(videos), len(videos)-failed, failed, el.Seconds(), el.Seconds()/float64(len(videos)))
	}
	if failed > 0 {
		return fmt.Errorf("classify: %d of %d videos could not be classified", failed, len(videos))
	}
	return nil
}

func printResult(w io.Writer, r classifyResult, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	if r.Error != "" {
		_, err := fmt.Fprintf(w, "%s: error: %s\n", r.Video, r.Error)
		return err
	}
	var b strings.Builder
	if r.Truncated {
		fmt.Fprintf(&b, "%s (read %d frames; the file ended early; %d views, %.2f s)\n", r.Video, r.Frames, r.Views, r.Seconds)
	} else {
		fmt.Fprintf(&b, "%s (%d frames, %d views, %.2f s)\n", r.Video, r.Frames, r.Views, r.Seconds)
	}
	for _, p := range r.Top {
		fmt.Fprintf(&b, "  %6.2f%%  %s\n", 100*p.Score, p.Label)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// classifyVideo decodes, samples, preprocesses and classifies one video.
func classifyVideo(ctx context.Context, m *offline.Model, pre *offline.Preprocessor, c *classifyConfig, path string) classifyResult {
	t0 := time.Now()
	r := classifyResult{Video: path}
	fail := func(err error) classifyResult {
		r.Error = err.Error()
		r.Seconds = time.Since(t0).Seconds()
		return r
	}
	frames, idx, total, short, err := sampleVideo(ctx, path, offline.TSMTestSampling(c.segments, c.clips == 2))
	if err != nil {
		return fail(err)
	}
	r.Frames, r.Indices, r.Truncated = total, idx, short
	var views [][][]float32
	for k := 0; k+c.segments <= len(frames); k += c.segments {
		v, err := pre.Clip(frames[k : k+c.segments])
		if err != nil {
			return fail(fmt.Errorf("%s: %w", path, err))
		}
		views = append(views, v...)
	}
	size := pre.OutSize()
	probs, err := m.ClassifyData(views, size, size)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	r.Views = len(views)
	r.Top = m.Top(probs, c.top)
	r.Seconds = time.Since(t0).Seconds()
	return r
}

// sampleVideo counts the video's frames by decoding it, then decodes it
// again keeping the frames SampleFrames picks, in the order of the indices.
// A file cut short (short) is sampled from the frames that decode.
func sampleVideo(ctx context.Context, path string, s offline.SampleFrames) (frames []image.Image, idx []int, total int, short bool, err error) {
	short, err = readVideo(ctx, path, func(int, *image.RGBA) bool { total++; return true })
	if err != nil {
		return nil, nil, 0, false, err
	}
	if total == 0 {
		return nil, nil, 0, false, fmt.Errorf("%s: no frames could be decoded", path)
	}
	idx, err = s.Indices(total, nil)
	if err != nil {
		return nil, nil, 0, false, fmt.Errorf("%s: %w", path, err)
	}
	want := map[int]*image.RGBA{}
	for _, i := range idx {
		want[i] = nil
	}
	last := slices.Max(idx)
	got := 0
	_, err = readVideo(ctx, path, func(i int, img *image.RGBA) bool {
		if _, ok := want[i]; ok {
			cp := image.NewRGBA(img.Rect)
			copy(cp.Pix, img.Pix)
			want[i] = cp
			got++
		}
		return i < last
	})
	if err != nil {
		return nil, nil, 0, false, err
	}
	frames = make([]image.Image, len(idx))
	for k, i := range idx {
		if want[i] == nil {
			return nil, nil, 0, false, fmt.Errorf("%s: frame %d of %d could not be decoded on the second pass", path, i, total)
		}
		frames[k] = want[i]
	}
	return frames, idx, total, short, nil
}

// readVideo decodes path frame by frame, calling f with each frame's index
// until f returns false or the video ends. short reports a video that
// ended short of the frame count its container declares (cut short).
func readVideo(ctx context.Context, path string, f func(int, *image.RGBA) bool) (short bool, err error) {
	v, err := capture.OpenVideo(path)
	if err != nil {
		return false, err
	}
	defer v.Close()
	var buf *image.RGBA
	for i := 0; ; i++ {
		fr, err := v.Read(ctx, buf)
		if errors.Is(err, io.EOF) {
			return v.EndedEarly(), nil
		}
		if err != nil {
			return false, fmt.Errorf("%s: frame %d: %w", path, i, err)
		}
		buf = fr.Image
		if !f(i, buf) {
			return false, nil
		}
	}
}

// bar draws a text progress bar of width cells for done of total.
func bar(done, total, width int) string {
	n := done * width / max(total, 1)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// shorten keeps the end of s within n runes.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}

// classifyBenchResult is what --bench-clips --json prints.
type classifyBenchResult struct {
	Runtime        string  `json:"runtime"`
	Model          string  `json:"model"`
	Segments       int     `json:"segments"`
	Size           int     `json:"size"`
	Threads        int     `json:"threads"`
	Clips          int     `json:"clips"`
	MedianSPerClip float64 `json:"median_s_per_clip"`
	MinSPerClip    float64 `json:"min_s_per_clip"`
	MeanSPerClip   float64 `json:"mean_s_per_clip"`
	GOARCH         string  `json:"goarch"`
}

// classifyBench times clips of random normalised frames, after one
// warm-up clip.
func classifyBench(ctx context.Context, m *offline.Model, c *classifyConfig, stdout io.Writer) error {
	size := c.benchSize
	rng := rand.New(rand.NewPCG(7, 7))
	frames := make([][]float32, c.segments)
	for i := range frames {
		frames[i] = make([]float32, 3*size*size)
		for j := range frames[i] {
			frames[i][j] = float32(rng.NormFloat64())
		}
	}
	if _, err := m.LogitsData(frames, size, size); err != nil {
		return err
	}
	lat := make([]float64, 0, c.benchClips)
	for i := 0; i < c.benchClips; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		if _, err := m.LogitsData(frames, size, size); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0).Seconds())
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	var sum float64
	for _, v := range lat {
		sum += v
	}
	r := classifyBenchResult{Runtime: "livetsm", Model: m.String(), Segments: c.segments, Size: size, Threads: m.Threads(),
		Clips: c.benchClips, MedianSPerClip: percentile(sorted, 0.5), MinSPerClip: sorted[0], MeanSPerClip: sum / float64(len(lat)), GOARCH: runtime.GOARCH}
	if c.asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	_, err := fmt.Fprintf(stdout, "%s, %d×%d² clip, %d threads, %d clips: median %.3f s  min %.3f s  mean %.3f s per clip\n",
		r.Model, r.Segments, r.Size, r.Threads, r.Clips, r.MedianSPerClip, r.MinSPerClip, r.MeanSPerClip)
	return err
}
