//go:build amd64 && !purego

package kern

// pause executes the PAUSE instruction n times (none for n ≤ 0): a spin-wait
// hint that lets the core's SMT sibling run and saves power while polling.
func pause(n int)
