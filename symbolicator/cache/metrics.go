package cache

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the cache's Prometheus series. One Metrics serves every
// cache; series are labelled by kind. A nil *Metrics records nothing.
type Metrics struct {
	requests     *prometheus.CounterVec
	deduplicated *prometheus.CounterVec
	fills        *prometheus.HistogramVec
	evictions    prometheus.Counter
	bytes        prometheus.Gauge
}

// NewMetrics creates the series and registers them with reg (the registry
// served on /metrics).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_cache_requests_total",
			Help: "Cache lookups by kind and result (hit, miss, negative_hit, expired).",
		}, []string{"kind", "result"}),
		deduplicated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_cache_deduplicated_total",
			Help: "Lookups that shared a concurrent fill instead of starting one.",
		}, []string{"kind"}),
		fills: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_cache_fill_seconds",
			Help:    "Time spent computing or downloading cache entries.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"kind"}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cairn_cache_evictions_total",
			Help: "Entries removed to stay under the size limit.",
		}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cairn_cache_size_bytes",
			Help: "Bytes of cached data on disk.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.deduplicated, m.fills, m.evictions, m.bytes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) request(kind, result string) {
	if m != nil {
		m.requests.WithLabelValues(kind, result).Inc()
	}
}

func (m *Metrics) deduped(kind string) {
	if m != nil {
		m.deduplicated.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) filled(kind string, d time.Duration) {
	if m != nil {
		m.fills.WithLabelValues(kind).Observe(d.Seconds())
	}
}

func (m *Metrics) evicted() {
	if m != nil {
		m.evictions.Inc()
	}
}

func (m *Metrics) setBytes(n int64) {
	if m != nil {
		m.bytes.Set(float64(n))
	}
}
