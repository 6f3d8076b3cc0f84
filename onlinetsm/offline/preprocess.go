package offline

import (
	"fmt"
	"image"
	"image/draw"
	"math"
)

// Crop modes of Preprocessor, as mmaction2's test-time crops.
const (
	// CropCenter is CenterCrop(CropSize): one view.
	CropCenter = "center"
	// CropThree is ThreeCrop(ShortSide): three ShortSide×ShortSide crops
	// along the longer side (start, end, middle) — mmaction2's three-crop
	// test configs crop the whole shorter side.
	CropThree = "three"
	// CropTen is TenCrop(CropSize): the four corners and the centre, each
	// also flipped horizontally: ten views.
	CropTen = "ten"
)

// Preprocessor turns a clip's RGB frames into the normalised views a
// Model takes, as mmaction2's test pipeline: Resize(-1, ShortSide)
// (keep the aspect ratio, shorter side to ShortSide, bilinear as OpenCV's
// cv2.resize INTER_LINEAR, bit for bit), the crops, Normalize with Mean and
// Std on RGB in 0–255 units, FormatShape NCHW.
type Preprocessor struct {
	// ShortSide is the shorter side after resizing (256).
	ShortSide int
	// CropSize is the side of the centre and ten crops (224).
	CropSize int
	// Crops is CropCenter, CropThree or CropTen.
	Crops string
	// Mean and Std normalise each RGB channel in 0–255 units.
	Mean, Std [3]float32

	rgb, resized []byte
}

// MMActionMean and MMActionStd are mmaction2's normalisation statistics for
// RGB frames in 0–255 units (its Kinetics and Something-Something configs).
var (
	MMActionMean = [3]float32{123.675, 116.28, 103.53}
	MMActionStd  = [3]float32{58.395, 57.12, 57.375}
)

// NewPreprocessor returns mmaction2's TSM test pipeline with the
// given crops: Resize(-1, 256), CenterCrop(224) / ThreeCrop(256) /
// TenCrop(224), mmaction2's mean and std.
func NewPreprocessor(crops string) (*Preprocessor, error) {
	p := &Preprocessor{ShortSide: 256, CropSize: 224, Crops: crops, Mean: MMActionMean, Std: MMActionStd}
	if _, err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// check validates the settings and returns the number of views.
func (p *Preprocessor) check() (int, error) {
	if p.ShortSide < 32 || p.ShortSide > 4096 {
		return 0, fmt.Errorf("preprocess: short side %d out of range [32, 4096]", p.ShortSide)
	}
	for c := 0; c < 3; c++ {
		if !(p.Std[c] > 0) {
			return 0, fmt.Errorf("preprocess: std of channel %d is %v, want > 0", c, p.Std[c])
		}
	}
	switch p.Crops {
	case CropCenter, CropTen:
		if p.CropSize < 32 || p.CropSize > p.ShortSide {
			return 0, fmt.Errorf("preprocess: crop %d out of range [32, short side %d]", p.CropSize, p.ShortSide)
		}
		if p.Crops == CropTen {
			return 10, nil
		}
		return 1, nil
	case CropThree:
		return 3, nil
	}
	return 0, fmt.Errorf("preprocess: crops %q: want %q, %q or %q", p.Crops, CropCenter, CropThree, CropTen)
}

// Views returns the number of views each clip gives (1, 3 or 10).
func (p *Preprocessor) Views() int {
	n, err := p.check()
	if err != nil {
		return 0
	}
	return n
}

// OutSize is the side of the square frames the views hold.
func (p *Preprocessor) OutSize() int {
	if p.Crops == CropThree {
		return p.ShortSide
	}
	return p.CropSize
}

// Clip preprocesses the frames of one clip (all of one size) and returns the
// views, each holding one normalised CHW frame (3·OutSize²) per input frame,
// in mmaction2's order: for each crop, the crop, then (ten crops) its
// horizontal flip.
func (p *Preprocessor) Clip(frames []image.Image) ([][][]float32, error) {
	nv, err := p.check()
	if err != nil {
		return nil, err
	}
	if len(frames) == 0 {
		return nil, fmt.Errorf("preprocess: no frames")
	}
	size := p.OutSize()
	views := make([][][]float32, nv)
	for v := range views {
		views[v] = make([][]float32, len(frames))
		for i := range views[v] {
			views[v][i] = make([]float32, 3*size*size)
		}
	}
	var w0, h0 int
	for i, img := range frames {
		if img == nil {
			return nil, fmt.Errorf("preprocess: frame %d is nil", i)
		}
		b := img.Bounds()
		if i == 0 {
			w0, h0 = b.Dx(), b.Dy()
		} else if b.Dx() != w0 || b.Dy() != h0 {
			return nil, fmt.Errorf("preprocess: frame %d is %d×%d, frame 0 is %d×%d", i, b.Dx(), b.Dy(), w0, h0)
		}
		rgb, rw, rh, err := p.resize(img)
		if err != nil {
			return nil, fmt.Errorf("preprocess: frame %d: %w", i, err)
		}
		for v, c := range p.cropBoxes(rw, rh) {
			p.normalize(views[v][i], rgb, rw, c.x, c.y, size, c.flip)
		}
	}
	return views, nil
}

type cropBox struct {
	x, y int
	flip bool
}

// cropBoxes returns the crops' top-left corners for a rw×rh image.
func (p *Preprocessor) cropBoxes(rw, rh int) []cropBox {
	switch p.Crops {
	case CropThree:
		s := p.ShortSide
		if rh == s { // wide: along x
			st := (rw - s) / 2
			return []cropBox{{0, 0, false}, {2 * st, 0, false}, {st, 0, false}}
		}
		st := (rh - s) / 2
		return []cropBox{{0, 0, false}, {0, 2 * st, false}, {0, st, false}}
	case CropTen:
		c := p.CropSize
		ws, hs := (rw-c)/4, (rh-c)/4
		var out []cropBox
		for _, o := range [][2]int{{0, 0}, {4 * ws, 0}, {0, 4 * hs}, {4 * ws, 4 * hs}, {2 * ws, 2 * hs}} {
			out = append(out, cropBox{o[0], o[1], false}, cropBox{o[0], o[1], true})
		}
		return out
	}
	c := p.CropSize
	return []cropBox{{(rw - c) / 2, (rh - c) / 2, false}}
}

// normalize writes the size×size crop at (x0, y0) of the packed RGB image
// of width rw as normalised CHW float32, flipped horizontally if asked:
// (v − mean) / std in float32, as mmaction2.
func (p *Preprocessor) normalize(dst []float32, rgb []byte, rw, x0, y0, size int, flip bool) {
	plane := size * size
	for y := 0; y < size; y++ {
		row := rgb[((y0+y)*rw+x0)*3:]
		for x := 0; x < size; x++ {
			sx := x
			if flip {
				sx = size - 1 - x
			}
			px := row[sx*3 : sx*3+3]
			i := y*size + x
			for c := 0; c < 3; c++ {
				dst[c*plane+i] = (float32(px[c]) - p.Mean[c]) / p.Std[c]
			}
		}
	}
}

// ResizedSize is mmaction2's Resize(-1, short) with keep_ratio: the scale
// factor short/min(w, h), each side int(side·factor + 0.5).
func ResizedSize(w, h, short int) (int, int) {
	f := float64(short) / float64(min(w, h))
	return int(float64(w)*f + 0.5), int(float64(h)*f + 0.5)
}

// resize converts img to packed RGB and resizes it to the short side.
func (p *Preprocessor) resize(img image.Image) ([]byte, int, int, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, 0, 0, fmt.Errorf("empty image")
	}
	if w > 1<<14 || h > 1<<14 {
		return nil, 0, 0, fmt.Errorf("image of %d×%d is too large", w, h)
	}
	p.rgb = toRGB(p.rgb, img)
	rw, rh := ResizedSize(w, h, p.ShortSide)
	if rw < p.OutSize() || rh < p.OutSize() {
		return nil, 0, 0, fmt.Errorf("image of %d×%d resizes to %d×%d, smaller than the %d-pixel crop", w, h, rw, rh, p.OutSize())
	}
	if cap(p.resized) < rw*rh*3 {
		p.resized = make([]byte, rw*rh*3)
	}
	p.resized = p.resized[:rw*rh*3]
	ResizeBilinearRGB(p.resized, rw, rh, p.rgb, w, h)
	return p.resized, rw, rh, nil
}

// toRGB packs img's RGB values (alpha dropped) into buf.
func toRGB(buf []byte, img image.Image) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if cap(buf) < w*h*3 {
		buf = make([]byte, w*h*3)
	}
	buf = buf[:w*h*3]
	rgba, ok := img.(*image.RGBA)
	if !ok {
		rgba = image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
	}
	for y := 0; y < h; y++ {
		row := rgba.Pix[y*rgba.Stride:]
		if ok {
			row = rgba.Pix[rgba.PixOffset(b.Min.X, b.Min.Y+y):]
		}
		d := buf[y*w*3:]
		for x := 0; x < w; x++ {
			d[x*3], d[x*3+1], d[x*3+2] = row[x*4], row[x*4+1], row[x*4+2]
		}
	}
	return buf
}

// OpenCV's fixed-point bilinear resize of 8-bit images.
const (
	cvCoefBits  = 11
	cvCoefScale = 1 << cvCoefBits
)

// ResizeBilinearRGB resizes the packed RGB image src (sw×sh) to dst (dw×dh)
// exactly as OpenCV 4's cv2.resize with INTER_LINEAR does for 8-bit
// 3-channel images on x86-64: half-pixel centres, 11-bit fixed-point
// weights, the rounding of its SIMD vertical pass, and the 2×2 box
// average when both sides halve exactly (tested against OpenCV 4.6 through
// gocv in cmd/livetsm).
func ResizeBilinearRGB(dst []byte, dw, dh int, src []byte, sw, sh int) {
	const cn = 3
	if dw == sw && dh == sh {
		copy(dst, src[:sw*sh*cn])
		return
	}
	invX, invY := float64(dw)/float64(sw), float64(dh)/float64(sh)
	scaleX, scaleY := 1/invX, 1/invY
	ix, iy := math.RoundToEven(scaleX), math.RoundToEven(scaleY)
	if math.Abs(scaleX-ix) < 2.220446049250313e-16 && math.Abs(scaleY-iy) < 2.220446049250313e-16 && ix == 2 && iy == 2 {
		for y := 0; y < dh; y++ {
			r0, r1 := src[2*y*sw*cn:], src[(2*y+1)*sw*cn:]
			d := dst[y*dw*cn:]
			for x := 0; x < dw; x++ {
				for k := 0; k < cn; k++ {
					s := int(r0[2*x*cn+k]) + int(r0[(2*x+1)*cn+k]) + int(r1[2*x*cn+k]) + int(r1[(2*x+1)*cn+k])
					d[x*cn+k] = byte((s + 2) >> 2)
				}
			}
		}
		return
	}
	// Horizontal tables, per destination element (pixel·cn + channel).
	width := dw * cn
	xofs := make([]int, width)
	alpha := make([]int32, 2*width)
	xmax := dw
	for dx := 0; dx < dw; dx++ {
		fx := float32((float64(dx)+0.5)*scaleX - 0.5)
		sx := int(math.Floor(float64(fx)))
		fx -= float32(sx)
		if sx < 0 {
			fx, sx = 0, 0
		}
		if sx+1 >= sw {
			xmax = min(xmax, dx)
			if sx >= sw-1 {
				fx, sx = 0, sw-1
			}
		}
		a0 := int32(math.RoundToEven(float64((1 - fx) * cvCoefScale)))
		a1 := int32(math.RoundToEven(float64(fx * cvCoefScale)))
		for k := 0; k < cn; k++ {
			xofs[dx*cn+k] = sx*cn + k
			alpha[(dx*cn+k)*2] = a0
			alpha[(dx*cn+k)*2+1] = a1
		}
	}
	xmax *= cn
	hresize := func(row []byte, out []int32) {
		for dx := 0; dx < xmax; dx++ {
			sx := xofs[dx]
			out[dx] = int32(row[sx])*alpha[dx*2] + int32(row[sx+cn])*alpha[dx*2+1]
		}
		for dx := xmax; dx < width; dx++ {
			out[dx] = int32(row[xofs[dx]]) * cvCoefScale
		}
	}
	rows := [2][]int32{make([]int32, width), make([]int32, width)}
	for dy := 0; dy < dh; dy++ {
		fy := float32((float64(dy)+0.5)*scaleY - 0.5)
		sy := int(math.Floor(float64(fy)))
		fy -= float32(sy)
		b0 := int32(math.RoundToEven(float64((1 - fy) * cvCoefScale)))
		b1 := int32(math.RoundToEven(float64(fy * cvCoefScale)))
		// Rows sy and sy+1, clipped to the image (OpenCV keeps the weights).
		hresize(src[min(max(sy, 0), sh-1)*sw*cn:], rows[0])
		hresize(src[min(max(sy+1, 0), sh-1)*sw*cn:], rows[1])
		s0, s1 := rows[0], rows[1]
		d := dst[dy*width : (dy+1)*width]
		// OpenCV's SIMD vertical pass, which also covers a row's last
		// elements (it steps back to a whole vector) on rows of at least 16.
		if width < 16 {
			for x := range d {
				d[x] = satU8((s0[x]*b0 + s1[x]*b1 + 1<<21) >> 22)
			}
			continue
		}
		for x := range d {
			v0 := sat16(s0[x]>>4) * b0 >> 16
			v1 := sat16(s1[x]>>4) * b1 >> 16
			d[x] = satU8((v0 + v1 + 2) >> 2)
		}
	}
}

func sat16(v int32) int32 {
	return min(max(v, math.MinInt16), math.MaxInt16)
}

func satU8(v int32) byte {
	return byte(min(max(v, 0), 255))
}
