package capture

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"github.com/livetsm/livetsm/stream"
)

// answeringServer is an RTSP server whose DESCRIBE answers depend on the
// path: /auth wants a login it never accepts, /busy is unavailable,
// /audio has no video, anything else is not found.
type answeringServer struct {
	s     *gortsplib.Server
	audio *gortsplib.ServerStream
}

func (h *answeringServer) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	switch ctx.Path {
	case "/auth":
		return &base.Response{StatusCode: base.StatusUnauthorized,
			Header: base.Header{"WWW-Authenticate": base.HeaderValue{`Basic realm="camera"`}}}, nil, nil
	case "/forbidden":
		return &base.Response{StatusCode: base.StatusForbidden}, nil, nil
	case "/busy":
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, nil
	case "/audio":
		return &base.Response{StatusCode: base.StatusOK}, h.audio, nil
	}
	return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
}

func startAnswering(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	h := &answeringServer{}
	h.s = &gortsplib.Server{Handler: h, RTSPAddress: addr}
	if err := h.s.Start(); err != nil {
		t.Fatal(err)
	}
	h.audio = gortsplib.NewServerStream(h.s, &description.Session{Medias: []*description.Media{{
		Type:    description.MediaTypeAudio,
		Formats: []format.Format{&format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}},
	}}})
	t.Cleanup(func() {
		h.audio.Close()
		h.s.Close()
	})
	return addr
}

// TestOpenRTSPErrors checks that OpenRTSP says what went wrong and marks
// what no retry can fix as permanent — and only that.
func TestOpenRTSPErrors(t *testing.T) {
	addr := startAnswering(t)
	tests := []struct {
		name      string
		url       string
		want      string
		permanent bool
	}{
		{"bad scheme", "http://" + addr + "/live", `scheme "http" is not rtsp`, true},
		{"no host", "rtsp:///live", "no host", true},
		{"login wanted", "rtsp://" + addr + "/auth", "refused the login (401 Unauthorized)", true},
		{"wrong password", "rtsp://me:secret@" + addr + "/auth", "refused the login (401 Unauthorized)", true},
		{"forbidden", "rtsp://" + addr + "/forbidden", "refused the login (403 Forbidden)", true},
		{"no such path", "rtsp://" + addr + "/nope", "no stream at this path (404 Not Found)", true},
		{"no video", "rtsp://" + addr + "/audio", "the stream has no video", true},
		{"unavailable", "rtsp://" + addr + "/busy", "503 Service Unavailable", false},
		{"nothing listening", "rtsp://127.0.0.1:1/live", "rtsp: cannot open rtsp://127.0.0.1:1/live: dial tcp 127.0.0.1:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			c, err := OpenRTSP(ctx, tt.url)
			if err == nil {
				c.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %q", err)
			}
			if got := errors.Is(err, stream.ErrPermanent); got != tt.permanent {
				t.Errorf("error %q: permanent %v, want %v", err, got, tt.permanent)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestVideoEndedEarly cuts a faststart MP4 (its index first) in half: the
// frames before the cut are read, and EndedEarly says the file was cut
// short of the frame count its container declares.
func TestVideoEndedEarly(t *testing.T) {
	whole := filepath.Join(t.TempDir(), "whole.mp4")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc=size=160x120:rate=30", "-frames:v", "60",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", whole)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	data, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.mp4")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path  string
		early bool
	}{{whole, false}, {cut, true}} {
		c, err := OpenVideo(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := c.Read(context.Background(), nil); err != nil {
				break
			}
		}
		if c.FrameCount() != 60 || c.EndedEarly() != tt.early {
			t.Errorf("%s: %d frames read of %d declared, ended early %v; want 60 declared, ended early %v",
				filepath.Base(tt.path), c.Frames(), c.FrameCount(), c.EndedEarly(), tt.early)
		}
		if tt.early && (c.Frames() < 5 || c.Frames() > 50) {
			t.Errorf("the cut file gave %d frames, want about 30", c.Frames())
		}
		if !tt.early && c.Frames() != 60 {
			t.Errorf("the whole file gave %d frames", c.Frames())
		}
		c.Close()
	}
}
