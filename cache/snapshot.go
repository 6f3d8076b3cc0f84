package cache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// Snapshot format, all little-endian:
//
//	magic    [8]byte  "LTSMSTAT"
//	version  uint16   1
//	slots    uint16   number of slots
//	frames   int64    frames stepped so far
//	shapes   slots × [3]uint32 (C, H, W)
//	values   Σ C·H·W float32, slot after slot
//	crc      uint32   CRC-32C of everything before it
const (
	snapshotMagic   = "LTSMSTAT"
	snapshotVersion = 1
	headerLen       = 8 + 2 + 2 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotSize is the length in bytes of the State's snapshot.
func (s *State) SnapshotSize() int {
	return headerLen + 12*len(s.shapes) + s.Bytes() + 4
}

// AppendSnapshot appends a versioned, checksummed binary snapshot of the
// State to b, so a stream can move to another process and continue with the
// same predictions.
func (s *State) AppendSnapshot(b []byte) []byte {
	start := len(b)
	b = append(b, snapshotMagic...)
	b = binary.LittleEndian.AppendUint16(b, snapshotVersion)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s.shapes)))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.frames))
	for _, sh := range s.shapes {
		b = binary.LittleEndian.AppendUint32(b, uint32(sh.C))
		b = binary.LittleEndian.AppendUint32(b, uint32(sh.H))
		b = binary.LittleEndian.AppendUint32(b, uint32(sh.W))
	}
	for _, slot := range s.slots {
		for _, v := range slot {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// WriteTo writes the State's snapshot to w.
func (s *State) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(s.AppendSnapshot(make([]byte, 0, s.SnapshotSize())))
	return int64(n), err
}

// ErrSnapshot is wrapped by every error Restore returns for a bad snapshot.
var ErrSnapshot = errors.New("cache: bad snapshot")

// Restore replaces the State's slots and frame count with those of a
// snapshot made by AppendSnapshot. The snapshot's slot shapes must equal the
// State's. On error the State is left as it was.
func (s *State) Restore(snap []byte) error {
	if len(snap) < headerLen+4 {
		return fmt.Errorf("%w: %d bytes is too short", ErrSnapshot, len(snap))
	}
	if !bytes.Equal(snap[:8], []byte(snapshotMagic)) {
		return fmt.Errorf("%w: not a livetsm stream snapshot", ErrSnapshot)
	}
	body, sum := snap[:len(snap)-4], binary.LittleEndian.Uint32(snap[len(snap)-4:])
	if v := binary.LittleEndian.Uint16(snap[8:]); v != snapshotVersion {
		return fmt.Errorf("%w: version %d, this build reads version %d", ErrSnapshot, v, snapshotVersion)
	}
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return fmt.Errorf("%w: checksum %08x, want %08x (corrupt)", ErrSnapshot, got, sum)
	}
	n := int(binary.LittleEndian.Uint16(snap[10:]))
	frames := int64(binary.LittleEndian.Uint64(snap[12:]))
	if n != len(s.shapes) {
		return fmt.Errorf("%w: %d slots, this model has %d", ErrSnapshot, n, len(s.shapes))
	}
	if len(body) < headerLen+12*n {
		return fmt.Errorf("%w: %d bytes cannot hold %d slot shapes", ErrSnapshot, len(snap), n)
	}
	off := headerLen
	for i, sh := range s.shapes {
		got := Shape{
			C: int(binary.LittleEndian.Uint32(snap[off:])),
			H: int(binary.LittleEndian.Uint32(snap[off+4:])),
			W: int(binary.LittleEndian.Uint32(snap[off+8:])),
		}
		if got != sh {
			return fmt.Errorf("%w: slot %d has shape %v, this model's is %v", ErrSnapshot, i, got, sh)
		}
		off += 12
	}
	if len(body) != s.SnapshotSize()-4 {
		return fmt.Errorf("%w: %d bytes, want %d for this model", ErrSnapshot, len(snap), s.SnapshotSize())
	}
	if frames < 0 {
		return fmt.Errorf("%w: negative frame count %d", ErrSnapshot, frames)
	}
	for _, slot := range s.slots {
		for j := range slot {
			slot[j] = math.Float32frombits(binary.LittleEndian.Uint32(snap[off:]))
			off += 4
		}
	}
	s.frames = frames
	return nil
}
