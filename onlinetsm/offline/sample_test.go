package offline

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSampleFramesTable checks hand-computed test-mode indices.
func TestSampleFramesTable(t *testing.T) {
	cases := []struct {
		total int
		s     SampleFrames
		want  []int
	}{
		// TSM test config: the middle of 8 equal segments.
		{300, TSMTestSampling(8, false), []int{18, 56, 93, 131, 168, 206, 243, 281}},
		{16, TSMTestSampling(8, false), []int{1, 3, 5, 7, 9, 11, 13, 15}},
		{8, TSMTestSampling(8, false), []int{0, 1, 2, 3, 4, 5, 6, 7}},
		// Short videos repeat frames.
		{3, TSMTestSampling(8, false), []int{0, 0, 0, 1, 1, 2, 2, 2}},
		{1, TSMTestSampling(8, false), []int{0, 0, 0, 0, 0, 0, 0, 0}},
		// twice_sample: the shifted offsets, then the segment starts.
		{16, TSMTestSampling(8, true), []int{1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 14}},
		{10, TSMTestSampling(4, true), []int{1, 3, 6, 8, 0, 2, 5, 7}},
		// start_index for frame folders.
		{16, SampleFrames{ClipLen: 1, FrameInterval: 1, NumClips: 4, TestMode: true, StartIndex: 1}, []int{3, 7, 11, 15}},
		// 3-D clips: evenly spread, rounded half to even; loop vs repeat_last.
		{20, SampleFrames{ClipLen: 4, FrameInterval: 2, NumClips: 3, TestMode: true}, []int{0, 2, 4, 6, 6, 8, 10, 12, 13, 15, 17, 19}},
		{5, SampleFrames{ClipLen: 4, FrameInterval: 2, NumClips: 1, TestMode: true}, []int{0, 2, 4, 1}},
		{5, SampleFrames{ClipLen: 4, FrameInterval: 2, NumClips: 1, TestMode: true, OutOfBound: "repeat_last"}, []int{0, 2, 4, 4}},
	}
	for _, c := range cases {
		got, err := c.s.Indices(c.total, nil)
		if err != nil {
			t.Fatalf("%d frames %+v: %v", c.total, c.s, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%d frames %+v:\n got %v\nwant %v", c.total, c.s, got, c.want)
		}
	}
}

// TestSampleFramesFormula compares Indices with tools/offline_reference.py's
// numpy formula on 6000 cases: total frames 1–40 and 47–12345, clip lengths
// 1–32 with intervals 1–2, 1–16 clips, twice_sample, loop and repeat_last.
func TestSampleFramesFormula(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "sample_frames.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var cases [][]json.RawMessage
	if err := json.NewDecoder(zr).Decode(&cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 1000 {
		t.Fatalf("only %d cases", len(cases))
	}
	bad := 0
	for _, c := range cases {
		var total, clipLen, interval, numClips int
		var twice bool
		var oob string
		var want []int
		for i, dst := range []any{&total, &clipLen, &interval, &numClips, &twice, &oob, &want} {
			if err := json.Unmarshal(c[i], dst); err != nil {
				t.Fatal(err)
			}
		}
		s := SampleFrames{ClipLen: clipLen, FrameInterval: interval, NumClips: numClips, TestMode: true, TwiceSample: twice, OutOfBound: oob}
		got, err := s.Indices(total, nil)
		name := fmt.Sprintf("total %d clip_len %d interval %d num_clips %d twice %v %s", total, clipLen, interval, numClips, twice, oob)
		switch {
		case want == nil && err == nil:
			t.Errorf("%s: no error, mmaction2 raises", name)
			bad++
		case want != nil && err != nil:
			t.Errorf("%s: %v", name, err)
			bad++
		case !slices.Equal(got, want):
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
			bad++
		}
		if bad > 10 {
			t.Fatal("too many mismatches")
		}
	}
}

// TestSampleFramesTrain checks the training offsets' ranges: one frame in
// each equal interval when the video is long enough.
func TestSampleFramesTrain(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, total := range []int{8, 9, 30, 100, 301} {
		for _, n := range []int{1, 3, 8} {
			s := SampleFrames{ClipLen: 1, FrameInterval: 1, NumClips: n}
			for rep := 0; rep < 20; rep++ {
				got, err := s.Indices(total, rng)
				if err != nil {
					t.Fatal(err)
				}
				avg := total / n
				for i, v := range got {
					if v < i*avg || v >= (i+1)*avg {
						t.Fatalf("total %d clips %d: index %d = %d outside [%d, %d)", total, n, i, v, i*avg, (i+1)*avg)
					}
				}
			}
		}
	}
	// Fewer frames than clips: evenly rounded offsets.
	got, err := SampleFrames{ClipLen: 1, FrameInterval: 1, NumClips: 8}.Indices(4, rng)
	if err != nil || !slices.Equal(got, []int{0, 0, 1, 2, 2, 2, 3, 4 % 4}) {
		t.Errorf("4 frames, 8 clips: %v %v", got, err)
	}
}

func TestSampleFramesErrors(t *testing.T) {
	for _, c := range []struct {
		total int
		s     SampleFrames
	}{
		{0, TSMTestSampling(8, false)},
		{-3, TSMTestSampling(8, false)},
		{10, TSMTestSampling(0, false)},
		{10, SampleFrames{ClipLen: 1, FrameInterval: 0, NumClips: 8, TestMode: true}},
		{10, SampleFrames{ClipLen: 1, FrameInterval: 1, NumClips: 8, TestMode: true, OutOfBound: "clamp"}},
		{10, SampleFrames{ClipLen: 4, FrameInterval: 1, NumClips: 1, TestMode: true, TwiceSample: true}},
	} {
		if got, err := c.s.Indices(c.total, nil); err == nil {
			t.Errorf("%d frames %+v: %v, no error", c.total, c.s, got)
		}
	}
}
