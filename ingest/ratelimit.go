package ingest

import (
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
}

type keyLimiter struct {
	limit Limit
	lim   *rate.Limiter
}

func newKeyLimiters() *keyLimiters {
	return &keyLimiters{m: make(map[string]*keyLimiter)}
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
// early without reading the body.
func (l *keyLimiters) peek(k Key, now time.Time) (time.Duration, bool) {
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
func (l *keyLimiters) take(k Key, now time.Time) (time.Duration, bool) {
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
