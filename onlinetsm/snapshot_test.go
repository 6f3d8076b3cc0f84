package onlinetsm_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/livetsm/livetsm/cache"
	"github.com/livetsm/livetsm/onlinetsm"
)

// randFrames returns n random normalised frames of the model's size.
func randFrames(m *onlinetsm.Model, n int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 17))
	sz := m.InputSize()
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, 3*sz*sz)
		for j := range out[i] {
			out[i][j] = float32(rng.NormFloat64())
		}
	}
	return out
}

// TestSnapshotRestoreNewModel moves a stream, mid-video, to a new instance
// of the model (as another process would load it) and checks that it
// continues with exactly the logits the original stream gives.
func TestSnapshotRestoreNewModel(t *testing.T) {
	opts := []onlinetsm.Option{onlinetsm.WithInputSize(96), onlinetsm.WithThreads(2)}
	m1, err := onlinetsm.NewRandom(0.5, 10, 7, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	frames := randFrames(m1, 6, 1)
	s1 := m1.NewStream()
	for _, f := range frames[:3] {
		if _, err := s1.StepData(f); err != nil {
			t.Fatal(err)
		}
	}
	snap := s1.Snapshot()

	m2, err := onlinetsm.NewRandom(0.5, 10, 7, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	s2 := m2.NewStream()
	if err := s2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if s2.Frames() != 3 {
		t.Fatalf("restored stream has %d frames, want 3", s2.Frames())
	}
	fresh := m2.NewStream()
	for i, f := range frames[3:] {
		want, err := s1.StepData(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s2.StepData(f)
		if err != nil {
			t.Fatal(err)
		}
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("frame %d, logit %d: restored %v, original %v", i+3, j, got[j], want[j])
			}
		}
		if i == 0 {
			// A stream without the state differs: the cache matters.
			other, _ := fresh.StepData(f)
			same := true
			for j := range want {
				same = same && other[j] == want[j]
			}
			if same {
				t.Fatal("a fresh stream gives the restored stream's logits: the snapshot carried nothing")
			}
		}
	}
}

// TestRestoreRefusesBadSnapshots checks the errors of Restore and that a
// refused snapshot leaves the stream as it was.
func TestRestoreRefusesBadSnapshots(t *testing.T) {
	m, err := onlinetsm.NewRandom(0.5, 10, 7, onlinetsm.WithInputSize(96))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	other, err := onlinetsm.NewRandom(1.0, 10, 7, onlinetsm.WithInputSize(96))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	s := m.NewStream()
	if _, err := s.StepData(randFrames(m, 1, 2)[0]); err != nil {
		t.Fatal(err)
	}
	good := s.Snapshot()
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)/2] ^= 1
	for _, tc := range []struct {
		name string
		snap []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)/2]},
		{"corrupt", corrupt},
		{"other model", other.NewStream().Snapshot()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Restore(tc.snap); !errors.Is(err, cache.ErrSnapshot) {
				t.Fatalf("Restore: %v, want an error wrapping cache.ErrSnapshot", err)
			}
			if s.Frames() != 1 || string(s.Snapshot()) != string(good) {
				t.Fatal("a refused snapshot changed the stream")
			}
		})
	}
}
