package ckpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/nlpodyssey/gopickle/types"
)

// legacyMagic is torch's legacy MAGIC_NUMBER, 0x1950a86a20f9469cfc6c.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// readTorchLegacy reads a pre-1.6 torch.save file: magic number, protocol
// version and sys info pickles, the main pickle, the list of storage keys,
// then for each key an int64 element count and the raw little-endian data.
func readTorchLegacy(data []byte, b *budget) (map[string]*Tensor, error) {
	pos := 0
	next := func(what string, findClass func(string, string) (interface{}, error),
		pl func(interface{}) (interface{}, error)) (interface{}, error) {
		obj, n, err := unpickle(data[pos:], findClass, pl)
		if err != nil {
			return nil, fmt.Errorf("%s pickle at offset %d: %w", what, pos, err)
		}
		pos += n
		return obj, nil
	}
	magic, err := next("magic number", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", errUnknownFormat, err)
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, fmt.Errorf("%w: a pickle, but without the PyTorch magic number", errUnknownFormat)
	}
	proto, err := next("protocol version", nil, nil)
	if err != nil {
		return nil, err
	}
	if p, ok := toInt(proto); !ok || p != 1001 {
		return nil, fmt.Errorf("unsupported legacy protocol version %v", proto)
	}
	sysInfo, err := next("sys info", nil, nil)
	if err != nil {
		return nil, err
	}
	if le, ok := dictLookup(sysInfo, "little_endian"); ok && le != true {
		return nil, errors.New("big-endian checkpoints are not supported")
	}

	roots := map[string]*torchStorage{}
	views := map[string]*torchStorage{}
	persistentLoad := func(pid interface{}) (interface{}, error) {
		tup, cls, key, numel, err := storageID(pid, 6)
		if err != nil {
			return nil, err
		}
		root, ok := roots[key]
		if !ok {
			if uint64(numel) > uint64(len(data))/uint64(cls.dtype.size) {
				return nil, fmt.Errorf("storage %q claims %d×%s elements, more than the file's %d bytes: %w",
					key, numel, cls.dtype.name, len(data), errBudget)
			}
			root = &torchStorage{key: key, dtype: cls.dtype, numel: numel}
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
		voff, ok2 := toInt(vt.Get(1))
		vsize, ok3 := toInt(vt.Get(2))
		if !ok1 || !ok2 || !ok3 || voff < 0 || vsize < 0 || voff > root.numel || vsize > root.numel-voff {
			return nil, fmt.Errorf("storage %q view %v out of range of its %d elements", key, vm, root.numel)
		}
		if v, ok := views[vkey]; ok {
			if v.root != root || v.offset != voff || v.numel != vsize {
				return nil, fmt.Errorf("storage view %q redefined", vkey)
			}
			return v, nil
		}
		v := &torchStorage{key: vkey, dtype: root.dtype, numel: vsize, root: root, offset: voff}
		views[vkey] = v
		return v, nil
	}
	obj, err := next("main", findAllowedClass, persistentLoad)
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
			return nil, fmt.Errorf("storage %q header at offset %d: %w", key, pos, errTruncated)
		}
		n := binary.LittleEndian.Uint64(data[pos:])
		pos += 8
		if n != uint64(s.numel) {
			return nil, fmt.Errorf("storage %q holds %d elements, the pickle says %d", key, n, s.numel)
		}
		nb := s.numel * s.dtype.size // ≤ len(data), checked in persistentLoad
		if nb > len(data)-pos {
			return nil, fmt.Errorf("storage %q needs %d bytes at offset %d, %d left: %w", key, nb, pos, len(data)-pos, errTruncated)
		}
		s.data = data[pos : pos+nb : pos+nb]
		pos += nb
	}
	return collect(obj, b)
}
