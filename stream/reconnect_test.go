package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

func TestOpenRetrying(t *testing.T) {
	refused := errors.New("connection refused")
	notFound := Permanent(errors.New("404 Not Found"))
	tests := []struct {
		name      string
		max       time.Duration
		opens     []error // results of the attempts: nil succeeds
		wantErr   error
		wantWaits []time.Duration
	}{
		{"at once", 0, []error{nil}, nil, nil},
		{"camera up after three tries", 0, []error{refused, refused, refused, nil}, nil,
			[]time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}},
		{"backoff capped by Max", 1500 * time.Millisecond, []error{refused, refused, refused, refused, nil}, nil,
			[]time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond}},
		{"permanent at once", 0, []error{notFound}, notFound, nil},
		{"permanent after transient", 0, []error{refused, notFound}, notFound, []time.Duration{500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock(0)
			var logs bytes.Buffer
			attempt := 0
			src := &sliceSource{live: true}
			s, err := OpenRetrying(context.Background(), func(context.Context) (Source, error) {
				err := tt.opens[attempt]
				attempt++
				if err != nil {
					return nil, err
				}
				return src, nil
			}, ReconnectOptions{Max: tt.max, Clock: clk, Log: slog.New(slog.NewTextHandler(&logs, nil)), Name: "rtsp://test"})
			if attempt != len(tt.opens) {
				t.Errorf("%d attempts, want %d", attempt, len(tt.opens))
			}
			if tt.wantErr != nil {
				if err != tt.wantErr || s != nil {
					t.Errorf("got %v, %v; want error %v", s, err, tt.wantErr)
				}
				if !errors.Is(err, ErrPermanent) || err.Error() != "404 Not Found" {
					t.Errorf("error %q is not permanent with its own text", err)
				}
			} else if err != nil || s != src {
				t.Errorf("got %v, %v; want the source", s, err)
			}
			if got := clk.Waits(); !slices.Equal(got, tt.wantWaits) {
				t.Errorf("waits %v, want %v", got, tt.wantWaits)
			}
			if len(tt.wantWaits) > 0 && !strings.Contains(logs.String(), "cannot connect yet; retrying") {
				t.Errorf("log lacks the retry:\n%s", logs.String())
			}
		})
	}
}

func TestOpenRetryingCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	_, err := OpenRetrying(ctx, func(context.Context) (Source, error) {
		attempts++
		cancel() // Ctrl-C while the camera is still down
		return nil, errors.New("connection refused")
	}, ReconnectOptions{})
	if !errors.Is(err, context.Canceled) || attempts != 1 {
		t.Errorf("error %v after %d attempts, want context.Canceled after 1", err, attempts)
	}
}

func TestPermanent(t *testing.T) {
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	base := errors.New("401 Unauthorized")
	err := fmt.Errorf("rtsp: %w", Permanent(base))
	if !errors.Is(err, ErrPermanent) || !errors.Is(err, base) || err.Error() != "rtsp: 401 Unauthorized" {
		t.Errorf("wrapped permanent error %q: Is(ErrPermanent) %v, Is(base) %v", err, errors.Is(err, ErrPermanent), errors.Is(err, base))
	}
	if errors.Is(base, ErrPermanent) {
		t.Error("an unmarked error is permanent")
	}
}
