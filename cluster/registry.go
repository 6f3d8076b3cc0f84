package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/livetsm/livetsm/stream"
)

// Source kinds.
const (
	// KindRTSP is a network camera: an rtsp:// or rtsps:// URL.
	KindRTSP = "rtsp"
	// KindFile is a video file on the workers' machines, played in a loop
	// at its own frame rate.
	KindFile = "file"
	// KindSynthetic is the synthetic hand-gesture video of package
	// stream/synth (for tests and demos): the source string "synthetic".
	KindSynthetic = "synthetic"
)

// ParseSource checks a camera's source and returns its kind: an rtsp:// or
// rtsps:// URL, a file (a path, or a file:// URL, whose path is returned as
// the location), or the word "synthetic". Any other scheme is an error.
func ParseSource(s string) (kind, location string, err error) {
	if strings.TrimSpace(s) == "" {
		return "", "", errors.New("empty source: give an rtsp:// URL, a file, or synthetic")
	}
	if s == KindSynthetic {
		return KindSynthetic, s, nil
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return KindFile, s, nil
	}
	switch strings.ToLower(scheme) {
	case "rtsp", "rtsps":
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", "", fmt.Errorf("bad RTSP URL %q: want rtsp://HOST[:PORT]/PATH", stream.RedactURL(s))
		}
		return KindRTSP, s, nil
	case "file":
		if rest == "" {
			return "", "", fmt.Errorf("bad file URL %q: no path", s)
		}
		return KindFile, rest, nil
	default:
		return "", "", fmt.Errorf("unknown source scheme %q in %q: want an rtsp:// or rtsps:// URL, a file path, or synthetic", scheme, s)
	}
}

// Camera is one camera in the registry.
type Camera struct {
	// ID names the camera and its stream (see ValidID); its predictions
	// are published on Subject(ID).
	ID string `json:"id"`
	// Source is where its video comes from (see ParseSource).
	Source string `json:"source"`
	// Added is when it was registered.
	Added time.Time `json:"added"`
}

// Check validates the camera's id and source.
func (c Camera) Check() error {
	if err := ValidID(c.ID); err != nil {
		return fmt.Errorf("camera: %w", err)
	}
	if _, _, err := ParseSource(c.Source); err != nil {
		return fmt.Errorf("camera %s: %w", c.ID, err)
	}
	return nil
}

// CameraStatus is a camera and the worker that runs it.
type CameraStatus struct {
	// ID and Source are the camera's (see Camera).
	ID     string `json:"id"`
	Source string `json:"source"`
	// Worker names the worker that holds the camera's lease; empty while
	// nobody runs the camera.
	Worker string `json:"worker"`
	// Since is when that worker took the camera; nil while nobody runs it.
	Since *time.Time `json:"since"`
}

// lease is the value of a key in LeasesBucket.
type lease struct {
	Worker   string    `json:"worker"`
	Instance string    `json:"instance"` // one process of the worker
	Since    time.Time `json:"since"`    // when it took the camera
}

// workerInfo is the value of a key in WorkersBucket.
type workerInfo struct {
	Name       string    `json:"name"`
	Instance   string    `json:"instance"`
	MaxStreams int       `json:"max_streams"`
	Started    time.Time `json:"started"`
	Cameras    int       `json:"cameras"`
}

// Errors of the registry.
var (
	// ErrCameraExists is returned by Add for an id already registered.
	ErrCameraExists = errors.New("camera already registered")
	// ErrNoCamera is returned by Remove for an id not registered.
	ErrNoCamera = errors.New("no such camera")
)

// Registry adds, removes and lists the cameras in the bus's CamerasBucket,
// and tells which worker holds each.
type Registry struct {
	js   jetstream.JetStream
	cams jetstream.KeyValue
}

// RegistryOptions configure OpenRegistry.
type RegistryOptions struct {
	// Replicas is the number of copies a NATS cluster keeps of the
	// registry's bucket when OpenRegistry creates it (0 means 1; 3 survives
	// the loss of a server). An existing bucket keeps its own.
	Replicas int
}

// OpenRegistry opens the camera registry on nc, creating its bucket when it
// does not exist yet. (The leases bucket is the workers' to create, with
// their lease TTL.)
func OpenRegistry(ctx context.Context, nc *nats.Conn, opts RegistryOptions) (*Registry, error) {
	js, err := jetStream(ctx, nc)
	if err != nil {
		return nil, err
	}
	cams, err := bucket(ctx, js, camerasBucketConfig(opts.Replicas))
	if err != nil {
		return nil, err
	}
	return &Registry{js: js, cams: cams}, nil
}

// Add registers c (Added is set to now when zero). An id already
// registered is ErrCameraExists.
func (r *Registry) Add(ctx context.Context, c Camera) error {
	if err := c.Check(); err != nil {
		return err
	}
	if c.Added.IsZero() {
		c.Added = time.Now().UTC()
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("camera %s: %w", c.ID, err)
	}
	if _, err := r.cams.Create(ctx, c.ID, b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			old, _ := r.camera(ctx, c.ID)
			return fmt.Errorf("camera %q: %w (source %s); remove it first", c.ID, ErrCameraExists, old.Source)
		}
		return fmt.Errorf("add camera %s: %w", c.ID, err)
	}
	return nil
}

// camera reads one camera.
func (r *Registry) camera(ctx context.Context, id string) (Camera, error) {
	e, err := r.cams.Get(ctx, id)
	if err != nil {
		return Camera{}, err
	}
	var c Camera
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return Camera{}, fmt.Errorf("camera %s: bad value in the registry: %w", id, err)
	}
	return c, nil
}

// Remove unregisters the camera id; the worker running it stops it within
// moments. An id not registered is ErrNoCamera.
func (r *Registry) Remove(ctx context.Context, id string) error {
	if err := ValidID(id); err != nil {
		return fmt.Errorf("camera: %w", err)
	}
	e, err := r.cams.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("camera %q: %w", id, ErrNoCamera)
	}
	if err != nil {
		return fmt.Errorf("remove camera %s: %w", id, err)
	}
	if err := r.cams.Delete(ctx, id, jetstream.LastRevision(e.Revision())); err != nil {
		return fmt.Errorf("remove camera %s: %w", id, err)
	}
	return nil
}

// Cameras lists the registered cameras, sorted by id.
func (r *Registry) Cameras(ctx context.Context) ([]Camera, error) {
	entries, err := snapshot(ctx, r.cams)
	if err != nil {
		return nil, fmt.Errorf("list cameras: %w", err)
	}
	var out []Camera
	for _, e := range entries {
		var c Camera
		if err := json.Unmarshal(e.Value(), &c); err != nil {
			continue // not ours; skip
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Camera) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Status lists the registered cameras, sorted by id, each with the worker
// that holds its lease.
func (r *Registry) Status(ctx context.Context) ([]CameraStatus, error) {
	cams, err := r.Cameras(ctx)
	if err != nil {
		return nil, err
	}
	var entries []jetstream.KeyValueEntry
	leases, err := r.js.KeyValue(ctx, LeasesBucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound): // no worker yet
	case err != nil:
		return nil, fmt.Errorf("leases: %w", err)
	default:
		if entries, err = snapshot(ctx, leases); err != nil {
			return nil, fmt.Errorf("list leases: %w", err)
		}
	}
	held := map[string]lease{}
	for _, e := range entries {
		var l lease
		if json.Unmarshal(e.Value(), &l) == nil {
			held[e.Key()] = l
		}
	}
	out := make([]CameraStatus, 0, len(cams))
	for _, c := range cams {
		s := CameraStatus{ID: c.ID, Source: c.Source}
		if l, ok := held[c.ID]; ok {
			s.Worker = l.Worker
			since := l.Since
			s.Since = &since
		}
		out = append(out, s)
	}
	return out, nil
}

// snapshot reads the current entries of a bucket (deleted and expired
// keys left out).
func snapshot(ctx context.Context, kv jetstream.KeyValue) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var out []jetstream.KeyValueEntry
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watcher closed")
			}
			if e == nil {
				return out, nil
			}
			out = append(out, e)
		}
	}
}
