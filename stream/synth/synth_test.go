package synth

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
)

func TestLabels(t *testing.T) {
	want := []string{"Swiping Left", "Swiping Right", "Swiping Up", "Swiping Down",
		"Zooming In With Full Hand", "Zooming Out With Full Hand",
		"Turning Hand Clockwise", "Turning Hand Counterclockwise", "No gesture"}
	got := Labels()
	if len(got) != NumClasses || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Labels() = %q, want %q", got, want)
	}
	for i, name := range want {
		if ClassIndex(name) != i {
			t.Errorf("ClassIndex(%q) = %d, want %d", name, ClassIndex(name), i)
		}
	}
	if ClassIndex("Thumb Up") != -1 {
		t.Errorf("ClassIndex of an unknown name is not -1")
	}
	got[0] = "changed"
	if Labels()[0] != want[0] {
		t.Errorf("Labels returns shared storage")
	}
}

// A frame rate that is not a positive finite number means DefaultFPS, and
// the generator runs on it (a NaN once reached the motion code and panicked).
func TestFPSDefault(t *testing.T) {
	for _, fps := range []float64{0, -3, math.NaN(), math.Inf(1), math.Inf(-1)} {
		g := New(Config{FPS: fps, Seed: 1})
		if got := g.Config().FPS; got != DefaultFPS {
			t.Errorf("FPS %v: Config().FPS %v, want %v", fps, got, float64(DefaultFPS))
		}
		live := g.Live()
		for range 20 {
			live.Next()
		}
		if c := g.Clip(SwipingLeft, 8); len(c.Frames) != 8 {
			t.Errorf("FPS %v: %d frames", fps, len(c.Frames))
		}
	}
}

func TestClipSizesAndLabels(t *testing.T) {
	for _, tc := range []struct {
		w, h, n, class int
	}{
		{128, 128, 8, SwipingLeft},
		{320, 240, 16, TurningClockwise},
		{112, 112, 1, ZoomingIn},
		{33, 47, 5, NoGesture},
		{64, 64, 3, -1},
		{144, 144, 12, 99},
	} {
		t.Run(fmt.Sprintf("%dx%d/%d/%d", tc.w, tc.h, tc.n, tc.class), func(t *testing.T) {
			c := New(Config{Width: tc.w, Height: tc.h, Seed: 3}).Clip(tc.class, tc.n)
			if len(c.Frames) != tc.n {
				t.Fatalf("%d frames, want %d", len(c.Frames), tc.n)
			}
			for i, f := range c.Frames {
				if f.Rect != image.Rect(0, 0, tc.w, tc.h) {
					t.Fatalf("frame %d is %v", i, f.Rect)
				}
			}
			if tc.class >= 0 && tc.class < NumClasses && c.Label != tc.class {
				t.Errorf("label %d, want %d", c.Label, tc.class)
			}
			if c.Label < 0 || c.Label >= NumClasses || c.Name != Labels()[c.Label] {
				t.Errorf("label %d name %q", c.Label, c.Name)
			}
			if c.Label == NoGesture {
				if c.Start != 0 || c.End != 0 {
					t.Errorf("No gesture moves in [%d, %d)", c.Start, c.End)
				}
			} else if c.Start < 0 || c.End > tc.n || c.End <= c.Start {
				t.Errorf("motion frames [%d, %d) of %d", c.Start, c.End, tc.n)
			}
		})
	}
}

// ClipWithRest is Clip with frames after it: the first n frames, Start and
// End are Clip's own, and the generator's sequence goes on as after Clip.
func TestClipWithRest(t *testing.T) {
	for _, class := range []int{SwipingLeft, ZoomingOut, NoGesture} {
		cfg := Config{Width: 64, Height: 48, Seed: 5}
		g1, g2 := New(cfg), New(cfg)
		a, b := g1.Clip(class, 10), g2.ClipWithRest(class, 10, 6)
		if len(b.Frames) != 16 || b.Label != a.Label || b.Start != a.Start || b.End != a.End {
			t.Fatalf("%s: %d frames, label %d, motion [%d, %d); Clip: label %d, [%d, %d)",
				Labels()[class], len(b.Frames), b.Label, b.Start, b.End, a.Label, a.Start, a.End)
		}
		for i, f := range a.Frames {
			if !bytes.Equal(f.Pix, b.Frames[i].Pix) {
				t.Fatalf("%s: frame %d differs from Clip's", Labels()[class], i)
			}
		}
		if !bytes.Equal(g1.Clip(-1, 3).Frames[2].Pix, g2.Clip(-1, 3).Frames[2].Pix) {
			t.Errorf("%s: the next clip differs", Labels()[class])
		}
	}
}

// Clip.Scale is the palm radius at the clip's end over the frame's shorter
// side: within restPose's range (No gesture's drift changes it by up to 5%),
// and, for a zoom, up to 2.4 times beyond it when the camera's last frame
// catches the motion before its end.
func TestClipScale(t *testing.T) {
	g := New(Config{Width: 48, Height: 32, Seed: 9})
	lo, hi := 1.0, 0.0
	for i := range 4 * NumClasses {
		c := g.Clip(i%NumClasses, 8)
		wantLo, wantHi := 0.03, 0.16
		switch c.Label {
		case NoGesture:
			wantLo, wantHi = 0.03*0.95, 0.16*1.05
		case ZoomingIn, ZoomingOut:
			wantLo, wantHi = 0.03/2.4, 0.16*2.4
		}
		if !(c.Scale >= wantLo && c.Scale <= wantHi) {
			t.Errorf("clip %d (%s): scale %g outside [%g, %g]", i, c.Name, c.Scale, wantLo, wantHi)
		}
		lo, hi = math.Min(lo, c.Scale), math.Max(hi, c.Scale)
	}
	if hi/lo < 2 {
		t.Errorf("scales span only [%g, %g]", lo, hi)
	}
}

// swipeClips renders 60 swipes of 4 frames with cfg (seed 5, 48×32, sizes
// as cfg says). Swipes end in the rest pose drawn for them, so a clip's Scale
// is that draw.
func swipeClips(cfg Config) []Clip {
	cfg.Width, cfg.Height, cfg.Seed = 48, 32, 5
	g := New(cfg)
	out := make([]Clip, 60)
	for i := range out {
		out[i] = g.Clip(i%4, 4) // the four swipes
	}
	return out
}

// sameDraws fails t if a and b differ in label or timing: a size option
// must leave the random sequence as it is.
func sameDraws(t *testing.T, name string, a, b []Clip) {
	t.Helper()
	for i := range a {
		if a[i].Label != b[i].Label || a[i].Start != b[i].Start || a[i].End != b[i].End {
			t.Fatalf("%s, clip %d: label or timing changed, the random sequence must not", name, i)
		}
	}
}

func TestSizeSkew(t *testing.T) {
	clips := func(skew float64) []Clip { return swipeClips(Config{SizeSkew: skew}) }
	small := func(cs []Clip) (n int) {
		for _, c := range cs {
			if c.Scale < 0.05 {
				n++
			}
		}
		return n
	}
	base := clips(1)
	for i, c := range clips(0) { // 0 is the default, log-uniform
		if c.Scale != base[i].Scale || !bytes.Equal(c.Frames[3].Pix, base[i].Frames[3].Pix) {
			t.Fatalf("clip %d: SizeSkew 0 differs from 1", i)
		}
	}
	for _, tc := range []struct {
		skew    float64
		smaller bool // every hand is at most as large as with 1
	}{{1.6, true}, {0.5, false}} {
		got := clips(tc.skew)
		sameDraws(t, fmt.Sprintf("skew %g", tc.skew), got, base)
		for i, c := range got {
			if (c.Scale < base[i].Scale) != tc.smaller && c.Scale != base[i].Scale {
				t.Errorf("skew %g, clip %d: scale %g against %g", tc.skew, i, c.Scale, base[i].Scale)
			}
			if !(c.Scale >= 0.03*0.999 && c.Scale <= 0.16*1.001) {
				t.Errorf("skew %g, clip %d: scale %g outside [0.03, 0.16]", tc.skew, i, c.Scale)
			}
		}
		if n, n1 := small(got), small(base); (n > n1) != tc.smaller {
			t.Errorf("skew %g: %d of %d palms under 5%%, against %d with 1", tc.skew, n, len(got), n1)
		}
	}
}

func TestSizeMax(t *testing.T) {
	base := swipeClips(Config{})
	for _, bad := range []float64{0, DefaultSizeMax, -1, 0.03, 0.6, math.NaN(), math.Inf(1)} {
		for i, c := range swipeClips(Config{SizeMax: bad}) {
			if c.Scale != base[i].Scale || !bytes.Equal(c.Frames[3].Pix, base[i].Frames[3].Pix) {
				t.Fatalf("SizeMax %g, clip %d differs from the default's", bad, i)
			}
		}
	}
	for _, tc := range []struct {
		max    float64
		larger bool // every hand is at least as large as with the default
	}{{0.25, true}, {0.1, false}} {
		got := swipeClips(Config{SizeMax: tc.max})
		sameDraws(t, fmt.Sprintf("SizeMax %g", tc.max), got, base)
		over := 0
		for i, c := range got {
			if (c.Scale > base[i].Scale) != tc.larger {
				t.Errorf("SizeMax %g, clip %d: scale %g against %g", tc.max, i, c.Scale, base[i].Scale)
			}
			if !(c.Scale >= 0.03*0.999 && c.Scale <= tc.max*1.001) {
				t.Errorf("SizeMax %g, clip %d: scale %g outside [0.03, %g]", tc.max, i, c.Scale, tc.max)
			}
			if c.Scale > DefaultSizeMax {
				over++
			}
		}
		if (over > 0) != tc.larger {
			t.Errorf("SizeMax %g: %d of %d palms over %g", tc.max, over, len(got), DefaultSizeMax)
		}
	}
}

func TestDeterminism(t *testing.T) {
	render := func(seed uint64) []Clip {
		g := New(Config{Width: 96, Height: 80, Seed: seed})
		return []Clip{g.Clip(-1, 6), g.Clip(SwipingUp, 6), g.Clip(-1, 4)}
	}
	a, b, c := render(11), render(11), render(12)
	same := func(x, y []Clip) bool {
		for i := range x {
			if x[i].Label != y[i].Label || x[i].Start != y[i].Start {
				return false
			}
			for j := range x[i].Frames {
				if !bytes.Equal(x[i].Frames[j].Pix, y[i].Frames[j].Pix) {
					return false
				}
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("the same seed rendered different clips")
	}
	if same(a, c) {
		t.Error("different seeds rendered the same clips")
	}
}

// nextTrajectory returns the hand poses of g's next clip of class and moves
// g on past it, as Clip would.
func nextTrajectory(g *Generator, class, n int) plan {
	p := g.trajectory(class, n)
	g.sub()
	return p
}

// handPixel reports whether (x, y) of a hand drawn on black is covered.
func handPixel(img *image.RGBA, x, y int) bool {
	i := y*img.Stride + 4*x
	return int(img.Pix[i])+int(img.Pix[i+1])+int(img.Pix[i+2]) > 30
}

// handCentroid renders the poses of p alone (hand only, on black, no camera
// effects) and returns the centroid of the hand's pixels in each frame.
func handCentroid(w, h int, p plan) [][2]float64 {
	sc := newScene(rand.New(rand.NewPCG(1, 2)), Config{Width: w, Height: h}, false)
	out := make([][2]float64, len(p.poses))
	for t, ps := range p.poses {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		if ps.vis {
			sc.drawHand(img, []pose{ps}, 0, 0)
		}
		var sx, sy, n float64
		for y := range h {
			for x := range w {
				if handPixel(img, x, y) {
					sx += float64(x)
					sy += float64(y)
					n++
				}
			}
		}
		out[t] = [2]float64{sx / max(n, 1), sy / max(n, 1)}
	}
	return out
}

func TestDirections(t *testing.T) {
	const w, h, n = 128, 128, 8
	d := float64(min(w, h))
	for _, tc := range []struct {
		class int
		check func(first, last pose, c0, c1 [2]float64) bool
	}{
		// Raw frames, the person's directions: Left moves toward +x. The
		// rendered hand's centroid moves the same way when the hand is in
		// view at both ends.
		{SwipingLeft, func(f, l pose, c0, c1 [2]float64) bool {
			return l.x-f.x > 0.18*d && !(c0[0] > 0 && c1[0] > 0 && c1[0] <= c0[0])
		}},
		{SwipingRight, func(f, l pose, c0, c1 [2]float64) bool {
			return f.x-l.x > 0.18*d && !(c0[0] > 0 && c1[0] > 0 && c0[0] <= c1[0])
		}},
		{SwipingUp, func(f, l pose, c0, c1 [2]float64) bool {
			return f.y-l.y > 0.18*d && !(c0[1] > 0 && c1[1] > 0 && c0[1] <= c1[1])
		}},
		{SwipingDown, func(f, l pose, c0, c1 [2]float64) bool {
			return l.y-f.y > 0.18*d && !(c0[1] > 0 && c1[1] > 0 && c1[1] <= c0[1])
		}},
		{ZoomingIn, func(f, l pose, _, _ [2]float64) bool { return l.s > 1.4*f.s && l.spread > f.spread && l.curl < f.curl }},
		{ZoomingOut, func(f, l pose, _, _ [2]float64) bool {
			return f.s > 1.4*l.s && l.spread < f.spread && l.curl >= f.curl && (l.curl > f.curl || l.curl == 0)
		}},
		// The person's clockwise is counterclockwise in the raw image,
		// where a decreasing angle turns counterclockwise (y points down).
		// Turns are at least 45° (0.785 rad).
		{TurningClockwise, func(f, l pose, _, _ [2]float64) bool { return f.a-l.a > 0.78 }},
		{TurningCounterclockwise, func(f, l pose, _, _ [2]float64) bool { return l.a-f.a > 0.78 }},
		{NoGesture, func(f, l pose, _, _ [2]float64) bool {
			return math.Hypot(l.x-f.x, l.y-f.y) < 0.1*d && math.Abs(l.s/f.s-1) < 0.1 && math.Abs(l.a-f.a) < 0.2
		}},
	} {
		t.Run(labels[tc.class], func(t *testing.T) {
			g := New(Config{Width: w, Height: h, Seed: uint64(100 + tc.class)})
			for k := range 8 {
				p := g.trajectory(tc.class, n)
				c := g.Clip(tc.class, n)
				if c.Start != p.start || c.End != p.end || c.Label != p.class {
					t.Fatalf("clip %d: trajectory [%d,%d) class %d, clip [%d,%d) class %d", k, p.start, p.end, p.class, c.Start, c.End, c.Label)
				}
				first, last := p.poses[0], p.poses[n-1]
				cen := handCentroid(w, h, p)
				if !tc.check(first, last, cen[0], cen[n-1]) {
					t.Errorf("clip %d: first %+v last %+v centroids %v → %v", k, first, last, cen[0], cen[n-1])
				}
				if tc.class == NoGesture {
					continue
				}
				// Rest before and after the motion.
				if p.start < 1 || p.end > n-1 {
					t.Errorf("clip %d: motion [%d, %d) of %d leaves no rest", k, p.start, p.end, n)
				}
			}
		})
	}
}

// TestPairsLookAlike checks that the frames after a gesture cannot tell the
// gestures of a pair apart: the end poses of both have the same distribution
// (compared by mean and spread) once the camera has caught up. With the same
// seed, the two gestures draw the same end poses, so only a bias could make
// them differ.
func TestPairsLookAlike(t *testing.T) {
	const w, h, n, clips = 128, 128, 16, 300
	stats := func(class int, get func(pose) float64) (mean, sd float64) {
		g := New(Config{Width: w, Height: h, Seed: 5})
		var s, s2, k float64
		for range clips {
			p := nextTrajectory(g, class, n)
			// The camera shows a frame up to 1.5 model frames late.
			for _, p := range p.poses[min(p.end+2, n):] {
				v := get(p)
				s += v
				s2 += v * v
				k++
			}
		}
		mean = s / k
		return mean, math.Sqrt(s2/k - mean*mean)
	}
	for _, tc := range []struct {
		a, b int
		name string
		get  func(pose) float64
		tol  float64
	}{
		{SwipingLeft, SwipingRight, "x", func(p pose) float64 { return p.x }, 0.3},
		{SwipingUp, SwipingDown, "y", func(p pose) float64 { return p.y }, 0.3},
		{ZoomingIn, ZoomingOut, "size", func(p pose) float64 { return p.s }, 0.05},
		{ZoomingIn, ZoomingOut, "spread", func(p pose) float64 { return p.spread }, 0.005},
		{ZoomingIn, ZoomingOut, "curl", func(p pose) float64 { return p.curl }, 0.005},
		{TurningClockwise, TurningCounterclockwise, "angle", func(p pose) float64 { return p.a }, 0.005},
		{TurningClockwise, TurningCounterclockwise, "forearm", func(p pose) float64 { return p.fa }, 0.005},
		{SwipingLeft, SwipingRight, "forearm", func(p pose) float64 { return p.fa }, 0.005},
	} {
		t.Run(labels[tc.a]+"/"+tc.name, func(t *testing.T) {
			ma, sa := stats(tc.a, tc.get)
			mb, sb := stats(tc.b, tc.get)
			if !paritytest.Near(ma, mb, tc.tol) || !paritytest.Near(sa, sb, tc.tol) {
				t.Errorf("%s: %s mean %.3f sd %.3f, %s mean %.3f sd %.3f", tc.name, labels[tc.a], ma, sa, labels[tc.b], mb, sb)
			}
		})
	}
}

// TestTurnsBendTheWrist checks that turns vary in how they are made: the
// forearm follows anything from none to all of the hand's turn, and the hand
// turns about a point of its axis between the palm centre and the wrist, which
// stays put while the palm centre moves on an arc.
func TestTurnsBendTheWrist(t *testing.T) {
	const w, h, n, clips = 128, 128, 16, 200
	g := New(Config{Width: w, Height: h, Seed: 9})
	var wristOnly, wholeArm, arcs int
	for k := range clips {
		p := nextTrajectory(g, TurningClockwise+k%2, n)
		f, l := p.poses[0], p.poses[n-1]
		turn, arm := math.Abs(l.a-f.a), math.Abs(l.fa-f.fa)
		if turn < 0.7 {
			t.Fatalf("clip %d: the hand turns %.2f rad", k, turn)
		}
		switch {
		case arm < 0.25*turn:
			wristOnly++
		case arm > 0.75*turn:
			wholeArm++
		}
		still := math.Inf(1)
		for v := 0.0; v <= wristV+1e-9; v += wristV / 16 {
			x0, y0 := f.axisPoint(v)
			x1, y1 := l.axisPoint(v)
			still = min(still, math.Hypot(x1-x0, y1-y0))
		}
		// The tremor moves the hand by a few pixels.
		if still > 0.1*f.s+4 {
			t.Errorf("clip %d: no point of the hand's axis stays put (the least moves %.1f px, palm radius %.1f px)", k, still, f.s)
		}
		if math.Hypot(l.x-f.x, l.y-f.y) > 0.3*f.s+4 {
			arcs++
		}
	}
	if wristOnly < clips/10 || wholeArm < clips/10 || arcs < clips/10 {
		t.Errorf("of %d turns, %d turn at the wrist only, %d swing the whole forearm, %d move the palm centre on an arc; want each ≥ %d", clips, wristOnly, wholeArm, arcs, clips/10)
	}
}

// TestForearmLeavesTheFrame checks that the forearm runs out of the frame
// however small the hand (a forearm that ended in view would tell the hand's
// size, and a zoom from a swipe, by its cut end), and that a hand without a
// forearm shows none.
func TestForearmLeavesTheFrame(t *testing.T) {
	const w, h = 128, 96
	for _, tc := range []struct {
		name  string
		x, y  float64
		s, fa float64
		noArm bool
		edge  string // the frame edge the forearm reaches
	}{
		{"tiny, upright", 64, 30, 1.5, 0, false, "bottom"},
		{"small, upright", 64, 48, 4, 0, false, "bottom"},
		{"large, upright", 64, 40, 14, 0, false, "bottom"},
		{"small, leaning", 100, 30, 3, 0.5, false, "bottom"},
		{"pointing right", 30, 48, 3, -math.Pi / 2, false, "right"},
		{"no forearm", 64, 30, 4, 0, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScene(rand.New(rand.NewPCG(3, 4)), Config{Width: w, Height: h}, false)
			sc.hand.noArm = tc.noArm
			sc.hand.sleeveAt = 100
			img := image.NewRGBA(image.Rect(0, 0, w, h))
			sc.drawHand(img, []pose{{x: tc.x, y: tc.y, s: tc.s, a: tc.fa, fa: tc.fa, spread: 0.5, vis: true}}, 0, 0)
			var edges []string
			for _, e := range []struct {
				name   string
				x0, y0 int
				dx, dy int
				n      int
			}{{"left", 0, 0, 0, 1, h}, {"right", w - 1, 0, 0, 1, h}, {"top", 0, 0, 1, 0, w}, {"bottom", 0, h - 1, 1, 0, w}} {
				for i := range e.n {
					if handPixel(img, e.x0+i*e.dx, e.y0+i*e.dy) {
						edges = append(edges, e.name)
						break
					}
				}
			}
			got := strings.Join(edges, " or ")
			if got != tc.edge {
				t.Errorf("the hand reaches the frame's edges %q, want %q", got, tc.edge)
			}
		})
	}
}

// TestNoGestureFidgets checks that some No-gesture hands curl and uncurl
// their fingers in place (as a zoom's hand does, but without the growth),
// and that the others keep their curl.
func TestNoGestureFidgets(t *testing.T) {
	const w, h, n, clips = 128, 128, 16, 140
	g := New(Config{Width: w, Height: h, Seed: 11})
	var fidgets int
	for k := range clips {
		p := nextTrajectory(g, NoGesture, n)
		lo, hi := 1.0, 0.0
		for _, q := range p.poses {
			lo, hi = min(lo, q.curl), max(hi, q.curl)
		}
		f, l := p.poses[0], p.poses[n-1]
		if !paritytest.Near(l.s/f.s, 1, 0.1) {
			t.Errorf("clip %d: the hand's size changes from %.1f to %.1f", k, f.s, l.s)
		}
		if hi-lo > 0.1 {
			fidgets++
		}
	}
	if fidgets < clips/14 || fidgets > clips/4 {
		t.Errorf("%d of %d No-gesture clips curl their fingers by more than 0.1; want about 1 in 7", fidgets, clips)
	}
}

func TestWriteY4M(t *testing.T) {
	for _, tc := range []struct{ w, h, n, fps int }{{320, 240, 3, 15}, {33, 17, 2, 30}, {2, 2, 1, 1}} {
		t.Run(fmt.Sprintf("%dx%d", tc.w, tc.h), func(t *testing.T) {
			frames := make([]*image.RGBA, tc.n)
			for i := range frames {
				frames[i] = image.NewRGBA(image.Rect(0, 0, tc.w, tc.h))
				for j := range frames[i].Pix {
					frames[i].Pix[j] = 128
				}
			}
			var buf bytes.Buffer
			if err := WriteY4M(&buf, frames, tc.fps); err != nil {
				t.Fatal(err)
			}
			header := fmt.Sprintf("YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420jpeg\n", tc.w, tc.h, tc.fps)
			if !strings.HasPrefix(buf.String(), header) {
				t.Fatalf("header %q", buf.String()[:min(buf.Len(), 60)])
			}
			cw, ch := (tc.w+1)/2, (tc.h+1)/2
			frame := 6 + tc.w*tc.h + 2*cw*ch
			if buf.Len() != len(header)+tc.n*frame {
				t.Fatalf("%d bytes, want %d", buf.Len(), len(header)+tc.n*frame)
			}
			body := buf.Bytes()[len(header):]
			for i := range tc.n {
				f := body[i*frame : (i+1)*frame]
				if string(f[:6]) != "FRAME\n" {
					t.Fatalf("frame %d starts %q", i, f[:6])
				}
				for j, v := range f[6:] {
					if v != 128 { // grey: Y = Cb = Cr = 128 at full range
						t.Fatalf("frame %d byte %d = %d, want 128", i, j, v)
					}
				}
			}
		})
	}
	bad := []*image.RGBA{image.NewRGBA(image.Rect(0, 0, 4, 4)), image.NewRGBA(image.Rect(0, 0, 4, 2))}
	if WriteY4M(&bytes.Buffer{}, bad, 15) == nil {
		t.Error("mixed frame sizes accepted")
	}
	if WriteY4M(&bytes.Buffer{}, nil, 15) == nil {
		t.Error("no frames accepted")
	}
	if WriteY4M(&bytes.Buffer{}, bad[:1], 0) == nil {
		t.Error("fps 0 accepted")
	}
}

func TestLive(t *testing.T) {
	l := New(Config{Width: 80, Height: 60, FPS: 15, Seed: 9}).Live()
	seen := map[string]int{}
	changes := 0
	prev := ""
	for i := range 1500 {
		img, name := l.Next()
		if img == nil || img.Rect != image.Rect(0, 0, 80, 60) {
			t.Fatalf("frame %d: %v", i, img)
		}
		if ClassIndex(name) < 0 {
			t.Fatalf("frame %d: unknown gesture %q", i, name)
		}
		if name != prev {
			changes++
		}
		seen[name]++
		prev = name
	}
	if len(seen) < NumClasses-1 || changes < 20 || seen["No gesture"] < 500 {
		t.Errorf("1500 live frames: %d changes, names %v", changes, seen)
	}
}

func BenchmarkClip128x8(b *testing.B) {
	g := New(Config{Width: 128, Height: 128, Seed: 1})
	for b.Loop() {
		g.Clip(-1, 8)
	}
}

func TestStreamClip(t *testing.T) {
	g := New(Config{Width: 40, Height: 30, Seed: 2})
	var buf bytes.Buffer
	clips := []Clip{g.Clip(ZoomingOut, 3), g.Clip(NoGesture, 2)}
	for _, c := range clips {
		if err := WriteStreamClip(&buf, c); err != nil {
			t.Fatal(err)
		}
	}
	if want := 2*StreamHeaderSize + (3+2)*40*30*3; buf.Len() != want {
		t.Fatalf("%d bytes, want %d", buf.Len(), want)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("LTS2\x05\x00\x03\x00\x1e\x00\x28\x00")) {
		t.Fatalf("header % x", buf.Bytes()[:StreamHeaderSize])
	}
	for _, c := range clips {
		sc, err := ReadStreamClip(&buf)
		n, h, w := sc.T, sc.H, sc.W
		if err != nil || sc.Label != c.Label || n != len(c.Frames) || h != 30 || w != 40 || sc.Start != c.Start || sc.End != c.End {
			t.Fatalf("read %+v %v", sc, err)
		}
		f := c.Frames[n-1]
		o := ((n-1)*h*w + 7*w + 5) * 3
		if !bytes.Equal(sc.RGB[o:o+3], f.Pix[7*f.Stride+4*5:7*f.Stride+4*5+3]) {
			t.Errorf("pixel differs")
		}
	}
	if _, err := ReadStreamClip(&buf); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}
}
