package web

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// trickle sends a request whose body (declared as n bytes) arrives one
// byte every gap, and returns when the server has answered and closed the
// connection: the status line (empty when none came) and how long that
// took. It gives up after limit.
func trickle(t *testing.T, addr, head string, n int, gap, limit time.Duration) (string, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := fmt.Fprintf(conn, "%sContent-Length: %d\r\n\r\n", head, n); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(gap)
		defer tick.Stop()
		for range n {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(limit))
	br := bufio.NewReader(conn)
	status, _ := br.ReadString('\n')
	// The server closes the connection once it has given up on the body
	// (an EOF, or a reset when it closes while bytes are still coming).
	if _, err := io.Copy(io.Discard, br); isTimeout(err) {
		t.Fatalf("the connection was not closed within %v (status %q): %v", limit, status, err)
	}
	return strings.TrimSpace(status), time.Since(start)
}

// TestSlowBodyIsCut checks that a client trickling a request body is cut
// off: with the default BodyTimeout within 30 s for an offer (408), and
// on any route, whether or not its handler reads the body.
func TestSlowBodyIsCut(t *testing.T) {
	t.Run("offer, default timeout", func(t *testing.T) {
		t.Parallel()
		s, hs := newTestServer(t, Options{})
		addr := strings.TrimPrefix(hs.URL, "http://")
		head := "POST /api/offer HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n"
		status, took := trickle(t, addr, head, 1000, 2*time.Second, 30*time.Second)
		if !strings.Contains(status, "408") {
			t.Errorf("status %q, want 408", status)
		}
		if took < DefaultBodyTimeout-time.Second || took > 30*time.Second {
			t.Errorf("cut after %v, want about %v", took, DefaultBodyTimeout)
		}
		if n := s.Sessions(); n != 0 {
			t.Errorf("%d sessions", n)
		}
	})
	for _, tt := range []struct{ name, method, path string }{
		{"config ignores its body", "GET", "/api/config"},
		{"page ignores its body", "GET", "/"},
		{"unknown path", "POST", "/api/nope"},
		{"websocket route without upgrade", "GET", "/api/ws?session=" + strings.Repeat("0", 32)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, hs := newTestServer(t, Options{BodyTimeout: time.Second})
			addr := strings.TrimPrefix(hs.URL, "http://")
			head := tt.method + " " + tt.path + " HTTP/1.1\r\nHost: " + addr + "\r\n"
			_, took := trickle(t, addr, head, 1000, 300*time.Millisecond, 10*time.Second)
			if took > 5*time.Second {
				t.Errorf("cut after %v, want about 1s", took)
			}
		})
	}
}

// TestOfferWithinBodyTimeout checks that an offer whose answer takes longer
// than BodyTimeout (ICE gathering, here held up on purpose) is not cut by
// the body's deadline.
func TestOfferWithinBodyTimeout(t *testing.T) {
	s, hs := newTestServer(t, Options{BodyTimeout: 200 * time.Millisecond})
	s.offerRead = func() { time.Sleep(600 * time.Millisecond) }
	c := newPionClient(t)
	id := c.connect(t, hs.URL, nil)
	if s.lookup(id) == nil {
		t.Fatal("no session after the offer")
	}
}

// TestWebsocketDeadlines checks that the websocket is not cut by the
// request body's deadline, and that it has deadlines of its own: a page
// that answers no pings, or stalls in the middle of a message, is
// dropped.
func TestWebsocketDeadlines(t *testing.T) {
	saved := defaultWSTiming
	defaultWSTiming = wsTiming{pongWait: 1500 * time.Millisecond, pingPeriod: 300 * time.Millisecond, messageWait: 500 * time.Millisecond}
	t.Cleanup(func() { defaultWSTiming = saved })
	s, hs := newTestServer(t, Options{BodyTimeout: 200 * time.Millisecond, ReconnectGrace: 10 * time.Second})
	c := newPionClient(t)
	id := c.connect(t, hs.URL, nil)

	// A page that reads, and so answers the server's pings, but sends
	// nothing else outlives the body timeout and pongWait many times over.
	ws, _, err := dialWS(t, hs.URL, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, readErr := make(chan string, 64), make(chan error, 1)
	go func() {
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			msgs <- string(b)
		}
	}()
	select {
	case err := <-readErr:
		t.Fatalf("websocket cut while the page answered pings: %v", err)
	case <-time.After(4 * time.Second):
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	for pong := false; !pong; {
		select {
		case m := <-msgs:
			pong = strings.Contains(m, `"pong"`)
		case err := <-readErr:
			t.Fatalf("websocket cut: %v", err)
		case <-time.After(2 * time.Second):
			t.Fatal("no pong")
		}
	}
	ws.Close()
	<-readErr
	ws.Close()

	// A page that never reads answers no pings: dropped after pongWait.
	ws, _, err = dialWS(t, hs.URL, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(2500 * time.Millisecond)
	if err := drain(ws, 3*time.Second); err != nil {
		t.Errorf("silent page: %v", err)
	} else if took := time.Since(start); took > 5*time.Second {
		t.Errorf("silent page dropped after %v", took)
	}

	// A page that stalls after a message's first frame: dropped after
	// messageWait, although pongs keep coming.
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, WriteBufferSize: 128}
	ws, _, err = d.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/api/ws?session="+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ws.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	// More than the write buffer: a first, non-final frame goes out.
	if _, err := w.Write([]byte(`{"type":"ping","pad":"` + strings.Repeat("x", 400))); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := drain(ws, 5*time.Second); err != nil {
		t.Errorf("stalled message: %v", err)
	} else if took := time.Since(start); took > 3*time.Second {
		t.Errorf("stalled message cut after %v, want about 500ms", took)
	}
	if s.lookup(id) == nil {
		t.Error("the session ended with a dropped websocket")
	}
}

// drain reads ws (answering pings) until the server closes it, or fails
// after limit.
func drain(ws *websocket.Conn, limit time.Duration) error {
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(limit))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if isTimeout(err) {
				return fmt.Errorf("still open after %v", limit)
			}
			return nil
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestClosedSessionHoldsItsSlot checks that a closed session's stream
// keeps its slot in the store until the session's goroutines have ended,
// so that no more than MaxSessions streams are ever alive.
func TestClosedSessionHoldsItsSlot(t *testing.T) {
	s, hs := newTestServer(t, Options{MaxSessions: 1})
	c1 := newPionClient(t)
	id := c1.connect(t, hs.URL, nil)
	ss := s.lookup(id)
	release := make(chan struct{})
	if !ss.spawn(func() { <-release }) { // a goroutine slow to end
		t.Fatal("spawn refused")
	}
	ss.close("test")
	if n := s.store.Len(); n != 1 {
		t.Errorf("%d streams in the store while the closed session's goroutines run, want 1", n)
	}
	c2 := newPionClient(t)
	if status, e := post(t, hs.URL+"/api/offer", "application/json", offerBody("offer", c2.offer(t)), nil); status != http.StatusServiceUnavailable || e.Code != "busy" {
		t.Errorf("a new session while the old stream is alive: %d %q, want 503 busy", status, e.Code)
	}
	close(release)
	waitFor(t, 5*time.Second, "the slot to be freed", func() bool { return s.store.Len() == 0 })
	newPionClient(t).connect(t, hs.URL, nil)
}
