package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/cairn-dev/cairn/storage/meta"
)

const issueColumns = `id, project_id, short_seq, type, title, culprit, level, platform, metadata, status, substatus,
	times_seen, user_count, first_seen, last_seen, first_release, last_release, environments, resolved_at, last_event_id`

func scanIssue(s scanner) (meta.Issue, error) {
	var is meta.Issue
	var md, envs, status string
	var first, last, resolved int64
	err := s.Scan(&is.ID, &is.ProjectID, &is.ShortSeq, &is.Type, &is.Title, &is.Culprit, &is.Level, &is.Platform, &md, &status,
		&is.Substatus, &is.TimesSeen, &is.UserCount, &first, &last, &is.FirstRelease, &is.LastRelease, &envs, &resolved, &is.LastEventID)
	if err != nil {
		return is, notFound(err)
	}
	is.Status = meta.IssueStatus(status)
	_ = json.Unmarshal([]byte(md), &is.Metadata)
	is.Environments = parseList(envs)
	is.FirstSeen, is.LastSeen, is.ResolvedAt = fromMicros(first), fromMicros(last), fromMicros(resolved)
	return is, nil
}

func jsonMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// GroupIssues implements meta.Issues.
func (m *Meta) GroupIssues(ctx context.Context, reqs []meta.GroupRequest) ([]meta.Issue, error) {
	out := make([]meta.Issue, len(reqs))
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		find, err := tx.PrepareContext(ctx, `SELECT issue_id FROM issue_hashes WHERE project_id = ? AND hash = ?`)
		if err != nil {
			return err
		}
		defer find.Close()
		get, err := tx.PrepareContext(ctx, `SELECT `+issueColumns+` FROM issues WHERE id = ?`)
		if err != nil {
			return err
		}
		defer get.Close()
		for i, r := range reqs {
			var id int64
			err := find.QueryRowContext(ctx, r.ProjectID, r.Hash).Scan(&id)
			if err == sql.ErrNoRows {
				id, err = createIssue(ctx, tx, r)
			}
			if err != nil {
				return err
			}
			if out[i], err = scanIssue(get.QueryRowContext(ctx, id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meta: group issues: %w", err)
	}
	return out, nil
}

func createIssue(ctx context.Context, tx *sql.Tx, r meta.GroupRequest) (int64, error) {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE projects SET next_short_seq = next_short_seq + 1 WHERE id = ?
		RETURNING next_short_seq - 1`, r.ProjectID).Scan(&seq); err != nil {
		return 0, fmt.Errorf("project %d: %w", r.ProjectID, notFound(err))
	}
	t := micros(r.Time)
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO issues (project_id, short_seq, type, title, culprit, level, platform, metadata,
		status, substatus, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'unresolved', 'new', ?, ?) RETURNING id`,
		r.ProjectID, seq, r.Type, r.Title, r.Culprit, r.Level, r.Platform, jsonMap(r.Metadata), t, t).Scan(&id); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO issue_hashes (project_id, hash, issue_id) VALUES (?, ?, ?)`,
		r.ProjectID, r.Hash, id); err != nil {
		return 0, err
	}
	return id, nil
}

// RecordOccurrences implements meta.Issues.
func (m *Meta) RecordOccurrences(ctx context.Context, occs []meta.Occurrence) ([]meta.Recorded, error) {
	var out []meta.Recorded
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = out[:0]
		get, err := tx.PrepareContext(ctx, `SELECT `+issueColumns+` FROM issues WHERE id = ?`)
		if err != nil {
			return err
		}
		defer get.Close()
		// Apply every occurrence in memory first, then write each issue
		// once: a batch usually holds many events of a few issues.
		mark, err := tx.PrepareContext(ctx, `INSERT INTO issue_events (project_id, event_id, issue_id) VALUES (?, ?, ?)
			ON CONFLICT (project_id, event_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer mark.Close()
		issues := map[int64]*meta.Issue{}
		var order []int64
		regressed := map[int64]bool{}
		fresh, counted := map[int64]bool{}, map[int64]int{}
		for _, o := range occs {
			res, err := mark.ExecContext(ctx, o.ProjectID, o.EventID, o.IssueID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				continue // counted already
			}
			is := issues[o.IssueID]
			if is == nil {
				v, err := scanIssue(get.QueryRowContext(ctx, o.IssueID))
				if err != nil {
					return fmt.Errorf("issue %d: %w", o.IssueID, err)
				}
				is = &v
				issues[o.IssueID] = is
				order = append(order, o.IssueID)
				fresh[o.IssueID] = is.TimesSeen == 0
			}
			counted[o.IssueID]++
			if is.Apply(o) {
				regressed[is.ID] = true
			}
		}
		up, err := tx.PrepareContext(ctx, `UPDATE issues SET title = ?, culprit = ?, level = ?, metadata = ?, status = ?, substatus = ?,
			times_seen = ?, user_count = ?, first_seen = ?, last_seen = ?, first_release = ?, last_release = ?, environments = ?,
			last_event_id = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer up.Close()
		for _, id := range order {
			is := issues[id]
			if _, err := up.ExecContext(ctx, is.Title, is.Culprit, is.Level, jsonMap(is.Metadata), string(is.Status), is.Substatus,
				is.TimesSeen, is.UserCount, micros(is.FirstSeen), micros(is.LastSeen), is.FirstRelease, is.LastRelease,
				jsonList(is.Environments), is.LastEventID, id); err != nil {
				return err
			}
			out = append(out, meta.Recorded{IssueID: id, Regressed: regressed[id], New: fresh[id], Count: counted[id]})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meta: record occurrences: %w", err)
	}
	return out, nil
}

// Issue implements meta.Issues.
func (m *Meta) Issue(ctx context.Context, id int64) (meta.Issue, error) {
	is, err := scanIssue(m.db.r.QueryRowContext(ctx, `SELECT `+issueColumns+` FROM issues WHERE id = ?`, id))
	if err != nil {
		return is, fmt.Errorf("meta: issue %d: %w", id, err)
	}
	return is, nil
}

// ListIssues implements meta.Issues. Issues created by a worker that died
// before recording their first event are not listed: they hold no event
// yet, and the redelivered event will record itself.
func (m *Meta) ListIssues(ctx context.Context, q meta.IssueQuery) ([]meta.Issue, bool, error) {
	order := "last_seen DESC, id DESC"
	switch q.Sort {
	case "", "date":
	case "new":
		order = "first_seen DESC, id DESC"
	case "freq":
		order = "times_seen DESC, id DESC"
	default:
		return nil, false, fmt.Errorf("meta: list issues: unknown sort %q", q.Sort)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	where, args := "project_id = ? AND times_seen > 0", []any{q.ProjectID}
	if q.Status != "" {
		where += " AND status = ?"
		args = append(args, string(q.Status))
	}
	return m.issuePage(ctx, "list issues", where, order, args, limit, q.Offset)
}

// SetIssueStatus implements meta.Issues.
func (m *Meta) SetIssueStatus(ctx context.Context, id int64, status meta.IssueStatus) (meta.Issue, error) {
	var sub string
	var resolvedAt any = sql.Null[int64]{}
	switch status {
	case meta.StatusResolved:
		resolvedAt = micros(m.now())
	case meta.StatusUnresolved:
		sub = meta.SubstatusOngoing
	case meta.StatusIgnored:
	default:
		return meta.Issue{}, fmt.Errorf("meta: set issue %d status: unknown status %q", id, status)
	}
	res, err := m.db.w.ExecContext(ctx, `UPDATE issues SET status = ?, substatus = ?, resolved_at = COALESCE(?, resolved_at) WHERE id = ?`,
		string(status), sub, resolvedAt, id)
	if err != nil {
		return meta.Issue{}, fmt.Errorf("meta: set issue %d status: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return meta.Issue{}, fmt.Errorf("meta: set issue %d status: %w", id, meta.ErrNotFound)
	}
	return m.Issue(ctx, id)
}

// issuePage runs one page of an issue query: at most limit issues after
// offset, and whether more follow. what names the query in errors.
func (m *Meta) issuePage(ctx context.Context, what, where, order string, args []any, limit, offset int) ([]meta.Issue, bool, error) {
	args = append(args, limit+1, max(offset, 0))
	rows, err := m.db.r.QueryContext(ctx, `SELECT `+issueColumns+` FROM issues WHERE `+where+` ORDER BY `+order+` LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("meta: %s: %w", what, err)
	}
	defer rows.Close()
	var out []meta.Issue
	for rows.Next() {
		is, err := scanIssue(rows)
		if err != nil {
			return nil, false, fmt.Errorf("meta: %s: %w", what, err)
		}
		out = append(out, is)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("meta: %s: %w", what, err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
