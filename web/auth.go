package web

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The guards in front of the routes. With Options.Token set, requireToken
// refuses every request without the token — the page, its assets, the
// API, the websocket, /metrics and unknown paths alike — except GET
// /healthz, which load balancers call without one (and which then does
// not name the model). The API routes also pass guard, which refuses
// browser requests from other origins.

// healthPath is the one route open without the token.
const healthPath = "/healthz"

// requireToken answers 401 to a request without the token, on every path
// but healthPath. API paths get a JSON error; the page and its assets a
// line of text saying where the token goes.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == healthPath || s.tokenOK(r) {
			next.ServeHTTP(w, r)
			return
		}
		securityHeaders(w)
		w.Header().Set("WWW-Authenticate", `Bearer realm="livetsm"`)
		if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/metrics" {
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong token")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintln(w, "livetsm: this server needs its token: open the address printed by livetsm, ending in ?token=…")
	})
}

// guard checks the browser origin before an API handler (the token has
// been checked by requireToken) and sets the security headers.
func (s *Server) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		if !s.originOK(r) {
			writeError(w, http.StatusForbidden, "bad_origin", "cross-origin request refused")
			return
		}
		h(w, r)
	}
}

// tokenOK reports whether r carries the token (or none is needed): as the
// query parameter "token" or as "Authorization: Bearer TOKEN", which wins
// when both are given.
func (s *Server) tokenOK(r *http.Request) bool {
	if s.opts.Token == "" {
		return true
	}
	got := r.URL.Query().Get("token")
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		got = strings.TrimPrefix(a, "Bearer ")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) == 1
}

// originOK accepts requests without an Origin (not from a browser page),
// from the server's own origin — the same scheme, host and port — and
// from AllowedOrigins. The server's scheme is https when the request came
// over TLS: behind a proxy that terminates TLS, list the public origin in
// AllowedOrigins.
func (s *Server) originOK(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Scheme == "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if sameOrigin(u.Scheme, u.Host, scheme, r.Host) {
		return true
	}
	for _, o := range s.opts.AllowedOrigins {
		a, err := url.Parse(strings.TrimSuffix(o, "/"))
		if err == nil && sameOrigin(u.Scheme, u.Host, a.Scheme, a.Host) {
			return true
		}
	}
	return false
}

// sameOrigin compares two origins given as scheme and host[:port], with
// the scheme's default port filled in.
func sameOrigin(scheme1, host1, scheme2, host2 string) bool {
	if !strings.EqualFold(scheme1, scheme2) {
		return false
	}
	return strings.EqualFold(withPort(scheme1, host1), withPort(scheme2, host2))
}

// withPort returns host with the scheme's default port when it has none.
func withPort(scheme, host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "80"
	if strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "wss") {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}
