package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"image"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/livetsm/livetsm/cluster"
	"github.com/livetsm/livetsm/stream"
	"github.com/livetsm/livetsm/stream/capture"
)

const workerUsage = `Worker: runs cameras from the registry on the bus, publishes their predictions:
  livetsm worker --nats URL --name NAME --max-streams N [flags]

The worker claims unowned cameras (livetsm cameras add ...) up to its fair share and
at most N, through leases renewed every TTL/3; a dead worker's cameras go to the
others once its leases expire; SIGTERM stops them at once and hands them back a
second later (so no camera is published by two workers in one second). Each camera runs the
same pacing → model → smoothing pipeline as livetsm --rtsp/--video/--synthetic, and
every prediction is published on livetsm.predictions.<camera id>.

Flags:
`

// workerConfig holds the worker command's flags.
type workerConfig struct {
	nats, publish  string
	name           string
	maxStreams     int
	replicas       int
	leaseTTL       time.Duration
	addr, token    string
	model          modelFlags
	reconnectMax   time.Duration
	synth          synthFlags
	connectTimeout time.Duration
}

func newWorkerFlags() (*flag.FlagSet, *workerConfig) {
	c := &workerConfig{}
	fs := flag.NewFlagSet("livetsm worker", flag.ContinueOnError)
	fs.StringVar(&c.nats, "nats", cluster.DefaultURL, "the bus: NATS `URL`s, comma-separated (nats://[TOKEN@]HOST:PORT)")
	fs.StringVar(&c.publish, "publish", "", "publish predictions to this NATS `URL` (default: the --nats bus)")
	fs.StringVar(&c.name, "name", hostName(), "this worker's `NAME`, unique among live workers (letters, digits, '-', '_')")
	fs.IntVar(&c.maxStreams, "max-streams", 4, "run at most `N` cameras at once")
	fs.IntVar(&c.replicas, "replicas", 1, "copies a NATS cluster keeps of the buckets this worker creates (3 survives the loss of a server)")
	fs.DurationVar(&c.leaseTTL, "lease-ttl", cluster.DefaultLeaseTTL, "lease TTL when this worker creates the leases bucket (a dead worker's cameras are free after it); an existing bucket keeps its own")
	fs.StringVar(&c.addr, "addr", "", "serve /metrics and /healthz on `HOST:PORT` (another host than loopback needs --token)")
	fs.StringVar(&c.token, "token", "", "require this `TOKEN` for /metrics (Authorization: Bearer TOKEN, or ?token=)")
	c.model.register(fs, modelChoice|modelInput|modelStream)
	fs.DurationVar(&c.reconnectMax, "reconnect-max", 30*time.Second, "longest wait between RTSP reconnection attempts")
	c.synth.register(fs, "synthetic cameras")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", cluster.DefaultConnectTimeout, "give up when the bus does not answer within this long at start")
	return fs, c
}

func printWorkerHelp(w io.Writer) {
	fs, _ := newWorkerFlags()
	printHelp(w, workerUsage, fs)
}

// check validates the flags.
func (c *workerConfig) check() error {
	if err := c.model.validate(); err != nil {
		return err
	}
	switch {
	case cluster.ValidID(c.name) != nil:
		return fmt.Errorf("--name: %w", cluster.ValidID(c.name))
	case c.maxStreams < 1 || c.maxStreams > 256:
		return fmt.Errorf("--max-streams %d out of range [1, 256]", c.maxStreams)
	case c.replicas < 1 || c.replicas > 5:
		return fmt.Errorf("--replicas %d out of range [1, 5]", c.replicas)
	case c.leaseTTL < cluster.MinLeaseTTL || c.leaseTTL > cluster.MaxLeaseTTL:
		return fmt.Errorf("--lease-ttl %v out of range [%v, %v]", c.leaseTTL, cluster.MinLeaseTTL, cluster.MaxLeaseTTL)
	case c.reconnectMax <= 0:
		return errors.New("--reconnect-max must be positive")
	case c.connectTimeout <= 0 || c.connectTimeout > time.Minute:
		return fmt.Errorf("--connect-timeout %v out of range (0, 1m]", c.connectTimeout)
	}
	if err := c.synth.check(); err != nil {
		return err
	}
	return checkToken(c.addr, c.token, "")
}

// workerCmd runs a worker until ctx is done. Once it has stopped, it logs
// how many goroutines it left running (goroutines_left, 0 when clean).
func workerCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	before := runtime.NumGoroutine()
	err := runWorker(ctx, args, stdout, log)
	left := runtime.NumGoroutine() - before
	for wait := 0; left > 0 && wait < 40; wait++ { // closed connections wind down
		time.Sleep(50 * time.Millisecond)
		left = runtime.NumGoroutine() - before
	}
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	log.Info("worker exit", "goroutines_left", max(left, 0))
	return err
}

// runWorker is workerCmd without the goroutine count.
func runWorker(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs, c := newWorkerFlags()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printWorkerHelp(stdout)
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see livetsm worker --help)", fs.Arg(0))
	}
	if err := c.check(); err != nil {
		return err
	}
	baseLog := log // the cluster package names the worker itself
	log = log.With("worker", c.name)
	var ln net.Listener
	if c.addr != "" {
		var err error
		if ln, err = net.Listen("tcp", c.addr); err != nil {
			return fmt.Errorf("--addr: %w", err)
		}
		defer ln.Close()
	}

	nc, err := cluster.Connect(ctx, c.nats, cluster.ConnectOptions{Name: "livetsm worker " + c.name, Timeout: c.connectTimeout, Log: log})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer nc.Close()
	pubConn := nc
	if c.publish != "" && c.publish != c.nats {
		if pubConn, err = cluster.Connect(ctx, c.publish, cluster.ConnectOptions{Name: "livetsm worker " + c.name + " (publish)", Timeout: c.connectTimeout, Log: log}); err != nil {
			return fmt.Errorf("--publish: %w", err)
		}
		defer pubConn.Close()
	}
	pub := cluster.NewPublisher(pubConn, c.name, log)
	defer func() {
		if err := pub.Close(2 * time.Second); err != nil {
			log.Warn("publish: flush at exit", "err", err)
		}
	}()

	model, _, err := c.model.load(log)
	if err != nil {
		return err
	}
	defer model.Close()

	w, err := cluster.NewWorker(ctx, nc, cluster.WorkerOptions{
		Name: c.name, MaxStreams: c.maxStreams, LeaseTTL: c.leaseTTL, Replicas: c.replicas,
		Model: model, Stream: c.model.streamOptions(),
		Open: c.opener(log), Publisher: pub, Log: baseLog,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	if ln != nil {
		srv := &http.Server{Handler: workerMetrics(w, pub, c), ReadHeaderTimeout: 10 * time.Second}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server", "err", err)
			}
		}()
		log.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			<-done
		}()
	}

	err = w.Run(ctx)
	st, ps := w.Stats(), pub.Stats()
	log.Info("worker done", "claimed", st.Claimed, "released", st.Released, "leases_lost", st.LeasesLost,
		"published", ps.Published, "publish_errors", ps.Errors, "dropped", ps.Dropped)
	return err
}

// opener opens a camera's source: synthetic gestures, an RTSP stream
// (reconnecting), or a video file played in a loop in real time.
func (c *workerConfig) opener(log *slog.Logger) func(ctx context.Context, cam cluster.Camera) (stream.Source, error) {
	return func(ctx context.Context, cam cluster.Camera) (stream.Source, error) {
		kind, loc, err := cluster.ParseSource(cam.Source)
		if err != nil {
			return nil, err
		}
		switch kind {
		case cluster.KindSynthetic:
			h := fnv.New64a()
			h.Write([]byte(cam.ID)) // each camera its own gestures
			return c.synth.source(h.Sum64()), nil
		case cluster.KindRTSP:
			first, err := capture.OpenRTSP(ctx, loc)
			if err != nil {
				return nil, err
			}
			return stream.Reconnecting(first, func(ctx context.Context) (stream.Source, error) {
				return capture.OpenRTSP(ctx, loc)
			}, stream.ReconnectOptions{Max: c.reconnectMax, Log: log.With("camera", cam.ID), Name: first.String()}), nil
		default:
			return newLoopingFile(func() (stream.Source, error) { return capture.OpenVideo(loc) })
		}
	}
}

// workerMetrics serves a worker's /metrics (Prometheus) and /healthz.
func workerMetrics(w *cluster.Worker, pub *cluster.Publisher, c *workerConfig) http.Handler {
	reg := prometheus.NewRegistry()
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "livetsm_worker_cameras", Help: "Cameras this worker runs now."},
			func() float64 { return float64(w.Stats().Cameras) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "livetsm_worker_max_streams", Help: "The most cameras this worker runs (--max-streams)."},
			func() float64 { return float64(c.maxStreams) }),
		counter("livetsm_worker_claims_total", "Camera leases taken.", func() float64 { return float64(w.Stats().Claimed) }),
		counter("livetsm_worker_releases_total", "Camera leases handed back (rebalancing, removed cameras, shutdown).", func() float64 { return float64(w.Stats().Released) }),
		counter("livetsm_worker_leases_lost_total", "Camera leases lost (renewal refused or too late); the camera stopped at once.", func() float64 { return float64(w.Stats().LeasesLost) }),
		counter("livetsm_published_total", "Predictions handed to the bus.", func() float64 { return float64(pub.Stats().Published) }),
		counter("livetsm_publish_errors_total", "Predictions the bus connection refused (buffer full while away, closed).", func() float64 { return float64(pub.Stats().Errors) }),
		counter("livetsm_publish_dropped_total", "Predictions dropped because the publish queue was full.", func() float64 { return float64(pub.Stats().Dropped) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(map[string]any{"status": "ok", "worker": c.name, "cameras": w.Stats().Cameras, "max": c.maxStreams})
	})
	if c.token == "" {
		return mux
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != c.token && r.Header.Get("Authorization") != "Bearer "+c.token {
			http.Error(rw, "a token is required (Authorization: Bearer TOKEN, or ?token=)", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(rw, r)
	})
}

// loopingFile plays a video file as a live camera: each frame is returned
// at its own time on the wall clock, and at the end the file is opened
// again, its first frame marked Reset.
type loopingFile struct {
	open func() (stream.Source, error)

	mu     sync.Mutex // guards src and closed against Close
	src    stream.Source
	closed bool

	started bool
	first   time.Time     // file time of this pass's first frame
	base    time.Time     // wall time of this pass's first frame
	last    time.Time     // wall time of the last frame returned
	period  time.Duration // time between the last two frames
	prevTS  time.Time     // file time of the last frame
	reset   bool
}

// newLoopingFile opens the file once (so that a missing or bad file is an
// error at once) and returns the looping source.
func newLoopingFile(open func() (stream.Source, error)) (*loopingFile, error) {
	src, err := open()
	if err != nil {
		return nil, err
	}
	return &loopingFile{open: open, src: src, period: time.Second / 30}, nil
}

// Live reports true: frames come in real time.
func (l *loopingFile) Live() bool { return true }

// Read returns the next frame when its time comes.
func (l *loopingFile) Read(ctx context.Context, buf *image.RGBA) (stream.Frame, error) {
	for range 2 {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return stream.Frame{}, errors.New("video: closed")
		}
		if l.src == nil {
			src, err := l.open()
			if err != nil {
				l.mu.Unlock()
				return stream.Frame{}, err
			}
			l.src, l.started, l.reset = src, false, true
		}
		src := l.src
		l.mu.Unlock()

		f, err := src.Read(ctx, buf)
		if errors.Is(err, io.EOF) {
			l.mu.Lock()
			if l.src == src {
				l.src = nil
			}
			l.mu.Unlock()
			src.Close()
			continue // from the start
		}
		if err != nil {
			return stream.Frame{}, err
		}
		if !l.started {
			l.started, l.first, l.prevTS = true, f.Time, f.Time
			l.base = time.Now()
			if !l.last.IsZero() {
				l.base = l.last.Add(l.period) // one frame after the last pass's
			}
		}
		if d := f.Time.Sub(l.prevTS); d > 0 {
			l.period = d
		}
		l.prevTS = f.Time
		due := l.base.Add(f.Time.Sub(l.first))
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return stream.Frame{}, ctx.Err()
			case <-t.C:
			}
		}
		l.last = due
		f.Time = due
		f.Reset = f.Reset || l.reset
		l.reset = false
		return f, nil
	}
	return stream.Frame{}, errors.New("video: no frames")
}

// Close closes the file.
func (l *loopingFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.src != nil {
		err := l.src.Close()
		l.src = nil
		return err
	}
	return nil
}
