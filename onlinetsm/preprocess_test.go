package onlinetsm

import (
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/livetsm/livetsm/internal/paritytest"
)

func TestPreprocess(t *testing.T) {
	// A 320×240 image: left half red, right half blue, with a green dot in
	// the centre.
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := 0; y < 240; y++ {
		for x := 0; x < 320; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 160 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	p := NewPreprocessor(224)
	if p.Resize != 256 {
		t.Fatalf("Resize = %d, want 256", p.Resize)
	}
	f, err := p.Frame(img)
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Shape(); s[0] != 3 || s[1] != 224 || s[2] != 224 {
		t.Fatalf("shape %v", s)
	}
	d := f.Float32s()
	at := func(c, y, x int) float32 { return d[(c*224+y)*224+x] }
	norm := func(v float32, c int) float32 { return (v/255 - ImageNetMean[c]) / ImageNetStd[c] }
	for _, tc := range []struct {
		name string
		y, x int
		rgb  [3]float32
	}{{"left", 100, 10, [3]float32{255, 0, 0}}, {"right", 100, 210, [3]float32{0, 0, 255}}} {
		for c := 0; c < 3; c++ {
			if got, want := at(c, tc.y, tc.x), norm(tc.rgb[c], c); !paritytest.Near(float64(got), float64(want), 1e-5) {
				t.Errorf("%s channel %d = %v, want %v", tc.name, c, got, want)
			}
		}
	}
	// The centre crop keeps the boundary in the middle: resized width 341,
	// crop from x=58, boundary at 170.5 → column 112 of the crop.
	if at(0, 50, 105) < 0 || at(2, 50, 120) < 0 {
		t.Error("centre crop is off: the colour boundary is not in the middle")
	}
	// Into does not allocate once its buffer has grown.
	buf := make([]float32, 3*224*224)
	if n := testing.AllocsPerRun(3, func() { p.Into(buf, img) }); n != 0 {
		t.Errorf("Into allocates %v times", n)
	}
}

func TestPreprocessErrors(t *testing.T) {
	p := NewPreprocessor(64)
	for _, tc := range []struct {
		name string
		dst  []float32
		img  image.Image
		want string
	}{
		{"dst", make([]float32, 5), image.NewRGBA(image.Rect(0, 0, 80, 80)), "destination has 5 values"},
		{"empty", make([]float32, 3*64*64), image.NewRGBA(image.Rect(0, 0, 0, 0)), "empty image"},
	} {
		if err := p.Into(tc.dst, tc.img); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
