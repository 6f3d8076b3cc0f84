package kern

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Pool runs the parallel parts of the kernels. It is safe for concurrent use
// by many callers; a caller always takes part in its own work, so progress
// never depends on a free worker.
//
// A Pool keeps Threads()−1 worker goroutines alive until Close. A nil *Pool
// is valid and runs every kernel on the calling goroutine alone.
type Pool struct {
	threads int
	work    chan *job // unbuffered: a send succeeds only to an idle worker
	quit    chan struct{}
	done    sync.WaitGroup
	closed  atomic.Bool

	mu   sync.Mutex
	free []*job
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
		work:    make(chan *job),
		quit:    make(chan struct{}),
	}
	for i := 1; i < threads; i++ {
		p.done.Add(1)
		go p.worker()
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

func (p *Pool) worker() {
	defer p.done.Done()
	var buf []float32 // this worker's packing / padding buffer
	for {
		select {
		case j := <-p.work:
			j.drain(&buf)
			j.wg.Done()
		case <-p.quit:
			return
		}
	}
}

// Job kinds.
const (
	kindGemm = iota
	kindDW
)

// job is one kernel call split into ntask independent tasks. Jobs are
// recycled through the pool's free list, so a call does not allocate.
type job struct {
	kind  int
	ntask int
	next  atomic.Int64
	wg    sync.WaitGroup
	g     gemmJob
	d     dwJob
	buf   []float32 // the caller's buffer for kernels without a Scratch
}

func (j *job) drain(buf *[]float32) {
	for {
		t := int(j.next.Add(1) - 1)
		if t >= j.ntask {
			return
		}
		switch j.kind {
		case kindGemm:
			j.g.task(t, buf)
		case kindDW:
			j.d.task(t, buf)
		}
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
	j.next.Store(0)
	if p != nil && !p.closed.Load() {
		helpers := min(p.threads-1, j.ntask-1)
		for i := 0; i < helpers; i++ {
			j.wg.Add(1)
			select {
			case p.work <- j:
				continue
			default:
				j.wg.Done()
			}
			break
		}
	}
	j.drain(buf)
	j.wg.Wait()
}
