//go:build !amd64 || purego

package kern

// pause waits for about n spin-wait steps (none for n ≤ 0). Without
// assembly there is no PAUSE instruction: it spins on register arithmetic
// instead, which at least leaves shared memory alone.
func pause(n int) {
	var x int
	for i := 0; i < n; i++ {
		for j := 0; j < 4; j++ {
			x += j
		}
	}
	pauseSink(x)
}

// pauseSink keeps the loop in pause from being compiled away.
//
//go:noinline
func pauseSink(int) {}
