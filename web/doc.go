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
// the start and after loss — feeding a live stream.Source, and its own
// stream.Run (pacing, model Stream and cache, smoothing). Capture times come
// from the RTP timestamps, so a prediction's latency runs from capture to
// prediction.
//
// A session ends, releasing everything, when the peer connection fails or
// closes, the page sends "stop", the websocket stays away longer than
// Options.ReconnectGrace (a dropped websocket may reconnect to its session
// until then), no websocket attaches within Options.AttachTimeout, or the
// Server closes.
//
// Safe defaults: the API checks the Origin of browser requests, an
// optional token (Options.Token) guards the page and the API, offers are
// limited to MaxOfferBytes and must be application/json, websocket
// messages to MaxMessageBytes, sessions to Options.MaxSessions and decoded
// frames to Options.MaxFramePixels; malformed input gets an error response,
// never a crash.
package web
