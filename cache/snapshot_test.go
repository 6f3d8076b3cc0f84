package cache

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func filled(shapes []Shape) *State {
	s := New(shapes)
	for i := 0; i < s.Len(); i++ {
		for j := range s.Slot(i) {
			s.Slot(i)[j] = float32(i*1000+j) * 0.25
		}
	}
	s.Advance()
	s.Advance()
	return s
}

func TestSnapshotRoundTrip(t *testing.T) {
	shapes := []Shape{{3, 56, 56}, {4, 28, 28}, {20, 7, 7}}
	src := filled(shapes)
	var buf bytes.Buffer
	n, err := src.WriteTo(&buf)
	if err != nil || int(n) != src.SnapshotSize() {
		t.Fatalf("WriteTo = %d, %v; want %d bytes", n, err, src.SnapshotSize())
	}
	dst := New(shapes)
	if err := dst.Restore(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if dst.Frames() != 2 {
		t.Fatalf("frames %d, want 2", dst.Frames())
	}
	for i := 0; i < src.Len(); i++ {
		if !slicesEqual(src.Slot(i), dst.Slot(i)) {
			t.Fatalf("slot %d differs after restore", i)
		}
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSnapshotErrors(t *testing.T) {
	shapes := []Shape{{3, 8, 8}, {4, 4, 4}}
	good := filled(shapes).AppendSnapshot(nil)
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x40; return b }
	other := filled([]Shape{{3, 8, 8}, {4, 4, 5}}).AppendSnapshot(nil)
	fewer := filled([]Shape{{3, 8, 8}}).AppendSnapshot(nil)
	for _, tc := range []struct {
		name string
		snap []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"magic", flip(0), "not a livetsm stream snapshot"},
		{"version", func() []byte { b := bytes.Clone(good); b[8] = 9; return b }(), "version 9"},
		{"checksum", flip(len(good) / 2), "checksum"},
		{"truncated", good[:len(good)-10], "checksum"},
		{"shape", other, "slot 1 has shape (4,4,5), this model's is (4,4,4)"},
		{"slots", fewer, "1 slots, this model has 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := filled(shapes)
			before := s.AppendSnapshot(nil)
			err := s.Restore(tc.snap)
			if err == nil || !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrSnapshot containing %q", err, tc.want)
			}
			if !bytes.Equal(before, s.AppendSnapshot(nil)) {
				t.Fatal("a failed Restore changed the state")
			}
		})
	}
}

func FuzzRestore(f *testing.F) {
	shapes := []Shape{{2, 3, 3}, {1, 2, 2}}
	f.Add(filled(shapes).AppendSnapshot(nil))
	f.Add([]byte("LTSMSTAT"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := New(shapes)
		if err := s.Restore(b); err == nil {
			// Whatever restored must snapshot back to the same bytes.
			if !bytes.Equal(s.AppendSnapshot(nil), b) {
				t.Fatal("restored snapshot does not round-trip")
			}
		}
	})
}
