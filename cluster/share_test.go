package cluster

import (
	"slices"
	"testing"
)

func TestFairShare(t *testing.T) {
	tests := []struct {
		name    string
		cameras int
		maxes   map[string]int
		self    string
		want    int
	}{
		{"alone", 6, map[string]int{"a": 3}, "a", 3},
		{"six over three", 6, map[string]int{"a": 3, "b": 3, "c": 3}, "a", 2},
		{"six over two", 6, map[string]int{"a": 3, "b": 3}, "b", 3},
		{"seven over three", 7, map[string]int{"a": 3, "b": 3, "c": 3}, "c", 3},
		{"more than all can run", 20, map[string]int{"a": 3, "b": 5}, "b", 5},
		{"small worker leaves more to others", 6, map[string]int{"a": 1, "b": 8, "c": 8}, "b", 3},
		{"small worker takes its max", 6, map[string]int{"a": 1, "b": 8, "c": 8}, "a", 1},
		{"no cameras", 0, map[string]int{"a": 3}, "a", 0},
		{"one camera, many workers", 1, map[string]int{"a": 3, "b": 3, "c": 3}, "a", 1},
		{"unknown self", 3, map[string]int{"a": 3}, "z", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FairShare(tt.cameras, tt.maxes, tt.self); got != tt.want {
				t.Errorf("FairShare(%d, %v, %q) = %d, want %d", tt.cameras, tt.maxes, tt.self, got, tt.want)
			}
		})
	}
	// The shares always cover the cameras the workers can run.
	for cams := 0; cams <= 30; cams++ {
		maxes := map[string]int{"a": 1, "b": 4, "c": 7, "d": 2}
		sum := 0
		for name := range maxes {
			sum += FairShare(cams, maxes, name)
		}
		if sum < min(cams, 14) {
			t.Errorf("%d cameras: shares sum to %d", cams, sum)
		}
	}
}

func TestClaimOrder(t *testing.T) {
	ids := []string{"c1", "c2", "c3", "c4", "c5", "c6"}
	a, b := claimOrder("w1", ids), claimOrder("w2", ids)
	if !slices.Equal(a, claimOrder("w1", ids)) {
		t.Error("claim order is not deterministic")
	}
	if slices.Equal(a, b) {
		t.Errorf("two workers share a claim order %v", a)
	}
	sorted := slices.Clone(a)
	slices.Sort(sorted)
	if !slices.Equal(sorted, ids) {
		t.Errorf("claim order %v is not a permutation of %v", a, ids)
	}
}
