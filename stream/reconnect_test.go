package stream

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReconnecting(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	lost := errors.New("connection lost")
	refused := errors.New("connection refused")
	tests := []struct {
		name      string
		max       time.Duration
		opens     []error // results of the open attempts: nil succeeds
		wantWaits []time.Duration
	}{
		{"back at once", 0, []error{nil, nil},
			[]time.Duration{500 * time.Millisecond, 500 * time.Millisecond}},
		{"backoff doubles", 0, []error{refused, refused, nil, nil},
			[]time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 500 * time.Millisecond}},
		{"backoff is capped", 1500 * time.Millisecond, []error{refused, refused, refused, nil, refused, nil},
			[]time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond,
				500 * time.Millisecond, time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock(0)
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			var sources []*sliceSource
			newSrc := func() *sliceSource {
				s := &sliceSource{frames: framesAt(t0, 2, 15), err: lost, live: true}
				sources = append(sources, s)
				return s
			}
			attempt := 0
			open := func(ctx context.Context) (Source, error) {
				err := tt.opens[attempt]
				attempt++
				if err != nil {
					return nil, err
				}
				return newSrc(), nil
			}
			r := Reconnecting(newSrc(), open, ReconnectOptions{Max: tt.max, Clock: clk, Log: log, Name: "rtsp://test"})
			if !r.Live() {
				t.Error("not live")
			}
			connections := 1
			for _, e := range tt.opens {
				if e == nil {
					connections++
				}
			}
			var resets []bool
			for range 2 * connections {
				f, err := r.Read(context.Background(), nil)
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				resets = append(resets, f.Reset)
			}
			want := make([]bool, 2*connections)
			for i := 2; i < len(want); i += 2 {
				want[i] = true
			}
			if !slices.Equal(resets, want) {
				t.Errorf("Reset flags %v, want %v", resets, want)
			}
			if got := clk.Waits(); !slices.Equal(got, tt.wantWaits) {
				t.Errorf("waits %v, want %v", got, tt.wantWaits)
			}
			for i, s := range sources[:len(sources)-1] {
				if !s.closed {
					t.Errorf("connection %d not closed", i)
				}
			}
			for _, msg := range []string{"stream lost; reconnecting", "reconnected", "fresh cache"} {
				if !strings.Contains(logs.String(), msg) {
					t.Errorf("log lacks %q:\n%s", msg, logs.String())
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if !sources[len(sources)-1].closed {
				t.Error("Close did not close the connection")
			}
			if _, err := r.Read(context.Background(), nil); err == nil {
				t.Error("Read after Close succeeded")
			}
		})
	}
}

func TestReconnectingCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	first := &sliceSource{err: errors.New("lost"), live: true}
	r := Reconnecting(first, func(context.Context) (Source, error) {
		t.Error("open called after cancel")
		return nil, errors.New("no")
	}, ReconnectOptions{})
	if _, err := r.Read(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Read error %v, want context.Canceled", err)
	}
}
