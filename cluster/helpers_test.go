package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/livetsm/livetsm/internal/testlog"
	"github.com/livetsm/livetsm/onlinetsm"
	"github.com/livetsm/livetsm/stream/synth"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startServer starts an embedded server on a free loopback port, closed
// when the test ends.
func startServer(t *testing.T) *Server {
	t.Helper()
	s, err := StartServer(ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Log: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// connect connects to url, closed when the test ends.
func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := Connect(context.Background(), url, ConnectOptions{Name: t.Name(), Timeout: 2 * time.Second, Log: testlog.New(t)})
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
