package cache

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// ErrFull is returned by Store.Acquire when a new stream would exceed the
// store's limit. Streams already in the store are unaffected.
var ErrFull = errors.New("stream limit reached")

// StoreConfig sets a Store's limits.
type StoreConfig struct {
	// MaxStreams is the most streams held at once; 0 means no limit.
	MaxStreams int
	// IdleTTL is how long a stream may go unused before EvictIdle removes
	// it; 0 means never.
	IdleTTL time.Duration
	// Now reads the clock; nil means time.Now.
	Now func() time.Time
}

// Store holds per-stream values (a stream's engine state, typically an
// *onlinetsm.Stream) by stream id, creating them on first use, with a
// maximum count, idle eviction and memory accounting. It is safe for
// concurrent use.
type Store[V any] struct {
	cfg     StoreConfig
	open    func(id string) (V, error)
	close   func(V)
	size    func(V) int
	mu      sync.Mutex
	entries map[string]*storeEntry[V]
}

type storeEntry[V any] struct {
	v     V
	last  time.Time
	inUse int
	bytes int
}

// NewStore returns an empty Store. open makes the value of a new stream;
// close (may be nil) releases a value that leaves the store; size (may be
// nil) reports a value's memory in bytes for Bytes.
func NewStore[V any](cfg StoreConfig, open func(id string) (V, error), close func(V), size func(V) int) *Store[V] {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store[V]{cfg: cfg, open: open, close: close, size: size, entries: map[string]*storeEntry[V]{}}
}

// Acquire returns stream id's value, creating it if the stream is new, and
// marks it in use until the matching Release. A stream in use is never
// evicted. A new stream beyond MaxStreams fails with an error wrapping
// ErrFull.
func (s *Store[V]) Acquire(id string) (V, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		if s.cfg.MaxStreams > 0 && len(s.entries) >= s.cfg.MaxStreams {
			var zero V
			return zero, fmt.Errorf("stream %q: %w (%d streams, the maximum)", id, ErrFull, s.cfg.MaxStreams)
		}
		v, err := s.open(id)
		if err != nil {
			var zero V
			return zero, fmt.Errorf("stream %q: %w", id, err)
		}
		e = &storeEntry[V]{v: v}
		if s.size != nil {
			e.bytes = s.size(v)
		}
		s.entries[id] = e
	}
	e.inUse++
	e.last = s.cfg.Now()
	return e.v, nil
}

// Release ends one Acquire of stream id and restarts its idle time.
func (s *Store[V]) Release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[id]; ok && e.inUse > 0 {
		e.inUse--
		e.last = s.cfg.Now()
	}
}

// Remove drops stream id, closing its value, and reports whether it was
// there. A stream in use is removed all the same; its holder keeps the value
// it has.
func (s *Store[V]) Remove(id string) bool {
	s.mu.Lock()
	e, ok := s.entries[id]
	delete(s.entries, id)
	s.mu.Unlock()
	if ok && s.close != nil {
		s.close(e.v)
	}
	return ok
}

// EvictIdle removes the streams not in use for longer than IdleTTL and
// returns their ids, sorted.
func (s *Store[V]) EvictIdle() []string {
	if s.cfg.IdleTTL <= 0 {
		return nil
	}
	now := s.cfg.Now()
	var gone []storeEntry[V]
	var ids []string
	s.mu.Lock()
	for id, e := range s.entries {
		if e.inUse == 0 && now.Sub(e.last) > s.cfg.IdleTTL {
			ids = append(ids, id)
			gone = append(gone, *e)
			delete(s.entries, id)
		}
	}
	s.mu.Unlock()
	if s.close != nil {
		for _, e := range gone {
			s.close(e.v)
		}
	}
	sort.Strings(ids)
	return ids
}

// Run calls EvictIdle every interval until ctx is done, passing the evicted
// ids to onEvict (may be nil).
func (s *Store[V]) Run(ctx context.Context, every time.Duration, onEvict func(ids []string)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if ids := s.EvictIdle(); len(ids) > 0 && onEvict != nil {
				onEvict(ids)
			}
		}
	}
}

// Len is the number of streams held.
func (s *Store[V]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Bytes is the memory the held streams report, summed.
func (s *Store[V]) Bytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.entries {
		n += e.bytes
	}
	return n
}

// Close removes every stream, closing their values.
func (s *Store[V]) Close() {
	s.mu.Lock()
	entries := s.entries
	s.entries = map[string]*storeEntry[V]{}
	s.mu.Unlock()
	if s.close != nil {
		for _, e := range entries {
			s.close(e.v)
		}
	}
}
