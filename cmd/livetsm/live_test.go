package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is not installed (make deps installs it)")
	}
}

// makeClip writes n frames of ffmpeg's lavfi testsrc at 30 fps as H.264.
func makeClip(t *testing.T, n int) string {
	t.Helper()
	needFFmpeg(t)
	path := filepath.Join(t.TempDir(), "clip.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc=size=160x120:rate=30", "-frames:v", strconv.Itoa(n),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return path
}

// jsonPrediction is what --json prints, decoded.
type jsonPrediction struct {
	TS    time.Time `json:"ts"`
	Frame int64     `json:"frame"`
	Label string    `json:"label"`
	Score float64   `json:"score"`
	Top5  []struct {
		Label string  `json:"label"`
		Score float64 `json:"score"`
	} `json:"top5"`
	LatencyMS *float64 `json:"latency_ms"`
	Reset     bool     `json:"reset"`
}

func decodeLines(t *testing.T, out string) []jsonPrediction {
	t.Helper()
	var ps []jsonPrediction
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var p jsonPrediction
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		checkPrediction(t, p)
		ps = append(ps, p)
	}
	return ps
}

func checkPrediction(t *testing.T, p jsonPrediction) {
	t.Helper()
	if p.Label == "" || p.Score <= 0 || p.Score > 1 || len(p.Top5) != 5 || p.LatencyMS == nil || p.TS.IsZero() {
		t.Errorf("bad prediction %+v", p)
	}
	if len(p.Top5) > 0 && p.Top5[0].Score < p.Top5[len(p.Top5)-1].Score {
		t.Errorf("top5 not sorted: %+v", p.Top5)
	}
}

func TestLiveVideo(t *testing.T) {
	clip := makeClip(t, 30)
	runOnce := func() ([]jsonPrediction, string) {
		var out syncBuffer
		var logs syncBuffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		// One thread: the check is of the pipeline's determinism, not of
		// the engine's parallel arithmetic.
		if err := run(context.Background(), []string{"--video", clip, "--json", "--size", "64", "--threads", "1"}, &out, log); err != nil {
			t.Fatalf("run: %v\n%s", err, logs.String())
		}
		return decodeLines(t, out.String()), logs.String()
	}
	a, logs := runOnce()
	// 30 frames at 30 fps, paced to 15 fps: every other frame.
	if len(a) != 15 || a[0].Frame != 0 || a[14].Frame != 28 {
		t.Fatalf("%d predictions (frames %d…%d), want 15 (0…28)", len(a), a[0].Frame, a[len(a)-1].Frame)
	}
	for _, want := range []string{"msg=done", "frames=30", "predictions=15", "skipped=15"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	// A file is processed deterministically.
	b, _ := runOnce()
	for i := range a {
		if a[i].Frame != b[i].Frame || a[i].Label != b[i].Label || a[i].Score != b[i].Score {
			t.Errorf("prediction %d differs between runs: %+v vs %+v", i, a[i], b[i])
		}
	}
}

func TestLiveTextOutput(t *testing.T) {
	clip := makeClip(t, 20)
	var out bytes.Buffer
	log := slog.New(slog.DiscardHandler)
	if err := run(context.Background(), []string{"--video", clip, "--size", "64", "--no-smooth", "--fps", "30", "--max-frames", "12"}, &out, log); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("output:\n%s", out.String())
	}
	if !strings.Contains(lines[0], "frame 0") || strings.Contains(lines[0], "\r") {
		t.Errorf("first line %q", lines[0])
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "12 predictions") {
		t.Errorf("summary %q", last)
	}
}

func TestLiveSynthetic(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.DiscardHandler)
	err := run(context.Background(), []string{"--synthetic", "--json", "--size", "64", "--max-frames", "4",
		"--synthetic-width", "96", "--synthetic-height", "72"}, &out, log)
	if err != nil {
		t.Fatal(err)
	}
	if ps := decodeLines(t, out.String()); len(ps) != 4 {
		t.Errorf("%d predictions, want 4", len(ps))
	}
}

// runError is a command line and a part of the error it must end with.
type runError struct {
	args []string
	want string
}

// checkRunErrors runs each command line as a subtest and checks that it
// fails with an error saying want.
func checkRunErrors(t *testing.T, tests []runError) {
	t.Helper()
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestLiveErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.mp4")
	tests := []runError{
		{[]string{"--video", missing}, "video: open " + missing + ": no such file"},
		{[]string{"--rtsp", "http://example.com/live"}, `bad URL "http://example.com/live": scheme "http" is not rtsp`},
		{[]string{"--rtsp", "rtsp://127.0.0.1:1/live", "--retry-first=false"}, "rtsp: cannot open rtsp://127.0.0.1:1/live: dial tcp"},
		{[]string{"--json"}, "no source"},
		{[]string{"--synthetic", "--video", "x.mp4"}, "one source at a time"},
		{[]string{"--synthetic", "--fps", "-1"}, "--fps"},
		{[]string{"--synthetic", "--weights", missing}, "no such file"},
		{[]string{"--synthetic", "--labels", missing}, "--labels"},
		{[]string{"--synthetic", "extra"}, "unexpected argument"},
		{[]string{"--bogus"}, "flag provided but not defined"},
	}
	checkRunErrors(t, tests)
}

// TestNumberFlags: numeric flags out of range, NaN and infinities included
// (flag parses "NaN" and "Inf" as numbers), are refused with the flag named,
// before anything starts.
func TestNumberFlags(t *testing.T) {
	y4m := filepath.Join(t.TempDir(), "x.y4m")
	tests := []runError{
		{[]string{"--synthetic", "--fps", "NaN"}, "--fps NaN out of range"},
		{[]string{"--synthetic", "--fps", "Inf"}, "--fps +Inf out of range"},
		{[]string{"serve", "--fps", "NaN"}, "--fps NaN out of range"},
		{[]string{"--synthetic", "--synthetic-fps", "NaN"}, "--synthetic-fps NaN out of range"},
		{[]string{"--synthetic", "--synthetic-fps", "-Inf"}, "--synthetic-fps -Inf out of range"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:1", "--name", "w", "--synthetic-fps", "NaN"}, "--synthetic-fps NaN out of range"},
		{[]string{"--synthetic", "--synthetic-height", "8"}, "--synthetic-width/height 320×8 out of range"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:1", "--name", "w", "--synthetic-width", "5000"}, "--synthetic-width/height 5000×240 out of range"},
		{[]string{"synth", "--y4m", y4m, "--fps", "NaN"}, "--fps NaN must be positive"},
		{[]string{"synth", "--y4m", y4m, "--live-seconds", "NaN"}, "--live-seconds NaN out of range"},
		{[]string{"synth", "--y4m", y4m, "--live-seconds", "Inf"}, "--live-seconds +Inf out of range"},
		{[]string{"synth", "--y4m", y4m, "--live-seconds", "-1"}, "--live-seconds -1 out of range"},
		{[]string{"bench", "--width", "NaN"}, "width NaN out of range"},
		{[]string{"eval", "--synthetic", "--frames", "-3"}, "--frames -3 out of range"},
		{[]string{"eval", "--synthetic", "--rest", "NaN"}, "--rest NaN out of range"},
	}
	checkRunErrors(t, tests)
	if _, err := os.Stat(y4m); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("synth wrote %s before refusing its flags (%v)", y4m, err)
	}
}

// rtspServer is a minimal RTSP server on loopback: one publisher (ffmpeg)
// announces and records, readers describe, set up and play.
type rtspServer struct {
	s         *gortsplib.Server
	mu        sync.Mutex
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession
}

func startRTSP(t *testing.T, addr string) *rtspServer {
	t.Helper()
	h := &rtspServer{}
	h.s = &gortsplib.Server{Handler: h, RTSPAddress: addr}
	// The port was just freed; retry briefly if it is not yet reusable.
	var err error
	for range 50 {
		if err = h.s.Start(); err == nil {
			return h
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("rtsp server: %v", err)
	return nil
}

func (h *rtspServer) close() { h.s.Close() }

func (h *rtspServer) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream != nil && ctx.Session == h.publisher {
		h.stream.Close()
		h.stream = nil
	}
}

func (h *rtspServer) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *rtspServer) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream != nil {
		h.stream.Close()
		h.publisher.Close()
	}
	h.stream = gortsplib.NewServerStream(h.s, ctx.Description)
	h.publisher = ctx.Session
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *rtspServer) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *rtspServer) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *rtspServer) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	ctx.Session.OnPacketRTPAny(func(medi *description.Media, forma format.Format, pkt *rtp.Packet) {
		h.mu.Lock()
		st := h.stream
		h.mu.Unlock()
		if st != nil {
			st.WritePacketRTP(medi, pkt)
		}
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// publish starts ffmpeg publishing a live H.264 test pattern to url; it
// returns a function that stops it.
func publish(t *testing.T, url string) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=30",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15", "-pix_fmt", "yuv420p",
		"-f", "rtsp", "-rtsp_transport", "tcp", url)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("ffmpeg: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runLiveRTSPJSON runs `livetsm --rtsp url --json` (64 px, reconnecting
// within 1 s) until ctx ends. It returns the logs, the predictions as they
// are printed (closed when the output ends) and the command's result.
func runLiveRTSPJSON(ctx context.Context, t *testing.T, url string) (*syncBuffer, <-chan jsonPrediction, <-chan error) {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--rtsp", url, "--json", "--size", "64", "--reconnect-max", "1s"}, pw, log)
		pw.Close()
	}()
	lines := make(chan jsonPrediction, 1024)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var p jsonPrediction
			if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
				t.Errorf("not a JSON line: %q", sc.Text())
			}
			lines <- p
		}
		close(lines)
	}()
	return logs, lines, done
}

// TestLiveRTSP runs `livetsm --rtsp URL --json` against a real RTSP server on
// loopback that ffmpeg publishes to, then stops the server and starts it
// again: livetsm must say it reconnects and go on predicting from a fresh
// cache, and end cleanly when cancelled.
func TestLiveRTSP(t *testing.T) {
	needFFmpeg(t)
	addr := freePort(t)
	url := "rtsp://" + addr + "/live"
	srv := startRTSP(t, addr)
	stopPub := publish(t, url)
	// Wait until the stream is published before livetsm connects.
	waitPublished(t, srv)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs, lines, done := runLiveRTSPJSON(ctx, t, url)
	next := func(what string, within time.Duration) jsonPrediction {
		t.Helper()
		select {
		case p, ok := <-lines:
			if !ok {
				t.Fatalf("%s: output ended: %v\nlogs:\n%s", what, <-done, logs.String())
			}
			checkPrediction(t, p)
			return p
		case <-time.After(within):
			t.Fatalf("%s: no prediction within %v\nlogs:\n%s", what, within, logs.String())
		}
		return jsonPrediction{}
	}
	first := next("first prediction", 20*time.Second)
	for range 5 {
		if p := next("predictions", 5*time.Second); p.Frame <= first.Frame || p.Reset {
			t.Errorf("prediction %+v after %+v", p, first)
		}
	}

	// The server goes away, then comes back on the same address.
	stopPub()
	srv.close()
	srv = startRTSP(t, addr)
	defer srv.close()
	publish(t, url)

	deadline := time.After(30 * time.Second)
	for resumed := false; !resumed; {
		select {
		case p, ok := <-lines:
			if !ok {
				t.Fatalf("output ended: %v\nlogs:\n%s", <-done, logs.String())
			}
			resumed = p.Reset
		case <-deadline:
			t.Fatalf("no prediction after the reconnect\nlogs:\n%s", logs.String())
		}
	}
	for range 3 {
		next("predictions after the reconnect", 5*time.Second)
	}
	for _, want := range []string{"stream lost; reconnecting", "reconnected", "fresh cache"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}

	// SIGINT/SIGTERM cancel the context: a clean, prompt exit.
	t.Logf("logs:\n%s", logs.String())
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func waitPublished(t *testing.T, srv *rtspServer) {
	t.Helper()
	for range 500 {
		srv.mu.Lock()
		ok := srv.stream != nil
		srv.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("ffmpeg did not publish within 10 s")
}
