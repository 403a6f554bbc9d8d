//go:build !cairncli

package main

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/storage/redis"
)

// redisLimiter gives ingest the Redis rate limiter every ingest process
// shares.
type redisLimiter struct{ l *redis.Limiter }

var _ ingest.SharedLimiter = redisLimiter{}

// Allow implements ingest.SharedLimiter.
func (r redisLimiter) Allow(ctx context.Context, key string, count int, window time.Duration, n int) (bool, time.Duration, error) {
	d, err := r.l.Allow(ctx, key, redis.Limit{Count: count, Window: window}, n)
	if err != nil {
		return false, 0, err
	}
	return d.Allowed, d.RetryAfter, nil
}

// openRedisLimiter connects to the Redis server at addr for ingest's
// shared rate limits; close releases the connection.
func openRedisLimiter(addr string) (ingest.SharedLimiter, func() error) {
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	return redisLimiter{redis.NewLimiter(rdb, "cairn:ratelimit:")}, rdb.Close
}
