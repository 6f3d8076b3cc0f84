package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/livetsm/livetsm/cluster"
	"github.com/livetsm/livetsm/stream"
)

// An embedded bus, a camera in the registry, and a prediction published
// and received as any subscriber of livetsm.predictions.* receives it.
func Example() {
	ctx := context.Background()
	srv, err := cluster.StartServer(cluster.ServerOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	nc, err := cluster.Connect(ctx, srv.ClientURL(), cluster.ConnectOptions{Name: "example"})
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()

	reg, err := cluster.OpenRegistry(ctx, nc, cluster.RegistryOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := reg.Add(ctx, cluster.Camera{ID: "door", Source: "rtsp://door.local:8554/live"}); err != nil {
		log.Fatal(err)
	}
	cams, err := reg.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range cams {
		fmt.Printf("%s %s worker=%q\n", c.ID, c.Source, c.Worker)
	}

	sub, err := nc.SubscribeSync(cluster.SubjectPrefix + "*")
	if err != nil {
		log.Fatal(err)
	}
	pub := cluster.NewPublisher(nc, "example-worker", nil)
	pub.Publish("door", stream.Prediction{Label: "Swiping Left", Score: 0.9})
	if err := pub.Close(time.Second); err != nil {
		log.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		log.Fatal(err)
	}
	var ev cluster.Event
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Subject, ev.Stream, ev.Worker, ev.Label)
	// Output:
	// door rtsp://door.local:8554/live worker=""
	// livetsm.predictions.door door example-worker Swiping Left
}
