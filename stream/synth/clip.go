package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// Clip is a rendered gesture clip.
type Clip struct {
	// Label is the class index (see Labels) and Name its gesture name.
	Label int
	Name  string
	// Frames are the clip's frames, all Config.Width×Config.Height.
	Frames []*image.RGBA
	// Start and End delimit the frames [Start, End) in which the hand moves;
	// both are 0 for "No gesture". Frames before Start and from End on are
	// at rest.
	Start, End int
	// Scale is the hand's size at the clip's end: its palm radius as a
	// fraction of the frame's shorter side, about 0.03–0.16 (the whole hand
	// spans about 5–45% of the frame's height). A zoom starts 1.5–2.4
	// times smaller or larger. For "No gesture" the hand may be out of view.
	Scale float64
}

// Clip renders one clip of n frames of a random gesture (uniformly among the
// nine classes), or of the given class if class ≥ 0: rest, motion, rest, in a
// new scene (background, hand, lighting, camera). Each call draws the next
// clip of the Generator's sequence.
func (g *Generator) Clip(class, n int) Clip {
	return g.ClipWithRest(class, n, 0)
}

// ClipWithRest renders the clip that Clip(class, n) would, followed by rest
// more frames in which the hand holds its last pose while the scene and the
// camera (noise, shake, flicker, distractors) run on, as a stream goes on
// after a gesture. Its first n frames, Start and End are Clip's own; it has
// n+rest frames.
func (g *Generator) ClipWithRest(class, n, rest int) Clip {
	r := g.sub()
	if class < 0 || class >= NumClasses {
		class = r.IntN(NumClasses)
	}
	n, rest = max(n, 1), max(rest, 0)
	sc := newScene(r, g.cfg, true)
	start, end := timing(r, n, g.cfg.FPS)
	p := makePlan(r, g.cfg, class, n, start, end, newCamTiming(r, g.cfg.FPS, true))
	for range rest {
		p.poses = append(p.poses, p.poses[n-1])
	}
	c := Clip{Label: class, Name: labels[class], Frames: make([]*image.RGBA, n+rest), Start: p.start, End: p.end,
		Scale: p.poses[n-1].s / float64(min(g.cfg.Width, g.cfg.Height))}
	cam := newCamera(r, sc, n)
	for t := range n + rest {
		c.Frames[t] = sc.render(cam.params(r, sc, p, t, float64(t)))
	}
	return c
}

// trajectory returns the hand poses of the clip Clip(class, n) would render
// next, without rendering it or advancing g.
func (g *Generator) trajectory(class, n int) plan {
	save := *g.pcg
	defer func() { *g.pcg = save }()
	r := g.sub()
	if class < 0 || class >= NumClasses {
		class = r.IntN(NumClasses)
	}
	n = max(n, 1)
	newScene(r, g.cfg, false)
	start, end := timing(r, n, g.cfg.FPS)
	return makePlan(r, g.cfg, class, n, start, end, newCamTiming(r, g.cfg.FPS, true))
}

// camera holds the frame-to-frame state of the camera: shake and lighting.
type camera struct {
	n       int
	shake   [][2]int
	flPhase float64
	noise   *rand.Rand
}

func newCamera(r *rand.Rand, sc *scene, n int) *camera {
	c := &camera{n: n, flPhase: uniform(r, 0, 2*math.Pi), noise: rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))}
	return c
}

// params returns the frame parameters of frame t of p; ft is the time
// (frames) for distractors and flicker.
func (c *camera) params(r *rand.Rand, sc *scene, p plan, t int, ft float64) frameParams {
	fp := frameParams{t: ft, big: p.bigDistr, noiseState: c.noise}
	if sc.shake > 0 {
		m := float64(sc.margin)
		fp.shakeX = int(math.Round(max(-m, min(m, sc.shake*r.NormFloat64()))))
		fp.shakeY = int(math.Round(max(-m, min(m, sc.shake*r.NormFloat64()))))
	}
	f := 0.0
	if c.n > 1 {
		f = min(1, float64(t)/float64(c.n-1)) // held after the clip's n frames
	}
	fp.gain = sc.gain[0] + (sc.gain[1]-sc.gain[0])*f + sc.flicker*math.Sin(sc.flickerF*ft+c.flPhase)
	for ch := range 3 {
		fp.tint[ch] = sc.tint[0][ch] + (sc.tint[1][ch]-sc.tint[0][ch])*f
	}
	cur := p.poses[t]
	fp.handOn = cur.vis
	fp.samples = []pose{cur}
	if t < len(p.blur) && cur.vis {
		prev := p.blur[t]
		// Motion blur over the exposure, sampled finely enough.
		move := math.Hypot(cur.x-prev.x, cur.y-prev.y) + math.Abs(cur.a-prev.a)*cur.s + math.Abs(cur.s-prev.s)
		if k := min(6, int(move/(0.25*max(cur.s, 1)))); k > 0 {
			fp.samples = fp.samples[:0]
			for j := range k + 1 {
				fp.samples = append(fp.samples, lerpPose(cur, prev, float64(j)/float64(k)))
			}
		}
	}
	return fp
}

// Live is an endless stream of frames in one scene: gestures one after
// another with rest between. A hand that moved off its rest pose comes back
// to a new one while out of view or in one cut, as in a "No gesture" clip.
type Live struct {
	g     *Generator
	r     *rand.Rand
	sc    *scene
	cam   *camera
	plan  plan
	pos   int
	frame int
}

// Live returns an endless stream of frames in a new scene, drawn from g's
// sequence. Each gesture is preceded by 0.4–1.2 s and followed by 0.3–0.8 s of
// rest; about one episode in five is "No gesture".
func (g *Generator) Live() *Live {
	r := g.sub()
	l := &Live{g: g, r: r, sc: newScene(r, g.cfg, true)}
	l.cam = newCamera(r, l.sc, 1)
	l.episode()
	return l
}

// episode plans the next gesture (or rest) of the live stream.
func (l *Live) episode() {
	cfg := l.g.cfg
	r := l.r
	class := r.IntN(NumClasses + 1)
	if class >= NumClasses {
		class = NoGesture
	}
	motion := max(2, int(math.Round(uniform(r, 0.3, 1.2)*cfg.FPS)))
	before := int(math.Round(uniform(r, 0.4, 1.2) * cfg.FPS))
	after := int(math.Round(uniform(r, 0.3, 0.8) * cfg.FPS))
	n := max(before+motion+after, 3)
	// Draw a plan at the needed length with the motion placed after the
	// rest: plan the motion frames, then pad with rest.
	mp := makePlan(r, cfg, class, motion+2, 1, motion+1, newCamTiming(r, cfg.FPS, false))
	p := plan{class: class, bigDistr: mp.bigDistr, poses: make([]pose, 0, n)}
	for range before {
		p.poses = append(p.poses, mp.poses[0])
	}
	if class == NoGesture {
		// Spread the rest clip over the episode.
		for i := range n - before {
			p.poses = append(p.poses, mp.poses[min(len(mp.poses)-1, 1+i*len(mp.poses)/max(1, n-before))])
		}
	} else {
		p.start = before
		p.poses = append(p.poses, mp.poses[1:len(mp.poses)-1]...)
		p.end = len(p.poses)
		for range after {
			p.poses = append(p.poses, mp.poses[len(mp.poses)-1])
		}
	}
	// Small tremor at rest; motion blur over half the frame interval.
	d := float64(min(cfg.Width, cfg.Height))
	p.blur = make([]pose, len(p.poses))
	for i := range p.poses {
		p.poses[i].x += 0.003 * d * r.NormFloat64()
		p.poses[i].y += 0.003 * d * r.NormFloat64()
		p.blur[i] = p.poses[i]
		if i > 0 && p.poses[i-1].vis == p.poses[i].vis {
			p.blur[i] = lerpPose(p.poses[i], p.poses[i-1], 0.5)
		}
	}
	l.plan, l.pos = p, 0
}

// Next returns the next frame and the name of the gesture being performed in
// it ("No gesture" at rest). It never ends.
func (l *Live) Next() (*image.RGBA, string) {
	if l.pos >= len(l.plan.poses) {
		l.episode()
	}
	p := &l.plan
	t := l.pos
	img := l.sc.render(l.cam.params(l.r, l.sc, *p, t, float64(l.frame)))
	name := labels[NoGesture]
	if t >= p.start && t < p.end {
		name = labels[p.class]
	}
	l.pos++
	l.frame++
	return img, name
}
