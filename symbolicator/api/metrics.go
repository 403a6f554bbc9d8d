package api

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus series; a nil *metrics records
// nothing, so a server without a Registerer pays nothing for them.
type metrics struct {
	requests *prometheus.CounterVec
	reqDur   *prometheus.HistogramVec
	jobDur   *prometheus.HistogramVec
	running  prometheus.Gauge
	busy     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_symbolicator_api_requests_total",
			Help: "HTTP requests by endpoint and outcome (completed, pending, failed, bad_request, too_large, overloaded, not_found, ...).",
		}, []string{"endpoint", "outcome"}),
		reqDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_symbolicator_api_request_duration_seconds",
			Help:    "Time to answer an HTTP request, including the wait for its job up to the request's timeout.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"endpoint"}),
		jobDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_symbolicator_api_job_duration_seconds",
			Help:    "Time from a job's start to its result, by endpoint and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"endpoint", "outcome"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cairn_symbolicator_api_jobs_running",
			Help: "Requests holding one of the MaxConcurrent slots: accepted and not yet done.",
		}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cairn_symbolicator_api_rejected_total",
			Help: "Requests answered 503 because MaxConcurrent requests were running.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.reqDur, m.jobDur, m.running, m.busy} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) request(endpoint, outcome string, d time.Duration) {
	if m != nil {
		m.requests.WithLabelValues(endpoint, outcome).Inc()
		m.reqDur.WithLabelValues(endpoint).Observe(d.Seconds())
	}
}

func (m *metrics) job(endpoint, outcome string, d time.Duration) {
	if m != nil {
		m.jobDur.WithLabelValues(endpoint, outcome).Observe(d.Seconds())
	}
}

func (m *metrics) addRunning(n float64) {
	if m != nil {
		m.running.Add(n)
	}
}

func (m *metrics) rejected() {
	if m != nil {
		m.busy.Inc()
	}
}
