package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// audioOnlySDP is a well-formed offer with no video.
const audioOnlySDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"

// videoOfferSDP is a well-formed offer of one sendonly video section with
// the given rtpmap lines (payload types 102 and up).
func videoOfferSDP(codecs ...string) string {
	var pts, maps []string
	for i, c := range codecs {
		pt := fmt.Sprint(102 + i)
		pts = append(pts, pt)
		maps = append(maps, "a=rtpmap:"+pt+" "+c+"\r\n")
		if strings.HasPrefix(c, "H264/") {
			maps = append(maps, "a=fmtp:"+pt+" level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n")
		}
	}
	return "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF " + strings.Join(pts, " ") + "\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n" +
		"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
		"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
		"a=setup:actpass\r\na=rtcp-mux\r\n" + strings.Join(maps, "")
}

// h264OnlySDP is what a browser that sends H.264 only offers (Safari and
// some mobile browsers prefer it): H.264 and its retransmissions.
var h264OnlySDP = videoOfferSDP("H264/90000", "rtx/90000")

func offerBody(typ, sdp string) []byte {
	b, _ := json.Marshal(map[string]string{"type": typ, "sdp": sdp})
	return b
}

func TestOfferRejectsBadInput(t *testing.T) {
	s, hs := newTestServer(t, Options{})
	url := hs.URL + "/api/offer"
	big := offerBody("offer", "v=0\r\n"+strings.Repeat("a=x\r\n", MaxOfferBytes/5))
	tests := []struct {
		name   string
		ctype  string
		body   []byte
		hdr    map[string]string
		status int
		code   string
	}{
		{"no content type", "", offerBody("offer", "v=0"), nil, http.StatusUnsupportedMediaType, "bad_content_type"},
		{"wrong content type", "text/plain", offerBody("offer", "v=0"), nil, http.StatusUnsupportedMediaType, "bad_content_type"},
		{"form", "application/x-www-form-urlencoded", []byte("type=offer"), nil, http.StatusUnsupportedMediaType, "bad_content_type"},
		{"malformed JSON", "application/json", []byte(`{"type":"offer","sdp":`), nil, http.StatusBadRequest, "bad_json"},
		{"not an object", "application/json", []byte(`[1,2,3]`), nil, http.StatusBadRequest, "bad_json"},
		{"wrong field types", "application/json", []byte(`{"type":1,"sdp":true}`), nil, http.StatusBadRequest, "bad_json"},
		{"trailing data", "application/json", append(offerBody("offer", "v=0"), []byte(`{}`)...), nil, http.StatusBadRequest, "bad_json"},
		{"empty body", "application/json", nil, nil, http.StatusBadRequest, "bad_json"},
		{"oversized body", "application/json", big, nil, http.StatusRequestEntityTooLarge, "too_large"},
		{"an answer", "application/json; charset=utf-8", offerBody("answer", "v=0"), nil, http.StatusBadRequest, "bad_offer"},
		{"no sdp", "application/json", offerBody("offer", ""), nil, http.StatusBadRequest, "bad_offer"},
		{"garbage sdp", "application/json", offerBody("offer", "hello, server"), nil, http.StatusBadRequest, "bad_offer"},
		{"binary sdp", "application/json", offerBody("offer", "\x00\x01\x02\xff"), nil, http.StatusBadRequest, "bad_offer"},
		{"truncated sdp", "application/json", offerBody("offer", "v=0\r\no=- 1 2 IN IP4"), nil, http.StatusBadRequest, "bad_offer"},
		{"no video", "application/json", offerBody("offer", audioOnlySDP), nil, http.StatusBadRequest, "bad_offer"},
		{"H.264 only", "application/json", offerBody("offer", h264OnlySDP), nil, http.StatusUnprocessableEntity, "unsupported_codec"},
		{"VP9 only", "application/json", offerBody("offer", videoOfferSDP("VP9/90000")), nil, http.StatusUnprocessableEntity, "unsupported_codec"},
		{"foreign origin", "application/json", offerBody("offer", "v=0"), map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden, "bad_origin"},
		{"null origin", "application/json", offerBody("offer", "v=0"), map[string]string{"Origin": "null"}, http.StatusForbidden, "bad_origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, e := post(t, url, tt.ctype, tt.body, tt.hdr)
			if status != tt.status || e.Code != tt.code {
				t.Errorf("got %d %q (%s), want %d %q", status, e.Code, e.Error, tt.status, tt.code)
			}
		})
	}
	if n := s.Sessions(); n != 0 {
		t.Errorf("%d sessions left after refused offers", n)
	}
	// The page's own origin passes the origin check (and fails on the SDP).
	status, e := post(t, url, "application/json", offerBody("offer", "bad"), map[string]string{"Origin": hs.URL})
	if status != http.StatusBadRequest || e.Code != "bad_offer" {
		t.Errorf("same origin: got %d %q", status, e.Code)
	}
	// GET is not allowed.
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/offer: %s", resp.Status)
	}
}

// TestH264OnlyOffer checks that an offer whose only video codec is H.264
// gets a 422 naming the codecs, and holds no session or stream slot: a
// VP8 client gets the one slot right after.
func TestH264OnlyOffer(t *testing.T) {
	s, hs := newTestServer(t, Options{MaxSessions: 1})
	status, e := post(t, hs.URL+"/api/offer", "application/json", offerBody("offer", h264OnlySDP), nil)
	if status != http.StatusUnprocessableEntity || e.Code != "unsupported_codec" {
		t.Errorf("H.264-only offer: %d %q (%s), want 422 unsupported_codec", status, e.Code, e.Error)
	}
	for _, want := range []string{"H264 only", "VP8", "Safari"} {
		if !strings.Contains(e.Error, want) {
			t.Errorf("error %q does not say %q", e.Error, want)
		}
	}
	if strings.Contains(e.Error, "RTX") {
		t.Errorf("error %q names retransmission as a codec", e.Error)
	}
	if n, m := s.Sessions(), s.store.Len(); n != 0 || m != 0 {
		t.Errorf("%d sessions, %d streams held after the refusal", n, m)
	}
	if got := metricValue(t, s, "livetsm_stream_refusals_total"); got != 0 {
		t.Errorf("counted as %v stream-limit refusals", got)
	}
	newPionClient(t).connect(t, hs.URL, nil)
}

func TestCheckOffer(t *testing.T) {
	tests := []struct {
		name    string
		sdp     string
		codec   bool   // a *codecError
		want    string // in the error; "" for none
		offered []string
	}{
		{"VP8", videoOfferSDP("VP8/90000", "rtx/90000"), false, "", nil},
		{"vp8 lower case", videoOfferSDP("vp8/90000"), false, "", nil},
		{"H.264 then VP8", videoOfferSDP("H264/90000", "VP8/90000"), false, "", nil},
		{"H.264 only", h264OnlySDP, true, "H264 only", []string{"H264"}},
		{"H.264 twice and AV1", videoOfferSDP("H264/90000", "rtx/90000", "H264/90000", "AV1/90000", "red/90000", "ulpfec/90000"), true, "H264, AV1 only", []string{"H264", "AV1"}},
		{"no rtpmap", strings.ReplaceAll(h264OnlySDP, "a=rtpmap:", "a=x-rtpmap:"), true, "no video codec", nil},
		{"video rejected", strings.Replace(videoOfferSDP("VP8/90000"), "m=video 9", "m=video 0", 1), false, "no video", nil},
		{"audio only", audioOnlySDP, false, "no video", nil},
		{"garbage", "hello, server", false, "malformed SDP", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkOffer(tt.sdp)
			var ce *codecError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want == "":
				return
			case err == nil:
				t.Fatalf("no error, want one saying %q", tt.want)
			case errors.As(err, &ce) != tt.codec:
				t.Errorf("error %v: codec error %v, want %v", err, !tt.codec, tt.codec)
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if ce != nil && !slices.Equal(ce.offered, tt.offered) {
				t.Errorf("offered %v, want %v", ce.offered, tt.offered)
			}
		})
	}
}

// TestNegotiateNoCodec checks negotiate's own check, behind checkOffer:
// an offer with video but no agreed codec fails with a codec error.
func TestNegotiateNoCodec(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	ss, err := s.newSession()
	if err != nil {
		t.Fatal(err)
	}
	defer ss.close("test")
	_, err = ss.negotiate(context.Background(), h264OnlySDP)
	var ce *codecError
	if !errors.As(err, &ce) {
		t.Errorf("negotiate: %v, want a codec error", err)
	}
}

func TestToken(t *testing.T) {
	const token = "s3cret-token"
	_, hs := newTestServer(t, Options{Token: token})
	tests := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
	}{
		{"page without token", "/", nil, http.StatusUnauthorized},
		{"page with wrong token", "/?token=nope", nil, http.StatusUnauthorized},
		{"page with token", "/?token=" + token, nil, http.StatusOK},
		{"assets without token", "/static/app.js", nil, http.StatusUnauthorized},
		{"assets with token", "/static/app.js?token=" + token, nil, http.StatusOK},
		{"config without token", "/api/config", nil, http.StatusUnauthorized},
		{"config with empty token", "/api/config?token=", nil, http.StatusUnauthorized},
		{"config with token prefix", "/api/config?token=s3cret", nil, http.StatusUnauthorized},
		{"config with token", "/api/config?token=" + token, nil, http.StatusOK},
		{"config with bearer", "/api/config", map[string]string{"Authorization": "Bearer " + token}, http.StatusOK},
		{"config with wrong bearer", "/api/config?token=" + token, map[string]string{"Authorization": "Bearer x"}, http.StatusUnauthorized},
		{"ws without token", "/api/ws?session=" + strings.Repeat("a", 32), nil, http.StatusUnauthorized},
		{"unknown api path", "/api/nope?token=" + token, nil, http.StatusNotFound},
		{"unknown api path without token", "/api/nope", nil, http.StatusUnauthorized},
		{"metrics without token", "/metrics", nil, http.StatusUnauthorized},
		{"healthz without token", "/healthz", nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, hs.URL+tt.path, nil)
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("got %s, want %d", resp.Status, tt.status)
			}
		})
	}
	status, e := post(t, hs.URL+"/api/offer", "application/json", offerBody("offer", "v=0"), nil)
	if status != http.StatusUnauthorized || e.Code != "unauthorized" {
		t.Errorf("offer without token: %d %q", status, e.Code)
	}
	status, e = post(t, hs.URL+"/api/offer?token="+token, "application/json", offerBody("offer", "v=0"), nil)
	if status != http.StatusBadRequest || e.Code != "bad_offer" {
		t.Errorf("offer with token: %d %q", status, e.Code)
	}
}

func TestWSRejectsBadRequests(t *testing.T) {
	_, hs := newTestServer(t, Options{})
	tests := []struct {
		name    string
		session string
		hdr     http.Header
		status  int
	}{
		{"no session", "", nil, http.StatusBadRequest},
		{"short id", "abc", nil, http.StatusBadRequest},
		{"not hex", strings.Repeat("z", 32), nil, http.StatusBadRequest},
		{"upper case", strings.Repeat("A", 32), nil, http.StatusBadRequest},
		{"injection", "x%27%22%3Cscript%3E", nil, http.StatusBadRequest},
		{"unknown session", strings.Repeat("0", 32), nil, http.StatusNotFound},
		{"foreign origin", strings.Repeat("0", 32), http.Header{"Origin": {"http://evil.example"}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := dialWS(t, hs.URL, tt.session, tt.hdr)
			if err == nil {
				c.Close()
				t.Fatal("websocket accepted")
			}
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("got %v (%v), want %d", resp, err, tt.status)
			}
		})
	}
	// A plain GET (no upgrade) to a real endpoint is refused, not a crash.
	resp, err := http.Get(hs.URL + "/api/ws?session=" + strings.Repeat("0", 32))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("plain GET: %s", resp.Status)
	}
}

func TestSessionLimit(t *testing.T) {
	s, hs := newTestServer(t, Options{MaxSessions: 1})
	c1 := newPionClient(t)
	c1.connect(t, hs.URL, nil)
	c2 := newPionClient(t)
	status, e := post(t, hs.URL+"/api/offer", "application/json", offerBody("offer", c2.offer(t)), nil)
	if status != http.StatusServiceUnavailable || e.Code != "busy" {
		t.Errorf("second session: %d %q", status, e.Code)
	}
	if n := s.Sessions(); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

func TestAttachTimeout(t *testing.T) {
	s, hs := newTestServer(t, Options{AttachTimeout: 300 * time.Millisecond})
	c := newPionClient(t)
	id := c.connect(t, hs.URL, nil)
	waitFor(t, 5*time.Second, "the unattached session to end", func() bool { return s.Sessions() == 0 })
	_, resp, err := dialWS(t, hs.URL, id, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("websocket to an expired session: %v %v", resp, err)
	}
}

func TestWSProtocol(t *testing.T) {
	s, hs := newTestServer(t, Options{ReconnectGrace: 2 * time.Second})
	c := newPionClient(t)
	id := c.connect(t, hs.URL, nil)

	ws, _, err := dialWS(t, hs.URL, id, http.Header{"Origin": {hs.URL}})
	if err != nil {
		t.Fatal(err)
	}
	hello := readType(t, ws, "hello", 5*time.Second)
	if hello["session"] != id || len(hello["labels"].([]any)) != 9 {
		t.Errorf("hello: %v", hello)
	}
	readType(t, ws, "state", 5*time.Second)

	send := func(ws *websocket.Conn, msg string) {
		t.Helper()
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	send(ws, `{"type":"ping"}`)
	readType(t, ws, "pong", 5*time.Second)

	send(ws, `{"type":"dance"}`)
	if e := readType(t, ws, "error", 5*time.Second); e["code"] != "unknown_type" || e["fatal"] == true {
		t.Errorf("unknown type: %v", e)
	}

	// Malformed JSON: an error, then the socket closes with 1007; the
	// session lives on for a reconnect.
	send(ws, `{"type":`)
	if e := readType(t, ws, "error", 5*time.Second); e["code"] != "bad_message" {
		t.Errorf("malformed: %v", e)
	}
	expectClose(t, ws, websocket.CloseInvalidFramePayloadData)
	if s.Sessions() != 1 {
		t.Fatal("session ended with its websocket")
	}

	// Reconnect; then a second socket for the same session replaces it.
	ws2, _, err := dialWS(t, hs.URL, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	readType(t, ws2, "hello", 5*time.Second)
	ws3, _, err := dialWS(t, hs.URL, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	readType(t, ws3, "hello", 5*time.Second)
	expectClose(t, ws2, closeReplaced)

	// Binary messages are refused.
	if err := ws3.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, ws3, websocket.CloseUnsupportedData)

	// Oversized messages are refused.
	ws4, _, err := dialWS(t, hs.URL, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	readType(t, ws4, "hello", 5*time.Second)
	send(ws4, `{"type":"ping","pad":"`+strings.Repeat("x", MaxMessageBytes)+`"}`)
	expectClose(t, ws4, websocket.CloseMessageTooBig)

	// stop ends the session.
	ws5, _, err := dialWS(t, hs.URL, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	readType(t, ws5, "hello", 5*time.Second)
	send(ws5, `{"type":"stop"}`)
	expectClose(t, ws5, closeSessionEnded)
	waitFor(t, 5*time.Second, "the session to end", func() bool { return s.Sessions() == 0 })
}

func TestReconnectGrace(t *testing.T) {
	s, hs := newTestServer(t, Options{ReconnectGrace: 300 * time.Millisecond})
	c := newPionClient(t)
	id := c.connect(t, hs.URL, nil)
	ws, _, err := dialWS(t, hs.URL, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	readType(t, ws, "hello", 5*time.Second)
	ws.Close()
	waitFor(t, 5*time.Second, "the abandoned session to end", func() bool { return s.Sessions() == 0 })
}

// expectClose reads until the socket closes and checks the close code.
func expectClose(t *testing.T, ws *websocket.Conn, code int) {
	t.Helper()
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, code) {
			t.Errorf("closed with %v, want code %d", err, code)
		}
		return
	}
}
