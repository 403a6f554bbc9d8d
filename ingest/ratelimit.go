package ingest

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyLimiters holds one token bucket per DSN key. A bucket is rebuilt when
// the key's Limit changes, so an operator's new limit applies at once
// without restarting the server. Only keys the KeyStore knows reach here,
// so the map is bounded by the number of keys.
type keyLimiters struct {
	mu sync.Mutex
	m  map[string]*keyLimiter
	// shared, when set, is asked first; the local buckets answer while it
	// fails.
	shared SharedLimiter
	log    *slog.Logger
}

// SharedLimiter is a rate limiter whose counters all ingest processes
// share.
type SharedLimiter interface {
	// Allow takes n events of key's allowance of count per window, or
	// reports how long until the request would pass; a refused request
	// takes nothing.
	Allow(ctx context.Context, key string, count int, window time.Duration, n int) (ok bool, retryAfter time.Duration, err error)
}

type keyLimiter struct {
	limit Limit
	lim   *rate.Limiter
}

func newKeyLimiters(shared SharedLimiter, log *slog.Logger) *keyLimiters {
	return &keyLimiters{m: make(map[string]*keyLimiter), shared: shared, log: log}
}

// limiter returns the bucket of k, or nil when k is unlimited.
func (l *keyLimiters) limiter(k Key) *rate.Limiter {
	if k.RateLimit.Count <= 0 || k.RateLimit.Window <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	kl := l.m[k.Public]
	if kl == nil || kl.limit != k.RateLimit {
		every := float64(k.RateLimit.Count) / k.RateLimit.Window.Seconds()
		kl = &keyLimiter{limit: k.RateLimit, lim: rate.NewLimiter(rate.Limit(every), k.RateLimit.Count)}
		l.m[k.Public] = kl
	}
	return kl.lim
}

// peek reports whether k could send one event now, without spending a
// token, and otherwise how long until it can. Requests whose body must be
// read before ingest knows whether they carry an event use it to refuse
// early without reading the body. With a shared limiter it lets the
// request through: take decides once the body is read.
func (l *keyLimiters) peek(k Key, now time.Time) (time.Duration, bool) {
	if l.shared != nil {
		return 0, true
	}
	lim := l.limiter(k)
	if lim == nil {
		return 0, true
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0, true
	}
	return time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second)), false
}

// take spends one token of k, or reports how long until one is available.
func (l *keyLimiters) take(ctx context.Context, k Key, now time.Time) (time.Duration, bool) {
	if l.shared != nil && k.RateLimit.Count > 0 && k.RateLimit.Window > 0 {
		ok, wait, err := l.shared.Allow(ctx, k.Public, k.RateLimit.Count, k.RateLimit.Window, 1)
		if err == nil {
			return wait, ok
		}
		l.log.Warn("shared rate limiter failed; limiting in this process", "err", err)
	}
	lim := l.limiter(k)
	if lim == nil {
		return 0, true
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return k.RateLimit.Window, false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// retrySeconds rounds a wait up to whole seconds, at least one, as
// Retry-After and X-Sentry-Rate-Limits carry seconds.
func retrySeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
