package web

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/rtp"
)

// vp8ClockRate is the RTP clock rate of VP8 (RFC 7741).
const vp8ClockRate = 90000

// maxVP8Frame bounds one encoded frame: the decoder's input buffer.
const maxVP8Frame = 1 << 20

// rtpClock maps RTP timestamps to the wall clock: a frame's capture time is
// estimated as the arrival time of the fastest-delivered packet so far plus
// the RTP time elapsed since it. The estimate follows the minimum transit
// delay, so network jitter never moves it forward.
type rtpClock struct {
	started bool
	last    uint32    // the newest RTP timestamp seen
	ext     int64     // last, unwrapped
	base    time.Time // the wall time of ext 0
}

func ticks(d int64) time.Duration {
	return time.Duration(float64(d) * float64(time.Second) / vp8ClockRate)
}

// observe records a packet with RTP timestamp ts that arrived at arrival.
func (c *rtpClock) observe(ts uint32, arrival time.Time) {
	if !c.started {
		c.started, c.last, c.ext = true, ts, 0
		c.base = arrival
		return
	}
	c.ext += int64(int32(ts - c.last))
	c.last = ts
	if at := c.base.Add(ticks(c.ext)); arrival.Before(at) {
		c.base = arrival.Add(-ticks(c.ext))
	}
}

// capture returns the wall-clock capture time of RTP timestamp ts (at most
// 2³¹ ticks from the newest one observed).
func (c *rtpClock) capture(ts uint32) time.Time {
	return c.base.Add(ticks(c.ext + int64(int32(ts-c.last))))
}

// vp8Header reads a VP8 frame's tag (RFC 6386 §9.1): whether it is a key
// frame and, for key frames, its size. ok is false for a frame too short or
// a key frame without the start code: data no decoder can use.
func vp8Header(b []byte) (key bool, w, h int, ok bool) {
	if len(b) < 3 {
		return false, 0, 0, false
	}
	if b[0]&1 != 0 {
		return false, 0, 0, true
	}
	if len(b) < 10 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return true, 0, 0, false
	}
	w = int(binary.LittleEndian.Uint16(b[6:]) & 0x3fff)
	h = int(binary.LittleEndian.Uint16(b[8:]) & 0x3fff)
	return true, w, h, w > 0 && h > 0
}

// errNeedInput tells the decoder adapter that libvpx wants the next frame.
var errNeedInput = errors.New("web: decoder needs input")

// oneFrame is the io.Reader the mediadevices decoder pulls frames from: it
// hands over the one frame Decode was given, then errNeedInput.
type oneFrame struct{ data []byte }

func (o *oneFrame) Read(p []byte) (int, error) {
	if o.data == nil {
		return 0, errNeedInput
	}
	d := o.data
	o.data = nil
	if len(d) > len(p) {
		return 0, fmt.Errorf("encoded frame of %d bytes exceeds %d", len(d), len(p))
	}
	return copy(p, d), nil
}

// vp8Decoder decodes VP8 frames with libvpx through the decoder of
// github.com/pion/mediadevices/pkg/codec/vpx, turning its pull interface
// (it reads one encoded frame per Read from an io.Reader) into a call per
// frame. Not safe for concurrent use.
type vp8Decoder struct {
	in  *oneFrame
	dec codec.VideoDecoder
}

func newVP8Decoder() (*vp8Decoder, error) {
	in := &oneFrame{}
	dec, err := vpx.NewDecoder(in, prop.Media{})
	if err != nil {
		return nil, fmt.Errorf("web: vp8 decoder: %w", err)
	}
	return &vp8Decoder{in: in, dec: dec}, nil
}

// Decode decodes one encoded frame. It returns nil and no error for a frame
// that shows nothing (an invisible alt-ref frame).
func (d *vp8Decoder) Decode(frame []byte) (*image.YCbCr, error) {
	if len(frame) == 0 {
		return nil, errors.New("web: vp8: empty frame")
	}
	if len(frame) > maxVP8Frame {
		return nil, fmt.Errorf("web: vp8: frame of %d bytes exceeds %d", len(frame), maxVP8Frame)
	}
	d.in.data = frame
	img, release, err := d.dec.Read()
	d.in.data = nil
	if errors.Is(err, errNeedInput) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("web: vp8: %w", err)
	}
	if release != nil {
		release()
	}
	y, ok := img.(*image.YCbCr)
	if !ok {
		return nil, fmt.Errorf("web: vp8: decoder returned %T", img)
	}
	return y, nil
}

// Close frees the decoder.
func (d *vp8Decoder) Close() error { return d.dec.Close() }

// rtpReader is the part of a remote track the receiver reads.
type rtpReader interface {
	ReadRTP() (*rtp.Packet, interceptor.Attributes, error)
}

// videoStats counts what the receiver saw; read with atomic loads.
type videoStats struct {
	frames  atomic.Int64 // decoded frames handed to the model's source
	lost    atomic.Int64 // frames lost in transit or undecodable
	keyReqs atomic.Int64 // keyframe requests (PLI) sent
}

// videoReceiver turns a VP8 RTP track into decoded frames on a pushSource:
// RTP packets → vp8Assembler (reordering, VP8 depacketising) → libvpx →
// pushSource, with capture times from the RTP timestamps. After packet
// loss or a decoding error it discards frames until the next key frame and
// asks for one (PLI), as it does at the start.
type videoReceiver struct {
	track     rtpReader
	src       *pushSource
	keyframe  func() error // sends a PLI
	maxPixels int
	log       *slog.Logger
	stats     *videoStats
	now       func() time.Time

	mu      sync.Mutex
	lastPLI time.Time
}

// pliInterval is the shortest time between two keyframe requests.
const pliInterval = 500 * time.Millisecond

// requestKeyframe sends a PLI unless one went out within pliInterval.
func (v *videoReceiver) requestKeyframe(why string) {
	v.mu.Lock()
	now := v.now()
	if !v.lastPLI.IsZero() && now.Sub(v.lastPLI) < pliInterval {
		v.mu.Unlock()
		return
	}
	v.lastPLI = now
	v.mu.Unlock()
	v.stats.keyReqs.Add(1)
	if err := v.keyframe(); err != nil {
		v.log.Debug("keyframe request failed", "err", err)
		return
	}
	v.log.Debug("keyframe requested", "why", why)
}

// errFrameTooLarge is returned when a peer sends frames beyond maxPixels.
var errFrameTooLarge = errors.New("video frames too large")

// run reads the track until it ends (io.EOF: nil) or fails.
func (v *videoReceiver) run() error {
	dec, err := newVP8Decoder()
	if err != nil {
		return err
	}
	defer dec.Close()
	asm := newVP8Assembler()
	var clock rtpClock
	needKey := true
	var lastFrame time.Time
	tooLarge := 0
	v.requestKeyframe("start")
	for {
		pkt, _, err := v.track.ReadRTP()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read rtp: %w", err)
		}
		now := v.now()
		clock.observe(pkt.Timestamp, now)
		for _, s := range asm.push(pkt, now) {
			if s.lost {
				v.stats.lost.Add(1)
				needKey = true
				v.requestKeyframe("frames lost")
			}
			key, w, h, ok := vp8Header(s.data)
			switch {
			case !ok:
				v.stats.lost.Add(1)
				needKey = true
				v.requestKeyframe("malformed frame")
				continue
			case needKey && !key:
				v.stats.lost.Add(1)
				v.requestKeyframe("waiting for a key frame")
				continue
			case key && w*h > v.maxPixels:
				v.stats.lost.Add(1)
				needKey = true
				if tooLarge++; tooLarge >= 3 {
					return fmt.Errorf("%w: %d×%d exceeds %d pixels", errFrameTooLarge, w, h, v.maxPixels)
				}
				continue
			}
			img, err := dec.Decode(s.data)
			if err != nil {
				v.stats.lost.Add(1)
				needKey = true
				v.requestKeyframe("decode error")
				v.log.Debug("decode failed", "err", err)
				continue
			}
			needKey = false
			if img == nil {
				continue
			}
			ts := clock.capture(s.ts)
			// A gap of over a second (the camera paused, a long loss)
			// starts the model afresh.
			reset := !lastFrame.IsZero() && ts.Sub(lastFrame) > time.Second
			lastFrame = ts
			v.stats.frames.Add(1)
			v.src.Put(img, ts, reset)
		}
	}
}
