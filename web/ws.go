package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/livetsm/livetsm/stream"
)

// The websocket protocol: JSON text messages, one object each, with a
// "type".
//
// Server to page:
//
//	{"type":"hello","session":ID,"model":NAME,"labels":[…],"fps":15,"input_size":224}
//	{"type":"state","state":"connecting"|"connected"|"disconnected"|"failed"|"closed"|"new"}
//	{"type":"prediction", …stream.Prediction's fields…, "decoded":N, "lost":N}
//	{"type":"error","code":CODE,"message":TEXT,"fatal":BOOL}
//	{"type":"pong"}
//
// Page to server:
//
//	{"type":"ping"}   answered by a pong
//	{"type":"stop"}   ends the session
//
// Error codes: "model" (the model failed), "video" (the video could not be
// decoded), "peer" (the peer connection failed), "bad_message" (the page
// sent something malformed), "unknown_type". A fatal error is followed by
// the websocket closing with code 4001 and the session ending; a websocket
// replaced by a newer one for the same session closes with 4000.

// Websocket close codes of the protocol.
const (
	closeReplaced     = 4000
	closeSessionEnded = 4001
)

// writeWait bounds writing one websocket message or control frame.
const writeWait = 5 * time.Second

// wsTiming holds a websocket's read deadlines, its own once upgraded (the
// request's body deadline no longer applies).
type wsTiming struct {
	// pongWait is the longest the page may stay silent — no message, no
	// pong to the pings sent every pingPeriod — before the connection is
	// dropped.
	pongWait, pingPeriod time.Duration
	// messageWait is the longest a message may take to arrive once its
	// first frame has (a page trickling a message is cut off).
	messageWait time.Duration
}

// defaultWSTiming is every server's wsTiming; tests shorten it.
var defaultWSTiming = wsTiming{pongWait: 45 * time.Second, pingPeriod: 20 * time.Second, messageWait: 10 * time.Second}

// helloMsg greets a websocket.
type helloMsg struct {
	Type      string   `json:"type"`
	Session   string   `json:"session"`
	Model     string   `json:"model"`
	Labels    []string `json:"labels"`
	FPS       float64  `json:"fps"`
	InputSize int      `json:"input_size"`
}

// stateMsg reports the peer connection's state.
type stateMsg struct {
	Type  string `json:"type"`
	State string `json:"state"`
}

// predictionMsg carries one prediction and the video counters.
type predictionMsg struct {
	Type string `json:"type"`
	stream.Prediction
	// Decoded counts frames decoded; Lost counts frames lost in transit or
	// undecodable (on top of Prediction.Dropped, frames the model skipped
	// because it was behind).
	Decoded int64 `json:"decoded"`
	Lost    int64 `json:"lost"`
}

// errorMsg reports a problem in words.
type errorMsg struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Fatal   bool   `json:"fatal,omitempty"`
}

// clientMsg is what the page may send.
type clientMsg struct {
	Type string `json:"type"`
}

// sessionDescription is the JSON body of POST /api/offer and of its answer.
type sessionDescription struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
	// Session is the id of the new session, in answers: the page opens
	// /api/ws?session=ID.
	Session string `json:"session,omitempty"`
}

// handleOffer answers a browser's SDP offer and opens a session.
func (s *Server) handleOffer(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "bad_content_type", "the offer must be application/json")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxOfferBytes)
	dec := json.NewDecoder(r.Body)
	var offer sessionDescription
	err := dec.Decode(&offer)
	if err == nil {
		if err2 := dec.Decode(&struct{}{}); err2 != io.EOF {
			err = errors.New("data after the JSON object")
			if errors.Is(err2, os.ErrDeadlineExceeded) {
				err = err2
			}
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the offer exceeds 64 KiB")
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.log.Info("offer body too slow; connection closed", "timeout", s.opts.BodyTimeout, "remote", r.RemoteAddr)
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestTimeout, "timeout", fmt.Sprintf("the offer did not arrive within %v", s.opts.BodyTimeout))
		default:
			writeError(w, http.StatusBadRequest, "bad_json", "malformed offer: "+err.Error())
		}
		return
	}
	// The body is in: no read deadline while the answer is prepared (an
	// expired one would cancel the request's context).
	if err := http.NewResponseController(w).SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.Debug("clear read deadline", "err", err)
	}
	if s.offerRead != nil {
		s.offerRead()
	}
	switch {
	case offer.Type != "offer":
		writeError(w, http.StatusBadRequest, "bad_offer", `the description's type must be "offer"`)
		return
	case offer.SDP == "":
		writeError(w, http.StatusBadRequest, "bad_offer", "the offer has no SDP")
		return
	}
	// Refuse an offer the server cannot receive before it holds a slot.
	if err := checkOffer(offer.SDP); err != nil {
		s.refuseOffer(w, err)
		return
	}
	ss, err := s.newSession()
	switch {
	case errors.Is(err, errBusy):
		writeError(w, http.StatusServiceUnavailable, "busy", fmt.Sprintf(
			"the server is at its stream limit (%d streams); close another tab or try again later", s.opts.MaxSessions))
		return
	case errors.Is(err, errClosed):
		writeError(w, http.StatusServiceUnavailable, "closed", "the server is shutting down")
		return
	case err != nil:
		s.log.Error("new session", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not open a session")
		return
	}
	answer, err := ss.negotiate(r.Context(), offer.SDP)
	if err != nil {
		ss.close("negotiation failed")
		s.refuseOffer(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionDescription{Type: "answer", SDP: answer, Session: ss.id})
}

// refuseOffer answers an offer the server cannot take: 422 for a codec it
// cannot decode (the message names what was offered), 400 for anything else.
func (s *Server) refuseOffer(w http.ResponseWriter, err error) {
	s.log.Info("offer refused", "err", err)
	var ce *codecError
	if errors.As(err, &ce) {
		writeError(w, http.StatusUnprocessableEntity, "unsupported_codec", err.Error())
		return
	}
	writeError(w, http.StatusBadRequest, "bad_offer", err.Error())
}

// handleWS attaches a websocket to a session.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("session")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "bad_session", "missing or malformed session id")
		return
	}
	ss := s.lookup(id)
	if ss == nil {
		writeError(w, http.StatusNotFound, "no_session", "no such session (it ended); start again")
		return
	}
	up := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  4096,
		// guard has checked the origin already.
		CheckOrigin: s.originOK,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			writeError(w, status, "bad_websocket", reason.Error())
		},
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	conn.SetReadLimit(MaxMessageBytes)
	c := newClient(conn, s.ws)
	go c.writeLoop()
	if !ss.attach(c) {
		c.kick(closeSessionEnded, "session ended")
		<-c.writerDone
		return
	}
	c.readLoop(ss)
	ss.detach(c)
	c.kick(websocket.CloseNormalClosure, "")
	<-c.writerDone
}

// wsClient is one websocket connection. Only its writeLoop writes to conn.
type wsClient struct {
	conn       *websocket.Conn
	timing     wsTiming
	send       chan []byte
	done       chan struct{} // closed by kick
	writerDone chan struct{}
	once       sync.Once

	mu          sync.Mutex
	closeCode   int
	closeReason string
}

func newClient(conn *websocket.Conn, timing wsTiming) *wsClient {
	return &wsClient{conn: conn, timing: timing, send: make(chan []byte, 64), done: make(chan struct{}), writerDone: make(chan struct{})}
}

// post queues a message, dropping it if the page is not keeping up.
func (c *wsClient) post(b []byte) {
	select {
	case <-c.done:
	case c.send <- b:
	default:
	}
}

// kick ends the connection with a close frame after the queued messages.
func (c *wsClient) kick(code int, reason string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.closeCode, c.closeReason = code, reason
		c.mu.Unlock()
		close(c.done)
	})
}

// writeLoop writes queued messages and pings until kicked, then flushes
// the queue, sends a close frame and closes the connection.
func (c *wsClient) writeLoop() {
	defer close(c.writerDone)
	defer c.conn.Close()
	ping := time.NewTicker(c.timing.pingPeriod)
	defer ping.Stop()
	write := func(b []byte) error {
		c.conn.SetWriteDeadline(time.Now().Add(writeWait))
		return c.conn.WriteMessage(websocket.TextMessage, b)
	}
	for {
		select {
		case b := <-c.send:
			if err := write(b); err != nil {
				c.kick(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.kick(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.done:
		drain:
			for {
				select {
				case b := <-c.send:
					if write(b) != nil {
						return
					}
				default:
					break drain
				}
			}
			c.mu.Lock()
			code, reason := c.closeCode, c.closeReason
			c.mu.Unlock()
			if code != websocket.CloseAbnormalClosure {
				if len(reason) > 120 {
					reason = reason[:120]
				}
				c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(writeWait))
			}
			return
		}
	}
}

// readLoop reads the page's messages until the connection ends or breaks
// the protocol. Its deadlines: a message or a pong within pongWait of the
// last one, and each message whole within messageWait of its first frame
// (pongs do not extend that).
func (c *wsClient) readLoop(ss *session) {
	inMessage := false // the pong handler runs on this goroutine, inside reads
	c.conn.SetReadDeadline(time.Now().Add(c.timing.pongWait))
	c.conn.SetPongHandler(func(string) error {
		if !inMessage {
			c.conn.SetReadDeadline(time.Now().Add(c.timing.pongWait))
		}
		return nil
	})
	reply := func(v any) {
		b, _ := json.Marshal(v)
		c.post(b)
	}
	for {
		mt, r, err := c.conn.NextReader()
		var data []byte
		if err == nil {
			inMessage = true
			c.conn.SetReadDeadline(time.Now().Add(c.timing.messageWait))
			data, err = io.ReadAll(r)
			inMessage = false
		}
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.kick(websocket.CloseMessageTooBig, "message too large")
			}
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(c.timing.pongWait))
		if mt != websocket.TextMessage {
			reply(errorMsg{Type: "error", Code: "bad_message", Message: "only JSON text messages are accepted", Fatal: true})
			c.kick(websocket.CloseUnsupportedData, "text messages only")
			return
		}
		var m clientMsg
		if err := json.Unmarshal(data, &m); err != nil {
			reply(errorMsg{Type: "error", Code: "bad_message", Message: "malformed JSON: " + err.Error(), Fatal: true})
			c.kick(websocket.CloseInvalidFramePayloadData, "malformed JSON")
			return
		}
		switch m.Type {
		case "ping":
			reply(map[string]string{"type": "pong"})
		case "stop":
			ss.close("stopped by the page")
			return
		default:
			reply(errorMsg{Type: "error", Code: "unknown_type", Message: "unknown message type " + quoteShort(m.Type)})
		}
	}
}

// quoteShort quotes s, cut to 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	b, _ := json.Marshal(s)
	return string(b)
}
