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

func TestNear(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name           string
		got, want, tol float64
		near           bool
	}{
		{"equal", 1, 1, 0, true},
		{"within", 1.05, 1, 0.1, true},
		{"on the edge", 0.5, 1, 0.5, true},
		{"beyond", 1.2, 1, 0.1, false},
		{"NaN got", nan, 1, 0.1, false},
		{"NaN want", 1, nan, 0.1, false},
		{"infinity", math.Inf(1), 1, 1e9, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := Near(tc.got, tc.want, tc.tol); n != tc.near {
				t.Errorf("Near(%g, %g, %g) = %v, want %v", tc.got, tc.want, tc.tol, n, tc.near)
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
