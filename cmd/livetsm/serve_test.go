package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestHasSourceFlag(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--addr", ":9000"}, false},
		{[]string{"--weights", "w.pth", "--token", "x"}, false},
		{[]string{"--synthetic"}, true},
		{[]string{"-synthetic=true"}, true},
		{[]string{"--video=clip.mp4"}, true},
		{[]string{"--size", "64", "--camera", "0"}, true},
		{[]string{"--rtsp", "rtsp://x"}, true},
		{[]string{"--", "--video"}, false},
		{[]string{"--addr", "video"}, false},
	}
	for _, tt := range tests {
		if got := hasSourceFlag(tt.args); got != tt.want {
			t.Errorf("hasSourceFlag(%q) = %v", tt.args, got)
		}
	}
}

func TestServeFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // part of the error; "" for none
	}{
		{nil, ""},
		{[]string{"--addr", "0.0.0.0:8080"}, "give --token"},
		{[]string{"--addr", ":8080"}, "give --token"},
		{[]string{"--addr", "[::]:8080"}, "give --token"},
		{[]string{"--addr", "192.0.2.1:8080"}, "give --token"},
		{[]string{"--addr", "0.0.0.0:8080", "--token", "0123456789abcdef"}, ""},
		{[]string{"--addr", "localhost:8080"}, ""},
		{[]string{"--addr", "[::1]:8080"}, ""},
		{[]string{"--token", "short"}, "at least 8"},
		{[]string{"--token", "has space in it"}, "without spaces"},
		{[]string{"--udp-ports", "50000-50100"}, ""},
		{[]string{"--udp-ports", "50000"}, "--udp-ports"},
		{[]string{"--udp-ports", "6-5"}, "--udp-ports"},
		{[]string{"--udp-ports", "0-5"}, "--udp-ports"},
		{[]string{"--udp-ports", "1-70000"}, "--udp-ports"},
		{[]string{"--cert", "c.pem"}, "--cert and --key"},
		{[]string{"--fps", "-1"}, "--fps"},
		{[]string{"--size", "8"}, "--size"},
		{[]string{"--max-sessions", "0"}, "--max-sessions"},
		{[]string{"--max-batch", "0"}, "--max-batch"},
		{[]string{"--max-batch", "65"}, "--max-batch"},
		{[]string{"--batch-wait", "-1ms"}, "--batch-wait"},
		{[]string{"--batch-wait", "2s"}, "--batch-wait"},
		{[]string{"--max-batch", "16", "--batch-wait", "0s"}, ""},
		{[]string{"--stun", "stun:stun.example.org:3478,stun:other.example.org"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs, c := newServeFlags()
			fs.SetOutput(io.Discard)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			_, err := c.webOptions()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestCheckToken(t *testing.T) {
	tests := []struct {
		addr, token, forbid string
		want                string // the error; "" for none
	}{
		{"127.0.0.1:8080", "", "", ""},
		{"", "", "", ""},
		{"0.0.0.0:8080", "", "", "--addr 0.0.0.0:8080 is reachable from other machines: give --token (e.g. --token $(openssl rand -hex 16))"},
		{"0.0.0.0:8080", "0123456789abcdef", "", ""},
		{"127.0.0.1:8080", "short", "", "--token must be at least 8 characters without spaces"},
		{"127.0.0.1:8080", "with\ttab1234", "", "--token must be at least 8 characters without spaces"},
		{"127.0.0.1:4222", "user@secret", "@:/", "--token must be at least 8 characters without spaces, '@', ':' or '/'"},
		{"127.0.0.1:4222", "user:secret", "@:/", "--token must be at least 8 characters without spaces, '@', ':' or '/'"},
		{"127.0.0.1:4222", "user@secret", "", ""},
	}
	for _, tt := range tests {
		err := checkToken(tt.addr, tt.token, tt.forbid)
		if got := fmt.Sprint(err); (err == nil) != (tt.want == "") || (err != nil && got != tt.want) {
			t.Errorf("checkToken(%q, %q, %q) = %v, want %q", tt.addr, tt.token, tt.forbid, err, tt.want)
		}
	}
}

func TestServeCommandLineErrors(t *testing.T) {
	tests := []runError{
		{[]string{"--json"}, "no source"},
		{[]string{"serve", "--max-frames", "3"}, "no source"},
		{[]string{"--bogus"}, "flag provided but not defined"},
		{[]string{"serve", "extra"}, "unexpected argument"},
		{[]string{"--addr", "0.0.0.0:0"}, "--token"},
		{[]string{"--addr", "127.0.0.1:0", "--stun", "http://nope"}, "ICE server"},
	}
	checkRunErrors(t, tests)
}

func TestPageURL(t *testing.T) {
	tcp := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	if got := pageURL(tcp, false, ""); got != "http://127.0.0.1:8080/" {
		t.Errorf("got %s", got)
	}
	if got := pageURL(&net.TCPAddr{IP: net.IPv4zero, Port: 9}, true, "a b"); got != "https://localhost:9/?token=a+b" {
		t.Errorf("got %s", got)
	}
}

// TestServeCommand starts `livetsm --addr 127.0.0.1:0 --token …`, fetches
// the page from the printed address and stops it.
func TestServeCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--token", "tok-123456"}, &out, slog.New(slog.DiscardHandler))
	}()
	re := regexp.MustCompile(`open (http://\S+)`)
	var url string
	deadline := time.Now().Add(20 * time.Second)
	for url == "" {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no URL printed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasSuffix(url, "/?token=tok-123456") {
		t.Errorf("URL %s", url)
	}
	for _, tt := range []struct {
		url    string
		status int
	}{{url, http.StatusOK}, {strings.TrimSuffix(url, "?token=tok-123456"), http.StatusUnauthorized}} {
		resp, err := http.Get(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s: %s", tt.url, resp.Status)
		}
		if tt.status == http.StatusOK && !strings.Contains(string(body), `id="start"`) {
			t.Errorf("the page has no Start button")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}
