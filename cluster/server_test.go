package cluster

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/livetsm/livetsm/internal/testlog"
)

func TestServerJetStream(t *testing.T) {
	s := startServer(t)
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") {
		t.Errorf("client URL %q", s.ClientURL())
	}
	nc := connect(t, s.ClientURL())
	if _, err := jetStream(context.Background(), nc); err != nil {
		t.Fatal(err)
	}
	// The port is taken now: a second server says so at once.
	start := time.Now()
	_, err := StartServer(ServerOptions{Addr: s.Addr().String(), StoreDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "address already in use") || time.Since(start) > 2*time.Second {
		t.Errorf("second server on %s: %v after %v", s.Addr(), err, time.Since(start))
	}
}

func TestServerToken(t *testing.T) {
	s, err := StartServer(ServerOptions{Addr: "127.0.0.1:0", Token: "s3cret-token", Log: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(s.ClientURL(), "s3cret-token@127.0.0.1:") {
		t.Errorf("client URL %q lacks the token", s.ClientURL())
	}
	nc := connect(t, s.ClientURL())
	nc.Close()
	bare := "nats://" + s.Addr().String()
	if _, err := Connect(context.Background(), bare, ConnectOptions{Timeout: time.Second}); err == nil {
		t.Error("connected without the token")
	}
}

// TestConnectWaitsForTheBus: a client started before its bus connects once
// the bus is up, within the timeout.
func TestConnectWaitsForTheBus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	started := make(chan *Server, 1)
	go func() {
		time.Sleep(700 * time.Millisecond)
		s, err := StartServer(ServerOptions{Addr: addr, StoreDir: t.TempDir()})
		if err != nil {
			t.Error(err)
		}
		started <- s
	}()
	nc, err := Connect(context.Background(), "nats://"+addr, ConnectOptions{Timeout: 10 * time.Second})
	if s := <-started; s != nil {
		defer s.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestConnectErrors(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "nats://" + ln.Addr().String()
	ln.Close()
	tests := []struct {
		url, want string
	}{
		{closed, "cannot reach the bus at " + closed},
		{"http://127.0.0.1:4222", `scheme "http" is not nats`},
		{"127.0.0.1:4222", "bad NATS URL"},
		{"nats://user:secret@127.0.0.1:1", "nats://xxx@127.0.0.1:1"}, // the password is not shown
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			start := time.Now()
			nc, err := Connect(context.Background(), tt.url, ConnectOptions{Timeout: time.Second})
			if err == nil {
				nc.Close()
				t.Fatal("connected")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q, want one saying %q", err, tt.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// A cancelled context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Connect(ctx, closed, ConnectOptions{Timeout: time.Second}); err == nil {
		t.Error("connected with a cancelled context")
	}
	time.Sleep(1500 * time.Millisecond) // the abandoned attempt gives up (goleak)
}
