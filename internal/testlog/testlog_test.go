package testlog

import (
	"context"
	"log/slog"
	"testing"
)

func TestNew(t *testing.T) {
	log := New(t)
	if log == nil {
		t.Fatal("New returned nil")
	}
	// Debug records are enabled exactly when the test runs verbosely.
	if got, want := log.Enabled(context.Background(), slog.LevelDebug), testing.Verbose(); got != want {
		t.Errorf("debug enabled = %v, want %v (testing.Verbose)", got, want)
	}
	log.Info("a record", "n", 1) // must not panic, verbose or not
}
