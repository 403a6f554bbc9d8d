package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

var (
	_ meta.Alerts   = (*Meta)(nil)
	_ meta.Releases = (*Meta)(nil)
)

const ruleColumns = `id, project_id, name, enabled, trigger, threshold, window_ms, min_level, environment, actions, created_at, updated_at`

func scanRule(s scanner) (meta.AlertRule, error) {
	var r meta.AlertRule
	var enabled bool
	var window, created, updated int64
	var actions string
	if err := s.Scan(&r.ID, &r.ProjectID, &r.Name, &enabled, &r.Trigger, &r.Threshold, &window, &r.MinLevel, &r.Environment,
		&actions, &created, &updated); err != nil {
		return r, notFound(err)
	}
	r.Enabled = enabled
	r.Window = time.Duration(window) * time.Millisecond
	if err := json.Unmarshal([]byte(actions), &r.Actions); err != nil {
		return r, fmt.Errorf("rule %d actions: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, nil
}

// CreateAlertRule implements meta.Alerts.
func (m *Meta) CreateAlertRule(ctx context.Context, r meta.AlertRule) (meta.AlertRule, error) {
	actions, err := meta.EncodeActions(r.Actions)
	if err != nil {
		return r, fmt.Errorf("meta: create alert rule: %w", err)
	}
	now := m.now().UTC()
	r.CreatedAt, r.UpdatedAt = fromMicros(micros(now)), fromMicros(micros(now))
	err = m.db.w.QueryRowContext(ctx, `INSERT INTO alert_rules (project_id, name, enabled, trigger, threshold, window_ms, min_level,
		environment, actions, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.ProjectID, r.Name, r.Enabled, r.Trigger, r.Threshold, r.Window.Milliseconds(), r.MinLevel, r.Environment, actions,
		micros(now), micros(now)).Scan(&r.ID)
	if err != nil {
		return r, fmt.Errorf("meta: create alert rule: %w", err)
	}
	return r, nil
}

// UpdateAlertRule implements meta.Alerts.
func (m *Meta) UpdateAlertRule(ctx context.Context, r meta.AlertRule) (meta.AlertRule, error) {
	actions, err := meta.EncodeActions(r.Actions)
	if err != nil {
		return r, fmt.Errorf("meta: update alert rule %d: %w", r.ID, err)
	}
	res, err := m.db.w.ExecContext(ctx, `UPDATE alert_rules SET name = ?, enabled = ?, trigger = ?, threshold = ?, window_ms = ?,
		min_level = ?, environment = ?, actions = ?, updated_at = ? WHERE id = ? AND project_id = ?`,
		r.Name, r.Enabled, r.Trigger, r.Threshold, r.Window.Milliseconds(), r.MinLevel, r.Environment, actions, micros(m.now()),
		r.ID, r.ProjectID)
	if err != nil {
		return r, fmt.Errorf("meta: update alert rule %d: %w", r.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return r, fmt.Errorf("meta: update alert rule %d: %w", r.ID, meta.ErrNotFound)
	}
	return m.AlertRule(ctx, r.ID)
}

// DeleteAlertRule implements meta.Alerts.
func (m *Meta) DeleteAlertRule(ctx context.Context, projectID, id int64) error {
	res, err := m.db.w.ExecContext(ctx, `DELETE FROM alert_rules WHERE id = ? AND project_id = ?`, id, projectID)
	if err != nil {
		return fmt.Errorf("meta: delete alert rule %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("meta: delete alert rule %d: %w", id, meta.ErrNotFound)
	}
	return nil
}

// AlertRule implements meta.Alerts.
func (m *Meta) AlertRule(ctx context.Context, id int64) (meta.AlertRule, error) {
	r, err := scanRule(m.db.r.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = ?`, id))
	if err != nil {
		return r, fmt.Errorf("meta: alert rule %d: %w", id, err)
	}
	return r, nil
}

// ListAlertRules implements meta.Alerts.
func (m *Meta) ListAlertRules(ctx context.Context, projectID int64) ([]meta.AlertRule, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE project_id = ? ORDER BY id`, projectID)
	if err != nil {
		return nil, fmt.Errorf("meta: list alert rules: %w", err)
	}
	defer rows.Close()
	var out []meta.AlertRule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, fmt.Errorf("meta: list alert rules: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list alert rules: %w", err)
	}
	return out, nil
}

const deliveryColumns = `id, rule_id, project_id, issue_id, key, trigger, action, payload, status, attempts, next_attempt,
	last_error, result, created_at, sent_at`

func scanDelivery(s scanner) (meta.Delivery, error) {
	var d meta.Delivery
	var action string
	var next, created, sent int64
	if err := s.Scan(&d.ID, &d.RuleID, &d.ProjectID, &d.IssueID, &d.Key, &d.Trigger, &action, &d.Payload, &d.Status, &d.Attempts,
		&next, &d.LastError, &d.Result, &created, &sent); err != nil {
		return d, notFound(err)
	}
	if err := json.Unmarshal([]byte(action), &d.Action); err != nil {
		return d, fmt.Errorf("delivery %d action: %w", d.ID, err)
	}
	d.NextAttempt, d.CreatedAt, d.SentAt = fromMicros(next), fromMicros(created), fromMicros(sent)
	return d, nil
}

// EnqueueDeliveries implements meta.Alerts.
func (m *Meta) EnqueueDeliveries(ctx context.Context, ds []meta.Delivery) ([]meta.Delivery, error) {
	var out []meta.Delivery
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = out[:0]
		ins, err := tx.PrepareContext(ctx, `INSERT INTO alert_deliveries (rule_id, project_id, issue_id, key, trigger, action, payload,
			status, next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id`)
		if err != nil {
			return err
		}
		defer ins.Close()
		now := m.now().UTC()
		for _, d := range ds {
			action, err := json.Marshal(d.Action)
			if err != nil {
				return err
			}
			if d.NextAttempt.IsZero() {
				d.NextAttempt = now
			}
			if d.Payload == nil {
				d.Payload = []byte{}
			}
			err = ins.QueryRowContext(ctx, d.RuleID, d.ProjectID, d.IssueID, d.Key, d.Trigger, string(action), d.Payload,
				micros(d.NextAttempt), micros(now)).Scan(&d.ID)
			if err == sql.ErrNoRows {
				continue // enqueued before: the idempotency key holds
			}
			if err != nil {
				return err
			}
			d.Status, d.Attempts, d.CreatedAt = meta.DeliveryPending, 0, fromMicros(micros(now))
			d.NextAttempt = fromMicros(micros(d.NextAttempt))
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meta: enqueue deliveries: %w", err)
	}
	return out, nil
}

// ClaimDeliveries implements meta.Alerts.
func (m *Meta) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]meta.Delivery, error) {
	var out []meta.Delivery
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM alert_deliveries
			WHERE status = 'pending' AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?`, micros(now), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		until := micros(now.Add(lease))
		for i := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE alert_deliveries SET next_attempt = ? WHERE id = ?`, until, out[i].ID); err != nil {
				return err
			}
			out[i].NextAttempt = fromMicros(until)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meta: claim deliveries: %w", err)
	}
	return out, nil
}

// FinishAttempt implements meta.Alerts.
func (m *Meta) FinishAttempt(ctx context.Context, d meta.Delivery) error {
	res, err := m.db.w.ExecContext(ctx, `UPDATE alert_deliveries SET status = ?, attempts = ?, next_attempt = ?, last_error = ?,
		result = ?, sent_at = ? WHERE id = ?`, d.Status, d.Attempts, micros(d.NextAttempt), d.LastError, d.Result, micros(d.SentAt), d.ID)
	if err != nil {
		return fmt.Errorf("meta: finish delivery %d: %w", d.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("meta: finish delivery %d: %w", d.ID, meta.ErrNotFound)
	}
	return nil
}

// Delivery implements meta.Alerts.
func (m *Meta) Delivery(ctx context.Context, id int64) (meta.Delivery, error) {
	d, err := scanDelivery(m.db.r.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM alert_deliveries WHERE id = ?`, id))
	if err != nil {
		return d, fmt.Errorf("meta: delivery %d: %w", id, err)
	}
	return d, nil
}

// ListDeliveries implements meta.Alerts.
func (m *Meta) ListDeliveries(ctx context.Context, q meta.DeliveryQuery) ([]meta.Delivery, error) {
	where, args := "project_id = ?", []any{q.ProjectID}
	if q.RuleID != 0 {
		where += " AND rule_id = ?"
		args = append(args, q.RuleID)
	}
	if q.Status != "" {
		where += " AND status = ?"
		args = append(args, q.Status)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := m.db.r.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM alert_deliveries WHERE `+where+` ORDER BY id DESC LIMIT ?`,
		append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("meta: list deliveries: %w", err)
	}
	defer rows.Close()
	var out []meta.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("meta: list deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list deliveries: %w", err)
	}
	return out, nil
}

// CountIssueEvents implements meta.Alerts.
func (m *Meta) CountIssueEvents(ctx context.Context, issueID int64, at time.Time, n int, since, keep time.Time) (int64, error) {
	var total int64
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		minute := at.Unix() / 60
		if n > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO alert_issue_minutes (issue_id, minute, count) VALUES (?, ?, ?)
				ON CONFLICT (issue_id, minute) DO UPDATE SET count = count + excluded.count`, issueID, minute, n); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM alert_issue_minutes WHERE issue_id = ? AND minute < ?`,
			issueID, keep.Unix()/60); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(count), 0) FROM alert_issue_minutes WHERE issue_id = ? AND minute >= ?`,
			issueID, since.Unix()/60).Scan(&total)
	})
	if err != nil {
		return 0, fmt.Errorf("meta: count issue %d events: %w", issueID, err)
	}
	return total, nil
}

// AddIssueLink implements meta.Alerts.
func (m *Meta) AddIssueLink(ctx context.Context, l meta.IssueLink) error {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = m.now()
	}
	if _, err := m.db.w.ExecContext(ctx, `INSERT INTO issue_links (issue_id, kind, url, title, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (issue_id, url) DO NOTHING`, l.IssueID, l.Kind, l.URL, l.Title, micros(l.CreatedAt)); err != nil {
		return fmt.Errorf("meta: link issue %d: %w", l.IssueID, err)
	}
	return nil
}

// IssueLinks implements meta.Alerts.
func (m *Meta) IssueLinks(ctx context.Context, issueID int64) ([]meta.IssueLink, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT issue_id, kind, url, title, created_at FROM issue_links WHERE issue_id = ?
		ORDER BY created_at, url`, issueID)
	if err != nil {
		return nil, fmt.Errorf("meta: issue %d links: %w", issueID, err)
	}
	defer rows.Close()
	var out []meta.IssueLink
	for rows.Next() {
		var l meta.IssueLink
		var created int64
		if err := rows.Scan(&l.IssueID, &l.Kind, &l.URL, &l.Title, &created); err != nil {
			return nil, fmt.Errorf("meta: issue %d links: %w", issueID, err)
		}
		l.CreatedAt = fromMicros(created)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: issue %d links: %w", issueID, err)
	}
	return out, nil
}

// OrgMemberEmails implements meta.Alerts.
func (m *Meta) OrgMemberEmails(ctx context.Context, orgID int64) ([]string, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT u.email FROM org_members om JOIN users u ON u.id = om.user_id
		WHERE om.org_id = ? ORDER BY u.email`, orgID)
	if err != nil {
		return nil, fmt.Errorf("meta: organization %d members: %w", orgID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, fmt.Errorf("meta: organization %d members: %w", orgID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: organization %d members: %w", orgID, err)
	}
	return out, nil
}

func scanRelease(s scanner) (meta.Release, error) {
	var r meta.Release
	var projects, refs string
	var created int64
	if err := s.Scan(&r.ID, &r.OrgID, &r.Version, &projects, &refs, &created); err != nil {
		return r, notFound(err)
	}
	r.Projects = parseList(projects)
	_ = json.Unmarshal([]byte(refs), &r.Refs)
	r.CreatedAt = fromMicros(created)
	return r, nil
}

// UpsertRelease implements meta.Releases.
func (m *Meta) UpsertRelease(ctx context.Context, r meta.Release) (meta.Release, error) {
	var out meta.Release
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		cur, err := scanRelease(tx.QueryRowContext(ctx, `SELECT id, org_id, version, projects, refs, created_at FROM releases
			WHERE org_id = ? AND version = ?`, r.OrgID, r.Version))
		if errors.Is(err, meta.ErrNotFound) {
			if r.CreatedAt.IsZero() {
				r.CreatedAt = m.now()
			}
			refs, _ := json.Marshal(r.Refs)
			if r.Refs == nil {
				refs = []byte("[]")
			}
			if err := tx.QueryRowContext(ctx, `INSERT INTO releases (org_id, version, projects, refs, created_at) VALUES (?, ?, ?, ?, ?)
				RETURNING id`, r.OrgID, r.Version, jsonList(r.Projects), string(refs), micros(r.CreatedAt)).Scan(&r.ID); err != nil {
				return err
			}
			r.CreatedAt = fromMicros(micros(r.CreatedAt))
			out = r
			return nil
		}
		if err != nil {
			return err
		}
		for _, p := range r.Projects {
			if !slices.Contains(cur.Projects, p) {
				cur.Projects = append(cur.Projects, p)
			}
		}
		if r.Refs != nil {
			cur.Refs = r.Refs
		}
		refs, _ := json.Marshal(cur.Refs)
		if cur.Refs == nil {
			refs = []byte("[]")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE releases SET projects = ?, refs = ? WHERE id = ?`,
			jsonList(cur.Projects), string(refs), cur.ID); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("meta: upsert release %q: %w", r.Version, err)
	}
	return out, nil
}

// Release implements meta.Releases.
func (m *Meta) Release(ctx context.Context, orgID int64, version string) (meta.Release, error) {
	r, err := scanRelease(m.db.r.QueryRowContext(ctx, `SELECT id, org_id, version, projects, refs, created_at FROM releases
		WHERE org_id = ? AND version = ?`, orgID, version))
	if err != nil {
		return r, fmt.Errorf("meta: release %q: %w", version, err)
	}
	return r, nil
}

// SetReleaseCommits implements meta.Releases.
func (m *Meta) SetReleaseCommits(ctx context.Context, releaseID int64, repository string, cs []meta.Commit) error {
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM release_commits WHERE release_id = ? AND repository = ?`, releaseID, repository); err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO release_commits (release_id, repository, seq, sha, message, author_name,
			author_email, url, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for i, c := range cs {
			if _, err := ins.ExecContext(ctx, releaseID, repository, i, c.SHA, c.Message, c.AuthorName, c.AuthorEmail, c.URL,
				micros(c.Time)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("meta: set release %d commits: %w", releaseID, err)
	}
	return nil
}

// ReleaseCommits implements meta.Releases.
func (m *Meta) ReleaseCommits(ctx context.Context, releaseID int64) ([]meta.Commit, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT repository, sha, message, author_name, author_email, url, time FROM release_commits
		WHERE release_id = ? ORDER BY repository, seq`, releaseID)
	if err != nil {
		return nil, fmt.Errorf("meta: release %d commits: %w", releaseID, err)
	}
	defer rows.Close()
	var out []meta.Commit
	for rows.Next() {
		var c meta.Commit
		var t int64
		if err := rows.Scan(&c.Repository, &c.SHA, &c.Message, &c.AuthorName, &c.AuthorEmail, &c.URL, &t); err != nil {
			return nil, fmt.Errorf("meta: release %d commits: %w", releaseID, err)
		}
		c.Time = fromMicros(t)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: release %d commits: %w", releaseID, err)
	}
	return out, nil
}
