package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/livetsm/livetsm/internal/testlog"
	"github.com/livetsm/livetsm/stream"
	"github.com/livetsm/livetsm/stream/synth"
)

// event is a prediction seen on the bus.
type event struct {
	at     time.Time
	cam    string
	worker string
}

// collector records every prediction on the bus.
type collector struct {
	mu     sync.Mutex
	events []event
}

func collect(t *testing.T, url string) *collector {
	t.Helper()
	c := &collector{}
	nc := connect(t, url)
	if _, err := nc.Subscribe(SubjectPrefix+"*", func(m *nats.Msg) {
		var ev Event
		if err := json.Unmarshal(m.Data, &ev); err != nil || Subject(ev.Stream) != m.Subject || ev.Label == "" {
			t.Errorf("bad event on %s: %s", m.Subject, m.Data)
			return
		}
		c.mu.Lock()
		c.events = append(c.events, event{time.Now(), ev.Stream, ev.Worker})
		c.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return c
}

// owners maps each camera to the workers that published it after since.
func (c *collector) owners(since time.Time) map[string]map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]map[string]bool{}
	for _, e := range c.events {
		if e.at.Before(since) {
			continue
		}
		if out[e.cam] == nil {
			out[e.cam] = map[string]bool{}
		}
		out[e.cam][e.worker] = true
	}
	return out
}

// checkExclusive fails when two workers' predictions of one camera
// interleave: once a camera's predictions come from a new worker, the
// earlier one's never come again. It returns the smallest gap between a
// camera's predictions from two workers.
func (c *collector) checkExclusive(t *testing.T) time.Duration {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	gap := time.Duration(1 << 62)
	last := map[string]event{}
	done := map[string]map[string]bool{} // camera → workers that handed it on
	for _, e := range c.events {
		p, ok := last[e.cam]
		if ok && p.worker != e.worker {
			if done[e.cam][e.worker] {
				t.Errorf("camera %s: %s published again after handing it on", e.cam, e.worker)
			}
			if done[e.cam] == nil {
				done[e.cam] = map[string]bool{}
			}
			done[e.cam][p.worker] = true
			gap = min(gap, e.at.Sub(p.at))
		}
		last[e.cam] = e
	}
	return gap
}

// runningWorker is a Worker running on a connection of its own.
type runningWorker struct {
	w      *Worker
	nc     *nats.Conn
	pub    *Publisher
	cancel context.CancelFunc
	done   chan error
}

// syntheticOpener opens every camera as a small live synthetic video.
func syntheticOpener(_ context.Context, cam Camera) (stream.Source, error) {
	kind, _, err := ParseSource(cam.Source)
	if err != nil || kind != KindSynthetic {
		return nil, fmt.Errorf("test opener: %q: only synthetic", cam.Source)
	}
	h := fnv.New64a()
	h.Write([]byte(cam.ID))
	return stream.NewSynthetic(stream.SyntheticOptions{
		Config: synth.Config{Width: 48, Height: 36, FPS: 10, Seed: h.Sum64()},
		Live:   true,
	}), nil
}

func startWorker(t *testing.T, url, name string, maxStreams int, ttl time.Duration) *runningWorker {
	t.Helper()
	nc, err := Connect(context.Background(), url, ConnectOptions{Name: name, Timeout: 2 * time.Second, Log: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	pub := NewPublisher(nc, name, testlog.New(t))
	w, err := NewWorker(context.Background(), nc, WorkerOptions{
		Name: name, MaxStreams: maxStreams, LeaseTTL: ttl, Model: testModel(t),
		Stream: stream.Options{FPS: 5}, Open: syntheticOpener, Publisher: pub, Log: testlog.New(t),
	})
	if err != nil {
		pub.Close(time.Second)
		nc.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rw := &runningWorker{w: w, nc: nc, pub: pub, cancel: cancel, done: make(chan error, 1)}
	go func() { rw.done <- w.Run(ctx) }()
	t.Cleanup(func() { rw.stop(t) })
	return rw
}

// stop ends the worker as SIGTERM does and returns Run's error.
func (rw *runningWorker) stop(t *testing.T) error {
	t.Helper()
	rw.cancel()
	var err error
	select {
	case err = <-rw.done:
		rw.done <- err // for later calls
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop within 10 s")
	}
	rw.pub.Close(time.Second)
	rw.nc.Close()
	return err
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func addCameras(t *testing.T, url string, n int) []string {
	t.Helper()
	reg, err := OpenRegistry(context.Background(), connect(t, url), RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("cam%d", i+1)
		if err := reg.Add(context.Background(), Camera{ID: id, Source: "synthetic"}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func heldBy(rws ...*runningWorker) []int {
	var n []int
	for _, rw := range rws {
		n = append(n, rw.w.Stats().Cameras)
	}
	return n
}

// TestWorkersTakeOver: three workers share six cameras evenly; when one
// dies (its connection cut, nothing released), the others take its
// cameras once the leases expire; a clean stop hands cameras back at once.
func TestWorkersTakeOver(t *testing.T) {
	s := startServer(t)
	url := s.ClientURL()
	ids := addCameras(t, url, 6)
	col := collect(t, url)
	// A TTL of 4 s, not the minimum: on a loaded machine (make test runs
	// packages side by side on 2 cores) renewals can come late.
	const ttl = 4 * time.Second
	a := startWorker(t, url, "a", 3, ttl)
	b := startWorker(t, url, "b", 3, ttl)
	c := startWorker(t, url, "c", 3, ttl)

	waitFor(t, 30*time.Second, "cameras not spread 2/2/2", func() bool {
		return slices.Equal(heldBy(a, b, c), []int{2, 2, 2})
	})
	steady := time.Now()
	waitFor(t, 5*time.Second, "not every camera publishes", func() bool { return len(col.owners(steady)) == 6 })
	time.Sleep(time.Second)
	for cam, ws := range col.owners(steady) {
		if len(ws) != 1 {
			t.Errorf("camera %s published by %v", cam, slices.Collect(maps.Keys(ws)))
		}
	}

	// a dies: its connection goes, its leases are not released.
	var mine []string
	for cam, ws := range col.owners(steady) {
		if ws["a"] {
			mine = append(mine, cam)
		}
	}
	killed := time.Now()
	a.nc.Close()
	select {
	case err := <-a.done:
		a.done <- err
		if err == nil {
			t.Error("a worker whose connection closed returned nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a worker whose connection closed still runs")
	}
	took := waitFor(t, 3*ttl, "a's cameras not taken over", func() bool {
		o := col.owners(killed)
		for _, cam := range mine {
			if !o[cam]["b"] && !o[cam]["c"] {
				return false
			}
		}
		return true
	})
	t.Logf("takeover after %v (lease TTL %v)", took, ttl)
	if took < ttl/2 {
		t.Errorf("took over after %v: before the leases could expire", took)
	}
	waitFor(t, 5*time.Second, "not 3/3", func() bool { return slices.Equal(heldBy(b, c), []int{3, 3}) })
	if gap := col.checkExclusive(t); gap < ttl/2 {
		t.Errorf("a camera's predictions from two workers %v apart", gap)
	}
	if st := b.w.Stats(); st.LeasesLost != 0 {
		t.Errorf("b lost leases: %+v", st)
	}

	// A clean stop releases at once.
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := c.stop(t); err != nil {
		t.Fatal(err)
	}
	reg, err := OpenRegistry(context.Background(), connect(t, url), RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := reg.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(ids) {
		t.Fatalf("status %+v", st)
	}
	for _, cs := range st {
		if cs.Worker != "" {
			t.Errorf("camera %s still held by %s after a clean stop", cs.ID, cs.Worker)
		}
	}
	col.checkExclusive(t)
}

// TestWorkerRebalances: a worker alone runs every camera it may; when a
// second one comes, the first hands half back, a second apart.
func TestWorkerRebalances(t *testing.T) {
	s := startServer(t)
	url := s.ClientURL()
	addCameras(t, url, 4)
	col := collect(t, url)
	a := startWorker(t, url, "a", 4, 4*time.Second)
	waitFor(t, 20*time.Second, "a does not run 4", func() bool { return a.w.Stats().Cameras == 4 })
	b := startWorker(t, url, "b", 4, 4*time.Second)
	waitFor(t, 20*time.Second, "not 2/2", func() bool { return slices.Equal(heldBy(a, b), []int{2, 2}) })
	time.Sleep(500 * time.Millisecond)
	if gap := col.checkExclusive(t); gap < handoverGap {
		t.Errorf("handover gap %v, want at least %v", gap, handoverGap)
	}
	if st := a.w.Stats(); st.Released != 2 || st.LeasesLost != 0 {
		t.Errorf("a: %+v", st)
	}
}

// TestWorkerLosesLease: a lease taken away stops the camera at once.
func TestWorkerLosesLease(t *testing.T) {
	s := startServer(t)
	url := s.ClientURL()
	addCameras(t, url, 1)
	a := startWorker(t, url, "a", 1, 2*time.Second)
	waitFor(t, 10*time.Second, "a does not run the camera", func() bool { return a.w.Stats().Cameras == 1 })
	// Someone deletes the lease behind a's back.
	if err := a.w.leases.Delete(context.Background(), "cam1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "lease loss not noticed", func() bool { return a.w.Stats().LeasesLost == 1 })
	// The camera is free: a takes it again.
	waitFor(t, 5*time.Second, "not claimed again", func() bool { st := a.w.Stats(); return st.Claimed == 2 && st.Cameras == 1 })
}

// TestWorkerBusAway: without the bus a worker stops its cameras before
// their leases can expire, and takes them again when the bus is back.
func TestWorkerBusAway(t *testing.T) {
	store := t.TempDir()
	s, err := StartServer(ServerOptions{Addr: "127.0.0.1:0", StoreDir: store, Log: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	addr, url := s.Addr().String(), s.ClientURL()
	addCameras(t, url, 1)
	const ttl = 2 * time.Second
	a := startWorker(t, url, "a", 1, ttl)
	waitFor(t, 10*time.Second, "a does not run the camera", func() bool { return a.w.Stats().Cameras == 1 })
	s.Close()
	gone := time.Now()
	took := waitFor(t, ttl, "camera still running without the bus", func() bool { return a.w.Stats().Cameras == 0 })
	if took > ttl-ttl/4+300*time.Millisecond {
		t.Errorf("camera stopped %v after the bus went", took)
	}
	t.Logf("camera stopped %v after the bus went (TTL %v)", time.Since(gone), ttl)
	s2, err := StartServer(ServerOptions{Addr: addr, StoreDir: store, Log: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	waitFor(t, 15*time.Second, "camera not taken again", func() bool { return a.w.Stats().Cameras == 1 })
	if st := a.w.Stats(); st.LeasesLost != 1 {
		t.Errorf("stats %+v", st)
	}
	a.stop(t)
}

// TestWorkerCameraRemoved: removing a camera stops it and frees its lease.
func TestWorkerCameraRemoved(t *testing.T) {
	s := startServer(t)
	url := s.ClientURL()
	addCameras(t, url, 2)
	a := startWorker(t, url, "a", 2, 2*time.Second)
	waitFor(t, 10*time.Second, "a does not run 2", func() bool { return a.w.Stats().Cameras == 2 })
	reg, err := OpenRegistry(context.Background(), connect(t, url), RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Remove(context.Background(), "cam1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "removed camera still running", func() bool { return a.w.Stats().Cameras == 1 })
	waitFor(t, 3*time.Second, "lease of the removed camera not handed back", func() bool { return a.w.Stats().Released == 1 })
	if st := a.w.Stats(); st.Claimed != 2 || st.LeasesLost != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestWorkerNameInUse: two live workers may not share a name.
func TestWorkerNameInUse(t *testing.T) {
	s := startServer(t)
	url := s.ClientURL()
	a := startWorker(t, url, "a", 1, 2*time.Second)
	_ = a
	b := startWorker(t, url, "a", 1, 2*time.Second)
	select {
	case err := <-b.done:
		b.done <- err
		if err == nil || !strings.Contains(err.Error(), `worker name "a" is in use`) {
			t.Errorf("error %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second worker of the same name still running")
	}
}

func TestNewWorkerErrors(t *testing.T) {
	s := startServer(t)
	nc := connect(t, s.ClientURL())
	m := testModel(t)
	pub := NewPublisher(nc, "x", nil)
	defer pub.Close(time.Second)
	good := WorkerOptions{Name: "w", MaxStreams: 1, Model: m, Open: syntheticOpener, Publisher: pub}
	tests := []struct {
		name string
		edit func(*WorkerOptions)
		want string
	}{
		{"bad name", func(o *WorkerOptions) { o.Name = "a.b" }, "worker name"},
		{"no streams", func(o *WorkerOptions) { o.MaxStreams = 0 }, "max streams 0"},
		{"short ttl", func(o *WorkerOptions) { o.LeaseTTL = time.Second }, "lease TTL 1s out of range"},
		{"no model", func(o *WorkerOptions) { o.Model = nil }, "nil model"},
		{"stepper", func(o *WorkerOptions) { o.Stream.Stepper = fakeStepper{} }, "Stepper must be nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.edit(&o)
			if _, err := NewWorker(context.Background(), nc, o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := NewWorker(context.Background(), nc, good); err != nil {
		t.Errorf("good options: %v", err)
	}
}

type fakeStepper struct{}

func (fakeStepper) Step(context.Context, []float32) ([]float32, error) { return nil, nil }
func (fakeStepper) Reset()                                             {}
