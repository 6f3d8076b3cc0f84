package cluster

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream/synth"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLog logs to the test's output when -v is given.
func testLog(t *testing.T) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// startServer starts an embedded server on a free loopback port, closed
// when the test ends.
func startServer(t *testing.T) *Server {
	t.Helper()
	s, err := StartServer(ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// connect connects to url, closed when the test ends.
func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := Connect(context.Background(), url, ConnectOptions{Name: t.Name(), Timeout: 2 * time.Second, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testModel is a small random model with the synthetic gestures' labels.
func testModel(t *testing.T) *onlinetsm.Model {
	t.Helper()
	m, err := onlinetsm.NewRandom(0.35, synth.NumClasses, 1,
		onlinetsm.WithInputSize(64), onlinetsm.WithLabels(synth.Labels()), onlinetsm.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}
