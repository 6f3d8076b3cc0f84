package capture

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeClip writes a synthetic H.264 clip of n frames at 30 fps with
// ffmpeg's lavfi test source and returns its path.
func makeClip(t *testing.T, n int) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is not installed (make deps installs it)")
	}
	path := filepath.Join(t.TempDir(), "clip.mp4")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc=size=160x120:rate=30", "-frames:v", strconv.Itoa(n),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return path
}

func TestVideo(t *testing.T) {
	path := makeClip(t, 12)
	c, err := OpenVideo(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Live() {
		t.Error("a video file is live")
	}
	f, err := c.Read(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := f.Image.Bounds(); b.Dx() != 160 || b.Dy() != 120 {
		t.Fatalf("frame size %v, want 160×120", b)
	}
	// testsrc is colourful and the alpha is opaque.
	var sum int
	for i, v := range f.Image.Pix {
		if i%4 == 3 && v != 255 {
			t.Fatalf("alpha %d at byte %d", v, i)
		}
		sum += int(v)
	}
	if sum < len(f.Image.Pix)*40 {
		t.Errorf("frame is nearly black (mean %d)", sum/len(f.Image.Pix))
	}
	buf, last, n := f.Image, f.Time, 1
	for {
		f, err := c.Read(context.Background(), buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Image != buf {
			t.Error("the buffer of the right size was not reused")
		}
		if d := f.Time.Sub(last); d < 30*time.Millisecond || d > 37*time.Millisecond {
			t.Errorf("frame %d is %v after the last, want 33ms", n, d)
		}
		last = f.Time
		n++
	}
	if n != 12 {
		t.Errorf("read %d frames, want 12", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(context.Background(), nil); err == nil {
		t.Error("Read after Close succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a video\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.mp4")
	tests := []struct {
		name string
		open func() error
		want string
		is   error
	}{
		{"missing file", func() error { _, err := OpenVideo(missing); return err },
			"video: open " + missing + ": no such file", syscall.ENOENT},
		{"directory", func() error { _, err := OpenVideo(dir); return err }, "is a directory", nil},
		{"not a video", func() error { _, err := OpenVideo(text); return err }, "not a video", nil},
		{"http URL", func() error { _, err := OpenRTSP(context.Background(), "http://example.com/x"); return err },
			`scheme "http" is not rtsp`, nil},
		{"no scheme", func() error { _, err := OpenRTSP(context.Background(), "camera.local/stream"); return err },
			"no scheme", nil},
		{"no host", func() error { _, err := OpenRTSP(context.Background(), "rtsp:///live"); return err },
			"no host", nil},
		{"bad URL", func() error { _, err := OpenRTSP(context.Background(), "rtsp://[::1/x"); return err },
			"bad URL", nil},
		{"nothing listening", func() error { _, err := OpenRTSP(context.Background(), "rtsp://127.0.0.1:1/live"); return err },
			"rtsp: cannot open rtsp://127.0.0.1:1/live", nil},
		{"password hidden", func() error {
			_, err := OpenRTSP(context.Background(), "rtsp://me:s3cret@127.0.0.1:1/live")
			return err
		},
			"cannot open", nil},
		{"password hidden in a bad URL", func() error { _, err := OpenRTSP(context.Background(), "rtsp://me:s3cret@[::1/x"); return err },
			`bad URL "rtsp://xxx@[::1/x": missing ']' in host`, nil},
		{"password hidden without a scheme", func() error { _, err := OpenRTSP(context.Background(), "http://me:s3cret@camera.local/x"); return err },
			"is not rtsp", nil},
		{"negative camera", func() error { _, err := OpenCamera(-2); return err }, "camera: bad number -2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.open()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestOpenRTSPCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// 192.0.2.1 (TEST-NET-1) does not answer; the cancelled context returns
	// at once rather than waiting for OpenCV's open timeout.
	if _, err := OpenRTSP(ctx, "rtsp://192.0.2.1/live"); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}
