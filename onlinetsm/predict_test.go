package onlinetsm

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
)

func TestSoftmax(t *testing.T) {
	for _, tc := range []struct {
		name   string
		logits []float32
		want   []float32
	}{
		{"uniform", []float32{1, 1, 1, 1}, []float32{0.25, 0.25, 0.25, 0.25}},
		{"two", []float32{0, float32(math.Log(3))}, []float32{0.25, 0.75}},
		{"large", []float32{1000, 1000}, []float32{0.5, 0.5}},
		{"empty", nil, []float32{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Softmax(nil, tc.logits)
			if len(got) != len(tc.want) {
				t.Fatalf("len %d, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !paritytest.Near(float64(got[i]), float64(tc.want[i]), 1e-6) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	dst := make([]float32, 8)
	if out := Softmax(dst, []float32{1, 2}); &out[0] != &dst[0] {
		t.Error("Softmax did not reuse dst")
	}
}

func TestTopK(t *testing.T) {
	scores := []float32{0.1, 0.5, 0.2, 0.5, 0.05, 0.9}
	for _, tc := range []struct {
		k    int
		want []int
	}{{0, []int{}}, {1, []int{5}}, {3, []int{5, 1, 3}}, {6, []int{5, 1, 3, 2, 0, 4}}, {10, []int{5, 1, 3, 2, 0, 4}}, {-1, []int{}}} {
		if got := TopK(scores, tc.k); !slices.Equal(got, tc.want) {
			t.Errorf("TopK(k=%d) = %v, want %v", tc.k, got, tc.want)
		}
	}
}

func TestLabels(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		err      string
	}{
		{"plain", "Swiping Left\nSwiping Right\n", []string{"Swiping Left", "Swiping Right"}, ""},
		{"crlf and trailing blanks", "a\r\nb\r\n\n\n", []string{"a", "b"}, ""},
		{"gap", "a\n\nb\n", nil, "blank line before line 3"},
		{"empty", "\n", nil, "no names"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadLabels(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestModelTop(t *testing.T) {
	m, err := NewRandom(0.35, 3, 1, WithInputSize(32), WithLabels([]string{"a", "b", "c"}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	top := m.Top([]float32{0, 2, 1}, 2)
	if len(top) != 2 || top[0].Label != "b" || top[1].Label != "c" || top[0].Score <= top[1].Score {
		t.Fatalf("Top = %+v", top)
	}
}

func TestJesterLabels(t *testing.T) {
	l := JesterLabels()
	if len(l) != 27 || l[0] != "Doing other things" || l[2] != "No gesture" {
		t.Fatalf("Jester labels: %d names, first %q", len(l), l[:3])
	}
	// They fit the published configuration.
	m, err := NewRandom(1.0, 27, 1, WithInputSize(64), WithLabels(l))
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
}
