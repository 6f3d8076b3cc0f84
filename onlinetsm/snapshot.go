package onlinetsm

import "fmt"

// Snapshot returns a versioned, checksummed binary copy of the stream's
// state (its shift cache and frame count; see cache.State.AppendSnapshot).
// A Stream of the same model — in this process or another, from a new Load
// of the same weights — that Restores it continues with the same logits.
func (s *Stream) Snapshot() []byte {
	return s.state.AppendSnapshot(make([]byte, 0, s.state.SnapshotSize()))
}

// AppendSnapshot is Snapshot appending to b, for callers that reuse a
// buffer.
func (s *Stream) AppendSnapshot(b []byte) []byte { return s.state.AppendSnapshot(b) }

// Restore replaces the stream's state with a snapshot made by Snapshot. A
// snapshot that is corrupt, of another version or of a model with other
// cache shapes is refused with an error wrapping cache.ErrSnapshot, and the
// stream is left as it was.
func (s *Stream) Restore(snap []byte) error {
	if err := s.state.Restore(snap); err != nil {
		return fmt.Errorf("onlinetsm: restore stream: %w", err)
	}
	return nil
}
