package main

import (
	"bytes"
	"context"
	stdpng "image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/livetsm/livetsm/internal/testlog"
	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream/synth"
	"github.com/livetsm/livetsm/web"
)

// chromiumPath is Debian's chromium; LIVETSM_CHROMIUM overrides it.
func chromiumPath() string { return defaultChromium() }

// screenshotPath is where the browser test saves its screenshot of the page:
// LIVETSM_SCREENSHOT if set (`make screenshot` sets it to the README's
// picture, web/testdata/page.png), else a file in dir, so that a test run
// leaves the working tree as it was.
func screenshotPath(dir string) string {
	if p := os.Getenv("LIVETSM_SCREENSHOT"); p != "" {
		return p
	}
	return filepath.Join(dir, "page.png")
}

// TestBrowserEndToEnd runs the page in headless Chromium whose fake camera
// plays a synthetic "Swiping Left" clip: Start → getUserMedia → WebRTC (VP8)
// → this server (pion, libvpx, the default model) → websocket → #label.
// It checks (a) that predictions reach the page and #label shows one of the
// model's labels within 15 s, and (b) that #label shows the clip's gesture
// within 15 s more.
func TestBrowserEndToEnd(t *testing.T) {
	chromium := chromiumPath()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: `make test` installs Debian's chromium (APT_PKGS in the Makefile), or set LIVETSM_CHROMIUM: %v", chromium, err)
	}
	dir := t.TempDir()
	const gesture = "Swiping Left"
	y4m := filepath.Join(dir, "clip.y4m")
	writeClip(t, y4m, gesture, 24)

	log := testlog.New(t)
	model, name, err := loadModel("", "", 0, 0, log)
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	// With a token, as from another machine: the page must pass it on to
	// its assets, its API calls and its websocket.
	const token = "e2e-token-0123"
	srv, err := web.NewServer(web.Options{Model: model, ModelName: name, Log: log, LoopbackCandidates: true, Interfaces: []string{"lo"}, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	defer srv.Close()

	bctx := newBrowser(t, chromium, dir, y4m, true)

	start := time.Now()
	if err := chromedp.Do(bctx,
		chromedp.Navigate(hs.URL+"/?token="+token),
		chromedp.WaitVisible(chromedp.ID("start")),
		chromedp.Click(chromedp.ID("start")),
	); err != nil {
		t.Fatalf("open the page and click Start: %v", err)
	}
	labels := model.Labels()
	text := func(sel string) string {
		s, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector(`+quoteJS(sel)+`)||{}).textContent||""`))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	// poll waits up to d for #label to satisfy ok.
	poll := func(d time.Duration, ok func(string) bool) (string, bool) {
		deadline := time.Now().Add(d)
		var got string
		for time.Now().Before(deadline) {
			if got = text("#label"); ok(got) {
				return got, true
			}
			time.Sleep(100 * time.Millisecond)
		}
		return got, false
	}

	// (a) The pipeline works: some label of the model within 15 s.
	got, ok := poll(15*time.Second, func(s string) bool { return slices.Contains(labels, s) })
	if !ok {
		t.Fatalf("#label is %q 15 s after Start, not one of the model's labels; error box: %q; states: %q %q",
			got, text("#error"), text("#ws-state"), text("#pc-state"))
	}
	t.Logf("(a) first label %q %v after Start; fps %s, latency %s, dropped %s, states %q %q",
		got, time.Since(start).Round(time.Millisecond), text("#fps"), text("#latency"), text("#dropped"),
		text("#ws-state"), text("#pc-state"))
	if s := text("#ws-state"); s != "server: connected" {
		t.Errorf("websocket state %q", s)
	}
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#bars li').length`)); err != nil || n != 5 {
		t.Errorf("%d top-5 bars (%v)", n, err)
	}

	// (b) The gesture: the clip loops, so its swipe comes back every 1.6 s.
	// The screenshot is taken while #label shows it (when it does).
	seen := map[string]int{}
	var png []byte
	shotOK := false
	recognised := time.Duration(0)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && !shotOK {
		got := text("#label")
		seen[got]++
		if got == gesture {
			if recognised == 0 {
				recognised = time.Since(start)
			}
			if png, err = chromedp.Run(bctx, chromedp.FullScreenshot(100)); err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			shotOK = text("#label") == gesture
			if recognised > 0 && time.Since(start)-recognised > 5*time.Second {
				break // good enough: the label moves on too fast to catch
			}
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
	if png == nil {
		png, err = chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
	}
	if _, err := stdpng.DecodeConfig(bytes.NewReader(png)); err != nil {
		t.Errorf("screenshot is not a PNG: %v", err)
	}
	shot := screenshotPath(dir)
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
	} else {
		t.Logf("screenshot: %s", shot)
	}
	if recognised == 0 {
		t.Errorf("(b) #label never showed %q within 15 s (labels seen, by polls: %v; history: %q)", gesture, seen, text("#history"))
	} else {
		t.Logf("(b) %q recognised %v after Start (labels seen, by polls: %v)", gesture, recognised.Round(time.Millisecond), seen)
	}

	// Stop ends the session on the server.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("stop"))); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for srv.Sessions() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open after Stop", srv.Sessions())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newBrowser starts headless Chromium with a fresh profile in dir and the
// fake camera playing y4m; allowCamera grants the camera without asking.
func newBrowser(t *testing.T, chromium, dir, y4m string, allowCamera bool) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	opts := browserOptions(chromium, dir, y4m, allowCamera)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	return bctx
}

// writeClip writes a synthetic gesture clip as .y4m for the fake camera.
func writeClip(t *testing.T, path, gesture string, frames int) {
	t.Helper()
	clip := synth.New(synth.Config{Width: 320, Height: 240, FPS: 15, Seed: 11}).Clip(synth.ClassIndex(gesture), frames)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteY4M(f, clip.Frames, 15); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserErrors checks that the page says in words what went wrong:
// the camera denied, the server unreachable.
func TestBrowserErrors(t *testing.T) {
	chromium := chromiumPath()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: `make test` installs Debian's chromium (APT_PKGS in the Makefile), or set LIVETSM_CHROMIUM: %v", chromium, err)
	}
	dir := t.TempDir()
	y4m := filepath.Join(dir, "clip.y4m")
	writeClip(t, y4m, "No gesture", 4)
	model, err := onlinetsm.NewRandom(0.35, 9, 1, onlinetsm.WithInputSize(64), onlinetsm.WithLabels(synth.Labels()))
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	srv, err := web.NewServer(web.Options{Model: model, Log: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	gone := httptest.NewServer(srv.Handler())

	bctx := newBrowser(t, chromium, dir, y4m, false)
	errorText := func() string {
		deadline := time.Now().Add(10 * time.Second)
		for {
			s, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('error').hidden ? '' : document.getElementById('error').textContent`))
			if err != nil {
				t.Fatal(err)
			}
			if s != "" || time.Now().After(deadline) {
				return s
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	tests := []struct {
		name, url, want string
		before          func()
	}{
		{"camera denied", hs.URL + "/", "Camera access was denied", nil},
		{"server unreachable", gone.URL + "/", "The server is unreachable", gone.Close},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := chromedp.Do(bctx, chromedp.Navigate(tt.url), chromedp.WaitVisible(chromedp.ID("start"))); err != nil {
				t.Fatal(err)
			}
			if tt.before != nil {
				tt.before()
			}
			if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("start"))); err != nil {
				t.Fatal(err)
			}
			if got := errorText(); !strings.Contains(got, tt.want) {
				t.Errorf("error box %q, want it to say %q", got, tt.want)
			} else {
				t.Logf("page says: %s", got)
			}
		})
	}
	if n := srv.Sessions(); n != 0 {
		t.Errorf("%d sessions open", n)
	}
}

// quoteJS quotes s as a JavaScript string literal.
func quoteJS(s string) string {
	b := []byte{'"'}
	for _, r := range s {
		if r == '"' || r == '\\' {
			b = append(b, '\\')
		}
		b = append(b, string(r)...)
	}
	return string(append(b, '"'))
}
