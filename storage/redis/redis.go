// Package redis is the shared cache of a multi-process deployment on
// Redis (github.com/redis/go-redis/v9): the cache.Cache of query results
// and looked-up keys, and a Limiter whose counters every ingest process
// sees.
//
// Keys are namespaced by a prefix so that several Cairn installations (or
// test runs) can share one Redis database without clearing each other's
// values.
package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cairn-dev/cairn/storage/cache"
)

// Cache is a cache.Cache on Redis. Values expire through Redis's own
// millisecond TTLs (PX), so expiry does not depend on the clocks of the
// processes sharing the cache.
type Cache struct {
	rdb    goredis.UniversalClient
	prefix string
}

var _ cache.Cache = (*Cache)(nil)

// NewCache returns a cache storing its keys under prefix in rdb. The
// caller owns rdb and closes it.
func NewCache(rdb goredis.UniversalClient, prefix string) *Cache {
	return &Cache{rdb: rdb, prefix: prefix}
}

// Get returns the value of key and true, or false when it is absent or
// expired.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := c.rdb.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("redis: get %q: %w", key, err)
	}
	return v, true, nil
}

// Set stores value under key for ttl, rounded up to a millisecond, the
// finest expiry Redis keeps.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ttl = max(ttl, time.Millisecond)
	// go-redis writes the slice to the connection before Set returns, so
	// the caller may reuse value afterwards: Redis holds the copy.
	if err := c.rdb.Set(ctx, c.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("redis: set %q: %w", key, err)
	}
	return nil
}

// Delete removes key; a missing key is not an error.
func (c *Cache) Delete(ctx context.Context, key string) error {
	if err := c.rdb.Del(ctx, c.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis: delete %q: %w", key, err)
	}
	return nil
}
