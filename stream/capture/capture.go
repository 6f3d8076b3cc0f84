// Package capture provides stream.Sources backed by OpenCV (gocv): a local
// camera, an RTSP stream and a video file. It needs cgo and OpenCV 4.6
// (Debian 12's libopencv-dev); the rest of package stream is pure Go.
package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/livetsm/livetsm/stream"
)

// ffmpegOptionsEnv is the environment variable OpenCV's FFmpeg backend reads
// its demuxer options from when it opens a stream.
const ffmpegOptionsEnv = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

// RTSPOptions are the FFmpeg options OpenRTSP sets when the environment does
// not already set OPENCV_FFMPEG_CAPTURE_OPTIONS: RTP over the RTSP TCP
// connection (no lost UDP packets), and a 5 s socket timeout so that a
// server that goes silent is noticed.
const RTSPOptions = "rtsp_transport;tcp|timeout;5000000"

// Capture is a stream.Source reading from an OpenCV VideoCapture. Frames
// are converted from BGR to RGBA into the buffer Read is given.
type Capture struct {
	kind, name string
	live       bool

	mu      sync.Mutex
	vc      *gocv.VideoCapture
	bgr     gocv.Mat
	rgba    gocv.Mat
	reading bool
	closed  bool

	// Video files: timestamps come from the stream's positions.
	epoch   time.Time
	fps     float64
	n       int64
	lastPos time.Duration
}

// OpenCamera opens local camera number n (/dev/videoN on Linux).
func OpenCamera(n int) (*Capture, error) {
	if n < 0 {
		return nil, fmt.Errorf("camera: bad number %d: must be 0 or more", n)
	}
	vc, err := gocv.VideoCaptureDevice(n)
	if err != nil || !vc.IsOpened() {
		vc.Close()
		return nil, fmt.Errorf("camera %d: cannot open it (is there a /dev/video%d, and may this user read it?)", n, n)
	}
	return newCapture("camera", fmt.Sprint(n), vc, true), nil
}

// CheckRTSPURL reports whether u is an RTSP URL livetsm can open.
func CheckRTSPURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("rtsp: bad URL %q: %w", u, err)
	}
	switch strings.ToLower(p.Scheme) {
	case "rtsp", "rtsps":
	case "":
		return fmt.Errorf("rtsp: bad URL %q: no scheme (want rtsp://host[:port]/path)", u)
	default:
		return fmt.Errorf("rtsp: bad URL %q: scheme %q is not rtsp or rtsps", u, p.Scheme)
	}
	if p.Host == "" {
		return fmt.Errorf("rtsp: bad URL %q: no host", u)
	}
	return nil
}

// OpenRTSP opens an RTSP stream through OpenCV's FFmpeg backend. Unless
// OPENCV_FFMPEG_CAPTURE_OPTIONS is set, it sets it to RTSPOptions (the
// variable is process-wide). Opening blocks in OpenCV; when ctx is done
// first, OpenRTSP returns ctx.Err() and the capture is closed once the
// open returns.
func OpenRTSP(ctx context.Context, u string) (*Capture, error) {
	if err := CheckRTSPURL(u); err != nil {
		return nil, err
	}
	if _, ok := os.LookupEnv(ffmpegOptionsEnv); !ok {
		if err := os.Setenv(ffmpegOptionsEnv, RTSPOptions); err != nil {
			return nil, fmt.Errorf("rtsp: set %s: %w", ffmpegOptionsEnv, err)
		}
	}
	name := redact(u)
	type result struct {
		vc  *gocv.VideoCapture
		err error
	}
	ch := make(chan result, 1)
	go func() {
		vc, err := gocv.VideoCaptureFileWithAPI(u, gocv.VideoCaptureFFmpeg)
		if err == nil && !vc.IsOpened() {
			err = errors.New("not opened")
		}
		if err != nil {
			vc.Close()
			vc = nil
		}
		ch <- result{vc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("rtsp: cannot open %s (server unreachable, path not published, or not an H.264/H.265/MJPEG stream FFmpeg can read)", name)
		}
		return newCapture("rtsp", name, r.vc, true), nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.vc != nil {
				r.vc.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// redact hides a password in a URL for logs and errors.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Redacted()
}

// OpenVideo opens a video file. It is not live: its frames carry the file's
// presentation times (from the moment it was opened) and are read as fast
// as they are asked for.
func OpenVideo(path string) (*Capture, error) {
	st, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("video: open %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("video: open %s: is a directory", path)
	}
	vc, err := gocv.VideoCaptureFileWithAPI(path, gocv.VideoCaptureFFmpeg)
	if err != nil || !vc.IsOpened() {
		vc.Close()
		return nil, fmt.Errorf("video: open %s: not a video FFmpeg can decode", path)
	}
	c := newCapture("video", path, vc, false)
	c.fps = vc.Get(gocv.VideoCaptureFPS)
	if c.fps <= 0 || c.fps > 1000 {
		c.fps = 30
	}
	return c, nil
}

func newCapture(kind, name string, vc *gocv.VideoCapture, live bool) *Capture {
	return &Capture{kind: kind, name: name, live: live, vc: vc, bgr: gocv.NewMat(), rgba: gocv.NewMat(), epoch: time.Now()}
}

// Live reports whether frames arrive in real time (camera, RTSP) rather
// than from a file.
func (c *Capture) Live() bool { return c.live }

// String names the source, e.g. "rtsp rtsp://host/path".
func (c *Capture) String() string { return c.kind + " " + c.name }

// Read reads the next frame into buf (or a new image when buf has another
// size). At the end of a video file it returns io.EOF; when a camera or an
// RTSP stream fails or ends it returns an error naming it.
func (c *Capture) Read(ctx context.Context, buf *image.RGBA) (stream.Frame, error) {
	if err := ctx.Err(); err != nil {
		return stream.Frame{}, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return stream.Frame{}, fmt.Errorf("%s: closed", c)
	}
	c.reading = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reading = false
		if c.closed {
			c.release()
		}
		c.mu.Unlock()
	}()

	if !c.vc.Read(&c.bgr) || c.bgr.Empty() {
		if !c.live {
			return stream.Frame{}, io.EOF
		}
		return stream.Frame{}, fmt.Errorf("%s: no frame: the stream ended or the connection was lost", c)
	}
	now := time.Now()
	code := gocv.ColorBGRToRGBA
	switch c.bgr.Channels() {
	case 1:
		code = gocv.ColorGrayToBGRA // the same as to RGBA for grey
	case 3:
	case 4:
		code = gocv.ColorBGRAToRGBA
	default:
		return stream.Frame{}, fmt.Errorf("%s: frame has %d channels", c, c.bgr.Channels())
	}
	if c.bgr.Type()&7 != gocv.MatTypeCV8U {
		return stream.Frame{}, fmt.Errorf("%s: frame is not 8-bit (Mat type %d)", c, c.bgr.Type())
	}
	gocv.CvtColor(c.bgr, &c.rgba, code)
	w, h := c.rgba.Cols(), c.rgba.Rows()
	data, err := c.rgba.DataPtrUint8()
	if err != nil {
		return stream.Frame{}, fmt.Errorf("%s: frame data: %w", c, err)
	}
	img := stream.FitRGBA(buf, w, h)
	if len(data) != len(img.Pix) {
		return stream.Frame{}, fmt.Errorf("%s: frame holds %d bytes, want %d for %d×%d RGBA", c, len(data), len(img.Pix), w, h)
	}
	copy(img.Pix, data)

	ts := now
	if !c.live {
		ts = c.epoch.Add(c.position())
	}
	c.n++
	return stream.Frame{Image: img, Time: ts}, nil
}

// position returns the presentation time of the frame just read, falling
// back to frame count / fps where the container gives no increasing times.
func (c *Capture) position() time.Duration {
	pos := time.Duration(c.vc.Get(gocv.VideoCapturePosMsec) * float64(time.Millisecond))
	if c.n > 0 && pos <= c.lastPos {
		pos = c.lastPos + time.Duration(float64(time.Second)/c.fps)
	}
	c.lastPos = pos
	return pos
}

// release frees the OpenCV objects; c.mu is held.
func (c *Capture) release() {
	if c.vc != nil {
		c.vc.Close()
		c.vc = nil
		c.bgr.Close()
		c.rgba.Close()
	}
}

// Close releases the capture. A Read in progress on another goroutine
// finishes first; the capture is released when it returns.
func (c *Capture) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if !c.reading {
		c.release()
	}
	return nil
}
