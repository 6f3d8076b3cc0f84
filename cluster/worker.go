package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream"
)

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	// Name names the worker in leases and predictions (see ValidID); two
	// live workers may not share a name.
	Name string
	// MaxStreams is the most cameras the worker runs at once.
	MaxStreams int
	// LeaseTTL is the TTL of the leases and workers buckets when this
	// worker creates them (0 means DefaultLeaseTTL); buckets that exist
	// keep theirs.
	LeaseTTL time.Duration
	// Replicas is the number of copies a NATS cluster keeps of the buckets
	// this worker creates (0 means 1; 3 survives the loss of a server).
	Replicas int
	// Model runs every camera, each on a Stream of its own.
	Model *onlinetsm.Model
	// Stream configures pacing and smoothing as for stream.Run (Log is
	// replaced by the camera's logger; Stepper must be nil).
	Stream stream.Options
	// Open opens a camera's video. The worker closes the source when the
	// camera stops, and opens it again (with backoff) when it fails.
	Open func(ctx context.Context, cam Camera) (stream.Source, error)
	// Publisher publishes the predictions.
	Publisher *Publisher
	// Log receives the worker's log records; nil discards them.
	Log *slog.Logger
}

// WorkerStats are a Worker's counts.
type WorkerStats struct {
	// Cameras is the number of cameras the worker runs now.
	Cameras int
	// Claimed counts leases taken.
	Claimed int64
	// Released counts leases handed back (rebalancing, a removed camera,
	// shutdown).
	Released int64
	// LeasesLost counts leases lost: a renewal refused or too late, or the
	// key taken or deleted by someone else. The camera stopped at once.
	LeasesLost int64
}

// handoverGap is how long a worker keeps the lease of a camera it stopped
// (to rebalance, or to shut down) before handing it back: a camera's
// predictions from the old and the new worker are then at least this far
// apart, never in the same second.
const handoverGap = time.Second

// Worker claims cameras from the registry through leases and runs them.
// Create it with NewWorker and call Run.
type Worker struct {
	opts     WorkerOptions
	log      *slog.Logger
	nc       *nats.Conn
	instance string
	cams     jetstream.KeyValue
	leases   jetstream.KeyValue
	workers  jetstream.KeyValue
	ttl      time.Duration // the lease TTL in force
	renew    time.Duration // renewal period: ttl/3
	margin   time.Duration // a camera stops this long before its lease could expire

	held      atomic.Int64
	claimed   atomic.Int64
	released  atomic.Int64
	leaseLost atomic.Int64

	// Owned by Run's goroutine.
	view     view
	running  map[string]*camRun
	wg       sync.WaitGroup // camera goroutines and releases
	handback chan *camRun   // released cameras whose lease may now go
	started  time.Time
	selfRev  uint64 // revision of this worker's key in WorkersBucket
}

// view is what the watchers have told the worker about the buckets.
type view struct {
	cams    map[string]Camera
	leases  map[string]leaseEntry
	workers map[string]workerInfo
}

type leaseEntry struct {
	lease
	rev uint64
}

// camRun is a camera this worker holds.
type camRun struct {
	cam       Camera
	rev       uint64    // the lease key's revision
	since     time.Time // when the lease was taken
	cancel    context.CancelFunc
	done      chan struct{} // closed when the camera's goroutine ends
	timer     *time.Timer   // stops the camera when the lease runs out
	expired   atomic.Bool   // the timer fired
	stopped   atomic.Bool   // the camera was told to stop
	releasing bool
}

// halt stops the camera; the first call counts it out of w.held.
func (r *camRun) halt(w *Worker) {
	r.cancel()
	if r.stopped.CompareAndSwap(false, true) {
		w.held.Add(-1)
	}
}

// NewWorker opens the buckets the worker needs on nc (creating those that
// do not exist) and returns the worker.
func NewWorker(ctx context.Context, nc *nats.Conn, opts WorkerOptions) (*Worker, error) {
	switch {
	case ValidID(opts.Name) != nil:
		return nil, fmt.Errorf("worker name: %w", ValidID(opts.Name))
	case opts.MaxStreams < 1:
		return nil, fmt.Errorf("worker: max streams %d: want 1 or more", opts.MaxStreams)
	case opts.LeaseTTL != 0 && (opts.LeaseTTL < MinLeaseTTL || opts.LeaseTTL > MaxLeaseTTL):
		return nil, fmt.Errorf("worker: lease TTL %v out of range [%v, %v]", opts.LeaseTTL, MinLeaseTTL, MaxLeaseTTL)
	case opts.Replicas < 0 || opts.Replicas > 5:
		return nil, fmt.Errorf("worker: replicas %d out of range [0, 5]", opts.Replicas)
	case opts.Model == nil || opts.Open == nil || opts.Publisher == nil:
		return nil, errors.New("worker: nil model, source opener or publisher")
	case opts.Stream.Stepper != nil:
		return nil, errors.New("worker: Stream.Stepper must be nil (each camera runs a Stream of its own)")
	}
	ttl := opts.LeaseTTL
	if ttl == 0 {
		ttl = DefaultLeaseTTL
	}
	w := &Worker{
		opts:     opts,
		log:      opts.Log,
		nc:       nc,
		instance: nuid.Next(),
		running:  map[string]*camRun{},
		handback: make(chan *camRun),
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("worker", opts.Name)
	js, err := jetStream(ctx, nc)
	if err != nil {
		return nil, err
	}
	if w.cams, err = bucket(ctx, js, camerasBucketConfig(opts.Replicas)); err != nil {
		return nil, err
	}
	if w.leases, err = bucket(ctx, js, leaseBucketConfig(LeasesBucket, "livetsm leases: camera id -> worker", ttl, opts.Replicas)); err != nil {
		return nil, err
	}
	if w.workers, err = bucket(ctx, js, leaseBucketConfig(WorkersBucket, "livetsm workers: name -> max streams", ttl, opts.Replicas)); err != nil {
		return nil, err
	}
	w.ttl = ttl
	for _, kv := range []jetstream.KeyValue{w.leases, w.workers} {
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", kv.Bucket(), err)
		}
		if st.TTL() <= 0 {
			return nil, fmt.Errorf("bucket %s has no TTL: delete it (nats kv del %s) and let a worker create it", kv.Bucket(), kv.Bucket())
		}
		if st.TTL() != ttl {
			w.log.Warn("the bucket's lease TTL wins over --lease-ttl", "bucket", kv.Bucket(), "ttl", st.TTL(), "asked", ttl)
		}
		w.ttl = min(w.ttl, st.TTL())
	}
	w.renew = w.ttl / 3
	w.margin = w.ttl / 4
	return w, nil
}

// LeaseTTL is the lease TTL in force: a dead worker's cameras are free
// after at most this long.
func (w *Worker) LeaseTTL() time.Duration { return w.ttl }

// Stats returns the worker's counts; it is safe to call at any time.
func (w *Worker) Stats() WorkerStats {
	return WorkerStats{
		Cameras:    int(w.held.Load()),
		Claimed:    w.claimed.Load(),
		Released:   w.released.Load(),
		LeasesLost: w.leaseLost.Load(),
	}
}

// Run announces the worker, then claims, runs, renews and hands back
// cameras until ctx is done; then it stops its cameras at once, flushes
// their predictions and, a second later (so that no camera is published by
// two workers within one second), releases their leases, so that other
// workers take them without waiting for the TTL. It returns nil after a
// clean stop, or
// an error when the bus is gone for good or the name is in use.
func (w *Worker) Run(ctx context.Context) error {
	// Cancelled before shutdown, whatever ends the loop, so that the
	// goroutines of releases in flight end.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.started = time.Now().UTC()
	ws := &watchSet{}
	defer ws.stop()
	if err := w.watch(ctx, ws); err != nil {
		return err
	}
	if err := w.register(ctx); err != nil {
		return err
	}
	w.log.Info("worker up", "max_streams", w.opts.MaxStreams, "lease_ttl", w.ttl, "renew_every", w.renew)

	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	settle := start.Add(w.renew) // watch for peers before the first claim
	nextRenew := start.Add(w.renew)
	reconnects := w.nc.Stats().Reconnects
	var err error
loop:
	for {
		var (
			e  jetstream.KeyValueEntry
			ok bool
			kv int
		)
		select {
		case <-ctx.Done():
			break loop
		case e, ok = <-ws.updates[0]:
			kv = 0
		case e, ok = <-ws.updates[1]:
			kv = 1
		case e, ok = <-ws.updates[2]:
			kv = 2
		case r := <-w.handback:
			w.finishRelease(ctx, r)
			continue
		case now := <-tick.C:
			w.reap()
			if rc := w.nc.Stats().Reconnects; rc != reconnects {
				// The server may have restarted and lost track of what
				// the watchers saw: read the buckets afresh.
				reconnects = rc
				w.log.Info("reconnected: reading the buckets afresh")
				if err = w.watch(ctx, ws); err != nil {
					w.log.Warn("watch", "err", err) // retried on the next tick
					reconnects--
				}
			}
			if !now.Before(nextRenew) {
				nextRenew = now.Add(w.renew)
				// Bounded, so that a bus away does not hold up the loop
				// (the leases' timers stop the cameras in any case).
				octx, ocancel := context.WithTimeout(ctx, w.renew/2)
				w.renewAll(octx)
				err = w.heartbeat(octx)
				ocancel()
				if err != nil {
					break loop
				}
			}
			if now.After(settle) && ws.pending == 0 {
				w.balance(ctx)
			}
			continue
		}
		if !ok {
			if w.nc.IsClosed() {
				err = errors.New("the connection to the bus was closed")
				break loop
			}
			w.log.Warn("a watcher stopped; watching again")
			if err = w.watch(ctx, ws); err != nil {
				break loop
			}
			continue
		}
		if e == nil {
			ws.pending-- // one watcher has sent its initial values
			continue
		}
		switch kv {
		case 0:
			w.applyCamera(e)
		case 1:
			w.applyLease(e)
		case 2:
			w.applyWorker(e)
		}
	}
	cancel()
	w.shutdown()
	return err
}

// watchSet holds the watchers of the three buckets.
type watchSet struct {
	watchers []jetstream.KeyWatcher
	updates  [3]<-chan jetstream.KeyValueEntry
	pending  int // watchers yet to send their initial values
}

func (ws *watchSet) stop() {
	for _, kw := range ws.watchers {
		kw.Stop()
	}
	ws.watchers = nil
}

// watch (re)starts the watchers of the cameras, leases and workers
// buckets, and clears the view they fill.
func (w *Worker) watch(ctx context.Context, ws *watchSet) error {
	ws.stop()
	w.view = view{cams: map[string]Camera{}, leases: map[string]leaseEntry{}, workers: map[string]workerInfo{}}
	ws.pending = 3
	for i, kv := range []jetstream.KeyValue{w.cams, w.leases, w.workers} {
		kw, err := kv.WatchAll(ctx)
		if err != nil {
			ws.stop()
			return fmt.Errorf("watch %s: %w", kv.Bucket(), err)
		}
		ws.watchers = append(ws.watchers, kw)
		ws.updates[i] = kw.Updates()
	}
	return nil
}

// register creates the worker's key, waiting up to one TTL for a previous
// process of the same name to expire.
func (w *Worker) register(ctx context.Context) error {
	deadline := time.Now().Add(w.ttl + time.Second)
	warned := false
	for {
		rev, err := w.workers.Create(ctx, w.opts.Name, w.info())
		if err == nil {
			w.selfRev = rev
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("register worker %s: %w", w.opts.Name, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("worker name %q is in use by a live worker: give each worker its own --name", w.opts.Name)
		}
		if !warned {
			w.log.Warn("a worker of this name is registered; waiting for it to expire", "ttl", w.ttl)
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(w.renew / 2):
		}
	}
}

func (w *Worker) info() []byte {
	b, _ := json.Marshal(workerInfo{
		Name: w.opts.Name, Instance: w.instance, MaxStreams: w.opts.MaxStreams,
		Started: w.started, Cameras: len(w.running),
	})
	return b
}

// heartbeat renews the worker's key; a key taken by another process of the
// same name ends the worker.
func (w *Worker) heartbeat(octx context.Context) error {
	rev, err := w.workers.Update(octx, w.opts.Name, w.info(), w.selfRev)
	if err == nil {
		w.selfRev = rev
		return nil
	}
	if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		if !errors.Is(err, context.Canceled) {
			w.log.Warn("heartbeat", "err", err)
		}
		return nil // the bus is away; the leases' timers keep us safe
	}
	// Our key expired (the bus was away) or was deleted: announce again.
	rev, err = w.workers.Create(octx, w.opts.Name, w.info())
	switch {
	case err == nil:
		w.selfRev = rev
		return nil
	case errors.Is(err, jetstream.ErrKeyExists):
		if e, gerr := w.workers.Get(octx, w.opts.Name); gerr == nil {
			var wi workerInfo
			if json.Unmarshal(e.Value(), &wi) == nil && wi.Instance == w.instance {
				w.selfRev = e.Revision()
				return nil
			}
		}
		return fmt.Errorf("worker name %q was taken by another process: give each worker its own --name", w.opts.Name)
	default:
		w.log.Warn("heartbeat", "err", err)
		return nil
	}
}

func (w *Worker) applyCamera(e jetstream.KeyValueEntry) {
	if e == nil {
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(w.view.cams, e.Key())
		return
	}
	var c Camera
	if err := json.Unmarshal(e.Value(), &c); err != nil || c.Check() != nil || c.ID != e.Key() {
		w.log.Warn("ignoring a bad camera entry", "key", e.Key())
		delete(w.view.cams, e.Key())
		return
	}
	w.view.cams[c.ID] = c
}

func (w *Worker) applyLease(e jetstream.KeyValueEntry) {
	if e == nil {
		return
	}
	id := e.Key()
	r := w.running[id]
	if e.Operation() != jetstream.KeyValuePut {
		delete(w.view.leases, id)
		if r != nil && e.Revision() > r.rev {
			w.lose(r, "the lease was deleted or expired")
		}
		return
	}
	var l lease
	if err := json.Unmarshal(e.Value(), &l); err != nil {
		delete(w.view.leases, id)
		return
	}
	w.view.leases[id] = leaseEntry{lease: l, rev: e.Revision()}
	if r == nil || e.Revision() <= r.rev {
		return
	}
	if l.Instance == w.instance {
		r.rev = e.Revision() // a renewal whose reply we missed
		return
	}
	w.lose(r, "another worker holds the lease")
}

func (w *Worker) applyWorker(e jetstream.KeyValueEntry) {
	if e == nil {
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(w.view.workers, e.Key())
		return
	}
	var wi workerInfo
	if err := json.Unmarshal(e.Value(), &wi); err != nil || wi.MaxStreams < 1 {
		delete(w.view.workers, e.Key())
		return
	}
	w.view.workers[e.Key()] = wi
}

// refreshLease reads the lease of id into the view, when a refused
// compare-and-set shows the view was behind.
func (w *Worker) refreshLease(ctx context.Context, id string) {
	e, err := w.leases.Get(ctx, id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		delete(w.view.leases, id)
	case err == nil:
		var l lease
		if json.Unmarshal(e.Value(), &l) == nil {
			w.view.leases[id] = leaseEntry{lease: l, rev: e.Revision()}
		}
	}
}

// share is this worker's fair share of the cameras now.
func (w *Worker) share() int {
	maxes := map[string]int{w.opts.Name: w.opts.MaxStreams}
	for name, wi := range w.view.workers {
		if name != w.opts.Name {
			maxes[name] = wi.MaxStreams
		}
	}
	return FairShare(len(w.view.cams), maxes, w.opts.Name)
}

// active counts the cameras held and not being released.
func (w *Worker) active() int {
	n := 0
	for _, r := range w.running {
		if !r.releasing {
			n++
		}
	}
	return n
}

// balance hands back removed cameras and those beyond the fair share, and
// claims free cameras up to it.
func (w *Worker) balance(ctx context.Context) {
	for id, r := range w.running {
		if _, ok := w.view.cams[id]; !ok && !r.releasing {
			w.log.Info("camera removed from the registry; stopping it", "camera", id)
			w.release(ctx, r, 0)
		}
	}
	target := w.share()
	if n := w.active(); n > target {
		// Hand back the most recently claimed ones.
		var rs []*camRun
		for _, r := range w.running {
			if !r.releasing {
				rs = append(rs, r)
			}
		}
		slices.SortFunc(rs, func(a, b *camRun) int { return b.since.Compare(a.since) })
		for _, r := range rs[:n-target] {
			w.log.Info("handing a camera back to even the load", "camera", r.cam.ID, "share", target)
			w.release(ctx, r, handoverGap)
		}
		return
	}
	want := target - w.active()
	if want <= 0 {
		return
	}
	var free []string
	for id := range w.view.cams {
		if _, held := w.view.leases[id]; !held {
			free = append(free, id)
		} else if l := w.view.leases[id]; l.Instance == w.instance && w.running[id] == nil {
			// Ours but not running: a claim whose answer came too late or not
			// at all, or a lease lost while the bus was away. Hand it back.
			octx, cancel := context.WithTimeout(ctx, w.renew)
			err := w.leases.Delete(octx, id, jetstream.LastRevision(l.rev))
			if err != nil {
				w.refreshLease(octx, id) // the view was behind
			}
			cancel()
			w.log.Info("handing back a lease of ours that no camera of ours runs", "camera", id, "err", err)
		}
	}
	for _, id := range claimOrder(w.opts.Name, free) {
		if want <= 0 || ctx.Err() != nil {
			return
		}
		if w.claim(ctx, w.view.cams[id]) {
			want--
		}
	}
}

// claim tries to take the lease of cam and starts it.
func (w *Worker) claim(ctx context.Context, cam Camera) bool {
	since := time.Now().UTC()
	b, _ := json.Marshal(lease{Worker: w.opts.Name, Instance: w.instance, Since: since})
	octx, cancel := context.WithTimeout(ctx, w.renew)
	defer cancel()
	sent := time.Now()
	rev, err := w.leases.Create(octx, cam.ID, b)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			w.refreshLease(octx, cam.ID) // the view was behind
		} else if ctx.Err() == nil {
			w.log.Warn("claim", "camera", cam.ID, "err", err)
		}
		return false
	}
	if time.Since(sent) >= w.ttl-w.margin {
		// Too slow to be sure of it: let it expire.
		w.log.Warn("claim answered too late; letting the lease expire", "camera", cam.ID)
		return false
	}
	w.claimed.Add(1)
	w.leaseDeadline(w.start(ctx, cam, rev, since), sent)
	return true
}

// start runs cam under a lease of revision rev; the lease's timer runs
// from now until leaseDeadline sets it.
func (w *Worker) start(ctx context.Context, cam Camera, rev uint64, since time.Time) *camRun {
	cctx, cancel := context.WithCancel(ctx)
	r := &camRun{cam: cam, rev: rev, since: since, cancel: cancel, done: make(chan struct{})}
	r.timer = time.AfterFunc(w.ttl-w.margin, func() {
		r.expired.Store(true)
		r.halt(w)
	})
	w.running[cam.ID] = r
	w.held.Add(1)
	w.log.Info("camera claimed", "camera", cam.ID, "source", cam.Source, "revision", rev)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(r.done)
		w.runCamera(cctx, cam)
	}()
	return r
}

// leaseDeadline arms r's timer for a lease written at sent: the camera
// stops a margin before the lease could expire on the server.
func (w *Worker) leaseDeadline(r *camRun, sent time.Time) {
	if r.timer.Stop() {
		r.timer.Reset(time.Until(sent.Add(w.ttl - w.margin)))
	}
}

// renewAll renews every lease held.
func (w *Worker) renewAll(ctx context.Context) {
	for _, r := range w.running {
		if r.expired.Load() {
			continue // reap handles it
		}
		b, _ := json.Marshal(lease{Worker: w.opts.Name, Instance: w.instance, Since: r.since})
		sent := time.Now()
		rev, err := w.leases.Update(ctx, r.cam.ID, b, r.rev)
		switch {
		case err == nil:
			r.rev = rev
			w.leaseDeadline(r, sent)
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			w.lose(r, "the lease renewal was refused: "+err.Error())
		default:
			if !errors.Is(err, context.Canceled) {
				w.log.Warn("lease renewal failed; the camera stops if the bus stays away", "camera", r.cam.ID, "err", err)
			}
		}
	}
}

// reap forgets cameras whose lease timer fired.
func (w *Worker) reap() {
	for _, r := range w.running {
		if r.expired.Load() {
			w.lose(r, "the lease could not be renewed in time")
		}
	}
}

// lose stops r at once: its lease is gone or about to be.
func (w *Worker) lose(r *camRun, why string) {
	if w.running[r.cam.ID] != r {
		return
	}
	r.timer.Stop()
	r.halt(w)
	delete(w.running, r.cam.ID)
	if !r.releasing {
		w.leaseLost.Add(1)
		w.log.Warn("lease lost; camera stopped", "camera", r.cam.ID, "why", why)
	}
}

// release stops r, keeps its lease for gap more, and then hands it back
// (finishRelease, on Run's goroutine).
func (w *Worker) release(ctx context.Context, r *camRun, gap time.Duration) {
	r.releasing = true
	r.halt(w)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		<-r.done
		if err := w.opts.Publisher.Flush(ctx); err != nil && ctx.Err() == nil {
			w.log.Debug("flush before handing back", "err", err)
		}
		select {
		case <-ctx.Done():
			return // shutdown releases it
		case <-time.After(gap):
		}
		select {
		case w.handback <- r:
		case <-ctx.Done():
		}
	}()
}

// finishRelease deletes the lease of a stopped camera.
func (w *Worker) finishRelease(ctx context.Context, r *camRun) {
	if w.running[r.cam.ID] != r {
		return // lost meanwhile
	}
	r.timer.Stop()
	delete(w.running, r.cam.ID)
	octx, cancel := context.WithTimeout(ctx, w.renew)
	defer cancel()
	if err := w.leases.Delete(octx, r.cam.ID, jetstream.LastRevision(r.rev)); err != nil {
		w.log.Warn("hand back lease (it will expire)", "camera", r.cam.ID, "err", err)
		return
	}
	w.released.Add(1)
	w.log.Info("camera handed back", "camera", r.cam.ID)
}

// shutdown stops every camera, flushes their predictions, releases their
// leases and the worker's key, and waits for its goroutines.
func (w *Worker) shutdown() {
	for _, r := range w.running {
		r.halt(w)
	}
	for _, r := range w.running {
		<-r.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second+handoverGap)
	defer cancel()
	if err := w.opts.Publisher.Flush(ctx); err != nil {
		w.log.Warn("flush predictions", "err", err)
	}
	for _, r := range w.running {
		if !r.expired.Load() && !w.nc.IsClosed() {
			time.Sleep(handoverGap) // the leases outlast it by far
			break
		}
	}
	n := 0
	for id, r := range w.running {
		r.timer.Stop()
		if r.expired.Load() {
			continue // it may be someone else's already
		}
		if err := w.leases.Delete(ctx, id, jetstream.LastRevision(r.rev)); err != nil {
			w.log.Warn("release lease (it will expire)", "camera", id, "err", err)
			continue
		}
		n++
	}
	w.released.Add(int64(n))
	clear(w.running)
	if err := w.workers.Delete(ctx, w.opts.Name, jetstream.LastRevision(w.selfRev)); err != nil {
		w.log.Debug("unregister", "err", err)
	}
	w.wg.Wait() // releases in flight see ctx done and return
	w.log.Info("worker stopped; cameras released", "released", n)
}

// runCamera runs cam until ctx is done, opening its source again with
// backoff when it fails.
func (w *Worker) runCamera(ctx context.Context, cam Camera) {
	log := w.log.With("camera", cam.ID)
	opts := w.opts.Stream
	opts.Log = log
	backoff := time.Second
	for {
		began := time.Now()
		src, err := w.opts.Open(ctx, cam)
		var stats stream.Stats
		if err == nil {
			stats, err = stream.Run(ctx, src, w.opts.Model, opts, func(p stream.Prediction) error {
				if err := ctx.Err(); err != nil {
					return err // the lease is going: publish nothing more
				}
				w.opts.Publisher.Publish(cam.ID, p)
				return nil
			})
			src.Close()
		}
		if ctx.Err() != nil {
			log.Info("camera stopped", "predictions", stats.Predictions, "fps", fmt.Sprintf("%.1f", stats.FPS))
			return
		}
		if err == nil {
			err = errors.New("the source ended")
		}
		if time.Since(began) > 30*time.Second {
			backoff = time.Second
		}
		log.Warn("camera failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
