package main

import (
	"image"
	"math/rand/v2"
	"testing"

	"gocv.io/x/gocv"

	"github.com/livetsm/livetsm/onlinetsm/offline"
)

// TestResizeMatchesOpenCV checks offline.ResizeBilinearRGB (pure Go)
// against OpenCV's cv2.resize INTER_LINEAR through gocv, byte for byte, on
// the sizes mmaction2's Resize(-1, 256) produces.
func TestResizeMatchesOpenCV(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range [][2]int{{320, 240}, {640, 480}, {512, 512}, {340, 256}, {1280, 720}, {171, 128}, {100, 300}, {257, 255}, {720, 1280}, {400, 226}} {
		sw, sh := c[0], c[1]
		src := make([]byte, sw*sh*3)
		// Smooth gradients plus noise, so that rounding is exercised.
		for y := 0; y < sh; y++ {
			for x := 0; x < sw; x++ {
				for k := 0; k < 3; k++ {
					v := (x*(k+1) + y*(3-k)) % 256
					v += rng.IntN(41) - 20
					src[(y*sw+x)*3+k] = byte(min(max(v, 0), 255))
				}
			}
		}
		for _, short := range []int{256, 224, 128} {
			dw, dh := offline.ResizedSize(sw, sh, short)
			got := make([]byte, dw*dh*3)
			offline.ResizeBilinearRGB(got, dw, dh, src, sw, sh)
			m, err := gocv.NewMatFromBytes(sh, sw, gocv.MatTypeCV8UC3, src)
			if err != nil {
				t.Fatal(err)
			}
			out := gocv.NewMat()
			gocv.Resize(m, &out, image.Pt(dw, dh), 0, 0, gocv.InterpolationLinear)
			want := out.ToBytes()
			m.Close()
			out.Close()
			diff, maxd := 0, 0
			for i := range want {
				d := int(got[i]) - int(want[i])
				if d != 0 {
					diff++
					maxd = max(maxd, d, -d)
				}
			}
			if diff > 0 {
				t.Errorf("%d×%d → %d×%d: %d of %d bytes differ from OpenCV (max %d)", sw, sh, dw, dh, diff, len(want), maxd)
			}
		}
	}
}
