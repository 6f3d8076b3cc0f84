package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/livetsm/livetsm/cache"
	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream"
)

//go:embed static
var static embed.FS

// Defaults of Options.
const (
	// DefaultMaxSessions bounds concurrent peer connections (browser tabs).
	DefaultMaxSessions = 4
	// DefaultMaxFramePixels bounds the decoded frame size (1920×1088).
	DefaultMaxFramePixels = 1920 * 1088
	// DefaultAttachTimeout is how long a new session waits for its
	// websocket.
	DefaultAttachTimeout = 30 * time.Second
	// DefaultReconnectGrace is how long a session outlives its websocket,
	// waiting for the page to reconnect.
	DefaultReconnectGrace = 15 * time.Second
	// MaxOfferBytes bounds the body of POST /api/offer.
	MaxOfferBytes = 64 << 10
	// MaxMessageBytes bounds a websocket message from the page.
	MaxMessageBytes = 4 << 10
	// DefaultStreamIdleTTL is how long a stream released by its session
	// stays in the store before it is evicted.
	DefaultStreamIdleTTL = 2 * time.Minute
	// DefaultBodyTimeout bounds how long a client may take to send a
	// request's body (an offer is at most MaxOfferBytes).
	DefaultBodyTimeout = 10 * time.Second
	// responseTimeout bounds writing a response; it covers an offer's
	// ICE gathering (10 s at most).
	responseTimeout = 30 * time.Second
)

// ICEServer is a STUN or TURN server for ICE, given to both the server's
// peer connections and the page's.
type ICEServer struct {
	// URLs are stun:, turn: or turns: URLs.
	URLs []string `json:"urls"`
	// Username and Credential authenticate with a TURN server.
	Username   string `json:"username,omitempty"`
	Credential string `json:"credential,omitempty"`
}

// Options configure a Server. Model is required; the zero value of every
// other field is a safe default.
type Options struct {
	// Model recognises the video; every session runs its own Stream of it.
	Model *onlinetsm.Model
	// ModelName names the model on the page.
	ModelName string
	// Stream configures pacing and smoothing as for stream.Run (its Log is
	// replaced by a per-session logger, its Stepper by the session's way
	// into the server's Batcher).
	Stream stream.Options
	// Token, when set, must accompany every request but GET /healthz —
	// the page, its assets, the API, the websocket, /metrics (query
	// parameter "token" or "Authorization: Bearer TOKEN"); the page passes
	// it on to its assets and API calls.
	Token string
	// AllowedOrigins lists extra origins (scheme://host:port) allowed to
	// call the API from a browser; the server's own origin always is.
	AllowedOrigins []string
	// ICEServers are STUN/TURN servers; none by default (host candidates
	// only, enough on one network).
	ICEServers []ICEServer
	// NAT1To1IPs are public addresses to advertise as host candidates, for
	// a server behind 1:1 NAT (a cloud VM, a container).
	NAT1To1IPs []string
	// UDPPortMin and UDPPortMax restrict the UDP ports ICE listens on, for
	// firewalls; 0 means any.
	UDPPortMin, UDPPortMax uint16
	// Interfaces restricts ICE to the named network interfaces; nil means
	// all. LoopbackCandidates also offers loopback addresses (tests).
	Interfaces         []string
	LoopbackCandidates bool
	// MaxSessions bounds concurrent sessions, and so model streams (default
	// DefaultMaxSessions): a new one beyond it is refused with a clear
	// message, sessions already open are unaffected.
	MaxSessions int
	// MaxBatch bounds the streams whose frames go through the model
	// together (default onlinetsm.DefaultMaxBatch; 1 turns batching off).
	MaxBatch int
	// BatchWait bounds how long a frame waits for other streams' frames
	// to fill its batch (default onlinetsm.DefaultMaxWait; negative: no
	// waiting). A batch runs at once when every stream has a frame in it.
	BatchWait time.Duration
	// StreamIdleTTL is how long an unused stream stays in the store
	// (default DefaultStreamIdleTTL).
	StreamIdleTTL time.Duration
	// MaxFramePixels bounds the decoded frame size (default
	// DefaultMaxFramePixels).
	MaxFramePixels int
	// AttachTimeout and ReconnectGrace bound how long a session lives
	// without a websocket (defaults DefaultAttachTimeout,
	// DefaultReconnectGrace).
	AttachTimeout, ReconnectGrace time.Duration
	// BodyTimeout bounds how long a request's body may take to arrive
	// (default DefaultBodyTimeout): a client that sends it slower is cut
	// off. The websocket, once upgraded, has its own deadlines.
	BodyTimeout time.Duration
	// OnPrediction, when set, is called with every prediction of every
	// session and the session's id (livetsm serve --publish puts them on
	// the bus). It runs on the session's model goroutine and must not
	// block.
	OnPrediction func(session string, p stream.Prediction)
	// Log receives the server's log records; nil discards them.
	Log *slog.Logger
}

// Server serves the page, the signalling API, the websocket, /metrics and
// /healthz, and owns the sessions: one per peer connection (browser tab),
// each with its own model Stream and cache, held in a cache.Store keyed by
// session id. The streams' frames go through the model in batches (one
// onlinetsm.Batcher per server). Create it with NewServer, mount Handler,
// and Close it when done.
type Server struct {
	opts    Options
	log     *slog.Logger
	api     *webrtc.API
	mux     *http.ServeMux
	handler http.Handler // mux behind the token and the deadlines
	ws      wsTiming
	store   *cache.Store[*onlinetsm.Stream]
	batcher *onlinetsm.Batcher
	metrics *metrics
	evict   context.CancelFunc
	evicted chan struct{}
	// offerRead, when set (tests), runs once an offer's body is read.
	offerRead func()

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
	wg       sync.WaitGroup // one per live session
}

// NewServer checks opts and prepares the WebRTC stack: a MediaEngine with
// VP8 only and pion's default interceptors (NACK, RTCP reports, TWCC).
func NewServer(opts Options) (*Server, error) {
	if opts.Model == nil {
		return nil, errors.New("web: no model")
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.MaxFramePixels <= 0 {
		opts.MaxFramePixels = DefaultMaxFramePixels
	}
	if opts.AttachTimeout <= 0 {
		opts.AttachTimeout = DefaultAttachTimeout
	}
	if opts.ReconnectGrace <= 0 {
		opts.ReconnectGrace = DefaultReconnectGrace
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	if opts.ModelName == "" {
		opts.ModelName = "model"
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = onlinetsm.DefaultMaxBatch
	}
	if opts.MaxBatch > onlinetsm.MaxBatchSize {
		return nil, fmt.Errorf("web: max batch %d exceeds %d", opts.MaxBatch, onlinetsm.MaxBatchSize)
	}
	if opts.BatchWait == 0 {
		opts.BatchWait = onlinetsm.DefaultMaxWait
	}
	if opts.BatchWait > time.Second {
		return nil, fmt.Errorf("web: batch wait %v exceeds 1s", opts.BatchWait)
	}
	if opts.StreamIdleTTL <= 0 {
		opts.StreamIdleTTL = DefaultStreamIdleTTL
	}
	if (opts.UDPPortMin == 0) != (opts.UDPPortMax == 0) || opts.UDPPortMin > opts.UDPPortMax {
		return nil, fmt.Errorf("web: bad UDP port range %d-%d", opts.UDPPortMin, opts.UDPPortMax)
	}
	for _, s := range opts.ICEServers {
		for _, u := range s.URLs {
			if _, err := stun.ParseURI(u); err != nil {
				return nil, fmt.Errorf("web: ICE server %q: %w", u, err)
			}
		}
	}
	for _, o := range opts.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("web: allowed origin %q is not scheme://host[:port]", o)
		}
	}
	api, err := newAPI(opts)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Log, api: api, ws: defaultWSTiming, sessions: map[string]*session{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	model := opts.Model
	s.store = cache.NewStore(cache.StoreConfig{MaxStreams: opts.MaxSessions, IdleTTL: opts.StreamIdleTTL},
		func(string) (*onlinetsm.Stream, error) { return model.NewStream(), nil },
		nil,
		func(st *onlinetsm.Stream) int { return st.Bytes() })
	s.metrics = newMetrics(opts.MaxBatch, s.store.Len, func() int { return opts.MaxSessions }, s.store.Bytes)
	s.batcher = onlinetsm.NewBatcher(model, onlinetsm.BatcherOptions{
		MaxBatch: opts.MaxBatch, MaxWait: opts.BatchWait, OnBatch: s.metrics.onBatch,
	})
	ctx, cancel := context.WithCancel(context.Background())
	s.evict, s.evicted = cancel, make(chan struct{})
	go func() {
		defer close(s.evicted)
		s.store.Run(ctx, max(opts.StreamIdleTTL/4, time.Second), func(ids []string) {
			s.log.Info("evicted idle streams", "count", len(ids))
		})
	}()
	s.routes()
	return s, nil
}

// newAPI builds the pion API: VP8 only, default interceptors, ICE settings.
func newAPI(opts Options) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "transport-cc"},
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: vp8ClockRate, RTCPFeedback: fb},
		PayloadType:        96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("web: register VP8: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("web: interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if opts.LoopbackCandidates {
		se.SetIncludeLoopbackCandidate(true)
	}
	if len(opts.Interfaces) > 0 {
		allowed := map[string]bool{}
		for _, n := range opts.Interfaces {
			allowed[n] = true
		}
		se.SetInterfaceFilter(func(name string) bool { return allowed[name] })
	}
	if opts.UDPPortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(opts.UDPPortMin, opts.UDPPortMax); err != nil {
			return nil, fmt.Errorf("web: UDP ports: %w", err)
		}
	}
	if len(opts.NAT1To1IPs) > 0 {
		for _, ip := range opts.NAT1To1IPs {
			if net.ParseIP(ip) == nil {
				return nil, fmt.Errorf("web: NAT 1:1 address %q is not an IP address", ip)
			}
		}
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        opts.NAT1To1IPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
		}); err != nil {
			return nil, fmt.Errorf("web: NAT 1:1 addresses: %w", err)
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// Handler returns the HTTP handler: the page at /, its assets under
// /static/, the API under /api/, /metrics and /healthz. Every request but
// GET /healthz needs the token when one is set, and each request's body
// must arrive within Options.BodyTimeout.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	assets := http.FileServerFS(sub)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", noCache(assets)))
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
	s.mux.HandleFunc("GET /api/config", s.guard(s.handleConfig))
	s.mux.HandleFunc("POST /api/offer", s.guard(s.handleOffer))
	s.mux.HandleFunc("GET /api/ws", s.guard(s.handleWS))
	s.mux.Handle("GET /metrics", s.guard(s.metrics.handler().ServeHTTP))
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	for path, method := range map[string]string{"/api/config": "GET", "/api/offer": "POST", "/api/ws": "GET"} {
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "bad_method", "use "+method)
		})
	}
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	s.handler = s.requireToken(s.deadlines(s.mux))
}

// deadlines gives each request a deadline for its body (BodyTimeout) and
// its response (responseTimeout), through http.ResponseController rather
// than the http.Server's ReadTimeout, which would also cut a websocket:
// the websocket upgrade clears both, and the websocket keeps deadlines of
// its own (wsTiming). A handler that goes on after reading the body
// clears the read deadline (see handleOffer).
func (s *Server) deadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
		if err := rc.SetReadDeadline(now.Add(s.opts.BodyTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			s.log.Debug("set read deadline", "err", err)
		}
		if err := rc.SetWriteDeadline(now.Add(s.opts.BodyTimeout + responseTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			s.log.Debug("set write deadline", "err", err)
		}
		next.ServeHTTP(w, r)
	})
}

// noCache keeps browsers from holding on to an old page after an upgrade.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// securityHeaders are sent with the page and API responses.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// handleIndex serves the page; with a token, the page's asset URLs carry
// it, as the assets need it too.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		http.Error(w, "page missing", http.StatusInternalServerError)
		return
	}
	if s.opts.Token != "" {
		q := html.EscapeString("?" + url.Values{"token": {s.opts.Token}}.Encode())
		for _, asset := range []string{"static/style.css", "static/app.js"} {
			page = []byte(strings.ReplaceAll(string(page), `"`+asset+`"`, `"`+asset+q+`"`))
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; media-src 'self' blob: mediastream:")
	w.Write(page)
}

// apiError is the body of every API error response.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: msg, Code: code})
}

// configResponse is the body of GET /api/config.
type configResponse struct {
	Model      string      `json:"model"`
	Labels     []string    `json:"labels"`
	InputSize  int         `json:"input_size"`
	FPS        float64     `json:"fps"`
	ICEServers []ICEServer `json:"ice_servers"`
}

func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.config())
}

func (s *Server) config() configResponse {
	fps := s.opts.Stream.FPS
	if fps <= 0 {
		fps = stream.ModelFPS(s.opts.Model)
	}
	ice := s.opts.ICEServers
	if ice == nil {
		ice = []ICEServer{}
	}
	return configResponse{
		Model: s.opts.ModelName, Labels: s.opts.Model.Labels(), InputSize: s.opts.Model.InputSize(),
		FPS: fps, ICEServers: ice,
	}
}

// Sessions returns the number of live sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close ends every session (peer connection, model stream, websocket) and
// waits for their goroutines; later offers are refused.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.close("server shutting down")
	}
	s.wg.Wait()
	s.evict()
	<-s.evicted
	s.batcher.Close()
	s.store.Close()
	return nil
}
