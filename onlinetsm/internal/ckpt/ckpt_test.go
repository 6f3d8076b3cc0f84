package ckpt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
	"github.com/livetsm/livetsm/onlinetsm/internal/ckpt/ckpttest"
)

// The files in testdata are made by tools/make_checkpoint_cases.py
// with Debian's PyTorch 1.13; expected.json holds the exact float32 values
// each good file must yield.
const testDir = "testdata"

type expectedTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

type expectedFile struct {
	Format  string                    `json:"format"`
	Meta    map[string]string         `json:"meta"`
	Tensors map[string]expectedTensor `json:"tensors"`
}

func loadExpected(t testing.TB) (map[string]expectedFile, []uint16, []float64) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	files := map[string]expectedFile{}
	var bits []uint16
	var in []float64
	for name, msg := range all {
		if name == "_float16_rounding" {
			var r struct {
				In   []float64 `json:"in"`
				Bits []uint16  `json:"bits"`
			}
			if err := json.Unmarshal(msg, &r); err != nil {
				t.Fatal(err)
			}
			in, bits = r.In, r.Bits
			continue
		}
		var f expectedFile
		if err := json.Unmarshal(msg, &f); err != nil {
			t.Fatal(err)
		}
		files[name] = f
	}
	return files, bits, in
}

func readTestFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goodFiles lists the valid test checkpoints, sorted.
func goodFiles(t testing.TB) []string {
	files, _, _ := loadExpected(t)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// readNoRecover is Read without its final recover, so that a panic
// in this package fails the test instead of becoming an error.
func readNoRecover(data []byte) (*Checkpoint, error) {
	return read(data, false)
}

func TestCheckpointReadCases(t *testing.T) {
	files, _, _ := loadExpected(t)
	if len(files) < 7 {
		t.Fatalf("expected.json lists %d files", len(files))
	}
	for name, want := range files {
		t.Run(name, func(t *testing.T) {
			ck, err := readNoRecover(readTestFile(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if ck.Format != want.Format {
				t.Errorf("Format = %q, want %q", ck.Format, want.Format)
			}
			wantMeta := want.Meta
			if wantMeta == nil {
				wantMeta = map[string]string{}
			}
			if !reflect.DeepEqual(ck.Meta, wantMeta) {
				t.Errorf("Meta = %v, want %v", ck.Meta, wantMeta)
			}
			if len(ck.Tensors) != len(want.Tensors) {
				t.Errorf("%d tensors, want %d", len(ck.Tensors), len(want.Tensors))
			}
			for key, wt := range want.Tensors {
				got, ok := ck.Tensors[key]
				if !ok {
					t.Errorf("missing tensor %q", key)
					continue
				}
				if len(got.Shape) != len(wt.Shape) || (len(wt.Shape) > 0 && !reflect.DeepEqual(got.Shape, wt.Shape)) {
					t.Errorf("%s: shape %v, want %v", key, got.Shape, wt.Shape)
				}
				if len(got.Data) != len(wt.Data) {
					t.Errorf("%s: %d values, want %d", key, len(got.Data), len(wt.Data))
					continue
				}
				for i, w := range wt.Data {
					if math.Float32bits(got.Data[i]) != math.Float32bits(float32(w)) {
						t.Errorf("%s[%d] = %v, want %v", key, i, got.Data[i], float32(w))
						break
					}
				}
			}
		})
	}
}

// The zip and legacy variants of each case must give identical tensors.
func TestCheckpointFormatsAgree(t *testing.T) {
	for _, c := range []string{"bare.pt", "wrapped.pth.tar", "views.pt"} {
		z, err := readNoRecover(readTestFile(t, "zip_"+c))
		if err != nil {
			t.Fatal(err)
		}
		l, err := readNoRecover(readTestFile(t, "legacy_"+c))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(z.Tensors, l.Tensors) {
			t.Errorf("%s: zip and legacy tensors differ", c)
		}
	}
}

func TestCheckpointFloat16Rounding(t *testing.T) {
	_, bits, in := loadExpected(t)
	if len(bits) == 0 || len(bits) != len(in) {
		t.Fatalf("bad _float16_rounding table: %d in, %d bits", len(in), len(bits))
	}
	for i, x := range in {
		if got := ckpttest.Float32ToHalf(float32(x)); got != bits[i] {
			t.Errorf("Float32ToHalf(%g) = %#04x, numpy gives %#04x", float32(x), got, bits[i])
		}
	}
	// Every half value survives float32 and back, bit for bit (NaNs stay NaN).
	for h := 0; h < 1<<16; h++ {
		f := halfToFloat32(uint16(h))
		back := ckpttest.Float32ToHalf(f)
		if f != f {
			if back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		if back != uint16(h) {
			t.Fatalf("half %#04x -> %g -> %#04x", h, f, back)
		}
	}
}

func TestCheckpointSafetensorsRoundTrip(t *testing.T) {
	src, err := readNoRecover(readTestFile(t, "zip_views.pt"))
	if err != nil {
		t.Fatal(err)
	}
	tensors := src.Tensors
	tensors["odd"] = &Tensor{Shape: []int{2, 2}, Data: []float32{1e-6, -70000, float32(math.Inf(-1)), 0.1}}
	tensors["nilshape"] = &Tensor{Data: []float32{-3}}
	meta := map[string]string{"arch": "mobilenetv2", "note": "ünïcode \"quoted\""}
	for _, half := range []bool{false, true} {
		var buf bytes.Buffer
		if err := ckpttest.WriteSafetensors(&buf, tensors, meta, half); err != nil {
			t.Fatal(err)
		}
		ck, err := readNoRecover(buf.Bytes())
		if err != nil {
			t.Fatalf("half=%v: %v", half, err)
		}
		if ck.Format != FormatSafetensors || !reflect.DeepEqual(ck.Meta, meta) {
			t.Errorf("half=%v: format %q meta %v", half, ck.Format, ck.Meta)
		}
		if len(ck.Tensors) != len(tensors) {
			t.Fatalf("half=%v: %d tensors, want %d", half, len(ck.Tensors), len(tensors))
		}
		for k, want := range tensors {
			got := ck.Tensors[k]
			if got == nil || len(got.Shape) != len(want.Shape) || len(got.Data) != len(want.Data) {
				t.Fatalf("half=%v: %q: got %+v, want %+v", half, k, got, want)
			}
			for i := range want.Shape {
				if got.Shape[i] != want.Shape[i] {
					t.Fatalf("half=%v: %q: shape %v, want %v", half, k, got.Shape, want.Shape)
				}
			}
			for i, w := range want.Data {
				g := got.Data[i]
				if !half {
					if math.Float32bits(g) != math.Float32bits(w) {
						t.Fatalf("%q[%d] = %v, want %v", k, i, g, w)
					}
					continue
				}
				if exact := halfToFloat32(ckpttest.Float32ToHalf(w)); math.Float32bits(g) != math.Float32bits(exact) {
					t.Fatalf("half %q[%d] = %v, want %v", k, i, g, exact)
				}
				aw := math.Abs(float64(w))
				switch {
				case aw > 65520:
					if !math.IsInf(float64(g), int(math.Copysign(1, float64(w)))) {
						t.Fatalf("half %q[%d] = %v, want ±Inf for %v", k, i, g, w)
					}
				case aw >= 1.0/(1<<14):
					if !paritytest.Near(float64(g), float64(w), aw/(1<<11)) {
						t.Fatalf("half %q[%d] = %v, too far from %v", k, i, g, w)
					}
				default:
					if !paritytest.Near(float64(g), float64(w), 1.0/(1<<25)) {
						t.Fatalf("half %q[%d] = %v, too far from %v", k, i, g, w)
					}
				}
			}
		}
	}
	// No metadata: Meta is empty, not nil.
	var buf bytes.Buffer
	if err := ckpttest.WriteSafetensors(&buf, map[string]*Tensor{"a": {Shape: []int{1}, Data: []float32{1}}}, nil, false); err != nil {
		t.Fatal(err)
	}
	ck, err := readNoRecover(buf.Bytes())
	if err != nil || ck.Meta == nil || len(ck.Meta) != 0 {
		t.Fatalf("ck=%+v err=%v", ck, err)
	}
}

// makeZip builds a zip archive of stored records.
func makeZip(t testing.TB, records ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(records); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: records[i], Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(records[i+1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// makeSafetensors builds a safetensors file from a header and data.
func makeSafetensors(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

func TestCheckpointBadInputs(t *testing.T) {
	legacyHead := readTestFile(t, "legacy_bare.pt")[:137] // magic, protocol, sys info
	u64 := func(v uint64) string { return string(binary.LittleEndian.AppendUint64(nil, v)) }
	cases := []struct {
		name string
		data []byte
		want []string // substrings of the error
		is   error
	}{
		{"empty", nil, []string{"empty file"}, errUnknownFormat},
		{"text", []byte("hello, world, this is not a checkpoint"), []string{"unknown format"}, errUnknownFormat},
		{"plain pickle", []byte("\x80\x02K\x05."), []string{"magic number"}, errUnknownFormat},
		{"zip os.system", readTestFile(t, "bad_zip_os_system.pt"), []string{`disallowed class "posix.system"`, "data.pkl"}, errDisallowed},
		{"legacy os.system", readTestFile(t, "bad_legacy_os_system.pt"), []string{`disallowed class "posix.system"`}, errDisallowed},
		{"legacy raw os.system", readTestFile(t, "bad_legacy_raw_os_system.pt"), []string{`disallowed class "os.system"`}, errDisallowed},
		{"zip eval", readTestFile(t, "bad_zip_eval.pt"), []string{`disallowed class "__builtin__.eval"`}, errDisallowed},
		{"builtins.eval GLOBAL", append(append([]byte{}, legacyHead...), "\x80\x02cbuiltins\neval\nX\x01\x00\x00\x001\x85R."...),
			[]string{`disallowed class "builtins.eval"`}, errDisallowed},
		{"global in sys info", append(append([]byte{}, legacyHead[:21]...), "\x80\x02cos\nsystem\n."...),
			[]string{`disallowed class "os.system"`}, errDisallowed},
		{"legacy huge storage", readTestFile(t, "bad_legacy_huge_storage.pt"), []string{"1000000000000", "more than the file"}, errBudget},
		{"zip huge storage", readTestFile(t, "bad_zip_huge_storage.pt"), []string{"1000000000000", "storage out of range"}, nil},
		{"zip huge broadcast", readTestFile(t, "bad_zip_huge_broadcast.pt"), []string{"1000000000000 elements"}, errBudget},
		{"stride out of bounds", readTestFile(t, "bad_zip_stride_oob.pt"), []string{"out of range of storage"}, nil},
		{"missing record", readTestFile(t, "bad_zip_missing_record.pt"), []string{"missing storage record", "archive/data/0"}, nil},
		{"legacy short storage", readTestFile(t, "bad_legacy_short_storage.pt"), []string{`storage "0" needs 16 bytes`}, errTruncated},
		{"no data.pkl", readTestFile(t, "bad_zip_no_datapkl.pt"), []string{"no data.pkl"}, nil},
		{"dup prefix zip", readTestFile(t, "bad_dup_prefix.pt"), []string{`duplicate key "w"`}, nil},
		{"dup prefix legacy", readTestFile(t, "bad_legacy_dup_prefix.pt"), []string{`duplicate key "w"`}, nil},
		{"no tensors", readTestFile(t, "bad_no_tensors.pt"), []string{"no tensors found"}, errNoTensors},
		{"state_dict not dict", readTestFile(t, "bad_state_dict_not_dict.pt"), []string{`"state_dict" entry is a list`}, nil},
		{"single tensor", readTestFile(t, "bad_single_tensor.pt"), []string{"single tensor"}, errNoTensors},
		{"complex dtype", readTestFile(t, "bad_complex.pt"), []string{"unsupported dtype torch.ComplexFloatStorage"}, errUnsupportedDType},
		{"torchscript", makeZip(t, "m/data.pkl", "\x80\x02}.", "m/constants.pkl", "\x80\x02)."), []string{"TorchScript"}, nil},
		{"big endian", makeZip(t, "m/data.pkl", "\x80\x02}.", "m/byteorder", "big"), []string{`byte order "big"`}, nil},
		{"zip huge BINBYTES8", makeZip(t, "m/data.pkl", "\x80\x04\x8e"+u64(1<<62)+"."), []string{"needs 4611686018427387904 bytes"}, errTruncated},
		{"zip huge FRAME", makeZip(t, "m/data.pkl", "\x80\x04\x95"+u64(1<<40)+"}."), []string{"needs 1099511627776 bytes"}, errTruncated},
		{"zip unknown opcode", makeZip(t, "m/data.pkl", "\x80\x02\xff."), []string{"unknown opcode 0xff"}, errMalformedPickle},
		{"zip no STOP", makeZip(t, "m/data.pkl", "\x80\x02}"), []string{"no STOP"}, errTruncated},
		{"zip pickle stack underflow", makeZip(t, "m/data.pkl", "\x80\x02s."), []string{"malformed pickle"}, errMalformedPickle},
		{"zip pickle empty LONG1", makeZip(t, "m/data.pkl", "\x80\x02\x8a\x00."), []string{"LONG1 of length 0"}, errMalformedPickle},
		{"zip odd DICT", makeZip(t, "m/data.pkl", "\x80\x02(K\x01d."), []string{"malformed pickle"}, errMalformedPickle},
		{"zip persistent id not storage", makeZip(t, "m/data.pkl", "\x80\x02X\x01\x00\x00\x00xQ."), []string{"persistent id is string"}, nil},
		{"zip module persid", makeZip(t, "m/data.pkl", "\x80\x02X\x06\x00\x00\x00module\x85Q."), []string{"nn.Module"}, nil},
		{"zip top-level list", makeZip(t, "m/data.pkl", "\x80\x02]."), []string{"top-level object is a list"}, errNoTensors},
		{"zip empty dict", makeZip(t, "m/data.pkl", "\x80\x02}."), []string{"no tensors found"}, errNoTensors},
		{"truncated zip", readTestFile(t, "zip_bare.pt")[:2000], []string{"corrupt zip archive"}, errTruncated},
		{"st header beyond file", makeSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, nil)[:30],
			[]string{"header length 54 exceeds"}, errTruncated},
		{"st offsets out of range", makeSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)),
			[]string{"data_offsets"}, nil},
		{"st offsets gap", makeSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
			[]string{"invalid metadata offset"}, nil},
		{"st shape mismatch", makeSafetensors(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)),
			[]string{"offsets mismatch"}, nil},
		{"st huge shape", makeSafetensors(`{"a":{"dtype":"F32","shape":[1000000,1000000,1000000,1000000],"data_offsets":[0,4]}}`, make([]byte, 4)),
			[]string{"bad header"}, nil},
		{"st bad JSON", makeSafetensors(`{"a":{"dtype":"F32",`, nil), []string{"bad header"}, nil},
		{"st unknown dtype", makeSafetensors(`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)),
			[]string{"unsupported dtype", "F8_E4M3"}, errUnsupportedDType},
		{"st unsupported dtype U64", makeSafetensors(`{"a":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)),
			[]string{"unsupported dtype"}, errUnsupportedDType},
		{"st metadata not string", makeSafetensors(`{"__metadata__":{"a":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)),
			[]string{"__metadata__"}, nil},
		{"st no tensors", makeSafetensors(`{"__metadata__":{"a":"b"}}`, nil), []string{"no tensors found"}, errNoTensors},
		{"st dup prefix", makeSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"module.a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
			[]string{`duplicate key "a"`}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ck, err := readNoRecover(c.data)
			if err == nil {
				t.Fatalf("no error; got %d tensors", len(ck.Tensors))
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "checkpoint: ") {
				t.Errorf("error %q lacks the checkpoint: prefix", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %q", msg, c.is)
			}
		})
	}
}

// Every prefix of a valid file up to 1 KiB, and random cuts beyond, must fail
// cleanly.
func TestCheckpointTruncated(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, name := range goodFiles(t) {
		data := readTestFile(t, name)
		cuts := []int{}
		for n := 0; n < len(data) && n <= 1024; n++ {
			cuts = append(cuts, n)
		}
		for i := 0; i < 200; i++ {
			cuts = append(cuts, rng.Intn(len(data)))
		}
		cuts = append(cuts, len(data)-1)
		for _, n := range cuts {
			_, err := readNoRecover(data[:n])
			if err == nil {
				t.Fatalf("%s cut to %d of %d bytes: no error", name, n, len(data))
			}
			if !errors.Is(err, errTruncated) && !errors.Is(err, errUnknownFormat) && !strings.Contains(err.Error(), "data_offsets") {
				t.Errorf("%s cut to %d bytes: error %q does not say truncated", name, n, err)
			}
		}
	}
}

// Random byte flips must never panic; whatever is read must be consistent.
func TestCheckpointByteFlips(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	n := 400
	if testing.Short() {
		n = 50
	}
	for _, name := range goodFiles(t) {
		data := readTestFile(t, name)
		for i := 0; i < n; i++ {
			mut := append([]byte{}, data...)
			for k := 1 + rng.Intn(4); k > 0; k-- {
				mut[rng.Intn(len(mut))] ^= byte(1 + rng.Intn(255))
			}
			ck, err := readNoRecover(mut)
			if err == nil {
				checkConsistent(t, ck, len(mut))
			}
		}
	}
}

// checkConsistent checks the invariants of a successfully read checkpoint.
func checkConsistent(t testing.TB, ck *Checkpoint, fileSize int) {
	t.Helper()
	if len(ck.Tensors) == 0 || ck.Meta == nil {
		t.Fatalf("read %d tensors, meta %v", len(ck.Tensors), ck.Meta)
	}
	total := 0
	for k, v := range ck.Tensors {
		if strings.HasPrefix(k, modulePrefix) && ck.Tensors[strings.TrimPrefix(k, modulePrefix)] != nil {
			t.Fatalf("both %q and its stripped key", k)
		}
		n := 1
		for _, d := range v.Shape {
			if d < 0 {
				t.Fatalf("%q: shape %v", k, v.Shape)
			}
			n *= d
		}
		if len(v.Data) != n {
			t.Fatalf("%q: shape %v but %d values", k, v.Shape, len(v.Data))
		}
		total += n
	}
	if int64(total) > newBudget(fileSize).elems {
		t.Fatalf("%d elements from a %d-byte file", total, fileSize)
	}
}

// Files claiming enormous storages or tensors must fail before allocating:
// each read may allocate at most a few MiB.
func TestCheckpointHugeClaimsFailFast(t *testing.T) {
	u64 := string(binary.LittleEndian.AppendUint64(nil, 1<<50))
	inputs := map[string][]byte{
		"BINBYTES8": makeZip(t, "m/data.pkl", "\x80\x04\x8e"+u64+"."),
		"FRAME":     makeZip(t, "m/data.pkl", "\x80\x04\x95"+u64+"}."),
		"st shape":  makeSafetensors(`{"a":{"dtype":"F64","shape":[1125899906842624],"data_offsets":[0,8]}}`, make([]byte, 8)),
	}
	for _, name := range []string{"bad_legacy_huge_storage.pt", "bad_zip_huge_storage.pt", "bad_zip_huge_broadcast.pt"} {
		inputs[name] = readTestFile(t, name)
	}
	for name, data := range inputs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := readNoRecover(data)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
			t.Errorf("%s: allocated %d bytes before failing", name, d)
		}
	}
}
