package web

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestTokenOnEveryRoute checks that with a token every route but /healthz
// refuses a request without it — the page, the assets, the API, the
// websocket, /metrics, unknown paths — and that the page passes the token
// on to its assets.
func TestTokenOnEveryRoute(t *testing.T) {
	const token = "route-token-1234"
	_, hs := newTestServer(t, Options{Token: token, ModelName: "secret-model"})
	routes := []struct{ method, path string }{
		{"GET", "/"},
		{"HEAD", "/"},
		{"GET", "/static/"},
		{"GET", "/static/app.js"},
		{"GET", "/static/style.css"},
		{"GET", "/static/index.html"},
		{"GET", "/static/missing.js"},
		{"GET", "/api/config"},
		{"POST", "/api/offer"},
		{"GET", "/api/offer"},
		{"GET", "/api/ws?session=" + strings.Repeat("a", 32)},
		{"GET", "/api/nope"},
		{"GET", "/metrics"},
		{"GET", "/favicon.ico"},
		{"GET", "/nope"},
		{"GET", "/healthz/../api/config"},
		{"POST", "/"},
	}
	do := func(method, path string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, hs.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		// Do not follow the mux's redirects of unclean paths: the answer
		// to this request is what counts.
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer wrong-token-000"}} {
				resp, body := do(rt.method, rt.path, hdr)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("with %v: %s, want 401", hdr, resp.Status)
				}
				if strings.Contains(body, "secret-model") || strings.Contains(body, "<html") {
					t.Errorf("401 body gives away %q", body)
				}
			}
		})
	}

	// /healthz stays open, but tells strangers no model name.
	resp, body := do("GET", "/healthz", nil)
	var h map[string]any
	if err := json.Unmarshal([]byte(body), &h); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz without token: %s %q", resp.Status, body)
	}
	if _, ok := h["model"]; ok || strings.Contains(body, "secret-model") {
		t.Errorf("/healthz names the model to a request without the token: %s", body)
	}
	if _, body := do("GET", "/healthz", map[string]string{"Authorization": "Bearer " + token}); !strings.Contains(body, `"model":"secret-model"`) {
		t.Errorf("/healthz with the token: %s", body)
	}

	// The page carries the token into its asset URLs, which then load.
	resp, page := do("GET", "/?token="+token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("page with token: %s", resp.Status)
	}
	for _, asset := range []string{"static/app.js", "static/style.css"} {
		ref := asset + "?token=" + token
		if !strings.Contains(page, `"`+ref+`"`) {
			t.Errorf("the page does not load %s with the token:\n%s", asset, page)
			continue
		}
		u, _ := url.Parse(hs.URL + "/")
		if resp, _ := do("GET", u.ResolveReference(&url.URL{Path: asset, RawQuery: "token=" + token}).RequestURI(), nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the token: %s", ref, resp.Status)
		}
	}
}

// TestNoTokenAllOpen checks that without a token the page and its assets
// are served as before, with the model on /healthz.
func TestNoTokenAllOpen(t *testing.T) {
	_, hs := newTestServer(t, Options{ModelName: "tiny"})
	for _, path := range []string{"/", "/static/app.js", "/static/style.css", "/api/config"} {
		if status, _ := get(t, hs.URL+path, ""); status != http.StatusOK {
			t.Errorf("%s: %d", path, status)
		}
	}
	if _, body := get(t, hs.URL+"/", ""); !strings.Contains(body, `"static/app.js"`) {
		t.Errorf("the page's asset URLs changed without a token:\n%s", body)
	}
	if _, body := get(t, hs.URL+"/healthz", ""); !strings.Contains(body, `"model":"tiny"`) {
		t.Errorf("/healthz without a token configured: %s", body)
	}
}

// TestOriginOK checks the Origin comparison: scheme, host and port, with
// default ports filled in.
func TestOriginOK(t *testing.T) {
	s, _ := newTestServer(t, Options{AllowedOrigins: []string{"https://app.example.org", "http://127.0.0.1:9000/"}})
	tests := []struct {
		name   string
		host   string
		tls    bool
		origin string
		ok     bool
	}{
		{"no origin", "example.com:8080", false, "", true},
		{"same origin", "example.com:8080", false, "http://example.com:8080", true},
		{"same origin, other case", "Example.COM:8080", false, "http://example.com:8080", true},
		{"https page to http server", "example.com:8080", false, "https://example.com:8080", false},
		{"http page to https server", "example.com:8443", true, "http://example.com:8443", false},
		{"https same origin", "example.com:8443", true, "https://example.com:8443", true},
		{"default port http", "example.com", false, "http://example.com:80", true},
		{"default port https", "example.com", true, "https://example.com", true},
		{"http origin, https default port", "example.com", true, "http://example.com", false},
		{"other port", "example.com:8080", false, "http://example.com:8081", false},
		{"other host", "example.com:8080", false, "http://evil.example:8080", false},
		{"ws scheme", "example.com:8080", false, "ws://example.com:8080", false},
		{"no scheme", "example.com:8080", false, "example.com:8080", false},
		{"null", "example.com:8080", false, "null", false},
		{"IPv6", "[::1]:8080", false, "http://[::1]:8080", true},
		{"allowed origin", "example.com:8080", false, "https://app.example.org", true},
		{"allowed origin, explicit port", "example.com:8080", false, "https://app.example.org:443", true},
		{"allowed origin, other scheme", "example.com:8080", false, "http://app.example.org", false},
		{"allowed origin with slash", "example.com:8080", false, "http://127.0.0.1:9000", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/config", nil)
			r.Host = tt.host
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := s.originOK(r); got != tt.ok {
				t.Errorf("originOK = %v, want %v", got, tt.ok)
			}
		})
	}
}
