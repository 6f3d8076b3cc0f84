// Package synth renders synthetic hand-gesture video: a hand-like shape (palm,
// four fingers, thumb, wrist and forearm) performing one of the nine gestures
// of Labels, randomised far enough that a model trained on it has to learn the
// motion rather than the look:
//
//   - backgrounds: photographs (Config.Photos, e.g. Debian's wallpaper
//     packages, see LoadPhotos) with random crops, scales, flips, exposure,
//     contrast and colour, mixed with procedural ones (gradients, textures,
//     noise, rooms of flat shapes);
//   - hands of many proportions and sizes (about 5–45% of the frame's
//     height), skin tones, gloves, photo or striped textures, outlines,
//     sleeves or none, a forearm that runs out of the frame or none in
//     view, partly outside the frame; sometimes a face;
//   - motion as people make it: 0.3–1.5 s, from any position, over varied
//     distances, eased in and out, with a little wobble, seen by a camera of
//     10–30 fps resampled to the model's rate (Config.FPS);
//   - the camera: motion blur over its exposure, defocus, noise, shake,
//     exposure and white-balance drift, flicker, and JPEG block artefacts
//     like those of low-bitrate H.264 or VP8.
//
// It trains and tests livetsm's default model (`livetsm synth --stream`),
// feeds the live --synthetic source (Live) and writes .y4m files for
// Chromium's fake camera (WriteY4M).
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
//   - "Zooming In With Full Hand" brings the hand closer (it grows, its
//     fingers spread and uncurl), "Zooming Out With Full Hand" takes it away
//     (it shrinks, its fingers close and curl);
//   - "Turning Hand Clockwise" is clockwise as the person sees their own hand,
//     which is counterclockwise in the raw image and clockwise in a mirrored
//     (selfie) preview; "Turning Hand Counterclockwise" is the reverse. The
//     hand turns about the palm centre.
//
// Every clip has rest before and after the motion. The two gestures of a pair
// (left/right, up/down, in/out, clockwise/counterclockwise) draw their end
// poses from the same distribution, so the frames after a gesture cannot tell
// which of the two it was: only the motion that led there can. (The start
// pose is the end pose moved back along the gesture; the frames before the
// motion are "No gesture" to an online model, which cannot know the future.)
//
// "No gesture" is a hand at rest with small jitter and drift, a hand whose
// fingers fidget (curl and uncurl in place), no hand at all, a
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
	// FPS is the frame rate the motion is timed for: a gesture lasts about
	// 0.3–1.5 s, so it spans more frames at a higher rate. A value that is
	// not a positive finite number (0, say) means DefaultFPS.
	FPS float64
	// Seed selects the random sequence; the same Config gives the same
	// frames.
	Seed uint64
	// Photos, if not nil, are photographs for backgrounds and hand textures,
	// mixed with the procedural backgrounds (see LoadPhotos). The same
	// Photos and Seed give the same frames.
	Photos *Photos
	// SizeSkew shapes the hands' sizes. The palm radius lies between 3% and
	// 16% (SizeMax) of the frame's shorter side, at position u^SizeSkew of that range
	// on a log scale, u uniform: 1 (or 0, the default) is log-uniform; above
	// 1 favours small hands (1.6: about 48% of palms under 5% instead of
	// 31%), below 1 large ones. The random sequence is the same for any
	// value, so only the sizes (and what follows from them) change.
	SizeSkew float64
	// SizeMax is the largest palm radius at rest, as a fraction of the
	// frame's shorter side: a value in (0.03, 0.5] widens (or narrows) the
	// range of SizeSkew's 3–16% at its top; anything else (0, the default)
	// means DefaultSizeMax. Like SizeSkew it changes only the sizes.
	SizeMax float64
}

// DefaultSizeMax is the largest palm radius at rest (a fraction of the
// frame's shorter side) when Config.SizeMax is 0.
const DefaultSizeMax = 0.16

// sizeMin is the smallest palm radius at rest (a fraction of the frame's
// shorter side).
const sizeMin = 0.03

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
	if !(cfg.FPS > 0) || math.IsInf(cfg.FPS, 1) { // NaN too
		cfg.FPS = DefaultFPS
	}
	if !(cfg.SizeSkew > 0) || math.IsInf(cfg.SizeSkew, 1) {
		cfg.SizeSkew = 1
	}
	if !(cfg.SizeMax > sizeMin && cfg.SizeMax <= 0.5) { // NaN too
		cfg.SizeMax = DefaultSizeMax
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
// (pixels), rotation of the hand and of the forearm (radians; increasing is
// clockwise in the image, whose y axis points down; the two differ when the
// wrist bends), finger spread and curl in [0, 1] (curl 1: the fingers folded
// toward the palm), and whether it is in view.
type pose struct {
	x, y, s, a, fa, spread, curl float64
	vis                          bool
}

func lerpPose(p, q pose, f float64) pose {
	return pose{
		x:      p.x + (q.x-p.x)*f,
		y:      p.y + (q.y-p.y)*f,
		s:      p.s + (q.s-p.s)*f,
		a:      p.a + (q.a-p.a)*f,
		fa:     p.fa + (q.fa-p.fa)*f,
		spread: p.spread + (q.spread-p.spread)*f,
		curl:   p.curl + (q.curl-p.curl)*f,
		vis:    p.vis,
	}
}

// plan is the hand's trajectory over a clip.
type plan struct {
	class      int
	poses      []pose
	blur       []pose // each frame's pose at the start of its exposure
	start, end int    // motion frames [start, end); empty for No gesture
	bigDistr   bool
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// restPose draws a hand pose at rest for a w×h frame: anywhere in the frame,
// the palm radius log-uniform between 3% of the shorter side and sizeMax
// (shaped by skew, see Config.SizeSkew) so that with the default 16% the hand
// spans about 5–45% of the frame's height.
// The wrist is bent by up to about 17° either way.
func restPose(r *rand.Rand, w, h int, skew, sizeMax float64) pose {
	d := float64(min(w, h))
	a := uniform(r, -0.45, 0.45)
	lo, hi := math.Log(sizeMin), math.Log(sizeMax)
	return pose{
		x:      float64(w) * uniform(r, 0.15, 0.85),
		y:      float64(h) * uniform(r, 0.2, 0.8),
		s:      math.Exp(lo+(hi-lo)*math.Pow(r.Float64(), skew)) * d,
		a:      a,
		fa:     a + uniform(r, -0.3, 0.3),
		spread: uniform(r, 0.2, 0.8),
		curl:   uniform(r, 0, 0.6),
		vis:    true,
	}
}

// wristV is where the wrist lies on the hand's axis, in palm radii from the
// palm centre toward the forearm.
const wristV = 0.8

// timing splits n frames into rest, motion and rest: the motion lasts
// 0.3–1.5 s at fps, at least 2 frames, at a random offset that leaves at least
// one frame of rest on each side when there is room.
func timing(r *rand.Rand, n int, fps float64) (start, end int) {
	m := int(math.Round(uniform(r, 0.3, 1.5) * fps))
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

// camTiming is how a camera's own frame rate maps onto the model's frames: the
// model's frame i shows the newest camera frame, taken at model-frame time
// at(i), over an exposure of expo model frames (the motion blur).
type camTiming struct {
	ratio, phase, expo float64 // camera fps / model fps, camera phase in [0, 1), exposure
}

// newCamTiming draws a camera of 10–30 fps for a model running at fps, or
// none (the identity) when resample is false.
func newCamTiming(r *rand.Rand, fps float64, resample bool) camTiming {
	if !resample {
		return camTiming{ratio: 1, expo: 0.5}
	}
	camFPS := uniform(r, 10, 30)
	ratio := camFPS / fps
	return camTiming{ratio: ratio, phase: r.Float64(), expo: uniform(r, 0.2, 1) / ratio}
}

// at returns the model-frame time of the camera frame the model's frame i
// shows: the newest camera frame taken at or before i.
func (c camTiming) at(i int) float64 {
	if c.ratio == 1 && c.phase == 0 {
		return float64(i)
	}
	j := math.Floor(float64(i)*c.ratio - c.phase)
	return (j + c.phase) / c.ratio
}

// motion is a clip's hand trajectory in continuous time (model frames).
type motion struct {
	from, to   pose
	start, end float64 // motion from start−0.5 to end−0.5
	k          float64 // easing
	wobble     float64 // amplitude across the motion, pixels
	wobF, wobP float64
	lean       float64 // extra turn of the hand (not the forearm) mid-way, radians
	// A turn about a point of the hand's axis (pivotV palm radii from the
	// palm centre toward the wrist) that stays at (px, py).
	pivot          bool
	pivotV, px, py float64
	still          bool // No gesture: from→to over the whole clip
	n              int
	// fidget curls and uncurls the fingers in place (No gesture):
	// amplitude, frequency (cycles per frame) and phase.
	fidA, fidF, fidP float64
}

func (m *motion) at(t float64) pose {
	if m.still {
		p := lerpPose(m.from, m.to, max(0, min(1, t/float64(max(m.n-1, 1)))))
		if m.fidA != 0 {
			p.curl = max(0, min(1, p.curl+m.fidA*math.Sin(2*math.Pi*m.fidF*t+m.fidP)))
		}
		return p
	}
	f := (t - m.start + 0.5) / (m.end - m.start)
	p := lerpPose(m.from, m.to, ease(f, m.k))
	if f > 0 && f < 1 {
		p.a += m.lean * math.Sin(math.Pi*f)
	}
	if m.pivot {
		p.x, p.y = pivotCentre(m.px, m.py, m.pivotV*p.s, p.a)
	}
	if f > 0 && f < 1 && m.wobble != 0 {
		// A little wobble across the direction of motion.
		dx, dy := m.to.x-m.from.x, m.to.y-m.from.y
		l := math.Hypot(dx, dy)
		if l > 0 {
			w := m.wobble * math.Sin(math.Pi*f) * math.Sin(2*math.Pi*m.wobF*f+m.wobP)
			p.x += -dy / l * w
			p.y += dx / l * w
		}
	}
	return p
}

// axisPoint returns the point of the hand's axis v palm radii from the palm
// centre toward the wrist (the wrist is at wristV), in pixels.
func (p pose) axisPoint(v float64) (x, y float64) {
	return p.x - v*p.s*math.Sin(p.a), p.y + v*p.s*math.Cos(p.a)
}

// pivotCentre returns the palm centre of a hand at angle a whose axis point
// at distance v (pixels) from the palm centre toward the wrist lies at
// (px, py).
func pivotCentre(px, py, v, a float64) (x, y float64) {
	return px + v*math.Sin(a), py - v*math.Cos(a)
}

// makePlan draws the trajectory of a clip of n frames of class, moving in
// frames [start, end) (ignored for No gesture), seen through camera timing
// ct.
//
// The two gestures of a pair draw their end pose from the same distribution
// (the frames after a gesture must not tell its direction), and their start
// pose is the end pose moved back along the gesture.
func makePlan(r *rand.Rand, cfg Config, class, n, start, end int, ct camTiming) plan {
	w, h := cfg.Width, cfg.Height
	d := float64(min(w, h))
	fw, fh := float64(w), float64(h)
	p := plan{class: class, poses: make([]pose, n), blur: make([]pose, n)}
	to := restPose(r, w, h, cfg.SizeSkew, cfg.SizeMax)
	from := to
	m := motion{k: r.Float64(), n: n, start: float64(start), end: float64(end)}
	sign := 1.0
	if class == SwipingRight || class == SwipingUp || class == ZoomingOut || class == TurningCounterclockwise {
		sign = -1
	}
	switch class {
	case SwipingLeft, SwipingRight:
		// Left moves toward +x: the start lies at −x of the end, and no
		// further out than 15% of the width beyond the frame.
		amp := uniform(r, 0.25, 0.7) * d
		room := to.x + 0.15*fw
		if sign < 0 {
			room = 1.15*fw - to.x
		}
		amp = min(amp, room)
		from.x = to.x - sign*amp
		// The arm pivots at the elbow: the tilt follows the displacement.
		tilt := uniform(r, 0.2, 0.5)
		from.a -= tilt * sign * amp / d
		from.fa -= tilt * sign * amp / d
		from.y += uniform(r, -0.06, 0.06) * d
	case SwipingUp, SwipingDown:
		// Up moves toward −y: the start lies below the end.
		amp := uniform(r, 0.22, 0.55) * d
		room := 1.1*fh - to.y
		if sign > 0 {
			room = to.y + 0.1*fh
		}
		amp = min(amp, room)
		from.y = to.y - sign*amp
		from.x += uniform(r, -0.06, 0.06) * d
	case ZoomingIn, ZoomingOut:
		// In: the hand comes closer (grows) and opens, its fingers
		// spreading and uncurling; out: the reverse.
		f := uniform(r, 1.5, 2.4)
		ds := uniform(r, 0.25, 0.5)
		dc := uniform(r, 0.2, 0.6)
		if sign > 0 {
			from.s = to.s / f
			from.spread = max(0, to.spread-ds)
			from.curl = min(1, to.curl+dc)
		} else {
			from.s = to.s * f
			from.spread = min(1, to.spread+ds)
			from.curl = max(0, to.curl-dc)
		}
		from.y += uniform(r, -0.04, 0.04) * d
	case TurningClockwise, TurningCounterclockwise:
		// The person's clockwise is counterclockwise in the raw image
		// (decreasing angle): the start angle is larger.
		// The forearm follows some of the turn, from none (the wrist
		// turns) to all of it (the whole arm swings); the hand turns about
		// a point between its palm centre and its wrist.
		delta := uniform(r, 45, 140) * math.Pi / 180
		from.a = to.a + sign*delta
		from.fa = to.fa + sign*delta*uniform(r, 0, 1)
		if r.IntN(3) > 0 {
			m.pivot, m.pivotV = true, uniform(r, 0, wristV)
			m.px, m.py = to.axisPoint(m.pivotV)
			from.x, from.y = pivotCentre(m.px, m.py, m.pivotV*from.s, from.a)
		}
	}
	if class <= SwipingDown && r.IntN(2) == 0 {
		// The hand waves a little about the wrist on the way.
		m.lean = uniform(r, -0.35, 0.35)
	}
	jitter := uniform(r, 0.002, 0.008) * d
	if class == NoGesture {
		m.still = true
		drift := uniform(r, 0, 0.06) * d
		ang := uniform(r, 0, 2*math.Pi)
		from = to
		to.x += drift * math.Cos(ang)
		to.y += drift * math.Sin(ang)
		to.s *= uniform(r, 0.95, 1.05)
		da := uniform(r, -0.08, 0.08)
		to.a += da
		to.fa += da
		m.from, m.to = from, to
		k := r.IntN(7)
		if k == 4 { // the fingers fidget
			m.fidA = uniform(r, 0.1, 0.35)
			m.fidF = uniform(r, 0.033, 0.13) // cycles per frame: 0.5–2 Hz at 15 fps
			m.fidP = uniform(r, 0, 2*math.Pi)
		}
		for i := range p.poses {
			p.poses[i] = m.at(ct.at(i))
		}
		switch k {
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
		case 3: // stronger tremor
			jitter *= uniform(r, 2, 4)
		}
	} else {
		p.start, p.end = start, end
		m.from, m.to = from, to
		if r.IntN(2) == 0 {
			m.wobble = uniform(r, 0.01, 0.05) * d
			m.wobF, m.wobP = uniform(r, 0.5, 1.5), uniform(r, 0, 2*math.Pi)
		}
		for i := range p.poses {
			p.poses[i] = m.at(ct.at(i))
		}
	}
	// The pose at the start of each frame's exposure, for the motion blur.
	for i := range p.blur {
		p.blur[i] = m.at(ct.at(i) - ct.expo)
		p.blur[i].vis = p.poses[i].vis
	}
	// Small tremor, smoothed over time.
	var jx, jy float64
	for i := range p.poses {
		jx = 0.5*jx + jitter*r.NormFloat64()
		jy = 0.5*jy + jitter*r.NormFloat64()
		p.poses[i].x += jx
		p.poses[i].y += jy
		p.blur[i].x += jx
		p.blur[i].y += jy
	}
	return p
}
