package stream

import (
	"image"
	"sync"
)

// mailbox holds the newest due frame of a live source, and the reader's end.
type mailbox struct {
	mu      sync.Mutex
	frame   *item
	err     error // why the reader stopped
	dropped int64
	notify  chan struct{} // has a token while frame or err is new
	free    chan *image.RGBA
}

func (m *mailbox) signal() {
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// put stores f, dropping (and recycling) a frame the model has not taken.
func (m *mailbox) put(f *item) {
	m.mu.Lock()
	if old := m.frame; old != nil {
		m.dropped++
		f.Reset = f.Reset || old.Reset
		m.recycle(old.Image)
	}
	m.frame = f
	m.mu.Unlock()
	m.signal()
}

func (m *mailbox) recycle(img *image.RGBA) {
	if img == nil {
		return
	}
	select {
	case m.free <- img:
	default:
	}
}

func (m *mailbox) buffer() *image.RGBA {
	select {
	case img := <-m.free:
		return img
	default:
		return nil
	}
}
