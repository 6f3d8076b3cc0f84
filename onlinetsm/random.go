package onlinetsm

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/livetsm/livetsm/onlinetsm/internal/ckpt"
)

// makeDivisible rounds x up to a multiple of 8, as MobileNetV2 does.
func makeDivisible(x float64) int { return int(math.Ceil(x/8)) * 8 }

// randomStateDict returns random weights in the published key layout:
// MobileNetV2 of the given width (channels rounded up to multiples of 8; the
// stem stays 32, the ratio-1 block 16 and the last conv 1280 for width ≤ 1)
// with BN statistics drawn too.
func randomStateDict(width float64, classes int, seed uint64) map[string]*ckpt.Tensor {
	rng := rand.New(rand.NewPCG(seed, 0x7453_4d))
	sd := map[string]*ckpt.Tensor{}
	convW := func(key string, shape ...int) {
		n, fan := 1, 1
		for i, d := range shape {
			n *= d
			if i > 0 {
				fan *= d
			}
		}
		data := make([]float32, n)
		std := math.Sqrt(2 / float64(fan))
		for i := range data {
			data[i] = float32(rng.NormFloat64() * std)
		}
		sd[key] = &ckpt.Tensor{Shape: shape, Data: data}
	}
	bn := func(prefix string, c int) {
		vec := func(f func() float64) *ckpt.Tensor {
			d := make([]float32, c)
			for i := range d {
				d[i] = float32(f())
			}
			return &ckpt.Tensor{Shape: []int{c}, Data: d}
		}
		sd[prefix+".weight"] = vec(func() float64 { return 0.5 + rng.Float64() })
		sd[prefix+".bias"] = vec(func() float64 { return 0.1 * rng.NormFloat64() })
		sd[prefix+".running_mean"] = vec(func() float64 { return 0.1 * rng.NormFloat64() })
		sd[prefix+".running_var"] = vec(func() float64 { return 0.5 + rng.Float64() })
		sd[prefix+".num_batches_tracked"] = &ckpt.Tensor{Data: []float32{1}}
	}
	in := 32
	convW("features.0.0.weight", in, 3, 3, 3)
	bn("features.0.1", in)
	f := 1
	for _, s := range setting {
		t, c, n := s[0], s[1], s[2]
		out := c
		if t > 1 {
			out = makeDivisible(float64(c) * width)
		}
		for i := 0; i < n; i++ {
			pre := fmt.Sprintf("features.%d.conv.", f)
			if t == 1 {
				convW(pre+"0.weight", in, 1, 3, 3)
				bn(pre+"1", in)
				convW(pre+"3.weight", out, in, 1, 1)
				bn(pre+"4", out)
			} else {
				hid := in * t
				convW(pre+"0.weight", hid, in, 1, 1)
				bn(pre+"1", hid)
				convW(pre+"3.weight", hid, 1, 3, 3)
				bn(pre+"4", hid)
				convW(pre+"6.weight", out, hid, 1, 1)
				bn(pre+"7", out)
			}
			in = out
			f++
		}
	}
	last := 1280
	if width > 1 {
		last = makeDivisible(1280 * width)
	}
	convW(fmt.Sprintf("features.%d.0.weight", f), last, in, 1, 1)
	bn(fmt.Sprintf("features.%d.1", f), last)
	convW("classifier.weight", classes, last)
	sd["classifier.weight"].Data = scale(sd["classifier.weight"].Data, math.Sqrt(0.5))
	b := make([]float32, classes)
	for i := range b {
		b[i] = float32(0.1 * rng.NormFloat64())
	}
	sd["classifier.bias"] = &ckpt.Tensor{Shape: []int{classes}, Data: b}
	return sd
}

func scale(v []float32, k float64) []float32 {
	for i := range v {
		v[i] = float32(float64(v[i]) * k)
	}
	return v
}

// NewRandom builds a model with random weights of the published layout at
// the given width multiplier and class count, drawn from seed. It is meant
// for benchmarks and tests: the weights recognise nothing.
func NewRandom(width float64, classes int, seed uint64, opts ...Option) (*Model, error) {
	if !(width > 0 && width <= 4) { // NaN fails too
		return nil, fmt.Errorf("onlinetsm: width %v out of range (0, 4]", width)
	}
	if classes <= 0 || classes > 100000 {
		return nil, fmt.Errorf("onlinetsm: class count %d out of range", classes)
	}
	m, err := build(&ckpt.Checkpoint{Format: "random", Tensors: randomStateDict(width, classes, seed)}, opts)
	if err != nil {
		return nil, fmt.Errorf("onlinetsm: %w", err)
	}
	return m, nil
}
