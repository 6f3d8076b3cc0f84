package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/stream/synth"
)

func TestSynthCmd(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()

	var buf bytes.Buffer
	if err := run(ctx, []string{"synth", "--stream", "--size", "16", "--frames", "3", "--count", "4", "--balanced", "--seed", "2"}, &buf, log); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		c, err := synth.ReadStreamClip(&buf)
		if err != nil || c.Label != i || c.T != 3 || c.H != 16 || c.W != 16 {
			t.Fatalf("clip %d: %+v %v", i, c, err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes after 4 clips", buf.Len())
	}
	if err := run(ctx, []string{"synth", "--stream", "--size", "16", "--frames", "3", "--count", "2", "--size-skew", "1.6"}, &buf, log); err != nil || buf.Len() != 2*(synth.StreamHeaderSize+3*16*16*3) {
		t.Errorf("--size-skew 1.6: %d bytes, %v", buf.Len(), err)
	}
	buf.Reset()
	// --size-max reaches the generator: the same clips (labels) with other
	// hand sizes, so other pixels.
	stream := func(extra ...string) []byte {
		var b bytes.Buffer
		if err := run(ctx, append([]string{"synth", "--stream", "--size", "32", "--frames", "3", "--count", "3", "--balanced"}, extra...), &b, log); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	def, large := stream(), stream("--size-max", "0.3")
	if bytes.Equal(def, large) || len(def) != len(large) {
		t.Errorf("--size-max 0.3: %d bytes, equal to the default's (%d bytes): %v", len(large), len(def), bytes.Equal(def, large))
	}
	for r := bytes.NewReader(large); r.Len() > 0; {
		if c, err := synth.ReadStreamClip(r); err != nil || c.Label > 2 {
			t.Fatalf("--size-max 0.3: %+v %v", c, err)
		}
	}

	path := filepath.Join(t.TempDir(), "a.y4m")
	if err := run(ctx, []string{"synth", "--y4m", path, "--class", "Swiping Up", "--frames", "5", "--width", "64", "--height", "48"}, &buf, log); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header := "YUV4MPEG2 W64 H48 F15:1 Ip A1:1 C420jpeg\n"
	if !strings.HasPrefix(string(data), header) || len(data) != len(header)+5*(6+64*48*3/2) {
		t.Errorf("y4m of %d bytes starting %q", len(data), data[:min(len(data), 50)])
	}

	for _, args := range [][]string{
		{"synth"},
		{"synth", "--stream", "--y4m", path},
		{"synth", "--stream", "--class", "Thumb Up"},
		{"synth", "--stream", "--class", "9"},
		{"synth", "--y4m", path, "--fps", "0"},
		{"synth", "--stream", "--size-skew", "0"},
		{"synth", "--stream", "--size-skew", "5"},
		{"synth", "--stream", "--size-skew", "NaN"},
		{"synth", "--stream", "--size-max", "0.05"},
		{"synth", "--stream", "--size-max", "0.5"},
		{"synth", "--stream", "--size-max", "NaN"},
	} {
		if err := run(ctx, args, io.Discard, log); err == nil {
			t.Errorf("%q: no error", args)
		}
	}

	// A cancelled context stops an endless stream cleanly.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := run(cctx, []string{"synth", "--stream", "--size", "16"}, io.Discard, log); err != nil {
		t.Errorf("cancelled stream: %v", err)
	}
}
