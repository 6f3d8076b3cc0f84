package offline

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SampleFrames chooses which frames of a video a recogniser sees, as
// mmaction2's SampleFrames transform (1.x, without target_fps or temporal
// jitter). The zero value is not useful; TSMTestSampling is the TSM test
// configuration.
type SampleFrames struct {
	// ClipLen is the number of frames per clip (1 for 2-D recognisers
	// such as TSM, whose "clips" are its segments).
	ClipLen int
	// FrameInterval is the step between the frames of a clip.
	FrameInterval int
	// NumClips is the number of clips (TSM: the number of segments).
	NumClips int
	// TestMode selects the deterministic test-time offsets; otherwise the
	// training offsets are drawn at random.
	TestMode bool
	// TwiceSample adds a second set of offsets without the half-interval
	// shift (test mode), doubling the number of clips.
	TwiceSample bool
	// OutOfBound is what happens to indices past the last frame: "loop"
	// (modulo the frame count, the default when empty) or "repeat_last"
	// (the clip's last valid index).
	OutOfBound string
	// StartIndex is added to every index (1 for frame folders numbered
	// from 1; 0 for videos).
	StartIndex int
}

// TSMTestSampling is the sampling of mmaction2's TSM test configs:
// SampleFrames(clip_len=1, frame_interval=1, num_clips=segments,
// test_mode=True), with twice_sample for two views.
func TSMTestSampling(segments int, twice bool) SampleFrames {
	return SampleFrames{ClipLen: 1, FrameInterval: 1, NumClips: segments, TestMode: true, TwiceSample: twice, OutOfBound: "loop"}
}

// Indices returns the frame indices for a video of total frames, clip by
// clip (NumClips·ClipLen of them, twice that with TwiceSample in test mode).
// rng is used in training mode only (nil: a fixed seed).
//
// Test mode, ClipLen 1: offset_i = i·total/NumClips + total/(2·NumClips),
// and with TwiceSample also i·total/NumClips, taken modulo total and
// truncated. Longer clips: NumClips offsets spread evenly over
// [0, total − ((ClipLen−1)·FrameInterval + 1)] and rounded half to even
// (one clip: the middle). Each clip then takes ClipLen frames FrameInterval
// apart, and OutOfBound handles those past the end.
func (s SampleFrames) Indices(total int, rng *rand.Rand) ([]int, error) {
	switch {
	case total <= 0:
		return nil, fmt.Errorf("sample frames: video has %d frames", total)
	case s.ClipLen <= 0 || s.FrameInterval <= 0 || s.NumClips <= 0:
		return nil, fmt.Errorf("sample frames: clip_len %d, frame_interval %d, num_clips %d: all must be positive", s.ClipLen, s.FrameInterval, s.NumClips)
	case s.ClipLen*s.NumClips > 1<<20:
		return nil, fmt.Errorf("sample frames: %d×%d frames is too many", s.NumClips, s.ClipLen)
	case s.OutOfBound != "" && s.OutOfBound != "loop" && s.OutOfBound != "repeat_last":
		return nil, fmt.Errorf("sample frames: out_of_bound_opt %q: want \"loop\" or \"repeat_last\"", s.OutOfBound)
	}
	var offsets []float64
	if s.TestMode {
		var err error
		if offsets, err = s.testOffsets(total); err != nil {
			return nil, err
		}
	} else {
		if rng == nil {
			rng = rand.New(rand.NewPCG(0, 0))
		}
		offsets = s.trainOffsets(total, rng)
	}
	inds := make([]int, 0, len(offsets)*s.ClipLen)
	for _, off := range offsets {
		clip := make([]float64, s.ClipLen)
		for j := range clip {
			clip[j] = off + float64(j*s.FrameInterval)
		}
		if s.OutOfBound == "repeat_last" {
			last := 0.0 // max over the clip of the in-range indices (0 if none)
			for _, v := range clip {
				if v < float64(total) {
					last = math.Max(last, v)
				}
			}
			for j, v := range clip {
				if v >= float64(total) {
					clip[j] = last
				}
			}
		} else {
			for j, v := range clip {
				// numpy's float mod: the result takes the divisor's sign.
				m := math.Mod(v, float64(total))
				if m < 0 {
					m += float64(total)
				}
				clip[j] = m
			}
		}
		for _, v := range clip {
			inds = append(inds, int(v)+s.StartIndex) // astype(int32) truncates
		}
	}
	return inds, nil
}

func (s SampleFrames) testOffsets(total int) ([]float64, error) {
	n := s.NumClips
	if s.ClipLen == 1 {
		avg := float64(total) / float64(n)
		out := make([]float64, 0, 2*n)
		for i := 0; i < n; i++ {
			out = append(out, float64(i)*avg+avg/2)
		}
		if s.TwiceSample {
			for i := 0; i < n; i++ {
				out = append(out, float64(i)*avg)
			}
		}
		return out, nil
	}
	ori := (s.ClipLen-1)*s.FrameInterval + 1
	maxOff := max(total-ori, 0)
	clips := n
	if s.TwiceSample {
		clips = 2 * n
	}
	if clips == 1 {
		return []float64{float64(maxOff / 2)}, nil
	}
	if n == 1 {
		// mmaction2 divides by num_clips − 1 here (ZeroDivisionError).
		return nil, fmt.Errorf("sample frames: twice_sample with num_clips 1 and clip_len %d is undefined in mmaction2", s.ClipLen)
	}
	between := float64(maxOff) / float64(n-1)
	out := make([]float64, clips)
	for i := range out {
		out[i] = math.RoundToEven(float64(i) * between)
	}
	return out, nil
}

// trainOffsets draws mmaction2's training offsets: a random frame in each of
// NumClips equal intervals, or sorted random starts when the video is
// shorter than that.
func (s SampleFrames) trainOffsets(total int, rng *rand.Rand) []float64 {
	n := s.NumClips
	ori := s.ClipLen * s.FrameInterval
	out := make([]float64, n)
	avg := (total - ori + 1) / n
	if total-ori+1 < 0 && (total-ori+1)%n != 0 {
		avg-- // Python's // floors
	}
	switch {
	case avg > 0:
		for i := range out {
			out[i] = float64(i*avg + rng.IntN(avg))
		}
	case total > max(n, ori):
		for i := range out {
			out[i] = float64(rng.IntN(total - ori + 1))
		}
		sortFloats(out)
	case avg == 0:
		ratio := (float64(total-ori) + 1) / float64(n)
		for i := range out {
			out[i] = math.RoundToEven(float64(i) * ratio)
		}
	}
	return out
}

func sortFloats(x []float64) {
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && x[j] < x[j-1]; j-- {
			x[j], x[j-1] = x[j-1], x[j]
		}
	}
}
