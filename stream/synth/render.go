package synth

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// skinTones are base skin colours, light to dark (sRGB).
var skinTones = [][3]float64{
	{255, 224, 196}, {255, 205, 148}, {241, 194, 125}, {234, 192, 134},
	{224, 172, 105}, {200, 150, 120}, {198, 134, 66}, {170, 110, 75},
	{141, 85, 36}, {110, 70, 45}, {92, 58, 40},
}

// handLook is what a hand looks like, in units of the palm radius.
type handLook struct {
	skin      [3]float64
	palmRX    float64
	fingerLen [4]float64
	fingerR   float64
	thumbSide float64 // +1: thumb on the image's right, −1: left
	thumbLen  float64
	armR      float64
	noArm     bool // no forearm in view
	sleeve    bool
	sleeveCol [3]float64
	sleeveAt  float64 // where the sleeve starts along the forearm
	lightX    float64 // light direction in hand coordinates
	lightY    float64
	// tex, if not nil, modulates the skin (a glove or photo texture):
	// luminance in [0, 1] at hand coordinates.
	tex func(u, v float64) float64
	// outline, if > 0, is the width (palm radii) of a dark edge.
	outline    float64
	outlineCol [3]float64
}

// distractor is a non-skin shape moving back and forth along a line.
type distractor struct {
	col          [3]float64
	x, y, dx, dy float64 // centre and half the excursion, pixels
	rx, ry       float64
	period       float64 // frames per back-and-forth
	phase        float64
	rect         bool
}

// scene is everything about a clip but the hand's trajectory.
type scene struct {
	w, h     int
	margin   int
	bgW      int
	bg       []uint8 // (w+2·margin)×(h+2·margin) RGB
	hand     handLook
	distr    []distractor
	big      distractor
	noise    float64 // camera noise σ, grey levels
	blur     int     // defocus: passes of a 3×3 box blur
	shake    float64 // camera shake σ, pixels
	gain     [2]float64
	flicker  float64
	flickerF float64
	tint     [2][3]float64 // white balance at the first and the last frame
	jpegQ    int           // block artefacts: JPEG quality, 0 for none
	scratch  []float32     // coverage buffer for the hand
}

// newScene draws a scene for cfg's frames; without paint, it draws the same
// random numbers but leaves the background unpainted (for trajectories).
func newScene(r *rand.Rand, cfg Config, paint bool) *scene {
	w, h := cfg.Width, cfg.Height
	d := float64(min(w, h))
	sc := &scene{w: w, h: h, margin: max(2, int(math.Ceil(d*0.03)))}
	sc.bgW = w + 2*sc.margin
	bgSeed := [2]uint64{r.Uint64(), r.Uint64()}
	usePhoto := cfg.Photos.Len() > 0 && r.IntN(3) > 0
	if paint {
		sc.bg = make([]uint8, sc.bgW*(h+2*sc.margin)*3)
		sc.background(rand.New(rand.NewPCG(bgSeed[0], bgSeed[1])), cfg.Photos, usePhoto)
	}

	base := skinTones[r.IntN(len(skinTones))]
	var hl handLook
	for c := range 3 {
		hl.skin[c] = base[c] * uniform(r, 0.85, 1.1)
	}
	switch k := r.IntN(10); {
	case k == 0: // a glove or an odd colour
		hl.skin = randColor(r, false)
	case k == 1 && cfg.Photos.Len() > 0: // a photo texture
		hl.tex = cfg.Photos.texture(r)
	case k == 2: // a plain texture: stripes of another shade
		f, ph := uniform(r, 2, 8), uniform(r, 0, 2*math.Pi)
		hl.tex = func(u, v float64) float64 { return 0.5 + 0.35*math.Sin(f*(u+0.5*v)+ph) }
	}
	hl.palmRX = uniform(r, 0.65, 1.05)
	fl := uniform(r, 0.7, 1.3)
	for i, k := range [4]float64{0.95, 1.08, 1.0, 0.78} {
		hl.fingerLen[i] = k * fl * uniform(r, 0.9, 1.1)
	}
	hl.fingerR = uniform(r, 0.11, 0.2)
	hl.thumbSide = 1
	if r.IntN(2) == 0 {
		hl.thumbSide = -1
	}
	hl.thumbLen = uniform(r, 0.6, 1.05)
	hl.armR = uniform(r, 0.4, 0.75)
	// Sometimes no forearm shows: a sleeve the background's colour, or a
	// hand drawn on its own.
	hl.noArm = r.IntN(8) == 0
	if r.IntN(3) > 0 {
		hl.sleeve = true
		hl.sleeveCol = randColor(r, false)
		hl.sleeveAt = uniform(r, 1.2, 3)
	} else {
		hl.sleeveAt = 100
	}
	if r.IntN(5) == 0 {
		hl.outline = uniform(r, 0.04, 0.12)
		v := uniform(r, 0, 80)
		hl.outlineCol = [3]float64{v, v, v}
	}
	la := uniform(r, 0, 2*math.Pi)
	hl.lightX, hl.lightY = math.Cos(la), math.Sin(la)
	sc.hand = hl

	for range r.IntN(3) {
		sc.distr = append(sc.distr, newDistractor(r, w, h, false))
	}
	if r.IntN(3) == 0 {
		// A face, or another skin-coloured shape, that sways a little.
		face := newDistractor(r, w, h, false)
		for c := range 3 {
			face.col[c] = hl.skin[c] * uniform(r, 0.85, 1.05)
		}
		face.rx = uniform(r, 0.08, 0.22) * d
		face.ry = face.rx * uniform(r, 1.15, 1.4)
		face.rect = false
		face.dx, face.dy = face.dx*0.1, face.dy*0.1
		sc.distr = append(sc.distr, face)
	}
	sc.big = newDistractor(r, w, h, true)

	if r.IntN(4) > 0 {
		sc.noise = uniform(r, 1, 12)
	}
	sc.blur = max(0, r.IntN(5)-2) // 0 (3 in 5), 1 or 2 passes
	if r.IntN(3) > 0 {
		sc.shake = uniform(r, 0.2, 1.2) * d / 128
	}
	sc.gain[0] = uniform(r, 0.6, 1.3)
	sc.gain[1] = sc.gain[0]
	if r.IntN(2) == 0 {
		sc.gain[1] = sc.gain[0] * uniform(r, 0.8, 1.25)
	}
	if r.IntN(5) == 0 {
		sc.flicker = uniform(r, 0.02, 0.08)
		sc.flickerF = uniform(r, 0.5, 2.5)
	}
	for c := range 3 {
		sc.tint[0][c] = uniform(r, 0.85, 1.15)
		sc.tint[1][c] = sc.tint[0][c]
	}
	if r.IntN(3) == 0 { // white balance drifts
		for c := range 3 {
			sc.tint[1][c] = sc.tint[0][c] * uniform(r, 0.92, 1.08)
		}
	}
	if r.IntN(2) == 0 {
		sc.jpegQ = 8 + r.IntN(45)
	}
	return sc
}

// randColor draws a colour; avoidSkin keeps it away from skin hues (blue,
// green, purple, grey, dark).
func randColor(r *rand.Rand, avoidSkin bool) [3]float64 {
	if !avoidSkin || r.IntN(4) == 0 {
		if avoidSkin { // grey
			v := uniform(r, 20, 235)
			return [3]float64{v, v, v}
		}
		return [3]float64{uniform(r, 10, 245), uniform(r, 10, 245), uniform(r, 10, 245)}
	}
	v := uniform(r, 60, 230)
	lo := uniform(r, 0, 0.5) * v
	switch r.IntN(3) {
	case 0: // blue
		return [3]float64{lo, uniform(r, lo, v), v}
	case 1: // green
		return [3]float64{lo, v, uniform(r, lo, v)}
	default: // purple
		return [3]float64{uniform(r, lo, v), lo, v}
	}
}

func newDistractor(r *rand.Rand, w, h int, big bool) distractor {
	d := float64(min(w, h))
	ds := distractor{
		col:    randColor(r, true),
		x:      uniform(r, 0, float64(w)),
		y:      uniform(r, 0, float64(h)),
		rx:     uniform(r, 0.03, 0.1) * d,
		ry:     uniform(r, 0.03, 0.1) * d,
		period: uniform(r, 8, 40),
		phase:  uniform(r, 0, 2*math.Pi),
		rect:   r.IntN(2) == 0,
	}
	exc := uniform(r, 0, 0.15) * d
	if big {
		ds.rx, ds.ry = uniform(r, 0.08, 0.18)*d, uniform(r, 0.08, 0.18)*d
		exc = uniform(r, 0.2, 0.45) * d
		ds.x = float64(w)/2 + uniform(r, -0.25, 0.25)*d
		ds.y = float64(h)/2 + uniform(r, -0.25, 0.25)*d
		ds.period = uniform(r, 10, 30)
	}
	a := uniform(r, 0, 2*math.Pi)
	ds.dx, ds.dy = exc*math.Cos(a), exc*math.Sin(a)
	return ds
}

// background fills sc.bg with a photograph (photo, from photos) or one of
// several kinds of procedural background.
func (sc *scene) background(r *rand.Rand, photos *Photos, photo bool) {
	bw, bh := sc.bgW, len(sc.bg)/3/sc.bgW
	d := float64(min(bw, bh))
	if photo {
		buf := make([]float64, bw*bh*3)
		photos.photoCrop(r, buf, bw, bh)
		for i, v := range buf {
			sc.bg[i] = clamp8(v)
		}
		return
	}
	c0, c1 := randColor(r, false), randColor(r, false)
	// Base: a linear gradient between two colours.
	ga := uniform(r, 0, 2*math.Pi)
	gx, gy := math.Cos(ga)/d, math.Sin(ga)/d
	amt := uniform(r, 0, 1)
	buf := make([]float64, bw*bh*3)
	for y := range bh {
		for x := range bw {
			f := 0.5 + amt*((float64(x)-float64(bw)/2)*gx+(float64(y)-float64(bh)/2)*gy)
			f = max(0, min(1, f))
			i := (y*bw + x) * 3
			for c := range 3 {
				buf[i+c] = c0[c] + (c1[c]-c0[c])*f
			}
		}
	}
	switch r.IntN(5) {
	case 0: // plain gradient
	case 1, 2: // photograph-like: fractal value noise through a colour ramp
		c2 := randColor(r, false)
		contrast := uniform(r, 0.3, 1)
		n := newValueNoise(r, bw, bh, uniform(r, 0.08, 0.5)*d)
		for y := range bh {
			for x := range bw {
				v := n.at(x, y) // ~[0, 1]
				i := (y*bw + x) * 3
				for c := range 3 {
					buf[i+c] = buf[i+c]*(1-contrast) + contrast*(c2[c]*v+buf[i+c]*(1-v))
				}
			}
		}
	case 3: // texture: stripes or checks
		per := uniform(r, 0.04, 0.25) * d
		ta := uniform(r, 0, math.Pi)
		tx, ty := math.Cos(ta), math.Sin(ta)
		check := r.IntN(2) == 0
		c2 := randColor(r, false)
		contrast := uniform(r, 0.1, 0.5)
		for y := range bh {
			for x := range bw {
				u := (float64(x)*tx + float64(y)*ty) / per
				v := 0.5 + 0.5*math.Sin(2*math.Pi*u)
				if check {
					w := (-float64(x)*ty + float64(y)*tx) / per
					v = 0.5 + 0.5*math.Sin(2*math.Pi*u)*math.Sin(2*math.Pi*w)
				}
				i := (y*bw + x) * 3
				for c := range 3 {
					buf[i+c] += contrast * v * (c2[c] - buf[i+c])
				}
			}
		}
	case 4: // a room: a few flat rectangles (door, shelf, picture, screen)
		for range 2 + r.IntN(5) {
			col := randColor(r, false)
			x0, y0 := uniform(r, -0.2, 1)*float64(bw), uniform(r, -0.2, 1)*float64(bh)
			x1, y1 := x0+uniform(r, 0.1, 0.6)*float64(bw), y0+uniform(r, 0.1, 0.6)*float64(bh)
			for y := max(0, int(y0)); y < min(bh, int(y1)); y++ {
				for x := max(0, int(x0)); x < min(bw, int(x1)); x++ {
					i := (y*bw + x) * 3
					for c := range 3 {
						buf[i+c] = col[c]
					}
				}
			}
		}
		// Soft shading over the room.
		n := newValueNoise(r, bw, bh, 0.6*d)
		for y := range bh {
			for x := range bw {
				v := 0.75 + 0.5*n.at(x, y)
				i := (y*bw + x) * 3
				for c := range 3 {
					buf[i+c] *= v
				}
			}
		}
	}
	for i, v := range buf {
		sc.bg[i] = clamp8(v)
	}
}

// valueNoise is two octaves of smoothly interpolated lattice noise.
type valueNoise struct {
	cell float64
	gw   int
	grid [2][]float64
}

func newValueNoise(r *rand.Rand, w, h int, cell float64) *valueNoise {
	cell = max(cell, 2)
	n := &valueNoise{cell: cell}
	n.gw = int(float64(w)/cell*2) + 3
	gh := int(float64(h)/cell*2) + 3
	for o := range 2 {
		n.grid[o] = make([]float64, n.gw*gh)
		for i := range n.grid[o] {
			n.grid[o][i] = r.Float64()
		}
	}
	return n
}

func (n *valueNoise) at(x, y int) float64 {
	v := 0.0
	for o, wgt := range [2]float64{0.7, 0.3} {
		sc := n.cell / float64(int(1)<<o)
		fx, fy := float64(x)/sc, float64(y)/sc
		ix, iy := int(fx), int(fy)
		tx, ty := fx-float64(ix), fy-float64(iy)
		tx, ty = tx*tx*(3-2*tx), ty*ty*(3-2*ty)
		g := n.grid[o]
		at := func(i, j int) float64 { return g[(j*n.gw+i)%len(g)] }
		a := at(ix, iy) + (at(ix+1, iy)-at(ix, iy))*tx
		b := at(ix, iy+1) + (at(ix+1, iy+1)-at(ix, iy+1))*tx
		v += wgt * (a + (b-a)*ty)
	}
	return v
}

func clamp8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// frameParams is what changes from frame to frame besides the hand.
type frameParams struct {
	t          float64 // frame time, for distractors and flicker
	shakeX     int
	shakeY     int
	gain       float64
	tint       [3]float64
	big        bool
	samples    []pose // hand poses over the exposure (motion blur)
	handOn     bool
	noiseState *rand.Rand
}

// render draws one frame into a new image.
func (sc *scene) render(fp frameParams) *image.RGBA {
	w, h := sc.w, sc.h
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	pix := img.Pix
	// Background, shifted by the camera shake.
	ox, oy := sc.margin+fp.shakeX, sc.margin+fp.shakeY
	for y := range h {
		src := sc.bg[((y+oy)*sc.bgW+ox)*3:]
		dst := pix[y*img.Stride:]
		for x := range w {
			dst[4*x] = src[3*x]
			dst[4*x+1] = src[3*x+1]
			dst[4*x+2] = src[3*x+2]
			dst[4*x+3] = 255
		}
	}
	sx, sy := float64(fp.shakeX), float64(fp.shakeY)
	for i := range sc.distr {
		sc.drawDistractor(img, &sc.distr[i], fp.t, sx, sy)
	}
	if fp.big {
		sc.drawDistractor(img, &sc.big, fp.t, sx, sy)
	}
	if fp.handOn {
		sc.drawHand(img, fp.samples, -sx, -sy)
	}
	for range sc.blur {
		boxBlur(img)
	}
	// Lighting, tint and camera noise.
	var lut [3][256]float64
	for c := range 3 {
		g := fp.gain * fp.tint[c]
		for v := range 256 {
			lut[c][v] = float64(v) * g
		}
	}
	nr := fp.noiseState
	sigma := sc.noise
	for y := range h {
		row := pix[y*img.Stride : y*img.Stride+4*w]
		for x := 0; x < 4*w; x += 4 {
			var n [3]float64
			if sigma > 0 {
				u := nr.Uint64()
				// Sum of two uniforms per channel: a cheap bell shape with
				// unit-ish variance.
				for c := range 3 {
					a := float64(u>>(c*20)&0x3ff) / 1024
					b := float64(u>>(c*20+10)&0x3ff) / 1024
					n[c] = (a + b - 1) * 2.45 * sigma
				}
			}
			row[x] = clamp8(lut[0][row[x]] + n[0])
			row[x+1] = clamp8(lut[1][row[x+1]] + n[1])
			row[x+2] = clamp8(lut[2][row[x+2]] + n[2])
		}
	}
	if sc.jpegQ > 0 {
		blockArtefacts(img, sc.jpegQ)
	}
	return img
}

// blockArtefacts passes img through a JPEG encoder at quality q and back: the
// 8×8 blocks, ringing and chroma subsampling of a low-bitrate H.264 or VP8
// stream, roughly.
func blockArtefacts(img *image.RGBA, q int) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		return
	}
	dec, err := jpeg.Decode(&buf)
	if err != nil {
		return
	}
	draw.Draw(img, img.Rect, dec, dec.Bounds().Min, draw.Src)
}

func (sc *scene) drawDistractor(img *image.RGBA, ds *distractor, t, sx, sy float64) {
	k := math.Sin(2*math.Pi*t/ds.period + ds.phase)
	cx, cy := ds.x+ds.dx*k-sx, ds.y+ds.dy*k-sy
	x0, x1 := max(0, int(cx-ds.rx-1)), min(sc.w, int(cx+ds.rx+2))
	y0, y1 := max(0, int(cy-ds.ry-1)), min(sc.h, int(cy+ds.ry+2))
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			u, v := (float64(x)+0.5-cx)/ds.rx, (float64(y)+0.5-cy)/ds.ry
			var dist float64 // in pixels, negative inside
			if ds.rect {
				dist = max(math.Abs(u)-1, math.Abs(v)-1) * min(ds.rx, ds.ry)
			} else {
				dist = (math.Sqrt(u*u+v*v) - 1) * min(ds.rx, ds.ry)
			}
			cov := max(0, min(1, 0.5-dist))
			if cov == 0 {
				continue
			}
			i := y*img.Stride + 4*x
			for c := range 3 {
				img.Pix[i+c] = clamp8(float64(img.Pix[i+c]) + cov*(ds.col[c]-float64(img.Pix[i+c])))
			}
		}
	}
}

// capsule returns the distance from (u, v) to the segment (ax, ay)–(bx, by)
// minus r.
func capsule(u, v, ax, ay, bx, by, r float64) float64 {
	px, py := u-ax, v-ay
	dx, dy := bx-ax, by-ay
	t := (px*dx + py*dy) / (dx*dx + dy*dy)
	t = max(0, min(1, t))
	ex, ey := px-dx*t, py-dy*t
	return math.Sqrt(ex*ex+ey*ey) - r
}

// handGeom is a hand's primitives for one pose, in palm-radius units with the
// fingers pointing to −v.
type handGeom struct {
	palmRX  float64
	fingers [5][5]float64 // ax, ay, bx, by, r (4 fingers, then the thumb)
	armR    float64
}

// geom returns the hand's primitives for a finger spread and curl in [0, 1]:
// a curled finger, folded toward the palm, looks shorter from the front.
func (hl *handLook) geom(spread, curl float64) handGeom {
	g := handGeom{palmRX: hl.palmRX, armR: hl.armR}
	for i := range 4 {
		fx := (float64(i) - 1.5) * 0.37 * hl.palmRX
		ang := (float64(i) - 1.5) * (0.04 + 0.16*spread)
		l := hl.fingerLen[i] * (1 - 0.8*curl)
		ay := -0.62 - 0.05*math.Abs(float64(i)-1.5)
		g.fingers[i] = [5]float64{fx, ay, fx + l*math.Sin(ang), ay - l*math.Cos(ang), hl.fingerR}
	}
	ta := hl.thumbSide * (0.75 + 0.45*spread - 0.4*curl) // from straight up
	tl := hl.thumbLen * (1 - 0.4*curl)
	tx0, ty0 := hl.thumbSide*0.55*hl.palmRX, 0.25
	g.fingers[4] = [5]float64{tx0, ty0, tx0 + tl*math.Sin(ta), ty0 - tl*math.Cos(ta), hl.fingerR * 1.2}
	return g
}

// armTaper is how far from the wrist (palm radii) the forearm widens.
const armTaper = 12

// sdf returns the signed distance (palm-radius units, negative inside) of the
// hand at (u, v) in the hand's frame, (ua, va) in the forearm's (from the
// wrist, along the forearm), and whether the point is on the sleeve; arm
// false leaves the forearm out.
func (g *handGeom) sdf(u, v, ua, va, sleeveAt float64, arm bool) (float64, bool) {
	// Palm: an ellipse, approximately.
	eu := u / g.palmRX
	d := (math.Sqrt(eu*eu+v*v) - 1) * g.palmRX
	// Forearm, from inside the palm through the wrist and out of view.
	if arm && va > -wristV {
		// It widens toward the elbow, then keeps its width.
		if a := math.Abs(ua) - g.armR - 0.08*max(0, min(va, armTaper)); a < d {
			d = a
		}
	}
	sleeve := va+wristV > sleeveAt && d <= 0
	if v < 0.6 {
		for i := range g.fingers {
			f := &g.fingers[i]
			if dd := capsule(u, v, f[0], f[1], f[2], f[3], f[4]); dd < d {
				d = dd
			}
		}
	}
	return d, sleeve
}

// drawHand blends the hand into img, averaging the coverage of the poses in
// samples (motion blur), offset by (ox, oy) pixels.
func (sc *scene) drawHand(img *image.RGBA, samples []pose, ox, oy float64) {
	w, h := sc.w, sc.h
	if cap(sc.scratch) < 4*w*h {
		sc.scratch = make([]float32, 4*w*h)
	}
	acc := sc.scratch[:4*w*h] // coverage, then RGB premultiplied
	clear(acc)
	hl := &sc.hand
	x0, y0, x1, y1 := w, h, 0, 0
	wgt := 1 / float64(len(samples))
	for _, p := range samples {
		if !p.vis || p.s <= 0 {
			continue
		}
		g := hl.geom(p.spread, p.curl)
		cs, sn := math.Cos(p.a), math.Sin(p.a)
		csa, sna := math.Cos(p.fa), math.Sin(p.fa)
		cx, cy := p.x+ox, p.y+oy
		wx, wy := p.axisPoint(wristV) // the wrist
		wx, wy = wx+ox, wy+oy
		reach := 2.4 * p.s
		bx0, bx1 := int(cx-reach-1), int(cx+reach+2)
		by0, by1 := int(cy-reach-1), int(cy+reach+2)
		if !hl.noArm {
			// The forearm runs from the wrist out of the frame, however
			// small the hand: its far end (ex, ey) lies beyond the frame's
			// diagonal.
			l := math.Hypot(float64(w), float64(h)) + 2*math.Hypot(ox, oy) + p.s
			ex, ey := wx-sna*l, wy+csa*l
			hw := (hl.armR+0.08*armTaper)*p.s + 2 // its half-width there
			bx0 = min(bx0, int(min(wx, ex)-hw-1))
			bx1 = max(bx1, int(max(wx, ex)+hw+2))
			by0 = min(by0, int(min(wy, ey)-hw-1))
			by1 = max(by1, int(max(wy, ey)+hw+2))
		}
		bx0, by0 = max(bx0, 0), max(by0, 0)
		bx1, by1 = min(bx1, w), min(by1, h)
		x0, y0, x1, y1 = min(x0, bx0), min(y0, by0), max(x1, bx1), max(y1, by1)
		inv := 1 / p.s
		for y := by0; y < by1; y++ {
			dy := float64(y) + 0.5 - cy
			for x := bx0; x < bx1; x++ {
				dx := float64(x) + 0.5 - cx
				u := (dx*cs + dy*sn) * inv
				v := (-dx*sn + dy*cs) * inv
				ax, ay := float64(x)+0.5-wx, float64(y)+0.5-wy
				ua := (ax*csa + ay*sna) * inv
				va := (-ax*sna + ay*csa) * inv
				d, sleeve := g.sdf(u, v, ua, va, hl.sleeveAt, !hl.noArm)
				cov := 0.5 - d*p.s
				if cov <= 0 {
					continue
				}
				cov = min(cov, 1)
				// Shading: rounded edges and a directional light.
				depth := min(1, -d/0.18)
				// The light's gradient is bounded along the forearm, which
				// can reach far beyond the hand.
				light := max(-2.5, min(2.5, u*hl.lightX+v*hl.lightY))
				shade := 0.72 + 0.28*max(0, depth) + 0.12*light/1.5
				col := &hl.skin
				var tcol [3]float64
				switch {
				case sleeve:
					col = &hl.sleeveCol
				case hl.outline > 0 && d > -hl.outline:
					col = &hl.outlineCol
				case hl.tex != nil:
					k := 0.55 + 0.9*hl.tex(u, v)
					tcol = [3]float64{col[0] * k, col[1] * k, col[2] * k}
					col = &tcol
				}
				i := 4 * (y*w + x)
				k := float32(cov * wgt)
				acc[i] += k
				acc[i+1] += k * float32(col[0]*shade)
				acc[i+2] += k * float32(col[1]*shade)
				acc[i+3] += k * float32(col[2]*shade)
			}
		}
	}
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			i := 4 * (y*w + x)
			a := acc[i]
			if a <= 0 {
				continue
			}
			j := y*img.Stride + 4*x
			for c := range 3 {
				bg := float32(img.Pix[j+c])
				img.Pix[j+c] = clamp8(float64(acc[i+1+c] + (1-a)*bg))
			}
		}
	}
}

// boxBlur applies a 3×3 box blur in place.
func boxBlur(img *image.RGBA) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	tmp := make([]uint16, w*h*3)
	p := img.Pix
	for y := range h {
		row := p[y*img.Stride:]
		for x := range w {
			xl, xr := max(x-1, 0), min(x+1, w-1)
			for c := range 3 {
				tmp[(y*w+x)*3+c] = uint16(row[4*xl+c]) + uint16(row[4*x+c]) + uint16(row[4*xr+c])
			}
		}
	}
	for y := range h {
		yu, yd := max(y-1, 0), min(y+1, h-1)
		row := p[y*img.Stride:]
		for x := range w {
			for c := range 3 {
				s := tmp[(yu*w+x)*3+c] + tmp[(y*w+x)*3+c] + tmp[(yd*w+x)*3+c]
				row[4*x+c] = uint8((s + 4) / 9)
			}
		}
	}
}
