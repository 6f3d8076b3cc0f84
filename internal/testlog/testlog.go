// Package testlog gives tests a logger: silent normally, and debug-level
// text on stderr, tagged with the test's name, under go test -v.
package testlog

import (
	"log/slog"
	"os"
	"testing"
)

// New returns the logger for the test t: one that discards everything, or
// with -v one that writes debug-level text to stderr with a "test" attribute
// naming t.
func New(t testing.TB) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}
