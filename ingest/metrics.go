package ingest

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are ingest's Prometheus collectors. They always exist, so the
// request path never checks for nil; they are exported only when the
// configuration names a Registerer.
type metrics struct {
	requests *prometheus.CounterVec
	accepted *prometheus.CounterVec
	rejected *prometheus.CounterVec
	items    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_ingest_requests_total",
			Help: "Ingest requests by endpoint and HTTP status.",
		}, []string{"endpoint", "code"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_ingest_accepted_total",
			Help: "Requests whose data the sink committed, by endpoint.",
		}, []string{"endpoint"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_ingest_rejected_total",
			Help: "Refused requests by endpoint and reason.",
		}, []string{"endpoint", "reason"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_ingest_envelope_items_total",
			Help: "Envelope items by type and what ingest did with them (accepted, ignored, dropped).",
		}, []string{"type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_ingest_request_duration_seconds",
			Help:    "Time to handle an ingest request, sink included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
	}
	if reg == nil {
		return m
	}
	m.requests = register(reg, m.requests, log)
	m.accepted = register(reg, m.accepted, log)
	m.rejected = register(reg, m.rejected, log)
	m.items = register(reg, m.items, log)
	m.duration = register(reg, m.duration, log)
	return m
}

// register registers c, reusing the collector already registered under
// the same name (two handlers in one process share their series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, log *slog.Logger) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		log.Warn("ingest: registering metrics", "error", err)
	}
	return c
}
