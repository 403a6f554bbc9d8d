// Package ingest speaks the Sentry wire protocol: DSN authentication,
// envelopes, store requests, minidump uploads, size and rate limits.
package ingest
