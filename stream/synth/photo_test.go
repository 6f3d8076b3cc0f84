package synth

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// writePhotos writes two small photographs (a JPEG and a PNG) and a file that
// is not an image into a new directory.
func writePhotos(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 900, 600))
	for y := range 600 {
		for x := range 900 {
			img.Set(x, y, color.RGBA{uint8(x / 4), uint8(y / 3), 200, 255})
		}
	}
	var jb, pb bytes.Buffer
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&pb, img.SubImage(image.Rect(0, 0, 300, 500))); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"a.jpg":      jb.Bytes(),
		"sub/b.PNG":  pb.Bytes(),
		"broken.jpg": []byte("not a jpeg"),
		"readme.txt": []byte("hello"),
		"sub/tiny.png": func() []byte {
			var b bytes.Buffer
			png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 8, 8)))
			return b.Bytes()
		}(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadPhotos(t *testing.T) {
	dir := writePhotos(t)
	p, err := LoadPhotos(filepath.Join(dir, "missing"), dir)
	if err != nil {
		t.Fatal(err)
	}
	names := p.Names()
	if p.Len() != 2 || filepath.Base(names[0]) != "a.jpg" || filepath.Base(names[1]) != "b.PNG" {
		t.Fatalf("photos %q, want a.jpg and sub/b.PNG (broken, tiny and text files skipped)", names)
	}
	for i, img := range p.imgs {
		if max(img.Rect.Dx(), img.Rect.Dy()) > photoSide {
			t.Errorf("photo %d kept at %v, want at most %d on the longer side", i, img.Rect, photoSide)
		}
	}
	if _, err := LoadPhotos(filepath.Join(dir, "sub", "nothing")); err == nil {
		t.Error("no photographs: no error")
	}
}

// TestPhotoBackgrounds checks that clips with photographs are deterministic
// and differ from the procedural ones.
func TestPhotoBackgrounds(t *testing.T) {
	p, err := LoadPhotos(writePhotos(t))
	if err != nil {
		t.Fatal(err)
	}
	clip := func(ph *Photos) Clip {
		return New(Config{Width: 64, Height: 48, Seed: 7, Photos: ph}).Clip(SwipingLeft, 4)
	}
	a, b, c := clip(p), clip(p), clip(nil)
	for i := range a.Frames {
		if !bytes.Equal(a.Frames[i].Pix, b.Frames[i].Pix) {
			t.Fatalf("frame %d: the same photographs and seed rendered different pixels", i)
		}
	}
	if bytes.Equal(a.Frames[0].Pix, c.Frames[0].Pix) {
		t.Error("photographs changed nothing")
	}
	// Some of a few scenes show a photograph: blue dominates its pixels.
	blue := 0
	g := New(Config{Width: 64, Height: 48, Seed: 9, Photos: p})
	for range 6 {
		f := g.Clip(NoGesture, 1).Frames[0]
		var s [3]int
		for i := 0; i < len(f.Pix); i += 4 {
			for ch := range 3 {
				s[ch] += int(f.Pix[i+ch])
			}
		}
		if s[2] > s[0] && s[2] > s[1] {
			blue++
		}
	}
	if blue == 0 {
		t.Error("no scene of 6 shows a photograph")
	}
}
