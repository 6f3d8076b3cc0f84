package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/livetsm/livetsm/stream/synth"
)

// TestEvalSynthetic runs `livetsm eval --synthetic` on a few clips of the
// embedded model and checks the report adds up: every clip lands in one cell
// of the confusion matrix, and the correct ones on its diagonal.
func TestEvalSynthetic(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(context.Background(), []string{"eval", "--synthetic", "--clips", "9", "--frames", "16", "--json"}, &out, log); err != nil {
		t.Fatal(err)
	}
	var res evalResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if res.Clips != 9 || res.Frames != 16 || len(res.Labels) != 9 || len(res.Confusion) != 9 {
		t.Fatalf("report %+v", res)
	}
	checkConfusion(t, "at the clip's end", res.Labels, res.score)
	// The splits by hand size (all 9 clips) and by motion duration (the 8
	// gestures) share the clip-end score out.
	none := slices.Index(res.Labels, synth.Labels()[synth.NoGesture])
	gestures := res.Correct - res.Confusion[none][none]
	for _, c := range []struct {
		name           string
		bs             []bucket
		clips, correct int
	}{{"by hand size", res.BySize, 9, res.Correct}, {"by duration", res.ByDuration, 8, gestures}} {
		clips, correct := 0, 0
		for _, b := range c.bs {
			clips += b.Clips
			correct += b.Correct
		}
		if len(c.bs) != 3 || clips != c.clips || correct != c.correct {
			t.Errorf("%s: %+v, want %d clips, %d correct", c.name, c.bs, c.clips, c.correct)
		}
	}
	// The second score: the same clips with 1 s of rest after (15 frames
	// at the model's 15 fps), a matrix that adds up the same way.
	r := res.Rest
	if r == nil || r.Seconds != 1 || r.Frames != 15 || len(r.Confusion) != 9 {
		t.Fatalf("rest score %+v", r)
	}
	checkConfusion(t, "with rest", res.Labels, r.score)
}

// checkConfusion checks that a score of 9 clips, classes in turn, adds up:
// one clip in each row of its matrix, the correct ones on the diagonal.
func checkConfusion(t *testing.T, name string, labels []string, s score) {
	t.Helper()
	m, correct, accuracy := s.Confusion, s.Correct, s.Accuracy
	total, diag := 0, 0
	for i, row := range m {
		rowSum := 0
		for j, v := range row {
			rowSum += v
			if i == j {
				diag += v
			}
		}
		if rowSum != 1 {
			t.Errorf("%s: class %q: %d clips, want 1", name, labels[i], rowSum)
		}
		total += rowSum
	}
	if total != 9 || diag != correct || accuracy != float64(correct)/9 {
		t.Errorf("%s: %d clips, %d on the diagonal, correct %d, accuracy %g", name, total, diag, correct, accuracy)
	}
}

// TestSplit: a value goes to the range whose lower edge it reaches.
func TestSplit(t *testing.T) {
	s := split{[]float64{1, 2}, []string{"a", "b", "c"}}
	b := s.buckets()
	for _, c := range []struct {
		v  float64
		ok bool
	}{{0.5, true}, {1, false}, {1.5, true}, {2, true}, {9, true}} {
		s.add(b, c.v, c.ok)
	}
	want := []bucket{{"a", 1, 1, 1}, {"b", 2, 1, 0.5}, {"c", 2, 2, 1}}
	if !slices.Equal(b, want) {
		t.Errorf("buckets %+v, want %+v", b, want)
	}
}

// TestEvalNoRest: --rest 0 gives the clip-end score alone.
func TestEvalNoRest(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.DiscardHandler)
	if err := run(context.Background(), []string{"eval", "--synthetic", "--clips", "2", "--frames", "8", "--rest", "0", "--json"}, &out, log); err != nil {
		t.Fatal(err)
	}
	var res evalResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if res.Rest != nil || res.Clips != 2 {
		t.Errorf("report %+v, want no rest score", res)
	}
}
