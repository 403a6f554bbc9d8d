// Package cache downloads debug files once and keeps derived caches,
// deduplicating concurrent work, caching misses and bounding its size.
//
// Entries live under <dir>/<kind>/v<version>/, keyed by a hash of source and
// id, each with a JSON sidecar; data and sidecar are renamed into place, so
// readers and other processes never see partial files. A fill that reports
// ErrMissing is remembered for an hour, any other failure for five minutes;
// derived caches (symcache, cficache) return Follow(source entry) to expire
// together with the download they come from. Concurrent Gets of one key
// share a single fill (singleflight). Past Config.MaxBytes the least
// recently used entries are evicted; Cleanup (at New and from Run) removes
// expired, orphaned and temporary files. Metrics exports the
// cairn_cache_* series for /metrics.
package cache
