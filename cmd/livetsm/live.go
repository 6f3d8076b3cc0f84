package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/livetsm/livetsm/cluster"
	"github.com/livetsm/livetsm/stream"
	"github.com/livetsm/livetsm/stream/capture"
	"github.com/livetsm/livetsm/stream/synth"
)

const liveUsage = `Live recognition (one source):
  livetsm --rtsp URL [flags]      an RTSP stream (waits for it to come up; reconnects with backoff when it drops)
  livetsm --camera N [flags]      local camera N (/dev/videoN)
  livetsm --video PATH [flags]    a video file: not live — every frame whose timestamp
                                  advances at least 1/fps is processed, as fast as the CPU
                                  allows, without waiting for the wall clock; the same file
                                  gives the same predictions every time
  livetsm --synthetic [flags]     synthetic hand gestures (package stream/synth), live at 30 fps

On a terminal, stdout shows one live status line; otherwise (or with --json) it gets
one line per label change (or one JSON object per prediction). Logs go to stderr.

Flags:
`

// liveConfig holds the live commands' flags.
type liveConfig struct {
	rtsp, video  string
	camera       int
	synthetic    bool
	model        modelFlags
	asJSON       bool
	maxFrames    int64
	reconnectMax time.Duration
	retryFirst   bool
	seed         uint64
	synth        synthFlags
	publish      string // NATS URL for the predictions (nats.go)
	streamID     string
}

// newLiveFlags returns the live commands' flag set and where it stores them.
func newLiveFlags() (*flag.FlagSet, *liveConfig) {
	c := &liveConfig{}
	fs := flag.NewFlagSet("livetsm", flag.ContinueOnError)
	fs.StringVar(&c.rtsp, "rtsp", "", "read the RTSP stream at `URL` (rtsp:// or rtsps://)")
	fs.IntVar(&c.camera, "camera", -1, "read local camera number `N`")
	fs.StringVar(&c.video, "video", "", "read the video file at `PATH`")
	fs.BoolVar(&c.synthetic, "synthetic", false, "read synthetic hand-gesture video")
	c.model.register(fs, modelChoice|modelInput|modelStream)
	fs.BoolVar(&c.asJSON, "json", false, "print one JSON object per prediction on stdout")
	fs.Int64Var(&c.maxFrames, "max-frames", 0, "stop after `N` predictions (0: never)")
	fs.DurationVar(&c.reconnectMax, "reconnect-max", 30*time.Second, "longest wait between RTSP reconnection attempts")
	fs.BoolVar(&c.retryFirst, "retry-first", true, "retry the first RTSP connection too, with the same backoff, while the camera is not up yet (=false: fail at once); a bad URL, a refused login or a missing path fails at once either way")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the --synthetic video")
	c.synth.register(fs, "the --synthetic video")
	fs.StringVar(&c.publish, "publish", "", "also publish each prediction to the NATS bus at `URL` (nats://HOST:PORT), on livetsm.predictions.<stream-id>")
	fs.StringVar(&c.streamID, "stream-id", "", "the stream's `ID` on the bus (default: from the source, e.g. camera-0, synthetic)")
	return fs, c
}

// printLiveHelp writes the live commands' usage and flags to w.
func printLiveHelp(w io.Writer) {
	fs, _ := newLiveFlags()
	printHelp(w, liveUsage, fs)
}

// liveCmd runs live recognition on one source: `livetsm --rtsp URL`, etc.
func liveCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs, c := newLiveFlags()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printLiveHelp(stdout)
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see livetsm --help)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var chosen []string
	for _, name := range []string{"rtsp", "camera", "video", "synthetic"} {
		if set[name] {
			chosen = append(chosen, "--"+name)
		}
	}
	switch {
	case len(chosen) == 0:
		return errors.New("no source: give one of --rtsp URL, --camera N, --video PATH, --synthetic")
	case len(chosen) > 1:
		return fmt.Errorf("one source at a time: got %s", strings.Join(chosen, ", "))
	case c.maxFrames < 0:
		return fmt.Errorf("--max-frames must be 0 or more")
	case c.reconnectMax <= 0:
		return fmt.Errorf("--reconnect-max must be positive")
	}
	if err := c.model.validate(); err != nil {
		return err
	}
	if c.streamID == "" {
		c.streamID = liveStreamID(c, set)
	} else if err := cluster.ValidID(c.streamID); err != nil {
		return fmt.Errorf("--stream-id: %w", err)
	}
	bus, err := startPublishing(ctx, c.publish, log) // before the source: an unreachable bus fails fast
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if bus != nil {
		defer bus.close()
	}
	src, err := openSource(ctx, c, set, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while opening
		}
		return err
	}
	defer src.Close()

	model, _, err := c.model.load(log)
	if err != nil {
		return err
	}
	defer model.Close()

	out := newPrinter(stdout, c.asJSON, isTTY(stdout))
	var n int64
	opts := c.model.streamOptions()
	opts.Log = log
	stats, err := stream.Run(ctx, src, model, opts,
		func(p stream.Prediction) error {
			if bus != nil {
				bus.pub.Publish(c.streamID, p) // never blocks
			}
			if err := out.print(p); err != nil {
				return fmt.Errorf("write prediction: %w", err)
			}
			n++
			if c.maxFrames > 0 && n >= c.maxFrames {
				return stream.ErrStop
			}
			return nil
		})
	out.finish()
	interrupted := ctx.Err() != nil && errors.Is(err, ctx.Err())
	log.Info("done", "source", sourceName(c, set), "interrupted", interrupted,
		"frames", stats.Frames, "predictions", stats.Predictions, "skipped", stats.Skipped,
		"dropped", stats.Dropped, "reconnects", stats.Resets,
		"elapsed", stats.Elapsed.Round(time.Millisecond), "fps", fmt.Sprintf("%.1f", stats.FPS),
		"mean_latency_ms", fmt.Sprintf("%.1f", stats.MeanLatencyMS))
	if interrupted {
		err = nil // SIGINT/SIGTERM: a clean exit
	}
	if err != nil {
		return err
	}
	if !c.asJSON {
		_, err = fmt.Fprintf(stdout, "%d frames read, %d predictions (%d skipped by pacing, %d dropped), %.1f predictions/s, mean latency %.1f ms\n",
			stats.Frames, stats.Predictions, stats.Skipped, stats.Dropped, stats.FPS, stats.MeanLatencyMS)
	}
	return err
}

// sourceName names the chosen source for logs.
func sourceName(c *liveConfig, set map[string]bool) string {
	switch {
	case set["rtsp"]:
		return "rtsp"
	case set["camera"]:
		return fmt.Sprintf("camera %d", c.camera)
	case set["video"]:
		return "video " + c.video
	default:
		return "synthetic"
	}
}

// openSource opens the one source the flags chose.
func openSource(ctx context.Context, c *liveConfig, set map[string]bool, log *slog.Logger) (stream.Source, error) {
	switch {
	case set["video"]:
		return capture.OpenVideo(c.video)
	case set["camera"]:
		return capture.OpenCamera(c.camera)
	case set["rtsp"]:
		open := func(ctx context.Context) (stream.Source, error) { return capture.OpenRTSP(ctx, c.rtsp) }
		ropts := stream.ReconnectOptions{Max: c.reconnectMax, Log: log, Name: capture.RTSPName(c.rtsp)}
		var first stream.Source
		var err error
		if c.retryFirst {
			first, err = stream.OpenRetrying(ctx, open, ropts) // logs the connection
		} else if first, err = open(ctx); err == nil {
			log.Info("connected", "stream", ropts.Name)
		}
		if err != nil {
			return nil, err
		}
		return stream.Reconnecting(first, open, ropts), nil
	default:
		if err := c.synth.check(); err != nil {
			return nil, err
		}
		return c.synth.source(c.seed), nil
	}
}

// synthFlags are the flags of synthetic video: --synthetic-width, -height
// and -fps.
type synthFlags struct {
	w, h int
	fps  float64
}

// register adds the flags to fs; what names the video in their help.
func (f *synthFlags) register(fs *flag.FlagSet, what string) {
	fs.IntVar(&f.w, "synthetic-width", 320, "frame width of "+what)
	fs.IntVar(&f.h, "synthetic-height", 240, "frame height of "+what)
	fs.Float64Var(&f.fps, "synthetic-fps", 30, "frame rate of "+what)
}

// check validates the flags.
func (f *synthFlags) check() error {
	if f.w < 16 || f.h < 16 || f.w > 4096 || f.h > 4096 {
		return fmt.Errorf("--synthetic-width/height %d×%d out of range [16, 4096]", f.w, f.h)
	}
	if !(f.fps > 0 && f.fps <= 240) { // NaN fails too
		return fmt.Errorf("--synthetic-fps %g out of range (0, 240]", f.fps)
	}
	return nil
}

// source returns a live synthetic video of the checked flags' size and rate,
// its gestures drawn from seed.
func (f *synthFlags) source(seed uint64) stream.Source {
	return stream.NewSynthetic(stream.SyntheticOptions{
		Config: synth.Config{Width: f.w, Height: f.h, FPS: f.fps, Seed: seed},
		Live:   true,
	})
}

// isTTY reports whether w is a terminal.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// printer writes predictions to stdout: JSON lines, a live status line on a
// terminal, or one plain line per label change.
type printer struct {
	w       io.Writer
	asJSON  bool
	tty     bool
	enc     *json.Encoder
	first   time.Time
	last    string
	started bool
	dirty   bool
}

func newPrinter(w io.Writer, asJSON, tty bool) *printer {
	return &printer{w: w, asJSON: asJSON, tty: tty && !asJSON, enc: json.NewEncoder(w)}
}

func (p *printer) print(pr stream.Prediction) error {
	if !p.started {
		p.first, p.started = pr.TS, true
	}
	if p.asJSON {
		return p.enc.Encode(pr)
	}
	if p.tty {
		p.dirty = true
		_, err := fmt.Fprintf(p.w, "\r%-30s %5.1f%% │ %5.1f fps │ %6.1f ms │ dropped %d\x1b[K",
			pr.Label, 100*pr.Score, pr.FPS, pr.LatencyMS, pr.Dropped)
		return err
	}
	if pr.Label == p.last && !pr.Reset {
		return nil
	}
	p.last = pr.Label
	_, err := fmt.Fprintf(p.w, "%8.2fs  frame %-6d %-30s %.2f\n", pr.TS.Sub(p.first).Seconds(), pr.Frame, pr.Label, pr.Score)
	return err
}

// finish ends the status line.
func (p *printer) finish() {
	if p.dirty {
		fmt.Fprintln(p.w)
	}
}
