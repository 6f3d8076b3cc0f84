package kern

import "testing"

// TestJobSplit checks that a job's parts cut its tasks into contiguous
// ranges, in order, of sizes that differ by at most one.
func TestJobSplit(t *testing.T) {
	var j job
	for _, c := range []struct{ ntask, parts int }{
		{1, 1}, {1, 2}, {2, 2}, {3, 2}, {7, 3}, {16, 2}, {100, 5}, {5, 8},
	} {
		j.ntask = c.ntask
		j.split(c.parts)
		if len(j.parts) != c.parts {
			t.Fatalf("%+v: %d parts", c, len(j.parts))
		}
		next := int64(0)
		for i := range j.parts {
			p := &j.parts[i]
			start, size := p.next.Load(), p.end-p.next.Load()
			if start != next || size < int64(c.ntask/c.parts) || size > int64(c.ntask/c.parts+1) {
				t.Errorf("%+v: part %d is [%d, %d)", c, i, start, p.end)
			}
			next = p.end
		}
		if next != int64(c.ntask) {
			t.Errorf("%+v: the parts end at %d", c, next)
		}
	}
}
