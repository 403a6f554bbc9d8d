package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
)

// buckets makes the empty buckets of [from, to) and the index of a
// microsecond timestamp among them.
func buckets(from, to time.Time, interval time.Duration) ([]events.Bucket, error) {
	if interval <= 0 || !to.After(from) {
		return nil, fmt.Errorf("empty range %s–%s by %s", from, to, interval)
	}
	n := int((to.Sub(from) + interval - 1) / interval)
	if n > 10000 {
		return nil, fmt.Errorf("%d intervals: too many", n)
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

// CountsByIssue implements events.IssueHistogrammer. One grouped query
// counts every issue: the events_issue index serves each issue's time
// range, and only the buckets with events come back. Here and below,
// "+project_id" keeps SQLite from choosing the primary key, which would
// scan every event of the project, over the issue index.
func (e *Events) CountsByIssue(ctx context.Context, projectID int64, issueIDs []int64, from, to time.Time, interval time.Duration) (map[int64][]events.Bucket, error) {
	empty, err := buckets(from, to, interval)
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
	ids, _ := json.Marshal(issueIDs)
	step := interval.Microseconds()
	rows, err := e.db.r.QueryContext(ctx, `SELECT issue_id, (timestamp - ?) / ? AS b, count(*),
		count(DISTINCT CASE WHEN user_key <> '' THEN user_key END)
		FROM events WHERE issue_id IN (SELECT value FROM json_each(?)) AND timestamp >= ? AND timestamp < ? AND +project_id = ?
		GROUP BY issue_id, b`, micros(from), step, string(ids), micros(from), micros(to), projectID)
	if err != nil {
		return nil, fmt.Errorf("events: counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, b, n, users int64
		if err := rows.Scan(&id, &b, &n, &users); err != nil {
			return nil, fmt.Errorf("events: counts: %w", err)
		}
		if bs := out[id]; b >= 0 && int(b) < len(bs) {
			bs[b].Events, bs[b].Users = n, users
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: counts: %w", err)
	}
	return out, nil
}

// TagCounts implements events.TagCounter. CROSS JOIN fixes the join
// order: with the project bound as a parameter SQLite otherwise walks all
// the project's tags and probes the sample, 40× slower.
func (e *Events) TagCounts(ctx context.Context, projectID, issueID int64, newest int) (int64, []events.TagCount, error) {
	if newest <= 0 {
		newest = 1000
	}
	var total int64
	if err := e.db.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM events WHERE issue_id = ? AND +project_id = ? LIMIT ?)`,
		issueID, projectID, newest).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("events: tag counts: %w", err)
	}
	rows, err := e.db.r.QueryContext(ctx, `WITH recent AS (
			SELECT event_id FROM events WHERE issue_id = ? AND +project_id = ? ORDER BY timestamp DESC, event_id DESC LIMIT ?)
		SELECT t.key, t.value, count(*) AS n FROM recent r CROSS JOIN event_tags t ON t.project_id = ? AND t.event_id = r.event_id
		GROUP BY t.key, t.value ORDER BY t.key, n DESC, t.value`, issueID, projectID, newest, projectID)
	if err != nil {
		return 0, nil, fmt.Errorf("events: tag counts: %w", err)
	}
	defer rows.Close()
	var out []events.TagCount
	for rows.Next() {
		var c events.TagCount
		if err := rows.Scan(&c.Key, &c.Value, &c.Count); err != nil {
			return 0, nil, fmt.Errorf("events: tag counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("events: tag counts: %w", err)
	}
	return total, out, nil
}

// MatchIssues implements events.IssueMatcher. Each condition is one
// range of the covering event_tags_value index (release and environment
// are stored as tags), and the issue sets are intersected: joining the
// conditions per event costs one lookup per event carrying a common tag,
// over 100 ms on 100k events.
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
	var q strings.Builder
	var args []any
	for i, c := range conds {
		if i > 0 {
			q.WriteString(" INTERSECT ")
		}
		q.WriteString(`SELECT DISTINCT issue_id FROM event_tags WHERE project_id = ? AND key = ? AND value = ?`)
		args = append(args, projectID, c[0], c[1])
	}
	q.WriteString(` LIMIT ?`)
	args = append(args, limit)
	rows, err := e.db.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("events: match issues: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("events: match issues: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: match issues: %w", err)
	}
	return out, nil
}

// DeleteIssueEvents implements events.IssueEventsDeleter. Tags go first,
// as they are found through the events; all of an issue goes in one
// transaction so a failure leaves no event without its tags.
func (e *Events) DeleteIssueEvents(ctx context.Context, projectID int64, issueIDs []int64) (int64, error) {
	var n int64
	err := e.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		for _, id := range issueIDs {
			if _, err := tx.ExecContext(ctx, `DELETE FROM event_tags WHERE project_id = ? AND event_id IN
				(SELECT event_id FROM events WHERE issue_id = ? AND +project_id = ?)`, projectID, id, projectID); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE issue_id = ? AND +project_id = ?`, id, projectID)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
			if k > 0 {
				// issue_users has no project column; an issue id belongs to
				// one project, and only a project's own issues reach here
				// with events.
				if _, err := tx.ExecContext(ctx, `DELETE FROM issue_users WHERE issue_id = ?`, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("events: delete issue events: %w", err)
	}
	return n, nil
}
