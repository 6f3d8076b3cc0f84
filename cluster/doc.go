// Package cluster spreads many cameras over many livetsm workers through NATS
// JetStream, and publishes every prediction as an event on the bus.
//
// Nothing here is a cluster protocol of its own: NATS does the work.
//
//   - Predictions are NATS messages on Subject(streamID), that is
//     "livetsm.predictions.<stream-id>": the JSON object of `livetsm --json`
//     plus "stream" and "worker" (see Event). A Publisher sends them from a
//     goroutine of its own, so inference never waits for the bus; while the
//     bus is away, nats.go buffers and reconnects.
//   - Cameras live in the JetStream key-value bucket CamerasBucket, one key
//     per camera id, its value a Camera (id and source). A Registry adds,
//     removes and lists them.
//   - Leases live in the bucket LeasesBucket, whose keys expire after the
//     bucket's TTL. A worker claims a camera by creating its key (Create
//     fails when another worker holds it) and keeps it by updating the key
//     with compare-and-set on its revision, every TTL/3. A worker that dies
//     stops renewing; the key expires and another worker creates it. A
//     worker that cannot renew (its update is refused, or the bus is away
//     for longer than TTL minus a margin) stops the camera before the key
//     can expire, so no camera is ever run by two workers at once.
//   - Workers announce themselves in the bucket WorkersBucket (same TTL),
//     so that each can compute its fair share of the cameras (FairShare)
//     and cameras spread evenly: a worker claims cameras up to its share
//     and hands back the ones beyond it.
//
// StartServer runs an embedded nats-server with JetStream, for one machine
// and for tests; pointing Connect at an existing NATS cluster (nats-server
// 2.11 or later, JetStream on) spreads the same workers over many machines.
package cluster
