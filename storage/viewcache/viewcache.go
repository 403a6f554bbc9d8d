// Package viewcache keeps the web interface's computed views of the event
// store — issue histograms and the issue list's sparklines — in shared
// caches (Redis and Memcached in the production topology), so that every web process
// reuses what one of them computed, and the event store answers each view
// at most once per TTL. The views cover whole hours that have ended, plus
// the current one, so a short TTL bounds how stale the newest bar can be.
package viewcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cairn-dev/cairn/storage/cache"
	"github.com/cairn-dev/cairn/storage/events"
)

// Stats counts cache hits and misses, for the hit-ratio metric.
type Stats struct{ Hits, Misses atomic.Int64 }

// Options say where each view is cached; a nil cache leaves that view
// uncached.
type Options struct {
	// Histograms caches an issue's event histogram: the analytics store's
	// query results (Redis in the production topology).
	Histograms cache.Cache
	// Sparklines caches the issue list's per-issue counts (Memcached in
	// the production topology).
	Sparklines cache.Cache
	TTL        time.Duration
	Stats      *Stats
}

// Wrap returns store with its views cached as o says. The result
// implements exactly the optional view interfaces store implements
// (events.Histogrammer, events.IssueHistogrammer), so callers that probe
// for them see the same store. A cache failure falls back to the store.
func Wrap(store events.Store, o Options) events.Store {
	if o.Stats == nil {
		o.Stats = &Stats{}
	}
	v := &views{Store: store, hc: o.Histograms, sc: o.Sparklines, ttl: o.TTL, stats: o.Stats}
	h, isH := store.(events.Histogrammer)
	ih, isIH := store.(events.IssueHistogrammer)
	v.h, v.ih = h, ih
	switch {
	case isH && isIH:
		return &both{v}
	case isH:
		return &histOnly{v}
	case isIH:
		return &issueHistOnly{v}
	}
	return store
}

type views struct {
	events.Store
	hc, sc cache.Cache
	ttl    time.Duration
	stats  *Stats
	h      events.Histogrammer
	ih     events.IssueHistogrammer
}

type both struct{ *views }
type histOnly struct{ *views }
type issueHistOnly struct{ *views }

var (
	_ events.Histogrammer      = (*both)(nil)
	_ events.IssueHistogrammer = (*both)(nil)
	_ events.Histogrammer      = (*histOnly)(nil)
	_ events.IssueHistogrammer = (*issueHistOnly)(nil)
)

// CountsByInterval implements events.Histogrammer.
func (b *both) CountsByInterval(ctx context.Context, projectID, issueID int64, from, to time.Time, interval time.Duration) ([]events.Bucket, error) {
	return b.counts(ctx, projectID, issueID, from, to, interval)
}

// CountsByIssue implements events.IssueHistogrammer.
func (b *both) CountsByIssue(ctx context.Context, projectID int64, ids []int64, from, to time.Time, interval time.Duration) (map[int64][]events.Bucket, error) {
	return b.byIssue(ctx, projectID, ids, from, to, interval)
}

// CountsByInterval implements events.Histogrammer.
func (h *histOnly) CountsByInterval(ctx context.Context, projectID, issueID int64, from, to time.Time, interval time.Duration) ([]events.Bucket, error) {
	return h.counts(ctx, projectID, issueID, from, to, interval)
}

// CountsByIssue implements events.IssueHistogrammer.
func (h *issueHistOnly) CountsByIssue(ctx context.Context, projectID int64, ids []int64, from, to time.Time, interval time.Duration) (map[int64][]events.Bucket, error) {
	return h.byIssue(ctx, projectID, ids, from, to, interval)
}

func (v *views) counts(ctx context.Context, projectID, issueID int64, from, to time.Time, interval time.Duration) ([]events.Bucket, error) {
	key := fmt.Sprintf("cairn:view:hist:%d:%d:%d:%d:%d", projectID, issueID, from.UnixNano(), to.UnixNano(), interval)
	var out []events.Bucket
	if v.get(ctx, v.hc, key, &out) {
		return out, nil
	}
	out, err := v.h.CountsByInterval(ctx, projectID, issueID, from, to, interval)
	if err == nil {
		v.put(ctx, v.hc, key, out)
	}
	return out, err
}

func (v *views) byIssue(ctx context.Context, projectID int64, ids []int64, from, to time.Time, interval time.Duration) (map[int64][]events.Bucket, error) {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	var sb strings.Builder
	for _, id := range sorted {
		sb.WriteString(strconv.FormatInt(id, 10))
		sb.WriteByte(',')
	}
	sum := sha256.Sum256([]byte(sb.String()))
	key := fmt.Sprintf("cairn:view:spark:%d:%s:%d:%d:%d", projectID, hex.EncodeToString(sum[:12]), from.UnixNano(), to.UnixNano(), interval)
	var out map[int64][]events.Bucket
	if v.get(ctx, v.sc, key, &out) {
		return out, nil
	}
	out, err := v.ih.CountsByIssue(ctx, projectID, ids, from, to, interval)
	if err == nil {
		v.put(ctx, v.sc, key, out)
	}
	return out, err
}

func (v *views) get(ctx context.Context, c cache.Cache, key string, dst any) bool {
	if c == nil {
		return false
	}
	b, ok, err := c.Get(ctx, key)
	if err != nil || !ok || json.Unmarshal(b, dst) != nil {
		v.stats.Misses.Add(1)
		return false
	}
	v.stats.Hits.Add(1)
	return true
}

func (v *views) put(ctx context.Context, c cache.Cache, key string, val any) {
	if c == nil {
		return
	}
	if b, err := json.Marshal(val); err == nil {
		_ = c.Set(ctx, key, b, v.ttl)
	}
}
