package main

import (
	"os"
	"path/filepath"

	"github.com/chromedp/chromedp"
)

// defaultChromium is Debian's chromium; LIVETSM_CHROMIUM overrides it.
func defaultChromium() string {
	if p := os.Getenv("LIVETSM_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browserOptions are the options for headless Chromium with a fresh
// profile in dir and a fake camera playing the .y4m file y4m;
// allowCamera grants the camera without asking. The browser tests and
// `livetsm eval --cross` use them.
func browserOptions(chromium, dir, y4m string, allowCamera bool) []chromedp.ExecAllocatorOption {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.WindowSize(1280, 820),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", y4m),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	if allowCamera {
		opts = append(opts, chromedp.Flag("use-fake-ui-for-media-stream", true))
	}
	return opts
}
