// Package paritytest holds what the tests that compare computed numbers
// share: the deterministic test frames of the PyTorch fixtures
// (tools/tsm_reference.py's synthetic_frame), the relative error, and a
// tolerance check that a NaN cannot pass.
package paritytest

import (
	"math"

	"gorgonia.org/tensor"
)

// SyntheticFrame returns test frame t, shape (3, size, size), as
// tools/tsm_reference.py's synthetic_frame computes it (float64, then
// rounded to float32), so both sides feed the model the same input.
func SyntheticFrame(t, size int) *tensor.Dense {
	data := make([]float32, 3*size*size)
	for c := 0; c < 3; c++ {
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				fx, fy, fc, ft := float64(x), float64(y), float64(c), float64(t)
				v := math.Sin(0.05*fx*(fc+1)+0.07*fy+0.9*ft+fc)*1.5 + 0.2*math.Cos(0.013*fx*fy+ft)
				data[(c*size+y)*size+x] = float32(v)
			}
		}
	}
	return tensor.New(tensor.WithShape(3, size, size), tensor.WithBacking(data))
}

// RelErr is max|got−want| / max|want| (the absolute error when want is all
// zeros). A NaN or an infinity in got is an infinite error, so that a test
// comparing RelErr with a tolerance cannot pass on it.
func RelErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1)
		}
		num = max(num, math.Abs(g-w))
		den = max(den, math.Abs(w))
	}
	if den == 0 {
		return num
	}
	return num / den
}

// Near reports whether got is within tol of want. A NaN in either is never
// near, unlike a check written as math.Abs(got-want) > tol, which a NaN
// passes because every comparison with NaN is false.
func Near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol
}
