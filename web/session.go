package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/livetsm/livetsm/cache"
	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream"
)

// Errors of newSession.
var (
	errBusy   = errors.New("too many sessions")
	errClosed = errors.New("server closed")
)

// session is one browser tab: a peer connection receiving its camera, a
// pushSource fed by the decoded video, a stream.Run (runStream) over its
// own model Stream (and cache, held in the server's store) whose frames go
// through the server's Batcher, and at most one websocket receiving the
// predictions.
//
// A session ends — peer connection closed, goroutines gone — when the peer
// connection fails or closes, the video ends, the model fails, the page
// says stop, no websocket attaches within AttachTimeout of the offer, the
// websocket stays away for ReconnectGrace, or the server closes.
type session struct {
	id    string
	srv   *Server
	log   *slog.Logger
	pc    *webrtc.PeerConnection
	src   *pushSource
	model *onlinetsm.Stream      // from the server's store, under id
	lane  *onlinetsm.BatchClient // model's way into the Batcher
	ctx   context.Context
	stop  context.CancelFunc
	stats videoStats

	wg sync.WaitGroup // the session's goroutines

	mu       sync.Mutex
	closed   bool
	reason   string
	client   *wsClient
	timer    *time.Timer // attach or reconnect deadline
	gotTrack bool
	state    webrtc.PeerConnectionState
}

// newID returns a random session id: 32 hex digits.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// validID reports whether id has the form newID gives.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// newSession registers a session with a new peer connection, or fails when
// the server is full or closed.
func (s *Server) newSession() (*session, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	ice := make([]webrtc.ICEServer, 0, len(s.opts.ICEServers))
	for _, is := range s.opts.ICEServers {
		ice = append(ice, webrtc.ICEServer{URLs: is.URLs, Username: is.Username, Credential: is.Credential})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	st, err := s.store.Acquire(id)
	if errors.Is(err, cache.ErrFull) {
		s.metrics.refusals.Inc()
		s.log.Warn("new stream refused: the server is at its stream limit", "max", s.opts.MaxSessions)
		return nil, fmt.Errorf("%w: %w", errBusy, err)
	}
	if err != nil {
		return nil, fmt.Errorf("new stream: %w", err)
	}
	lane, err := s.batcher.NewClient(st)
	if err != nil {
		s.store.Remove(id)
		return nil, fmt.Errorf("new stream: %w", err)
	}
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{ICEServers: ice})
	if err != nil {
		lane.Close()
		s.store.Remove(id)
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ss := &session{
		id: id, srv: s, log: s.log.With("session", id[:8]), pc: pc, src: newPushSource(),
		model: st, lane: lane, ctx: ctx, stop: stop, state: webrtc.PeerConnectionStateNew,
	}
	s.sessions[id] = ss
	s.wg.Add(1)
	ss.timer = time.AfterFunc(s.opts.AttachTimeout, func() { ss.close("no websocket attached in time") })
	pc.OnTrack(ss.onTrack)
	pc.OnConnectionStateChange(ss.onState)
	ss.spawn(ss.runModel)
	ss.log.Info("session opened", "sessions", len(s.sessions))
	return ss, nil
}

// lookup returns the live session of that id, or nil.
func (s *Server) lookup(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// spawn runs f on a goroutine the session waits for, unless the session
// is already closing.
func (ss *session) spawn(f func()) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		f()
	}()
	return true
}

// codecError says that an offer's video comes in no codec the server
// decodes (VP8).
type codecError struct {
	offered []string // the video codecs offered, upper case
}

func (e *codecError) Error() string {
	what := "no video codec the server knows"
	if len(e.offered) > 0 {
		what = "video as " + strings.Join(e.offered, ", ") + " only"
	}
	return "the offer has " + what + "; livetsm decodes VP8 video only. " +
		"Safari and some mobile browsers offer H.264 only: open the page in a browser that sends VP8 (Chrome, Firefox, Edge)"
}

// notCodecs are rtpmap names that carry no video of their own.
var notCodecs = map[string]bool{"RTX": true, "RED": true, "ULPFEC": true, "FLEXFEC-03": true, "FLEXFEC": true}

// checkOffer reads an offer's SDP before a session is opened for it: it
// must parse, and one of its video sections must offer VP8 (a
// *codecError says which codecs it offers instead).
func checkOffer(offer string) error {
	parsed, err := (&webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}).Unmarshal()
	if err != nil {
		return fmt.Errorf("offer: malformed SDP: %w", err)
	}
	video := false
	var offered []string
	for _, md := range parsed.MediaDescriptions {
		if !strings.EqualFold(md.MediaName.Media, "video") || md.MediaName.Port.Value == 0 {
			continue
		}
		video = true
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			_, enc, _ := strings.Cut(a.Value, " ")
			name, _, _ := strings.Cut(strings.TrimSpace(enc), "/")
			name = strings.ToUpper(name)
			switch {
			case name == "VP8":
				return nil
			case name != "" && !notCodecs[name] && !slices.Contains(offered, name):
				offered = append(offered, name)
			}
		}
	}
	if !video {
		return errors.New("offer: no video the server can receive")
	}
	return &codecError{offered: offered}
}

// negotiate applies the browser's offer and returns the answer, with all
// ICE candidates gathered (no trickle). It fails with a *codecError when
// no video codec was agreed.
func (ss *session) negotiate(ctx context.Context, offer string) (string, error) {
	if err := ss.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	hasVideo, agreed := false, false
	for _, t := range ss.pc.GetTransceivers() {
		if t.Kind() != webrtc.RTPCodecTypeVideo {
			continue
		}
		hasVideo = true
		if r := t.Receiver(); r != nil && len(r.GetParameters().Codecs) > 0 {
			agreed = true
		}
	}
	if !hasVideo {
		return "", errors.New("offer: no video the server can receive")
	}
	if !agreed {
		return "", &codecError{}
	}
	answer, err := ss.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(ss.pc)
	if err := ss.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("answer: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("gathering ICE candidates: %w", ctx.Err())
	}
	ld := ss.pc.LocalDescription()
	if ld == nil {
		return "", errors.New("answer: no local description")
	}
	return ld.SDP, nil
}

// onTrack starts receiving the first video track; others are ignored.
func (ss *session) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	ss.mu.Lock()
	first := !ss.gotTrack && track.Kind() == webrtc.RTPCodecTypeVideo
	if first {
		ss.gotTrack = true
	}
	ss.mu.Unlock()
	if !first {
		ss.log.Warn("ignoring extra track", "kind", track.Kind().String(), "codec", track.Codec().MimeType)
		return
	}
	if !strings.EqualFold(track.Codec().MimeType, webrtc.MimeTypeVP8) {
		ss.fail("video", fmt.Sprintf("unsupported video codec %s (VP8 only)", track.Codec().MimeType))
		return
	}
	ss.log.Info("video track", "codec", track.Codec().MimeType, "ssrc", uint32(track.SSRC()))
	// Reading RTCP lets the interceptors (NACK, reports) see it.
	ss.spawn(func() {
		for {
			if _, _, err := recv.ReadRTCP(); err != nil {
				return
			}
		}
	})
	ss.spawn(func() {
		v := &videoReceiver{
			track: track,
			src:   ss.src,
			keyframe: func() error {
				return ss.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(track.SSRC())}})
			},
			maxPixels: ss.srv.opts.MaxFramePixels,
			log:       ss.log,
			stats:     &ss.stats,
			now:       time.Now,
		}
		err := v.run()
		switch {
		case ss.ctx.Err() != nil:
		case errors.Is(err, errFrameTooLarge):
			ss.fail("video", "the camera's frames are too large for this server: "+err.Error())
		case err != nil:
			ss.fail("video", "video failed: "+err.Error())
		default:
			ss.close("video ended")
		}
	})
}

// onState follows the peer connection.
func (ss *session) onState(st webrtc.PeerConnectionState) {
	ss.mu.Lock()
	ss.state = st
	ss.mu.Unlock()
	ss.log.Info("peer connection", "state", st.String())
	ss.post(stateMsg{Type: "state", State: st.String()})
	switch st {
	case webrtc.PeerConnectionStateFailed:
		ss.spawn(func() {
			ss.fail("peer", "the video connection failed (ICE/DTLS): check the network, firewall or --stun")
		})
	case webrtc.PeerConnectionStateClosed:
		ss.spawn(func() { ss.close("peer connection closed") })
	}
}

// runModel runs the model over the session's video until the session ends.
func (ss *session) runModel() {
	stats, err := ss.runStream(ss.ctx, func(p stream.Prediction) error {
		ss.post(predictionMsg{
			Type: "prediction", Prediction: p,
			Decoded: ss.stats.frames.Load(), Lost: ss.stats.lost.Load(),
		})
		return nil
	})
	ss.log.Info("model stream ended", "predictions", stats.Predictions, "dropped", stats.Dropped,
		"fps", fmt.Sprintf("%.1f", stats.FPS), "mean_latency_ms", fmt.Sprintf("%.1f", stats.MeanLatencyMS))
	if err != nil && ss.ctx.Err() == nil {
		ss.fail("model", "the model failed: "+err.Error())
	}
}

// post sends v to the attached websocket, if any, without blocking.
func (ss *session) post(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		ss.log.Error("encode message", "err", err)
		return
	}
	ss.mu.Lock()
	c := ss.client
	ss.mu.Unlock()
	if c != nil {
		c.post(b)
	}
}

// fail tells the page what went wrong and ends the session.
func (ss *session) fail(code, msg string) {
	ss.log.Warn("session failed", "code", code, "err", msg)
	ss.post(errorMsg{Type: "error", Code: code, Message: msg, Fatal: true})
	ss.close(msg)
}

// attach makes c the session's websocket, replacing any earlier one, and
// greets it. It returns false when the session has ended.
func (ss *session) attach(c *wsClient) bool {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return false
	}
	old := ss.client
	ss.client = c
	if ss.timer != nil {
		ss.timer.Stop()
		ss.timer = nil
	}
	state := ss.state
	ss.mu.Unlock()
	if old != nil {
		old.kick(closeReplaced, "replaced by a newer connection")
	}
	cfg := ss.srv.config()
	hello, _ := json.Marshal(helloMsg{
		Type: "hello", Session: ss.id, Model: cfg.Model, Labels: cfg.Labels, FPS: cfg.FPS, InputSize: cfg.InputSize,
	})
	c.post(hello)
	st, _ := json.Marshal(stateMsg{Type: "state", State: state.String()})
	c.post(st)
	return true
}

// detach forgets c if it is still the session's websocket and gives the
// page ReconnectGrace to come back.
func (ss *session) detach(c *wsClient) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.client != c || ss.closed {
		return
	}
	ss.client = nil
	ss.timer = time.AfterFunc(ss.srv.opts.ReconnectGrace, func() { ss.close("websocket did not come back") })
}

// close ends the session once: the peer connection, the model stream, the
// websocket; its goroutines are waited for on the server's behalf, and
// only then is its stream's slot in the store freed, so that no more than
// MaxSessions streams are ever alive.
func (ss *session) close(reason string) {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.closed = true
	ss.reason = reason
	c := ss.client
	ss.client = nil
	if ss.timer != nil {
		ss.timer.Stop()
	}
	ss.mu.Unlock()

	s := ss.srv
	s.mu.Lock()
	delete(s.sessions, ss.id)
	n := len(s.sessions)
	s.mu.Unlock()

	ss.stop()
	ss.src.Close()
	if err := ss.pc.Close(); err != nil {
		ss.log.Debug("close peer connection", "err", err)
	}
	if c != nil {
		c.kick(closeSessionEnded, reason)
	}
	ss.log.Info("session closed", "reason", reason, "sessions", n,
		"frames", ss.stats.frames.Load(), "lost", ss.stats.lost.Load(), "keyframe_requests", ss.stats.keyReqs.Load())
	go func() {
		ss.wg.Wait()
		ss.lane.Close()
		s.store.Remove(ss.id)
		s.wg.Done()
	}()
}
