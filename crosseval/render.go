package crosseval

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// Config sets up a set of evaluation clips. The zero value of a field means
// its default.
type Config struct {
	// Seed chooses every clip; the same Config renders the same pixels.
	Seed uint64
	// Width and Height are the frame size (default 320×240).
	Width, Height int
	// FrameRates are the frame rates clips are drawn from (default 30, 30,
	// 25, 24: so that pacing down to the model's rate keeps every other
	// frame, or an uneven pattern).
	FrameRates []float64
	// Lead and Tail bound the rest before and after the motion, in seconds
	// (default 1.2–2.0 and 1.0–1.6).
	Lead, Tail [2]float64
	// Motion bounds the motion's duration in seconds (default 0.4–1.2).
	Motion [2]float64
	// Photos are the background photographs (FindPhotos). With none, clips
	// have plain gradient backgrounds, which is for tests only.
	Photos []string
}

// withDefaults returns c with its defaults filled in.
func (c Config) withDefaults() Config {
	if c.Width <= 0 || c.Height <= 0 {
		c.Width, c.Height = 320, 240
	}
	if len(c.FrameRates) == 0 {
		c.FrameRates = []float64{30, 30, 25, 24}
	}
	if c.Lead == [2]float64{} {
		c.Lead = [2]float64{1.2, 2.0}
	}
	if c.Tail == [2]float64{} {
		c.Tail = [2]float64{1.0, 1.6}
	}
	if c.Motion == [2]float64{} {
		c.Motion = [2]float64{0.4, 1.2}
	}
	return c
}

// Plan describes one clip.
type Plan struct {
	// Index is the clip's number in its set; its class is Index mod
	// NumClasses, so any NumClasses consecutive clips hold every class once.
	Index int `json:"index"`
	// Class is the clip's class index and Label its name.
	Class int    `json:"class"`
	Label string `json:"label"`
	// Variant says which kind of "No gesture" clip it is (rest, fidget,
	// empty); empty for gestures.
	Variant string `json:"variant,omitempty"`
	// FPS is the clip's frame rate and Frames its length.
	FPS    float64 `json:"fps"`
	Frames int     `json:"frames"`
	// The motion runs over frames [MotionStart, MotionEnd); the frames
	// before and after are rest. "No gesture" clips have the same phases,
	// without a gesture in them.
	MotionStart int `json:"motion_start"`
	MotionEnd   int `json:"motion_end"`
	// Photo is the background photograph ("" for a plain background).
	Photo string `json:"photo,omitempty"`
}

// Seconds returns the clip's duration.
func (p Plan) Seconds() float64 { return float64(p.Frames) / p.FPS }

// Frame is one rendered frame of a clip.
type Frame struct {
	// Index is the frame's number in the clip.
	Index int
	// Image is the frame; it belongs to the Renderer and is overwritten by
	// the next frame.
	Image *image.RGBA
	// Hand is the coverage of the hand itself (palm, thumb and fingers,
	// without the forearm), 0–255, or nil when no hand is in view; it
	// belongs to the Renderer too.
	Hand *image.Gray
}

// Renderer renders the clips of a Config. It is not safe for concurrent
// use; use one per goroutine.
type Renderer struct {
	cfg   Config
	ras   *raster
	sil   []float32 // silhouette of the whole hand and arm (for its shadow)
	hand  []float32 // the hand proper
	acc   []float32 // the frame being composed, RGB
	sum   []float32 // motion blur accumulator
	parts []part
	box   image.Rectangle // bounds of sil
}

// NewRenderer returns a Renderer for cfg, defaults filled in.
func NewRenderer(cfg Config) *Renderer {
	cfg = cfg.withDefaults()
	n := cfg.Width * cfg.Height
	return &Renderer{
		cfg: cfg, ras: newRaster(cfg.Width, cfg.Height),
		sil: make([]float32, n), hand: make([]float32, n),
		acc: make([]float32, 3*n), sum: make([]float32, 3*n),
	}
}

// Config returns the renderer's configuration, defaults filled in.
func (r *Renderer) Config() Config { return r.cfg }

// clip is everything drawn for one clip.
type clip struct {
	plan   Plan
	look   look
	motion motion
	rng    *rand.Rand // for the clip's camera noise, after everything else
	bgRng  *rand.Rand // for the background crop
	noise  float64    // camera noise, standard deviation in levels
	flick  wobble     // auto-exposure drift
	shadow vec        // offset of the cast shadow, in units of hand size
	shadeK float64    // darkness of the cast shadow
}

// draw draws clip i: its plan and all its parameters.
func (r *Renderer) draw(i int) *clip {
	cfg := r.cfg
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)*0x9e3779b97f4a7c15+1))
	c := &clip{}
	p := Plan{Index: i, Class: i % NumClasses}
	p.Label = Labels()[p.Class]
	p.FPS = cfg.FrameRates[rng.IntN(len(cfg.FrameRates))]
	lead := cfg.Lead[0] + (cfg.Lead[1]-cfg.Lead[0])*rng.Float64()
	dur := cfg.Motion[0] + (cfg.Motion[1]-cfg.Motion[0])*rng.Float64()
	tail := cfg.Tail[0] + (cfg.Tail[1]-cfg.Tail[0])*rng.Float64()
	p.MotionStart = int(math.Round(lead * p.FPS))
	p.MotionEnd = int(math.Round((lead + dur) * p.FPS))
	p.Frames = int(math.Ceil((lead + dur + tail) * p.FPS))
	if len(cfg.Photos) > 0 {
		p.Photo = cfg.Photos[rng.IntN(len(cfg.Photos))]
	}
	c.look = newLook(rng)
	c.motion, p.Variant = newMotion(rng, p.Class, cfg.Width, cfg.Height,
		float64(p.MotionStart)/p.FPS, float64(p.MotionEnd)/p.FPS)
	c.noise = 1 + 3*rng.Float64()
	c.flick = newWobble(rng, 0.01+0.02*rng.Float64())
	a := 2 * math.Pi * rng.Float64()
	c.shadow = vec{math.Cos(a), math.Sin(a)}.mul(0.06 + 0.12*rng.Float64())
	c.shadeK = 0.12 + 0.25*rng.Float64()
	c.bgRng = rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	c.rng = rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	c.plan = p
	return c
}

// Plan returns the plan of clip i.
func (r *Renderer) Plan(i int) Plan { return r.draw(i).plan }

// Render renders clip i frame by frame, calling frame with each in order.
// It stops at the first error frame returns, or when ctx is done.
func (r *Renderer) Render(ctx context.Context, i int, frame func(Frame) error) error {
	c := r.draw(i)
	w, h := r.cfg.Width, r.cfg.Height
	var bg *background
	if c.plan.Photo != "" {
		var err error
		if bg, err = loadBackground(c.bgRng, c.plan.Photo, w, h); err != nil {
			return fmt.Errorf("clip %d: %w", i, err)
		}
	} else {
		bg = plainBackground(c.bgRng, w, h)
	}
	// The camera's noise: a table of normal deviates (a power of two of
	// them), read from a random place and stride in each frame.
	grain := make([]float32, 1<<16)
	for k := range grain {
		grain[k] = float32(c.noise * c.rng.NormFloat64())
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	handImg := image.NewGray(image.Rect(0, 0, w, h))
	dt := 1 / c.plan.FPS
	for t := range c.plan.Frames {
		if err := ctx.Err(); err != nil {
			return err
		}
		ts := float64(t) * dt
		// Motion blur: a camera's exposure smears a fast hand. Frames whose
		// pose moves much average three instants of the exposure.
		p0, p1 := c.motion.at(ts-dt/3), c.motion.at(ts+dt/3)
		fast := !p0.hidden && (p0.at.sub(p1.at).norm() > 0.05*p0.size ||
			math.Abs(p0.angle-p1.angle) > 0.06 || math.Abs(math.Log(p1.size/p0.size)) > 0.04)
		visible := r.compose(c, bg, c.motion.at(ts))
		if fast {
			copy(r.sum, r.acc)
			r.compose(c, bg, p0)
			add(r.sum, r.acc)
			r.compose(c, bg, p1)
			add(r.sum, r.acc)
			for k := range r.acc {
				r.acc[k] = r.sum[k] / 3
			}
			// Hand is the middle instant's, as composed first; compose
			// again so that it matches.
			r.composeMask(c, c.motion.at(ts))
		}
		// Exposure drift and sensor noise.
		gain := float32(1 + c.flick.at(ts))
		off, stride := c.rng.IntN(len(grain)), 1+2*c.rng.IntN(64)
		mask := len(grain) - 1
		for k := 0; k < w*h; k++ {
			for ch := range 3 {
				off = (off + stride) & mask
				img.Pix[4*k+ch] = clamp8f(r.acc[3*k+ch]*gain + grain[off])
			}
			img.Pix[4*k+3] = 255
			handImg.Pix[k] = clamp8f(255 * r.hand[k])
		}
		f := Frame{Index: t, Image: img}
		if visible {
			f.Hand = handImg
		}
		if err := frame(f); err != nil {
			return err
		}
	}
	return nil
}

func add(dst, src []float32) {
	for k := range dst {
		dst[k] += src[k]
	}
}

func clamp8f(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// composeMask fills r.sil (hand and arm) and r.hand (the hand proper) for
// pose p, leaving r.parts holding its parts. It reports whether a hand is
// in view.
func (r *Renderer) composeMask(c *clip, p pose) bool {
	clear(r.sil)
	clear(r.hand)
	r.parts = c.look.parts(p, r.parts)
	r.box = image.Rectangle{}
	for _, pt := range r.parts {
		if !r.ras.fill(pt.pts) {
			continue
		}
		r.box = r.box.Union(image.Rect(r.ras.x0, r.ras.y0, r.ras.x1, r.ras.y1))
		r.ras.take(func(i int, a float32) {
			r.sil[i] = max(r.sil[i], a)
			if pt.hand {
				r.hand[i] = max(r.hand[i], a)
			}
		})
	}
	return len(r.parts) > 0
}

// compose renders the background, the hand's cast shadow and the hand in
// pose p into r.acc. It reports whether a hand is in view.
func (r *Renderer) compose(c *clip, bg *background, p pose) bool {
	w, h := r.cfg.Width, r.cfg.Height
	copy(r.acc, bg.pix)
	if !r.composeMask(c, p) {
		return false
	}
	// The shadow: the silhouette, offset and softened by averaging two
	// offsets, darkens the background.
	off := c.shadow.mul(p.size)
	dx0, dy0 := int(math.Round(off.x)), int(math.Round(off.y))
	dx1, dy1 := int(math.Round(off.x*1.5)), int(math.Round(off.y*1.5))
	box := r.box.Add(image.Pt(min(dx0, dx1), min(dy0, dy1))).Union(r.box.Add(image.Pt(max(dx0, dx1), max(dy0, dy1))))
	box = box.Intersect(image.Rect(0, 0, w, h))
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			s := 0.5*silAt(r.sil, w, h, x-dx0, y-dy0) + 0.5*silAt(r.sil, w, h, x-dx1, y-dy1)
			if s > 0 {
				k := 1 - float32(c.shadeK)*s
				i := 3 * (y*w + x)
				r.acc[i] *= k
				r.acc[i+1] *= k
				r.acc[i+2] *= k
			}
		}
	}
	// The parts, each over the last: outline first, then the fill, shaded
	// by a gradient toward the light.
	l := &c.look
	for _, pt := range r.parts {
		base := l.skin.scale(pt.tone * l.gain)
		if pt.sleeve {
			base = l.sleeve.scale(l.gain)
		}
		if pt.outline != nil && r.ras.fill(pt.outline) {
			dark := base.scale(1 - 0.5*l.outline)
			r.ras.take(func(i int, a float32) { r.blend(i, a, dark, p, l) })
		}
		if r.ras.fill(pt.pts) {
			r.ras.take(func(i int, a float32) { r.blend(i, a, base, p, l) })
		}
	}
	return true
}

// blend mixes colour col, lit by the clip's light, over pixel i with
// coverage a.
func (r *Renderer) blend(i int, a float32, col rgb, p pose, l *look) {
	w := r.cfg.Width
	x, y := float64(i%w)+0.5, float64(i/w)+0.5
	d := vec{x, y}.sub(p.at)
	k := 1 + l.lightK*(d.x*l.light.x+d.y*l.light.y)/(1.2*p.size)
	k = math.Min(math.Max(k, 0.6), 1.35)
	j := 3 * i
	for ch := range 3 {
		v := float32(col[ch] * k)
		r.acc[j+ch] += (v - r.acc[j+ch]) * a
	}
}

func silAt(s []float32, w, h, x, y int) float32 {
	if x < 0 || y < 0 || x >= w || y >= h {
		return 0
	}
	return s[y*w+x]
}
