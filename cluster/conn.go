package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/livetsm/livetsm/stream"
)

// Names on the bus.
const (
	// SubjectPrefix begins the subject of every prediction: predictions of
	// stream "cam1" are published on "livetsm.predictions.cam1", and
	// "livetsm.predictions.*" subscribes to all of them.
	SubjectPrefix = "livetsm.predictions."
	// CamerasBucket is the key-value bucket of the camera registry.
	CamerasBucket = "livetsm_cameras"
	// LeasesBucket is the key-value bucket of the workers' leases on
	// cameras; its keys expire after the bucket's TTL.
	LeasesBucket = "livetsm_leases"
	// WorkersBucket is the key-value bucket where live workers announce
	// themselves; its keys expire after the bucket's TTL.
	WorkersBucket = "livetsm_workers"
)

// Defaults.
const (
	// DefaultURL is where Connect looks for the bus when given no URL: the
	// address `livetsm nats` listens on by default.
	DefaultURL = "nats://127.0.0.1:4222"
	// DefaultConnectTimeout bounds the first connection to the bus.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultLeaseTTL is the lease TTL of a bucket created by a worker: a
	// dead worker's cameras are free again after at most this long.
	DefaultLeaseTTL = 6 * time.Second
	// MinLeaseTTL is the shortest lease TTL: renewals every TTL/3 must
	// get through a busy bus.
	MinLeaseTTL = 2 * time.Second
	// MaxLeaseTTL is the longest lease TTL.
	MaxLeaseTTL = 5 * time.Minute
)

// Subject returns the subject the predictions of streamID are published on.
func Subject(streamID string) string { return SubjectPrefix + streamID }

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID checks a camera or stream id: 1 to 64 letters, digits, '-' or
// '_', so that it is one token of a NATS subject and a key of a bucket.
func ValidID(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("bad id %q: use 1 to 64 letters, digits, '-' or '_'", id)
	}
	return nil
}

// ConnectOptions configure Connect.
type ConnectOptions struct {
	// Name names the connection on the server (monitoring, logs).
	Name string
	// Timeout bounds the first connection; 0 means DefaultConnectTimeout.
	Timeout time.Duration
	// Log receives disconnections and reconnections; nil discards them.
	Log *slog.Logger
}

// Connect connects to the NATS servers at urls (comma-separated; empty means
// DefaultURL). The first connection must succeed within the timeout (while
// nothing answers, Connect tries again every 250 ms), or Connect returns
// an error naming the address; after that the connection
// reconnects forever, buffering what is published meanwhile (nats.go's
// reconnect buffer, 8 MB). A token in a URL (nats://TOKEN@host:4222)
// authenticates.
func Connect(ctx context.Context, urls string, opts ConnectOptions) (*nats.Conn, error) {
	if urls == "" {
		urls = DefaultURL
	}
	if err := checkURLs(urls); err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	shown := redactURLs(urls)
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	stop := make(chan struct{})
	go func() {
		// Retry while nothing answers (a bus starting at the same time as
		// its clients), until the timeout; other failures are final.
		deadline := time.Now().Add(timeout)
		for {
			left := time.Until(deadline)
			nc, err := nats.Connect(urls,
				nats.Name(opts.Name),
				nats.Timeout(max(left, 100*time.Millisecond)),
				nats.MaxReconnects(-1),
				nats.ReconnectWait(time.Second),
				nats.PingInterval(5*time.Second),
				nats.MaxPingsOutstanding(3),
				nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
					if err != nil {
						log.Warn("lost the bus; reconnecting", "nats", shown, "err", err)
					}
				}),
				nats.ReconnectHandler(func(nc *nats.Conn) {
					log.Info("back on the bus", "nats", redactURLs(nc.ConnectedUrl()))
				}),
				nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
					log.Warn("nats", "err", err)
				}),
			)
			if err == nil || !errors.Is(err, nats.ErrNoServers) || time.Until(deadline) < connectRetry {
				done <- result{nc, err}
				return
			}
			select {
			case <-stop:
				done <- result{nil, err}
				return
			case <-time.After(connectRetry):
			}
		}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("cannot reach the bus at %s within %v (is `livetsm nats` or nats-server running there?): %w", shown, timeout, r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		close(stop)
		go func() { // an attempt in flight gives up by itself within the timeout
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("connect to %s: %w", shown, ctx.Err())
	}
}

// connectRetry is the wait between attempts to reach a bus that does not
// answer yet.
const connectRetry = 250 * time.Millisecond

// checkURLs rejects what is not a nats:// (or tls://, ws://, wss://) URL.
func checkURLs(urls string) error {
	for _, s := range strings.Split(urls, ",") {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return fmt.Errorf("bad NATS URL %q: want nats://HOST:PORT", redactURLs(s))
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("bad NATS URL %q: scheme %q is not nats (want nats://HOST:PORT)", redactURLs(s), u.Scheme)
		}
	}
	return nil
}

// redactURLs hides the credentials in comma-separated URLs, for messages.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, s := range parts {
		parts[i] = stream.RedactURL(strings.TrimSpace(s))
	}
	return strings.Join(parts, ",")
}

// jetStream opens JetStream on nc and checks that the server has it.
func jetStream(ctx context.Context, nc *nats.Conn) (jetstream.JetStream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultConnectTimeout)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return nil, fmt.Errorf("JetStream is not enabled on the server at %s (run nats-server with -js, or `livetsm nats`): %w",
				redactURLs(nc.ConnectedUrl()), err)
		}
		return nil, fmt.Errorf("jetstream at %s: %w", redactURLs(nc.ConnectedUrl()), err)
	}
	return js, nil
}

// bucket opens the key-value bucket cfg.Bucket, creating it with cfg when it
// does not exist yet. An existing bucket keeps its own configuration (its
// TTL, for one).
func bucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	kv, err = js.CreateKeyValue(ctx, cfg)
	if err == nil {
		return kv, nil
	}
	if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) {
		return nil, fmt.Errorf("bucket %s: the NATS server is too old for expiring leases (need nats-server 2.11 or later): %w", cfg.Bucket, err)
	}
	// Another process created it meanwhile, perhaps with another TTL.
	if kv, err2 := js.KeyValue(ctx, cfg.Bucket); err2 == nil {
		return kv, nil
	}
	return nil, fmt.Errorf("create bucket %s: %w", cfg.Bucket, err)
}

// leaseBucketConfig is the configuration of a TTL bucket (leases, workers).
func leaseBucketConfig(name, desc string, ttl time.Duration, replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      name,
		Description: desc,
		History:     1,
		Replicas:    max(replicas, 1),
		TTL:         ttl,
		// On disk, so that the leases outlive a restart of the server.
		Storage: jetstream.FileStorage,
		// Markers tell watchers when a key expires.
		LimitMarkerTTL: ttl,
	}
}

// camerasBucketConfig is the configuration of the camera registry.
func camerasBucketConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      CamerasBucket,
		Description: "livetsm cameras: id -> source",
		History:     1,
		Replicas:    max(replicas, 1),
		Storage:     jetstream.FileStorage,
	}
}
