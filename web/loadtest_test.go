package web

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livetsm/livetsm/internal/paritytest"

	"go.uber.org/goleak"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream/synth"
)

// The load test. `go test` runs a short version (the small test model, 1
// and 4 synthetic streams for a few seconds each, 2 WebRTC clients over two
// connect/disconnect cycles); LIVETSM_LOADTEST=long (`make loadtest`) runs
// the published configuration (width 1.0, 224 px) with 1, 4 and 16 streams
// for a minute each (LIVETSM_LOADTEST_SECONDS changes that), 16 without
// batching for comparison, and 4 WebRTC clients for half that, twice, and
// prints the table. Everything stays on 127.0.0.1.

// loadResult is one row of the table.
type loadResult struct {
	name          string
	streams       int
	maxBatch      int
	wait          time.Duration // the Batcher's MaxWait (negative: none)
	dur           time.Duration
	frames        int64 // predictions
	dropped       int64 // due frames never run
	inf, e2e      []time.Duration
	batch         float64 // mean batch size
	rssMB, heapMB float64
	gBefore       int
	gAfter        int
}

func (r loadResult) row() string {
	fps := float64(r.frames) / r.dur.Seconds()
	wait := "0"
	switch {
	case r.maxBatch == 1:
		wait = "–" // no batching: nothing to wait for
	case r.wait > 0:
		wait = r.wait.String()
	}
	return fmt.Sprintf("| %s | %d | %d / %s | %.1f | %.1f | %.2f | %.1f | %s | %s | %s | %s | %.0f / %.0f | %d → %d |",
		r.name, r.streams, r.maxBatch, wait, fps, fps/float64(r.streams), float64(r.dropped)/float64(max(r.frames+r.dropped, 1))*100,
		r.batch, pct(r.inf, 50), pct(r.inf, 99), pct(r.e2e, 50), pct(r.e2e, 99), r.rssMB, r.heapMB, r.gBefore, r.gAfter)
}

const loadHeader = "| run | streams | max batch / wait | frames/s | per stream | dropped % | mean batch | inference p50 ms | p99 | end-to-end p50 ms | p99 | RSS / heap MB | goroutines before → after |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|"

// pct formats the p-th percentile of ds in milliseconds ("–" for none).
func pct(ds []time.Duration, p float64) string {
	if len(ds) == 0 {
		return "–"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, int(math.Ceil(p/100*float64(len(s))))-1)
	return fmt.Sprintf("%.1f", float64(s[max(i, 0)])/float64(time.Millisecond))
}

// rssMB reads the process's resident set from /proc (0 elsewhere).
func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func heapMB() float64 {
	runtime.GC()
	runtime.GC() // a second cycle frees what sync.Pools held
	if f := os.Getenv("LIVETSM_HEAPPROF"); f != "" {
		if w, err := os.Create(f); err == nil {
			pprof.WriteHeapProfile(w)
			w.Close()
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// fillFrame writes synthetic stream si's frame seq into dst: a cheap
// deterministic pattern in [-2, 2), different for every stream and frame.
func fillFrame(dst []float32, si int, seq int64) {
	x := uint64(si)*0x9E3779B97F4A7C15 + uint64(seq)*0xBF58476D1CE4E5B9 + 1
	for i := range dst {
		x = x*6364136223846793005 + 1442695040888963407
		dst[i] = float32(int32(x>>32)) / (1 << 30)
	}
}

// crossTalkFrames is how many of each stream's first frames are checked
// against a solo run.
const crossTalkFrames = 12

// runSynthetic runs n paced synthetic streams through one Batcher for dur
// and checks each stream's first predictions against a solo run.
func runSynthetic(t *testing.T, m *onlinetsm.Model, n, maxBatch int, wait, dur time.Duration, fps float64) loadResult {
	t.Helper()
	g0 := runtime.NumGoroutine()
	var inf []time.Duration // appended on the collector goroutine only
	var batched, batches int64
	b := onlinetsm.NewBatcher(m, onlinetsm.BatcherOptions{MaxBatch: maxBatch, MaxWait: wait, OnBatch: func(bi onlinetsm.BatchInfo) {
		inf = append(inf, bi.Inference)
		batched += int64(bi.Size)
		batches++
	}})
	interval := time.Duration(float64(time.Second) / fps)
	type rec struct {
		seqs   []int64
		logits [][]float32
		e2e    []time.Duration
		frames int64
		drops  int64
		err    error
	}
	recs := make([]rec, n)
	size := m.InputSize()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for si := range n {
		c, err := b.NewClient(m.NewStream())
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			r := &recs[si]
			input := make([]float32, 3*size*size)
			// Streams start spread over one frame interval, as cameras do.
			offset := time.Duration(si) * interval / time.Duration(n)
			next := int64(0)
			for {
				due := start.Add(offset + time.Duration(next)*interval)
				if d := time.Until(due); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				}
				if ctx.Err() != nil {
					return
				}
				// Behind: the newest due frame wins, as in the server.
				if late := time.Since(due); late >= interval {
					skip := int64(late / interval)
					r.drops += skip
					next += skip
					due = due.Add(time.Duration(skip) * interval)
				}
				fillFrame(input, si, next)
				logits, err := c.Step(context.Background(), input)
				if err != nil {
					r.err = err
					return
				}
				r.e2e = append(r.e2e, time.Since(due))
				r.frames++
				if len(r.seqs) < crossTalkFrames {
					r.seqs = append(r.seqs, next)
					r.logits = append(r.logits, slices.Clone(logits))
				}
				next++
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.Close()
	res := loadResult{name: "synthetic", streams: n, maxBatch: maxBatch, wait: b.Options().MaxWait, dur: elapsed, inf: inf,
		rssMB: rssMB(), gBefore: g0}
	if batches > 0 {
		res.batch = float64(batched) / float64(batches)
	}
	for si := range recs {
		r := &recs[si]
		if r.err != nil {
			t.Errorf("stream %d: %v", si, r.err)
		}
		res.frames += r.frames
		res.dropped += r.drops
		res.e2e = append(res.e2e, r.e2e...)
		// Cross-talk: the same frames, stepped alone, give the same logits.
		solo := m.NewStream()
		input := make([]float32, 3*size*size)
		for k, seq := range r.seqs {
			fillFrame(input, si, seq)
			want, err := solo.StepData(input)
			if err != nil {
				t.Fatal(err)
			}
			if e := paritytest.RelErr(r.logits[k], want); e > 1e-5 {
				t.Errorf("stream %d, frame %d: relative error %.3g against a solo run (cross-talk)", si, seq, e)
				break
			}
		}
	}
	res.heapMB = heapMB()
	res.gAfter = runtime.NumGoroutine()
	if res.frames == 0 {
		t.Errorf("%d streams: no predictions", n)
	}
	return res
}

// runWebRTC connects n pion clients sending VP8 at 15 frames/s to a fresh
// server for dur, collects their predictions, disconnects them and closes
// the server.
func runWebRTC(t *testing.T, m *onlinetsm.Model, n, maxBatch int, dur time.Duration, vp8 [][]byte) loadResult {
	t.Helper()
	g0 := runtime.NumGoroutine()
	srv, err := NewServer(Options{Model: m, Log: slog.New(slog.DiscardHandler), LoopbackCandidates: true, Interfaces: []string{"lo"},
		MaxSessions: n, MaxBatch: maxBatch})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler()) // 127.0.0.1
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var e2e []time.Duration
	var frames, dropped int64
	var first time.Time // the first prediction: the rate counts from there
	clients := make([]*pionClient, n)
	start := time.Now()
	for i := range n {
		c := newPionClient(t)
		clients[i] = c
		id := c.connect(t, hs.URL, nil)
		ws, _, err := dialWS(t, hs.URL, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			c.send(ctx, vp8, 15)
		}()
		go func() {
			defer wg.Done()
			defer ws.Close()
			var lastDropped int64
			for ctx.Err() == nil {
				msg, err := readMsg(t, ws, 3*time.Second)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("client %d: no prediction: %v", i, err)
					}
					break
				}
				if msg["type"] != "prediction" {
					continue
				}
				mu.Lock()
				if frames == 0 {
					first = time.Now()
				}
				frames++
				e2e = append(e2e, time.Duration(msg["latency_ms"].(float64)*float64(time.Millisecond)))
				mu.Unlock()
				lastDropped = int64(msg["dropped"].(float64))
			}
			mu.Lock()
			dropped += lastDropped
			mu.Unlock()
		}()
	}
	time.Sleep(dur)
	cancel()
	end := time.Now()
	wg.Wait()
	mu.Lock()
	elapsed := end.Sub(first)
	mu.Unlock()
	if first.IsZero() {
		elapsed = end.Sub(start)
	}
	for _, c := range clients {
		c.pc.Close()
	}
	waitFor(t, 15*time.Second, "sessions to end", func() bool { return srv.Sessions() == 0 })
	inf := metricValue(t, srv, "livetsm_inference_seconds")
	res := loadResult{name: "webrtc", streams: n, maxBatch: maxBatch, wait: onlinetsm.DefaultMaxWait, dur: elapsed, frames: frames, dropped: dropped,
		e2e: e2e, rssMB: rssMB(), gBefore: g0}
	if got := metricValue(t, srv, "livetsm_frames_total"); got < float64(frames) {
		t.Errorf("livetsm_frames_total %v < %d predictions received", got, frames)
	}
	if inf > 0 {
		res.batch = metricValue(t, srv, "livetsm_frames_total") / inf
	}
	res.inf = nil // the histogram has buckets, not samples: see the synthetic rows
	srv.Close()
	hs.Close()
	if srv.store.Len() != 0 {
		t.Errorf("%d streams left in the store", srv.store.Len())
	}
	res.heapMB = heapMB()
	res.gAfter = runtime.NumGoroutine()
	if frames == 0 {
		t.Errorf("%d WebRTC clients: no predictions", n)
	}
	return res
}

// TestLoad is the load test; see the comment at the top of the file.
func TestLoad(t *testing.T) {
	long := os.Getenv("LIVETSM_LOADTEST") == "long"
	if testing.Short() && !long {
		t.Skip("load test skipped in -short mode")
	}
	// Goroutines of earlier tests (pion's, httptest's) may still be winding
	// down; this test must leave none of its own.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	var m *onlinetsm.Model
	synthDur, rtcDur, rtcClients, cycles := 4*time.Second, 4*time.Second, 2, 2
	counts := []int{1, 4}
	if long {
		var err error
		m, err = onlinetsm.NewRandom(1.0, synth.NumClasses, 1, onlinetsm.WithLabels(synth.Labels()), onlinetsm.WithThreads(2))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		synthDur, rtcDur, rtcClients, cycles = 60*time.Second, 30*time.Second, 4, 2
		counts = []int{1, 4, 16}
		if v, err := strconv.Atoi(os.Getenv("LIVETSM_LOADTEST_SECONDS")); err == nil && v > 0 && v <= 600 {
			synthDur, rtcDur = time.Duration(v)*time.Second, time.Duration(v)*time.Second/2
		}
	} else {
		m = testModel(t)
	}
	var rows []loadResult
	for _, n := range counts {
		rows = append(rows, runSynthetic(t, m, n, onlinetsm.DefaultMaxBatch, 0, synthDur, 15))
	}
	if long {
		// For comparison: no batching, and batching without waiting
		// (what queued while the previous batch ran).
		rows = append(rows, runSynthetic(t, m, 16, 1, 0, synthDur, 15),
			runSynthetic(t, m, 4, onlinetsm.DefaultMaxBatch, -1, synthDur, 15),
			runSynthetic(t, m, 16, onlinetsm.DefaultMaxBatch, -1, synthDur, 15))
	}
	vp8 := encodeVP8(t, synthFrames(synth.SwipingLeft, 20, 320, 240))
	first := len(rows)
	for range cycles {
		rows = append(rows, runWebRTC(t, m, rtcClients, onlinetsm.DefaultMaxBatch, rtcDur, vp8))
	}
	// No memory growth across connect/disconnect cycles beyond noise (the
	// first cycle warms up pools and caches; later ones must not grow), and
	// no goroutine left behind by any (checked per cycle and by goleak).
	if grow := rows[len(rows)-1].heapMB - rows[first].heapMB; grow > 4 {
		t.Errorf("heap grew by %.1f MB from the first to the last of %d connect/disconnect cycles", grow, cycles)
	}
	for _, r := range rows {
		if r.gAfter > r.gBefore {
			t.Errorf("%s, %d streams: %d goroutines before, %d after", r.name, r.streams, r.gBefore, r.gAfter)
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "model: width %.2f, %d px, %d threads; GOMAXPROCS %d; load average at the end: %s\n",
		m.Width(), m.InputSize(), m.Threads(), runtime.GOMAXPROCS(0), loadavg())
	sb.WriteString(loadHeader + "\n")
	for _, r := range rows {
		sb.WriteString(r.row() + "\n")
	}
	t.Log("\n" + sb.String())
	if long {
		fmt.Println(sb.String())
	}
}

// loadavg reads /proc/loadavg's first three fields.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
