// Package synth renders synthetic hand-gesture video: a hand-like shape (palm,
// four fingers, thumb, wrist and forearm; skin tones and shading; varied size,
// position, speed and rotation) over varied backgrounds (gradients, textures,
// photograph-like noise, rooms of flat shapes) with lighting changes, camera
// noise, blur, small camera shake and distractor motion, performing one of the
// nine gestures of Labels. It trains and tests livetsm's default model
// (`livetsm synth --stream`), feeds the live --synthetic source (Live) and
// writes .y4m files for Chromium's fake camera (WriteY4M).
//
// # Conventions
//
// Frames are raw, unmirrored camera frames, and directions are the person's,
// as in Jester: the person faces the camera, so
//
//   - "Swiping Left" moves the hand toward the image's right (+x),
//     "Swiping Right" toward the image's left (−x);
//   - "Swiping Up" moves it toward the image's top (−y), "Swiping Down"
//     toward its bottom (+y);
//   - "Zooming In With Full Hand" brings the hand closer (it grows and its
//     fingers spread), "Zooming Out With Full Hand" takes it away (it shrinks
//     and its fingers close);
//   - "Turning Hand Clockwise" is clockwise as the person sees their own hand,
//     which is counterclockwise in the raw image and clockwise in a mirrored
//     (selfie) preview; "Turning Hand Counterclockwise" is the reverse. The
//     hand turns about the palm centre.
//
// Every clip has rest before and after the motion. The two gestures of a pair
// (left/right, up/down, in/out, clockwise/counterclockwise) draw their start
// and end poses from the same distribution, so one frame cannot tell them
// apart: only the temporal order can.
//
// "No gesture" is a hand at rest with small jitter and drift, no hand at all, a
// hand coming into view or leaving it, or a resting hand with a large distractor
// moving across the scene.
//
// Everything is deterministic given the Config: the same seed renders the
// same pixels.
package synth

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Class indices, in the order of Labels.
const (
	SwipingLeft = iota
	SwipingRight
	SwipingUp
	SwipingDown
	ZoomingIn
	ZoomingOut
	TurningClockwise
	TurningCounterclockwise
	NoGesture
	// NumClasses is the number of gesture classes.
	NumClasses
)

var labels = [NumClasses]string{
	"Swiping Left",
	"Swiping Right",
	"Swiping Up",
	"Swiping Down",
	"Zooming In With Full Hand",
	"Zooming Out With Full Hand",
	"Turning Hand Clockwise",
	"Turning Hand Counterclockwise",
	"No gesture",
}

// Labels returns the 9 gesture names (Jester's) in class-index order.
func Labels() []string { return slices.Clone(labels[:]) }

// ClassIndex returns the class index of a gesture name, or −1 if there is
// none of that name.
func ClassIndex(name string) int {
	return slices.Index(labels[:], name)
}

// DefaultFPS is the frame rate motions are timed for when Config.FPS is 0.
const DefaultFPS = 15

// Config sets up a Generator.
type Config struct {
	// Width and Height are the frame size in pixels (e.g. 320×240 for the
	// live source and .y4m files, 128×128 for training). Zero means 128.
	Width, Height int
	// FPS is the frame rate the motion is timed for (default 15): a gesture
	// lasts about 0.35–0.8 s, so it spans more frames at a higher rate.
	FPS float64
	// Seed selects the random sequence; the same Config gives the same
	// frames.
	Seed uint64
}

// Generator renders clips and live streams. It is deterministic given its
// Config and not safe for concurrent use: use one Generator per goroutine.
type Generator struct {
	cfg Config
	pcg *rand.PCG
	rng *rand.Rand
}

// New returns a Generator for cfg, with defaults filled in.
func New(cfg Config) *Generator {
	if cfg.Width <= 0 {
		cfg.Width = 128
	}
	if cfg.Height <= 0 {
		cfg.Height = 128
	}
	if cfg.FPS <= 0 {
		cfg.FPS = DefaultFPS
	}
	pcg := rand.NewPCG(cfg.Seed, 0x5eed_1ab5_c0ff_ee01)
	return &Generator{cfg: cfg, pcg: pcg, rng: rand.New(pcg)}
}

// Config returns the generator's configuration, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// sub returns a new random source drawn from g's sequence.
func (g *Generator) sub() *rand.Rand {
	return rand.New(rand.NewPCG(g.rng.Uint64(), g.rng.Uint64()))
}

// pose is the hand's state in one frame: palm centre (pixels), palm radius
// (pixels), rotation (radians; increasing is clockwise in the image, whose y
// axis points down), finger spread in [0, 1], and whether it is in view.
type pose struct {
	x, y, s, a, spread float64
	vis                bool
}

func lerpPose(p, q pose, f float64) pose {
	return pose{
		x:      p.x + (q.x-p.x)*f,
		y:      p.y + (q.y-p.y)*f,
		s:      p.s + (q.s-p.s)*f,
		a:      p.a + (q.a-p.a)*f,
		spread: p.spread + (q.spread-p.spread)*f,
		vis:    p.vis,
	}
}

// plan is the hand's trajectory over a clip.
type plan struct {
	class      int
	poses      []pose
	start, end int // motion frames [start, end); empty for No gesture
	bigDistr   bool
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// restPose draws a hand pose at rest for a w×h frame.
func restPose(r *rand.Rand, w, h int) pose {
	d := float64(min(w, h))
	return pose{
		x:      float64(w)/2 + uniform(r, -0.15, 0.15)*d,
		y:      float64(h)/2 + uniform(r, -0.08, 0.15)*d,
		s:      uniform(r, 0.085, 0.13) * d,
		a:      uniform(r, -0.3, 0.3),
		spread: uniform(r, 0.25, 0.75),
		vis:    true,
	}
}

// timing splits n frames into rest, motion and rest; the motion lasts
// 0.35–0.8 s at fps, at least 2 frames and leaving rest on both sides when
// there is room.
func timing(r *rand.Rand, n int, fps float64) (start, end int) {
	m := int(math.Round(uniform(r, 0.35, 0.8) * fps))
	m = max(min(m, n-2), min(2, n), 1)
	m = min(m, n)
	rest := n - m
	switch {
	case rest >= 2:
		start = 1 + r.IntN(rest-1)
	case rest == 1:
		start = r.IntN(2)
	}
	return start, start + m
}

// ease maps motion progress in [0, 1] to displacement in [0, 1]: a blend of
// linear and smoothstep, so speed profiles vary.
func ease(f, k float64) float64 {
	f = max(0, min(1, f))
	return (1-k)*f + k*f*f*(3-2*f)
}

// makePlan draws the trajectory of a clip of n frames of class, moving in
// frames [start, end) (ignored for No gesture).
func makePlan(r *rand.Rand, class, n, w, h, start, end int) plan {
	d := float64(min(w, h))
	p := plan{class: class, poses: make([]pose, n)}
	base := restPose(r, w, h)
	from, to := base, base
	switch class {
	case SwipingLeft, SwipingRight:
		amp := uniform(r, 0.3, 0.55) * d
		sign := 1.0
		if class == SwipingRight {
			sign = -1
		}
		from.x, to.x = base.x-sign*amp/2, base.x+sign*amp/2
		// The arm pivots at the elbow: the tilt follows the position, so it
		// does not tell the direction either.
		tilt := uniform(r, 0.2, 0.5)
		from.a += tilt * (from.x - base.x) / d
		to.a += tilt * (to.x - base.x) / d
		dy := uniform(r, -0.05, 0.05) * d
		from.y -= dy / 2
		to.y += dy / 2
	case SwipingUp, SwipingDown:
		amp := uniform(r, 0.25, 0.42) * d
		sign := -1.0
		if class == SwipingDown {
			sign = 1
		}
		base.y = float64(h)/2 + uniform(r, -0.05, 0.08)*d
		from.y, to.y = base.y-sign*amp/2, base.y+sign*amp/2
		dx := uniform(r, -0.05, 0.05) * d
		from.x -= dx / 2
		to.x += dx / 2
	case ZoomingIn, ZoomingOut:
		f := math.Sqrt(uniform(r, 1.5, 2.0))
		lo, hi := base, base
		lo.s, hi.s = base.s/f, base.s*f
		lo.spread, hi.spread = uniform(r, 0, 0.25), uniform(r, 0.75, 1)
		from, to = lo, hi
		if class == ZoomingOut {
			from, to = hi, lo
		}
	case TurningClockwise, TurningCounterclockwise:
		delta := uniform(r, 60, 120) * math.Pi / 180
		sign := -1.0 // the person's clockwise is counterclockwise in the raw image
		if class == TurningCounterclockwise {
			sign = 1
		}
		from.a, to.a = base.a-sign*delta/2, base.a+sign*delta/2
	}
	jitter := uniform(r, 0.002, 0.008) * d
	if class == NoGesture {
		drift := uniform(r, 0, 0.06) * d
		ang := uniform(r, 0, 2*math.Pi)
		to.x += drift * math.Cos(ang)
		to.y += drift * math.Sin(ang)
		to.s *= uniform(r, 0.95, 1.05)
		to.a += uniform(r, -0.08, 0.08)
		for i := range p.poses {
			p.poses[i] = lerpPose(from, to, float64(i)/float64(max(n-1, 1)))
		}
		switch k := r.IntN(6); k {
		case 0: // no hand
			for i := range p.poses {
				p.poses[i].vis = false
			}
		case 1: // the hand comes into view or leaves it
			cut := 1 + r.IntN(max(n-1, 1))
			in := r.IntN(2) == 0
			for i := range p.poses {
				p.poses[i].vis = (i >= cut) == in
			}
		case 2: // a large distractor moves across the scene
			p.bigDistr = true
		}
	} else {
		p.start, p.end = start, end
		k := r.Float64()
		for i := range p.poses {
			// Frames before start rest at the start pose, frames from end on
			// at the end pose; the motion frames sit symmetrically between,
			// so the pose distribution is the same in both directions.
			f := (float64(i-p.start) + 0.5) / float64(p.end-p.start)
			p.poses[i] = lerpPose(from, to, ease(f, k))
		}
	}
	// Small tremor, smoothed over time.
	var jx, jy float64
	for i := range p.poses {
		jx = 0.5*jx + jitter*r.NormFloat64()
		jy = 0.5*jy + jitter*r.NormFloat64()
		p.poses[i].x += jx
		p.poses[i].y += jy
	}
	return p
}
