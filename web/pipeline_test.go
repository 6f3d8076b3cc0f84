package web

import (
	"context"
	"errors"
	"image"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/livetsm/livetsm/internal/testlog"
	"github.com/livetsm/livetsm/stream"
	"github.com/livetsm/livetsm/stream/synth"
)

// TestPionClientGetsPredictions sends synthetic gesture video from a Go
// WebRTC peer and expects predictions over the websocket; closing the peer
// ends the session.
func TestPionClientGetsPredictions(t *testing.T) {
	var mu sync.Mutex
	hooked := map[string]int{} // session → predictions seen by OnPrediction
	s, hs := newTestServer(t, Options{OnPrediction: func(session string, p stream.Prediction) {
		mu.Lock()
		hooked[session]++
		mu.Unlock()
	}})
	frames := encodeVP8(t, synthFrames(synth.SwipingLeft, 20, 320, 240))
	c := newPionClient(t)
	id := c.connect(t, hs.URL, nil)
	ws, _, err := dialWS(t, hs.URL, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.send(ctx, frames, 15)
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()

	labels := synth.Labels()
	start := time.Now()
	var last map[string]any
	for n := 0; n < 5; n++ {
		p := readType(t, ws, "prediction", 15*time.Second)
		if !slices.Contains(labels, p["label"].(string)) {
			t.Fatalf("label %q is not the model's", p["label"])
		}
		if top := p["top5"].([]any); len(top) != 5 {
			t.Fatalf("top5 has %d entries", len(top))
		}
		if lat := p["latency_ms"].(float64); lat < 0 || lat > 5000 {
			t.Errorf("latency %v ms", lat)
		}
		last = p
	}
	t.Logf("5 predictions in %v; last: %v", time.Since(start).Round(time.Millisecond), last)
	if last["decoded"].(float64) < 5 {
		t.Errorf("decoded %v frames", last["decoded"])
	}
	mu.Lock()
	if len(hooked) != 1 || hooked[id] < 5 {
		t.Errorf("OnPrediction saw %v, want 5 or more predictions of session %s", hooked, id)
	}
	mu.Unlock()

	cancel()
	c.pc.Close()
	waitFor(t, 15*time.Second, "the session to end after the peer left", func() bool { return s.Sessions() == 0 })
	expectClose(t, ws, closeSessionEnded)
}

func TestRTPClock(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var c rtpClock
	ts0 := uint32(0xffff_0000) // wraps within the test
	c.observe(ts0, t0.Add(20*time.Millisecond))
	// A packet 1 s of RTP time later arriving 30 ms late: the estimate
	// keeps the first packet's (smaller) delay.
	c.observe(ts0+90000, t0.Add(1050*time.Millisecond))
	if got := c.capture(ts0 + 90000); !got.Equal(t0.Add(1020 * time.Millisecond)) {
		t.Errorf("capture = %v", got.Sub(t0))
	}
	// A faster packet moves the estimate back.
	c.observe(ts0+2*90000, t0.Add(2010*time.Millisecond))
	if got := c.capture(ts0 + 2*90000); !got.Equal(t0.Add(2010 * time.Millisecond)) {
		t.Errorf("capture after faster packet = %v", got.Sub(t0))
	}
	// An older timestamp (a reordered frame) maps before the newest.
	if got := c.capture(ts0 + 90000); !got.Equal(t0.Add(1010 * time.Millisecond)) {
		t.Errorf("older capture = %v", got.Sub(t0))
	}
}

func TestVP8Header(t *testing.T) {
	key := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 0xff}
	tests := []struct {
		name      string
		data      []byte
		key, ok   bool
		w, h      int
		wantSizes bool
	}{
		{"empty", nil, false, false, 0, 0, false},
		{"short", []byte{0x10, 0x02}, false, false, 0, 0, false},
		{"inter frame", []byte{0x11, 0x02, 0x00, 0x00}, false, true, 0, 0, false},
		{"key frame", key, true, true, 320, 240, true},
		{"key frame without start code", []byte{0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0xf0, 0x00}, true, false, 0, 0, false},
		{"truncated key frame", key[:7], true, false, 0, 0, false},
		{"zero size", []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0}, true, false, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, w, h, ok := vp8Header(tt.data)
			if key != tt.key || ok != tt.ok || (tt.wantSizes && (w != tt.w || h != tt.h)) {
				t.Errorf("got key=%v %d×%d ok=%v", key, w, h, ok)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{id, true}, {"", false}, {id[:31], false}, {id + "0", false},
		{"ABCDEF0123456789abcdef0123456789", false}, {"g0000000000000000000000000000000", false},
	} {
		if got := validID(tt.id); got != tt.want {
			t.Errorf("validID(%q) = %v", tt.id, got)
		}
	}
}

func TestDecoderRoundTrip(t *testing.T) {
	src := synthFrames(synth.ZoomingIn, 4, 320, 240)
	enc := encodeVP8(t, src)
	dec, err := newVP8Decoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for i, f := range enc {
		img, err := dec.Decode(f)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if img == nil || img.Rect != image.Rect(0, 0, 320, 240) {
			t.Fatalf("frame %d: %v", i, img)
		}
		// The decoded luma is close to the source's.
		want := toI420(src[i])
		var diff float64
		for k := range want.Y {
			d := float64(want.Y[k]) - float64(img.Y[k])
			diff += d * d
		}
		if rmse := diff / float64(len(want.Y)); rmse > 15*15 {
			t.Errorf("frame %d: luma mean squared error %.0f", i, rmse)
		}
	}
}

func TestDecoderGarbage(t *testing.T) {
	dec, err := newVP8Decoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for _, data := range [][]byte{
		nil, {0}, {0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00},
		make([]byte, 1000), make([]byte, maxVP8Frame+1),
	} {
		if img, err := dec.Decode(data); err == nil && img != nil {
			t.Errorf("decoded %d bytes of garbage into %v", len(data), img.Rect)
		}
	}
	// The decoder still works afterwards.
	enc := encodeVP8(t, synthFrames(synth.NoGesture, 1, 64, 48))
	if img, err := dec.Decode(enc[0]); err != nil || img == nil {
		t.Errorf("after garbage: %v %v", img, err)
	}
}

// fakeTrack replays RTP packets, then io.EOF.
type fakeTrack struct{ pkts []*rtp.Packet }

func (f *fakeTrack) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	if len(f.pkts) == 0 {
		return nil, nil, io.EOF
	}
	p := f.pkts[0]
	f.pkts = f.pkts[1:]
	return p, nil, nil
}

// packetize splits encoded frames into RTP packets, 1/15 s apart.
func packetize(frames [][]byte) []*rtp.Packet {
	p := rtp.NewPacketizer(1200, 96, 1234, &codecs.VP8Payloader{}, rtp.NewRandomSequencer(), vp8ClockRate)
	var out []*rtp.Packet
	for _, f := range frames {
		out = append(out, p.Packetize(f, vp8ClockRate/15)...)
	}
	return out
}

func TestVideoReceiverLossAndKeyframes(t *testing.T) {
	enc := encodeVP8(t, synthFrames(synth.SwipingUp, 30, 320, 240))
	pkts := packetize(enc)
	// Lose one packet of the sixth frame.
	var lossTS uint32
	for i, p := range pkts {
		if p.Timestamp == pkts[0].Timestamp+5*vp8ClockRate/15 {
			lossTS = p.Timestamp
			pkts = slices.Delete(pkts, i, i+1)
			break
		}
	}
	if lossTS == 0 {
		t.Fatal("no packet to lose")
	}
	src := newPushSource()
	var plis int
	clock := time.Unix(0, 0)
	v := &videoReceiver{
		track:     &fakeTrack{pkts: pkts},
		src:       src,
		keyframe:  func() error { plis++; return nil },
		maxPixels: DefaultMaxFramePixels,
		log:       testlog.New(t),
		stats:     &videoStats{},
		now:       func() time.Time { clock = clock.Add(time.Second); return clock },
	}
	if err := v.run(); err != nil {
		t.Fatal(err)
	}
	frames, lost := v.stats.frames.Load(), v.stats.lost.Load()
	t.Logf("decoded %d, lost %d, keyframe requests %d", frames, lost, plis)
	// Frames before the loss decode; after it, nothing decodes until a key
	// frame (none comes), and keyframes were asked for at the start and
	// after the loss.
	if frames < 4 || frames > 5 || lost < 20 {
		t.Errorf("decoded %d, lost %d", frames, lost)
	}
	if plis < 2 {
		t.Errorf("%d keyframe requests, want ≥ 2", plis)
	}
}

func TestVideoReceiverRefusesHugeFrames(t *testing.T) {
	enc := encodeVP8(t, synthFrames(synth.SwipingUp, 3, 320, 240))
	v := &videoReceiver{
		track:     &fakeTrack{pkts: packetize(append(append(enc[:1:1], enc[0]), enc[0], enc[0]))},
		src:       newPushSource(),
		keyframe:  func() error { return nil },
		maxPixels: 100 * 100,
		log:       testlog.New(t),
		stats:     &videoStats{},
		now:       time.Now,
	}
	if err := v.run(); !errors.Is(err, errFrameTooLarge) {
		t.Errorf("got %v, want errFrameTooLarge", err)
	}
}

func TestPushSourceNewestWins(t *testing.T) {
	s := newPushSource()
	ctx := context.Background()
	mk := func(v uint8) *image.YCbCr {
		img := image.NewYCbCr(image.Rect(0, 0, 4, 2), image.YCbCrSubsampleRatio420)
		for i := range img.Y {
			img.Y[i] = v
		}
		for i := range img.Cb {
			img.Cb[i], img.Cr[i] = 128, 128
		}
		return img
	}
	t0 := time.Unix(100, 0)
	s.Put(mk(10), t0, true)
	s.Put(mk(200), t0.Add(time.Second), false)
	f, err := s.Read(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Time.Equal(t0.Add(time.Second)) || !f.Reset || f.Image.Pix[0] < 190 {
		t.Errorf("got time %v reset %v pixel %d", f.Time, f.Reset, f.Image.Pix[0])
	}
	// Nothing new: Read waits, and honours the context.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.Read(cctx, f.Image); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read without a frame: %v", err)
	}
	// Close ends a waiting Read with io.EOF.
	done := make(chan error, 1)
	go func() {
		_, err := s.Read(ctx, f.Image)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	s.Close()
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Errorf("read after close: %v", err)
	}
	if !s.Live() {
		t.Error("not live")
	}
}

func TestNewServerOptions(t *testing.T) {
	m := testModel(t)
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"defaults", Options{Model: m}, true},
		{"no model", Options{}, false},
		{"stun", Options{Model: m, ICEServers: []ICEServer{{URLs: []string{"stun:stun.example.org:3478"}}}}, true},
		{"bad stun", Options{Model: m, ICEServers: []ICEServer{{URLs: []string{"http://x"}}}}, false},
		{"half port range", Options{Model: m, UDPPortMin: 5000}, false},
		{"reversed port range", Options{Model: m, UDPPortMin: 6000, UDPPortMax: 5000}, false},
		{"port range", Options{Model: m, UDPPortMin: 50000, UDPPortMax: 50100}, true},
		{"nat ip", Options{Model: m, NAT1To1IPs: []string{"203.0.113.7"}}, true},
		{"bad nat ip", Options{Model: m, NAT1To1IPs: []string{"example.org"}}, false},
		{"bad origin", Options{Model: m, AllowedOrigins: []string{"example.org"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewServer(tt.opts)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if s != nil {
				s.Close()
			}
		})
	}
}
