package cache

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time       { return c.t }
func (c *fakeClock) add(d time.Duration)  { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock            { return &fakeClock{t: time.Unix(1e9, 0)} }
func openState(id string) (*State, error) { return New([]Shape{{2, 4, 4}}), nil }
func stateBytes(s *State) int             { return s.Bytes() }
func failOpen(id string) (*State, error)  { return nil, fmt.Errorf("no model") }
func countClose(n *int) func(*State)      { return func(*State) { *n++ } }

func TestStoreLimit(t *testing.T) {
	clk := newFakeClock()
	closed := 0
	s := NewStore(StoreConfig{MaxStreams: 2, Now: clk.now}, openState, countClose(&closed), stateBytes)
	a, err := s.Acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	a.Slot(0)[0] = 7
	if _, err := s.Acquire("b"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Acquire("c")
	if !errors.Is(err, ErrFull) || err.Error() != `stream "c": stream limit reached (2 streams, the maximum)` {
		t.Fatalf("third stream: %v, want ErrFull", err)
	}
	// Existing streams are unaffected and keep their state.
	again, err := s.Acquire("a")
	if err != nil || again.Slot(0)[0] != 7 {
		t.Fatalf("stream a after refusal: %v, state kept %v", err, err == nil && again.Slot(0)[0] == 7)
	}
	if s.Len() != 2 || s.Bytes() != 2*4*2*4*4 {
		t.Fatalf("Len %d Bytes %d", s.Len(), s.Bytes())
	}
	if !s.Remove("b") || s.Remove("b") || closed != 1 {
		t.Fatalf("Remove: closed %d", closed)
	}
	if _, err := s.Acquire("c"); err != nil {
		t.Fatalf("after a removal a new stream fits: %v", err)
	}
	s.Close()
	if s.Len() != 0 || closed != 3 {
		t.Fatalf("Close left %d streams, closed %d", s.Len(), closed)
	}
}

func TestStoreEvictIdle(t *testing.T) {
	clk := newFakeClock()
	closed := 0
	s := NewStore(StoreConfig{IdleTTL: time.Minute, Now: clk.now}, openState, countClose(&closed), nil)
	for _, id := range []string{"idle", "busy", "recent"} {
		if _, err := s.Acquire(id); err != nil {
			t.Fatal(err)
		}
	}
	s.Release("idle")
	clk.add(50 * time.Second)
	s.Release("recent")
	clk.add(20 * time.Second)
	// idle: released 70 s ago → evicted; busy: never released → kept;
	// recent: released 20 s ago → kept.
	if got := s.EvictIdle(); !slices.Equal(got, []string{"idle"}) {
		t.Fatalf("evicted %v, want [idle]", got)
	}
	clk.add(time.Hour)
	if got := s.EvictIdle(); !slices.Equal(got, []string{"recent"}) {
		t.Fatalf("evicted %v, want [recent]", got)
	}
	if s.Len() != 1 || closed != 2 {
		t.Fatalf("Len %d closed %d", s.Len(), closed)
	}
}

func TestStoreOpenError(t *testing.T) {
	s := NewStore(StoreConfig{}, failOpen, nil, nil)
	if _, err := s.Acquire("x"); err == nil || err.Error() != `stream "x": no model` || s.Len() != 0 {
		t.Fatalf("Acquire: %v, Len %d", err, s.Len())
	}
}

func TestStoreConcurrent(t *testing.T) {
	s := NewStore(StoreConfig{MaxStreams: 8, IdleTTL: time.Nanosecond}, openState, nil, stateBytes)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint(g % 10)
			for i := 0; i < 200; i++ {
				if _, err := s.Acquire(id); err == nil {
					s.Release(id)
				} else if !errors.Is(err, ErrFull) {
					t.Error(err)
				}
				s.EvictIdle()
			}
		}()
	}
	wg.Wait()
	if s.Len() > 8 {
		t.Fatalf("%d streams held, limit 8", s.Len())
	}
}
