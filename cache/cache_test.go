package cache

import "testing"

func TestState(t *testing.T) {
	shapes := []Shape{{3, 56, 56}, {4, 28, 28}, {20, 7, 7}}
	s := New(shapes)
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3", s.Len())
	}
	if got, want := s.Bytes(), 4*(3*56*56+4*28*28+20*7*7); got != want {
		t.Fatalf("Bytes = %d, want %d", got, want)
	}
	for i, sh := range shapes {
		if len(s.Slot(i)) != sh.Len() {
			t.Fatalf("slot %d has %d values, want %d", i, len(s.Slot(i)), sh.Len())
		}
	}
	src := make([]float32, 4*28*28+10)
	for i := range src {
		src[i] = float32(i + 1)
	}
	s.Store(1, src)
	s.Advance()
	if s.Slot(1)[5] != 6 || s.Slot(0)[0] != 0 || s.Slot(2)[0] != 0 {
		t.Fatal("Store wrote the wrong slot or values")
	}
	// Slots must not overlap: writing the whole of one leaves its neighbours alone.
	if s.Slot(2)[0] != 0 || s.Slot(0)[len(s.Slot(0))-1] != 0 {
		t.Fatal("slots overlap")
	}
	if s.Frames() != 1 {
		t.Fatalf("Frames = %d, want 1", s.Frames())
	}
	s.Reset()
	for i := 0; i < s.Len(); i++ {
		for _, v := range s.Slot(i) {
			if v != 0 {
				t.Fatal("Reset left a non-zero value")
			}
		}
	}
	if s.Frames() != 0 {
		t.Fatal("Reset kept the frame count")
	}
	if got := shapes[0].String(); got != "(3,56,56)" {
		t.Fatalf("String = %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { s.Store(1, src); s.Advance() }); n != 0 {
		t.Fatalf("Store allocates %v times", n)
	}
}
