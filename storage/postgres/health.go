package postgres

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, r := range reports {
			if r.CreatedAt.IsZero() {
				r.CreatedAt = m.now()
			}
			// A report replacing one whose event is already linked keeps
			// the link: the new report rarely knows the issue.
			batch.Queue(`INSERT INTO user_reports (project_id, event_id, name, email, comments, issue_id, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (project_id, event_id) DO UPDATE SET name = excluded.name, email = excluded.email,
					comments = excluded.comments, created_at = excluded.created_at,
					issue_id = CASE WHEN excluded.issue_id <> 0 THEN excluded.issue_id ELSE user_reports.issue_id END`,
				r.ProjectID, r.EventID, r.Name, r.Email, r.Comments, r.IssueID, stamp(r.CreatedAt))
		}
		return tx.SendBatch(ctx, batch).Close()
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
	where, args := "project_id = $1", []any{q.ProjectID}
	if q.IssueID != 0 {
		args = append(args, q.IssueID)
		where += fmt.Sprintf(" AND issue_id = $%d", len(args))
	}
	if q.Unlinked {
		where += " AND issue_id = 0"
	}
	args = append(args, limit+1, max(q.Offset, 0))
	rows, err := m.db.pool.Query(ctx, fmt.Sprintf(`SELECT project_id, event_id, name, email, comments, issue_id, created_at
		FROM user_reports WHERE `+where+` ORDER BY created_at DESC, event_id DESC LIMIT $%d OFFSET $%d`, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, false, fmt.Errorf("meta: list user reports: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.UserReport, error) {
		var u meta.UserReport
		err := r.Scan(&u.ProjectID, &u.EventID, &u.Name, &u.Email, &u.Comments, &u.IssueID, &u.CreatedAt)
		u.CreatedAt = u.CreatedAt.UTC()
		return u, err
	})
	if err != nil {
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
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, l := range links {
			batch.Queue(`UPDATE user_reports SET issue_id = $1 WHERE project_id = $2 AND event_id = $3`, l.IssueID, l.ProjectID, l.EventID)
		}
		return tx.SendBatch(ctx, batch).Close()
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
	rows, err := m.db.pool.Query(ctx, `SELECT issue_id, count(*) FROM user_reports WHERE issue_id = ANY($1) GROUP BY issue_id`, issueIDs)
	if err != nil {
		return nil, fmt.Errorf("meta: count user reports: %w", err)
	}
	var id, n int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		out[id] = n
		return nil
	}); err != nil {
		return nil, fmt.Errorf("meta: count user reports: %w", err)
	}
	return out, nil
}

// itemRef names an envelope item of a project.
type itemRef struct {
	project int64
	item    string
}

// receipts records the digests of items in tx and returns the refs that
// were not recorded before, each once. Digests past the retention window
// of the newest item are pruned first. Refs are inserted in sorted order
// so that two transactions holding the same items wait on each other
// rather than deadlock.
func (m *Meta) receipts(ctx context.Context, tx pgx.Tx, refs []itemRef, received []time.Time) (map[itemRef]bool, error) {
	var newest time.Time
	pids := make([]int64, len(refs))
	iids := make([]string, len(refs))
	days := make([]time.Time, len(refs))
	for i, r := range refs {
		at := received[i]
		if at.IsZero() {
			at = m.now()
		}
		day := at.UTC().Truncate(24 * time.Hour)
		if day.After(newest) {
			newest = day
		}
		pids[i], iids[i], days[i] = r.project, r.item, day
	}
	if _, err := tx.Exec(ctx, `DELETE FROM item_receipts WHERE day < $1`, newest.Add(-receiptRetention)); err != nil {
		return nil, fmt.Errorf("prune receipts: %w", err)
	}
	rows, err := tx.Query(ctx, `INSERT INTO item_receipts (project_id, item_id, day)
		SELECT DISTINCT ON (p, i) p, i, d FROM unnest($1::bigint[], $2::text[], $3::date[]) AS u(p, i, d) ORDER BY p, i
		ON CONFLICT DO NOTHING RETURNING project_id, item_id`, pids, iids, days)
	if err != nil {
		return nil, fmt.Errorf("record receipts: %w", err)
	}
	fresh := map[itemRef]bool{}
	var r itemRef
	if _, err := pgx.ForEachRow(rows, []any{&r.project, &r.item}, func() error {
		fresh[r] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("record receipts: %w", err)
	}
	return fresh, nil
}

func hour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

type sessionKey struct {
	project int64
	sid     string
}

type countKey struct {
	project      int64
	bucket       time.Time
	release, env string
}

func compareCountKeys(a, b countKey) int {
	return cmp.Or(cmp.Compare(a.project, b.project), a.bucket.Compare(b.bucket),
		strings.Compare(a.release, b.release), strings.Compare(a.env, b.env))
}

type userKey struct {
	countKey
	did string
}

// sessionTotals are the additions to one row of session_counts.
type sessionTotals struct{ started, errored, crashed, abnormal, exited int64 }

// RecordSessions implements meta.SessionStats. Whether an update counts a
// session as errored depends on the session's earlier updates, which
// another worker may be recording at the same moment; so the batch first
// locks the rows of its sessions in session_errored (creating them), folds
// the updates in memory, and writes every table once, in key order, so
// that concurrent batches serialize per session without deadlocking.
func (m *Meta) RecordSessions(ctx context.Context, items []meta.SessionItem) error {
	if len(items) == 0 {
		return nil
	}
	refs := make([]itemRef, len(items))
	received := make([]time.Time, len(items))
	for i, it := range items {
		refs[i], received[i] = itemRef{it.ProjectID, it.ItemID}, it.ReceivedAt
	}
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		fresh, err := m.receipts(ctx, tx, refs, received)
		if err != nil {
			return err
		}
		var todo []meta.SessionItem
		sessions := map[sessionKey]bool{}
		for i, it := range items {
			if !fresh[refs[i]] {
				continue // recorded before, or a duplicate within the batch
			}
			delete(fresh, refs[i])
			todo = append(todo, it)
			for _, u := range it.Updates {
				if !u.Aggregate && int16(u.Severity()) > 0 {
					sessions[sessionKey{it.ProjectID, u.SessionID}] = true
				}
			}
		}
		worst, err := lockSessions(ctx, tx, sessions)
		if err != nil {
			return err
		}
		counts := map[countKey]*sessionTotals{}
		users := map[userKey]int16{}
		for _, it := range todo {
			for _, u := range it.Updates {
				k := countKey{it.ProjectID, hour(u.Started), u.Release, u.Environment}
				sev := int16(u.Severity())
				var add sessionTotals
				if u.Aggregate {
					add = sessionTotals{started: u.Exited + u.Errored + u.Abnormal + u.Crashed, errored: u.Errored + u.Abnormal + u.Crashed,
						crashed: u.Crashed, abnormal: u.Abnormal, exited: u.Exited}
				} else {
					if u.Init {
						add.started = 1
					}
					if u.Status == meta.SessionExited {
						add.exited = 1
					}
					if sev > 0 {
						// The session's earlier worst state decides what
						// this update adds: errored once, crashed once.
						sk := sessionKey{it.ProjectID, u.SessionID}
						prev := worst[sk]
						if prev == 0 {
							add.errored = 1
						}
						if sev == 3 && prev < 3 {
							add.crashed = 1
						}
						if sev == 2 && prev < 2 {
							add.abnormal = 1
						}
						worst[sk] = max(prev, sev)
					}
				}
				if add != (sessionTotals{}) {
					c := counts[k]
					if c == nil {
						c = &sessionTotals{}
						counts[k] = c
					}
					c.started += add.started
					c.errored += add.errored
					c.crashed += add.crashed
					c.abnormal += add.abnormal
					c.exited += add.exited
				}
				if u.DistinctID != "" {
					uk := userKey{k, u.DistinctID}
					if w, ok := users[uk]; !ok || sev > w {
						users[uk] = sev
					}
				}
			}
		}
		if err := saveSessions(ctx, tx, worst); err != nil {
			return err
		}
		if err := addSessionCounts(ctx, tx, counts); err != nil {
			return err
		}
		return addSessionUsers(ctx, tx, users)
	})
	if err != nil {
		return fmt.Errorf("meta: record sessions: %w", err)
	}
	return nil
}

// lockSessions creates the session_errored rows of sessions that have
// none (worst 0, raised before the transaction ends), locks all of them in
// key order and returns their worst states.
func lockSessions(ctx context.Context, tx pgx.Tx, sessions map[sessionKey]bool) (map[sessionKey]int16, error) {
	worst := map[sessionKey]int16{}
	if len(sessions) == 0 {
		return worst, nil
	}
	keys := slices.SortedFunc(maps.Keys(sessions), func(a, b sessionKey) int {
		return cmp.Or(cmp.Compare(a.project, b.project), strings.Compare(a.sid, b.sid))
	})
	pids := make([]int64, len(keys))
	sids := make([]string, len(keys))
	for i, k := range keys {
		pids[i], sids[i] = k.project, k.sid
	}
	if _, err := tx.Exec(ctx, `INSERT INTO session_errored (project_id, sid, worst)
		SELECT p, s, 0 FROM unnest($1::bigint[], $2::text[]) AS u(p, s) ORDER BY p, s ON CONFLICT DO NOTHING`, pids, sids); err != nil {
		return nil, fmt.Errorf("create errored sessions: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT e.project_id, e.sid, e.worst FROM session_errored e
		JOIN unnest($1::bigint[], $2::text[]) AS u(p, s) ON e.project_id = u.p AND e.sid = u.s
		ORDER BY e.project_id, e.sid FOR UPDATE OF e`, pids, sids)
	if err != nil {
		return nil, fmt.Errorf("lock errored sessions: %w", err)
	}
	var k sessionKey
	var w int16
	if _, err := pgx.ForEachRow(rows, []any{&k.project, &k.sid, &w}, func() error {
		worst[k] = w
		return nil
	}); err != nil {
		return nil, fmt.Errorf("lock errored sessions: %w", err)
	}
	return worst, nil
}

// saveSessions writes back the worst states of the locked sessions.
func saveSessions(ctx context.Context, tx pgx.Tx, worst map[sessionKey]int16) error {
	if len(worst) == 0 {
		return nil
	}
	var pids []int64
	var sids []string
	var ws []int16
	for k, w := range worst {
		pids, sids, ws = append(pids, k.project), append(sids, k.sid), append(ws, w)
	}
	if _, err := tx.Exec(ctx, `UPDATE session_errored e SET worst = u.w
		FROM unnest($1::bigint[], $2::text[], $3::smallint[]) AS u(p, s, w)
		WHERE e.project_id = u.p AND e.sid = u.s AND e.worst <> u.w`, pids, sids, ws); err != nil {
		return fmt.Errorf("save errored sessions: %w", err)
	}
	return nil
}

func addSessionCounts(ctx context.Context, tx pgx.Tx, counts map[countKey]*sessionTotals) error {
	if len(counts) == 0 {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(counts), compareCountKeys)
	n := len(keys)
	pids, buckets, rels, envs := make([]int64, n), make([]time.Time, n), make([]string, n), make([]string, n)
	started, errored, crashed, abnormal, exited := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, k := range keys {
		c := counts[k]
		pids[i], buckets[i], rels[i], envs[i] = k.project, k.bucket, k.release, k.env
		started[i], errored[i], crashed[i], abnormal[i], exited[i] = c.started, c.errored, c.crashed, c.abnormal, c.exited
	}
	if _, err := tx.Exec(ctx, `INSERT INTO session_counts (project_id, bucket, release, environment, started, errored, crashed, abnormal, exited)
		SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
			$8::bigint[], $9::bigint[])
		ON CONFLICT (project_id, bucket, release, environment) DO UPDATE SET
			started = session_counts.started + excluded.started, errored = session_counts.errored + excluded.errored,
			crashed = session_counts.crashed + excluded.crashed, abnormal = session_counts.abnormal + excluded.abnormal,
			exited = session_counts.exited + excluded.exited`,
		pids, buckets, rels, envs, started, errored, crashed, abnormal, exited); err != nil {
		return fmt.Errorf("add session counts: %w", err)
	}
	return nil
}

func addSessionUsers(ctx context.Context, tx pgx.Tx, users map[userKey]int16) error {
	if len(users) == 0 {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(users), func(a, b userKey) int {
		return cmp.Or(compareCountKeys(a.countKey, b.countKey), strings.Compare(a.did, b.did))
	})
	n := len(keys)
	pids, buckets, rels, envs, dids, ws := make([]int64, n), make([]time.Time, n), make([]string, n), make([]string, n),
		make([]string, n), make([]int16, n)
	for i, k := range keys {
		pids[i], buckets[i], rels[i], envs[i], dids[i], ws[i] = k.project, k.bucket, k.release, k.env, k.did, users[k]
	}
	if _, err := tx.Exec(ctx, `INSERT INTO session_users (project_id, bucket, release, environment, did, worst)
		SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::smallint[])
		ON CONFLICT (project_id, bucket, release, environment, did) DO UPDATE SET
			worst = GREATEST(session_users.worst, excluded.worst)`,
		pids, buckets, rels, envs, dids, ws); err != nil {
		return fmt.Errorf("add session users: %w", err)
	}
	return nil
}

// QuerySessions implements meta.SessionStats.
func (m *Meta) QuerySessions(ctx context.Context, q meta.SessionQuery) (series, totals []meta.SessionCounts, err error) {
	if len(q.ProjectIDs) == 0 {
		return nil, nil, nil
	}
	if q.Interval < time.Hour || q.Interval%time.Hour != 0 {
		return nil, nil, fmt.Errorf("meta: query sessions: interval %v is not a whole number of hours", q.Interval)
	}
	if series, err = m.querySessions(ctx, q, true); err != nil {
		return nil, nil, fmt.Errorf("meta: query sessions: %w", err)
	}
	if totals, err = m.querySessions(ctx, q, false); err != nil {
		return nil, nil, fmt.Errorf("meta: query sessions: %w", err)
	}
	return series, totals, nil
}

// intervalExpr is the index of a bucket's interval counted from start.
// Both numbers are computed here, never taken from a request's text.
func intervalExpr(start time.Time, iv time.Duration) string {
	return fmt.Sprintf("(((extract(epoch FROM bucket) * 1000000)::bigint - %d) / %d)", start.UnixMicro(), iv.Microseconds())
}

type groupKey struct {
	i            int64
	release, env string
}

func (m *Meta) querySessions(ctx context.Context, q meta.SessionQuery, perInterval bool) ([]meta.SessionCounts, error) {
	iExpr := "0::bigint"
	if perInterval {
		iExpr = intervalExpr(q.Start, q.Interval)
	}
	rel, env := "''::text", "''::text"
	if q.GroupByRelease {
		rel = "release"
	}
	if q.GroupByEnvironment {
		env = "environment"
	}
	where := "project_id = ANY($1) AND bucket >= $2 AND bucket < $3"
	args := []any{q.ProjectIDs, q.Start, q.End}
	if q.Release != "" {
		args = append(args, q.Release)
		where += fmt.Sprintf(" AND release = $%d", len(args))
	}
	if q.Environment != "" {
		args = append(args, q.Environment)
		where += fmt.Sprintf(" AND environment = $%d", len(args))
	}
	groups := map[groupKey]*meta.SessionCounts{}
	get := func(k groupKey) *meta.SessionCounts {
		c := groups[k]
		if c == nil {
			c = &meta.SessionCounts{Release: k.release, Environment: k.env}
			if perInterval {
				c.Time = stamp(q.Start).Add(time.Duration(k.i) * q.Interval)
			}
			groups[k] = c
		}
		return c
	}
	rows, err := m.db.pool.Query(ctx, `SELECT `+iExpr+`, `+rel+`, `+env+`,
		sum(started)::bigint, sum(errored)::bigint, sum(crashed)::bigint, sum(abnormal)::bigint, sum(exited)::bigint
		FROM session_counts WHERE `+where+` GROUP BY 1, 2, 3`, args...)
	if err != nil {
		return nil, err
	}
	var k groupKey
	var s, er, cr, ab, ex int64
	if _, err := pgx.ForEachRow(rows, []any{&k.i, &k.release, &k.env, &s, &er, &cr, &ab, &ex}, func() error {
		c := get(k)
		c.Started, c.Errored, c.Crashed, c.Abnormal, c.Exited = s, er, cr, ab, ex
		return nil
	}); err != nil {
		return nil, err
	}
	// A user counts once per period and group, with the worst state of
	// all their sessions in it.
	rows, err = m.db.pool.Query(ctx, `SELECT i, r, e, count(*), count(*) FILTER (WHERE w = 1), count(*) FILTER (WHERE w = 2),
			count(*) FILTER (WHERE w = 3)
		FROM (SELECT `+iExpr+` AS i, `+rel+` AS r, `+env+` AS e, project_id, did, max(worst) AS w
			FROM session_users WHERE `+where+` GROUP BY 1, 2, 3, project_id, did) AS g
		GROUP BY i, r, e`, args...)
	if err != nil {
		return nil, err
	}
	var n, e1, e2, e3 int64
	if _, err := pgx.ForEachRow(rows, []any{&k.i, &k.release, &k.env, &n, &e1, &e2, &e3}, func() error {
		c := get(k)
		c.Users, c.ErroredUsers, c.AbnormalUsers, c.CrashedUsers = n, e1, e2, e3
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]meta.SessionCounts, 0, len(groups))
	for _, c := range groups {
		out = append(out, *c)
	}
	// By group, then time.
	slices.SortFunc(out, func(a, b meta.SessionCounts) int {
		return cmp.Or(strings.Compare(a.Release, b.Release), strings.Compare(a.Environment, b.Environment), a.Time.Compare(b.Time))
	})
	return out, nil
}

type outcomeKey struct {
	project                   int64
	bucket                    time.Time
	outcome, reason, category string
}

// RecordOutcomes implements meta.Outcomes. Quantities are summed per row
// in memory and added in key order, for the reason RecordSessions does.
func (m *Meta) RecordOutcomes(ctx context.Context, items []meta.OutcomeItem) error {
	if len(items) == 0 {
		return nil
	}
	refs := make([]itemRef, len(items))
	received := make([]time.Time, len(items))
	for i, it := range items {
		refs[i], received[i] = itemRef{it.ProjectID, it.ItemID}, it.ReceivedAt
	}
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		fresh, err := m.receipts(ctx, tx, refs, received)
		if err != nil {
			return err
		}
		sums := map[outcomeKey]int64{}
		for i, it := range items {
			if !fresh[refs[i]] {
				continue
			}
			delete(fresh, refs[i])
			for _, o := range it.Outcomes {
				sums[outcomeKey{it.ProjectID, hour(o.Time), o.Outcome, o.Reason, o.Category}] += o.Quantity
			}
		}
		if len(sums) == 0 {
			return nil
		}
		keys := slices.SortedFunc(maps.Keys(sums), func(a, b outcomeKey) int {
			return cmp.Or(cmp.Compare(a.project, b.project), a.bucket.Compare(b.bucket), strings.Compare(a.outcome, b.outcome),
				strings.Compare(a.reason, b.reason), strings.Compare(a.category, b.category))
		})
		n := len(keys)
		pids, buckets, outs, reasons, cats, qs := make([]int64, n), make([]time.Time, n), make([]string, n), make([]string, n),
			make([]string, n), make([]int64, n)
		for i, k := range keys {
			pids[i], buckets[i], outs[i], reasons[i], cats[i], qs[i] = k.project, k.bucket, k.outcome, k.reason, k.category, sums[k]
		}
		_, err = tx.Exec(ctx, `INSERT INTO outcomes (project_id, bucket, outcome, reason, category, quantity)
			SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[])
			ON CONFLICT (project_id, bucket, outcome, reason, category) DO UPDATE SET quantity = outcomes.quantity + excluded.quantity`,
			pids, buckets, outs, reasons, cats, qs)
		return err
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
	rows, err := m.db.pool.Query(ctx, `SELECT `+intervalExpr(q.Start, q.Interval)+` AS i, project_id, outcome, reason, category,
		sum(quantity)::bigint FROM outcomes WHERE project_id = ANY($1) AND bucket >= $2 AND bucket < $3
		GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`, q.ProjectIDs, q.Start, q.End)
	if err != nil {
		return nil, fmt.Errorf("meta: query outcomes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.OutcomeCount, error) {
		var c meta.OutcomeCount
		var i int64
		err := r.Scan(&i, &c.ProjectID, &c.Outcome, &c.Reason, &c.Category, &c.Quantity)
		c.Time = stamp(q.Start).Add(time.Duration(i) * q.Interval)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: query outcomes: %w", err)
	}
	return out, nil
}
