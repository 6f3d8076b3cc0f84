package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
)

// bootingServer is rtspServer as a camera that is booting: until its
// encoder (ffmpeg) publishes, DESCRIBE gets 503 Service Unavailable, not
// rtspServer's 404 (a path that does not exist, which livetsm gives up on).
type bootingServer struct{ *rtspServer }

func (h bootingServer) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	res, st, err := h.rtspServer.OnDescribe(ctx)
	if res.StatusCode == base.StatusNotFound {
		res.StatusCode = base.StatusServiceUnavailable
	}
	return res, st, err
}

// startBooting starts a bootingServer on addr.
func startBooting(t *testing.T, addr string) *rtspServer {
	t.Helper()
	h := &rtspServer{}
	h.s = &gortsplib.Server{Handler: bootingServer{h}, RTSPAddress: addr}
	if err := h.s.Start(); err != nil {
		t.Fatalf("rtsp server: %v", err)
	}
	t.Cleanup(h.close)
	return h
}

// TestLiveRTSPCameraNotUpYet starts `livetsm --rtsp URL` 4 s before the
// RTSP server exists (connection refused): livetsm retries with backoff,
// picks the stream up once it is published, and predicts.
func TestLiveRTSPCameraNotUpYet(t *testing.T) {
	needFFmpeg(t)
	addr := freePort(t)
	url := "rtsp://" + addr + "/live"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs, lines, done := runLiveRTSPJSON(ctx, t, url)

	select {
	case err := <-done:
		t.Fatalf("livetsm gave up before the camera was up: %v\nlogs:\n%s", err, logs.String())
	case <-time.After(4 * time.Second):
	}
	started := time.Now()
	srv := startBooting(t, addr)
	publish(t, url)
	waitPublished(t, srv)

	select {
	case p, ok := <-lines:
		if !ok {
			t.Fatalf("output ended: %v\nlogs:\n%s", <-done, logs.String())
		}
		checkPrediction(t, p)
		t.Logf("first prediction %v after the server started", time.Since(started).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatalf("no prediction within 20 s of the server starting\nlogs:\n%s", logs.String())
	}
	for _, want := range []string{"cannot connect yet; retrying", "connection refused", "msg=connected"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
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

// TestLiveRTSPGivesUpAtOnce checks what no retry can fix, and
// --retry-first=false, fail at once with a clear error.
func TestLiveRTSPGivesUpAtOnce(t *testing.T) {
	addr := freePort(t)
	srv := startRTSP(t, addr) // up, but nothing published: 404
	defer srv.close()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no such path", []string{"--rtsp", "rtsp://" + addr + "/nope"}, "no stream at this path (404 Not Found)"},
		{"bad scheme", []string{"--rtsp", "http://" + addr + "/live"}, `scheme "http" is not rtsp`},
		{"no host", []string{"--rtsp", "rtsp:///live"}, "no host"},
		{"nothing listening, no retry", []string{"--rtsp", "rtsp://127.0.0.1:1/live", "--retry-first=false"}, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			err := run(ctx, tt.args, io.Discard, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("gave up after %v, want at once", d)
			}
		})
	}
}
