// Package web serves livetsm's page: video from the browser over WebRTC,
// predictions back over a websocket.
package web
