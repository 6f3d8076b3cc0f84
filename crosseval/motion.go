package crosseval

import (
	"math"
	"math/rand/v2"
)

// Easing curves: progress in [0,1] for time in [0,1].
const (
	easeMinJerk    = iota // 10t³ − 15t⁴ + 6t⁵, the minimum-jerk reach
	easeCosine            // half a cosine
	easeSmooth            // 3t² − 2t³
	easeOutQuad           // fast start, slow end
	easeInOutCubic        // slow start and end, fast middle
	numEases
)

// ease returns curve kind's progress at time t, t clamped to [0,1].
func ease(kind int, t float64) float64 {
	t = math.Min(math.Max(t, 0), 1)
	switch kind {
	case easeMinJerk:
		return t * t * t * (10 + t*(-15+6*t))
	case easeCosine:
		return 0.5 - 0.5*math.Cos(math.Pi*t)
	case easeSmooth:
		return t * t * (3 - 2*t)
	case easeOutQuad:
		return 1 - (1-t)*(1-t)
	default:
		if t < 0.5 {
			return 4 * t * t * t
		}
		u := 2 - 2*t
		return 1 - u*u*u/2
	}
}

// wobble is a sum of slow sines: the tremor and drift of a hand at rest.
type wobble struct {
	amp, freq, phase [3]float64
}

func newWobble(r *rand.Rand, amp float64) wobble {
	var w wobble
	for k := range 3 {
		w.amp[k] = amp * (0.3 + 0.7*r.Float64()) / float64(k+1)
		w.freq[k] = (0.25 + 1.4*r.Float64()) * float64(k+1)
		w.phase[k] = 2 * math.Pi * r.Float64()
	}
	return w
}

func (w wobble) at(t float64) float64 {
	s := 0.0
	for k := range 3 {
		s += w.amp[k] * math.Sin(2*math.Pi*w.freq[k]*t+w.phase[k])
	}
	return s
}

// motion is one clip's trajectory: a rest in pose from, a movement to pose
// to between t0 and t1 seconds along an easing curve (with an arc and a
// lean of the wrist on the way), and a rest in pose to; a tremor throughout.
type motion struct {
	from, to   pose
	t0, t1     float64
	curve      int
	arc        vec     // sideways bulge of the path at its middle, pixels
	lean       float64 // extra tilt at the middle of the movement, radians
	wx, wy, wa wobble  // tremor of position (pixels) and angle (radians)
	fidget     wobble  // curl of the fingers in place ("No gesture")
	driftV     vec     // slow drift, pixels per second
}

// at returns the pose at time t seconds.
func (m *motion) at(t float64) pose {
	u := 0.0
	if m.t1 > m.t0 {
		u = ease(m.curve, (t-m.t0)/(m.t1-m.t0))
	}
	bump := math.Sin(math.Pi * u) // 0 at rest, 1 mid-way
	p := m.from
	p.at = m.from.at.lerp(m.to.at, u).add(m.arc.mul(bump)).add(m.driftV.mul(t))
	p.at.x += m.wx.at(t)
	p.at.y += m.wy.at(t)
	p.size = m.from.size * math.Pow(m.to.size/m.from.size, u)
	p.angle = m.from.angle + (m.to.angle-m.from.angle)*u + m.lean*bump + m.wa.at(t)
	p.spread = m.from.spread + (m.to.spread-m.from.spread)*u
	p.curl = math.Min(math.Max(m.from.curl+(m.to.curl-m.from.curl)*u+m.fidget.at(t), 0), 1)
	p.elbow = m.from.elbow.lerp(m.to.elbow, u)
	return p
}

// No-gesture variants.
const (
	variantRest   = "rest"   // a hand at rest: tremor and slow drift
	variantFidget = "fidget" // the fingers curl and uncurl in place
	variantEmpty  = "empty"  // no hand in view
)

// newMotion draws the trajectory of a clip of the given class in a w×h
// frame, with the movement from t0 to t1 seconds. It returns the motion and
// the No-gesture variant ("" for gestures).
func newMotion(r *rand.Rand, class, w, h int, t0, t1 float64) (motion, string) {
	W, H := float64(w), float64(h)
	size := H * (0.2 + 0.12*r.Float64())
	centre := vec{W * (0.5 + 0.12*(r.Float64()-0.5)), H * (0.56 + 0.12*(r.Float64()-0.5))}
	rest := pose{
		at:     centre,
		size:   size,
		angle:  math.Max(-0.45, math.Min(0.45, 0.2*r.NormFloat64())),
		spread: 0.3 + 0.5*r.Float64(),
		curl:   0.2 * r.Float64(),
		// The elbow is below the frame, to one side or the other.
		elbow: vec{centre.x + W*0.5*(r.Float64()-0.5), H + size*(1.5+2*r.Float64())},
	}
	m := motion{
		from: rest, to: rest, t0: t0, t1: t1,
		curve: r.IntN(numEases),
		wx:    newWobble(r, 0.4+1.6*r.Float64()),
		wy:    newWobble(r, 0.4+1.6*r.Float64()),
		wa:    newWobble(r, 0.005+0.02*r.Float64()),
	}
	// pair returns a and b, or b and a for the second gesture of a pair.
	pair := func(a, b float64, second bool) (float64, float64) {
		if second {
			return b, a
		}
		return a, b
	}
	sign := func(b bool) float64 {
		if b {
			return -1
		}
		return 1
	}
	variant := ""
	switch class {
	case SwipingLeft, SwipingRight:
		amp := W * (0.26 + 0.24*r.Float64())
		// Swiping Left (the person's left) moves toward the image's right.
		a, b := pair(centre.x-amp/2, centre.x+amp/2, class == SwipingRight)
		m.from.at.x, m.to.at.x = a, b
		m.from.elbow.x += (a - centre.x) * 0.3
		m.to.elbow.x += (b - centre.x) * 0.3
		m.arc = vec{0, H * 0.1 * (r.Float64() - 0.65)}
		m.lean = sign(class == SwipingRight) * sign(r.IntN(4) == 0) * (0.05 + 0.2*r.Float64())
		m.to.angle += 0.15 * (r.Float64() - 0.5)
	case SwipingUp, SwipingDown:
		amp := H * (0.28 + 0.18*r.Float64())
		c := H * (0.5 + 0.08*(r.Float64()-0.5))
		a, b := pair(c+amp/2, c-amp/2, class == SwipingDown)
		m.from.at.y, m.to.at.y = a, b
		m.from.elbow.y += (a - c) * 0.6
		m.to.elbow.y += (b - c) * 0.6
		m.arc = vec{W * 0.06 * (r.Float64() - 0.5), 0}
		// The hand tips back a little as it goes up, forward as it goes down.
		m.lean = 0.1 * (r.Float64() - 0.5)
		m.to.angle += 0.12 * (r.Float64() - 0.5)
	case ZoomingIn, ZoomingOut:
		small := size * (0.72 + 0.15*r.Float64())
		big := small * (1.4 + 0.4*r.Float64())
		closedSpread, openSpread := 0.02+0.15*r.Float64(), 0.75+0.25*r.Float64()
		closedCurl, openCurl := 0.3+0.3*r.Float64(), 0.08*r.Float64()
		// In: small and closed to big and open; Out: the reverse.
		second := class == ZoomingOut
		m.from.size, m.to.size = pair(small, big, second)
		m.from.spread, m.to.spread = pair(closedSpread, openSpread, second)
		m.from.curl, m.to.curl = pair(closedCurl, openCurl, second)
		shift := vec{W * 0.05 * (r.Float64() - 0.5), H * 0.05 * (r.Float64() - 0.5)}
		m.to.at = m.to.at.add(shift)
		m.to.angle += 0.12 * (r.Float64() - 0.5)
	case TurningClockwise, TurningCounterclockwise:
		turn := 1.1 + 0.9*r.Float64()
		// Clockwise as the person sees it is counterclockwise in the raw
		// image: the angle (clockwise-positive in the image) decreases.
		a, b := pair(rest.angle+turn/2, rest.angle-turn/2, class == TurningCounterclockwise)
		m.from.angle, m.to.angle = a, b
		m.from.spread = 0.25 + 0.5*r.Float64()
		m.to.spread = m.from.spread
		m.to.elbow.x += W * 0.05 * (r.Float64() - 0.5)
	default:
		switch k := r.IntN(20); {
		case k < 9:
			variant = variantRest
			m.driftV = vec{W * 0.03 * (r.Float64() - 0.5), H * 0.03 * (r.Float64() - 0.5)}
			m.wx = newWobble(r, 1+2.5*r.Float64())
			m.wy = newWobble(r, 1+2.5*r.Float64())
		case k < 15:
			variant = variantFidget
			m.fidget = newWobble(r, 0.15+0.2*r.Float64())
			m.from.curl += 0.25
			m.to.curl = m.from.curl
		default:
			variant = variantEmpty
			m.from.hidden, m.to.hidden = true, true
		}
	}
	return m, variant
}
