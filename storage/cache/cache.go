// Package cache defines a store of short-lived values shared by requests:
// looked-up DSN keys and projects now, query results and rate-limit
// counters later. Values may disappear at any time; callers must be able
// to recompute them.
package cache

import (
	"context"
	"time"
)

// Cache maps string keys to byte values with a time to live.
type Cache interface {
	// Get returns the value and true, or false when absent or expired.
	// The caller must not modify the returned slice.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores value for ttl (at least a millisecond). The cache keeps
	// its own copy.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes the key; removing a missing key is not an error.
	Delete(ctx context.Context, key string) error
}
