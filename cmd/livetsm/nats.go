package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/livetsm/livetsm/cluster"
)

const natsUsage = `Embedded NATS server with JetStream (the bus of livetsm workers):
  livetsm nats [--addr 127.0.0.1:4222] [--store DIR] [--token T]

Prints the URL clients connect to on stdout and serves until Ctrl-C or SIGTERM.
For many machines, point livetsm at an existing NATS cluster instead
(nats-server 2.11 or later, with JetStream).

Flags:
`

// newNATSFlags returns the nats command's flag set.
func newNATSFlags() (*flag.FlagSet, *string, *string, *string) {
	fs := flag.NewFlagSet("livetsm nats", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:4222", "listen for NATS clients on `HOST:PORT` (port 0: any free port; another host than loopback needs --token)")
	store := fs.String("store", "", "JetStream storage `DIR` (the camera registry lives there); default: a temporary directory removed at exit")
	token := fs.String("token", "", "require this `TOKEN` from clients (they connect to nats://TOKEN@HOST:PORT)")
	return fs, addr, store, token
}

// natsCmd runs an embedded NATS server until ctx is done.
func natsCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs, addr, store, token := newNATSFlags()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, natsUsage)
			fs.PrintDefaults()
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see livetsm nats --help)", fs.Arg(0))
	}
	if err := checkToken(*addr, *token, "@:/"); err != nil {
		return err
	}
	srv, err := cluster.StartServer(cluster.ServerOptions{Addr: *addr, StoreDir: *store, Token: *token, Log: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	where := srv.StoreDir()
	if *store == "" {
		where += " (temporary)"
	}
	log.Info("nats server ready", "url", srv.Addr().String(), "store", where)
	if _, err := fmt.Fprintln(stdout, srv.ClientURL()); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("nats server shutting down")
	return nil
}

// publishing is the --publish of the live and serve modes: a connection to
// the bus and a Publisher on it.
type publishing struct {
	pub    *cluster.Publisher
	close  func()
	worker string
}

// startPublishing connects to the bus at url for --publish; it returns nil
// when url is empty. The connection must come up within the connect
// timeout; later losses of the bus are logged and buffered, never fatal.
func startPublishing(ctx context.Context, url string, log *slog.Logger) (*publishing, error) {
	if url == "" {
		return nil, nil
	}
	worker := hostName()
	nc, err := cluster.Connect(ctx, url, cluster.ConnectOptions{Name: "livetsm " + worker, Log: log})
	if err != nil {
		return nil, fmt.Errorf("--publish: %w", err)
	}
	pub := cluster.NewPublisher(nc, worker, log)
	log.Info("publishing predictions", "nats", nc.ConnectedUrlRedacted(), "subject", cluster.SubjectPrefix+"<stream>")
	return &publishing{pub: pub, worker: worker, close: func() {
		if err := pub.Close(2 * time.Second); err != nil {
			log.Warn("publish: flush at exit", "err", err)
		}
		st := pub.Stats()
		log.Info("published", "predictions", st.Published, "errors", st.Errors, "dropped", st.Dropped)
		nc.Close()
	}}, nil
}

// hostName names this process in predictions: the host name, as an id.
func hostName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "livetsm"
	}
	return streamID(h)
}

var notID = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// streamID turns any name into a valid stream id (cluster.ValidID).
func streamID(s string) string {
	s = strings.Trim(notID.ReplaceAllString(s, "-"), "-")
	if len(s) > 64 {
		s = s[:64]
	}
	if s == "" {
		s = "stream"
	}
	return s
}

// liveStreamID is the default --stream-id of a live source.
func liveStreamID(c *liveConfig, set map[string]bool) string {
	switch {
	case set["rtsp"]:
		s := c.rtsp
		if i := strings.Index(s, "://"); i >= 0 {
			s = s[i+3:]
		}
		if i := strings.LastIndex(s, "@"); i >= 0 {
			s = s[i+1:] // no credentials in subjects
		}
		return streamID("rtsp-" + s)
	case set["camera"]:
		return fmt.Sprintf("camera-%d", c.camera)
	case set["video"]:
		return streamID("video-" + filepath.Base(c.video))
	default:
		return "synthetic"
	}
}
