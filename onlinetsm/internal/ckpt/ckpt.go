// Package ckpt reads model checkpoints: PyTorch zip (torch.save, PyTorch ≥
// 1.6), PyTorch legacy (pre-1.6 non-zip torch.save) and safetensors files,
// detected by content, into float32 tensors by key; Params hands them out to
// the model builders of onlinetsm and onlinetsm/offline.
//
// The readers treat every file as hostile:
//
//   - pickles are unpickled by gopickle, but only after a pre-scan
//     (ckptScanPickle) has checked that every length-prefixed opcode argument
//     fits in the bytes available, because gopickle allocates claimed lengths
//     before reading them;
//   - the pickle may only reference an allow-list of globals (ckptFindClass);
//     no Python code is ever run and no other object is constructed. A few
//     known-inert data classes that training frameworks (mmcv, mmaction2)
//     leave in a checkpoint's "meta" or "optimizer" entries — numpy scalars,
//     arrays and dtypes, defaultdict, argparse.Namespace — become inert
//     placeholders (ckptInertGlobals) that keep nothing; a placeholder found
//     among the state dict's entries is an error;
//   - every storage size, offset, stride and shape is checked against the
//     bytes actually present before anything is allocated, and the total
//     number of bytes decompressed and of float32 elements produced is capped
//     by a budget proportional to the file size;
//   - panics inside third-party parsers are recovered and returned as errors.
package ckpt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"sort"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
	"github.com/nlpodyssey/safetensors"
)

// Tensor is one named tensor read from a checkpoint, converted to float32.
type Tensor struct {
	// Shape is the tensor's size; nil or empty for a scalar.
	Shape []int
	// Data holds the product of Shape values (one for a scalar), row-major.
	Data []float32
}

// Checkpoint is what a file holds: its tensors by key (with any "module."
// prefix removed), string metadata (safetensors __metadata__; empty for
// torch files) and the detected format.
type Checkpoint struct {
	// Format is FormatZip, FormatLegacy or FormatSafetensors.
	Format string
	// Tensors are the state dict's tensors by key.
	Tensors map[string]*Tensor
	// Meta is the safetensors metadata; empty, never nil, for torch files.
	Meta map[string]string
}

// Checkpoint format names, as stored in Checkpoint.Format.
const (
	FormatZip         = "pytorch-zip"
	FormatLegacy      = "pytorch-legacy"
	FormatSafetensors = "safetensors"
)

// Limits on what a checkpoint may make the reader allocate.
const (
	// ckptMaxDims is the largest tensor rank accepted (PyTorch's own limit is 64).
	ckptMaxDims = 64
	// ckptMaxNumberText bounds the text of INT/LONG/FLOAT pickle opcodes and
	// the byte length of LONG4, whose decoding in gopickle is quadratic.
	ckptMaxNumberText = 4096
	// ckptModulePrefix is the key prefix added by nn.DataParallel.
	ckptModulePrefix = "module."
)

// Errors that Read wraps, for callers and tests that use errors.Is.
var (
	errCkptUnknownFormat  = errors.New("not a checkpoint (unknown format)")
	errCkptTruncated      = errors.New("truncated file")
	errCkptDisallowed     = errors.New("pickle references disallowed class")
	errCkptNoTensors      = errors.New("no tensors found")
	errCkptBudget         = errors.New("checkpoint claims more data than the file can hold")
	errCkptMalformedPkl   = errors.New("malformed pickle")
	errCkptUnsupportedDTy = errors.New("unsupported dtype")
)

// Read parses a checkpoint from its bytes; the format is detected by
// content, not name.
//
// A PyTorch file may hold a bare state dict or a dict with the state dict
// under "state_dict" (other entries such as "epoch" or "optimizer" are
// ignored); non-tensor entries of the state dict are ignored and a leading
// "module." is stripped from every key. All tensors are converted to float32.
func Read(data []byte) (*Checkpoint, error) {
	return ckptRead(data, true)
}

// LoadFile reads the checkpoint at path and builds a model from it with
// build. Errors other than the file system's (which name the path) start
// with "load PATH: ".
func LoadFile[M any](path string, build func(*Checkpoint) (M, error)) (M, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var zero M
		return zero, err
	}
	m, err := LoadBytes(data, build)
	if err != nil {
		return m, fmt.Errorf("load %s: %w", path, err)
	}
	return m, nil
}

// LoadBytes reads a checkpoint from data and builds a model from it with
// build.
func LoadBytes[M any](data []byte, build func(*Checkpoint) (M, error)) (M, error) {
	ck, err := Read(data)
	if err != nil {
		var zero M
		return zero, err
	}
	return build(ck)
}

// ckptRead is Read. With recoverAll it turns any panic, including
// one in this file, into an error; tests and fuzz targets pass false so that
// bugs here are found rather than hidden. Panics inside gopickle and
// safetensors are always recovered.
func ckptRead(data []byte, recoverAll bool) (ck *Checkpoint, err error) {
	if recoverAll {
		defer func() {
			if r := recover(); r != nil {
				ck, err = nil, fmt.Errorf("checkpoint: malformed input (internal panic: %v)", r)
			}
		}()
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("checkpoint: empty file: %w", errCkptUnknownFormat)
	}
	format := ckptDetect(data)
	if format == "" {
		return nil, fmt.Errorf("checkpoint: %w: %d bytes, neither a PyTorch zip or legacy file nor safetensors", errCkptUnknownFormat, len(data))
	}
	b := newCkptBudget(len(data))
	var tensors map[string]*Tensor
	meta := map[string]string{}
	switch format {
	case FormatZip:
		tensors, err = readTorchZip(data, b)
	case FormatLegacy:
		tensors, err = readTorchLegacy(data, b)
	case FormatSafetensors:
		tensors, meta, err = readSafetensorsFile(data, b)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", format, err)
	}
	if len(tensors) == 0 {
		return nil, fmt.Errorf("checkpoint: %s: %w", format, errCkptNoTensors)
	}
	return &Checkpoint{Format: format, Tensors: tensors, Meta: meta}, nil
}

// ckptDetect returns the format of data judged by its first bytes, or "".
func ckptDetect(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")):
		return FormatZip
	case len(data) >= 9 && data[8] == '{':
		// 8-byte little-endian header length, then a JSON object.
		return FormatSafetensors
	case data[0] == 0x80: // pickle PROTO opcode: the legacy magic-number pickle
		return FormatLegacy
	}
	return ""
}

// ckptBudget bounds what a checkpoint can make the reader allocate: bytes
// decompressed from zip records and float32 elements produced.
type ckptBudget struct {
	zipBytes int64 // bytes that zip records may still decompress to
	elems    int64 // float32 elements that may still be produced
}

// newCkptBudget returns the budget for a file of n bytes: stored zip records
// can never exceed the file, deflated ones may expand 8-fold; tensors may
// produce twice as many elements as the file has bytes (views sharing a
// storage, broadcast views), which is 8× the file size in float32 memory.
func newCkptBudget(n int) *ckptBudget {
	return &ckptBudget{zipBytes: 8*int64(n) + 1<<16, elems: 2*int64(n) + 1024}
}

func (b *ckptBudget) takeZipBytes(n uint64, what string) error {
	if n > uint64(b.zipBytes) {
		return fmt.Errorf("%s claims %d bytes: %w", what, n, errCkptBudget)
	}
	b.zipBytes -= int64(n)
	return nil
}

func (b *ckptBudget) takeElems(n int64, what string) error {
	if n < 0 || n > b.elems {
		return fmt.Errorf("%s has %d elements: %w", what, n, errCkptBudget)
	}
	b.elems -= n
	return nil
}

// ---------------------------------------------------------------------------
// dtypes

// ckptDType describes how one element of a storage is laid out.
type ckptDType struct {
	name string // PyTorch storage name or safetensors dtype, for errors
	size int    // bytes per element
	conv func(b []byte) float32
}

var (
	ckptF32  = ckptDType{"float32", 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }}
	ckptF16  = ckptDType{"float16", 2, func(b []byte) float32 { return ckptHalfToFloat32(binary.LittleEndian.Uint16(b)) }}
	ckptBF   = ckptDType{"bfloat16", 2, func(b []byte) float32 { return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16) }}
	ckptF64  = ckptDType{"float64", 8, func(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) }}
	ckptI64  = ckptDType{"int64", 8, func(b []byte) float32 { return float32(int64(binary.LittleEndian.Uint64(b))) }}
	ckptI32  = ckptDType{"int32", 4, func(b []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(b))) }}
	ckptI16  = ckptDType{"int16", 2, func(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) }}
	ckptI8   = ckptDType{"int8", 1, func(b []byte) float32 { return float32(int8(b[0])) }}
	ckptU8   = ckptDType{"uint8", 1, func(b []byte) float32 { return float32(b[0]) }}
	ckptBool = ckptDType{"bool", 1, func(b []byte) float32 {
		if b[0] != 0 {
			return 1
		}
		return 0
	}}
)

// ckptTorchStorages maps the allowed torch.*Storage globals to dtypes.
var ckptTorchStorages = map[string]ckptDType{
	"FloatStorage":    ckptF32,
	"HalfStorage":     ckptF16,
	"BFloat16Storage": ckptBF,
	"DoubleStorage":   ckptF64,
	"LongStorage":     ckptI64,
	"IntStorage":      ckptI32,
	"ShortStorage":    ckptI16,
	"CharStorage":     ckptI8,
	"ByteStorage":     ckptU8,
	"BoolStorage":     ckptBool,
}

// ckptSafetensorsDTypes maps the supported safetensors dtypes.
var ckptSafetensorsDTypes = map[safetensors.DType]ckptDType{
	safetensors.F32:  ckptF32,
	safetensors.F16:  ckptF16,
	safetensors.BF16: ckptBF,
	safetensors.F64:  ckptF64,
	safetensors.I64:  ckptI64,
	safetensors.I32:  ckptI32,
	safetensors.I16:  ckptI16,
	safetensors.I8:   ckptI8,
	safetensors.U8:   ckptU8,
	safetensors.BOOL: ckptBool,
}

// ckptHalfToFloat32 converts IEEE 754 binary16 bits to float32 (exactly).
func ckptHalfToFloat32(h uint16) float32 {
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

// ---------------------------------------------------------------------------
// pickle handling

// ckptScanPickle walks the opcodes of the pickle at the start of p without
// building anything and returns its length up to and including STOP. It
// rejects unknown opcodes and any length-prefixed argument (strings, bytes,
// frames, longs) that does not fit in the bytes that remain, so that
// gopickle, which allocates claimed lengths up front, only ever allocates
// what the file really holds.
func ckptScanPickle(p []byte) (int, error) {
	i := 0
	need := func(n uint64, op byte) error {
		if n > uint64(len(p)-i) {
			return fmt.Errorf("%w: opcode 0x%02x at offset %d needs %d bytes, %d left: %w",
				errCkptMalformedPkl, op, i-1, n, len(p)-i, errCkptTruncated)
		}
		return nil
	}
	line := func(op byte, limit int) error {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			return fmt.Errorf("%w: opcode 0x%02x at offset %d: unterminated line: %w", errCkptMalformedPkl, op, i-1, errCkptTruncated)
		}
		if limit > 0 && j > limit {
			return fmt.Errorf("%w: opcode 0x%02x at offset %d: argument of %d bytes is too long", errCkptMalformedPkl, op, i-1, j)
		}
		i += j + 1
		return nil
	}
	for i < len(p) {
		op := p[i]
		i++
		var err error
		switch op {
		case '.': // STOP
			return i, nil
		case '(', '0', '1', '2', 'N', 't', ')', 0x85, 0x86, 0x87, ']', 'a', 'e', 'l',
			'}', 'd', 's', 'u', 0x8f, 0x90, 0x91, 'b', 'R', 0x81, 0x92, 'o', 0x93, 0x94,
			'Q', 0x88, 0x89, 0x97, 0x98:
			// no argument
		case 0x80, 'K', 'h', 'q', 0x82: // PROTO BININT1 BINGET BINPUT EXT1
			err = need(1, op)
			i++
		case 'M', 0x83: // BININT2 EXT2
			err = need(2, op)
			i += 2
		case 'J', 'j', 'r', 0x84: // BININT LONG_BINGET LONG_BINPUT EXT4
			err = need(4, op)
			i += 4
		case 'G': // BINFLOAT
			err = need(8, op)
			i += 8
		case 0x95: // FRAME: its payload is more opcodes, which are scanned next
			if err = need(8, op); err == nil {
				n := binary.LittleEndian.Uint64(p[i:])
				i += 8
				err = need(n, op)
			}
		case 'U', 'C', 0x8c, 0x8a: // SHORT_BINSTRING SHORT_BINBYTES SHORT_BINUNICODE LONG1
			if err = need(1, op); err == nil {
				n := uint64(p[i])
				i++
				if op == 0x8a && n == 0 {
					err = fmt.Errorf("%w: LONG1 of length 0 at offset %d", errCkptMalformedPkl, i-2)
				} else if err = need(n, op); err == nil {
					i += int(n)
				}
			}
		case 'T', 'B', 'X', 0x8b: // BINSTRING BINBYTES BINUNICODE LONG4
			if err = need(4, op); err == nil {
				n := uint64(binary.LittleEndian.Uint32(p[i:]))
				i += 4
				if (op == 'T' || op == 0x8b) && n >= 1<<31 {
					err = fmt.Errorf("%w: negative length at offset %d", errCkptMalformedPkl, i-5)
				} else if op == 0x8b && (n == 0 || n > ckptMaxNumberText) {
					err = fmt.Errorf("%w: LONG4 of %d bytes at offset %d", errCkptMalformedPkl, n, i-5)
				} else if err = need(n, op); err == nil {
					i += int(n)
				}
			}
		case 0x8d, 0x8e, 0x96: // BINUNICODE8 BINBYTES8 BYTEARRAY8
			if err = need(8, op); err == nil {
				n := binary.LittleEndian.Uint64(p[i:])
				i += 8
				if err = need(n, op); err == nil {
					i += int(n)
				}
			}
		case 'I', 'L', 'F': // INT LONG FLOAT (text)
			err = line(op, ckptMaxNumberText)
		case 'S', 'V', 'P', 'g', 'p': // STRING UNICODE PERSID GET PUT (text)
			err = line(op, 0)
		case 'c', 'i': // GLOBAL INST: module and name lines
			if err = line(op, 0); err == nil {
				err = line(op, 0)
			}
		default:
			err = fmt.Errorf("%w: unknown opcode 0x%02x at offset %d", errCkptMalformedPkl, op, i-1)
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("%w: no STOP opcode: %w", errCkptMalformedPkl, errCkptTruncated)
}

// ckptUnpickle scans and unpickles the pickle at the start of p and returns
// the object and the number of bytes it used. findClass and persistentLoad
// may be nil (then no global besides gopickle's harmless built-ins and no
// persistent id is accepted).
func ckptUnpickle(p []byte, findClass func(module, name string) (interface{}, error),
	persistentLoad func(interface{}) (interface{}, error)) (obj interface{}, n int, err error) {
	n, err = ckptScanPickle(p)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if r := recover(); r != nil {
			obj, n, err = nil, 0, fmt.Errorf("%w (unpickler panic: %v)", errCkptMalformedPkl, r)
		}
	}()
	if findClass == nil {
		findClass = ckptFindNoClass
	}
	if persistentLoad == nil {
		persistentLoad = func(interface{}) (interface{}, error) {
			return nil, errors.New("unexpected persistent id")
		}
	}
	u := pickle.NewUnpickler(bytes.NewReader(p[:n]))
	u.FindClass = func(module, name string) (interface{}, error) {
		v, err := findClass(module, name)
		return v, ckptPass(err)
	}
	u.PersistentLoad = func(pid interface{}) (interface{}, error) {
		v, err := persistentLoad(pid)
		return v, ckptPass(err)
	}
	obj, err = u.Load()
	if err != nil {
		var pe *ckptPassErr
		if errors.As(err, &pe) {
			return nil, 0, pe.err // our own checks already say what is wrong
		}
		return nil, 0, fmt.Errorf("%w: %w", errCkptMalformedPkl, err)
	}
	return obj, n, nil
}

// ckptPassErr marks an error raised by this file's callbacks (class lookup,
// persistent load, rebuild functions) while gopickle runs, so that
// ckptUnpickle returns it as is rather than as a malformed pickle.
type ckptPassErr struct{ err error }

func (e *ckptPassErr) Error() string { return e.err.Error() }
func (e *ckptPassErr) Unwrap() error { return e.err }

func ckptPass(err error) error {
	if err == nil {
		return nil
	}
	return &ckptPassErr{err}
}

// ckptFindNoClass is the FindClass of pickles that must not name any global.
func ckptFindNoClass(module, name string) (interface{}, error) {
	return nil, fmt.Errorf("%w %q", errCkptDisallowed, module+"."+name)
}

// ckptFindClass is the allow-list of globals a torch checkpoint may name.
// (gopickle itself resolves collections.OrderedDict, __builtin__.object and
// copy_reg._reconstructor to inert Go values before asking.)
func ckptFindClass(module, name string) (interface{}, error) {
	if module == "torch" {
		if dt, ok := ckptTorchStorages[name]; ok {
			return &ckptStorageClass{name: name, dtype: dt}, nil
		}
		if name == "Size" {
			return ckptFunc{name: "torch.Size", fn: ckptTorchSize}, nil
		}
		if strings.HasSuffix(name, "Storage") {
			return nil, fmt.Errorf("%w torch.%s", errCkptUnsupportedDTy, name)
		}
	}
	if module == "torch._utils" {
		switch name {
		case "_rebuild_tensor_v2":
			return ckptFunc{name: "_rebuild_tensor_v2", fn: ckptRebuildTensorV2}, nil
		case "_rebuild_tensor":
			return ckptFunc{name: "_rebuild_tensor", fn: ckptRebuildTensor}, nil
		case "_rebuild_parameter", "_rebuild_parameter_with_state":
			return ckptFunc{name: name, fn: ckptRebuildParameter}, nil
		}
	}
	if ckptInertGlobals[module+"."+name] {
		return ckptInert{name: module + "." + name}, nil
	}
	return ckptFindNoClass(module, name)
}

// ckptInertGlobals are the data classes and functions that may appear
// outside the state dict (mmcv/mmaction2 "meta": numpy scalars in hook
// messages, numpy arrays, env info, argparse namespaces) and that the reader
// turns into inert placeholders instead of rejecting the file. None of them
// can run code in Python either when given plain data, and here nothing of
// them runs at all.
var ckptInertGlobals = map[string]bool{
	"numpy.core.multiarray.scalar":        true,
	"numpy.core.multiarray._reconstruct":  true,
	"numpy._core.multiarray.scalar":       true, // numpy ≥ 2
	"numpy._core.multiarray._reconstruct": true,
	"numpy.dtype":                         true,
	"numpy.ndarray":                       true,
	"_codecs.encode":                      true,
	"collections.defaultdict":             true,
	"argparse.Namespace":                  true,
	"__builtin__.list":                    true, // a defaultdict's factory
	"builtins.list":                       true,
	"__builtin__.dict":                    true,
	"builtins.dict":                       true,
}

// ckptInert is an allowed inert global. Calling it (REDUCE) or
// instantiating it (NEWOBJ) gives a placeholder that keeps no state: BUILD,
// SETITEM(S) and APPEND(S) on it are accepted and dropped.
type ckptInert struct{ name string }

// Call implements types.Callable.
func (c ckptInert) Call(args ...interface{}) (interface{}, error) {
	return &ckptPlaceholder{name: c.name}, nil
}

// PyNew implements types.PyNewable.
func (c ckptInert) PyNew(args ...interface{}) (interface{}, error) {
	return &ckptPlaceholder{name: c.name}, nil
}

// ckptPlaceholder stands for an object built from an inert global.
type ckptPlaceholder struct{ name string }

// PySetState implements types.PyStateSettable (BUILD): the state is dropped.
func (p *ckptPlaceholder) PySetState(state interface{}) error { return nil }

// Set implements types.DictSetter (SETITEM on a defaultdict): dropped.
func (p *ckptPlaceholder) Set(key, value interface{}) {}

// Append implements types.ListAppender: dropped.
func (p *ckptPlaceholder) Append(v interface{}) {}

var (
	_ types.Callable        = ckptInert{}
	_ types.PyNewable       = ckptInert{}
	_ types.PyStateSettable = (*ckptPlaceholder)(nil)
	_ types.DictSetter      = (*ckptPlaceholder)(nil)
	_ types.ListAppender    = (*ckptPlaceholder)(nil)
)

// ckptFunc is an allowed Python callable, implemented in Go.
type ckptFunc struct {
	name string
	fn   func(args []interface{}) (interface{}, error)
}

// Call implements types.Callable.
func (f ckptFunc) Call(args ...interface{}) (interface{}, error) {
	v, err := f.fn(args)
	if err != nil {
		return nil, ckptPass(fmt.Errorf("%s: %w", f.name, err))
	}
	return v, nil
}

var _ types.Callable = ckptFunc{}

// ckptStorageClass is a torch.*Storage global: it only names a dtype.
type ckptStorageClass struct {
	name  string
	dtype ckptDType
}

// ckptStorage is a typed storage of a torch file: numel elements of dtype in
// data (len numel·dtype.size once loaded; nil until then in legacy files),
// or, for legacy storage views, a window of root.
type ckptStorage struct {
	key    string
	dtype  ckptDType
	numel  int
	data   []byte
	root   *ckptStorage // non-nil for a legacy view
	offset int          // first element of a view in root
}

// bytes returns the storage's loaded bytes.
func (s *ckptStorage) bytes() ([]byte, error) {
	if s.root != nil {
		rb, err := s.root.bytes()
		if err != nil {
			return nil, err
		}
		es := s.dtype.size
		return rb[s.offset*es : (s.offset+s.numel)*es], nil // bounds checked when the view was made
	}
	if s.data == nil {
		return nil, fmt.Errorf("missing storage record for key %q", s.key)
	}
	return s.data, nil
}

// ckptTensor is a tensor as unpickled: a strided view of a storage.
type ckptTensor struct {
	storage *ckptStorage
	offset  int
	size    []int
	stride  []int
}

// ckptInt converts a pickled integer to int.
func ckptInt(v interface{}) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case *big.Int:
		if x.IsInt64() && x.Int64() >= math.MinInt && x.Int64() <= math.MaxInt {
			return int(x.Int64()), true
		}
	}
	return 0, false
}

// ckptInts converts a pickled tuple of integers, such as a size or stride.
func ckptInts(v interface{}, what string) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%s is %T, not a tuple", what, v)
	}
	if t.Len() > ckptMaxDims {
		return nil, fmt.Errorf("%s has %d dimensions, more than %d", what, t.Len(), ckptMaxDims)
	}
	out := make([]int, t.Len())
	for i := range out {
		n, ok := ckptInt(t.Get(i))
		if !ok || n < 0 {
			return nil, fmt.Errorf("%s[%d] = %v is not a non-negative integer", what, i, t.Get(i))
		}
		out[i] = n
	}
	return out, nil
}

func ckptTorchSize(args []interface{}) (interface{}, error) {
	if len(args) == 0 {
		return types.NewTupleFromSlice(nil), nil
	}
	if _, err := ckptInts(args[0], "size"); err != nil {
		return nil, err
	}
	return args[0], nil
}

// ckptRebuildTensorV2 is torch._utils._rebuild_tensor_v2(storage,
// storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
func ckptRebuildTensorV2(args []interface{}) (interface{}, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("%d arguments, want 6 or 7", len(args))
	}
	return ckptRebuildTensor(args[:4])
}

// ckptRebuildTensor is torch._utils._rebuild_tensor(storage, storage_offset, size, stride).
func ckptRebuildTensor(args []interface{}) (interface{}, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("%d arguments, want 4", len(args))
	}
	st, ok := args[0].(*ckptStorage)
	if !ok {
		return nil, fmt.Errorf("storage argument is %T, not a storage", args[0])
	}
	off, ok := ckptInt(args[1])
	if !ok || off < 0 {
		return nil, fmt.Errorf("storage offset %v is not a non-negative integer", args[1])
	}
	size, err := ckptInts(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := ckptInts(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("size has %d dimensions but stride has %d", len(size), len(stride))
	}
	return &ckptTensor{storage: st, offset: off, size: size, stride: stride}, nil
}

// ckptRebuildParameter is torch._utils._rebuild_parameter(data,
// requires_grad, backward_hooks) (and _rebuild_parameter_with_state, which
// adds a state argument): the parameter is its tensor.
func ckptRebuildParameter(args []interface{}) (interface{}, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, fmt.Errorf("%d arguments, want 3 or 4", len(args))
	}
	t, ok := args[0].(*ckptTensor)
	if !ok {
		return nil, fmt.Errorf("data argument is %T, not a tensor", args[0])
	}
	return t, nil
}

// ckptStorageID parses the fields common to zip and legacy persistent ids:
// ('storage', storage_type, key, location, numel, ...).
func ckptStorageID(pid interface{}, minLen int) (tup *types.Tuple, cls *ckptStorageClass, key string, numel int, err error) {
	tup, ok := pid.(*types.Tuple)
	if !ok || tup.Len() == 0 {
		return nil, nil, "", 0, fmt.Errorf("persistent id is %T, not a tuple", pid)
	}
	if tn, _ := tup.Get(0).(string); tn != "storage" {
		if tn == "module" {
			return nil, nil, "", 0, errors.New("pickled nn.Module objects are not supported (save a state_dict)")
		}
		return nil, nil, "", 0, fmt.Errorf("persistent id of type %v, want \"storage\"", tup.Get(0))
	}
	if tup.Len() < minLen {
		return nil, nil, "", 0, fmt.Errorf("storage persistent id has %d fields, want %d", tup.Len(), minLen)
	}
	cls, ok = tup.Get(1).(*ckptStorageClass)
	if !ok {
		return nil, nil, "", 0, fmt.Errorf("storage type is %T, not a torch storage class", tup.Get(1))
	}
	key, ok = tup.Get(2).(string)
	if !ok {
		return nil, nil, "", 0, fmt.Errorf("storage key is %T, not a string", tup.Get(2))
	}
	if _, ok := tup.Get(3).(string); !ok {
		return nil, nil, "", 0, fmt.Errorf("storage location is %T, not a string", tup.Get(3))
	}
	numel, ok = ckptInt(tup.Get(4))
	if !ok || numel < 0 {
		return nil, nil, "", 0, fmt.Errorf("storage %q size %v is not a non-negative integer", key, tup.Get(4))
	}
	return tup, cls, key, numel, nil
}

// ---------------------------------------------------------------------------
// PyTorch zip format

// readTorchZip reads a torch.save zip archive: <dir>/data.pkl, whose
// persistent ids name storages stored as <dir>/data/<key>.
func readTorchZip(data []byte, b *ckptBudget) (map[string]*Tensor, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !(errors.Is(err, zip.ErrInsecurePath) && zr != nil) {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, zip.ErrFormat) {
			return nil, fmt.Errorf("corrupt zip archive (%w?): %w", errCkptTruncated, err)
		}
		return nil, fmt.Errorf("corrupt zip archive: %w", err)
	}
	records := make(map[string]*zip.File, len(zr.File))
	pklName := ""
	for _, f := range zr.File {
		if _, dup := records[f.Name]; dup {
			return nil, fmt.Errorf("duplicate zip record %q", f.Name)
		}
		records[f.Name] = f
		if f.Name == "data.pkl" || (strings.HasSuffix(f.Name, "/data.pkl") && strings.Count(f.Name, "/") == 1) {
			if pklName != "" {
				return nil, fmt.Errorf("zip archive holds both %q and %q", pklName, f.Name)
			}
			pklName = f.Name
		}
	}
	if pklName == "" {
		return nil, fmt.Errorf("zip archive has no data.pkl record: not a PyTorch checkpoint")
	}
	prefix := strings.TrimSuffix(pklName, "data.pkl")
	if _, ok := records[prefix+"constants.pkl"]; ok {
		return nil, errors.New("TorchScript archives are not supported (save a state_dict)")
	}
	if f, ok := records[prefix+"byteorder"]; ok {
		if f.UncompressedSize64 > 16 {
			return nil, fmt.Errorf("byteorder record of %d bytes", f.UncompressedSize64)
		}
		bo, err := ckptReadZipRecord(f, b)
		if err != nil {
			return nil, err
		}
		if s := string(bo); s != "little" {
			return nil, fmt.Errorf("byte order %q is not supported", s)
		}
	}
	pkl, err := ckptReadZipRecord(records[pklName], b)
	if err != nil {
		return nil, err
	}

	storages := map[string]*ckptStorage{}
	persistentLoad := func(pid interface{}) (interface{}, error) {
		_, cls, key, numel, err := ckptStorageID(pid, 5)
		if err != nil {
			return nil, err
		}
		if s, ok := storages[key]; ok {
			if s.dtype.name != cls.dtype.name || s.numel != numel {
				return nil, fmt.Errorf("storage %q used as %d×%s and %d×%s", key, s.numel, s.dtype.name, numel, cls.dtype.name)
			}
			return s, nil
		}
		name := prefix + "data/" + key
		f, ok := records[name]
		if !ok {
			return nil, fmt.Errorf("missing storage record %q", name)
		}
		if uint64(numel) > f.UncompressedSize64/uint64(cls.dtype.size) ||
			uint64(numel)*uint64(cls.dtype.size) != f.UncompressedSize64 {
			return nil, fmt.Errorf("storage %q claims %d×%s elements but its record holds %d bytes: storage out of range",
				key, numel, cls.dtype.name, f.UncompressedSize64)
		}
		buf, err := ckptReadZipRecord(f, b)
		if err != nil {
			return nil, err
		}
		s := &ckptStorage{key: key, dtype: cls.dtype, numel: numel, data: buf}
		storages[key] = s
		return s, nil
	}
	obj, _, err := ckptUnpickle(pkl, ckptFindClass, persistentLoad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pklName, err)
	}
	return ckptCollect(obj, b)
}

// ckptReadZipRecord reads one whole zip record, charging it to the budget
// before allocating and checking its CRC.
func ckptReadZipRecord(f *zip.File, b *ckptBudget) ([]byte, error) {
	size := f.UncompressedSize64
	if err := b.takeZipBytes(size, fmt.Sprintf("zip record %q", f.Name)); err != nil {
		return nil, err
	}
	if f.Method == zip.Store && f.CompressedSize64 != size {
		return nil, fmt.Errorf("zip record %q: stored size %d != size %d", f.Name, f.CompressedSize64, size)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("zip record %q: %w", f.Name, err)
	}
	defer rc.Close()
	buf := make([]byte, size)
	if _, err := io.ReadFull(rc, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("zip record %q: %w: %w", f.Name, errCkptTruncated, err)
		}
		return nil, fmt.Errorf("zip record %q: %w", f.Name, err)
	}
	var one [1]byte
	if n, err := rc.Read(one[:]); n > 0 || (err != nil && err != io.EOF) {
		if err == nil {
			err = errors.New("longer than its declared size")
		}
		return nil, fmt.Errorf("zip record %q: %w", f.Name, err)
	}
	return buf, nil
}

// ---------------------------------------------------------------------------
// PyTorch legacy format

// ckptLegacyMagic is torch's legacy MAGIC_NUMBER, 0x1950a86a20f9469cfc6c.
var ckptLegacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// readTorchLegacy reads a pre-1.6 torch.save file: magic number, protocol
// version and sys info pickles, the main pickle, the list of storage keys,
// then for each key an int64 element count and the raw little-endian data.
func readTorchLegacy(data []byte, b *ckptBudget) (map[string]*Tensor, error) {
	pos := 0
	next := func(what string, findClass func(string, string) (interface{}, error),
		pl func(interface{}) (interface{}, error)) (interface{}, error) {
		obj, n, err := ckptUnpickle(data[pos:], findClass, pl)
		if err != nil {
			return nil, fmt.Errorf("%s pickle at offset %d: %w", what, pos, err)
		}
		pos += n
		return obj, nil
	}
	magic, err := next("magic number", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", errCkptUnknownFormat, err)
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(ckptLegacyMagic) != 0 {
		return nil, fmt.Errorf("%w: a pickle, but without the PyTorch magic number", errCkptUnknownFormat)
	}
	proto, err := next("protocol version", nil, nil)
	if err != nil {
		return nil, err
	}
	if p, ok := ckptInt(proto); !ok || p != 1001 {
		return nil, fmt.Errorf("unsupported legacy protocol version %v", proto)
	}
	sysInfo, err := next("sys info", nil, nil)
	if err != nil {
		return nil, err
	}
	if le, ok := ckptDictLookup(sysInfo, "little_endian"); ok && le != true {
		return nil, errors.New("big-endian checkpoints are not supported")
	}

	roots := map[string]*ckptStorage{}
	views := map[string]*ckptStorage{}
	persistentLoad := func(pid interface{}) (interface{}, error) {
		tup, cls, key, numel, err := ckptStorageID(pid, 6)
		if err != nil {
			return nil, err
		}
		root, ok := roots[key]
		if !ok {
			if uint64(numel) > uint64(len(data))/uint64(cls.dtype.size) {
				return nil, fmt.Errorf("storage %q claims %d×%s elements, more than the file's %d bytes: %w",
					key, numel, cls.dtype.name, len(data), errCkptBudget)
			}
			root = &ckptStorage{key: key, dtype: cls.dtype, numel: numel}
			roots[key] = root
		} else if root.dtype.name != cls.dtype.name {
			return nil, fmt.Errorf("storage %q used as %s and %s", key, root.dtype.name, cls.dtype.name)
		}
		vm := tup.Get(5)
		if vm == nil {
			return root, nil
		}
		vt, ok := vm.(*types.Tuple)
		if !ok || vt.Len() != 3 {
			return nil, fmt.Errorf("storage %q view metadata is %T, want (key, offset, size)", key, vm)
		}
		vkey, ok1 := vt.Get(0).(string)
		voff, ok2 := ckptInt(vt.Get(1))
		vsize, ok3 := ckptInt(vt.Get(2))
		if !ok1 || !ok2 || !ok3 || voff < 0 || vsize < 0 || voff > root.numel || vsize > root.numel-voff {
			return nil, fmt.Errorf("storage %q view %v out of range of its %d elements", key, vm, root.numel)
		}
		if v, ok := views[vkey]; ok {
			if v.root != root || v.offset != voff || v.numel != vsize {
				return nil, fmt.Errorf("storage view %q redefined", vkey)
			}
			return v, nil
		}
		v := &ckptStorage{key: vkey, dtype: root.dtype, numel: vsize, root: root, offset: voff}
		views[vkey] = v
		return v, nil
	}
	obj, err := next("main", ckptFindClass, persistentLoad)
	if err != nil {
		return nil, err
	}
	keysObj, err := next("storage keys", nil, nil)
	if err != nil {
		return nil, err
	}
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("storage keys pickle is %T, not a list", keysObj)
	}
	for _, k := range *keys {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("storage key is %T, not a string", k)
		}
		s, ok := roots[key]
		if !ok {
			return nil, fmt.Errorf("storage key %q is not used by the pickle", key)
		}
		if s.data != nil {
			return nil, fmt.Errorf("storage key %q listed twice", key)
		}
		if len(data)-pos < 8 {
			return nil, fmt.Errorf("storage %q header at offset %d: %w", key, pos, errCkptTruncated)
		}
		n := binary.LittleEndian.Uint64(data[pos:])
		pos += 8
		if n != uint64(s.numel) {
			return nil, fmt.Errorf("storage %q holds %d elements, the pickle says %d", key, n, s.numel)
		}
		nb := s.numel * s.dtype.size // ≤ len(data), checked in persistentLoad
		if nb > len(data)-pos {
			return nil, fmt.Errorf("storage %q needs %d bytes at offset %d, %d left: %w", key, nb, pos, len(data)-pos, errCkptTruncated)
		}
		s.data = data[pos : pos+nb : pos+nb]
		pos += nb
	}
	return ckptCollect(obj, b)
}

// ---------------------------------------------------------------------------
// From the unpickled object to raw tensors

// ckptKV is one dict entry.
type ckptKV struct {
	key, value interface{}
}

// ckptDictEntries returns the entries of a pickled dict or OrderedDict in
// order (for a dict with repeated keys, the last value wins, as in Python).
func ckptDictEntries(v interface{}) ([]ckptKV, bool) {
	switch d := v.(type) {
	case *types.OrderedDict:
		out := make([]ckptKV, 0, d.Len())
		for e := d.List.Front(); e != nil; e = e.Next() {
			if ent, ok := e.Value.(*types.OrderedDictEntry); ok {
				out = append(out, ckptKV{ent.Key, ent.Value})
			}
		}
		return out, true
	case *types.Dict:
		out := make([]ckptKV, 0, len(*d))
		index := map[string]int{}
		for _, ent := range *d {
			if k, ok := ent.Key.(string); ok {
				if i, seen := index[k]; seen {
					out[i].value = ent.Value
					continue
				}
				index[k] = len(out)
			}
			out = append(out, ckptKV{ent.Key, ent.Value})
		}
		return out, true
	}
	return nil, false
}

// ckptDictLookup returns the value of a string key in a pickled dict.
func ckptDictLookup(v interface{}, key string) (interface{}, bool) {
	entries, ok := ckptDictEntries(v)
	if !ok {
		return nil, false
	}
	for _, e := range entries {
		if k, ok := e.key.(string); ok && k == key {
			return e.value, true
		}
	}
	return nil, false
}

// ckptCollect finds the state dict in a torch checkpoint's object and
// converts its tensors.
func ckptCollect(obj interface{}, b *ckptBudget) (map[string]*Tensor, error) {
	sd := obj
	if _, isDict := ckptDictEntries(obj); !isDict {
		if _, isTensor := obj.(*ckptTensor); isTensor {
			return nil, fmt.Errorf("file holds a single tensor, not a state dict: %w", errCkptNoTensors)
		}
		return nil, fmt.Errorf("top-level object is %s, not a dict: %w", ckptTypeName(obj), errCkptNoTensors)
	}
	if v, ok := ckptDictLookup(obj, "state_dict"); ok {
		if _, isDict := ckptDictEntries(v); !isDict {
			return nil, fmt.Errorf("\"state_dict\" entry is %s, not a dict", ckptTypeName(v))
		}
		sd = v
	}
	entries, _ := ckptDictEntries(sd)
	out := map[string]*Tensor{}
	from := map[string]string{}
	for _, e := range entries {
		for _, v := range []interface{}{e.key, e.value} {
			switch p := v.(type) {
			case *ckptPlaceholder:
				return nil, fmt.Errorf("state dict entry %v holds a %s object, not a tensor: %w", e.key, p.name, errCkptDisallowed)
			case ckptInert:
				return nil, fmt.Errorf("state dict entry %v holds the global %s, not a tensor: %w", e.key, p.name, errCkptDisallowed)
			}
		}
		t, ok := e.value.(*ckptTensor)
		if !ok {
			continue // non-tensor entries (and non-string keys) are ignored
		}
		key, ok := e.key.(string)
		if !ok {
			continue
		}
		name := strings.TrimPrefix(key, ckptModulePrefix)
		if prev, dup := from[name]; dup {
			return nil, fmt.Errorf("duplicate key %q after stripping the %q prefix (from %q and %q)", name, ckptModulePrefix, prev, key)
		}
		rt, err := t.toRaw(b)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", key, err)
		}
		from[name] = key
		out[name] = rt
	}
	return out, nil
}

// ckptTypeName names the Python type of an unpickled value, for errors.
func ckptTypeName(v interface{}) string {
	switch v.(type) {
	case nil:
		return "None"
	case *ckptTensor:
		return "a tensor"
	case *types.List:
		return "a list"
	case *types.Tuple:
		return "a tuple"
	case string:
		return "a str"
	case int, *big.Int:
		return "an int"
	case float64:
		return "a float"
	case bool:
		return "a bool"
	}
	return fmt.Sprintf("a %T", v)
}

// toRaw gathers the elements of a strided tensor view into a dense float32
// Tensor, after checking that the view lies inside its storage.
func (t *ckptTensor) toRaw(b *ckptBudget) (*Tensor, error) {
	sb, err := t.storage.bytes()
	if err != nil {
		return nil, err
	}
	numel := int64(1)
	for _, d := range t.size {
		if d != 0 && numel > math.MaxInt64/int64(d) {
			return nil, fmt.Errorf("shape %v overflows", t.size)
		}
		numel *= int64(d)
	}
	if err := b.takeElems(numel, fmt.Sprintf("shape %v", t.size)); err != nil {
		return nil, err
	}
	rt := &Tensor{Shape: append([]int{}, t.size...), Data: []float32{}}
	if numel == 0 {
		return rt, nil
	}
	// Largest element index touched: offset + Σ (size_i−1)·stride_i.
	snumel := uint64(t.storage.numel)
	last := uint64(t.offset)
	if last >= snumel {
		return nil, fmt.Errorf("storage offset %d out of range of storage %q (%d elements)", t.offset, t.storage.key, snumel)
	}
	for i, d := range t.size {
		st := uint64(t.stride[i])
		if st != 0 && uint64(d-1) > (snumel-1-last)/st {
			return nil, fmt.Errorf("shape %v with strides %v and offset %d out of range of storage %q (%d elements)",
				t.size, t.stride, t.offset, t.storage.key, snumel)
		}
		last += uint64(d-1) * st
	}
	es := t.storage.dtype.size
	conv := t.storage.dtype.conv
	data := make([]float32, numel)
	rt.Data = data
	if ckptContiguous(t.size, t.stride) {
		src := sb[t.offset*es:]
		for i := range data {
			data[i] = conv(src[i*es:])
		}
		return rt, nil
	}
	idx := make([]int, len(t.size))
	pos := t.offset
	for i := range data {
		data[i] = conv(sb[pos*es:])
		for d := len(idx) - 1; d >= 0; d-- { // odometer increment
			idx[d]++
			pos += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			pos -= idx[d] * t.stride[d]
			idx[d] = 0
		}
	}
	return rt, nil
}

// ckptContiguous reports whether strides are row-major for size (ignoring
// dimensions of size 1).
func ckptContiguous(size, stride []int) bool {
	want := 1
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// ---------------------------------------------------------------------------
// safetensors

// readSafetensorsFile reads a safetensors file with
// github.com/nlpodyssey/safetensors, which validates the header (offsets
// contiguous, sizes matching dtype × shape, data section exactly filling
// the file) without allocating tensors.
func readSafetensorsFile(data []byte, b *ckptBudget) (tensors map[string]*Tensor, meta map[string]string, err error) {
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("%d-byte file: %w", len(data), errCkptTruncated)
	}
	hl := binary.LittleEndian.Uint64(data)
	if hl > uint64(len(data)-8) {
		return nil, nil, fmt.Errorf("header length %d exceeds the %d bytes after it: %w", hl, len(data)-8, errCkptTruncated)
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
				uint64(len(data)-8)-hl, errCkptTruncated, err)
		case strings.Contains(msg, "DType"):
			return nil, nil, fmt.Errorf("bad header: %w: %w", errCkptUnsupportedDTy, err)
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
		dt, ok := ckptSafetensorsDTypes[info.DType]
		if !ok {
			return nil, nil, fmt.Errorf("tensor %q: %w %v", name, errCkptUnsupportedDTy, info.DType)
		}
		if len(info.Shape) > ckptMaxDims {
			return nil, nil, fmt.Errorf("tensor %q has %d dimensions, more than %d", name, len(info.Shape), ckptMaxDims)
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
		key := strings.TrimPrefix(name, ckptModulePrefix)
		if _, dup := tensors[key]; dup {
			return nil, nil, fmt.Errorf("duplicate key %q after stripping the %q prefix", key, ckptModulePrefix)
		}
		tensors[key] = &Tensor{Shape: shape, Data: vals}
	}
	return tensors, meta, nil
}
