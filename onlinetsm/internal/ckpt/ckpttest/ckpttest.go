// Package ckpttest writes checkpoint files for the tests of the checkpoint
// reader and of the models that use it: safetensors files of float32 or
// float16 tensors. Only tests import it, so nothing of it is linked into
// livetsm.
package ckpttest

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/nlpodyssey/safetensors"
)

// Tensor is the layout of a tensor to write: ckpt.Tensor, or any struct
// type with the same fields (Shape, then the product of Shape values in
// Data; a nil or empty Shape is a scalar holding one value).
type Tensor = struct {
	Shape []int
	Data  []float32
}

// WriteSafetensors writes tensors (float32, or float16 when half is true)
// and metadata in the safetensors format. Tensors are laid out sorted by
// name.
func WriteSafetensors[T ~Tensor](w io.Writer, tensors map[string]*T, meta map[string]string, half bool) error {
	views := make(map[string]view, len(tensors))
	for name, tp := range tensors {
		if name == "" || name == "__metadata__" {
			return fmt.Errorf("write safetensors: invalid tensor name %q", name)
		}
		if tp == nil {
			return fmt.Errorf("write safetensors: tensor %q is nil", name)
		}
		t := Tensor(*tp)
		shape := make([]uint64, len(t.Shape))
		n := 1
		for i, d := range t.Shape {
			if d < 0 || (d > 0 && n > math.MaxInt32/d) {
				return fmt.Errorf("write safetensors: tensor %q: bad shape %v", name, t.Shape)
			}
			shape[i] = uint64(d)
			n *= d
		}
		if len(t.Data) != n {
			return fmt.Errorf("write safetensors: tensor %q: shape %v needs %d values, have %d", name, t.Shape, n, len(t.Data))
		}
		v := view{dtype: safetensors.F32, shape: shape}
		if half {
			v.dtype = safetensors.F16
			v.data = make([]byte, 2*n)
			for i, x := range t.Data {
				binary.LittleEndian.PutUint16(v.data[2*i:], Float32ToHalf(x))
			}
		} else {
			v.data = make([]byte, 4*n)
			for i, x := range t.Data {
				binary.LittleEndian.PutUint32(v.data[4*i:], math.Float32bits(x))
			}
		}
		views[name] = v
	}
	var m map[string]string
	if len(meta) > 0 {
		m = meta
	}
	if err := safetensors.SerializeToWriter(views, m, w); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	return nil
}

// view is a safetensors.View of bytes about to be written.
type view struct {
	dtype safetensors.DType
	shape []uint64
	data  []byte
}

// DType implements safetensors.View.
func (v view) DType() safetensors.DType { return v.dtype }

// Shape implements safetensors.View.
func (v view) Shape() []uint64 { return v.shape }

// Data implements safetensors.View.
func (v view) Data() []byte { return v.data }

// DataLen implements safetensors.View.
func (v view) DataLen() uint64 { return uint64(len(v.data)) }

// Float32ToHalf converts a float32 to IEEE 754 binary16 bits, rounding
// to nearest, ties to even; overflow gives ±Inf and NaN stays NaN.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // half subnormal (or zero)
		if e < -10 {
			return sign
		}
		full := mant | 0x800000
		shift := uint(14 - e)
		h := full >> shift
		rem := full & (1<<shift - 1)
		halfway := uint32(1) << (shift - 1)
		if rem > halfway || (rem == halfway && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry into the exponent is still the right encoding
	}
	return sign | uint16(h)
}
