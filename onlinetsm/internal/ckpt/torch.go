package ckpt

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/nlpodyssey/gopickle/types"
)

// torchStorage is a typed storage of a torch file: numel elements of dtype in
// data (len numel·dtype.size once loaded; nil until then in legacy files),
// or, for legacy storage views, a window of root.
type torchStorage struct {
	key    string
	dtype  dType
	numel  int
	data   []byte
	root   *torchStorage // non-nil for a legacy view
	offset int           // first element of a view in root
}

// bytes returns the storage's loaded bytes.
func (s *torchStorage) bytes() ([]byte, error) {
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

// torchTensor is a tensor as unpickled: a strided view of a storage.
type torchTensor struct {
	storage *torchStorage
	offset  int
	size    []int
	stride  []int
}

// toInt converts a pickled integer to int.
func toInt(v interface{}) (int, bool) {
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

// toInts converts a pickled tuple of integers, such as a size or stride.
func toInts(v interface{}, what string) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%s is %T, not a tuple", what, v)
	}
	if t.Len() > maxDims {
		return nil, fmt.Errorf("%s has %d dimensions, more than %d", what, t.Len(), maxDims)
	}
	out := make([]int, t.Len())
	for i := range out {
		n, ok := toInt(t.Get(i))
		if !ok || n < 0 {
			return nil, fmt.Errorf("%s[%d] = %v is not a non-negative integer", what, i, t.Get(i))
		}
		out[i] = n
	}
	return out, nil
}

// storageID parses the fields common to zip and legacy persistent ids:
// ('storage', storage_type, key, location, numel, ...).
func storageID(pid interface{}, minLen int) (tup *types.Tuple, cls *storageClass, key string, numel int, err error) {
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
	cls, ok = tup.Get(1).(*storageClass)
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
	numel, ok = toInt(tup.Get(4))
	if !ok || numel < 0 {
		return nil, nil, "", 0, fmt.Errorf("storage %q size %v is not a non-negative integer", key, tup.Get(4))
	}
	return tup, cls, key, numel, nil
}

// kv is one dict entry.
type kv struct {
	key, value interface{}
}

// dictEntries returns the entries of a pickled dict or OrderedDict in
// order (for a dict with repeated keys, the last value wins, as in Python).
func dictEntries(v interface{}) ([]kv, bool) {
	switch d := v.(type) {
	case *types.OrderedDict:
		out := make([]kv, 0, d.Len())
		for e := d.List.Front(); e != nil; e = e.Next() {
			if ent, ok := e.Value.(*types.OrderedDictEntry); ok {
				out = append(out, kv{ent.Key, ent.Value})
			}
		}
		return out, true
	case *types.Dict:
		out := make([]kv, 0, len(*d))
		index := map[string]int{}
		for _, ent := range *d {
			if k, ok := ent.Key.(string); ok {
				if i, seen := index[k]; seen {
					out[i].value = ent.Value
					continue
				}
				index[k] = len(out)
			}
			out = append(out, kv{ent.Key, ent.Value})
		}
		return out, true
	}
	return nil, false
}

// dictLookup returns the value of a string key in a pickled dict.
func dictLookup(v interface{}, key string) (interface{}, bool) {
	entries, ok := dictEntries(v)
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

// collect finds the state dict in a torch checkpoint's object and
// converts its tensors.
func collect(obj interface{}, b *budget) (map[string]*Tensor, error) {
	sd := obj
	if _, isDict := dictEntries(obj); !isDict {
		if _, isTensor := obj.(*torchTensor); isTensor {
			return nil, fmt.Errorf("file holds a single tensor, not a state dict: %w", errNoTensors)
		}
		return nil, fmt.Errorf("top-level object is %s, not a dict: %w", typeName(obj), errNoTensors)
	}
	if v, ok := dictLookup(obj, "state_dict"); ok {
		if _, isDict := dictEntries(v); !isDict {
			return nil, fmt.Errorf("\"state_dict\" entry is %s, not a dict", typeName(v))
		}
		sd = v
	}
	entries, _ := dictEntries(sd)
	out := map[string]*Tensor{}
	from := map[string]string{}
	for _, e := range entries {
		for _, v := range []interface{}{e.key, e.value} {
			switch p := v.(type) {
			case *placeholder:
				return nil, fmt.Errorf("state dict entry %v holds a %s object, not a tensor: %w", e.key, p.name, errDisallowed)
			case inert:
				return nil, fmt.Errorf("state dict entry %v holds the global %s, not a tensor: %w", e.key, p.name, errDisallowed)
			}
		}
		t, ok := e.value.(*torchTensor)
		if !ok {
			continue // non-tensor entries (and non-string keys) are ignored
		}
		key, ok := e.key.(string)
		if !ok {
			continue
		}
		name := strings.TrimPrefix(key, modulePrefix)
		if prev, dup := from[name]; dup {
			return nil, fmt.Errorf("duplicate key %q after stripping the %q prefix (from %q and %q)", name, modulePrefix, prev, key)
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

// typeName names the Python type of an unpickled value, for errors.
func typeName(v interface{}) string {
	switch v.(type) {
	case nil:
		return "None"
	case *torchTensor:
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
func (t *torchTensor) toRaw(b *budget) (*Tensor, error) {
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
	if contiguous(t.size, t.stride) {
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

// contiguous reports whether strides are row-major for size (ignoring
// dimensions of size 1).
func contiguous(size, stride []int) bool {
	want := 1
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}
