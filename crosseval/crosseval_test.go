package crosseval

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
)

// moments are the area, centroid and orientation of a coverage mask.
type moments struct {
	area, cx, cy, theta float64
}

// measure returns the moments of the hand's coverage in f (area 0 when no
// hand is in view). theta is the principal axis's angle, clockwise from
// +x in the image, in (−π/2, π/2].
func measure(f Frame) moments {
	if f.Hand == nil {
		return moments{}
	}
	var m, sx, sy, sxx, syy, sxy float64
	b := f.Hand.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			a := float64(f.Hand.GrayAt(x, y).Y) / 255
			m += a
			sx += a * float64(x)
			sy += a * float64(y)
			sxx += a * float64(x) * float64(x)
			syy += a * float64(y) * float64(y)
			sxy += a * float64(x) * float64(y)
		}
	}
	if m == 0 {
		return moments{}
	}
	cx, cy := sx/m, sy/m
	mu20, mu02, mu11 := sxx/m-cx*cx, syy/m-cy*cy, sxy/m-cx*cy
	return moments{area: m, cx: cx, cy: cy, theta: 0.5 * math.Atan2(2*mu11, mu20-mu02)}
}

// track renders clip i of r and returns the moments of every frame.
func track(t *testing.T, r *Renderer, i int) []moments {
	t.Helper()
	var ms []moments
	if err := r.Render(context.Background(), i, func(f Frame) error {
		ms = append(ms, measure(f))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ms
}

// handAt returns the moments of the hand alone in frame k of clip i,
// without rendering the clip.
func handAt(r *Renderer, i, k int) moments {
	c := r.draw(i)
	if !r.composeMask(c, c.motion.at(float64(k)/c.plan.FPS)) {
		return moments{}
	}
	g := image.NewGray(image.Rect(0, 0, r.cfg.Width, r.cfg.Height))
	for j, a := range r.hand {
		g.Pix[j] = clamp8f(255 * a)
	}
	return measure(Frame{Hand: g})
}

// tilt returns how far the hand's axis leans from upright, clockwise in
// the image, in (−π/2, π/2].
func tilt(m moments) float64 {
	d := m.theta + math.Pi/2
	for d > math.Pi/2 {
		d -= math.Pi
	}
	return d
}

// turned returns the total change of orientation from frame a to frame b,
// unwrapping the axis's half-turn ambiguity frame by frame.
func turned(ms []moments, a, b int) float64 {
	s := 0.0
	for k := a + 1; k <= b; k++ {
		d := ms[k].theta - ms[k-1].theta
		for d > math.Pi/2 {
			d -= math.Pi
		}
		for d <= -math.Pi/2 {
			d += math.Pi
		}
		s += d
	}
	return s
}

// TestDirections checks that each class moves as its name says, in the raw
// image and with the person's directions, by measuring the hand's
// silhouette before and after the motion, and that the rests are rests.
func TestDirections(t *testing.T) {
	r := NewRenderer(Config{Seed: 5, Width: 192, Height: 144})
	W, H := float64(r.Config().Width), float64(r.Config().Height)
	for i := range 3 * NumClasses {
		p := r.Plan(i)
		t.Run(fmt.Sprintf("%d-%s", i, p.Label), func(t *testing.T) {
			ms := track(t, r, i)
			if len(ms) != p.Frames {
				t.Fatalf("%d frames rendered, the plan says %d", len(ms), p.Frames)
			}
			a, b := ms[max(p.MotionStart-1, 0)], ms[min(p.MotionEnd, p.Frames-1)]
			if p.Variant == variantEmpty {
				for k, m := range ms {
					if m.area != 0 {
						t.Fatalf("frame %d of an empty scene shows a hand", k)
					}
				}
				return
			}
			if a.area == 0 || b.area == 0 {
				t.Fatalf("no hand in view: areas %.0f, %.0f", a.area, b.area)
			}
			dx, dy, zoom := b.cx-a.cx, b.cy-a.cy, b.area/a.area
			rot := turned(ms, max(p.MotionStart-1, 0), min(p.MotionEnd, p.Frames-1))
			t.Logf("%s (%s): dx %+.0f px, dy %+.0f px, area ×%.2f, turn %+.0f°", p.Label, p.Variant, dx, dy, zoom, rot*180/math.Pi)
			checks := map[int]struct {
				ok   bool
				want string
			}{
				SwipingLeft:             {dx > 0.15*W && math.Abs(dy) < math.Abs(dx)/2, "moves toward the image's right"},
				SwipingRight:            {dx < -0.15*W && math.Abs(dy) < math.Abs(dx)/2, "moves toward the image's left"},
				SwipingUp:               {dy < -0.15*H && math.Abs(dx) < math.Abs(dy)/2, "moves toward the image's top"},
				SwipingDown:             {dy > 0.15*H && math.Abs(dx) < math.Abs(dy)/2, "moves toward the image's bottom"},
				ZoomingIn:               {zoom > 1.6, "grows"},
				ZoomingOut:              {zoom < 1/1.6, "shrinks"},
				TurningClockwise:        {rot < -0.6 && math.Abs(zoom-1) < 0.25, "turns counterclockwise in the raw image"},
				TurningCounterclockwise: {rot > 0.6 && math.Abs(zoom-1) < 0.25, "turns clockwise in the raw image"},
				NoGesture: {math.Abs(dx) < 0.05*W && math.Abs(dy) < 0.05*H && math.Abs(rot) < 0.2 && zoom > 0.75 && zoom < 1.33,
					"stays where it is"},
			}
			if c := checks[p.Class]; !c.ok {
				t.Errorf("%s should be a hand that %s", p.Label, c.want)
			}
			// The rests: before the motion, and after it, the hand drifts
			// little.
			for _, span := range [][2]int{{0, p.MotionStart - 1}, {p.MotionEnd, p.Frames - 1}} {
				m0 := ms[span[0]]
				for k := span[0]; k <= span[1]; k++ {
					if d := math.Hypot(ms[k].cx-m0.cx, ms[k].cy-m0.cy); d > 0.06*W {
						t.Errorf("frame %d of a rest is %.0f px from frame %d", k, d, span[0])
						break
					}
				}
			}
		})
	}
}

// TestPairsShareEndPoses checks that one frame cannot tell the gestures of
// a pair apart: over many clips, the mean position (swipes), size (zooms)
// and tilt (turns) at the start of the first gesture of a pair is close to
// the mean at the end of the second, and the other way round.
func TestPairsShareEndPoses(t *testing.T) {
	r := NewRenderer(Config{Seed: 9, Width: 160, Height: 120})
	const n = 30
	type stat struct{ start, end [4]float64 } // cx, cy, area, theta sums
	stats := make([]stat, NumClasses)
	for i := range n * NumClasses {
		p := r.Plan(i)
		if p.Class == NoGesture {
			continue
		}
		a, b := handAt(r, i, max(p.MotionStart-1, 0)), handAt(r, i, min(p.MotionEnd, p.Frames-1))
		s := &stats[p.Class]
		for k, v := range [4]float64{a.cx, a.cy, math.Sqrt(a.area), tilt(a)} {
			s.start[k] += v / n
		}
		for k, v := range [4]float64{b.cx, b.cy, math.Sqrt(b.area), tilt(b)} {
			s.end[k] += v / n
		}
	}
	tests := []struct {
		first, second int
		what          int // index into the sums
		name          string
		tol           float64
	}{
		{SwipingLeft, SwipingRight, 0, "x", 12},
		{SwipingUp, SwipingDown, 1, "y", 10},
		{ZoomingIn, ZoomingOut, 2, "√area", 4},
		{TurningClockwise, TurningCounterclockwise, 3, "tilt", 0.3},
	}
	for _, tt := range tests {
		a, b := stats[tt.first], stats[tt.second]
		t.Logf("%s: %s %.2f → %.2f; %s: %.2f → %.2f", tt.name, Labels()[tt.first], a.start[tt.what], a.end[tt.what],
			Labels()[tt.second], b.start[tt.what], b.end[tt.what])
		if d := math.Abs(a.start[tt.what] - b.end[tt.what]); d > tt.tol {
			t.Errorf("%s: mean %s at the start %.2f, at the end of %s %.2f", Labels()[tt.first], tt.name, a.start[tt.what], Labels()[tt.second], b.end[tt.what])
		}
		if d := math.Abs(a.end[tt.what] - b.start[tt.what]); d > tt.tol {
			t.Errorf("%s: mean %s at the end %.2f, at the start of %s %.2f", Labels()[tt.first], tt.name, a.end[tt.what], Labels()[tt.second], b.start[tt.what])
		}
	}
}

// digest hashes every frame of clip i.
func digest(t *testing.T, r *Renderer, i int) [32]byte {
	t.Helper()
	h := sha256.New()
	if err := r.Render(context.Background(), i, func(f Frame) error {
		h.Write(f.Image.Pix)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// TestDeterministic checks that a seed renders the same pixels every time,
// with and without a photograph, and that another seed renders others.
func TestDeterministic(t *testing.T) {
	photo := writePhoto(t, t.TempDir(), "astronaut.png", 400, 300)
	for _, photos := range [][]string{nil, {photo}} {
		cfg := Config{Seed: 3, Width: 96, Height: 72, Photos: photos}
		a, b := NewRenderer(cfg), NewRenderer(cfg)
		cfg.Seed = 4
		c := NewRenderer(cfg)
		for _, i := range []int{0, 4, 6} {
			if a.Plan(i) != b.Plan(i) {
				t.Errorf("clip %d: plans differ: %+v, %+v", i, a.Plan(i), b.Plan(i))
			}
			da := digest(t, a, i)
			if db := digest(t, b, i); da != db {
				t.Errorf("clip %d (photos %v): two renderers with one seed give different pixels", i, photos)
			}
			if da2 := digest(t, a, i); da != da2 {
				t.Errorf("clip %d: rendering twice gives different pixels", i)
			}
			if dc := digest(t, c, i); da == dc {
				t.Errorf("clip %d: seeds 3 and 4 give the same pixels", i)
			}
		}
	}
}

// TestPlan checks the clip plans: classes in turn, the phases' lengths
// within the configured bounds, frame rates from the list.
func TestPlan(t *testing.T) {
	cfg := Config{Seed: 1, Photos: []string{"a.png", "b.jpg"}}
	r := NewRenderer(cfg)
	for i := range 90 {
		p := r.Plan(i)
		lead := float64(p.MotionStart) / p.FPS
		dur := float64(p.MotionEnd-p.MotionStart) / p.FPS
		tail := float64(p.Frames-p.MotionEnd) / p.FPS
		switch {
		case p.Class != i%NumClasses || p.Label != Labels()[p.Class]:
			t.Errorf("clip %d: class %d %q", i, p.Class, p.Label)
		case p.FPS != 30 && p.FPS != 25 && p.FPS != 24:
			t.Errorf("clip %d: %g fps", i, p.FPS)
		case lead < 1.2-1/p.FPS || lead > 2.0+1/p.FPS:
			t.Errorf("clip %d: %.2f s of rest before the motion", i, lead)
		case dur < 0.4-2/p.FPS || dur > 1.2+2/p.FPS:
			t.Errorf("clip %d: a motion of %.2f s", i, dur)
		case tail < 1.0-2/p.FPS || tail > 1.6+2/p.FPS:
			t.Errorf("clip %d: %.2f s of rest after the motion", i, tail)
		case p.Photo != "a.png" && p.Photo != "b.jpg":
			t.Errorf("clip %d: photo %q", i, p.Photo)
		case (p.Class == NoGesture) != (p.Variant != ""):
			t.Errorf("clip %d (%s): variant %q", i, p.Label, p.Variant)
		}
	}
}

// TestAnswer checks the scoring rule on made-up label sequences: the
// motion starts at 2 s and the clip ends at 4 s.
func TestAnswer(t *testing.T) {
	const ng, l, r = NoGestureLabel, "Swiping Left", "Swiping Right"
	tests := []struct {
		name        string
		shown       []Shown
		want, early string
	}{
		{"nothing shown", nil, ng, ""},
		{"only No gesture", []Shown{{0, ng}, {1, ng}, {3, ng}}, ng, ""},
		{"a gesture during the motion", []Shown{{0, ng}, {2.5, l}, {3, ng}}, l, ""},
		{"the first gesture wins", []Shown{{0, ng}, {2.5, r}, {2.8, l}}, r, ""},
		{"a gesture after the motion, before the end", []Shown{{0, ng}, {3.9, l}}, l, ""},
		{"a gesture after the end does not count", []Shown{{0, ng}, {4, l}}, ng, ""},
		{"a startup label that clears before the motion", []Shown{{0, r}, {0.3, ng}, {2.5, l}}, l, r},
		{"a label on display when the motion starts counts", []Shown{{0, ng}, {1.5, r}, {2.5, l}}, r, r},
		{"a label on display throughout", []Shown{{0, r}}, r, r},
		{"at the motion's start exactly", []Shown{{0, ng}, {2, l}}, l, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, early := Answer(tt.shown, 2, 4)
			if got != tt.want || early != tt.early {
				t.Errorf("Answer = %q, early %q; want %q, early %q", got, early, tt.want, tt.early)
			}
		})
	}
}

// TestScoreAndReport checks Score's result fields and that the report's
// counts add up, with an answer outside the classes in an "other" column.
func TestScoreAndReport(t *testing.T) {
	plan := func(class int) Plan {
		return Plan{Class: class, Label: Labels()[class], FPS: 10, Frames: 40, MotionStart: 20, MotionEnd: 28}
	}
	rep := NewReport("test")
	res := Score(plan(SwipingLeft), []Shown{{0, "Swiping Up"}, {0.5, NoGestureLabel}, {0.6, NoGestureLabel}, {2.7, "Swiping Left"}, {3.2, NoGestureLabel}})
	if !res.Right || res.Answer != "Swiping Left" || res.Early != "Swiping Up" || !paritytest.Near(res.Delay, 0.7, 1e-9) || len(res.Shown) != 4 {
		t.Errorf("Score: %+v", res)
	}
	rep.Add(res)
	rep.Add(Score(plan(NoGesture), []Shown{{0, NoGestureLabel}}))
	rep.Add(Score(plan(NoGesture), []Shown{{0, NoGestureLabel}, {2.2, "Drumming Fingers"}}))
	rep.Add(Score(plan(ZoomingIn), []Shown{{0, NoGestureLabel}, {2.5, "Zooming Out With Full Hand"}}))
	if rep.Clips != 4 || rep.Correct != 2 || rep.Accuracy != 0.5 || rep.Early != 1 {
		t.Errorf("report: %d clips, %d right, accuracy %g, early %d", rep.Clips, rep.Correct, rep.Accuracy, rep.Early)
	}
	if len(rep.Labels) != NumClasses+1 || rep.Labels[NumClasses] != "other" {
		t.Errorf("labels %q", rep.Labels)
	}
	total := 0
	for i, row := range rep.Confusion {
		if len(row) != len(rep.Labels) {
			t.Errorf("row %d has %d columns", i, len(row))
		}
		for _, v := range row {
			total += v
		}
	}
	if total != rep.Clips || rep.Confusion[NoGesture][NumClasses] != 1 || rep.Confusion[ZoomingIn][ZoomingOut] != 1 {
		t.Errorf("confusion %v", rep.Confusion)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"test: 2/4 clips right, accuracy 50.0%", "Zooming In With Full Hand", "0/1", "other"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, b.String())
		}
	}
}

// writePhoto writes a w×h PNG with some structure under name in dir.
func writePhoto(t *testing.T, dir, name string, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8((x ^ y) & 0xff), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFindPhotos checks that only listed photographs are used, in a fixed
// order, the first directory winning, and that none is an error.
func TestFindPhotos(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	writePhoto(t, d1, "coffee.png", 8, 8)
	writePhoto(t, d1, "logo.png", 8, 8) // not a photograph: not listed
	writePhoto(t, d2, "coffee.png", 8, 8)
	writePhoto(t, d2, "baboon.jpg", 8, 8)
	got, err := FindPhotos([]string{d1, d2})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(d1, "coffee.png"), filepath.Join(d2, "baboon.jpg")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("FindPhotos = %q, want %q", got, want)
	}
	if _, err := FindPhotos([]string{t.TempDir()}); !errors.Is(err, ErrNoPhotos) {
		t.Errorf("an empty directory: %v, want ErrNoPhotos", err)
	}
}

// TestY4M checks the stream's header and frame layout.
func TestY4M(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewY4MWriter(&buf, 4, 2, 30)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	for k := range img.Pix {
		img.Pix[k] = 255 // white: Y 255, Cb = Cr = 128
	}
	for range 2 {
		if err := w.Write(img); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	frame := "FRAME\n" + strings.Repeat("\xff", 8) + strings.Repeat("\x80", 4)
	if want := "YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C420jpeg\n" + frame + frame; buf.String() != want {
		t.Errorf("stream %q, want %q", buf.String(), want)
	}
	if _, err := NewY4MWriter(&buf, 5, 2, 30); err == nil {
		t.Error("an odd width is accepted")
	}
	for _, fps := range []float64{0, -1, 1e-4, 1001, math.NaN(), math.Inf(1)} {
		if _, err := NewY4MWriter(&buf, 4, 2, fps); err == nil || !strings.Contains(err.Error(), "frame rate") {
			t.Errorf("frame rate %v: error %v, want one naming the frame rate", fps, err)
		}
	}
	if err := w.Write(image.NewRGBA(image.Rect(0, 0, 2, 2))); err == nil {
		t.Error("a frame of the wrong size is accepted")
	}
}

// TestRaster checks the rasteriser's coverage against areas.
func TestRaster(t *testing.T) {
	tests := []struct {
		name string
		pts  []vec
		area float64
	}{
		{"square", []vec{{2, 2}, {6, 2}, {6, 6}, {2, 6}}, 16},
		{"offset square", []vec{{2.5, 2.25}, {6.5, 2.25}, {6.5, 6.25}, {2.5, 6.25}}, 16},
		{"triangle", []vec{{1, 1}, {9, 1}, {1, 9}}, 32},
		{"clipped", []vec{{-4, -4}, {4, -4}, {4, 4}, {-4, 4}}, 16},
		{"reversed", []vec{{2, 6}, {6, 6}, {6, 2}, {2, 2}}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRaster(12, 12)
			if !r.fill(tt.pts) {
				t.Fatal("nothing covered")
			}
			sum := 0.0
			r.take(func(_ int, a float32) { sum += float64(a) })
			if !paritytest.Near(sum, tt.area, 0.1) {
				t.Errorf("coverage %.3f, want %.1f", sum, tt.area)
			}
			for _, v := range r.cov {
				if v != 0 {
					t.Fatal("take left coverage behind")
				}
			}
		})
	}
}
