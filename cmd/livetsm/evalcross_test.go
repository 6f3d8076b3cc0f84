package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livetsm/livetsm/crosseval"
	"github.com/livetsm/livetsm/internal/testlog"
	"github.com/livetsm/livetsm/stream"
)

// TestEvalCross runs `livetsm eval --cross` on 3 H.264 clips and 1 clip on
// the page in headless Chromium, and checks the machinery, not the model's
// accuracy: every clip decodes and gets labels shown, the confusion counts
// add up, and the labels scored for an H.264 clip are exactly those
// `livetsm --video CLIP --json` shows for the same file.
func TestEvalCross(t *testing.T) {
	chromium := chromiumPath()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: `make test` installs Debian's chromium (APT_PKGS in the Makefile), or set LIVETSM_CHROMIUM: %v", chromium, err)
	}
	if _, err := crosseval.FindPhotos(nil); err != nil {
		t.Fatalf("%v (APT_PKGS in the Makefile)", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	args := []string{"eval", "--cross", "--clips", "3", "--vp8", "1", "--seed", "7", "--json", "--keep", dir, "--chromium", chromium}
	if err := run(ctx, args, &out, testlog.New(t)); err != nil {
		t.Fatalf("livetsm %s: %v", strings.Join(args, " "), err)
	}
	var res crossResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("the JSON: %v\n%s", err, out.String())
	}
	if res.H264 == nil || res.VP8 == nil {
		t.Fatalf("a report is missing: %s", out.String())
	}
	if res.Photos == 0 || res.Seed != 7 {
		t.Errorf("photos %d, seed %d", res.Photos, res.Seed)
	}
	model, _, err := loadModel("", "", 0, 0, testlog.New(t))
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	for _, tt := range []struct {
		rep   *crosseval.Report
		clips int
	}{{res.H264, 3}, {res.VP8, 1}} {
		rep := tt.rep
		total := 0
		for _, row := range rep.Confusion {
			for _, v := range row {
				total += v
			}
		}
		right := 0
		for i := range crosseval.NumClasses {
			right += rep.Confusion[i][i]
		}
		if rep.Clips != tt.clips || len(rep.Results) != tt.clips || total != tt.clips || right != rep.Correct {
			t.Errorf("%s: %d clips, %d results, confusion total %d, diagonal %d, correct %d; want %d clips",
				rep.Name, rep.Clips, len(rep.Results), total, right, rep.Correct, tt.clips)
		}
		for _, r := range rep.Results {
			if len(r.Shown) == 0 {
				t.Errorf("%s clip %d: no label shown", rep.Name, r.Plan.Index)
			}
			for _, s := range r.Shown {
				if !slices.Contains(model.Labels(), s.Label) {
					t.Errorf("%s clip %d: shown %q, not a label of the model", rep.Name, r.Plan.Index, s.Label)
				}
			}
			if !slices.Contains(model.Labels(), r.Answer) || r.Right != (r.Answer == r.Plan.Label) {
				t.Errorf("%s clip %d: answer %q, right %v, label %q", rep.Name, r.Plan.Index, r.Answer, r.Right, r.Plan.Label)
			}
			t.Logf("%s clip %d %s: shown %v → %s", rep.Name, r.Plan.Index, r.Plan.Label, r.Shown, r.Answer)
		}
	}
	// The page played the whole motion: its labels span the clip.
	if r := res.VP8.Results[0]; r.Shown[0].At > float64(r.Plan.MotionStart)/r.Plan.FPS {
		t.Errorf("the page's first label came at %.2f s, after the motion began", r.Shown[0].At)
	}

	// The labels scored are those the terminal shows for the same file.
	for _, r := range res.H264.Results {
		mp4 := filepath.Join(dir, clipName("h264", r.Plan, "mp4"))
		var live bytes.Buffer
		if err := run(ctx, []string{"--video", mp4, "--json"}, &live, testlog.New(t)); err != nil {
			t.Fatalf("livetsm --video %s: %v", mp4, err)
		}
		var shown []crosseval.Shown
		sc := bufio.NewScanner(&live)
		for sc.Scan() {
			var p stream.Prediction
			if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			shown = append(shown, crosseval.Shown{At: float64(p.Frame) / r.Plan.FPS, Label: p.Label})
		}
		if got, want := fmt.Sprint(crosseval.Changes(shown)), fmt.Sprint(r.Shown); got != want {
			t.Errorf("clip %d: livetsm --video shows %s, the evaluation scored %s", r.Plan.Index, got, want)
		}
	}
}

// TestEvalCrossFlags checks that bad flags are errors naming the problem.
func TestEvalCrossFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--clips", "-1"}, "--clips and --vp8"},
		{[]string{"--clips", "0", "--vp8", "0"}, "not both 0"},
		{[]string{"--crf", "60"}, "--crf 60"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--photos", "/nonexistent"}, "no evaluation photographs"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"eval", "--cross"}, tt.args...)
			err := run(context.Background(), args, &bytes.Buffer{}, testlog.New(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("livetsm %s: %v, want an error saying %q", strings.Join(args, " "), err, tt.want)
			}
		})
	}
}
