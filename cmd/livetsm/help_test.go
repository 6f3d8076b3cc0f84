package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/internal/testlog"
)

// TestHelp checks that each command's --help prints its usage and then its
// flags to stdout.
func TestHelp(t *testing.T) {
	cases := []struct {
		args []string
		want []string // in this order
	}{
		{[]string{"--help"}, []string{"livetsm — online TSM", "Live recognition", "-rtsp", "Web page", "-max-sessions"}},
		{[]string{"serve", "--help"}, []string{"Web page", "-addr", "-max-batch"}},
		{[]string{"--rtsp", "rtsp://x/y", "--help"}, []string{"Live recognition", "-json", "-stream-id"}},
		{[]string{"worker", "--help"}, []string{"Worker:", "-max-streams"}},
		{[]string{"cameras", "--help"}, []string{"Camera registry", "-nats"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			// A subcommand's help ends its run with flag.ErrHelp, which main
			// turns into exit status 0.
			if err := run(context.Background(), c.args, &out, testlog.New(t)); err != nil && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("run: %v", err)
			}
			rest := out.String()
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("help lacks %q (in order %q); got:\n%s", w, c.want, out.String())
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
