package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"golang.org/x/sync/errgroup"

	"github.com/cairn-dev/cairn/storage/events"
)

// The issue pages' queries read events_by_issue, whose sort key starts with
// the issue, and count uniqExact(event_id) rather than rows: within one
// project that is the number of distinct events, so a duplicate not yet
// merged away is not counted twice. Histograms in whole hours read the
// aggregates instead, which hold the same guarantee (countsAggregated).

// maxBuckets bounds the histogram CountsByInterval fills, so a tiny interval
// over a long range cannot make it allocate without limit.
const maxBuckets = 10_000

// Bucket is the count of an interval; the store's histograms use the
// events package's type so the web interface reads any backend alike.
type Bucket = events.Bucket

// CountsByInterval returns the issue's events and distinct users per
// interval over [from, to), one bucket per interval starting at from, empty
// ones included. Empty ranges, intervals shorter than a microsecond, or
// more than 10,000 buckets, are refused, as every backend refuses them.
//
// When the interval is a whole number of hours and from and to fall on
// hours, the counts come from the pre-aggregated issue_minutes and
// issue_hours (see countsAggregated); otherwise from the raw rows. Event
// counts are exact either way. User counts from the aggregates are
// ClickHouse's uniq: exact up to collisions of 32-bit hashes (expected
// shortfall n²/2³³: 0.01 users at 10,000, 0.5 at 65,536) while a bucket has at
// most 65,536 distinct users, and above that an estimate from a sample of
// 32,768 to 65,536 hashes, within about 2% (a relative standard error
// under 0.6%), as Sentry's own user counts are. The raw path counts users
// exactly.
func (s *Store) CountsByInterval(ctx context.Context, projectID, issueID int64, from, to time.Time,
	interval time.Duration) ([]Bucket, error) {
	m, err := s.counts(ctx, projectID, []int64{issueID}, from, to, interval)
	if err != nil {
		return nil, err
	}
	return m[issueID], nil
}

// CountsByIssue implements events.IssueHistogrammer: what CountsByInterval
// returns for each issue, counted for all of them in the same queries.
func (s *Store) CountsByIssue(ctx context.Context, projectID int64, issueIDs []int64, from, to time.Time,
	interval time.Duration) (map[int64][]Bucket, error) {
	return s.counts(ctx, projectID, issueIDs, from, to, interval)
}

// counts checks the range and fills one histogram per issue, from the
// aggregates when the buckets are whole hours, else from the raw rows.
func (s *Store) counts(ctx context.Context, projectID int64, issueIDs []int64, from, to time.Time,
	interval time.Duration) (map[int64][]Bucket, error) {
	step := interval.Microseconds()
	if step <= 0 {
		return nil, fmt.Errorf("clickhouse: counts: interval %v below one microsecond", interval)
	}
	lo, hi := micros(from), micros(to)
	if hi <= lo {
		return nil, fmt.Errorf("clickhouse: counts: empty range %v–%v", from, to)
	}
	n := (hi - lo + step - 1) / step
	if n > maxBuckets {
		return nil, fmt.Errorf("clickhouse: counts: %d buckets, more than %d", n, maxBuckets)
	}
	out := make(map[int64][]Bucket, len(issueIDs))
	for _, id := range issueIDs {
		bs := make([]Bucket, n)
		for i := range bs {
			bs[i].Start = fromMicros(lo + int64(i)*step)
		}
		out[id] = bs
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]int64, 0, len(out))
	for id := range out {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	count := s.countsRaw
	if aggregable(lo, hi, step) {
		count = s.countsAggregated
	}
	if err := count(ctx, out, projectID, intList(ids), lo, hi, step); err != nil {
		return nil, fmt.Errorf("clickhouse: counts: %w", err)
	}
	return out, nil
}

// aggregable reports whether every bucket of [lo, hi) by step is made of
// whole hours, the granularity of issue_hours.
func aggregable(lo, hi, step int64) bool {
	return step%hourMicros == 0 && lo == floorDiv(lo, hourMicros)*hourMicros &&
		hi == floorDiv(hi, hourMicros)*hourMicros
}

// bucket returns the bucket b of the issue's histogram, nil when out has
// no such issue or bucket.
func bucket(out map[int64][]Bucket, issueID, b int64) *Bucket {
	bs := out[issueID]
	if b < 0 || b >= int64(len(bs)) {
		return nil
	}
	return &bs[b]
}

// countsRaw fills out from events_by_issue; ids is the SQL list of out's
// issues.
func (s *Store) countsRaw(ctx context.Context, out map[int64][]Bucket, projectID int64, ids string, lo, hi, step int64) error {
	rows, err := s.conn.Query(ctx, `SELECT issue_id, intDiv(timestamp - ?, ?) AS b, uniqExact(event_id),
			uniqExactIf(user_key, user_key != '')
		FROM `+s.db+`.events_by_issue
		WHERE issue_id IN (`+ids+`) AND project_id = ? AND timestamp >= ? AND timestamp < ?
		GROUP BY issue_id, b`, lo, step, projectID, lo, hi)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, b int64
		var evs, users uint64
		if err := rows.Scan(&id, &b, &evs, &users); err != nil {
			return err
		}
		if bk := bucket(out, id, b); bk != nil {
			bk.Events, bk.Users = int64(evs), int64(users)
		}
	}
	return rows.Err()
}

// uniqExactBelow is the largest count for which uniq keeps every hash
// (65,536), so that equal uniq and row counts prove a minute distinct.
const uniqExactBelow = 1 << 16

// countsAggregated fills out, whose buckets are whole hours, from
// issue_minutes and issue_hours; its two queries run at once, one per core.
//
// Rows not yet merged away make a minute's row count exceed its distinct
// events, and then the uniq of its event ids falls below the row count too:
// a repeated id adds no hash. So a minute whose two counts agree (and stay
// below the size at which uniq starts sampling) has exactly that many
// events, and only the others, rare, are counted from the raw rows. A hash
// collision can only make a minute disagree, never agree wrongly.
func (s *Store) countsAggregated(ctx context.Context, out map[int64][]Bucket, projectID int64, ids string, lo, hi, step int64) error {
	// Splitting a day's 1440 minute rows across threads needs a lower
	// threshold than the default, tuned for tables of raw rows.
	qctx := ch.Context(ctx, ch.WithSettings(ch.Settings{"merge_tree_min_rows_for_concurrent_read": 1}))
	g, gctx := errgroup.WithContext(qctx)
	type userCount struct {
		id, b int64
		n     uint64
	}
	var users []userCount
	g.Go(func() error {
		rows, err := s.conn.Query(gctx, `SELECT issue_id, intDiv(hour - ?, ?) AS b, uniqIfMerge(users)
			FROM `+s.db+`.issue_hours
			WHERE issue_id IN (`+ids+`) AND project_id = ? AND hour >= ? AND hour < ?
			GROUP BY issue_id, b`, lo, step, projectID, lo, hi)
		if err != nil {
			return fmt.Errorf("users: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var u userCount
			if err := rows.Scan(&u.id, &u.b, &u.n); err != nil {
				return fmt.Errorf("users: %w", err)
			}
			users = append(users, u)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("users: %w", err)
		}
		return nil
	})
	// The event counts are written into out by this goroutine alone; the
	// users are added after both are done.
	suspect := map[int64][]int64{}
	g.Go(func() error {
		rows, err := s.conn.Query(gctx, `SELECT issue_id, intDiv(minute - ?, ?) AS b,
				sumIf(c, c = u AND c < ?), groupArrayIf(minute, c != u OR c >= ?)
			FROM (
				SELECT issue_id, minute, countMerge(row_count) AS c, uniqMerge(event_ids) AS u
				FROM `+s.db+`.issue_minutes
				WHERE issue_id IN (`+ids+`) AND project_id = ? AND minute >= ? AND minute < ?
				GROUP BY issue_id, minute
			)
			GROUP BY issue_id, b`, lo, step, uniqExactBelow, uniqExactBelow, projectID, lo, hi)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, b int64
			var c uint64
			var minutes []int64
			if err := rows.Scan(&id, &b, &c, &minutes); err != nil {
				return fmt.Errorf("events: %w", err)
			}
			if bk := bucket(out, id, b); bk != nil {
				bk.Events = int64(c)
			}
			if len(minutes) > 0 {
				suspect[id] = append(suspect[id], minutes...)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("events: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	for _, u := range users {
		if bk := bucket(out, u.id, u.b); bk != nil {
			bk.Users = int64(u.n)
		}
	}
	for id, minutes := range suspect {
		if err := s.addMinuteEvents(ctx, out[id], projectID, id, lo, step, minutes); err != nil {
			return err
		}
	}
	return nil
}

// addMinuteEvents adds to out the distinct events of the given minutes,
// counted from the raw rows.
func (s *Store) addMinuteEvents(ctx context.Context, out []Bucket, projectID, issueID, lo, step int64,
	minutes []int64) error {
	slices.Sort(minutes)
	t, err := ext.NewTable("minutes", ext.Column("minute", "Int64"))
	if err != nil {
		return fmt.Errorf("suspect minutes: %w", err)
	}
	for _, m := range minutes {
		if err := t.Append(m); err != nil {
			return fmt.Errorf("suspect minutes: %w", err)
		}
	}
	// The timestamp range lets the primary key skip the minutes between.
	rows, err := s.conn.Query(ch.Context(ctx, ch.WithExternalTable(t)), `SELECT intDiv(timestamp - ?, ?) AS b,
			uniqExact(event_id)
		FROM `+s.db+`.events_by_issue
		WHERE issue_id = ? AND project_id = ? AND timestamp >= ? AND timestamp < ?
			AND `+minuteExpr+` IN (SELECT minute FROM minutes)
		GROUP BY b`, lo, step, issueID, projectID, minutes[0], minutes[len(minutes)-1]+minuteMicros)
	if err != nil {
		return fmt.Errorf("suspect minutes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b int64
		var c uint64
		if err := rows.Scan(&b, &c); err != nil {
			return fmt.Errorf("suspect minutes: %w", err)
		}
		if b >= 0 && b < int64(len(out)) {
			out[b].Events += int64(c)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("suspect minutes: %w", err)
	}
	return nil
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
