//go:build !linux

package kern

import "runtime"

// osYield lets other goroutines run; there is no portable way to yield the
// OS thread.
func osYield() { runtime.Gosched() }
