package onlinetsm

import (
	"slices"
	"strings"
	"testing"
)

// eachKernelPath runs f once per kernel path this CPU and build support, as
// subtests named by the path, and logs which ran.
func eachKernelPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	paths := KernelPaths()
	t.Logf("kernel paths: %v", paths)
	for _, name := range paths {
		t.Run(name, func(t *testing.T) {
			restore, err := UseKernels(name)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			if got := KernelPath(); got != name {
				t.Fatalf("KernelPath() = %q after UseKernels(%q)", got, name)
			}
			f(t)
		})
	}
}

func TestUseKernels(t *testing.T) {
	avail := KernelPaths()
	if len(avail) == 0 || avail[0] != "portable" {
		t.Fatalf("KernelPaths() = %v, want portable first", avail)
	}
	best := avail[len(avail)-1]
	if got := KernelPath(); got != best {
		t.Fatalf("KernelPath() = %q by default, want the fastest, %q", got, best)
	}
	// KernelPath after UseKernels("avx2") and ("avx512"): "" where the CPU
	// lacks them and UseKernels must fail.
	avx2, avx512 := "", ""
	if slices.Contains(avail, "avx2") {
		avx2 = "avx2"
	}
	if slices.Contains(avail, "avx512") {
		avx512 = "avx512"
	}
	for _, c := range []struct {
		name    string
		want    string // KernelPath after; "" when UseKernels must fail
		wantErr string
	}{
		{"portable", "portable", ""},
		{"auto", best, ""},
		{" Auto ", best, ""},
		{"PORTABLE", "portable", ""},
		{"avx2", avx2, "avx2 kernels unavailable"},
		{"avx512", avx512, "avx512 kernels unavailable"},
		{" AVX512 ", avx512, "avx512 kernels unavailable"},
		{"", "", `unknown kernel path ""`},
		{"fast", "", `unknown kernel path "fast"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := KernelPath()
			restore, err := UseKernels(c.name)
			if c.want == "" {
				if err == nil {
					restore()
					t.Fatalf("UseKernels(%q) succeeded on %v", c.name, avail)
				}
				if !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "available here: "+strings.Join(avail, ", ")) {
					t.Errorf("UseKernels(%q): %v; want it to say %q and what is available", c.name, err, c.wantErr)
				}
				if KernelPath() != before {
					t.Errorf("a failed UseKernels changed the path to %q", KernelPath())
				}
				return
			}
			if err != nil {
				t.Fatalf("UseKernels(%q): %v", c.name, err)
			}
			if got := KernelPath(); got != c.want {
				t.Errorf("KernelPath() = %q after UseKernels(%q), want %q", got, c.name, c.want)
			}
			restore()
			if got := KernelPath(); got != before {
				t.Errorf("KernelPath() = %q after restore, want %q", got, before)
			}
		})
	}
}
