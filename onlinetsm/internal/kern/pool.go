package kern

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool runs the parallel parts of the kernels. It is safe for concurrent use
// by many callers; a caller always takes part in its own work, so progress
// never depends on a free worker.
//
// A Pool keeps Threads()−1 worker goroutines alive until Close. A call offers
// its job to the workers that are idle at that moment, works through the
// job's tasks itself alongside them, and withdraws the offers no worker has
// taken by the time all tasks are claimed. An idle worker spins briefly
// before it sleeps, so back-to-back kernel calls start without a scheduler
// round trip. Spinning is polite (see spinner): PAUSE between polls, backing
// off exponentially, so a spinner leaves its core's SMT sibling and the
// memory system mostly alone, and it yields the core now and then, so a
// machine with fewer free cores than threads degrades gracefully. A nil
// *Pool is valid and runs every kernel on the calling goroutine alone.
type Pool struct {
	threads int
	workers []*worker
	quit    chan struct{}
	done    sync.WaitGroup
	closed  atomic.Bool

	mu   sync.Mutex
	free []*job
}

// worker is one persistent helper goroutine.
type worker struct {
	// job is nil when the worker is idle, the offered job until the
	// worker takes it (or the caller revokes it), then taken until the
	// worker is done with it.
	job      atomic.Pointer[job]
	part     atomic.Int32 // the job's part this worker starts with
	sleeping atomic.Bool
	wake     chan struct{} // capacity 1
}

// taken marks a worker slot whose job is being worked on.
var taken = new(job)

// Spin budgets: an idle worker polls for a new job, and a caller polls for
// its helpers to finish, this long before blocking. Short enough not to
// waste much of a loaded machine, long enough to bridge the gap between the
// back-to-back kernel calls of a frame.
const (
	workerSpin = 40 * time.Microsecond
	callerSpin = 20 * time.Microsecond
)

// Backoff caps: the most PAUSE instructions between two polls. A PAUSE takes
// from a few cycles to about 140 (Intel since Skylake) depending on the CPU,
// so 32 of them last at most about 1.5 µs: short beside a frame's kernels,
// long enough to quiet a spinner. A caller waiting for its helpers is on the
// frame's critical path and polls more often. (Not measured yet: the
// constants are a starting point for benchmarks.)
const (
	workerMaxPause = 32
	callerMaxPause = 8
)

// spinner is one bounded, polite spin-wait: poll, and after each failed poll
// call spin, until spin reports that the budget is spent; then block. Rounds
// of PAUSE double from 1 to max, so a waiter polls often just after it starts
// (when a job or a helper is most likely to arrive) and rarely after; from
// the cap on, each round also yields the OS thread. The clock is read only
// from the cap on: the rounds before it are short (fewer than 2·max PAUSEs
// in all).
type spinner struct {
	start  time.Time
	budget time.Duration
	n, max int // PAUSEs in the next round, and their cap
}

func newSpinner(budget time.Duration, maxPause int) spinner {
	return spinner{start: time.Now(), budget: budget, n: 1, max: max(maxPause, 1)}
}

// spin waits one round and reports whether to poll again (false: the budget
// is spent, block now).
func (s *spinner) spin() bool {
	if s.n < s.max {
		pause(s.n)
		s.n = min(2*s.n, s.max)
		return true
	}
	if time.Since(s.start) >= s.budget {
		return false
	}
	pause(s.n)
	osYield()
	return true
}

// NewPool returns a pool that splits work across threads goroutines
// (threads ≤ 0 means runtime.GOMAXPROCS(0)): the caller of a kernel plus
// threads−1 persistent workers.
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{
		threads: threads,
		quit:    make(chan struct{}),
	}
	for i := 1; i < threads; i++ {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		p.done.Add(1)
		go p.work(w)
	}
	return p
}

// Threads reports how many goroutines share one kernel call.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

// Close stops the pool's workers. Kernels must not be called on a closed pool.
// Close is idempotent.
func (p *Pool) Close() {
	if p == nil || p.closed.Swap(true) {
		return
	}
	close(p.quit)
	p.done.Wait()
}

func (p *Pool) work(w *worker) {
	defer p.done.Done()
	var buf []float32 // this worker's packing / padding buffer
	for {
		j := w.await(p.quit)
		if j == nil {
			return
		}
		j.drain(int(w.part.Load()), &buf)
		w.job.Store(nil)
		j.pending.Add(-1)
		j.wg.Done() // last touch of j
	}
}

// take claims the job offered to w, if any.
func (w *worker) take() *job {
	j := w.job.Load()
	if j == nil || j == taken || !w.job.CompareAndSwap(j, taken) {
		return nil
	}
	return j
}

// await returns the next job offered to w, or nil once quit is closed.
func (w *worker) await(quit <-chan struct{}) *job {
	for {
		for sp := newSpinner(workerSpin, workerMaxPause); ; {
			if j := w.take(); j != nil {
				return j
			}
			if !sp.spin() {
				break
			}
		}
		// Sleep. The caller stores the job before it reads sleeping,
		// so either we see the job here or it sees sleeping and sends
		// a wake-up.
		w.sleeping.Store(true)
		if j := w.take(); j != nil {
			w.sleeping.Store(false)
			return j
		}
		select {
		case <-w.wake:
		case <-quit:
			w.sleeping.Store(false)
			return nil
		}
		w.sleeping.Store(false)
	}
}

// Job kinds.
const (
	kindGemm = iota
	kindDW
	kindBatch   // batched Conv1x1 over several streams (batch.go)
	kindMaxPool // MaxPool (conv.go)
	kindIm2col  // Conv's unfolding (conv.go)
)

// job is one kernel call split into ntask independent tasks. Jobs are
// recycled through the pool's free list, so a call does not allocate.
//
// The tasks are cut into one contiguous part per planned participant (the
// caller's is part 0). Each participant works through its own part first and
// then helps with the others'. Kernels number their tasks so that
// neighbouring tasks touch neighbouring data (a GEMM's column blocks, a
// depthwise convolution's bands of rows or its channels), so with a steady
// thread count each thread computes much the same region of each layer from
// frame to frame, and of one layer and the next, keeping it in its own
// core's caches. (A worker offered jobs by two callers at once may start on
// another part than planned; every part is drained all the same.)
type job struct {
	kind    int
	ntask   int
	parts   []part
	pending atomic.Int32 // helpers still working
	wg      sync.WaitGroup
	g       gemmJob
	d       dwJob
	b       batchJob
	m       maxPoolJob
	c       im2colJob
	buf     []float32 // the caller's buffer for kernels without a Scratch
}

// part is a contiguous range of a job's tasks: next is the next to take, end
// the first past it.
type part struct {
	next atomic.Int64
	end  int64
	_    [48]byte // one cache line each
}

// chunks cuts n items into at most tasks chunks of equal size (the last may
// be shorter): it returns the chunk size and the number of chunks.
func chunks(n, tasks int) (size, count int) {
	size = (n + min(n, tasks) - 1) / min(n, tasks)
	return size, (n + size - 1) / size
}

// split cuts the tasks into n parts.
func (j *job) split(n int) {
	if cap(j.parts) < n {
		j.parts = make([]part, n)
	}
	j.parts = j.parts[:n]
	for i := range j.parts {
		j.parts[i].next.Store(int64(i * j.ntask / n))
		j.parts[i].end = int64((i + 1) * j.ntask / n)
	}
}

// drain runs tasks until none is left: those of the part numbered first,
// then those of the parts after it, in turn.
func (j *job) drain(first int, buf *[]float32) {
	for k := range j.parts {
		pt := &j.parts[(first+k)%len(j.parts)]
		for {
			t := pt.next.Add(1) - 1
			if t >= pt.end {
				break
			}
			j.do(int(t), buf)
		}
	}
}

// do runs task t.
func (j *job) do(t int, buf *[]float32) {
	switch j.kind {
	case kindGemm:
		j.g.task(t, buf)
	case kindDW:
		j.d.task(t, buf)
	case kindBatch:
		j.b.task(t, buf)
	case kindMaxPool:
		j.m.task(t, buf)
	case kindIm2col:
		j.c.task(t, buf)
	}
}

var nilPoolJobs = struct {
	mu   sync.Mutex
	free []*job
}{}

func (p *Pool) getJob() *job {
	mu, free := &nilPoolJobs.mu, &nilPoolJobs.free
	if p != nil {
		mu, free = &p.mu, &p.free
	}
	mu.Lock()
	var j *job
	if n := len(*free); n > 0 {
		j = (*free)[n-1]
		(*free)[n-1] = nil
		*free = (*free)[:n-1]
	}
	mu.Unlock()
	if j == nil {
		j = new(job)
	}
	return j
}

func (p *Pool) putJob(j *job) {
	j.g = gemmJob{}
	j.d = dwJob{}
	j.b = batchJob{}
	j.m = maxPoolJob{}
	j.c = im2colJob{}
	mu, free := &nilPoolJobs.mu, &nilPoolJobs.free
	if p != nil {
		mu, free = &p.mu, &p.free
	}
	mu.Lock()
	*free = append(*free, j)
	mu.Unlock()
}

// run executes all tasks of j: it offers j to idle workers (at most one per
// task beyond the first), works on it itself with buf, and waits for helpers.
func (p *Pool) run(j *job, buf *[]float32) {
	want := 0
	if p != nil && j.ntask > 1 && !p.closed.Load() {
		want = min(len(p.workers), j.ntask-1)
	}
	j.split(1 + want)
	helpers := 0
	if want > 0 {
		for _, w := range p.workers {
			if helpers == want {
				break
			}
			if w.job.Load() != nil {
				continue
			}
			j.pending.Add(1)
			j.wg.Add(1)
			w.part.Store(int32(1 + helpers))
			if !w.job.CompareAndSwap(nil, j) {
				j.pending.Add(-1)
				j.wg.Done()
				continue
			}
			helpers++
			if w.sleeping.Load() {
				select {
				case w.wake <- struct{}{}:
				default:
				}
			}
		}
	}
	j.drain(0, buf)
	if helpers > 0 {
		// Revoke the offers no worker has taken yet: all tasks are
		// claimed, and a worker the OS has not run must not delay us.
		for _, w := range p.workers {
			if w.job.CompareAndSwap(j, nil) {
				j.pending.Add(-1)
				j.wg.Done()
			}
		}
		for sp := newSpinner(callerSpin, callerMaxPause); j.pending.Load() > 0 && sp.spin(); {
		}
		j.wg.Wait()
	}
}
