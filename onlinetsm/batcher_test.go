package onlinetsm_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/livetsm/livetsm/internal/paritytest"
	"github.com/livetsm/livetsm/onlinetsm"
)

// TestBatcherNoCrossTalk runs several streams' goroutines through one
// Batcher at once and checks every frame's logits against a solo run of the
// same stream: batching mixes no stream's state into another's.
func TestBatcherNoCrossTalk(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, err := onlinetsm.NewRandom(0.35, 8, 4, onlinetsm.WithInputSize(64), onlinetsm.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, tc := range []struct {
		streams, maxBatch int
		wait              time.Duration
	}{{1, 8, 4 * time.Millisecond}, {4, 8, 4 * time.Millisecond}, {6, 4, 2 * time.Millisecond}, {5, 8, -1}} {
		t.Run(fmt.Sprintf("streams%d_max%d_wait%v", tc.streams, tc.maxBatch, tc.wait), func(t *testing.T) {
			var sizes [onlinetsm.MaxBatchSize + 1]atomic.Int64
			b := onlinetsm.NewBatcher(m, onlinetsm.BatcherOptions{MaxBatch: tc.maxBatch, MaxWait: tc.wait,
				OnBatch: func(bi onlinetsm.BatchInfo) { sizes[bi.Size].Add(1) }})
			defer b.Close()
			const frames = 6
			var wg sync.WaitGroup
			ins := make([][][]float32, tc.streams)
			wants := make([][][]float32, tc.streams)
			clients := make([]*onlinetsm.BatchClient, tc.streams)
			for i := range tc.streams {
				ins[i] = randFrames(m, frames, uint64(1000+i))
				wants[i] = soloLogits(t, m, ins[i])
				c, err := b.NewClient(m.NewStream())
				if err != nil {
					t.Fatal(err)
				}
				clients[i] = c
			}
			for i, c := range clients {
				in, want := ins[i], wants[i]
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer c.Close()
					for f := range frames {
						got, err := c.Step(context.Background(), in[f])
						if err != nil {
							t.Error(err)
							return
						}
						if e := paritytest.RelErr(got, want[f]); e > 1e-5 {
							t.Errorf("stream %d, frame %d: relative error %.3g against a solo run", i, f, e)
						}
					}
				}()
			}
			wg.Wait()
			var hist []string
			total := int64(0)
			for n := range sizes {
				if k := sizes[n].Load(); k > 0 {
					hist = append(hist, fmt.Sprintf("%d×%d", k, n))
					total += k * int64(n)
					if n > tc.maxBatch {
						t.Errorf("a batch of %d streams exceeds MaxBatch %d", n, tc.maxBatch)
					}
				}
			}
			if total != int64(tc.streams*frames) {
				t.Errorf("batches held %d frames, want %d", total, tc.streams*frames)
			}
			t.Logf("batches (count×size): %s", strings.Join(hist, " "))
		})
	}
}

// TestBatcherBadFrame checks that a bad frame fails its own stream only.
func TestBatcherBadFrame(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, err := onlinetsm.NewRandom(0.35, 8, 4, onlinetsm.WithInputSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b := onlinetsm.NewBatcher(m, onlinetsm.BatcherOptions{MaxWait: 50 * time.Millisecond})
	defer b.Close()
	good := randFrames(m, 1, 1)[0]
	bad := append([]float32(nil), good...)
	bad[3] = float32(math.NaN())
	want := soloLogits(t, m, [][]float32{good})[0]
	c1, _ := b.NewClient(m.NewStream())
	c2, _ := b.NewClient(m.NewStream())
	defer c1.Close()
	defer c2.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	var badErr error
	go func() {
		defer wg.Done()
		_, badErr = c2.Step(context.Background(), bad)
	}()
	got, err := c1.Step(context.Background(), good)
	wg.Wait()
	if err != nil {
		t.Fatalf("good stream: %v", err)
	}
	if e := paritytest.RelErr(got, want); e > 1e-5 {
		t.Errorf("good stream: relative error %.3g", e)
	}
	if badErr == nil || !strings.Contains(badErr.Error(), "frame value 3") {
		t.Errorf("bad stream: %v, want an error naming frame value 3", badErr)
	}
	if c2.Stream().Frames() != 0 {
		t.Error("a refused frame advanced its stream")
	}
}

// TestBatcherClose checks that Close answers waiting clients and that later
// steps fail with ErrBatcherClosed; a cancelled context ends a wait.
func TestBatcherClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, err := onlinetsm.NewRandom(0.35, 8, 4, onlinetsm.WithInputSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b := onlinetsm.NewBatcher(m, onlinetsm.BatcherOptions{MaxWait: time.Hour, MaxBatch: 4})
	c1, _ := b.NewClient(m.NewStream())
	c2, _ := b.NewClient(m.NewStream()) // never steps: the batch waits for it
	defer c2.Close()
	frame := randFrames(m, 1, 1)[0]
	errc := make(chan error, 1)
	go func() {
		_, err := c1.Step(context.Background(), frame)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	b.Close()
	if err := <-errc; !errors.Is(err, onlinetsm.ErrBatcherClosed) {
		t.Fatalf("waiting step: %v, want ErrBatcherClosed", err)
	}
	if _, err := c1.Step(context.Background(), frame); !errors.Is(err, onlinetsm.ErrBatcherClosed) {
		t.Fatalf("step after Close: %v, want ErrBatcherClosed", err)
	}
	c1.Close()
	b2 := onlinetsm.NewBatcher(m, onlinetsm.BatcherOptions{})
	defer b2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c3, _ := b2.NewClient(m.NewStream())
	defer c3.Close()
	if _, err := c3.Step(ctx, frame); err == nil {
		// The collector may have taken the frame before seeing the
		// cancellation; either way Step returned.
		t.Log("step ran despite a cancelled context")
	}
	if _, err := b2.NewClient(nil); err == nil {
		t.Error("NewClient(nil): no error")
	}
}

// TestBatcherNoAllocs checks that a warmed-up client steps without heap
// allocation (the collector goroutine included).
func TestBatcherNoAllocs(t *testing.T) {
	onlinetsm.EachKernelPath(t, func(t *testing.T) {
		m, err := onlinetsm.NewRandom(0.35, 8, 4, onlinetsm.WithInputSize(64), onlinetsm.WithThreads(1))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		b := onlinetsm.NewBatcher(m, onlinetsm.BatcherOptions{OnBatch: func(onlinetsm.BatchInfo) {}})
		defer b.Close()
		c, _ := b.NewClient(m.NewStream())
		defer c.Close()
		frame := randFrames(m, 1, 1)[0]
		ctx := context.Background()
		for range 5 {
			if _, err := c.Step(ctx, frame); err != nil {
				t.Fatal(err)
			}
		}
		if n := testing.AllocsPerRun(20, func() { c.Step(ctx, frame) }); n != 0 {
			t.Errorf("%v allocations per step, want 0", n)
		}
	})
}
