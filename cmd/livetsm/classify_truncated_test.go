package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestClassifyTruncated classifies a faststart MP4 (its index first) cut
// in half: the frames that decode are classified, exit 0, and the output
// says the file ended early (--json: "truncated":true); the whole file
// is not flagged.
func TestClassifyTruncated(t *testing.T) {
	needFFmpeg(t)
	whole := filepath.Join(t.TempDir(), "whole.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc=size=160x120:rate=30", "-frames:v", "60",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", whole).CombinedOutput()
	if err != nil {
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
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ckpt := filepath.Join(offlineCkpt, "r50.pth")
	classify := func(video string, asJSON bool) string {
		t.Helper()
		args := []string{"classify", video, "--weights", ckpt, "--threads", "1"}
		if asJSON {
			args = append(args, "--json")
		}
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, log); err != nil {
			t.Fatalf("%s: %v", filepath.Base(video), err)
		}
		return out.String()
	}
	for _, tt := range []struct {
		video     string
		truncated bool
	}{{whole, false}, {cut, true}} {
		var r classifyResult
		js := classify(tt.video, true)
		if err := json.Unmarshal([]byte(js), &r); err != nil {
			t.Fatalf("%v: %q", err, js)
		}
		if !strings.Contains(js, fmt.Sprintf(`"truncated":%v`, tt.truncated)) || r.Truncated != tt.truncated || r.Error != "" || len(r.Top) == 0 {
			t.Errorf("%s: %s", filepath.Base(tt.video), js)
		}
		if tt.truncated && (r.Frames < 5 || r.Frames >= 60 || r.Indices[len(r.Indices)-1] >= r.Frames) {
			t.Errorf("cut file: %d frames read, indices %v", r.Frames, r.Indices)
		}
		if !tt.truncated && r.Frames != 60 {
			t.Errorf("whole file: %d frames", r.Frames)
		}
		text := classify(tt.video, false)
		early := fmt.Sprintf("(read %d frames; the file ended early;", r.Frames)
		if strings.Contains(text, early) != tt.truncated {
			t.Errorf("%s: text output %q; want %q: %v", filepath.Base(tt.video), text, early, tt.truncated)
		}
	}
}
