package crosseval

import (
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // the photographs are JPEG and PNG files
	_ "image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// PhotoDirs returns the directories searched for the evaluation's
// photographs: scikit-image's data images (Debian's python3-skimage) and
// OpenCV's sample images (Debian's opencv-doc; other layouts keep them in
// share/opencv4/samples/data).
func PhotoDirs() []string {
	return []string{
		"/usr/lib/python3/dist-packages/skimage/data",
		"/usr/share/doc/opencv-doc/examples/data",
		"/usr/share/opencv4/samples/data",
	}
}

// photoNames lists the sample images that are photographs of real scenes,
// by file name. Drawings, renders, logos, charts, text pages and synthetic
// test patterns are left out, as are all but two of OpenCV's 26 near-equal
// chessboard calibration shots. A name not listed is never used, so a
// newer package cannot change the set silently.
func photoNames() []string {
	return []string{
		// scikit-image
		"astronaut.png", "brick.png", "camera.png", "chelsea.png", "clock_motion.png",
		"coffee.png", "coins.png", "grass.png", "gravel.png", "moon.png",
		"motorcycle_left.png", "motorcycle_right.png", "page.png", "rocket.jpg", "text.png",
		// OpenCV
		"aero1.jpg", "aero3.jpg", "aloeL.jpg", "aloeR.jpg", "apple.jpg", "baboon.jpg",
		"basketball1.png", "basketball2.png", "board.jpg", "box.png", "box_in_scene.png",
		"building.jpg", "butterfly.jpg", "chicky_512.png", "ela_modified.jpg", "ela_original.jpg",
		"fruits.jpg", "graf1.png", "graf3.png", "home.jpg", "left.jpg", "left01.jpg",
		"leuvenA.jpg", "leuvenB.jpg", "licenseplate_motion.jpg", "messi5.jpg", "orange.jpg",
		"right.jpg", "right08.jpg", "rubberwhale1.png", "rubberwhale2.png", "squirrel_cls.jpg",
		"stuff.jpg", "sudoku.png", "text_defocus.jpg", "text_motion.jpg",
	}
}

// ErrNoPhotos is returned by FindPhotos when no photograph is found.
var ErrNoPhotos = errors.New("no evaluation photographs found: install Debian's python3-skimage and opencv-doc (make deps)")

// FindPhotos returns the paths of the evaluation's photographs found in
// dirs (PhotoDirs when nil), in a fixed order: by directory, then by name.
// A name found in two directories is used once, from the first.
func FindPhotos(dirs []string) ([]string, error) {
	if dirs == nil {
		dirs = PhotoDirs()
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		for _, n := range photoNames() {
			if seen[n] {
				continue
			}
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				seen[n] = true
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w (searched %s)", ErrNoPhotos, strings.Join(dirs, ", "))
	}
	return out, nil
}

// background is a w×h RGB image in float32, the static scene of a clip.
type background struct {
	w, h int
	pix  []float32 // RGB, row-major
}

// loadBackground decodes the photograph at path and crops a random window
// of w:h aspect from it (optionally mirrored), resampled bilinearly to
// w×h, with its brightness and contrast varied.
func loadBackground(r *rand.Rand, path string, w, h int) (*background, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("photograph: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("photograph %s: %w", path, err)
	}
	b := img.Bounds()
	pw, ph := float64(b.Dx()), float64(b.Dy())
	aspect := float64(w) / float64(h)
	maxW := min(pw, ph*aspect)
	cw := maxW * (0.45 + 0.55*r.Float64())
	ch := cw / aspect
	x0 := (pw - cw) * r.Float64()
	y0 := (ph - ch) * r.Float64()
	flip := r.IntN(2) == 0
	gain := 0.75 + 0.4*r.Float64()
	offset := 30 * (r.Float64() - 0.5)
	tint := rgb{1 + 0.1*(r.Float64()-0.5), 1, 1 + 0.1*(r.Float64()-0.5)}

	// The photograph as float RGB, for sampling.
	src := make([]float32, 3*b.Dx()*b.Dy())
	for y := range b.Dy() {
		for x := range b.Dx() {
			cr, cg, cb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := 3 * (y*b.Dx() + x)
			src[i], src[i+1], src[i+2] = float32(cr>>8), float32(cg>>8), float32(cb>>8)
		}
	}
	bg := &background{w: w, h: h, pix: make([]float32, 3*w*h)}
	sx, sy := cw/float64(w), ch/float64(h)
	for y := range h {
		fy := y0 + (float64(y)+0.5)*sy - 0.5
		iy := min(max(int(fy), 0), b.Dy()-2)
		ty := min(max(fy-float64(iy), 0), 1)
		for x := range w {
			xx := x
			if flip {
				xx = w - 1 - x
			}
			fx := x0 + (float64(xx)+0.5)*sx - 0.5
			ix := min(max(int(fx), 0), b.Dx()-2)
			tx := min(max(fx-float64(ix), 0), 1)
			for c := range 3 {
				p00 := float64(src[3*(iy*b.Dx()+ix)+c])
				p01 := float64(src[3*(iy*b.Dx()+ix+1)+c])
				p10 := float64(src[3*((iy+1)*b.Dx()+ix)+c])
				p11 := float64(src[3*((iy+1)*b.Dx()+ix+1)+c])
				v := (p00*(1-tx)+p01*tx)*(1-ty) + (p10*(1-tx)+p11*tx)*ty
				bg.pix[3*(y*w+x)+c] = float32((v*gain + offset) * tint[c])
			}
		}
	}
	return bg, nil
}

// plainBackground is a two-colour gradient wall, for clips without
// photographs (tests).
func plainBackground(r *rand.Rand, w, h int) *background {
	a := rgb{60 + 150*r.Float64(), 60 + 150*r.Float64(), 60 + 150*r.Float64()}
	c := rgb{60 + 150*r.Float64(), 60 + 150*r.Float64(), 60 + 150*r.Float64()}
	bg := &background{w: w, h: h, pix: make([]float32, 3*w*h)}
	for y := range h {
		col := a.mix(c, float64(y)/float64(h))
		for x := range w {
			for k := range 3 {
				bg.pix[3*(y*w+x)+k] = float32(col[k])
			}
		}
	}
	return bg
}
