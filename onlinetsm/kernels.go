package onlinetsm

import (
	"fmt"
	"strings"

	"github.com/livetsm/livetsm/onlinetsm/internal/kern"
)

// KernelPath returns the name of the kernel path in use: "portable",
// "avx2" or "avx512".
func KernelPath() string { return kern.Current().String() }

// KernelPaths lists the kernel paths this CPU and build can run, slowest
// first; the last is the default.
func KernelPaths() []string {
	var names []string
	for _, p := range kern.Available() {
		names = append(names, p.String())
	}
	return names
}

// UseKernels selects by name the kernel path of every model in the process,
// those of package offline included: "portable", "avx2", "avx512", or
// "auto" (the fastest available, the default); case and surrounding spaces
// do not matter. It returns a function restoring the previous selection. It
// fails, changing nothing, for an unknown name or a path this CPU or build
// cannot run. Call it
// before running models, typically once at program start: a frame computed
// while the path changes may use both.
func UseKernels(name string) (restore func(), err error) {
	var p kern.Path
	if n := strings.ToLower(strings.TrimSpace(name)); n == "auto" {
		p = kern.Best()
	} else {
		p, err = kern.ParsePath(name)
	}
	if err == nil {
		restore, err = kern.Use(p)
	}
	if err != nil {
		return nil, fmt.Errorf("onlinetsm: %w (available here: %s, or auto)", err, strings.Join(KernelPaths(), ", "))
	}
	return restore, nil
}
