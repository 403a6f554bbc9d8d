package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
)

// The issue pages' queries read events_by_issue, whose sort key starts with
// the issue, and count uniqExact(event_id) rather than rows: within one
// project that is the number of distinct events, so a duplicate not yet
// merged away is not counted twice.

// maxBuckets bounds the histogram CountsByInterval fills, so a tiny interval
// over a long range cannot make it allocate without limit.
const maxBuckets = 10_000

// Bucket is the count of an interval; the store's histograms use the
// events package's type so the web interface reads any backend alike.
type Bucket = events.Bucket

// CountsByInterval returns the issue's events and distinct users per
// interval over [from, to), one bucket per interval starting at from, empty
// ones included. Intervals shorter than a microsecond, or more than 10,000
// buckets, are refused.
func (s *Store) CountsByInterval(ctx context.Context, projectID, issueID int64, from, to time.Time,
	interval time.Duration) ([]Bucket, error) {
	step := interval.Microseconds()
	if step <= 0 {
		return nil, fmt.Errorf("clickhouse: counts: interval %v below one microsecond", interval)
	}
	lo, hi := micros(from), micros(to)
	if hi <= lo {
		return nil, nil
	}
	n := (hi - lo + step - 1) / step
	if n > maxBuckets {
		return nil, fmt.Errorf("clickhouse: counts: %d buckets, more than %d", n, maxBuckets)
	}
	out := make([]Bucket, n)
	for i := range out {
		out[i].Start = fromMicros(lo + int64(i)*step)
	}
	rows, err := s.conn.Query(ctx, `SELECT intDiv(timestamp - ?, ?) AS b, uniqExact(event_id),
			uniqExactIf(user_key, user_key != '')
		FROM `+s.db+`.events_by_issue
		WHERE issue_id = ? AND project_id = ? AND timestamp >= ? AND timestamp < ?
		GROUP BY b`, lo, step, issueID, projectID, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b int64
		var evs, users uint64
		if err := rows.Scan(&b, &evs, &users); err != nil {
			return nil, fmt.Errorf("clickhouse: counts: %w", err)
		}
		if b >= 0 && b < n {
			out[b].Events, out[b].Users = int64(evs), int64(users)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: counts: %w", err)
	}
	return out, nil
}

// FacetValue is one value of a facet and how many of the issue's events
// have it.
type FacetValue struct {
	Value string
	Count int64
}

// Facet is the distribution of one attribute over an issue's events: its
// most frequent values, most frequent first (ties by value).
type Facet struct {
	Key    string
	Values []FacetValue
}

// builtinFacets are the event columns shown as facets, in display order,
// before the tags.
var builtinFacets = []string{"level", "release", "environment", "platform"}

// TagFacets returns the top limit values (10 when limit <= 0) of level,
// release, environment and platform, then of each tag key of the issue's
// events in key order. Empty values are not counted. A tag that repeats a
// built-in key (Sentry events often tag "level") merges with it, each event
// counted once.
func (s *Store) TagFacets(ctx context.Context, projectID, issueID int64, limit int) ([]Facet, error) {
	if limit <= 0 {
		limit = 10
	}
	rows, err := s.conn.Query(ctx, `SELECT k, v, uniqExact(event_id) AS c
		FROM `+s.db+`.events_by_issue
		ARRAY JOIN
			arrayConcat(['level', 'release', 'environment', 'platform'], tags.key) AS k,
			arrayConcat([level, release, environment, platform], tags.value) AS v
		WHERE issue_id = ? AND project_id = ? AND v != ''
		GROUP BY k, v
		ORDER BY k, c DESC, v
		LIMIT ? BY k`, issueID, projectID, limit)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: facets: %w", err)
	}
	defer rows.Close()
	var out []Facet
	for rows.Next() {
		var k, v string
		var c uint64
		if err := rows.Scan(&k, &v, &c); err != nil {
			return nil, fmt.Errorf("clickhouse: facets: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Key != k {
			out = append(out, Facet{Key: k})
		}
		f := &out[len(out)-1]
		f.Values = append(f.Values, FacetValue{Value: v, Count: int64(c)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: facets: %w", err)
	}
	rank := func(k string) int {
		if i := slices.Index(builtinFacets, k); i >= 0 {
			return i
		}
		return len(builtinFacets)
	}
	// Rows arrive sorted by key; a stable sort by rank moves the built-ins
	// first and keeps the tags in key order.
	slices.SortStableFunc(out, func(a, b Facet) int { return rank(a.Key) - rank(b.Key) })
	return out, nil
}

// IssueEventCount returns how many events of the project the issue has.
func (s *Store) IssueEventCount(ctx context.Context, projectID, issueID int64) (int64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, `SELECT uniqExact(event_id) FROM `+s.db+`.events_by_issue
		WHERE issue_id = ? AND project_id = ?`, issueID, projectID).Scan(&n); err != nil {
		return 0, fmt.Errorf("clickhouse: count: %w", err)
	}
	return int64(n), nil
}
