package kern

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// Path names one implementation of the inner loops: every kernel of the
// package gives the same results on every path to float32 rounding (tested
// within 1e-5 relative).
//
// Paths are ordered from slowest to fastest.
type Path uint8

const (
	// PathPortable is the pure-Go implementation, available everywhere.
	PathPortable Path = iota
	// PathAVX2 is the AVX2/FMA Go assembly of amd64 (not built with the
	// purego tag), available on CPUs with AVX2 and FMA enabled by the OS.
	PathAVX2
	// PathAVX512 is PathAVX2 with the GEMM micro-kernel (every 1×1 and
	// dense convolution) and the stride-1 and stride-2 depthwise kernels in
	// AVX-512 assembly on 512-bit registers, available on CPUs with
	// AVX-512F, BW and VL enabled by the OS.
	PathAVX512
)

// String returns the path's name as ParsePath accepts it.
func (p Path) String() string {
	switch p {
	case PathPortable:
		return "portable"
	case PathAVX2:
		return "avx2"
	case PathAVX512:
		return "avx512"
	}
	return fmt.Sprintf("Path(%d)", uint8(p))
}

// selected is the path the kernels use, stored as Path+1; 0 (the zero value)
// means Best().
var selected atomic.Uint32

// Best returns the fastest path available here: the one kernels use unless
// Use selected another.
func Best() Path {
	if hasAVX512 {
		return PathAVX512
	}
	if hasAsm {
		return PathAVX2
	}
	return PathPortable
}

// Available lists the paths this CPU and build can run, slowest first
// (PathPortable is always first). The slice is the caller's.
func Available() []Path {
	ps := []Path{PathPortable}
	if hasAsm {
		ps = append(ps, PathAVX2)
	}
	if hasAVX512 {
		ps = append(ps, PathAVX512)
	}
	return ps
}

// Current returns the path the kernels use now.
func Current() Path {
	if v := selected.Load(); v != 0 {
		return Path(v - 1)
	}
	return Best()
}

// Accelerated reports whether kernels currently use an assembly path rather
// than the portable pure-Go one.
func Accelerated() bool { return Current() != PathPortable }

// useAsm reports whether an assembly path (AVX2 or AVX-512) is selected:
// the AVX-512 path runs the AVX2 kernels where it has none of its own. It is
// read on every kernel call, so it avoids Current's switch through Best.
func useAsm() bool {
	if v := selected.Load(); v != 0 {
		return Path(v-1) >= PathAVX2
	}
	return hasAsm
}

// useAVX512 reports whether the AVX-512 path is selected.
func useAVX512() bool {
	if v := selected.Load(); v != 0 {
		return Path(v-1) == PathAVX512
	}
	return hasAVX512
}

// Use makes the kernels run on path p and returns a function restoring the
// previous selection. It fails, changing nothing, when p is not among
// Available(). Select a path before running kernels, as a program's start or
// a test does: Use is not meant to be called while kernels run, which could
// then do part of their work on each path.
func Use(p Path) (restore func(), err error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	prev := selected.Swap(uint32(p) + 1)
	return func() { selected.Store(prev) }, nil
}

// checkPath says why p cannot run here, or returns nil.
func checkPath(p Path) error {
	switch p {
	case PathPortable:
		return nil
	case PathAVX2:
		if hasAsm {
			return nil
		}
		return fmt.Errorf("kern: avx2 kernels unavailable: %s", whyNoAsm())
	case PathAVX512:
		switch {
		case hasAVX512:
			return nil
		case !hasAsm:
			return fmt.Errorf("kern: avx512 kernels unavailable: they need the avx2 kernels, unavailable here: %s", whyNoAsm())
		default:
			return fmt.Errorf("kern: avx512 kernels unavailable: this CPU (or its OS) does not enable %s (it has %v)", missingAVX512(), Features())
		}
	}
	return fmt.Errorf("kern: unknown kernel path %v", p)
}

// whyNoAsm says why the AVX2 kernels cannot run here.
func whyNoAsm() string {
	switch {
	case runtime.GOARCH != "amd64":
		return fmt.Sprintf("they exist for amd64 only, this is %s", runtime.GOARCH)
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return "built with the purego tag"
	default:
		return fmt.Sprintf("this CPU (or its OS) does not enable %s", missingAVX2())
	}
}

// missingAVX2 names the features the AVX2 kernels need that this CPU lacks.
func missingAVX2() string {
	return strings.Join(names(Features().all()[:2], false), " and ")
}

// missingAVX512 names the features the AVX-512 kernels need beyond them that
// this CPU lacks.
func missingAVX512() string {
	return strings.Join(names(Features().all()[2:], false), ", ")
}

// ParsePath returns the path named name ("portable", "avx2" or "avx512",
// any case), whether or not this CPU can run it (Use says).
func ParsePath(name string) (Path, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "portable":
		return PathPortable, nil
	case "avx2":
		return PathAVX2, nil
	case "avx512":
		return PathAVX512, nil
	}
	return 0, fmt.Errorf("kern: unknown kernel path %q", name)
}

// CPU is what the kernels' run-time dispatch knows of the processor: the
// x86 vector features it uses or would use, each true only when the OS also
// saves the registers they need. All are false on other architectures.
type CPU struct {
	AVX2, FMA                   bool
	AVX512F, AVX512BW, AVX512VL bool
}

// Features returns the vector features of this CPU, from
// golang.org/x/sys/cpu.
func Features() CPU {
	x := &cpu.X86
	return CPU{AVX2: x.HasAVX2, FMA: x.HasFMA, AVX512F: x.HasAVX512F, AVX512BW: x.HasAVX512BW, AVX512VL: x.HasAVX512VL}
}

// feature is one CPU feature and whether it is present.
type feature struct {
	on   bool
	name string
}

// all lists c's features: the AVX2 kernels' two, then the AVX-512 ones'.
func (c CPU) all() []feature {
	return []feature{
		{c.AVX2, "AVX2"}, {c.FMA, "FMA"},
		{c.AVX512F, "AVX-512F"}, {c.AVX512BW, "AVX-512BW"}, {c.AVX512VL, "AVX-512VL"},
	}
}

// names returns the names of the features in fs that are present (on) or
// absent (!on).
func names(fs []feature, on bool) []string {
	var s []string
	for _, f := range fs {
		if f.on == on {
			s = append(s, f.name)
		}
	}
	return s
}

// String lists the features present, e.g. "AVX2 FMA", or "none".
func (c CPU) String() string {
	s := names(c.all(), true)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}
