package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// get fetches path with an optional bearer token and returns the status and
// body.
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue returns the value of a counter, gauge or histogram count.
func metricValue(t *testing.T, s *Server, name string) float64 {
	t.Helper()
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestHealthzAndMetrics checks /healthz (open, naming the model only to a
// request with the token) and /metrics (behind the token), and the metric
// names.
func TestHealthzAndMetrics(t *testing.T) {
	const token = "sekrit-token"
	_, hs := newTestServer(t, Options{Token: token, MaxSessions: 3, ModelName: "tiny"})
	status, body := get(t, hs.URL+"/healthz", "")
	if status != http.StatusOK {
		t.Fatalf("/healthz: %d %s", status, body)
	}
	var h healthResponse
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if h != (healthResponse{Status: "ok", Streams: 0, Max: 3}) {
		t.Errorf("/healthz without the token: %+v", h)
	}
	_, body = get(t, hs.URL+"/healthz", token)
	h = healthResponse{}
	if err := json.Unmarshal([]byte(body), &h); err != nil || h != (healthResponse{Status: "ok", Streams: 0, Max: 3, Model: "tiny"}) {
		t.Errorf("/healthz with the token: %+v %v", h, err)
	}
	for _, tc := range []struct {
		token  string
		status int
	}{{"", http.StatusUnauthorized}, {"wrong-token", http.StatusUnauthorized}, {token, http.StatusOK}} {
		status, body := get(t, hs.URL+"/metrics", tc.token)
		if status != tc.status {
			t.Errorf("/metrics with token %q: %d, want %d", tc.token, status, tc.status)
			continue
		}
		if status != http.StatusOK {
			continue
		}
		for _, name := range []string{"livetsm_streams 0", "livetsm_streams_max 3", "livetsm_frames_total 0",
			"livetsm_dropped_frames_total 0", "livetsm_stream_refusals_total 0", "livetsm_batch_size_bucket",
			"livetsm_inference_seconds_bucket", "livetsm_end_to_end_seconds_bucket", "livetsm_stream_state_bytes",
			"go_goroutines", "process_resident_memory_bytes"} {
			if !strings.Contains(body, name) {
				t.Errorf("/metrics lacks %q", name)
			}
		}
	}
}

// TestStreamLimitRefusal checks that a stream beyond the limit is refused
// with a clear JSON error (shown by the page), counted, and that the
// streams already open are unaffected.
func TestStreamLimitRefusal(t *testing.T) {
	s, hs := newTestServer(t, Options{MaxSessions: 1})
	c1 := newPionClient(t)
	id := c1.connect(t, hs.URL, nil)
	c2 := newPionClient(t)
	status, e := post(t, hs.URL+"/api/offer", "application/json", offerBody("offer", c2.offer(t)), nil)
	if status != http.StatusServiceUnavailable || e.Code != "busy" ||
		!strings.Contains(e.Error, "stream limit (1 streams)") {
		t.Errorf("second stream: %d %+v", status, e)
	}
	if got := metricValue(t, s, "livetsm_stream_refusals_total"); got != 1 {
		t.Errorf("refusals: %v, want 1", got)
	}
	if got := metricValue(t, s, "livetsm_streams"); got != 1 {
		t.Errorf("streams gauge: %v, want 1", got)
	}
	if s.lookup(id) == nil || s.store.Len() != 1 || s.store.Bytes() <= 0 {
		t.Errorf("the first stream was affected: session %v, store %d streams, %d bytes",
			s.lookup(id) != nil, s.store.Len(), s.store.Bytes())
	}
	// Once the first stream ends, a new one is accepted.
	s.lookup(id).close("test")
	waitFor(t, 5*time.Second, "the first stream's slot to be freed", func() bool { return s.store.Len() == 0 })
	c3 := newPionClient(t)
	c3.connect(t, hs.URL, nil)
}
