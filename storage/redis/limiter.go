package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// gcraScript implements the generic cell rate algorithm in one atomic
// step. The key holds the theoretical arrival time (TAT) in microseconds
// of Redis's own clock, so the processes calling it need no synchronized
// clocks and no lock. A request of n cells is allowed when it would not
// push the TAT further than the burst tolerance past now.
//
// KEYS[1]: the counter; ARGV: emission interval (µs), burst tolerance (µs),
// cells requested. Returns {allowed (0/1), retry after (µs), remaining}.
var gcraScript = goredis.NewScript(`
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + n * interval
local allow_at = new_tat - tolerance - interval
if allow_at > now then
  local remaining = math.floor((now - (tat - tolerance - interval)) / interval)
  if remaining < 0 then remaining = 0 end
  return {0, allow_at - now, remaining}
end
local ttl = math.ceil((new_tat - now) / 1000)
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], new_tat, 'PX', ttl)
return {1, 0, math.floor((now + tolerance + interval - new_tat) / interval)}
`)

// Limit is a rate: Count events per Window, all of which may arrive at
// once (the burst equals the count, as a fixed window would allow, but
// without a window edge at which twice the count gets through).
type Limit struct {
	Count  int
	Window time.Duration
}

// Decision is the outcome of one Allow call.
type Decision struct {
	// Allowed is true when the events may be accepted.
	Allowed bool
	// RetryAfter is how long a refused client should wait before the same
	// request would pass; zero when Allowed.
	RetryAfter time.Duration
	// Remaining is how many more single events would pass right now.
	Remaining int
}

// Limiter is a rate limiter whose counters live in Redis, shared by all
// ingest processes. It uses GCRA, which needs one integer per key and
// spreads the allowance evenly instead of resetting at window edges.
type Limiter struct {
	rdb    goredis.UniversalClient
	prefix string
}

// NewLimiter returns a limiter keeping its counters under prefix in rdb.
// The caller owns rdb and closes it.
func NewLimiter(rdb goredis.UniversalClient, prefix string) *Limiter {
	return &Limiter{rdb: rdb, prefix: prefix}
}

// Allow takes n events from key's allowance under limit. A refused request
// takes nothing, so a client that keeps retrying too early is not starved
// forever. A zero or negative limit allows everything, as a DSN key
// without a rate limit does.
func (l *Limiter) Allow(ctx context.Context, key string, limit Limit, n int) (Decision, error) {
	if limit.Count <= 0 || limit.Window <= 0 {
		return Decision{Allowed: true, Remaining: -1}, nil
	}
	if n <= 0 {
		n = 1
	}
	interval := limit.Window.Microseconds() / int64(limit.Count)
	if interval <= 0 {
		interval = 1
	}
	tolerance := interval * int64(limit.Count-1)
	res, err := gcraScript.Run(ctx, l.rdb, []string{l.prefix + key}, interval, tolerance, n).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("redis: rate limit %q: %w", key, err)
	}
	if len(res) != 3 {
		return Decision{}, fmt.Errorf("redis: rate limit %q: script returned %d values", key, len(res))
	}
	return Decision{
		Allowed:    res[0] == 1,
		RetryAfter: time.Duration(res[1]) * time.Microsecond,
		Remaining:  int(res[2]),
	}, nil
}
