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
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
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
	epoch    time.Time
	fps      float64
	n        int64 // frames read
	lastPos  time.Duration
	declared int64 // frames the container declares; 0: unknown
	ended    bool  // Read has returned io.EOF
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

// CheckRTSPURL reports whether u is an RTSP URL livetsm can open. Its
// errors are stream.Permanent.
func CheckRTSPURL(u string) error {
	return stream.Permanent(checkRTSPURL(u))
}

func checkRTSPURL(u string) error {
	name := stream.RedactURL(u)
	p, err := url.Parse(u)
	if err != nil {
		// url.Error repeats the whole URL, password included: keep its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("rtsp: bad URL %q: %w", name, err)
	}
	switch strings.ToLower(p.Scheme) {
	case "rtsp", "rtsps":
	case "":
		return fmt.Errorf("rtsp: bad URL %q: no scheme (want rtsp://host[:port]/path)", name)
	default:
		return fmt.Errorf("rtsp: bad URL %q: scheme %q is not rtsp or rtsps", name, p.Scheme)
	}
	if p.Host == "" {
		return fmt.Errorf("rtsp: bad URL %q: no host", name)
	}
	return nil
}

// OpenRTSP opens an RTSP stream through OpenCV's FFmpeg backend. Unless
// OPENCV_FFMPEG_CAPTURE_OPTIONS is set, it sets it to RTSPOptions (the
// variable is process-wide). Opening blocks in OpenCV; when ctx is done
// first, OpenRTSP returns ctx.Err() and the capture is closed once the
// open returns.
//
// First it asks the server for the stream's description (probeRTSP), so
// that its errors say what went wrong. Those that no retry can fix — a
// malformed URL, a refused login (401, 403), a path the server does not
// have (404), a stream without video — are stream.Permanent; the others
// (connection refused, no answer, 5xx) may pass once the camera is up.
func OpenRTSP(ctx context.Context, u string) (*Capture, error) {
	if err := CheckRTSPURL(u); err != nil {
		return nil, err
	}
	if err := probeRTSP(ctx, u); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if _, ok := os.LookupEnv(ffmpegOptionsEnv); !ok {
		if err := os.Setenv(ffmpegOptionsEnv, RTSPOptions); err != nil {
			return nil, fmt.Errorf("rtsp: set %s: %w", ffmpegOptionsEnv, err)
		}
	}
	name := stream.RedactURL(u)
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
			return nil, fmt.Errorf("rtsp: cannot open %s: FFmpeg could not read the stream (the server went away, or not an H.264/H.265/MJPEG stream)", name)
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

// probeTimeout bounds the probe's connection and each of its requests.
const probeTimeout = 5 * time.Second

// probeRTSP asks the server at u for the stream's description (OPTIONS,
// DESCRIBE, with the URL's credentials if the server wants them) and
// sorts a failure: a refused login, a missing path or a stream without
// video is stream.Permanent; no connection, no answer or a server error is
// not. A failure it cannot judge (a TLS certificate this machine does not
// trust — FFmpeg does not check it —, an answer that is not RTSP) returns
// nil, leaving the verdict to FFmpeg.
func probeRTSP(ctx context.Context, u string) error {
	name := stream.RedactURL(u)
	pu, err := base.ParseURL(u)
	if err != nil {
		return stream.Permanent(fmt.Errorf("rtsp: bad URL %s: %w", name, err))
	}
	c := &gortsplib.Client{ReadTimeout: probeTimeout, WriteTimeout: probeTimeout}
	if err := c.Start(pu.Scheme, pu.Host); err != nil {
		return fmt.Errorf("rtsp: cannot open %s: %w", name, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	desc, _, err := c.Describe(pu)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return judgeProbe(name, err)
	}
	for _, m := range desc.Medias {
		if m.Type == description.MediaTypeVideo {
			return nil
		}
	}
	return stream.Permanent(fmt.Errorf("rtsp: cannot open %s: the stream has no video", name))
}

// judgeProbe turns the probe's error into OpenRTSP's (nil: let FFmpeg try).
func judgeProbe(name string, err error) error {
	var status liberrors.ErrClientBadStatusCode
	if errors.As(err, &status) {
		code := fmt.Sprintf("%d %s", status.Code, status.Message)
		switch {
		case status.Code == base.StatusUnauthorized || status.Code == base.StatusForbidden:
			return stream.Permanent(fmt.Errorf("rtsp: cannot open %s: the server refused the login (%s): check the user name and password in the URL (rtsp://USER:PASSWORD@host/path)", name, code))
		case status.Code == base.StatusNotFound || status.Code == 410:
			return stream.Permanent(fmt.Errorf("rtsp: cannot open %s: the server has no stream at this path (%s): check the path", name, code))
		case status.Code == 408 || status.Code == 429 || status.Code == 453:
			return fmt.Errorf("rtsp: cannot open %s: the server answered %s", name, code)
		case status.Code >= 400 && status.Code < 500:
			return stream.Permanent(fmt.Errorf("rtsp: cannot open %s: the server refused the stream (%s)", name, code))
		default:
			return fmt.Errorf("rtsp: cannot open %s: the server answered %s", name, code)
		}
	}
	var (
		op      *net.OpError
		timeout liberrors.ErrClientRequestTimedOut
		netErr  net.Error
	)
	switch {
	case errors.As(err, &op) && op.Op == "dial",
		errors.As(err, &timeout),
		errors.As(err, &netErr) && netErr.Timeout(),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("rtsp: cannot open %s: %w", name, err)
	}
	return nil
}

// RTSPName names an RTSP source in logs as its Capture's String does,
// with its user name and password hidden.
func RTSPName(u string) string { return "rtsp " + stream.RedactURL(u) }

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
	if n := vc.Get(gocv.VideoCaptureFrameCount); n >= 1 && n < 1e12 {
		c.declared = int64(n)
	}
	return c, nil
}

// FrameCount returns the number of frames a video file's container
// declares, or 0 when it declares none (and for live sources). MP4 and MOV
// give an exact count; for other containers OpenCV estimates it from the
// duration and frame rate.
func (c *Capture) FrameCount() int64 { return c.declared }

// Frames returns the number of frames read so far. It is not to be called
// during a Read.
func (c *Capture) Frames() int64 { return c.n }

// EndedEarly reports whether a video file has ended (Read returned io.EOF)
// short of the frame count its container declares, by more than 2 frames
// and more than 1% — more than an estimated count's rounding explains:
// the file was cut short (an interrupted download or copy), and the
// frames after the cut are lost. It is not to be called during a Read.
func (c *Capture) EndedEarly() bool {
	if !c.ended || c.declared == 0 {
		return false
	}
	short := c.declared - c.n
	return short > 2 && short*100 > c.declared
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
			c.ended = true
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
