package ckpt

import (
	"encoding/binary"
	"math"

	"github.com/nlpodyssey/safetensors"
)

// dType describes how one element of a storage is laid out.
type dType struct {
	name string // PyTorch storage name or safetensors dtype, for errors
	size int    // bytes per element
	conv func(b []byte) float32
}

var (
	dtF32  = dType{"float32", 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }}
	dtF16  = dType{"float16", 2, func(b []byte) float32 { return halfToFloat32(binary.LittleEndian.Uint16(b)) }}
	dtBF16 = dType{"bfloat16", 2, func(b []byte) float32 { return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16) }}
	dtF64  = dType{"float64", 8, func(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) }}
	dtI64  = dType{"int64", 8, func(b []byte) float32 { return float32(int64(binary.LittleEndian.Uint64(b))) }}
	dtI32  = dType{"int32", 4, func(b []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(b))) }}
	dtI16  = dType{"int16", 2, func(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) }}
	dtI8   = dType{"int8", 1, func(b []byte) float32 { return float32(int8(b[0])) }}
	dtU8   = dType{"uint8", 1, func(b []byte) float32 { return float32(b[0]) }}
	dtBool = dType{"bool", 1, func(b []byte) float32 {
		if b[0] != 0 {
			return 1
		}
		return 0
	}}
)

// torchStorages maps the allowed torch.*Storage globals to dtypes.
var torchStorages = map[string]dType{
	"FloatStorage":    dtF32,
	"HalfStorage":     dtF16,
	"BFloat16Storage": dtBF16,
	"DoubleStorage":   dtF64,
	"LongStorage":     dtI64,
	"IntStorage":      dtI32,
	"ShortStorage":    dtI16,
	"CharStorage":     dtI8,
	"ByteStorage":     dtU8,
	"BoolStorage":     dtBool,
}

// safetensorsDTypes maps the supported safetensors dtypes.
var safetensorsDTypes = map[safetensors.DType]dType{
	safetensors.F32:  dtF32,
	safetensors.F16:  dtF16,
	safetensors.BF16: dtBF16,
	safetensors.F64:  dtF64,
	safetensors.I64:  dtI64,
	safetensors.I32:  dtI32,
	safetensors.I16:  dtI16,
	safetensors.I8:   dtI8,
	safetensors.U8:   dtU8,
	safetensors.BOOL: dtBool,
}

// halfToFloat32 converts IEEE 754 binary16 bits to float32 (exactly).
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0:
		f := float32(mant) * (1.0 / (1 << 24)) // zero or subnormal: mant·2⁻²⁴
		return math.Float32frombits(math.Float32bits(f) | sign)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13) // inf, NaN
	default:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	}
}
