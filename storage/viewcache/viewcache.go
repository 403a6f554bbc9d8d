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
	"errors"
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

// Wrap returns store with its views cached as o says. A store answering
// neither events.Histogrammer nor events.IssueHistogrammer has nothing to
// cache and is returned as it is. Otherwise the result implements every
// optional interface of the events package, the other ones (tag counts,
// tag search, deleting events) by passing the call on, and tells which
// ones store answers through events.Wrapper, so callers that probe with
// events.Optional see the same store. A cache failure falls back to the
// store.
func Wrap(store events.Store, o Options) events.Store {
	if o.Stats == nil {
		o.Stats = &Stats{}
	}
	h, isH := events.Optional[events.Histogrammer](store)
	ih, isIH := events.Optional[events.IssueHistogrammer](store)
	if !isH && !isIH {
		return store
	}
	return &views{Store: store, hc: o.Histograms, sc: o.Sparklines, ttl: o.TTL, stats: o.Stats, h: h, ih: ih}
}

// views is a store with cached views. h and ih are nil when the store does
// not answer them.
type views struct {
	events.Store
	hc, sc cache.Cache
	ttl    time.Duration
	stats  *Stats
	h      events.Histogrammer
	ih     events.IssueHistogrammer
}

var (
	_ events.Histogrammer       = (*views)(nil)
	_ events.IssueHistogrammer  = (*views)(nil)
	_ events.TagCounter         = (*views)(nil)
	_ events.IssueMatcher       = (*views)(nil)
	_ events.IssueEventsDeleter = (*views)(nil)
	_ events.Wrapper            = (*views)(nil)
)

// Unwrap implements events.Wrapper.
func (v *views) Unwrap() []events.Store { return []events.Store{v.Store} }

// CountsByInterval implements events.Histogrammer.
func (v *views) CountsByInterval(ctx context.Context, projectID, issueID int64, from, to time.Time, interval time.Duration) ([]events.Bucket, error) {
	if v.h == nil {
		return nil, fmt.Errorf("viewcache: histograms: %w", errors.ErrUnsupported)
	}
	return v.counts(ctx, projectID, issueID, from, to, interval)
}

// CountsByIssue implements events.IssueHistogrammer.
func (v *views) CountsByIssue(ctx context.Context, projectID int64, ids []int64, from, to time.Time, interval time.Duration) (map[int64][]events.Bucket, error) {
	if v.ih == nil {
		return nil, fmt.Errorf("viewcache: sparklines: %w", errors.ErrUnsupported)
	}
	return v.byIssue(ctx, projectID, ids, from, to, interval)
}

// TagCounts implements events.TagCounter, uncached: tag counts are read
// once per issue page, not once per list row.
func (v *views) TagCounts(ctx context.Context, projectID, issueID int64, newest int) (int64, []events.TagCount, error) {
	tc, ok := events.Optional[events.TagCounter](v.Store)
	if !ok {
		return 0, nil, fmt.Errorf("viewcache: tag counts: %w", errors.ErrUnsupported)
	}
	return tc.TagCounts(ctx, projectID, issueID, newest)
}

// MatchIssues implements events.IssueMatcher, uncached: searches rarely
// repeat.
func (v *views) MatchIssues(ctx context.Context, projectID int64, f events.IssueFilter, limit int) ([]int64, error) {
	m, ok := events.Optional[events.IssueMatcher](v.Store)
	if !ok {
		return nil, fmt.Errorf("viewcache: match issues: %w", errors.ErrUnsupported)
	}
	return m.MatchIssues(ctx, projectID, f, limit)
}

// DeleteIssueEvents implements events.IssueEventsDeleter. Cached views of
// the deleted issues are left to expire: no page shows a deleted issue.
func (v *views) DeleteIssueEvents(ctx context.Context, projectID int64, issueIDs []int64) (int64, error) {
	d, ok := events.Optional[events.IssueEventsDeleter](v.Store)
	if !ok {
		return 0, fmt.Errorf("viewcache: delete issue events: %w", errors.ErrUnsupported)
	}
	return d.DeleteIssueEvents(ctx, projectID, issueIDs)
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
