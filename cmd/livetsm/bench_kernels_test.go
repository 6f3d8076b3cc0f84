package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/onlinetsm"
)

// TestBenchKernels checks that `livetsm bench --kernels` runs on the path it
// names, reports it, leaves the process's selection as it found it, and
// refuses names it cannot run.
func TestBenchKernels(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	paths := onlinetsm.KernelPaths()
	best := paths[len(paths)-1]
	cases := []struct {
		kernels, want, wantErr string
	}{
		{"", best, ""},
		{"auto", best, ""},
		{"sse", "", `--kernels: onlinetsm: kern: unknown kernel path "sse"`},
	}
	for _, p := range paths {
		cases = append(cases, struct{ kernels, want, wantErr string }{p, p, ""})
	}
	for _, p := range []string{"avx2", "avx512"} {
		if !slices.Contains(paths, p) { // known, but this CPU or build cannot run it
			cases = append(cases, struct{ kernels, want, wantErr string }{p, "", p + " kernels unavailable"})
		}
	}
	for _, c := range cases {
		t.Run(c.kernels, func(t *testing.T) {
			before := onlinetsm.KernelPath()
			args := []string{"bench", "--width", "0.35", "--size", "64", "--frames", "2", "--threads", "1", "--json"}
			if c.kernels != "" {
				args = append(args, "--kernels", c.kernels)
			}
			var out bytes.Buffer
			err := run(context.Background(), args, &out, log)
			if after := onlinetsm.KernelPath(); after != before {
				t.Errorf("kernel path %q after bench, %q before", after, before)
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("bench --kernels %s: error %v, want one containing %q", c.kernels, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var r benchResult
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("%v in %q", err, out.String())
			}
			if r.Kernels != c.want {
				t.Errorf("bench --kernels %q reported %q, want %q", c.kernels, r.Kernels, c.want)
			}
			if r.AllocsPerFrame != 0 {
				t.Errorf("bench --kernels %q: %v heap allocations per frame, want 0", c.kernels, r.AllocsPerFrame)
			}
			t.Logf("bench --kernels %q ran on %s", c.kernels, r.Kernels)
		})
	}
}
