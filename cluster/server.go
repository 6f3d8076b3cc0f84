package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerOptions configure StartServer.
type ServerOptions struct {
	// Addr is where clients connect, HOST:PORT; port 0 picks a free one.
	// Empty means 127.0.0.1:4222.
	Addr string
	// StoreDir is where JetStream keeps its files (the camera registry);
	// empty means a new temporary directory, removed by Close.
	StoreDir string
	// Token, when set, must be given by every client (nats://TOKEN@HOST:PORT).
	Token string
	// Name names the server; empty means "livetsm".
	Name string
	// Log receives the server's log records; nil discards them.
	Log *slog.Logger
}

// Server is an embedded nats-server with JetStream, for one machine and for
// tests. Start it with StartServer and Close it when done.
type Server struct {
	ns      *server.Server
	tempDir string
	token   string
}

// StartServer starts a nats-server with JetStream in this process and waits
// until it accepts connections.
func StartServer(opts ServerOptions) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:4222"
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("bad address %q: want HOST:PORT: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("bad port in %q", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	} else {
		// nats-server only logs a port in use; say so at once.
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("nats server: %w", err)
		}
		ln.Close()
	}
	s := &Server{token: opts.Token}
	store := opts.StoreDir
	if store == "" {
		if s.tempDir, err = os.MkdirTemp("", "livetsm-nats-"); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		store = s.tempDir
	} else if err := os.MkdirAll(store, 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	name := opts.Name
	if name == "" {
		name = "livetsm"
	}
	so := &server.Options{
		ServerName:    name,
		Host:          host,
		Port:          port,
		JetStream:     true,
		StoreDir:      store,
		Authorization: opts.Token,
		NoSigs:        true, // the embedding process handles its signals
		MaxPayload:    4 << 20,
	}
	ns, err := server.NewServer(so)
	if err != nil {
		s.removeTemp()
		return nil, fmt.Errorf("nats server: %w", err)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ns.SetLoggerV2(slogAdapter{log.With("component", "nats-server")}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		s.removeTemp()
		return nil, fmt.Errorf("nats server: not accepting connections on %s after 10 s (is the port in use?)", addr)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		s.removeTemp()
		return nil, errors.New("nats server: JetStream did not start (see the log)")
	}
	s.ns = ns
	return s, nil
}

// ClientURL is the URL clients connect to, with the token when there is one.
func (s *Server) ClientURL() string {
	u, err := url.Parse(s.ns.ClientURL())
	if err != nil || s.token == "" {
		return s.ns.ClientURL()
	}
	u.User = url.User(s.token)
	return u.String()
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ns.Addr() }

// StoreDir is where JetStream keeps its files.
func (s *Server) StoreDir() string { return s.ns.JetStreamConfig().StoreDir }

// Close shuts the server down, waits for it, and removes its temporary
// store, if it made one.
func (s *Server) Close() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.removeTemp()
}

func (s *Server) removeTemp() {
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
}

// slogAdapter makes a slog.Logger the nats-server's logger.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.log.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.log.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.log.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.log.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.log.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.log.Debug(fmt.Sprintf(format, v...)) }
