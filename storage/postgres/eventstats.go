package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/storage/events"
)

// tagRows collects the event_tags rows of a batch as parallel arrays, the
// shape unnest reads.
type tagRows struct {
	projects, issues     []int64
	events, keys, values []string
}

func (t *tagRows) add(ev *events.Event) {
	for _, kv := range events.Tags(ev) {
		t.projects = append(t.projects, ev.ProjectID)
		t.events = append(t.events, ev.EventID)
		t.issues = append(t.issues, ev.IssueID)
		t.keys = append(t.keys, kv[0])
		t.values = append(t.values, kv[1])
	}
}

// maxBuckets bounds the histograms, so a tiny interval over a long range
// cannot make a query allocate without limit.
const maxBuckets = 10_000

// emptyBuckets makes the buckets of [from, to) by interval, all zero.
func emptyBuckets(from, to time.Time, interval time.Duration) ([]events.Bucket, error) {
	if interval < time.Microsecond || !to.After(from) {
		return nil, fmt.Errorf("empty range %s–%s by %s", from, to, interval)
	}
	n := (to.Sub(from) + interval - 1) / interval
	if n > maxBuckets {
		return nil, fmt.Errorf("%d intervals, more than %d", n, maxBuckets)
	}
	out := make([]events.Bucket, n)
	for i := range out {
		out[i].Start = from.Add(time.Duration(i) * interval).UTC()
	}
	return out, nil
}

// CountsByInterval implements events.Histogrammer.
func (e *Events) CountsByInterval(ctx context.Context, projectID, issueID int64, from, to time.Time, interval time.Duration) ([]events.Bucket, error) {
	m, err := e.CountsByIssue(ctx, projectID, []int64{issueID}, from, to, interval)
	if err != nil {
		return nil, err
	}
	return m[issueID], nil
}

// CountsByIssue implements events.IssueHistogrammer in one grouped query:
// the events_issue index serves each issue's time range, and only buckets
// with events come back. The bucket number is computed on the offset from
// from, an interval whose epoch is small enough to stay exact even where
// extract returns a double (before PostgreSQL 14).
func (e *Events) CountsByIssue(ctx context.Context, projectID int64, issueIDs []int64, from, to time.Time, interval time.Duration) (map[int64][]events.Bucket, error) {
	from, to = stamp(from), stamp(to)
	empty, err := emptyBuckets(from, to, interval)
	if err != nil {
		return nil, fmt.Errorf("events: counts: %w", err)
	}
	out := make(map[int64][]events.Bucket, len(issueIDs))
	for _, id := range issueIDs {
		out[id] = slices.Clone(empty)
	}
	if len(issueIDs) == 0 {
		return out, nil
	}
	rows, err := e.db.pool.Query(ctx, `SELECT issue_id,
			floor(extract(epoch FROM timestamp - $3::timestamptz) * 1000000 / $5)::bigint AS b,
			count(*), count(DISTINCT NULLIF(user_key, ''))
		FROM events
		WHERE issue_id = ANY($1::bigint[]) AND project_id = $2 AND timestamp >= $3 AND timestamp < $4
		GROUP BY issue_id, b`, issueIDs, projectID, from, to, interval.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("events: counts: %w", err)
	}
	var id, b, n, users int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &b, &n, &users}, func() error {
		if bs := out[id]; b >= 0 && b < int64(len(bs)) {
			bs[b].Events, bs[b].Users = n, users
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("events: counts: %w", err)
	}
	return out, nil
}

// TagCounts implements events.TagCounter: the newest events come from the
// events_issue index, their tags from event_tags' primary key.
func (e *Events) TagCounts(ctx context.Context, projectID, issueID int64, newest int) (int64, []events.TagCount, error) {
	if newest <= 0 {
		newest = 1000
	}
	var total int64
	var out []events.TagCount
	// One snapshot for the count and the tags, so the two agree.
	err := pgx.BeginTxFunc(ctx, e.db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM events WHERE issue_id = $1 AND project_id = $2 LIMIT $3) AS r`,
			issueID, projectID, newest).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH recent AS (
				SELECT event_id FROM events WHERE issue_id = $1 AND project_id = $2
				ORDER BY timestamp DESC, event_id DESC LIMIT $3)
			SELECT t.key, t.value, count(*) AS n FROM recent r JOIN event_tags t ON t.project_id = $2 AND t.event_id = r.event_id
			GROUP BY t.key, t.value ORDER BY t.key, n DESC, t.value`, issueID, projectID, newest)
		if err != nil {
			return err
		}
		var c events.TagCount
		_, err = pgx.ForEachRow(rows, []any{&c.Key, &c.Value, &c.Count}, func() error {
			out = append(out, c)
			return nil
		})
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("events: tag counts: %w", err)
	}
	return total, out, nil
}

// MatchIssues implements events.IssueMatcher. Each condition is one range
// of the covering event_tags_value index (release and environment are
// stored as tags), and the issue sets are intersected rather than the
// conditions joined per event, which would visit every event carrying a
// common tag.
func (e *Events) MatchIssues(ctx context.Context, projectID int64, f events.IssueFilter, limit int) ([]int64, error) {
	conds := slices.Clone(f.Tags)
	if f.Release != "" {
		conds = append(conds, [2]string{"release", f.Release})
	}
	if f.Environment != "" {
		conds = append(conds, [2]string{"environment", f.Environment})
	}
	if len(conds) == 0 {
		return nil, fmt.Errorf("events: match issues: no condition")
	}
	if limit <= 0 {
		limit = 10000
	}
	// INTERSECT removes duplicates itself; a condition alone needs
	// DISTINCT.
	sel := "SELECT issue_id"
	if len(conds) == 1 {
		sel = "SELECT DISTINCT issue_id"
	}
	var q strings.Builder
	args := []any{projectID}
	for i, c := range conds {
		if i > 0 {
			q.WriteString(" INTERSECT ")
		}
		args = append(args, c[0], c[1])
		fmt.Fprintf(&q, `%s FROM event_tags WHERE project_id = $1 AND key = $%d AND value = $%d`, sel, len(args)-1, len(args))
	}
	args = append(args, limit)
	rows, err := e.db.pool.Query(ctx, q.String()+fmt.Sprintf(` LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("events: match issues: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("events: match issues: %w", err)
	}
	return out, nil
}

// DeleteIssueEvents implements events.IssueEventsDeleter in one
// transaction: the tags (found through the events, by the events_issue
// index and event_tags' primary key), the events, then the users of the
// issues that had events in the project. issue_users has no project
// column; an issue id belongs to one project, and only ids with events in
// this project reach that statement.
func (e *Events) DeleteIssueEvents(ctx context.Context, projectID int64, issueIDs []int64) (int64, error) {
	if len(issueIDs) == 0 {
		return 0, nil
	}
	var n int64
	err := e.db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM event_tags t USING events e
			WHERE e.issue_id = ANY($1::bigint[]) AND e.project_id = $2 AND t.project_id = e.project_id AND t.event_id = e.event_id`,
			issueIDs, projectID); err != nil {
			return fmt.Errorf("tags: %w", err)
		}
		rows, err := tx.Query(ctx, `DELETE FROM events WHERE issue_id = ANY($1::bigint[]) AND project_id = $2 RETURNING issue_id`,
			issueIDs, projectID)
		if err != nil {
			return err
		}
		deleted, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		n = int64(len(deleted))
		if n == 0 {
			return nil
		}
		slices.Sort(deleted)
		if _, err := tx.Exec(ctx, `DELETE FROM issue_users WHERE issue_id = ANY($1::bigint[])`, slices.Compact(deleted)); err != nil {
			return fmt.Errorf("users: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("events: delete issue events: %w", err)
	}
	return n, nil
}
