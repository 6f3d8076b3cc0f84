package stream

import "time"

// DefaultFPS is the rate a model is fed at unless its metadata or the
// caller says otherwise: the published demo feeds every other frame of a
// 30 fps camera.
const DefaultFPS = 15.0

// Pacer thins a stream of frame timestamps to a target rate. It keeps a
// schedule of due times one interval apart and lets a frame through when its
// timestamp reaches the next due time, less an eighth of an interval of slack for
// capture jitter; so a 30 fps source paced to 15 fps passes every other
// frame, and a 20 fps source passes 15 of every 20. A source slower than the
// target passes every frame. Pacer is a pure function of the timestamps it
// is shown: it never reads a clock.
type Pacer struct {
	interval time.Duration
	next     time.Time
	last     time.Time
	started  bool
}

// NewPacer returns a Pacer for fps frames per second; fps ≤ 0 lets every
// frame through.
func NewPacer(fps float64) *Pacer {
	p := &Pacer{}
	if fps > 0 {
		p.interval = time.Duration(float64(time.Second) / fps)
	}
	return p
}

// Interval is the time between due frames (0 when every frame is due).
func (p *Pacer) Interval() time.Duration { return p.interval }

// Due reports whether a frame captured at ts should be processed, and if so
// advances the schedule.
func (p *Pacer) Due(ts time.Time) bool {
	switch {
	case !p.started:
		// The first frame, or the first after Reset.
	case ts.Before(p.last.Add(-p.interval)):
		// The clock went back by more than an interval (a stream that was
		// restarted without Reset): start a new schedule.
	case p.interval == 0:
		p.last = ts
		return true
	case ts.Before(p.next.Add(-p.interval / 8)):
		return false
	default:
		p.last = ts
		p.next = p.next.Add(p.interval)
		if p.next.Before(ts) {
			// Far behind (a gap in the stream): restart the schedule here
			// rather than letting a burst of frames through.
			p.next = ts.Add(p.interval)
		}
		return true
	}
	p.started = true
	p.last = ts
	p.next = ts.Add(p.interval)
	return true
}

// Reset forgets the schedule: the next frame is due whatever its time.
func (p *Pacer) Reset() { p.started = false }
