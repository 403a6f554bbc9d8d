package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Size limits that match Sentry's defaults (PROTOCOL.md), so that a client
// configured for sentry.io never sees Cairn refuse what Sentry would take.
const (
	DefaultMaxEventSize      = 1 << 20   // 1 MiB: one event, one envelope item other than attachments
	DefaultMaxEnvelopeSize   = 200 << 20 // 200 MiB: one whole decompressed request body
	DefaultMaxAttachmentSize = 100 << 20 // 100 MiB: one attachment
	DefaultMaxMinidumpSize   = 100 << 20 // 100 MiB: one minidump after decompression
)

// Config holds ingest's limits and knobs. The zero value of any field means
// its default, so Config{} behaves like DefaultConfig().
type Config struct {
	// MaxEventSize bounds one event payload (store body, envelope event
	// item, the text fields of a minidump upload) after decompression.
	MaxEventSize int64
	// MaxEnvelopeSize bounds one decompressed request body.
	MaxEnvelopeSize int64
	// MaxAttachmentSize bounds one attachment, and the raw (still
	// compressed) body of an Unreal crash report.
	MaxAttachmentSize int64
	// MaxMinidumpSize bounds one minidump after its own decompression.
	MaxMinidumpSize int64

	// MemoryBudget bounds the request-body bytes all in-flight requests
	// hold at once. Bodies are kept in memory until the Sink commits them,
	// so without a shared budget a burst of large uploads could exhaust the
	// heap; a request that would exceed it gets 503 and the client retries.
	MemoryBudget int64

	// SinkTimeout bounds one Sink.Accept call. The call is detached from
	// the client's connection so that an event is committed whole even if
	// the client hangs up mid-request.
	SinkTimeout time.Duration

	// UnrealLogBreadcrumbs is how many trailing lines of an Unreal crash
	// report's log become breadcrumbs.
	UnrealLogBreadcrumbs int

	// TrustForwardedFor takes the client address from X-Forwarded-For;
	// enable it only behind a proxy that sets the header itself.
	TrustForwardedFor bool

	// Metrics, when set, receives ingest's Prometheus collectors
	// (cairn_ingest_*).
	Metrics prometheus.Registerer

	// SharedLimiter, when set, keeps the DSN keys' rate-limit counters
	// where every ingest process sees them (Redis), so that N processes
	// together allow a key's limit rather than N times it. Without it, or
	// while it fails, each process limits on its own.
	SharedLimiter SharedLimiter

	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// DefaultConfig returns the limits of PROTOCOL.md and the defaults of the
// other knobs.
func DefaultConfig() Config {
	return Config{
		MaxEventSize:         DefaultMaxEventSize,
		MaxEnvelopeSize:      DefaultMaxEnvelopeSize,
		MaxAttachmentSize:    DefaultMaxAttachmentSize,
		MaxMinidumpSize:      DefaultMaxMinidumpSize,
		MemoryBudget:         2 << 30,
		SinkTimeout:          30 * time.Second,
		UnrealLogBreadcrumbs: 100,
		Now:                  time.Now,
	}
}

// withDefaults fills every zero field from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxEventSize <= 0 {
		c.MaxEventSize = d.MaxEventSize
	}
	if c.MaxEnvelopeSize <= 0 {
		c.MaxEnvelopeSize = d.MaxEnvelopeSize
	}
	if c.MaxAttachmentSize <= 0 {
		c.MaxAttachmentSize = d.MaxAttachmentSize
	}
	if c.MaxMinidumpSize <= 0 {
		c.MaxMinidumpSize = d.MaxMinidumpSize
	}
	if c.MemoryBudget <= 0 {
		c.MemoryBudget = d.MemoryBudget
	}
	if c.SinkTimeout <= 0 {
		c.SinkTimeout = d.SinkTimeout
	}
	if c.UnrealLogBreadcrumbs <= 0 {
		c.UnrealLogBreadcrumbs = d.UnrealLogBreadcrumbs
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}
