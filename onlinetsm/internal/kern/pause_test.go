package kern

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestPause(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 7, 1000} {
		pause(n) // must return
	}
}

// TestSpinner checks the backoff schedule (1, 2, 4, … PAUSEs up to the cap)
// and that a spinner gives up once its budget is spent, not before.
func TestSpinner(t *testing.T) {
	for _, c := range []struct {
		budget   time.Duration
		maxPause int
		ramp     []int // n before each round until the cap
	}{
		{2 * time.Millisecond, 32, []int{1, 2, 4, 8, 16, 32}},
		{time.Millisecond, 8, []int{1, 2, 4, 8}},
		{time.Millisecond, 5, []int{1, 2, 4, 5}},
		{500 * time.Microsecond, 1, []int{1}},
		{500 * time.Microsecond, 0, []int{1}}, // a cap below 1 is 1
	} {
		t.Run(fmt.Sprintf("%v_max%d", c.budget, c.maxPause), func(t *testing.T) {
			sp := newSpinner(c.budget, c.maxPause)
			start := sp.start
			var ramp []int
			capped := false
			for rounds := 0; ; rounds++ {
				if !capped {
					ramp = append(ramp, sp.n)
					capped = sp.n == sp.max
				}
				if sp.n > max(c.maxPause, 1) {
					t.Fatalf("round %d: %d PAUSEs, over the cap", rounds, sp.n)
				}
				if !sp.spin() {
					break
				}
			}
			if el := time.Since(start); el < c.budget {
				t.Errorf("gave up after %v, before its budget %v", el, c.budget)
			}
			if !slices.Equal(ramp, c.ramp) {
				t.Errorf("backoff %v, want %v", ramp, c.ramp)
			}
		})
	}
}
