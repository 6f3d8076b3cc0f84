package crosseval

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os/exec"
	"strconv"
	"strings"
)

// Y4MWriter writes frames as a YUV4MPEG2 stream (progressive, square
// pixels, 4:2:0 with full-range JFIF levels, "C420jpeg"): the format of
// Chromium's fake camera (--use-file-for-fake-video-capture).
type Y4MWriter struct {
	bw            *bufio.Writer
	width, height int
	plane         []byte
}

// NewY4MWriter writes the stream header for width×height frames (even
// sizes) at fps frames per second and returns the writer.
func NewY4MWriter(w io.Writer, width, height int, fps float64) (*Y4MWriter, error) {
	if width <= 0 || height <= 0 || width%2 != 0 || height%2 != 0 {
		return nil, fmt.Errorf("y4m: frame size %d×%d must be positive and even", width, height)
	}
	num, den, err := rate(fps)
	if err != nil {
		return nil, fmt.Errorf("y4m: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := fmt.Fprintf(bw, "YUV4MPEG2 W%d H%d F%d:%d Ip A1:1 C420jpeg\n", width, height, num, den); err != nil {
		return nil, fmt.Errorf("y4m: %w", err)
	}
	return &Y4MWriter{bw: bw, width: width, height: height, plane: make([]byte, width*height*3/2)}, nil
}

// rate returns fps as a fraction (integer rates as n:1, others in
// thousandths), or an error when fps is not in [0.001, 1000].
func rate(fps float64) (int, int, error) {
	if !(fps >= 0.001 && fps <= 1000) { // NaN fails too
		return 0, 0, fmt.Errorf("frame rate %g out of range [0.001, 1000]", fps)
	}
	if fps == math.Round(fps) {
		return int(fps), 1, nil
	}
	return int(math.Round(fps * 1000)), 1000, nil
}

// Write appends one frame; img must be width×height.
func (y *Y4MWriter) Write(img *image.RGBA) error {
	w, h := y.width, y.height
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		return fmt.Errorf("y4m: frame is %d×%d, the stream %d×%d", b.Dx(), b.Dy(), w, h)
	}
	lum, cb, cr := y.plane[:w*h], y.plane[w*h:w*h*5/4], y.plane[w*h*5/4:]
	for yy := 0; yy < h; yy += 2 {
		for xx := 0; xx < w; xx += 2 {
			var sb, sr int
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				x, yp := xx+d[0], yy+d[1]
				o := img.PixOffset(img.Rect.Min.X+x, img.Rect.Min.Y+yp)
				l, b, r := color.RGBToYCbCr(img.Pix[o], img.Pix[o+1], img.Pix[o+2])
				lum[yp*w+x] = l
				sb += int(b)
				sr += int(r)
			}
			i := (yy/2)*(w/2) + xx/2
			cb[i], cr[i] = uint8((sb+2)/4), uint8((sr+2)/4)
		}
	}
	if _, err := y.bw.WriteString("FRAME\n"); err != nil {
		return fmt.Errorf("y4m: %w", err)
	}
	if _, err := y.bw.Write(y.plane); err != nil {
		return fmt.Errorf("y4m: %w", err)
	}
	return nil
}

// Flush writes out what is buffered.
func (y *Y4MWriter) Flush() error {
	if err := y.bw.Flush(); err != nil {
		return fmt.Errorf("y4m: %w", err)
	}
	return nil
}

// H264Options configure H264Writer. The zero value means the defaults.
type H264Options struct {
	// FFmpeg is the ffmpeg executable (default "ffmpeg" on the PATH).
	FFmpeg string
	// CRF is libx264's constant rate factor (default 28: a webcam-like,
	// lowish quality, about 150–400 kbit/s at 320×240).
	CRF int
	// Preset is libx264's preset (default "veryfast").
	Preset string
}

// H264Writer encodes frames to an H.264 MP4 file (yuv420p, libx264) by
// piping them to ffmpeg, as a user's recording would be.
type H264Writer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *bytes.Buffer
	width  int
	height int
	row    []byte
	path   string
}

// NewH264Writer starts ffmpeg writing path from width×height frames at fps
// frames per second. Close finishes the file; ctx ends ffmpeg early.
func NewH264Writer(ctx context.Context, path string, width, height int, fps float64, opts H264Options) (*H264Writer, error) {
	if opts.FFmpeg == "" {
		opts.FFmpeg = "ffmpeg"
	}
	if opts.CRF == 0 {
		opts.CRF = 28
	}
	if opts.Preset == "" {
		opts.Preset = "veryfast"
	}
	num, den, err := rate(fps)
	if err != nil {
		return nil, fmt.Errorf("h264: %w", err)
	}
	args := []string{
		"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "-s", fmt.Sprintf("%dx%d", width, height),
		"-framerate", fmt.Sprintf("%d/%d", num, den), "-i", "-",
		"-c:v", "libx264", "-preset", opts.Preset, "-crf", strconv.Itoa(opts.CRF),
		"-pix_fmt", "yuv420p", "-threads", "1", "-movflags", "+faststart", path,
	}
	cmd := exec.CommandContext(ctx, opts.FFmpeg, args...)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("h264: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("h264: start %s: %w", opts.FFmpeg, err)
	}
	return &H264Writer{cmd: cmd, stdin: stdin, stderr: stderr, width: width, height: height,
		row: make([]byte, 3*width*height), path: path}, nil
}

// Write sends one frame to the encoder; img must be width×height.
func (e *H264Writer) Write(img *image.RGBA) error {
	if b := img.Bounds(); b.Dx() != e.width || b.Dy() != e.height {
		return fmt.Errorf("h264: frame is %d×%d, the video %d×%d", b.Dx(), b.Dy(), e.width, e.height)
	}
	k := 0
	for y := range e.height {
		o := img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y)
		for x := range e.width {
			copy(e.row[k:k+3], img.Pix[o+4*x:o+4*x+3])
			k += 3
		}
	}
	if _, err := e.stdin.Write(e.row); err != nil {
		return fmt.Errorf("h264: write to ffmpeg: %w%s", err, e.tail())
	}
	return nil
}

// Close ends the input and waits for ffmpeg to finish the file.
func (e *H264Writer) Close() error {
	cerr := e.stdin.Close()
	if err := e.cmd.Wait(); err != nil {
		return fmt.Errorf("h264: ffmpeg writing %s: %w%s", e.path, err, e.tail())
	}
	if cerr != nil && !errors.Is(cerr, io.ErrClosedPipe) {
		return fmt.Errorf("h264: %w", cerr)
	}
	return nil
}

func (e *H264Writer) tail() string {
	s := strings.TrimSpace(e.stderr.String())
	if s == "" {
		return ""
	}
	if len(s) > 500 {
		s = s[len(s)-500:]
	}
	return ": " + s
}
