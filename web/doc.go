// Package web serves livetsm's page: video from the browser over WebRTC,
// predictions back over a websocket.
//
// The page (static/, embedded, no build step) asks for the camera, sends it
// as a VP8 track on an RTCPeerConnection and posts its offer, with all ICE
// candidates gathered, to POST /api/offer as {"type":"offer","sdp":…}. The
// answer ({"type":"answer","sdp":…,"session":ID}) names a session; the page
// then opens GET /api/ws?session=ID for the predictions (see ws.go for the
// messages). GET /api/config gives the model's name and labels and the ICE
// servers.
//
// Each session (one per browser tab) has its own pion PeerConnection, a VP8
// receiver — RTP packets reassembled into frames (vp8Assembler, with pion's
// VP8 depacketiser), decoded by libvpx through
// github.com/pion/mediadevices/pkg/codec/vpx, key frames requested (PLI) at
// the start and after loss — feeding a live source, and its own stream.Run
// (pacing, preprocessing, smoothing and predictions, the model step going
// through the server's Batcher as a stream.Stepper) over its own model
// Stream and cache. The streams live in a cache.Store keyed
// by session id (the stream limit, memory accounting, idle eviction), and
// their frames go through the model together: one onlinetsm.Batcher per
// server gathers the frames that arrive within Options.BatchWait (up to
// Options.MaxBatch) and steps them as one batch. Capture times come from
// the RTP timestamps, so a prediction's latency runs from capture to
// prediction.
//
// GET /metrics serves Prometheus metrics from a registry of the server's
// own (livetsm_streams, livetsm_frames_total, livetsm_dropped_frames_total,
// livetsm_stream_refusals_total, livetsm_batch_size,
// livetsm_inference_seconds, livetsm_end_to_end_seconds and the Go and
// process collectors), behind the token when one is set; GET /healthz
// answers {"status":"ok","streams":N,"max":M} without one (and adds
// "model":NAME for requests that carry it).
//
// A session ends, releasing everything, when the peer connection fails or
// closes, the page sends "stop", the websocket stays away longer than
// Options.ReconnectGrace (a dropped websocket may reconnect to its session
// until then), no websocket attaches within Options.AttachTimeout, or the
// Server closes.
//
// Safe defaults (auth.go): an optional token (Options.Token) guards every
// route but GET /healthz — the page, its assets, the API, the websocket,
// /metrics —, and the API checks the Origin (scheme, host and port) of
// browser requests. A request's body must arrive within
// Options.BodyTimeout, and the websocket has read deadlines of its own.
// An offer must be application/json, at most MaxOfferBytes, and offer VP8
// video: one that offers only H.264 (Safari and some mobile browsers) gets
// 422 {"code":"unsupported_codec"} saying so, before any session is
// opened. Websocket messages are limited to MaxMessageBytes, sessions
// (streams) to Options.MaxSessions —
// a new one beyond it gets 503 {"code":"busy","error":"the server is at its
// stream limit (N streams); …"}, shown on the page, and open ones are
// unaffected; a closed session's slot is freed once its goroutines have
// ended — and decoded frames to Options.MaxFramePixels; malformed input
// gets an error response, never a crash.
package web
