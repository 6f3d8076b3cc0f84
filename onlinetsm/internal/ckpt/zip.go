package ckpt

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readTorchZip reads a torch.save zip archive: <dir>/data.pkl, whose
// persistent ids name storages stored as <dir>/data/<key>.
func readTorchZip(data []byte, b *budget) (map[string]*Tensor, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !(errors.Is(err, zip.ErrInsecurePath) && zr != nil) {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, zip.ErrFormat) {
			return nil, fmt.Errorf("corrupt zip archive (%w?): %w", errTruncated, err)
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
		bo, err := readZipRecord(f, b)
		if err != nil {
			return nil, err
		}
		if s := string(bo); s != "little" {
			return nil, fmt.Errorf("byte order %q is not supported", s)
		}
	}
	pkl, err := readZipRecord(records[pklName], b)
	if err != nil {
		return nil, err
	}

	storages := map[string]*torchStorage{}
	persistentLoad := func(pid interface{}) (interface{}, error) {
		_, cls, key, numel, err := storageID(pid, 5)
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
		buf, err := readZipRecord(f, b)
		if err != nil {
			return nil, err
		}
		s := &torchStorage{key: key, dtype: cls.dtype, numel: numel, data: buf}
		storages[key] = s
		return s, nil
	}
	obj, _, err := unpickle(pkl, findAllowedClass, persistentLoad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pklName, err)
	}
	return collect(obj, b)
}

// readZipRecord reads one whole zip record, charging it to the budget
// before allocating and checking its CRC.
func readZipRecord(f *zip.File, b *budget) ([]byte, error) {
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
			return nil, fmt.Errorf("zip record %q: %w: %w", f.Name, errTruncated, err)
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
