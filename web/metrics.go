package web

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/livetsm/livetsm/onlinetsm"
)

// latencyBuckets cover 1 ms to about 4 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 1.5, 21)

// metrics are a Server's Prometheus metrics, in a registry of its own (no
// global state: two servers in one process keep separate counts).
type metrics struct {
	reg       *prometheus.Registry
	frames    prometheus.Counter
	dropped   prometheus.Counter
	refusals  prometheus.Counter
	batchSize prometheus.Histogram
	batchWait prometheus.Histogram
	inference prometheus.Histogram
	endToEnd  prometheus.Histogram
}

// newMetrics registers the server's metrics; streams and bytes report the
// live stream count and the memory their state holds.
func newMetrics(maxBatch int, streams, maxStreams, bytes func() int) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		frames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "livetsm_frames_total", Help: "Frames run through the model, all streams.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "livetsm_dropped_frames_total", Help: "Frames due for the model but replaced by a newer one because inference was behind.",
		}),
		refusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "livetsm_stream_refusals_total", Help: "New streams refused because the server was at its stream limit.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "livetsm_batch_size", Help: "Streams stepped together in one batch.",
			Buckets: prometheus.LinearBuckets(1, 1, max(maxBatch, 1)),
		}),
		batchWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "livetsm_batch_wait_seconds", Help: "Time a batch's first frame waited for others before inference.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 12),
		}),
		inference: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "livetsm_inference_seconds", Help: "Time one batch took in the model.", Buckets: latencyBuckets,
		}),
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "livetsm_end_to_end_seconds", Help: "Time from a frame's capture to its prediction.", Buckets: latencyBuckets,
		}),
	}
	m.reg.MustRegister(m.frames, m.dropped, m.refusals, m.batchSize, m.batchWait, m.inference, m.endToEnd,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "livetsm_streams", Help: "Streams (sessions) held."},
			func() float64 { return float64(streams()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "livetsm_streams_max", Help: "The stream limit."},
			func() float64 { return float64(maxStreams()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "livetsm_stream_state_bytes", Help: "Memory held by the streams' caches and buffers."},
			func() float64 { return float64(bytes()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// onBatch records one batch of the Batcher.
func (m *metrics) onBatch(b onlinetsm.BatchInfo) {
	m.batchSize.Observe(float64(b.Size))
	m.batchWait.Observe(b.Wait.Seconds())
	m.inference.Observe(b.Inference.Seconds())
}

// onPrediction records one frame's prediction and the frames dropped
// since the stream's previous one.
func (m *metrics) onPrediction(latency time.Duration, dropped int64) {
	m.frames.Inc()
	m.endToEnd.Observe(latency.Seconds())
	if dropped > 0 {
		m.dropped.Add(float64(dropped))
	}
}

// handler serves the metrics in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry returns the server's Prometheus registry (to add collectors or
// gather the metrics in tests).
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// healthResponse is the body of GET /healthz.
type healthResponse struct {
	Status  string `json:"status"`
	Streams int    `json:"streams"`
	Max     int    `json:"max"`
	// Model names the model, for requests with the token only.
	Model string `json:"model,omitempty"`
}

// handleHealth answers 200 with the stream count and the limit while the
// server runs, and 503 once it is closing. It needs no token, for load
// balancers; the model's name is told only to requests that carry it.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	h := healthResponse{Status: "ok", Streams: s.store.Len(), Max: s.opts.MaxSessions}
	if s.tokenOK(r) {
		h.Model = s.opts.ModelName
	}
	status := http.StatusOK
	if closed {
		h.Status, status = "closing", http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}
