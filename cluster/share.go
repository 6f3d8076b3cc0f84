package cluster

import (
	"hash/fnv"
	"slices"
)

// FairShare returns how many of cameras the worker named self should run
// when the live workers are those of maxStreams (name → its --max-streams,
// self included): the water level L, the smallest with Σ min(max, L) ≥
// cameras, capped by self's own maximum. Every worker computes the same
// level, so the cameras spread evenly, and workers with a lower maximum
// leave more to the others. When the workers cannot run them all, each
// takes its maximum.
func FairShare(cameras int, maxStreams map[string]int, self string) int {
	own := maxStreams[self]
	if cameras <= 0 || own <= 0 {
		return 0
	}
	total := 0
	for _, m := range maxStreams {
		total += max(m, 0)
	}
	if total <= cameras {
		return own
	}
	lo, hi := 0, cameras // Σ min(max, cameras) ≥ cameras since total > cameras
	for lo < hi {
		mid := (lo + hi) / 2
		sum := 0
		for _, m := range maxStreams {
			sum += min(max(m, 0), mid)
		}
		if sum >= cameras {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return min(own, lo)
}

// claimOrder sorts camera ids by rendezvous hashing with the worker's
// name: each worker tries the free cameras in an order of its own, so that
// workers claiming at the same moment seldom race for the same camera.
func claimOrder(worker string, ids []string) []string {
	score := func(id string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(worker))
		h.Write([]byte{0})
		h.Write([]byte(id))
		return h.Sum64()
	}
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b string) int {
		sa, sb := score(a), score(b)
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	return out
}
