package synth

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"io"
)

// WriteY4M writes frames as a YUV4MPEG2 stream at fps frames per second:
// progressive, square pixels, 4:2:0 chroma sited as in JPEG ("C420jpeg") and
// full-range BT.601 YCbCr, which Chromium's fake camera
// (--use-file-for-fake-video-capture) and ffmpeg read. All frames must have
// the size of the first; odd sizes round the chroma planes up.
func WriteY4M(w io.Writer, frames []*image.RGBA, fps int) error {
	if len(frames) == 0 {
		return errors.New("synth: WriteY4M: no frames")
	}
	yw, err := NewY4MWriter(w, frames[0].Rect.Dx(), frames[0].Rect.Dy(), fps)
	if err != nil {
		return err
	}
	for _, f := range frames {
		if err := yw.WriteFrame(f); err != nil {
			return err
		}
	}
	return yw.Flush()
}

// Y4MWriter writes a YUV4MPEG2 stream frame by frame, in WriteY4M's format,
// for streams too long to hold in memory.
type Y4MWriter struct {
	bw     *bufio.Writer
	w, h   int
	cw, ch int
	buf    []byte
	frames int
}

// NewY4MWriter writes the stream header for width×height frames at fps and
// returns a writer for the frames.
func NewY4MWriter(w io.Writer, width, height, fps int) (*Y4MWriter, error) {
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("synth: y4m: frame size %dx%d", width, height)
	}
	if fps <= 0 {
		return nil, fmt.Errorf("synth: y4m: fps %d must be positive", fps)
	}
	y := &Y4MWriter{bw: bufio.NewWriterSize(w, 1<<16), w: width, h: height, cw: (width + 1) / 2, ch: (height + 1) / 2}
	y.buf = make([]byte, width*height+2*y.cw*y.ch)
	if _, err := fmt.Fprintf(y.bw, "YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420jpeg\n", width, height, fps); err != nil {
		return nil, err
	}
	return y, nil
}

// WriteFrame writes one frame, which must have the stream's size.
func (y *Y4MWriter) WriteFrame(f *image.RGBA) error {
	if f.Rect.Dx() != y.w || f.Rect.Dy() != y.h {
		return fmt.Errorf("synth: y4m: frame %d is %v, want %dx%d", y.frames, f.Rect.Size(), y.w, y.h)
	}
	yuv420(y.buf, f, y.cw, y.ch)
	if _, err := y.bw.WriteString("FRAME\n"); err != nil {
		return err
	}
	if _, err := y.bw.Write(y.buf); err != nil {
		return err
	}
	y.frames++
	return nil
}

// Flush writes out any buffered data.
func (y *Y4MWriter) Flush() error { return y.bw.Flush() }

// yuv420 converts f into planar full-range YCbCr 4:2:0 in buf (Y, then Cb,
// then Cr), averaging each 2×2 block's chroma.
func yuv420(buf []byte, f *image.RGBA, cw, ch int) {
	fw, fh := f.Rect.Dx(), f.Rect.Dy()
	yp, up, vp := buf[:fw*fh], buf[fw*fh:fw*fh+cw*ch], buf[fw*fh+cw*ch:]
	for y := range fh {
		row := f.Pix[y*f.Stride:]
		for x := range fw {
			r, g, b := int32(row[4*x]), int32(row[4*x+1]), int32(row[4*x+2])
			yp[y*fw+x] = uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
		}
	}
	for cy := range ch {
		for cx := range cw {
			var r, g, b, n int32
			for dy := range 2 {
				y := min(2*cy+dy, fh-1)
				row := f.Pix[y*f.Stride:]
				for dx := range 2 {
					x := min(2*cx+dx, fw-1)
					r += int32(row[4*x])
					g += int32(row[4*x+1])
					b += int32(row[4*x+2])
					n++
				}
			}
			// Cb = 128 − 0.168736 R − 0.331264 G + 0.5 B, Cr = 128 + 0.5 R −
			// 0.418688 G − 0.081312 B (JFIF), on the block's sums.
			cb := (-11059*r - 21709*g + 32768*b + n*(128<<16) + n<<15) / (n << 16)
			cr := (32768*r - 27439*g - 5329*b + n*(128<<16) + n<<15) / (n << 16)
			up[cy*cw+cx] = uint8(max(0, min(255, cb)))
			vp[cy*cw+cx] = uint8(max(0, min(255, cr)))
		}
	}
}
