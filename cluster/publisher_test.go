package cluster

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/livetsm/livetsm/internal/testlog"
	"github.com/livetsm/livetsm/stream"
)

func prediction(frame int64) stream.Prediction {
	return stream.Prediction{
		TS: time.Unix(1700000000, 0).UTC(), Frame: frame, Label: "Swiping Left", Index: 0, Score: 0.9,
		Top: []stream.Class{{Label: "Swiping Left", Score: 0.9}, {Label: "No gesture", Score: 0.1}}, LatencyMS: 2.5, FPS: 15,
	}
}

func TestPublisherPayload(t *testing.T) {
	s := startServer(t)
	sub := connect(t, s.ClientURL())
	msgs := make(chan *nats.Msg, 16)
	if _, err := sub.ChanSubscribe(SubjectPrefix+"*", msgs); err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	p := NewPublisher(connect(t, s.ClientURL()), "w1", testlog.New(t))
	p.Publish("cam1", prediction(7))
	if err := p.Close(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	var m *nats.Msg
	select {
	case m = <-msgs:
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	if m.Subject != "livetsm.predictions.cam1" {
		t.Errorf("subject %q", m.Subject)
	}
	// The payload is the --json object plus stream and worker.
	var got map[string]any
	if err := json.Unmarshal(m.Data, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ts", "frame", "label", "index", "score", "top5", "latency_ms", "fps", "dropped", "stream", "worker"} {
		if _, ok := got[k]; !ok {
			t.Errorf("payload lacks %q: %s", k, m.Data)
		}
	}
	if got["stream"] != "cam1" || got["worker"] != "w1" || got["frame"] != 7.0 || got["label"] != "Swiping Left" {
		t.Errorf("payload %s", m.Data)
	}
	if st := p.Stats(); st.Published != 1 || st.Errors != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
	p.Publish("cam1", prediction(8)) // after Close: counted, not sent
	if st := p.Stats(); st.Errors != 1 {
		t.Errorf("publish after close: stats %+v", st)
	}
}

// TestPublisherOutage: while the bus is away, Publish never blocks; when
// it is back, predictions flow again on the same Publisher.
func TestPublisherOutage(t *testing.T) {
	store := t.TempDir()
	s, err := StartServer(ServerOptions{Addr: "127.0.0.1:0", StoreDir: store, Log: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	url := s.ClientURL()
	nc := connect(t, url)
	p := NewPublisher(nc, "w1", testlog.New(t))
	defer p.Close(time.Second)
	s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if nc.IsConnected() {
		t.Fatal("still connected after the server shut down")
	}
	start := time.Now()
	for i := range 20000 {
		p.Publish("cam1", prediction(int64(i)))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("20000 publishes without a bus took %v", d)
	}

	s2, err := StartServer(ServerOptions{Addr: addr, StoreDir: store, Log: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	sub := connect(t, url)
	msgs := make(chan *nats.Msg, 64)
	if _, err := sub.ChanSubscribe(Subject("cam1"), msgs); err != nil {
		t.Fatal(err)
	}
	sub.Flush()
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p.Publish("cam1", prediction(-1))
		select {
		case m := <-msgs:
			var ev Event
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Fatal(err)
			}
			t.Logf("back after %v; stats %+v", time.Since(start), p.Stats())
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("no prediction after the bus came back; stats %+v", p.Stats())
}
