package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/web"
)

const serveUsage = `Web page (the default when no source flag is given):
  livetsm [serve] [flags]

Serves the page at http://127.0.0.1:8080: press Start, allow the camera, and the video
goes to this server over WebRTC (VP8); predictions come back over a websocket. Each
browser tab is its own stream. Binding an address other than loopback needs --token,
and browsers only give the camera to https:// pages or localhost (--cert/--key).

Flags:
`

// serveConfig holds the serve command's flags.
type serveConfig struct {
	addr, token        string
	cert, key          string
	stun, turn         string
	turnUser, turnPass string
	iceIPs, udpPorts   string
	iface              string
	origins            string
	model              modelFlags
	maxSessions        int
	maxBatch           int
	batchWait          time.Duration
	publish            string // NATS URL for the predictions (nats.go)
}

func newServeFlags() (*flag.FlagSet, *serveConfig) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("livetsm serve", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (another host than loopback needs --token)")
	fs.StringVar(&c.token, "token", "", "require this access `TOKEN` for the page and the API (the page URL carries it as ?token=)")
	fs.StringVar(&c.cert, "cert", "", "serve HTTPS with this certificate `FILE` (PEM; with --key)")
	fs.StringVar(&c.key, "key", "", "private key `FILE` of --cert (PEM)")
	fs.StringVar(&c.stun, "stun", "", "STUN server `URLs`, comma-separated (e.g. stun:stun.example.org:3478); none by default")
	fs.StringVar(&c.turn, "turn", "", "TURN server `URLs`, comma-separated (turn:host:3478?transport=udp), with --turn-user/--turn-pass")
	fs.StringVar(&c.turnUser, "turn-user", "", "TURN user name")
	fs.StringVar(&c.turnPass, "turn-pass", "", "TURN password")
	fs.StringVar(&c.iceIPs, "ice-ip", "", "public `IPs` to advertise as ICE host candidates (server behind 1:1 NAT), comma-separated")
	fs.StringVar(&c.udpPorts, "udp-ports", "", "UDP port range `MIN-MAX` for WebRTC media (open it in the firewall)")
	fs.StringVar(&c.iface, "ice-interfaces", "", "network `interfaces` ICE may use, comma-separated (default: all)")
	fs.StringVar(&c.origins, "allow-origin", "", "extra browser `origins` (scheme://host:port) allowed to call the API, comma-separated")
	c.model.register(fs, modelChoice|modelInput|modelStream)
	fs.IntVar(&c.maxSessions, "max-sessions", web.DefaultMaxSessions, "most concurrent streams (browser tabs); a new one beyond it is refused")
	fs.IntVar(&c.maxBatch, "max-batch", onlinetsm.DefaultMaxBatch, "most streams whose frames go through the model together (1: no batching)")
	fs.DurationVar(&c.batchWait, "batch-wait", onlinetsm.DefaultMaxWait, "longest a frame waits for other streams' frames to fill its batch (e.g. 4ms; 0s: no waiting)")
	fs.StringVar(&c.publish, "publish", "", "also publish every prediction to the NATS bus at `URL` (nats://HOST:PORT), on livetsm.predictions.<session id>")
	return fs, c
}

// printServeHelp writes the serve command's usage and flags to w.
func printServeHelp(w io.Writer) {
	fs, _ := newServeFlags()
	printHelp(w, serveUsage, fs)
}

// hasSourceFlag reports whether args name a live source (--rtsp, --camera,
// --video, --synthetic): without one, livetsm serves the web page.
func hasSourceFlag(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "rtsp", "camera", "video", "synthetic":
			return true
		}
	}
	return false
}

// liveOnlyFlag returns the first flag in args that the live commands
// define and the web server does not (such as --json), or "".
func liveOnlyFlag(serve *flag.FlagSet, args []string) string {
	live, _ := newLiveFlags()
	for _, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if live.Lookup(name) != nil && serve.Lookup(name) == nil {
			return name
		}
	}
	return ""
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// isLoopback reports whether a listen address binds loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkToken checks an access --token (at least 8 characters, no
// whitespace and none of forbid's characters) and that a listen address
// other than loopback has one; addr "" listens nowhere.
func checkToken(addr, token, forbid string) error {
	if token != "" && (len(token) < 8 || strings.ContainsAny(token, " \t\r\n"+forbid)) {
		msg := "--token must be at least 8 characters without spaces"
		var q []string
		for _, r := range forbid {
			q = append(q, "'"+string(r)+"'")
		}
		if n := len(q); n > 0 {
			msg += ", " + strings.Join(q[:n-1], ", ") + " or " + q[n-1]
		}
		return errors.New(msg)
	}
	if addr != "" && !isLoopback(addr) && token == "" {
		return fmt.Errorf("--addr %s is reachable from other machines: give --token (e.g. --token $(openssl rand -hex 16))", addr)
	}
	return nil
}

// parsePorts reads "MIN-MAX".
func parsePorts(s string) (uint16, uint16, error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	hi, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !ok || err1 != nil || err2 != nil || lo == 0 || lo > hi {
		return 0, 0, fmt.Errorf("--udp-ports %q: want MIN-MAX, 1 ≤ MIN ≤ MAX ≤ 65535", s)
	}
	return uint16(lo), uint16(hi), nil
}

// webOptions turns the flags into the web server's options (without the
// model).
func (c *serveConfig) webOptions() (web.Options, error) {
	o := web.Options{
		Token:          c.token,
		AllowedOrigins: splitList(c.origins),
		NAT1To1IPs:     splitList(c.iceIPs),
		Interfaces:     splitList(c.iface),
		MaxSessions:    c.maxSessions,
		MaxBatch:       c.maxBatch,
		BatchWait:      c.batchWait,
		Stream:         c.model.streamOptions(),
	}
	if err := c.model.validate(); err != nil {
		return o, err
	}
	switch {
	case c.maxSessions < 1 || c.maxSessions > 256:
		return o, fmt.Errorf("--max-sessions %d out of range [1, 256]", c.maxSessions)
	case c.maxBatch < 1 || c.maxBatch > onlinetsm.MaxBatchSize:
		return o, fmt.Errorf("--max-batch %d out of range [1, %d]", c.maxBatch, onlinetsm.MaxBatchSize)
	case c.batchWait < 0 || c.batchWait > time.Second:
		return o, fmt.Errorf("--batch-wait %v out of range [0s, 1s]", c.batchWait)
	case (c.cert == "") != (c.key == ""):
		return o, errors.New("--cert and --key go together")
	}
	if err := checkToken(c.addr, c.token, ""); err != nil {
		return o, err
	}
	if o.BatchWait == 0 {
		o.BatchWait = -1 // the flag's 0s: no waiting (Options' zero is the default)
	}
	var err error
	if o.UDPPortMin, o.UDPPortMax, err = parsePorts(c.udpPorts); err != nil {
		return o, err
	}
	if urls := splitList(c.stun); len(urls) > 0 {
		o.ICEServers = append(o.ICEServers, web.ICEServer{URLs: urls})
	}
	if urls := splitList(c.turn); len(urls) > 0 {
		o.ICEServers = append(o.ICEServers, web.ICEServer{URLs: urls, Username: c.turnUser, Credential: c.turnPass})
	}
	return o, nil
}

// pageURL is the address to open for a listener at addr.
func pageURL(addr net.Addr, tls bool, token string) string {
	u := url.URL{Scheme: "http", Host: addr.String(), Path: "/"}
	if tls {
		u.Scheme = "https"
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		u.Host = net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	if token != "" {
		u.RawQuery = url.Values{"token": {token}}.Encode()
	}
	return u.String()
}

// serveCmd serves the web page until ctx is done.
func serveCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs, c := newServeFlags()
	fs.SetOutput(io.Discard)
	if name := liveOnlyFlag(fs, args); name != "" {
		return fmt.Errorf("no source flag: --%s needs one of --rtsp URL, --camera N, --video PATH, --synthetic (without a source livetsm serves the web page)", name)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printServeHelp(stdout)
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see livetsm serve --help)", fs.Arg(0))
	}
	opts, err := c.webOptions()
	if err != nil {
		return err
	}
	bus, err := startPublishing(ctx, c.publish, log) // before the model: an unreachable bus fails fast
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if bus != nil {
		defer bus.close()
	}
	model, name, err := c.model.load(log)
	if err != nil {
		return err
	}
	defer model.Close()
	opts.Model, opts.ModelName, opts.Log = model, name, log
	if bus != nil {
		opts.OnPrediction = bus.pub.Publish // never blocks
	}

	srv, err := web.NewServer(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	useTLS := c.cert != ""
	if useTLS {
		pair, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--cert/--key: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	fmt.Fprintf(stdout, "livetsm: open %s (Ctrl-C stops)\n", pageURL(ln.Addr(), useTLS, c.token))
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Close()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
