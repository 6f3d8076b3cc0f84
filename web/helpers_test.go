package web

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"go.uber.org/goleak"

	"github.com/livetsm/livetsm/internal/testlog"
	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream/synth"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testModel is a small random model with the synthetic gestures' labels:
// cheap enough to run beside anything.
func testModel(t *testing.T) *onlinetsm.Model {
	t.Helper()
	m, err := onlinetsm.NewRandom(0.35, synth.NumClasses, 1,
		onlinetsm.WithInputSize(64), onlinetsm.WithLabels(synth.Labels()), onlinetsm.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// newTestServer starts a Server on an httptest server; both close at the
// end of the test.
func newTestServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.Model == nil {
		opts.Model = testModel(t)
	}
	if opts.Log == nil {
		opts.Log = testlog.New(t)
	}
	opts.LoopbackCandidates = true
	opts.Interfaces = []string{"lo"}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return s, hs
}

// post sends body to path with the given headers and returns the status
// and decoded JSON error code.
func post(t *testing.T, url, ctype string, body []byte, hdr map[string]string) (int, apiError) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiError
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &e)
	return resp.StatusCode, e
}

// toI420 converts an RGBA frame to 4:2:0 YCbCr for the encoder.
func toI420(src *image.RGBA) *image.YCbCr {
	b := src.Bounds()
	dst := image.NewYCbCr(b, image.YCbCrSubsampleRatio420)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := src.RGBAAt(x, y)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			dst.Y[dst.YOffset(x, y)] = yy
			if x%2 == 0 && y%2 == 0 {
				dst.Cb[dst.COffset(x, y)] = cb
				dst.Cr[dst.COffset(x, y)] = cr
			}
		}
	}
	return dst
}

// encodeVP8 encodes frames with libvpx (the mediadevices encoder); the
// first is a key frame.
func encodeVP8(t *testing.T, frames []*image.RGBA) [][]byte {
	t.Helper()
	params, err := vpx.NewVP8Params()
	if err != nil {
		t.Fatal(err)
	}
	params.BitRate = 600_000
	params.KeyFrameInterval = 1000
	i := 0
	r := video.ReaderFunc(func() (image.Image, func(), error) {
		if i >= len(frames) {
			return nil, func() {}, io.EOF
		}
		f := toI420(frames[i])
		i++
		return f, func() {}, nil
	})
	b := frames[0].Bounds()
	enc, err := params.BuildVideoEncoder(r, prop.Media{Video: prop.Video{Width: b.Dx(), Height: b.Dy(), FrameRate: 15}})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out [][]byte
	for {
		data, release, err := enc.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), data...))
		release()
	}
}

// synthFrames renders n frames of a gesture clip.
func synthFrames(class, n, w, h int) []*image.RGBA {
	return synth.New(synth.Config{Width: w, Height: h, FPS: 15, Seed: 7}).Clip(class, n).Frames
}

// pionClient is a Go WebRTC peer standing in for the browser: it sends a
// VP8 track.
type pionClient struct {
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticSample
}

func newPionClient(t *testing.T) *pionClient {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(n string) bool { return n == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	return &pionClient{pc: pc, track: track}
}

// offer returns the client's offer with all candidates.
func (c *pionClient) offer(t *testing.T) string {
	t.Helper()
	o, err := c.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-done
	return c.pc.LocalDescription().SDP
}

// connect posts the offer to the server, applies the answer and returns
// the session id.
func (c *pionClient) connect(t *testing.T, base string, hdr map[string]string) string {
	t.Helper()
	body, _ := json.Marshal(sessionDescription{Type: "offer", SDP: c.offer(t)})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/offer", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans sessionDescription
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("offer: %s: %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		t.Fatal(err)
	}
	if ans.Type != "answer" || !validID(ans.Session) {
		t.Fatalf("answer: type %q session %q", ans.Type, ans.Session)
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
		t.Fatal(err)
	}
	return ans.Session
}

// send writes encoded frames at fps, looping, until ctx is done.
func (c *pionClient) send(ctx context.Context, frames [][]byte, fps float64) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / fps))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Loop over the delta frames after the first key frame: decodable,
		// since each builds on the previous picture.
		j := i
		if i >= len(frames) {
			j = 1 + (i-1)%(len(frames)-1)
		}
		c.track.WriteSample(media.Sample{Data: frames[j], Duration: time.Duration(float64(time.Second) / fps)})
	}
}

// dialWS opens the session's websocket.
func dialWS(t *testing.T, base, session string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/ws?session=" + session
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial(u, hdr)
}

// readMsg reads one JSON message within d.
func readMsg(t *testing.T, c *websocket.Conn, d time.Duration) (map[string]any, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	_, b, err := c.ReadMessage()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("server sent non-JSON %q", b)
	}
	return m, nil
}

// readType reads messages until one of type typ arrives.
func readType(t *testing.T, c *websocket.Conn, typ string, d time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		m, err := readMsg(t, c, time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %q: %v", typ, err)
		}
		if m["type"] == typ {
			return m
		}
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
