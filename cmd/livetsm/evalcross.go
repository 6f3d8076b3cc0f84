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
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/livetsm/livetsm/crosseval"
	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream"
	"github.com/livetsm/livetsm/stream/capture"
	"github.com/livetsm/livetsm/web"
)

// crossConfig holds the flags of `livetsm eval --cross`.
type crossConfig struct {
	clips, vp8 int
	seed       uint64
	model      modelFlags
	asJSON     bool
	keep       string
	photos     string
	ffmpeg     string
	chromium   string
	crf        int
}

// crossResult is what `livetsm eval --cross --json` prints.
type crossResult struct {
	Model   string            `json:"model"`
	Seed    uint64            `json:"seed"`
	Photos  int               `json:"photos"`
	H264    *crosseval.Report `json:"h264,omitempty"`
	VP8     *crosseval.Report `json:"vp8,omitempty"`
	Seconds float64           `json:"seconds"`
}

// vp8SeedOffset separates the page's clips from the H.264 ones.
const vp8SeedOffset = 1

// evalCrossCmd runs the cross evaluation (package crosseval): clips from a
// second renderer over photographs, encoded as H.264 files run through the
// terminal's pipeline (as `livetsm --video CLIP`) and as the fake camera of
// the web page in headless Chromium (VP8), each scored by the label shown.
func evalCrossCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	c := crossConfig{}
	fs := flag.NewFlagSet("eval --cross", flag.ContinueOnError)
	fs.Bool("cross", true, "the cross evaluation: clips from a second renderer over photographs, through the real decoders")
	fs.IntVar(&c.clips, "clips", 45, "H.264 clips run through the terminal's pipeline (classes in turn)")
	fs.IntVar(&c.vp8, "vp8", 9, "clips played by Chromium's fake camera on the web page (VP8); 0 skips the browser")
	fs.Uint64Var(&c.seed, "seed", 1, "renderer seed (the page's clips use seed+1)")
	c.model.register(fs, modelChoice)
	fs.BoolVar(&c.asJSON, "json", false, "print one JSON object with every clip's labels")
	fs.StringVar(&c.keep, "keep", "", "write the clips (.mp4, .y4m) to `DIR` and keep them (default: a temporary directory)")
	fs.StringVar(&c.photos, "photos", "", "comma-separated directories of the photographs (default: scikit-image's and OpenCV's sample images)")
	fs.StringVar(&c.ffmpeg, "ffmpeg", "ffmpeg", "the ffmpeg executable that encodes the H.264 clips")
	fs.StringVar(&c.chromium, "chromium", defaultChromium(), "the Chromium executable for the page's clips")
	fs.IntVar(&c.crf, "crf", 28, "libx264 constant rate factor of the H.264 clips (higher: lower quality)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("eval: unexpected argument %q", fs.Arg(0))
	case c.clips < 0 || c.vp8 < 0 || c.clips+c.vp8 == 0:
		return errors.New("eval: --clips and --vp8 must be 0 or more, and not both 0")
	case c.crf < 0 || c.crf > 51:
		return fmt.Errorf("eval: --crf %d out of range [0, 51]", c.crf)
	}
	var dirs []string
	if c.photos != "" {
		dirs = splitList(c.photos)
	}
	photos, err := crosseval.FindPhotos(dirs)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if err := c.model.validate(); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	m, name, err := c.model.load(log)
	if err != nil {
		return err
	}
	defer m.Close()
	for _, l := range crosseval.Labels() {
		if !slices.Contains(m.Labels(), l) {
			return fmt.Errorf("eval: the model has no class %q (its labels: %s)", l, strings.Join(m.Labels(), ", "))
		}
	}
	dir := c.keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "livetsm-cross-"); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: %w", err)
	}

	start := time.Now()
	res := crossResult{Model: name, Seed: c.seed, Photos: len(photos)}
	log.Info("cross evaluation", "model", name, "h264_clips", c.clips, "vp8_clips", c.vp8, "seed", c.seed, "photos", len(photos), "dir", dir)
	progress := func(kind string, r crosseval.Result) {
		if c.asJSON {
			return
		}
		mark := "wrong"
		if r.Right {
			mark = "right"
		}
		fmt.Fprintf(stdout, "%-5s clip %-3d %-30s %2.0f fps  motion %.2f–%.2f s  shown %-30s %s\n", kind, r.Plan.Index, r.Plan.Label,
			r.Plan.FPS, float64(r.Plan.MotionStart)/r.Plan.FPS, float64(r.Plan.MotionEnd)/r.Plan.FPS, r.Answer, mark)
	}
	if c.clips > 0 {
		rend := crosseval.NewRenderer(crosseval.Config{Seed: c.seed, Photos: photos})
		rep := crosseval.NewReport("H.264 through livetsm --video")
		for i := range c.clips {
			r, err := runH264Clip(ctx, m, rend, i, dir, crosseval.H264Options{FFmpeg: c.ffmpeg, CRF: c.crf}, log)
			if err != nil {
				return err
			}
			rep.Add(r)
			progress("h264", r)
		}
		res.H264 = rep
	}
	if c.vp8 > 0 {
		rend := crosseval.NewRenderer(vp8Config(c.seed, photos))
		rep, err := runPageClips(ctx, m, name, rend, c.vp8, dir, c.chromium, c.keep != "", log, func(r crosseval.Result) { progress("vp8", r) })
		if err != nil {
			return err
		}
		res.VP8 = rep
	}
	res.Seconds = time.Since(start).Seconds()
	if c.asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "\n%s, seed %d, %d photographs, %.0f s\n", name, c.seed, len(photos), res.Seconds)
	for _, rep := range []*crosseval.Report{res.H264, res.VP8} {
		if rep == nil {
			continue
		}
		fmt.Fprintln(stdout)
		if err := rep.WriteText(stdout); err != nil {
			return err
		}
	}
	return nil
}

// vp8Config is the renderer configuration of the page's clips: 30 fps (a
// camera's rate) and longer rests, so that the page is connected and its
// predictions settled before the motion, and the motion's label is shown
// before the fake camera loops back to the clip's start.
func vp8Config(seed uint64, photos []string) crosseval.Config {
	return crosseval.Config{
		Seed: seed + vp8SeedOffset, Photos: photos, FrameRates: []float64{30},
		Lead: [2]float64{2.5, 3.0}, Tail: [2]float64{2.0, 2.5},
	}
}

// runH264Clip renders clip i, encodes it as an H.264 MP4 in dir, runs the
// file through the terminal's pipeline and scores the labels shown.
func runH264Clip(ctx context.Context, m *onlinetsm.Model, rend *crosseval.Renderer, i int, dir string, enc crosseval.H264Options, log *slog.Logger) (crosseval.Result, error) {
	plan := rend.Plan(i)
	path := filepath.Join(dir, clipName("h264", plan, "mp4"))
	if err := writeH264(ctx, rend, i, path, enc); err != nil {
		return crosseval.Result{}, err
	}
	shown, err := videoLabels(ctx, m, path, plan.FPS, log)
	if err != nil {
		return crosseval.Result{}, err
	}
	return crosseval.Score(plan, shown), nil
}

// clipName names a clip's file: the way it is run, its index and class.
func clipName(kind string, p crosseval.Plan, ext string) string {
	return fmt.Sprintf("%s%03d-%s.%s", kind, p.Index, strings.ReplaceAll(strings.ToLower(p.Label), " ", "-"), ext)
}

// writeH264 renders clip i into an H.264 MP4 at path.
func writeH264(ctx context.Context, rend *crosseval.Renderer, i int, path string, opts crosseval.H264Options) error {
	cfg, plan := rend.Config(), rend.Plan(i)
	w, err := crosseval.NewH264Writer(ctx, path, cfg.Width, cfg.Height, plan.FPS, opts)
	if err != nil {
		return err
	}
	if err := rend.Render(ctx, i, func(f crosseval.Frame) error { return w.Write(f.Image) }); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// videoLabels runs the video file at path through the pipeline of
// `livetsm --video PATH` (OpenCV's FFmpeg decoder, pacing to the model's
// rate, the model, smoothing) and returns the label shown after each
// prediction, timed by the frame's number at the file's frame rate fps.
func videoLabels(ctx context.Context, m *onlinetsm.Model, path string, fps float64, log *slog.Logger) ([]crosseval.Shown, error) {
	src, err := capture.OpenVideo(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var shown []crosseval.Shown
	_, err = stream.Run(ctx, src, m, stream.Options{Log: log}, func(p stream.Prediction) error {
		shown = append(shown, crosseval.Shown{At: float64(p.Frame) / fps, Label: p.Label})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(shown) == 0 {
		return nil, fmt.Errorf("%s: no prediction: the file decoded to no frames", path)
	}
	return shown, nil
}

// writeY4M renders clip i into a .y4m file at path.
func writeY4M(ctx context.Context, rend *crosseval.Renderer, i int, path string) error {
	cfg, plan := rend.Config(), rend.Plan(i)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("y4m: %w", err)
	}
	defer f.Close()
	w, err := crosseval.NewY4MWriter(f, cfg.Width, cfg.Height, plan.FPS)
	if err != nil {
		return err
	}
	if err := rend.Render(ctx, i, func(fr crosseval.Frame) error { return w.Write(fr.Image) }); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("y4m: %w", err)
	}
	return nil
}

// runPageClips serves the web page with model m and plays clips 0…n−1 of
// rend, one at a time, as the fake camera of headless Chromium: Start →
// getUserMedia → WebRTC (VP8) → the server → websocket → #label. Each clip
// is scored by the labels #label shows.
// The .y4m files are removed after use unless keep is set.
func runPageClips(ctx context.Context, m *onlinetsm.Model, name string, rend *crosseval.Renderer, n int, dir, chromium string, keep bool, log *slog.Logger, done func(crosseval.Result)) (*crosseval.Report, error) {
	if _, err := os.Stat(chromium); err != nil {
		return nil, fmt.Errorf("eval: the page's clips need Chromium (Debian's chromium; --chromium or LIVETSM_CHROMIUM): %w", err)
	}
	srv, err := web.NewServer(web.Options{Model: m, ModelName: name, Log: log.With("part", "web"), LoopbackCandidates: true, Interfaces: []string{"lo"}})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("eval: listen: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/"

	rep := crosseval.NewReport("VP8 through the web page in Chromium")
	for i := range n {
		plan := rend.Plan(i)
		y4m := filepath.Join(dir, clipName("page", plan, "y4m"))
		if err := writeY4M(ctx, rend, i, y4m); err != nil {
			return nil, err
		}
		r, err := pageClip(ctx, chromium, url, filepath.Join(dir, fmt.Sprintf("chromium%03d", i)), y4m, plan, log)
		if err != nil {
			return nil, fmt.Errorf("eval: page clip %d (%s): %w", i, plan.Label, err)
		}
		if !keep {
			os.Remove(y4m) // about 20 MB
		}
		// Stop closed the session; wait for the server to let it go.
		for deadline := time.Now().Add(10 * time.Second); srv.Sessions() > 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		rep.Add(r)
		done(r)
	}
	return rep, nil
}

// pageWatch wraps getUserMedia to note when the fake camera starts (its
// file plays from the first frame then) and records every text #label
// shows, with the time (performance.now(), ms).
const pageWatch = `(() => {
  const x = window.__cross = { cam: -1, shown: [] };
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => { const s = await gum(c); x.cam = performance.now(); return s; };
  const el = document.getElementById('label');
  new MutationObserver(() => x.shown.push([performance.now(), el.textContent])).observe(el, { childList: true, characterData: true, subtree: true });
  return true;
})()`

// pageClip plays one clip on the page in a fresh headless Chromium whose
// fake camera loops the clip's .y4m, and scores it. The fake camera starts
// when the page calls getUserMedia; the first pass of the loop whose motion
// starts at least a second after the page's first prediction is scored,
// from its motion's start to the pass's end (before the camera loops back
// and the hand jumps to its first pose).
func pageClip(ctx context.Context, chromium, url, dir, y4m string, plan crosseval.Plan, log *slog.Logger) (crosseval.Result, error) {
	period := plan.Seconds()
	motion := float64(plan.MotionStart) / plan.FPS
	ctx, cancel := context.WithTimeout(ctx, time.Duration((30+3*period)*float64(time.Second)))
	defer cancel()
	defer os.RemoveAll(dir) // after Chromium has exited: deferred calls run last to first
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, browserOptions(chromium, dir, y4m, true)...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("start"))); err != nil {
		return crosseval.Result{}, fmt.Errorf("open the page: %w", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](pageWatch)); err != nil {
		return crosseval.Result{}, fmt.Errorf("watch the page: %w", err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("start"))); err != nil {
		return crosseval.Result{}, fmt.Errorf("press Start: %w", err)
	}
	// record is what pageWatch has recorded so far, and the error box.
	type record struct {
		Now   float64  `json:"now"`
		Cam   float64  `json:"cam"`
		Shown [][2]any `json:"shown"`
		Error string   `json:"error"`
	}
	read := func() (record, error) {
		return chromedp.Run(bctx, chromedp.Evaluate[record](`({now: performance.now(), cam: window.__cross.cam, shown: window.__cross.shown,
			error: (document.getElementById('error') && !document.getElementById('error').hidden) ? document.getElementById('error').textContent : ''})`))
	}
	// Wait for the first prediction on the page.
	var rec record
	var first float64
	for {
		var err error
		if rec, err = read(); err != nil {
			return crosseval.Result{}, fmt.Errorf("read the page: %w", err)
		}
		if rec.Error != "" {
			return crosseval.Result{}, fmt.Errorf("the page says: %s", rec.Error)
		}
		if rec.Cam >= 0 && len(rec.Shown) > 0 {
			first = toFloat(rec.Shown[0][0])
			break
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return crosseval.Result{}, fmt.Errorf("no prediction on the page: %w", err)
		}
	}
	// The pass to score: its motion starts a second or more after the
	// first prediction.
	k := math.Max(0, math.Ceil((first+1000-rec.Cam)/1000/period-motion/period))
	passStart := rec.Cam + k*period*1000
	end := passStart + period*1000
	log.Debug("page clip", "clip", plan.Index, "camera_ms", rec.Cam, "first_ms", first, "pass", k, "end_ms", end)
	for rec.Now < end+300 {
		if err := sleepCtx(ctx, time.Duration(end+300-rec.Now)*time.Millisecond); err != nil {
			return crosseval.Result{}, fmt.Errorf("waiting for the clip to play: %w", err)
		}
		var err error
		if rec, err = read(); err != nil {
			return crosseval.Result{}, fmt.Errorf("read the page: %w", err)
		}
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("stop"))); err != nil {
		log.Warn("press Stop", "err", err)
	}
	shown := make([]crosseval.Shown, 0, len(rec.Shown))
	for _, s := range rec.Shown {
		label, _ := s[1].(string)
		shown = append(shown, crosseval.Shown{At: (toFloat(s[0]) - passStart) / 1000, Label: label})
	}
	return crosseval.ScoreWindow(plan, shown, motion, period), nil
}

func toFloat(v any) float64 {
	f, _ := v.(float64)
	return f
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
