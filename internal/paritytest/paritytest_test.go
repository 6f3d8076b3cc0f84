package paritytest

import (
	"math"
	"testing"
)

func TestRelErr(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name      string
		got, want []float32
		err       float64
	}{
		{"equal", []float32{1, -2, 3}, []float32{1, -2, 3}, 0},
		{"relative to the largest", []float32{1, -2, 3.5}, []float32{1, -2, 4}, 0.125},
		{"want all zeros: absolute", []float32{0, 0.5}, []float32{0, 0}, 0.5},
		{"NaN", []float32{1, nan}, []float32{1, 2}, math.Inf(1)},
		{"infinity", []float32{inf, 2}, []float32{1, 2}, math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if e := RelErr(tc.got, tc.want); e != tc.err {
				t.Errorf("RelErr(%v, %v) = %g, want %g", tc.got, tc.want, e, tc.err)
			}
		})
	}
}

// The frames are the Python side's: values of tools/tsm_reference.py's
// synthetic_frame(2, 5) as PyTorch computes them.
func TestSyntheticFrame(t *testing.T) {
	f := SyntheticFrame(2, 5)
	if s := f.Shape(); len(s) != 3 || s[0] != 3 || s[1] != 5 || s[2] != 5 {
		t.Fatalf("shape %v, want (3, 5, 5)", f.Shape())
	}
	data := f.Data().([]float32)
	for _, p := range []struct {
		c, y, x int
		torch   float32
	}{{0, 0, 0, 1.3775421380996704}, {1, 2, 3, -0.24451985955238342}, {2, 4, 4, -1.6182032823562622}} {
		if got := data[(p.c*5+p.y)*5+p.x]; got != p.torch {
			t.Errorf("frame 2 at c%d y%d x%d = %g, PyTorch's %g", p.c, p.y, p.x, got, p.torch)
		}
	}
}
