package kern

import (
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, c := range []struct {
		name    string
		want    Path
		wantErr string // substring of the error; "" for none
	}{
		{"portable", PathPortable, ""},
		{"avx2", PathAVX2, ""},
		{" AVX2 ", PathAVX2, ""},
		{"Portable", PathPortable, ""},
		{"avx512", PathAVX512, ""},
		{"AVX512", PathAVX512, ""},
		{"auto", 0, "unknown kernel path"},
		{"", 0, "unknown kernel path"},
		{"sse4", 0, `unknown kernel path "sse4"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePath(c.name)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("ParsePath(%q): %v", c.name, err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("ParsePath(%q) = %v, %v; want an error containing %q", c.name, got, err, c.wantErr)
			case c.wantErr == "" && got != c.want:
				t.Fatalf("ParsePath(%q) = %v, want %v", c.name, got, c.want)
			}
			if c.wantErr == "" && got.String() != strings.ToLower(strings.TrimSpace(c.name)) {
				t.Errorf("%v.String() = %q, want the name back", got, got.String())
			}
		})
	}
}

func TestAvailable(t *testing.T) {
	ps := Available()
	t.Logf("available: %v, best %v, CPU: %v, GOARCH %s", ps, Best(), Features(), runtime.GOARCH)
	if len(ps) == 0 || ps[0] != PathPortable {
		t.Fatalf("Available() = %v, want portable first", ps)
	}
	if ps[len(ps)-1] != Best() {
		t.Errorf("Available() = %v, want Best() = %v last", ps, Best())
	}
	if slices.Contains(ps, PathAVX2) != hasAsm {
		t.Errorf("Available() = %v with hasAsm %v", ps, hasAsm)
	}
	if slices.Contains(ps, PathAVX512) != hasAVX512 {
		t.Errorf("Available() = %v with hasAVX512 %v", ps, hasAVX512)
	}
	if f := Features(); hasAsm && !(f.AVX2 && f.FMA) || hasAVX512 && !(f.AVX512F && f.AVX512BW && f.AVX512VL) {
		t.Errorf("assembly kernels enabled on a CPU with %v", f)
	}
	ps[0] = PathAVX2 // the slice is the caller's
	if Available()[0] != PathPortable {
		t.Error("Available returns a shared slice")
	}
}

func TestUse(t *testing.T) {
	base := Current()
	if base != Best() {
		t.Fatalf("Current() = %v before any Use, want Best() = %v", base, Best())
	}
	for _, c := range []struct {
		p  Path
		ok bool
	}{
		{PathPortable, true},
		{PathAVX2, hasAsm},
		{PathAVX512, hasAVX512},
		{Path(200), false},
	} {
		t.Run(c.p.String(), func(t *testing.T) {
			restore, err := Use(c.p)
			if !c.ok {
				if err == nil {
					restore()
					t.Fatalf("Use(%v) succeeded on %v", c.p, Available())
				}
				t.Logf("Use(%v): %v", c.p, err)
				if Current() != base {
					t.Errorf("a failed Use changed the path to %v", Current())
				}
				return
			}
			if err != nil {
				t.Fatalf("Use(%v): %v", c.p, err)
			}
			if Current() != c.p || Accelerated() != (c.p != PathPortable) || useAsm() != (c.p >= PathAVX2) || useAVX512() != (c.p == PathAVX512) {
				t.Errorf("after Use(%v): Current %v, Accelerated %v, useAsm %v, useAVX512 %v", c.p, Current(), Accelerated(), useAsm(), useAVX512())
			}
			// Nested selections restore in reverse order.
			inner, err := Use(PathPortable)
			if err != nil {
				t.Fatal(err)
			}
			if Current() != PathPortable {
				t.Errorf("nested Use(portable): Current %v", Current())
			}
			inner()
			if Current() != c.p {
				t.Errorf("after the nested restore: Current %v, want %v", Current(), c.p)
			}
			restore()
			if Current() != base {
				t.Errorf("after restore: Current %v, want %v", Current(), base)
			}
		})
	}
}

// TestPathsAgree runs each kernel on the same inputs on every available path
// and checks every path's outputs against the portable path's.
func TestPathsAgree(t *testing.T) {
	type kernel struct {
		name string
		run  func(p *Pool) []float32 // deterministic inputs
	}
	ks := []kernel{
		{"conv1x1", func(p *Pool) []float32 {
			rng := rand.New(rand.NewSource(21))
			var s Scratch
			var out []float32
			for _, c := range []c1Case{{144, 24, 3136, 3, false, ActReLU6}, {96, 576, 196, 0, true, ActNone}, {37, 41, 100, 20, true, ActReLU6}, {1, 1, 1, 0, false, ActNone}} {
				a, bias := NewMat(randSlice(rng, c.m*c.k), c.m, c.k), randSlice(rng, c.m)
				b := randSlice(rng, c.k*c.n)
				var res []float32
				if c.res {
					res = randSlice(rng, c.m*c.n)
				}
				var b0 []float32
				if c.k0 > 0 {
					b0 = b[:c.k0*c.n]
				}
				got := nanSlice(c.m * c.n)
				Conv1x1(p, &s, a, b0, c.k0, b[c.k0*c.n:], c.n, bias, res, c.act, got)
				out = append(out, got...)
			}
			return out
		}},
		{"depthwise3x3", func(p *Pool) []float32 {
			rng := rand.New(rand.NewSource(22))
			var out []float32
			for _, c := range []dwCase{{32, 56, 56, 1}, {96, 56, 56, 2}, {3, 33, 47, 2}, {5, 9, 9, 1}, {2, 7, 7, 3}} {
				in, wts, bias := randSlice(rng, c.c*c.h*c.w), randSlice(rng, c.c*9), randSlice(rng, c.c)
				got := nanSlice(c.c * OutSize(c.h, c.stride) * OutSize(c.w, c.stride))
				Depthwise3x3(p, in, c.c, c.h, c.w, c.stride, wts, bias, ActReLU6, got)
				out = append(out, got...)
			}
			return out
		}},
		{"conv3x3", func(p *Pool) []float32 {
			rng := rand.New(rand.NewSource(23))
			var s Scratch
			cout, cin, h, w := 32, 3, 64, 64
			a, in, bias := NewMat(randSlice(rng, cout*cin*9), cout, cin*9), randSlice(rng, cin*h*w), randSlice(rng, cout)
			got := nanSlice(cout * OutSize(h, 2) * OutSize(w, 2))
			Conv3x3(p, &s, a, in, cin, h, w, 2, bias, ActReLU6, got)
			return got
		}},
		{"conv", func(p *Pool) []float32 {
			rng := rand.New(rand.NewSource(24))
			var s ConvScratch
			g := ConvGeom{Cin: 8, T: 2, H: 15, W: 13, KH: 3, KW: 3, Stride: 2, Pad: 1}
			oh, ow := g.Out()
			a, in, bias := NewMat(randSlice(rng, 16*g.K()), 16, g.K()), randSlice(rng, g.Cin*g.T*g.H*g.W), randSlice(rng, 16)
			got := nanSlice(16 * g.T * oh * ow)
			Conv(p, &s, a, in, g, bias, nil, ActReLU, got)
			return got
		}},
		{"conv1x1batch", func(p *Pool) []float32 {
			rng := rand.New(rand.NewSource(25))
			var s Scratch
			m, k, k0, n := 160, 96, 12, 49
			a, bias := NewMat(randSlice(rng, m*k), m, k), randSlice(rng, m)
			segs := make([]Seg, 3)
			for i := range segs {
				segs[i] = Seg{B0: randSlice(rng, k0*n), B1: randSlice(rng, (k-k0)*n), Res: randSlice(rng, m*n), C: nanSlice(m * n)}
			}
			Conv1x1Batch(p, &s, a, segs, k0, n, bias, ActNone)
			var out []float32
			for _, sg := range segs {
				out = append(out, sg.C...)
			}
			return out
		}},
		{"depthwise3x3batch", func(p *Pool) []float32 {
			rng := rand.New(rand.NewSource(26))
			c, h, w := 24, 28, 28
			wts, bias := randSlice(rng, c*9), randSlice(rng, c)
			ins, outs := make([][]float32, 3), make([][]float32, 3)
			for i := range ins {
				ins[i], outs[i] = randSlice(rng, c*h*w), nanSlice(c*OutSize(h, 2)*OutSize(w, 2))
			}
			Depthwise3x3Batch(p, ins, c, h, w, 2, wts, bias, ActReLU6, outs)
			return slices.Concat(outs...)
		}},
	}
	ps := Available()
	t.Logf("comparing %v against portable", ps[1:])
	if len(ps) == 1 {
		t.Log("only the portable path runs here: nothing to compare it with")
	}
	pool := NewPool(2)
	defer pool.Close()
	ref := make(map[string][]float32)
	for _, p := range ps {
		t.Run(p.String(), func(t *testing.T) {
			restore, err := Use(p)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			for _, k := range ks {
				got := k.run(pool)
				if p == PathPortable {
					ref[k.name] = got
					continue
				}
				check(t, fmt.Sprintf("%s: %v vs portable", k.name, p), got, ref[k.name])
			}
		})
	}
}
