package crosseval

import (
	"math"
	"math/rand/v2"
)

// rgb is a colour with channels in [0, 255].
type rgb [3]float64

func (c rgb) scale(k float64) rgb { return rgb{c[0] * k, c[1] * k, c[2] * k} }

func (c rgb) mix(d rgb, t float64) rgb {
	return rgb{c[0] + (d[0]-c[0])*t, c[1] + (d[1]-c[1])*t, c[2] + (d[2]-c[2])*t}
}

// skinTones spans light to dark skin, in sRGB.
func skinTones() []rgb {
	return []rgb{
		{250, 222, 196}, {238, 198, 168}, {226, 178, 142}, {206, 150, 112},
		{178, 120, 86}, {146, 96, 66}, {112, 72, 50}, {84, 56, 40},
	}
}

// look is the appearance of one clip's hand, fixed for the clip. Lengths are
// in units of the hand's size (its palm height at zoom 1).
type look struct {
	skin     rgb
	palmSide bool    // the palm faces the camera (else the back, with nails)
	left     bool    // a left hand: the thumb on the other side
	palmW    float64 // palm width factor
	palmH    float64 // palm height factor
	fingerL  [4]float64
	fingerW  [4]float64
	fingerX  [4]float64 // base positions across the knuckles
	fanOpen  [4]float64 // finger angles when spread, radians
	bendBias [4]float64 // in-plane bend of each finger, radians
	thumbL   float64
	thumbW   float64
	armW     float64 // forearm half width at the wrist
	sleeve   rgb
	sleeveAt float64 // distance from the wrist where the sleeve starts (>10: bare arm)
	outline  float64 // how dark the outlines between parts are
	light    vec     // direction the light comes from (unit)
	lightK   float64 // strength of the light gradient
	gain     float64 // brightness of the hand in this scene
}

// newLook draws a hand's appearance.
func newLook(r *rand.Rand) look {
	tones := skinTones()
	i := r.IntN(len(tones) - 1)
	l := look{
		skin:     tones[i].mix(tones[i+1], r.Float64()),
		palmSide: r.IntN(2) == 0,
		left:     r.IntN(2) == 0,
		palmW:    0.88 + 0.18*r.Float64(),
		palmH:    0.95 + 0.1*r.Float64(),
		thumbL:   0.62 + 0.14*r.Float64(),
		thumbW:   0.23 + 0.04*r.Float64(),
		armW:     0.34 + 0.06*r.Float64(),
		sleeveAt: 0.8 + 1.6*r.Float64(),
		outline:  0.55 + 0.2*r.Float64(),
		lightK:   0.12 + 0.2*r.Float64(),
		gain:     0.82 + 0.26*r.Float64(),
	}
	// A slight hue shift: some skins are pinker, some more olive.
	l.skin[0] *= 0.97 + 0.06*r.Float64()
	l.skin[2] *= 0.92 + 0.1*r.Float64()
	if r.IntN(4) == 0 {
		l.sleeveAt = 100 // bare forearm
	}
	l.sleeve = rgb{30 + 200*r.Float64(), 30 + 200*r.Float64(), 30 + 200*r.Float64()}
	a := -math.Pi/2 + (r.Float64()-0.5)*2.2 // mostly from above
	l.light = vec{math.Cos(a), math.Sin(a)}
	lengths := [4]float64{0.80, 0.90, 0.84, 0.64}
	widths := [4]float64{0.205, 0.21, 0.195, 0.165}
	xs := [4]float64{-0.33, -0.11, 0.11, 0.32}
	fan := [4]float64{-0.30, -0.09, 0.10, 0.31}
	k := 0.9 + 0.2*r.Float64()
	for f := range 4 {
		l.fingerL[f] = lengths[f] * k * (0.95 + 0.1*r.Float64())
		l.fingerW[f] = widths[f] * (0.9 + 0.2*r.Float64())
		l.fingerX[f] = xs[f]
		l.fanOpen[f] = fan[f] * (0.8 + 0.5*r.Float64())
		l.bendBias[f] = (r.Float64() - 0.5) * 0.08
	}
	return l
}

// pose is where the hand is and what it does in one frame.
type pose struct {
	at     vec     // palm centre, pixels
	size   float64 // pixels per unit (the palm height at this distance)
	angle  float64 // radians; positive turns clockwise in the image
	spread float64 // 0: fingers together, 1: spread wide
	curl   float64 // 0: straight fingers, 1: curled toward the palm
	elbow  vec     // where the forearm ends, pixels (usually off-frame)
	hidden bool    // no hand in view
}

// part is one filled polygon of the hand with its colour factor.
type part struct {
	pts     []vec
	tone    float64 // brightness relative to the skin
	sleeve  bool    // drawn in the sleeve colour
	outline []vec   // a slightly larger outline drawn first, or nil
	hand    bool    // part of the hand proper (not the arm): counted in Frame.Hand
}

// handFrame maps the hand's own coordinates (u across the palm, v from the
// fingertips (−) to the wrist (+), in units of size) to the image.
type handFrame struct {
	o            vec
	size         float64
	cos, sin     float64
	mirror       float64
	palmW, palmH float64
}

func (f handFrame) to(u, v float64) vec {
	u *= f.mirror
	return vec{f.o.x + f.size*(u*f.cos-v*f.sin), f.o.y + f.size*(u*f.sin+v*f.cos)}
}

// parts builds the hand's polygons for pose p, in drawing order: arm,
// sleeve, palm, thumb, fingers from the little finger to the index.
func (l *look) parts(p pose, dst []part) []part {
	dst = dst[:0]
	if p.hidden {
		return dst
	}
	m := 1.0
	if l.left {
		m = -1
	}
	f := handFrame{o: p.at, size: p.size, cos: math.Cos(p.angle), sin: math.Sin(p.angle), mirror: m, palmW: l.palmW, palmH: l.palmH}

	// Forearm: from the wrist to the elbow, widening a little.
	wrist := f.to(0, 0.42*l.palmH)
	ad := p.elbow.sub(wrist)
	alen := ad.norm()
	if alen > 1 {
		ax := ad.unit()
		n := ax.perp()
		w0, w1 := l.armW*p.size, l.armW*p.size*1.3
		arm := []vec{
			wrist.add(n.mul(w0)), wrist.add(n.mul(w0)).add(ax.mul(alen)).add(n.mul(w1 - w0)),
			wrist.sub(n.mul(w0)).add(ax.mul(alen)).sub(n.mul(w1 - w0)), wrist.sub(n.mul(w0)),
		}
		dst = append(dst, part{pts: arm, tone: 0.93})
		if s := l.sleeveAt * p.size; s < alen {
			ws := w0 + (w1-w0)*s/alen + 0.08*p.size
			a := wrist.add(ax.mul(s))
			b := p.elbow.add(ax.mul(p.size))
			dst = append(dst, part{sleeve: true, tone: 1, pts: []vec{
				a.add(n.mul(ws)), b.add(n.mul(w1 + 0.1*p.size)), b.sub(n.mul(w1 + 0.1*p.size)), a.sub(n.mul(ws)),
			}})
		}
	}

	// Palm: a rounded, slightly asymmetric polygon (the thumb side at −u).
	palm := [][2]float64{
		{-0.36, 0.50}, {0.36, 0.50}, {0.46, 0.26}, {0.50, -0.12}, {0.48, -0.38},
		{0.36, -0.50}, {0.14, -0.55}, {-0.10, -0.55}, {-0.31, -0.52}, {-0.47, -0.42},
		{-0.52, -0.14}, {-0.50, 0.22},
	}
	pts := make([]vec, len(palm))
	for i, q := range palm {
		pts[i] = f.to(q[0]*l.palmW, q[1]*l.palmH)
	}
	tone := 1.0
	if l.palmSide {
		tone = 1.06
	}
	dst = append(dst, part{pts: pts, tone: tone, hand: true})

	// Thumb: its metacarpal starts low in the palm, so the mound merges.
	ta := -(0.55 + 0.5*p.spread) + 0.25*p.curl
	thumb := digit{
		base:  vec{-0.26 * l.palmW, 0.28 * l.palmH},
		dir:   vec{math.Sin(ta), -math.Cos(ta)},
		segs:  []float64{0.42 * l.thumbL, 0.33 * l.thumbL, 0.25 * l.thumbL},
		bends: []float64{0.15 * p.curl, 0.25 * p.curl, 0.35 * p.curl},
		width: []float64{l.thumbW * 1.5, l.thumbW, l.thumbW * 0.92, l.thumbW * 0.8},
		turn:  0.12,
	}
	dst = append(dst, thumb.part(f, 0.97))

	// Fingers, little finger first so that the index lies on top.
	for fi := 3; fi >= 0; fi-- {
		closed := [4]float64{-0.05, -0.015, 0.015, 0.05}[fi]
		a := closed + (l.fanOpen[fi]-closed)*p.spread
		L := l.fingerL[fi]
		c := p.curl
		d := digit{
			base:  vec{l.fingerX[fi] * l.palmW * (0.85 + 0.15*p.spread), -0.42 * l.palmH},
			dir:   vec{math.Sin(a), -math.Cos(a)},
			segs:  []float64{0.48 * L, 0.29 * L, 0.23 * L},
			bends: []float64{1.1 * c, 2.2 * c, 2.9 * c},
			width: []float64{l.fingerW[fi], l.fingerW[fi] * 0.95, l.fingerW[fi] * 0.88, l.fingerW[fi] * 0.8},
			turn:  l.bendBias[fi],
		}
		pt := d.part(f, 1+0.03*float64(fi%2))
		dst = append(dst, pt)
		if !l.palmSide && c < 0.45 {
			dst = append(dst, d.nail(f))
		}
	}
	return dst
}

// digit is a finger or thumb: a chain of segments from base along dir,
// each foreshortened by how far it is bent out of the image plane.
type digit struct {
	base  vec       // hand coordinates
	dir   vec       // hand coordinates, unit
	segs  []float64 // segment lengths
	bends []float64 // cumulative bend of each segment out of the plane, radians
	width []float64 // width at the base and after each segment
	turn  float64   // in-plane turn at each joint, radians
}

// joints returns the digit's joints in hand coordinates, base first. The
// base lies a little inside the palm, so that no gap shows.
func (d digit) joints() []vec {
	const inside = 0.1
	p, dir := d.base.sub(d.dir.mul(inside)), d.dir
	js := []vec{p}
	for i, s := range d.segs {
		l := s * math.Max(math.Cos(d.bends[i]), 0.1)
		if i == 0 {
			l += inside
		}
		p = p.add(dir.mul(l))
		js = append(js, p)
		c, sn := math.Cos(d.turn), math.Sin(d.turn)
		dir = vec{dir.x*c - dir.y*sn, dir.x*sn + dir.y*c}
	}
	return js
}

// outlinePts returns the digit's polygon in the image, its widths grown
// by grow units.
func (d digit) outlinePts(f handFrame, grow float64) []vec {
	js := d.joints()
	n := len(js)
	left := make([]vec, 0, 2*n+8)
	right := make([]vec, 0, n)
	var dir vec
	for i, j := range js {
		if i+1 < n {
			dir = js[i+1].sub(j).unit()
		}
		w := (d.width[i] + grow) / 2
		side := dir.perp().mul(w)
		left = append(left, f.to(j.x+side.x, j.y+side.y))
		right = append(right, f.to(j.x-side.x, j.y-side.y))
	}
	// The rounded tip: a half circle about the last joint.
	tip := js[n-1]
	w := (d.width[n-1] + grow) / 2
	ang := math.Atan2(dir.y, dir.x)
	for k := 1; k < 8; k++ {
		a := ang + math.Pi/2 - math.Pi*float64(k)/8
		left = append(left, f.to(tip.x+w*math.Cos(a), tip.y+w*math.Sin(a)))
	}
	for i := n - 1; i >= 0; i-- {
		left = append(left, right[i])
	}
	return left
}

// part returns the digit's polygon and, around it, its outline.
func (d digit) part(f handFrame, tone float64) part {
	grow := 1.8 / f.size // about 0.9 px of outline on each side
	return part{pts: d.outlinePts(f, 0), outline: d.outlinePts(f, grow), tone: tone, hand: true}
}

// nail is a lighter rounded patch near the digit's tip (the back of the
// hand faces the camera).
func (d digit) nail(f handFrame) part {
	js := d.joints()
	tip, prev := js[len(js)-1], js[len(js)-2]
	ax := tip.sub(prev).unit()
	w := d.width[len(d.width)-1] * 0.32
	c := tip.sub(ax.mul(w * 0.9))
	var pts []vec
	for k := range 10 {
		a := 2 * math.Pi * float64(k) / 10
		q := c.add(ax.mul(1.25 * w * math.Cos(a))).add(ax.perp().mul(w * math.Sin(a)))
		pts = append(pts, f.to(q.x, q.y))
	}
	return part{pts: pts, tone: 1.12, hand: true}
}
