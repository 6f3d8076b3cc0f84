package synth

import (
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // photograph formats
	_ "image/png"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp"
)

// DefaultPhotoDirs returns where Debian's wallpaper packages
// (gnome-backgrounds, mate-backgrounds, lomiri-wallpapers,
// plasma-workspace-wallpapers) install their photographs; `livetsm synth
// --photos auto` reads them. Evaluation photographs (scikit-image's and
// OpenCV's sample images) are never among them.
func DefaultPhotoDirs() []string { return []string{"/usr/share/backgrounds", "/usr/share/wallpapers"} }

// photoSide is the longer side photographs are kept at.
const photoSide = 480

// Photos is a read-only set of photographs, kept small (the longer side at
// most 480 pixels) and in a fixed order, so that the same Photos and seed
// render the same frames. It is safe for concurrent use.
type Photos struct {
	imgs  []*image.RGBA
	names []string
}

// Len returns the number of photographs.
func (p *Photos) Len() int {
	if p == nil {
		return 0
	}
	return len(p.imgs)
}

// Names returns the photographs' file names, in the set's order.
func (p *Photos) Names() []string { return slices.Clone(p.names) }

// LoadPhotos reads every JPEG, PNG and WebP file under dirs (recursively),
// shrinks each to at most 480 pixels on its longer side and returns them in
// path order. Files that do not decode, and directories that do not exist,
// are skipped; an error is returned only when no photograph at all was read.
func LoadPhotos(dirs ...string) (*Photos, error) {
	var paths []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".jpg", ".jpeg", ".png", ".webp":
				if !d.IsDir() {
					paths = append(paths, path)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("synth: photos: %w", err)
		}
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	imgs := make([]*image.RGBA, len(paths))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, path := range paths {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			imgs[i] = loadPhoto(path)
		})
	}
	wg.Wait()
	p := &Photos{}
	for i, img := range imgs {
		if img != nil {
			p.imgs = append(p.imgs, img)
			p.names = append(p.names, paths[i])
		}
	}
	if len(p.imgs) == 0 {
		return nil, fmt.Errorf("synth: no photographs (JPEG, PNG or WebP) under %q", dirs)
	}
	return p, nil
}

// loadPhoto decodes and shrinks one photograph, or returns nil.
func loadPhoto(path string) *image.RGBA {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		return nil
	}
	b := src.Bounds()
	if b.Dx() < 32 || b.Dy() < 32 {
		return nil
	}
	k := min(1, float64(photoSide)/float64(max(b.Dx(), b.Dy())))
	w, h := max(1, int(float64(b.Dx())*k)), max(1, int(float64(b.Dy())*k))
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.ApproxBiLinear.Scale(dst, dst.Rect, src, b, draw.Src, nil)
	return dst
}

// photoCrop paints buf (bw×bh, RGB float) with a random crop of a random
// photograph: a random scale (from the whole photograph to a quarter of it),
// position and horizontal flip, then shifts of exposure, contrast and colour.
func (p *Photos) photoCrop(r *rand.Rand, buf []float64, bw, bh int) {
	img := p.imgs[r.IntN(len(p.imgs))]
	pw, ph := img.Rect.Dx(), img.Rect.Dy()
	// The crop has the buffer's aspect ratio and covers 25–100% of the
	// photograph's largest such crop.
	aspect := float64(bw) / float64(bh)
	cw, ch := float64(pw), float64(pw)/aspect
	if ch > float64(ph) {
		ch, cw = float64(ph), float64(ph)*aspect
	}
	k := uniform(r, 0.25, 1)
	cw, ch = cw*k, ch*k
	x0, y0 := uniform(r, 0, float64(pw)-cw), uniform(r, 0, float64(ph)-ch)
	flip := r.IntN(2) == 0
	gain := math.Exp(uniform(r, -0.6, 0.4))
	contrast := uniform(r, 0.6, 1.3)
	var tint [3]float64
	for c := range 3 {
		tint[c] = uniform(r, 0.85, 1.15)
	}
	sx, sy := cw/float64(bw), ch/float64(bh)
	for y := range bh {
		fy := y0 + (float64(y)+0.5)*sy - 0.5
		iy := max(0, min(ph-2, int(fy)))
		ty := max(0, min(1, fy-float64(iy)))
		for x := range bw {
			xx := x
			if flip {
				xx = bw - 1 - x
			}
			fx := x0 + (float64(xx)+0.5)*sx - 0.5
			ix := max(0, min(pw-2, int(fx)))
			tx := max(0, min(1, fx-float64(ix)))
			i00 := iy*img.Stride + 4*ix
			i10 := i00 + img.Stride
			o := (y*bw + x) * 3
			for c := range 3 {
				a := float64(img.Pix[i00+c])*(1-tx) + float64(img.Pix[i00+4+c])*tx
				b := float64(img.Pix[i10+c])*(1-tx) + float64(img.Pix[i10+4+c])*tx
				v := a*(1-ty) + b*ty
				buf[o+c] = ((v-128)*contrast + 128) * gain * tint[c]
			}
		}
	}
}

// texture returns a function giving a photograph's luminance in [0, 1] at
// hand coordinates (u, v), for photo-textured hands and sleeves.
func (p *Photos) texture(r *rand.Rand) func(u, v float64) float64 {
	img := p.imgs[r.IntN(len(p.imgs))]
	pw, ph := img.Rect.Dx(), img.Rect.Dy()
	scale := uniform(r, 0.05, 0.3) * float64(min(pw, ph)) // pixels per palm radius
	ox, oy := uniform(r, 0, float64(pw)), uniform(r, 0, float64(ph))
	return func(u, v float64) float64 {
		x := int(ox+u*scale) % pw
		y := int(oy+v*scale) % ph
		if x < 0 {
			x += pw
		}
		if y < 0 {
			y += ph
		}
		i := y*img.Stride + 4*x
		return (0.299*float64(img.Pix[i]) + 0.587*float64(img.Pix[i+1]) + 0.114*float64(img.Pix[i+2])) / 255
	}
}
