package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/livetsm/livetsm/stream/synth"
)

// maxLiveSeconds bounds synth --live-seconds (an hour of 320×240 at 15
// fps is about 6 GB of YUV4MPEG2).
const maxLiveSeconds = 3600

const synthUsage = `usage:
  livetsm synth --y4m PATH [--class NAME|INDEX] [--frames N] [--width 320] [--height 240] [--fps 15] [--seed N]
      one clip as YUV4MPEG2 (for Chromium's --use-file-for-fake-video-capture)
  livetsm synth --y4m PATH --live-seconds S [--width --height --fps --seed]
      S seconds of the live stream (gestures one after another) as YUV4MPEG2
  livetsm synth --stream [--size 128] [--frames 8] [--min-frames N] [--seed N] [--fps 15] [--count N] [--balanced] [--class C] [--photos auto] [--workers N] [--size-skew K] [--size-max F]
      training clips to stdout, endless unless --count: per clip a 16-byte header
      ("LTS2", label uint8, 0, T, H, W, motion start, motion end as uint16 LE)
      then T×H×W×3 uint8 RGB

flags:
`

func synthCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), synthUsage)
		fs.PrintDefaults()
	}
	y4m := fs.String("y4m", "", "write YUV4MPEG2 to this file (\"-\": stdout)")
	stream := fs.Bool("stream", false, "write training clips to stdout in the binary stream format")
	class := fs.String("class", "", "gesture name (e.g. \"Swiping Left\") or class index; default: random")
	frames := fs.Int("frames", 0, "frames per clip (default 8 with --stream, 40 with --y4m)")
	width := fs.Int("width", 320, "frame width for --y4m")
	height := fs.Int("height", 240, "frame height for --y4m")
	size := fs.Int("size", 128, "square frame side for --stream")
	fps := fs.Float64("fps", synth.DefaultFPS, "frame rate the motion is timed for (and of the .y4m)")
	sizeSkew := fs.Float64("size-skew", 1, "hand sizes: 1 log-uniform (palm radius from 3% to --size-max of the shorter side); above 1 more small hands, below 1 more large ones (range 0.25–4)")
	sizeMax := fs.Float64("size-max", synth.DefaultSizeMax, "largest palm radius at rest, a fraction of the shorter side (range 0.08–0.4)")
	seed := fs.Uint64("seed", 1, "random seed: the same flags and seed give the same pixels")
	liveSec := fs.Float64("live-seconds", 0, "with --y4m: write this many seconds of the live stream instead of one clip")
	count := fs.Int("count", 0, "with --stream: stop after this many clips (0: endless)")
	balanced := fs.Bool("balanced", false, "with --stream: cycle through the classes in order instead of drawing them at random")
	minFrames := fs.Int("min-frames", 0, "with --stream: draw each clip's length from [min-frames, frames] (0: always --frames)")
	photos := fs.String("photos", "", "photographs for backgrounds and hand textures: \"auto\" (Debian's wallpaper packages), a comma-separated list of directories, or \"\" for procedural backgrounds only")
	workers := fs.Int("workers", 1, "with --stream: render clips on this many goroutines (the output is the same for any number)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("synth: unexpected arguments %q", fs.Args())
	}
	if (*y4m == "") == !*stream {
		fs.Usage()
		return errors.New("synth: give exactly one of --y4m and --stream")
	}
	cls, err := parseClass(*class)
	if err != nil {
		return err
	}
	if *fps <= 0 || math.IsInf(*fps, 0) || math.IsNaN(*fps) {
		return fmt.Errorf("synth: --fps %g must be positive", *fps)
	}
	if !(*sizeSkew >= 0.25 && *sizeSkew <= 4) { // NaN fails too
		return fmt.Errorf("synth: --size-skew %g out of range [0.25, 4]", *sizeSkew)
	}
	if !(*sizeMax >= 0.08 && *sizeMax <= 0.4) { // NaN fails too
		return fmt.Errorf("synth: --size-max %g out of range [0.08, 0.4]", *sizeMax)
	}
	if !(*liveSec >= 0 && *liveSec <= maxLiveSeconds) { // NaN fails too
		return fmt.Errorf("synth: --live-seconds %g out of range [0, %d]", *liveSec, maxLiveSeconds)
	}
	if *frames < 0 || *frames > 0xffff {
		return fmt.Errorf("synth: --frames %d out of range", *frames)
	}
	var ph *synth.Photos
	if *photos != "" {
		dirs := synth.DefaultPhotoDirs()
		if *photos != "auto" {
			dirs = strings.Split(*photos, ",")
		}
		if ph, err = synth.LoadPhotos(dirs...); err != nil {
			return fmt.Errorf("%w (install gnome-backgrounds, mate-backgrounds, lomiri-wallpapers or plasma-workspace-wallpapers, or give --photos DIR)", err)
		}
		log.Info("synth photos", "count", ph.Len(), "dirs", dirs)
	}
	if *stream {
		if *size < 8 || *size > 4096 {
			return fmt.Errorf("synth: --size %d out of range [8, 4096]", *size)
		}
		n := *frames
		if n == 0 {
			n = 8
		}
		if *minFrames < 0 || *minFrames > n {
			return fmt.Errorf("synth: --min-frames %d out of range [0, %d]", *minFrames, n)
		}
		if *workers < 1 || *workers > 64 {
			return fmt.Errorf("synth: --workers %d out of range [1, 64]", *workers)
		}
		sp := streamPlan{class: cls, minFrames: max(*minFrames, 1), frames: n, count: *count, balanced: *balanced, workers: *workers}
		if *minFrames == 0 {
			sp.minFrames = n
		}
		return synthStream(ctx, stdout, log, synth.Config{Width: *size, Height: *size, FPS: *fps, Seed: *seed, Photos: ph, SizeSkew: *sizeSkew, SizeMax: *sizeMax}, sp)
	}
	if *width < 2 || *height < 2 || *width > 8192 || *height > 8192 {
		return fmt.Errorf("synth: frame size %dx%d out of range", *width, *height)
	}
	cfg := synth.Config{Width: *width, Height: *height, FPS: *fps, Seed: *seed, Photos: ph, SizeSkew: *sizeSkew, SizeMax: *sizeMax}
	return synthY4M(ctx, *y4m, stdout, log, cfg, cls, *frames, *liveSec)
}

// parseClass reads a gesture name or class index; "" is −1 (random).
func parseClass(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "random") {
		return -1, nil
	}
	if i, err := strconv.Atoi(s); err == nil {
		if i < 0 || i >= synth.NumClasses {
			return 0, fmt.Errorf("synth: class index %d out of range [0, %d)", i, synth.NumClasses)
		}
		return i, nil
	}
	for i, name := range synth.Labels() {
		if strings.EqualFold(name, s) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("synth: unknown class %q (one of %q)", s, synth.Labels())
}

func synthY4M(ctx context.Context, path string, stdout io.Writer, log *slog.Logger, cfg synth.Config, class, frames int, liveSec float64) (err error) {
	out := stdout
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("synth: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("synth: %w", cerr)
			}
		}()
		out = f
	}
	fps := int(math.Round(cfg.FPS))
	yw, err := synth.NewY4MWriter(out, cfg.Width, cfg.Height, max(fps, 1))
	if err != nil {
		return err
	}
	g := synth.New(cfg)
	if liveSec > 0 {
		n := int(math.Round(liveSec * cfg.FPS))
		live := g.Live()
		prev, from := "", 0
		for i := range n {
			if i%64 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			img, name := live.Next()
			if name != prev {
				if prev != "" {
					log.Info("synth live", "from_frame", from, "to_frame", i, "gesture", prev)
				}
				prev, from = name, i
			}
			if err := yw.WriteFrame(img); err != nil {
				return fmt.Errorf("synth: %w", err)
			}
		}
		log.Info("synth live", "from_frame", from, "to_frame", n, "gesture", prev)
		log.Info("synth wrote", "path", path, "frames", n, "size", fmt.Sprintf("%dx%d", cfg.Width, cfg.Height), "fps", fps)
		return yw.Flush()
	}
	if frames == 0 {
		frames = 40
	}
	c := g.Clip(class, frames)
	for _, f := range c.Frames {
		if err := yw.WriteFrame(f); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	log.Info("synth wrote", "path", path, "gesture", c.Name, "frames", frames, "motion_from", c.Start, "motion_to", c.End,
		"size", fmt.Sprintf("%dx%d", cfg.Width, cfg.Height), "fps", fps)
	return yw.Flush()
}

// streamPlan is what `synth --stream` renders: clips of class (−1: random,
// or in turn when balanced) of minFrames–frames frames, count of them (0:
// endless), on workers goroutines.
type streamPlan struct {
	class, minFrames, frames, count int
	balanced                        bool
	workers                         int
}

// synthStream writes clips until count (0: forever), the reader goes away
// (EPIPE) or ctx ends; the last two are a clean stop. Clip i is rendered by a
// generator of its own, seeded from cfg.Seed and i, so the output does not
// depend on the number of workers.
func synthStream(ctx context.Context, stdout io.Writer, log *slog.Logger, cfg synth.Config, sp streamPlan) error {
	// A closed pipe must surface as EPIPE from Write, not kill the process.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(ctx)
	render := func(i int) synth.Clip {
		c := cfg
		c.Seed = cfg.Seed*0x9e3779b97f4a7c15 + uint64(i)*0xbf58476d1ce4e5b9 + 1
		g := synth.New(c)
		cls := sp.class
		if cls < 0 && sp.balanced {
			cls = i % synth.NumClasses
		}
		n := sp.frames
		if sp.minFrames < sp.frames {
			n = sp.minFrames + int(c.Seed>>33)%(sp.frames-sp.minFrames+1)
		}
		return g.Clip(cls, n)
	}
	// Worker k renders clips k, k+W, k+2W, … into its own channel; the
	// writer takes them in order.
	outs := make([]chan synth.Clip, sp.workers)
	var wg sync.WaitGroup
	for k := range outs {
		outs[k] = make(chan synth.Clip, 2)
		wg.Go(func() {
			defer close(outs[k])
			for i := k; sp.count == 0 || i < sp.count; i += sp.workers {
				c := render(i)
				select {
				case outs[k] <- c:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	// On return: stop the workers, then wait for them.
	defer wg.Wait()
	defer cancel()
	bw := bufio.NewWriterSize(stdout, 1<<20)
	for i := 0; sp.count == 0 || i < sp.count; i++ {
		var c synth.Clip
		ok := false
		select {
		case c, ok = <-outs[i%sp.workers]:
		case <-ctx.Done():
		}
		if !ok { // a worker stops only when ctx ends
			log.Info("synth stream stopped", "clips", i)
			return nil
		}
		err := synth.WriteStreamClip(bw, c)
		if err == nil {
			err = bw.Flush()
		}
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
			log.Debug("synth stream: reader closed", "clips", i)
			return nil
		}
		if err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	return nil
}
