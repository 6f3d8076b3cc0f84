package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/onlinetsm/offline"
)

// classifyClip writes a synthetic H.264 clip of n frames (w×h, 30 fps).
func classifyClip(t *testing.T, n int, size string) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is not installed (make deps installs it)")
	}
	path := filepath.Join(t.TempDir(), "clip.mp4")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc=size="+size+":rate=30", "-frames:v", strconv.Itoa(n),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return path
}

var offlineCkpt = filepath.Join("..", "..", "onlinetsm", "offline", "testdata")

func TestClassifyVideos(t *testing.T) {
	clip := classifyClip(t, 45, "320x240")
	bad := filepath.Join(t.TempDir(), "bad.mp4")
	os.WriteFile(bad, []byte("not a video"), 0o644)
	labels := filepath.Join(t.TempDir(), "labels.txt")
	os.WriteFile(labels, []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"), 0o644)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		name, ckpt string
		flags      []string
		views      int
	}{
		{"r50 center", "r50.pth", nil, 1},
		{"mbv2 ten twice", "mbv2.pth", []string{"--crops", "ten", "--clips", "2"}, 20},
		{"r101 three", "r101.pth", []string{"--crops", "three", "--top", "2"}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			// Flags may come after the video.
			args := append([]string{"classify", clip, "--weights", filepath.Join(offlineCkpt, c.ckpt), "--labels", labels, "--json"}, c.flags...)
			if err := run(context.Background(), args, &out, log); err != nil {
				t.Fatal(err)
			}
			var r classifyResult
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("%v: %q", err, out.String())
			}
			twice := slices.Contains(c.flags, "--clips")
			want, _ := offline.TSMTestSampling(8, twice).Indices(45, nil)
			if r.Frames != 45 || !slices.Equal(r.Indices, want) || r.Views != c.views || r.Error != "" {
				t.Errorf("result %+v; want 45 frames, indices %v, %d views", r, want, c.views)
			}
			var sum float32
			for _, p := range r.Top {
				sum += p.Score
				if p.Label == "" || p.Score <= 0 {
					t.Errorf("prediction %+v", p)
				}
			}
			if sum > 1.0001 {
				t.Errorf("top scores sum to %v", sum)
			}
		})
	}

	// An unreadable video is reported by name; the others are classified.
	var out bytes.Buffer
	err := run(context.Background(), []string{"classify", bad, clip, "--weights", filepath.Join(offlineCkpt, "r50.pth")}, &out, log)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 videos") {
		t.Errorf("error %v, want 1 of 2 videos failing", err)
	}
	if s := out.String(); !strings.Contains(s, bad+": error: ") || !strings.Contains(s, "1 classified, 1 failed") {
		t.Errorf("output %q", s)
	}
}

func TestClassifyFlagErrors(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ck := filepath.Join(offlineCkpt, "r50.pth")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"classify", "x.mp4"}, "--weights is required"},
		{[]string{"classify", "--weights", ck}, "no videos"},
		{[]string{"classify", "x.mp4", "--weights", ck, "--clips", "3"}, "--clips 3"},
		{[]string{"classify", "x.mp4", "--weights", ck, "--crops", "five"}, `crops "five"`},
		{[]string{"classify", "x.mp4", "--weights", ck, "--segments", "0"}, "--segments 0"},
		{[]string{"classify", "x.mp4", "--weights", "nope.pth"}, "no such file"},
	} {
		err := run(context.Background(), c.args, io.Discard, log)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}

func TestClassifyBench(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(context.Background(), []string{"classify", "--weights", filepath.Join(offlineCkpt, "r50.pth"), "--bench-clips", "2", "--bench-size", "64", "--json"}, &out, log); err != nil {
		t.Fatal(err)
	}
	var r classifyBenchResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Clips != 2 || r.MedianSPerClip <= 0 {
		t.Errorf("%+v %v", r, err)
	}
}
