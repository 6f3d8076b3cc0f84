package ckpt

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/onlinetsm/internal/ckpt/ckpttest"
)

// FuzzReadCheckpoint feeds arbitrary bytes to Read, seeded with the
// test checkpoints of every format and some corrupt ones. It must never
// panic (it runs without Read's final recover, so panics in this package
// are not hidden), and whatever it accepts must be consistent
// and within the memory budget for the input's size. Run with
//
//	go test ./onlinetsm/internal/ckpt/ -run XXX -fuzz FuzzReadCheckpoint -fuzztime 60s
func FuzzReadCheckpoint(f *testing.F) {
	entries, err := os.ReadDir(testDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) == ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(testDir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		if len(data) > 100 {
			f.Add(data[:len(data)/2]) // truncated
			mut := bytes.Clone(data)
			mut[len(mut)/3] ^= 0xff // one flipped byte
			f.Add(mut)
		}
	}
	var st bytes.Buffer
	if err := ckpttest.WriteSafetensors(&st, map[string]*Tensor{
		"a":        {Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
		"module.b": {Data: []float32{5}},
	}, map[string]string{"k": "v"}, true); err != nil {
		f.Fatal(err)
	}
	f.Add(st.Bytes())
	f.Add([]byte{})
	f.Add([]byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."))
	f.Add(makeSafetensors(`{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}`, []byte{1, 2}))

	f.Fuzz(func(t *testing.T, data []byte) {
		ck, err := readNoRecover(data)
		if err != nil {
			if ck != nil {
				t.Fatalf("error %v with a non-nil checkpoint", err)
			}
			return
		}
		checkConsistent(t, ck, len(data))
	})
}

// FuzzCheckpointPickle fuzzes the pickle of a zip checkpoint: the input
// replaces data.pkl of testdata/zip_views.pt, whose storage
// records stay, so that mutations reach the unpickler, the class allow-list,
// persistent loads and the tensor view checks instead of failing the zip CRC.
func FuzzCheckpointPickle(f *testing.F) {
	zr, err := zip.NewReader(bytes.NewReader(readTestFile(f, "zip_views.pt")), int64(len(readTestFile(f, "zip_views.pt"))))
	if err != nil {
		f.Fatal(err)
	}
	var records []string
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			f.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			f.Fatal(err)
		}
		name := "zip_views/" + strings.TrimPrefix(zf.Name, "zip_views/")
		if name == "zip_views/data.pkl" {
			f.Add(b)
			continue
		}
		records = append(records, name, string(b))
	}
	f.Add([]byte("\x80\x02}."))
	f.Add([]byte("\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR."))
	f.Fuzz(func(t *testing.T, pkl []byte) {
		data := makeZip(t, append([]string{"zip_views/data.pkl", string(pkl)}, records...)...)
		ck, err := readNoRecover(data)
		if err != nil {
			return
		}
		checkConsistent(t, ck, len(data))
	})
}
