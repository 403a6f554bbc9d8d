package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

var (
	_ meta.Feedback     = (*Meta)(nil)
	_ meta.SessionStats = (*Meta)(nil)
	_ meta.Outcomes     = (*Meta)(nil)
)

// receiptRetention is how long item digests are kept: longer than any
// client retries an envelope or a message stays in the queue.
const receiptRetention = 7 * 24 * time.Hour

// PutUserReports implements meta.Feedback.
func (m *Meta) PutUserReports(ctx context.Context, reports []meta.UserReport) error {
	if len(reports) == 0 {
		return nil
	}
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO user_reports (project_id, event_id, name, email, comments, issue_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (project_id, event_id) DO UPDATE SET name = excluded.name, email = excluded.email,
				comments = excluded.comments, created_at = excluded.created_at,
				issue_id = CASE WHEN excluded.issue_id <> 0 THEN excluded.issue_id ELSE user_reports.issue_id END`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range reports {
			if r.CreatedAt.IsZero() {
				r.CreatedAt = m.now()
			}
			if _, err := st.ExecContext(ctx, r.ProjectID, r.EventID, r.Name, r.Email, r.Comments, r.IssueID, micros(r.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("meta: put user reports: %w", err)
	}
	return nil
}

// ListUserReports implements meta.Feedback.
func (m *Meta) ListUserReports(ctx context.Context, q meta.UserReportQuery) ([]meta.UserReport, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	where, args := "project_id = ?", []any{q.ProjectID}
	if q.IssueID != 0 {
		where += " AND issue_id = ?"
		args = append(args, q.IssueID)
	}
	if q.Unlinked {
		where += " AND issue_id = 0"
	}
	args = append(args, limit+1, max(q.Offset, 0))
	rows, err := m.db.r.QueryContext(ctx, `SELECT project_id, event_id, name, email, comments, issue_id, created_at
		FROM user_reports WHERE `+where+` ORDER BY created_at DESC, event_id DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("meta: list user reports: %w", err)
	}
	defer rows.Close()
	var out []meta.UserReport
	for rows.Next() {
		var r meta.UserReport
		var created int64
		if err := rows.Scan(&r.ProjectID, &r.EventID, &r.Name, &r.Email, &r.Comments, &r.IssueID, &created); err != nil {
			return nil, false, fmt.Errorf("meta: list user reports: %w", err)
		}
		r.CreatedAt = fromMicros(created)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("meta: list user reports: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// LinkUserReports implements meta.Feedback.
func (m *Meta) LinkUserReports(ctx context.Context, links []meta.UserReportLink) error {
	if len(links) == 0 {
		return nil
	}
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE user_reports SET issue_id = ? WHERE project_id = ? AND event_id = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, l := range links {
			if _, err := st.ExecContext(ctx, l.IssueID, l.ProjectID, l.EventID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("meta: link user reports: %w", err)
	}
	return nil
}

// CountUserReports implements meta.Feedback.
func (m *Meta) CountUserReports(ctx context.Context, issueIDs []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	if len(issueIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(issueIDs))
	for i, id := range issueIDs {
		args[i] = id
	}
	rows, err := m.db.r.QueryContext(ctx, `SELECT issue_id, count(*) FROM user_reports WHERE issue_id IN (`+placeholders(len(args))+`) GROUP BY issue_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("meta: count user reports: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("meta: count user reports: %w", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: count user reports: %w", err)
	}
	return out, nil
}

// receipt records an item digest in tx and reports whether it is new. It
// also prunes digests past the retention window, which costs one index
// probe when there is nothing to prune.
func (m *Meta) receipt(ctx context.Context, tx *sql.Tx, projectID int64, itemID string, at time.Time) (bool, error) {
	if at.IsZero() {
		at = m.now()
	}
	day := at.UTC().Unix() / 86400
	if _, err := tx.ExecContext(ctx, `DELETE FROM item_receipts WHERE day < ?`, day-int64(receiptRetention/(24*time.Hour))); err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO item_receipts (project_id, item_id, day) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, projectID, itemID, day)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func hour(t time.Time) int64 { return micros(t.UTC().Truncate(time.Hour)) }

// RecordSessions implements meta.SessionStats.
func (m *Meta) RecordSessions(ctx context.Context, items []meta.SessionItem) error {
	if len(items) == 0 {
		return nil
	}
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		add, err := tx.PrepareContext(ctx, `INSERT INTO session_counts (project_id, bucket, release, environment, started, errored, crashed, abnormal, exited)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (project_id, bucket, release, environment) DO UPDATE SET
				started = started + excluded.started, errored = errored + excluded.errored, crashed = crashed + excluded.crashed,
				abnormal = abnormal + excluded.abnormal, exited = exited + excluded.exited`)
		if err != nil {
			return err
		}
		defer add.Close()
		user, err := tx.PrepareContext(ctx, `INSERT INTO session_users (project_id, bucket, release, environment, did, worst) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (project_id, bucket, release, environment, did) DO UPDATE SET worst = max(worst, excluded.worst)`)
		if err != nil {
			return err
		}
		defer user.Close()
		getErr, err := tx.PrepareContext(ctx, `SELECT worst FROM session_errored WHERE project_id = ? AND sid = ?`)
		if err != nil {
			return err
		}
		defer getErr.Close()
		putErr, err := tx.PrepareContext(ctx, `INSERT INTO session_errored (project_id, sid, worst) VALUES (?, ?, ?)
			ON CONFLICT (project_id, sid) DO UPDATE SET worst = excluded.worst`)
		if err != nil {
			return err
		}
		defer putErr.Close()
		for _, it := range items {
			fresh, err := m.receipt(ctx, tx, it.ProjectID, it.ItemID, it.ReceivedAt)
			if err != nil {
				return err
			}
			if !fresh {
				continue
			}
			for _, u := range it.Updates {
				b := hour(u.Started)
				sev := u.Severity()
				var started, errored, crashed, abnormal, exited int64
				if u.Aggregate {
					started = u.Exited + u.Errored + u.Abnormal + u.Crashed
					errored = u.Errored + u.Abnormal + u.Crashed
					crashed, abnormal, exited = u.Crashed, u.Abnormal, u.Exited
				} else {
					if u.Init {
						started = 1
					}
					if u.Status == meta.SessionExited {
						exited = 1
					}
					if sev > 0 {
						// The session's earlier worst state decides what
						// this update adds: errored once, crashed once.
						prev := 0
						if err := getErr.QueryRowContext(ctx, it.ProjectID, u.SessionID).Scan(&prev); err != nil && err != sql.ErrNoRows {
							return err
						}
						if prev == 0 {
							errored = 1
						}
						if sev == 3 && prev < 3 {
							crashed = 1
						}
						if sev == 2 && prev < 2 {
							abnormal = 1
						}
						if sev > prev {
							if _, err := putErr.ExecContext(ctx, it.ProjectID, u.SessionID, sev); err != nil {
								return err
							}
						}
					}
				}
				if started|errored|crashed|abnormal|exited != 0 {
					if _, err := add.ExecContext(ctx, it.ProjectID, b, u.Release, u.Environment, started, errored, crashed, abnormal, exited); err != nil {
						return err
					}
				}
				if u.DistinctID != "" {
					if _, err := user.ExecContext(ctx, it.ProjectID, b, u.Release, u.Environment, u.DistinctID, sev); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("meta: record sessions: %w", err)
	}
	return nil
}

type groupKey struct {
	i            int64
	release, env string
}

// QuerySessions implements meta.SessionStats.
func (m *Meta) QuerySessions(ctx context.Context, q meta.SessionQuery) (series, totals []meta.SessionCounts, err error) {
	if len(q.ProjectIDs) == 0 {
		return nil, nil, nil
	}
	if q.Interval < time.Hour || q.Interval%time.Hour != 0 {
		return nil, nil, fmt.Errorf("meta: query sessions: interval %v is not a whole number of hours", q.Interval)
	}
	for _, perInterval := range []bool{true, false} {
		out, err := m.querySessions(ctx, q, perInterval)
		if err != nil {
			return nil, nil, fmt.Errorf("meta: query sessions: %w", err)
		}
		if perInterval {
			series = out
		} else {
			totals = out
		}
	}
	return series, totals, nil
}

func (m *Meta) querySessions(ctx context.Context, q meta.SessionQuery, perInterval bool) ([]meta.SessionCounts, error) {
	start := micros(q.Start)
	iv := q.Interval.Microseconds()
	iExpr := "0"
	if perInterval {
		iExpr = fmt.Sprintf("(bucket - %d) / %d", start, iv)
	}
	rel, env := "''", "''"
	if q.GroupByRelease {
		rel = "release"
	}
	if q.GroupByEnvironment {
		env = "environment"
	}
	where := "project_id IN (" + placeholders(len(q.ProjectIDs)) + ") AND bucket >= ? AND bucket < ?"
	var args []any
	for _, id := range q.ProjectIDs {
		args = append(args, id)
	}
	args = append(args, start, micros(q.End))
	if q.Release != "" {
		where += " AND release = ?"
		args = append(args, q.Release)
	}
	if q.Environment != "" {
		where += " AND environment = ?"
		args = append(args, q.Environment)
	}
	groups := map[groupKey]*meta.SessionCounts{}
	var order []groupKey
	get := func(k groupKey) *meta.SessionCounts {
		c := groups[k]
		if c == nil {
			c = &meta.SessionCounts{Release: k.release, Environment: k.env}
			if perInterval {
				c.Time = fromMicros(start + k.i*iv)
			}
			groups[k] = c
			order = append(order, k)
		}
		return c
	}
	rows, err := m.db.r.QueryContext(ctx, `SELECT `+iExpr+` AS i, `+rel+` AS r, `+env+` AS e,
		sum(started), sum(errored), sum(crashed), sum(abnormal), sum(exited)
		FROM session_counts WHERE `+where+` GROUP BY i, r, e`, args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k groupKey
		var s, er, cr, ab, ex int64
		if err := rows.Scan(&k.i, &k.release, &k.env, &s, &er, &cr, &ab, &ex); err != nil {
			rows.Close()
			return nil, err
		}
		c := get(k)
		c.Started, c.Errored, c.Crashed, c.Abnormal, c.Exited = s, er, cr, ab, ex
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A user counts once per period and group, with the worst state of
	// all their sessions in it.
	rows, err = m.db.r.QueryContext(ctx, `SELECT i, r, e, count(*), sum(w = 1), sum(w = 2), sum(w = 3) FROM (
			SELECT `+iExpr+` AS i, `+rel+` AS r, `+env+` AS e, project_id, did, max(worst) AS w
			FROM session_users WHERE `+where+` GROUP BY i, r, e, project_id, did)
		GROUP BY i, r, e`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k groupKey
		var n, e1, e2, e3 int64
		if err := rows.Scan(&k.i, &k.release, &k.env, &n, &e1, &e2, &e3); err != nil {
			return nil, err
		}
		c := get(k)
		c.Users, c.ErroredUsers, c.AbnormalUsers, c.CrashedUsers = n, e1, e2, e3
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]meta.SessionCounts, 0, len(order))
	for _, k := range order {
		out = append(out, *groups[k])
	}
	sortCounts(out)
	return out, nil
}

// sortCounts orders by group, then time.
func sortCounts(cs []meta.SessionCounts) {
	less := func(a, b meta.SessionCounts) int {
		if c := strings.Compare(a.Release, b.Release); c != 0 {
			return c
		}
		if c := strings.Compare(a.Environment, b.Environment); c != 0 {
			return c
		}
		return a.Time.Compare(b.Time)
	}
	slices.SortFunc(cs, less)
}

// RecordOutcomes implements meta.Outcomes.
func (m *Meta) RecordOutcomes(ctx context.Context, items []meta.OutcomeItem) error {
	if len(items) == 0 {
		return nil
	}
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		add, err := tx.PrepareContext(ctx, `INSERT INTO outcomes (project_id, bucket, outcome, reason, category, quantity) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (project_id, bucket, outcome, reason, category) DO UPDATE SET quantity = quantity + excluded.quantity`)
		if err != nil {
			return err
		}
		defer add.Close()
		for _, it := range items {
			fresh, err := m.receipt(ctx, tx, it.ProjectID, it.ItemID, it.ReceivedAt)
			if err != nil {
				return err
			}
			if !fresh {
				continue
			}
			for _, o := range it.Outcomes {
				if _, err := add.ExecContext(ctx, it.ProjectID, hour(o.Time), o.Outcome, o.Reason, o.Category, o.Quantity); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("meta: record outcomes: %w", err)
	}
	return nil
}

// QueryOutcomes implements meta.Outcomes.
func (m *Meta) QueryOutcomes(ctx context.Context, q meta.OutcomeQuery) ([]meta.OutcomeCount, error) {
	if len(q.ProjectIDs) == 0 {
		return nil, nil
	}
	if q.Interval < time.Hour || q.Interval%time.Hour != 0 {
		return nil, fmt.Errorf("meta: query outcomes: interval %v is not a whole number of hours", q.Interval)
	}
	start, iv := micros(q.Start), q.Interval.Microseconds()
	args := []any{start, iv}
	for _, id := range q.ProjectIDs {
		args = append(args, id)
	}
	args = append(args, start, micros(q.End))
	rows, err := m.db.r.QueryContext(ctx, `SELECT (bucket - ?) / ? AS i, project_id, outcome, reason, category, sum(quantity)
		FROM outcomes WHERE project_id IN (`+placeholders(len(q.ProjectIDs))+`) AND bucket >= ? AND bucket < ?
		GROUP BY i, project_id, outcome, reason, category ORDER BY i, project_id, outcome, reason, category`, args...)
	if err != nil {
		return nil, fmt.Errorf("meta: query outcomes: %w", err)
	}
	defer rows.Close()
	var out []meta.OutcomeCount
	for rows.Next() {
		var c meta.OutcomeCount
		var i int64
		if err := rows.Scan(&i, &c.ProjectID, &c.Outcome, &c.Reason, &c.Category, &c.Quantity); err != nil {
			return nil, fmt.Errorf("meta: query outcomes: %w", err)
		}
		c.Time = fromMicros(start + i*iv)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: query outcomes: %w", err)
	}
	return out, nil
}
