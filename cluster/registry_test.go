package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSource(t *testing.T) {
	tests := []struct {
		in, kind, loc, err string
	}{
		{"synthetic", KindSynthetic, "synthetic", ""},
		{"rtsp://cam.local:8554/live", KindRTSP, "rtsp://cam.local:8554/live", ""},
		{"RTSPS://user:pw@cam/live", KindRTSP, "RTSPS://user:pw@cam/live", ""},
		{"/srv/clips/door.mp4", KindFile, "/srv/clips/door.mp4", ""},
		{"clips/door.mp4", KindFile, "clips/door.mp4", ""},
		{"file:///srv/door.mp4", KindFile, "/srv/door.mp4", ""},
		{"http://example.com/cam", "", "", `unknown source scheme "http"`},
		{"udp://239.0.0.1:1234", "", "", `unknown source scheme "udp"`},
		{"rtsp://", "", "", "bad RTSP URL"},
		{"file://", "", "", "bad file URL"},
		{"", "", "", "empty source"},
		{"  ", "", "", "empty source"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			kind, loc, err := ParseSource(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseSource(%q) = %q, %q, %v; want an error saying %q", tt.in, kind, loc, err, tt.err)
				}
				return
			}
			if err != nil || kind != tt.kind || loc != tt.loc {
				t.Fatalf("ParseSource(%q) = %q, %q, %v; want %q, %q", tt.in, kind, loc, err, tt.kind, tt.loc)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"cam1", true}, {"front-door_2", true}, {strings.Repeat("a", 64), true},
		{"", false}, {strings.Repeat("a", 65), false}, {"a.b", false}, {"a b", false},
		{"*", false}, {">", false}, {"café", false}, {"a/b", false},
	} {
		if err := ValidID(tt.id); (err == nil) != tt.ok {
			t.Errorf("ValidID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
	}
}

func TestRegistry(t *testing.T) {
	s := startServer(t)
	nc := connect(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg, err := OpenRegistry(ctx, nc, RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cams, err := reg.Status(ctx); err != nil || len(cams) != 0 {
		t.Fatalf("empty registry: %v, %v", cams, err)
	}
	for _, c := range []Camera{{ID: "b", Source: "synthetic"}, {ID: "a", Source: "rtsp://cam/live"}} {
		if err := reg.Add(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	bad := []struct {
		c    Camera
		want error
		msg  string
	}{
		{Camera{ID: "a", Source: "synthetic"}, ErrCameraExists, `camera "a": camera already registered (source rtsp://cam/live)`},
		{Camera{ID: "c", Source: "http://x"}, nil, `unknown source scheme "http"`},
		{Camera{ID: "c.d", Source: "synthetic"}, nil, `bad id "c.d"`},
	}
	for _, tt := range bad {
		err := reg.Add(ctx, tt.c)
		if err == nil || !strings.Contains(err.Error(), tt.msg) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("Add(%+v) = %v, want %q", tt.c, err, tt.msg)
		}
	}
	st, err := reg.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].ID != "a" || st[1].ID != "b" || st[0].Worker != "" || st[0].Since != nil || st[1].Source != "synthetic" {
		t.Fatalf("status %+v", st)
	}
	if err := reg.Remove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := reg.Remove(ctx, "a"); !errors.Is(err, ErrNoCamera) {
		t.Errorf("removing twice: %v, want ErrNoCamera", err)
	}
	// A removed id can be registered again.
	if err := reg.Add(ctx, Camera{ID: "a", Source: "synthetic"}); err != nil {
		t.Errorf("re-adding a removed camera: %v", err)
	}
	cams, err := reg.Cameras(ctx)
	if err != nil || len(cams) != 2 || cams[0].Added.IsZero() {
		t.Errorf("cameras %+v, %v", cams, err)
	}
}
