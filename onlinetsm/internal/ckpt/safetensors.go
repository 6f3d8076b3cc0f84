package ckpt

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/nlpodyssey/safetensors"
)

// readSafetensors reads a safetensors file with
// github.com/nlpodyssey/safetensors, which validates the header (offsets
// contiguous, sizes matching dtype × shape, data section exactly filling
// the file) without allocating tensors.
func readSafetensors(data []byte, b *budget) (tensors map[string]*Tensor, meta map[string]string, err error) {
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("%d-byte file: %w", len(data), errTruncated)
	}
	hl := binary.LittleEndian.Uint64(data)
	if hl > uint64(len(data)-8) {
		return nil, nil, fmt.Errorf("header length %d exceeds the %d bytes after it: %w", hl, len(data)-8, errTruncated)
	}
	var hdr safetensors.Metadata
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("malformed header: %v", r)
			}
		}()
		_, hdr, err = safetensors.ReadMetadata(data)
	}()
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "incomplete buffer"):
			return nil, nil, fmt.Errorf("data section of %d bytes does not match the tensors' data_offsets (offsets out of range or %w): %w",
				uint64(len(data)-8)-hl, errTruncated, err)
		case strings.Contains(msg, "DType"):
			return nil, nil, fmt.Errorf("bad header: %w: %w", errUnsupportedDType, err)
		}
		return nil, nil, fmt.Errorf("bad header: %w", err)
	}
	body := data[8+hl:]
	meta = map[string]string{}
	for k, v := range hdr.Metadata() {
		meta[k] = v
	}
	infos := hdr.Tensors()
	names := make([]string, 0, len(infos))
	for name := range infos {
		names = append(names, name)
	}
	sort.Strings(names)
	tensors = make(map[string]*Tensor, len(names))
	for _, name := range names {
		info := infos[name]
		dt, ok := safetensorsDTypes[info.DType]
		if !ok {
			return nil, nil, fmt.Errorf("tensor %q: %w %v", name, errUnsupportedDType, info.DType)
		}
		if len(info.Shape) > maxDims {
			return nil, nil, fmt.Errorf("tensor %q has %d dimensions, more than %d", name, len(info.Shape), maxDims)
		}
		shape := make([]int, len(info.Shape))
		for i, d := range info.Shape {
			if d > math.MaxInt32 {
				return nil, nil, fmt.Errorf("tensor %q: dimension %d out of range", name, d)
			}
			shape[i] = int(d)
		}
		lo, hi := info.DataOffsets[0], info.DataOffsets[1]
		if lo > hi || hi > uint64(len(body)) {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] out of range of %d data bytes", name, lo, hi, len(body))
		}
		raw := body[lo:hi]
		numel := len(raw) / dt.size // the library checked len == numel × size
		if err := b.takeElems(int64(numel), fmt.Sprintf("tensor %q", name)); err != nil {
			return nil, nil, err
		}
		vals := make([]float32, numel)
		for i := range vals {
			vals[i] = dt.conv(raw[i*dt.size:])
		}
		key := strings.TrimPrefix(name, modulePrefix)
		if _, dup := tensors[key]; dup {
			return nil, nil, fmt.Errorf("duplicate key %q after stripping the %q prefix", key, modulePrefix)
		}
		tensors[key] = &Tensor{Shape: shape, Data: vals}
	}
	return tensors, meta, nil
}
