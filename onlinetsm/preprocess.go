package onlinetsm

import (
	"fmt"
	"image"
	"image/draw"

	xdraw "golang.org/x/image/draw"
	"gorgonia.org/tensor"
)

// ImageNet's channel statistics, which the published models were trained with.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Preprocessor turns images into the normalised CHW frames Step takes: resize
// so the shorter side is Resize pixels (bilinear), crop the centre Size×Size,
// scale RGB to [0, 1], subtract Mean and divide by Std per channel — the
// published demo's transform. A Preprocessor reuses its buffers and is used
// by one goroutine at a time.
type Preprocessor struct {
	// Size is the side of the square output.
	Size int
	// Resize is the shorter side after resizing (≥ Size).
	Resize int
	// Mean and Std normalise each RGB channel after scaling to [0, 1].
	Mean, Std [3]float32
	// Kernel is the resampling kernel; bilinear by default.
	Kernel *xdraw.Kernel

	buf    *image.RGBA
	scaler xdraw.Scaler
	made   [4]int        // source and resized sizes the scaler was made for
	madeK  *xdraw.Kernel // and its kernel
}

// NewPreprocessor returns the default transform for frames of side size:
// shorter side to 256·size/224, centre crop, ImageNet mean and std.
func NewPreprocessor(size int) *Preprocessor {
	return &Preprocessor{
		Size:   size,
		Resize: (256*size + 112) / 224,
		Mean:   ImageNetMean,
		Std:    ImageNetStd,
		Kernel: xdraw.BiLinear,
	}
}

// Preprocessor returns the model's transform: the default one for its input
// size, with the mean and std stored in its metadata when it has them.
func (m *Model) Preprocessor() *Preprocessor {
	p := NewPreprocessor(m.size)
	p.Mean, p.Std = m.mean, m.std
	return p
}

// Frame returns img as a new (3, Size, Size) float32 tensor.
func (p *Preprocessor) Frame(img image.Image) (*tensor.Dense, error) {
	data := make([]float32, 3*p.Size*p.Size)
	if err := p.Into(data, img); err != nil {
		return nil, err
	}
	return tensor.New(tensor.WithShape(3, p.Size, p.Size), tensor.WithBacking(data)), nil
}

// Into writes img's normalised CHW values into dst (3·Size·Size values)
// without allocating once its buffer has grown to the image size.
func (p *Preprocessor) Into(dst []float32, img image.Image) error {
	if p.Size <= 0 || p.Resize < p.Size {
		return fmt.Errorf("preprocess: bad sizes: crop %d, resize %d", p.Size, p.Resize)
	}
	if len(dst) != 3*p.Size*p.Size {
		return fmt.Errorf("preprocess: destination has %d values, want %d", len(dst), 3*p.Size*p.Size)
	}
	for c := 0; c < 3; c++ {
		if p.Std[c] == 0 {
			return fmt.Errorf("preprocess: std of channel %d is zero", c)
		}
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return fmt.Errorf("preprocess: empty image")
	}
	// Resized size with the shorter side equal to Resize.
	rw, rh := p.Resize, p.Resize
	if w < h {
		rh = (h*p.Resize + w/2) / w
	} else {
		rw = (w*p.Resize + h/2) / h
	}
	if p.buf == nil || p.buf.Rect.Dx() != rw || p.buf.Rect.Dy() != rh {
		p.buf = image.NewRGBA(image.Rect(0, 0, rw, rh))
	}
	kernel := p.Kernel
	if kernel == nil {
		kernel = xdraw.BiLinear
	}
	// A Scaler made for these sizes precomputes its weights; keep it.
	if made := [4]int{w, h, rw, rh}; p.scaler == nil || p.made != made || p.madeK != kernel {
		p.scaler, p.made, p.madeK = kernel.NewScaler(rw, rh, w, h), made, kernel
	}
	p.scaler.Scale(p.buf, p.buf.Rect, img, b, draw.Src, nil)
	x0, y0 := (rw-p.Size)/2, (rh-p.Size)/2
	plane := p.Size * p.Size
	var scale, shift [3]float32
	for c := 0; c < 3; c++ {
		scale[c] = 1 / (255 * p.Std[c])
		shift[c] = -p.Mean[c] / p.Std[c]
	}
	for y := 0; y < p.Size; y++ {
		row := p.buf.Pix[(y0+y)*p.buf.Stride+4*x0:]
		for x := 0; x < p.Size; x++ {
			px := row[4*x : 4*x+3]
			i := y*p.Size + x
			dst[i] = float32(px[0])*scale[0] + shift[0]
			dst[plane+i] = float32(px[1])*scale[1] + shift[1]
			dst[2*plane+i] = float32(px[2])*scale[2] + shift[2]
		}
	}
	return nil
}
