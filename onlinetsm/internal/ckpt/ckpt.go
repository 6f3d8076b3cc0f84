// Package ckpt reads model checkpoints: PyTorch zip (torch.save, PyTorch ≥
// 1.6), PyTorch legacy (pre-1.6 non-zip torch.save) and safetensors files,
// detected by content, into float32 tensors by key; Params hands them out to
// the model builders of onlinetsm and onlinetsm/offline.
//
// The readers treat every file as hostile:
//
//   - pickles are unpickled by gopickle, but only after a pre-scan
//     (scanPickle) has checked that every length-prefixed opcode argument
//     fits in the bytes available, because gopickle allocates claimed lengths
//     before reading them;
//   - the pickle may only reference an allow-list of globals (findAllowedClass);
//     no Python code is ever run and no other object is constructed. A few
//     known-inert data classes that training frameworks (mmcv, mmaction2)
//     leave in a checkpoint's "meta" or "optimizer" entries — numpy scalars,
//     arrays and dtypes, defaultdict, argparse.Namespace — become inert
//     placeholders (inertGlobals) that keep nothing; a placeholder found
//     among the state dict's entries is an error;
//   - every storage size, offset, stride and shape is checked against the
//     bytes actually present before anything is allocated, and the total
//     number of bytes decompressed and of float32 elements produced is capped
//     by a budget proportional to the file size;
//   - panics inside third-party parsers are recovered and returned as errors.
package ckpt

import (
	"bytes"
	"errors"
	"fmt"
	"os"
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
	// maxDims is the largest tensor rank accepted (PyTorch's own limit is 64).
	maxDims = 64
	// maxNumberText bounds the text of INT/LONG/FLOAT pickle opcodes and
	// the byte length of LONG4, whose decoding in gopickle is quadratic.
	maxNumberText = 4096
	// modulePrefix is the key prefix added by nn.DataParallel.
	modulePrefix = "module."
)

// Errors that Read wraps, for callers and tests that use errors.Is.
var (
	errUnknownFormat    = errors.New("not a checkpoint (unknown format)")
	errTruncated        = errors.New("truncated file")
	errDisallowed       = errors.New("pickle references disallowed class")
	errNoTensors        = errors.New("no tensors found")
	errBudget           = errors.New("checkpoint claims more data than the file can hold")
	errMalformedPickle  = errors.New("malformed pickle")
	errUnsupportedDType = errors.New("unsupported dtype")
)

// Read parses a checkpoint from its bytes; the format is detected by
// content, not name.
//
// A PyTorch file may hold a bare state dict or a dict with the state dict
// under "state_dict" (other entries such as "epoch" or "optimizer" are
// ignored); non-tensor entries of the state dict are ignored and a leading
// "module." is stripped from every key. All tensors are converted to float32.
func Read(data []byte) (*Checkpoint, error) {
	return read(data, true)
}

// LoadFile reads the checkpoint at path and builds a model from it with
// build. Errors start with pkg (the caller's package name), then, unless
// they are the file system's, which name the path, with "load PATH".
func LoadFile[M any](pkg, path string, build func(*Checkpoint) (M, error)) (M, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var zero M
		return zero, fmt.Errorf("%s: %w", pkg, err)
	}
	return load(pkg+": load "+path, data, build)
}

// LoadBytes reads a checkpoint from data and builds a model from it with
// build. Errors start with pkg (the caller's package name).
func LoadBytes[M any](pkg string, data []byte, build func(*Checkpoint) (M, error)) (M, error) {
	return load(pkg, data, build)
}

// load reads a checkpoint from data and builds a model from it with build;
// errors start with prefix.
func load[M any](prefix string, data []byte, build func(*Checkpoint) (M, error)) (M, error) {
	ck, err := Read(data)
	var m M
	if err == nil {
		m, err = build(ck)
	}
	if err != nil {
		var zero M
		return zero, fmt.Errorf("%s: %w", prefix, err)
	}
	return m, nil
}

// read is Read. With recoverAll it turns any panic, including
// one in this package, into an error; tests and fuzz targets pass false so that
// bugs here are found rather than hidden. Panics inside gopickle and
// safetensors are always recovered.
func read(data []byte, recoverAll bool) (ck *Checkpoint, err error) {
	if recoverAll {
		defer func() {
			if r := recover(); r != nil {
				ck, err = nil, fmt.Errorf("checkpoint: malformed input (internal panic: %v)", r)
			}
		}()
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("checkpoint: empty file: %w", errUnknownFormat)
	}
	format := detect(data)
	if format == "" {
		return nil, fmt.Errorf("checkpoint: %w: %d bytes, neither a PyTorch zip or legacy file nor safetensors", errUnknownFormat, len(data))
	}
	b := newBudget(len(data))
	var tensors map[string]*Tensor
	meta := map[string]string{}
	switch format {
	case FormatZip:
		tensors, err = readTorchZip(data, b)
	case FormatLegacy:
		tensors, err = readTorchLegacy(data, b)
	case FormatSafetensors:
		tensors, meta, err = readSafetensors(data, b)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", format, err)
	}
	if len(tensors) == 0 {
		return nil, fmt.Errorf("checkpoint: %s: %w", format, errNoTensors)
	}
	return &Checkpoint{Format: format, Tensors: tensors, Meta: meta}, nil
}

// detect returns the format of data judged by its first bytes, or "".
func detect(data []byte) string {
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

// budget bounds what a checkpoint can make the reader allocate: bytes
// decompressed from zip records and float32 elements produced.
type budget struct {
	zipBytes int64 // bytes that zip records may still decompress to
	elems    int64 // float32 elements that may still be produced
}

// newBudget returns the budget for a file of n bytes: stored zip records
// can never exceed the file, deflated ones may expand 8-fold; tensors may
// produce twice as many elements as the file has bytes (views sharing a
// storage, broadcast views), which is 8× the file size in float32 memory.
func newBudget(n int) *budget {
	return &budget{zipBytes: 8*int64(n) + 1<<16, elems: 2*int64(n) + 1024}
}

func (b *budget) takeZipBytes(n uint64, what string) error {
	if n > uint64(b.zipBytes) {
		return fmt.Errorf("%s claims %d bytes: %w", what, n, errBudget)
	}
	b.zipBytes -= int64(n)
	return nil
}

func (b *budget) takeElems(n int64, what string) error {
	if n < 0 || n > b.elems {
		return fmt.Errorf("%s has %d elements: %w", what, n, errBudget)
	}
	b.elems -= n
	return nil
}
