package ckpt

import (
	"fmt"
	"strings"

	"github.com/nlpodyssey/gopickle/types"
)

// findNoClass is the FindClass of pickles that must not name any global.
func findNoClass(module, name string) (interface{}, error) {
	return nil, fmt.Errorf("%w %q", errDisallowed, module+"."+name)
}

// findAllowedClass is the allow-list of globals a torch checkpoint may name.
// (gopickle itself resolves collections.OrderedDict, __builtin__.object and
// copy_reg._reconstructor to inert Go values before asking.)
func findAllowedClass(module, name string) (interface{}, error) {
	if module == "torch" {
		if dt, ok := torchStorages[name]; ok {
			return &storageClass{name: name, dtype: dt}, nil
		}
		if name == "Size" {
			return pyFunc{name: "torch.Size", fn: torchSize}, nil
		}
		if strings.HasSuffix(name, "Storage") {
			return nil, fmt.Errorf("%w torch.%s", errUnsupportedDType, name)
		}
	}
	if module == "torch._utils" {
		switch name {
		case "_rebuild_tensor_v2":
			return pyFunc{name: "_rebuild_tensor_v2", fn: rebuildTensorV2}, nil
		case "_rebuild_tensor":
			return pyFunc{name: "_rebuild_tensor", fn: rebuildTensor}, nil
		case "_rebuild_parameter", "_rebuild_parameter_with_state":
			return pyFunc{name: name, fn: rebuildParameter}, nil
		}
	}
	if inertGlobals[module+"."+name] {
		return inert{name: module + "." + name}, nil
	}
	return findNoClass(module, name)
}

// inertGlobals are the data classes and functions that may appear
// outside the state dict (mmcv/mmaction2 "meta": numpy scalars in hook
// messages, numpy arrays, env info, argparse namespaces) and that the reader
// turns into inert placeholders instead of rejecting the file. None of them
// can run code in Python either when given plain data, and here nothing of
// them runs at all.
var inertGlobals = map[string]bool{
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

// inert is an allowed inert global. Calling it (REDUCE) or
// instantiating it (NEWOBJ) gives a placeholder that keeps no state: BUILD,
// SETITEM(S) and APPEND(S) on it are accepted and dropped.
type inert struct{ name string }

// Call implements types.Callable.
func (c inert) Call(args ...interface{}) (interface{}, error) {
	return &placeholder{name: c.name}, nil
}

// PyNew implements types.PyNewable.
func (c inert) PyNew(args ...interface{}) (interface{}, error) {
	return &placeholder{name: c.name}, nil
}

// placeholder stands for an object built from an inert global.
type placeholder struct{ name string }

// PySetState implements types.PyStateSettable (BUILD): the state is dropped.
func (p *placeholder) PySetState(state interface{}) error { return nil }

// Set implements types.DictSetter (SETITEM on a defaultdict): dropped.
func (p *placeholder) Set(key, value interface{}) {}

// Append implements types.ListAppender: dropped.
func (p *placeholder) Append(v interface{}) {}

var (
	_ types.Callable        = inert{}
	_ types.PyNewable       = inert{}
	_ types.PyStateSettable = (*placeholder)(nil)
	_ types.DictSetter      = (*placeholder)(nil)
	_ types.ListAppender    = (*placeholder)(nil)
)

// pyFunc is an allowed Python callable, implemented in Go.
type pyFunc struct {
	name string
	fn   func(args []interface{}) (interface{}, error)
}

// Call implements types.Callable.
func (f pyFunc) Call(args ...interface{}) (interface{}, error) {
	v, err := f.fn(args)
	if err != nil {
		return nil, passThrough(fmt.Errorf("%s: %w", f.name, err))
	}
	return v, nil
}

var _ types.Callable = pyFunc{}

// storageClass is a torch.*Storage global: it only names a dtype.
type storageClass struct {
	name  string
	dtype dType
}

func torchSize(args []interface{}) (interface{}, error) {
	if len(args) == 0 {
		return types.NewTupleFromSlice(nil), nil
	}
	if _, err := toInts(args[0], "size"); err != nil {
		return nil, err
	}
	return args[0], nil
}

// rebuildTensorV2 is torch._utils._rebuild_tensor_v2(storage,
// storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
func rebuildTensorV2(args []interface{}) (interface{}, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("%d arguments, want 6 or 7", len(args))
	}
	return rebuildTensor(args[:4])
}

// rebuildTensor is torch._utils._rebuild_tensor(storage, storage_offset, size, stride).
func rebuildTensor(args []interface{}) (interface{}, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("%d arguments, want 4", len(args))
	}
	st, ok := args[0].(*torchStorage)
	if !ok {
		return nil, fmt.Errorf("storage argument is %T, not a storage", args[0])
	}
	off, ok := toInt(args[1])
	if !ok || off < 0 {
		return nil, fmt.Errorf("storage offset %v is not a non-negative integer", args[1])
	}
	size, err := toInts(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := toInts(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("size has %d dimensions but stride has %d", len(size), len(stride))
	}
	return &torchTensor{storage: st, offset: off, size: size, stride: stride}, nil
}

// rebuildParameter is torch._utils._rebuild_parameter(data,
// requires_grad, backward_hooks) (and _rebuild_parameter_with_state, which
// adds a state argument): the parameter is its tensor.
func rebuildParameter(args []interface{}) (interface{}, error) {
	if len(args) != 3 && len(args) != 4 {
		return nil, fmt.Errorf("%d arguments, want 3 or 4", len(args))
	}
	t, ok := args[0].(*torchTensor)
	if !ok {
		return nil, fmt.Errorf("data argument is %T, not a tensor", args[0])
	}
	return t, nil
}
