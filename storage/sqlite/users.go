package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

var (
	_ meta.Users         = (*Meta)(nil)
	_ meta.IssueSearcher = (*Meta)(nil)
	_ meta.IssueDeleter  = (*Meta)(nil)
)

// CreateUser implements meta.Users.
func (m *Meta) CreateUser(ctx context.Context, u meta.User) (meta.User, error) {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = m.now().UTC()
	}
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	err := m.db.w.QueryRowContext(ctx, `INSERT INTO users (email, password_hash, admin, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		u.Email, u.PasswordHash, u.Admin, micros(u.CreatedAt)).Scan(&u.ID)
	if isUnique(err) {
		return u, fmt.Errorf("meta: create user %q: %w", u.Email, meta.ErrExists)
	}
	if err != nil {
		return u, fmt.Errorf("meta: create user %q: %w", u.Email, err)
	}
	u.CreatedAt = fromMicros(micros(u.CreatedAt))
	return u, nil
}

func scanUser(s scanner) (meta.User, error) {
	var u meta.User
	var created int64
	err := s.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Admin, &created)
	u.CreatedAt = fromMicros(created)
	return u, notFound(err)
}

const userColumns = `id, email, password_hash, admin, created_at`

// User implements meta.Users.
func (m *Meta) User(ctx context.Context, id int64) (meta.User, error) {
	u, err := scanUser(m.db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return u, fmt.Errorf("meta: user %d: %w", id, err)
	}
	return u, nil
}

// UserByEmail implements meta.Users; emails compare case-insensitively.
func (m *Meta) UserByEmail(ctx context.Context, email string) (meta.User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	u, err := scanUser(m.db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	if err != nil {
		return u, fmt.Errorf("meta: user %q: %w", email, err)
	}
	return u, nil
}

// CountUsers implements meta.Users.
func (m *Meta) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	if err := m.db.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("meta: count users: %w", err)
	}
	return n, nil
}

// AddMember implements meta.Users.
func (m *Meta) AddMember(ctx context.Context, userID, orgID int64) error {
	// The first member of an organization owns it, so a new organization
	// always has someone who can manage it.
	if _, err := m.db.w.ExecContext(ctx, `INSERT OR IGNORE INTO org_members (user_id, org_id, role)
		VALUES (?, ?, CASE WHEN EXISTS (SELECT 1 FROM org_members WHERE org_id = ?) THEN 'member' ELSE 'owner' END)`, userID, orgID, orgID); err != nil {
		return fmt.Errorf("meta: add member: %w", err)
	}
	return nil
}

// UserOrgs implements meta.Users.
func (m *Meta) UserOrgs(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT org_id FROM org_members WHERE user_id = ? ORDER BY org_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("meta: user orgs: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("meta: user orgs: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// CreateSession implements meta.Users.
func (m *Meta) CreateSession(ctx context.Context, s meta.Session) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = m.now().UTC()
	}
	if _, err := m.db.w.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, csrf, expires_at, created_at) VALUES (?, ?, ?, ?, ?)`,
		s.Hash, s.UserID, s.CSRF, micros(s.ExpiresAt), micros(s.CreatedAt)); err != nil {
		return fmt.Errorf("meta: create session: %w", err)
	}
	return nil
}

// SessionByHash implements meta.Users.
func (m *Meta) SessionByHash(ctx context.Context, hash string, now time.Time) (meta.Session, error) {
	var s meta.Session
	var exp, created int64
	err := m.db.r.QueryRowContext(ctx, `SELECT hash, user_id, csrf, expires_at, created_at FROM sessions WHERE hash = ? AND expires_at > ?`,
		hash, micros(now)).Scan(&s.Hash, &s.UserID, &s.CSRF, &exp, &created)
	s.ExpiresAt, s.CreatedAt = fromMicros(exp), fromMicros(created)
	if err != nil {
		return s, fmt.Errorf("meta: session: %w", notFound(err))
	}
	return s, nil
}

// DeleteSession implements meta.Users; expired sessions go with it, so the
// table does not grow without bound.
func (m *Meta) DeleteSession(ctx context.Context, hash string) error {
	if _, err := m.db.w.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ? OR expires_at <= ?`, hash, micros(m.now())); err != nil {
		return fmt.Errorf("meta: delete session: %w", err)
	}
	return nil
}

// SearchIssues implements meta.IssueSearcher.
func (m *Meta) SearchIssues(ctx context.Context, q meta.IssueSearch) ([]meta.Issue, bool, error) {
	order := "last_seen DESC, id DESC"
	switch q.Sort {
	case "", "date":
	case "new":
		order = "first_seen DESC, id DESC"
	case "freq":
		order = "times_seen DESC, id DESC"
	case "user":
		order = "user_count DESC, id DESC"
	default:
		return nil, false, fmt.Errorf("meta: search issues: unknown sort %q", q.Sort)
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
	if q.Level != "" {
		where += " AND level = ?"
		args = append(args, q.Level)
	}
	if q.Text != "" {
		// instr on lowercased text rather than LIKE, so % and _ typed by
		// the user match themselves.
		where += " AND instr(lower(title), ?) > 0"
		args = append(args, strings.ToLower(q.Text))
	}
	if q.Release != "" {
		where += " AND (first_release = ? OR last_release = ?)"
		args = append(args, q.Release, q.Release)
	}
	if q.Environment != "" {
		where += " AND EXISTS (SELECT 1 FROM json_each(issues.environments) WHERE value = ?)"
		args = append(args, q.Environment)
	}
	if len(q.IssueIDs) > 0 {
		// One JSON parameter instead of one per id: the list may hold
		// thousands, past SQLite's bound-parameter limit.
		b, _ := json.Marshal(q.IssueIDs)
		where += " AND id IN (SELECT value FROM json_each(?))"
		args = append(args, string(b))
	}
	return m.issuePage(ctx, "search issues", where, order, args, limit, q.Offset)
}

// DeleteIssues implements meta.IssueDeleter.
func (m *Meta) DeleteIssues(ctx context.Context, projectID int64, ids []int64) (int, error) {
	n := 0
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		for _, id := range ids {
			// Hashes reference the issue, so they go first; the project
			// condition on every statement keeps other projects' rows.
			if _, err := tx.ExecContext(ctx, `DELETE FROM issue_hashes WHERE project_id = ? AND issue_id = ?`, projectID, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM issue_events WHERE issue_id = ? AND project_id = ?`, id, projectID); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM issues WHERE id = ? AND project_id = ?`, id, projectID)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k > 0 {
				n++
				// These tables have no project column (user_reports has
				// one, but a report names the issue only once found);
				// the issue was the project's, so its rows go with it.
				for _, q := range []string{
					`DELETE FROM issue_links WHERE issue_id = ?`,
					`DELETE FROM alert_issue_minutes WHERE issue_id = ?`,
					`DELETE FROM user_reports WHERE issue_id = ?`,
				} {
					if _, err := tx.ExecContext(ctx, q, id); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("meta: delete issues: %w", err)
	}
	return n, nil
}
