package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

var (
	_ meta.Access          = (*Meta)(nil)
	_ meta.Invitations     = (*Meta)(nil)
	_ meta.Accounts        = (*Meta)(nil)
	_ meta.ProjectSettings = (*Meta)(nil)
)

// ids runs a query returning one integer column.
func (m *Meta) ids(ctx context.Context, what, query string, args ...any) ([]int64, error) {
	rows, err := m.db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("meta: %s: %w", what, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("meta: %s: %w", what, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: %s: %w", what, err)
	}
	return out, nil
}

// affected turns "no row changed" into ErrNotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return meta.ErrNotFound
	}
	return nil
}

// MemberRole implements meta.Access.
func (m *Meta) MemberRole(ctx context.Context, orgID, userID int64) (meta.Role, error) {
	var r string
	err := m.db.r.QueryRowContext(ctx, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID).Scan(&r)
	if err != nil {
		return "", fmt.Errorf("meta: member role: %w", notFound(err))
	}
	return meta.Role(r), nil
}

// lastOwner reports whether userID is the only owner of the organization.
func lastOwner(ctx context.Context, tx *sql.Tx, orgID, userID int64) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM org_members WHERE org_id = ? AND role = 'owner' AND user_id <> ?`, orgID, userID).Scan(&n)
	return n == 0, err
}

// SetMemberRole implements meta.Access. The owner count is checked in the
// write transaction, so two owners demoting each other at once cannot
// both succeed.
func (m *Meta) SetMemberRole(ctx context.Context, orgID, userID int64, role meta.Role) error {
	if !role.Valid() {
		return fmt.Errorf("meta: set role: unknown role %q", role)
	}
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var cur string
		if err := tx.QueryRowContext(ctx, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID).Scan(&cur); err != nil {
			return notFound(err)
		}
		if cur == string(meta.RoleOwner) && role != meta.RoleOwner {
			last, err := lastOwner(ctx, tx, orgID, userID)
			if err != nil {
				return err
			}
			if last {
				return meta.ErrLastOwner
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE org_members SET role = ? WHERE org_id = ? AND user_id = ?`, string(role), orgID, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("meta: set role: %w", err)
	}
	return nil
}

// ListMembers implements meta.Access.
func (m *Meta) ListMembers(ctx context.Context, orgID int64) ([]meta.Member, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT u.id, u.email, m.role FROM org_members m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = ? ORDER BY u.email`, orgID)
	if err != nil {
		return nil, fmt.Errorf("meta: list members: %w", err)
	}
	defer rows.Close()
	var out []meta.Member
	for rows.Next() {
		var mb meta.Member
		var role string
		if err := rows.Scan(&mb.UserID, &mb.Email, &role); err != nil {
			return nil, fmt.Errorf("meta: list members: %w", err)
		}
		mb.Role = meta.Role(role)
		out = append(out, mb)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list members: %w", err)
	}
	return out, nil
}

// RemoveMember implements meta.Access.
func (m *Meta) RemoveMember(ctx context.Context, orgID, userID int64) error {
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var cur string
		if err := tx.QueryRowContext(ctx, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID).Scan(&cur); err != nil {
			return notFound(err)
		}
		if cur == string(meta.RoleOwner) {
			last, err := lastOwner(ctx, tx, orgID, userID)
			if err != nil {
				return err
			}
			if last {
				return meta.ErrLastOwner
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM team_members WHERE user_id = ? AND team_id IN (SELECT id FROM teams WHERE org_id = ?)`, userID, orgID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("meta: remove member: %w", err)
	}
	return nil
}

// CreateTeam implements meta.Access.
func (m *Meta) CreateTeam(ctx context.Context, t meta.Team) (meta.Team, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = m.now().UTC()
	}
	err := m.db.w.QueryRowContext(ctx, `INSERT INTO teams (org_id, slug, name, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		t.OrgID, t.Slug, t.Name, micros(t.CreatedAt)).Scan(&t.ID)
	if isUnique(err) {
		return t, fmt.Errorf("meta: create team %q: %w", t.Slug, meta.ErrExists)
	}
	if err != nil {
		return t, fmt.Errorf("meta: create team %q: %w", t.Slug, err)
	}
	t.CreatedAt = fromMicros(micros(t.CreatedAt))
	return t, nil
}

func scanTeam(s scanner) (meta.Team, error) {
	var t meta.Team
	var created int64
	err := s.Scan(&t.ID, &t.OrgID, &t.Slug, &t.Name, &created)
	t.CreatedAt = fromMicros(created)
	return t, notFound(err)
}

// Team implements meta.Access.
func (m *Meta) Team(ctx context.Context, orgID, teamID int64) (meta.Team, error) {
	t, err := scanTeam(m.db.r.QueryRowContext(ctx, `SELECT id, org_id, slug, name, created_at FROM teams WHERE id = ? AND org_id = ?`, teamID, orgID))
	if err != nil {
		return t, fmt.Errorf("meta: team %d: %w", teamID, err)
	}
	return t, nil
}

// RenameTeam implements meta.Access.
func (m *Meta) RenameTeam(ctx context.Context, orgID, teamID int64, name string) error {
	if err := affected(m.db.w.ExecContext(ctx, `UPDATE teams SET name = ? WHERE id = ? AND org_id = ?`, name, teamID, orgID)); err != nil {
		return fmt.Errorf("meta: rename team %d: %w", teamID, err)
	}
	return nil
}

// DeleteTeam implements meta.Access.
func (m *Meta) DeleteTeam(ctx context.Context, orgID, teamID int64) error {
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// Explicit deletes rather than trusting ON DELETE CASCADE, which
		// depends on the connection's foreign_keys pragma.
		if _, err := tx.ExecContext(ctx, `DELETE FROM team_members WHERE team_id IN (SELECT id FROM teams WHERE id = ? AND org_id = ?)`, teamID, orgID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM team_projects WHERE team_id IN (SELECT id FROM teams WHERE id = ? AND org_id = ?)`, teamID, orgID); err != nil {
			return err
		}
		return affected(tx.ExecContext(ctx, `DELETE FROM teams WHERE id = ? AND org_id = ?`, teamID, orgID))
	})
	if err != nil {
		return fmt.Errorf("meta: delete team %d: %w", teamID, err)
	}
	return nil
}

// ListTeams implements meta.Access.
func (m *Meta) ListTeams(ctx context.Context, orgID int64) ([]meta.Team, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT id, org_id, slug, name, created_at FROM teams WHERE org_id = ? ORDER BY name, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("meta: list teams: %w", err)
	}
	defer rows.Close()
	var out []meta.Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, fmt.Errorf("meta: list teams: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list teams: %w", err)
	}
	return out, nil
}

// AddTeamMember implements meta.Access.
func (m *Meta) AddTeamMember(ctx context.Context, teamID, userID int64) error {
	var ok bool
	if err := m.db.w.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM teams t JOIN org_members o ON o.org_id = t.org_id WHERE t.id = ? AND o.user_id = ?)`,
		teamID, userID).Scan(&ok); err != nil {
		return fmt.Errorf("meta: add team member: %w", err)
	}
	if !ok {
		return fmt.Errorf("meta: add team member: %w", meta.ErrNotFound)
	}
	if _, err := m.db.w.ExecContext(ctx, `INSERT OR IGNORE INTO team_members (team_id, user_id) VALUES (?, ?)`, teamID, userID); err != nil {
		return fmt.Errorf("meta: add team member: %w", err)
	}
	return nil
}

// RemoveTeamMember implements meta.Access.
func (m *Meta) RemoveTeamMember(ctx context.Context, teamID, userID int64) error {
	if _, err := m.db.w.ExecContext(ctx, `DELETE FROM team_members WHERE team_id = ? AND user_id = ?`, teamID, userID); err != nil {
		return fmt.Errorf("meta: remove team member: %w", err)
	}
	return nil
}

// TeamMembers implements meta.Access.
func (m *Meta) TeamMembers(ctx context.Context, teamID int64) ([]int64, error) {
	return m.ids(ctx, "team members", `SELECT user_id FROM team_members WHERE team_id = ? ORDER BY user_id`, teamID)
}

// AddTeamProject implements meta.Access.
func (m *Meta) AddTeamProject(ctx context.Context, teamID, projectID int64) error {
	var ok bool
	if err := m.db.w.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM teams t JOIN projects p ON p.org_id = t.org_id WHERE t.id = ? AND p.id = ?)`,
		teamID, projectID).Scan(&ok); err != nil {
		return fmt.Errorf("meta: add team project: %w", err)
	}
	if !ok {
		return fmt.Errorf("meta: add team project: %w", meta.ErrNotFound)
	}
	if _, err := m.db.w.ExecContext(ctx, `INSERT OR IGNORE INTO team_projects (team_id, project_id) VALUES (?, ?)`, teamID, projectID); err != nil {
		return fmt.Errorf("meta: add team project: %w", err)
	}
	return nil
}

// RemoveTeamProject implements meta.Access.
func (m *Meta) RemoveTeamProject(ctx context.Context, teamID, projectID int64) error {
	if _, err := m.db.w.ExecContext(ctx, `DELETE FROM team_projects WHERE team_id = ? AND project_id = ?`, teamID, projectID); err != nil {
		return fmt.Errorf("meta: remove team project: %w", err)
	}
	return nil
}

// TeamProjects implements meta.Access.
func (m *Meta) TeamProjects(ctx context.Context, teamID int64) ([]int64, error) {
	return m.ids(ctx, "team projects", `SELECT project_id FROM team_projects WHERE team_id = ? ORDER BY project_id`, teamID)
}

// UserTeams implements meta.Access.
func (m *Meta) UserTeams(ctx context.Context, orgID, userID int64) ([]int64, error) {
	return m.ids(ctx, "user teams", `SELECT tm.team_id FROM team_members tm JOIN teams t ON t.id = tm.team_id
		WHERE t.org_id = ? AND tm.user_id = ? ORDER BY tm.team_id`, orgID, userID)
}

// ProjectTeams implements meta.Access.
func (m *Meta) ProjectTeams(ctx context.Context, projectID int64) ([]int64, error) {
	return m.ids(ctx, "project teams", `SELECT team_id FROM team_projects WHERE project_id = ? ORDER BY team_id`, projectID)
}

const invitationColumns = `id, org_id, email, role, nonce, created_by, expires_at, created_at`

func scanInvitation(s scanner) (meta.Invitation, error) {
	var inv meta.Invitation
	var role string
	var exp, created int64
	err := s.Scan(&inv.ID, &inv.OrgID, &inv.Email, &role, &inv.Nonce, &inv.CreatedBy, &exp, &created)
	inv.Role, inv.ExpiresAt, inv.CreatedAt = meta.Role(role), fromMicros(exp), fromMicros(created)
	return inv, notFound(err)
}

// CreateInvitation implements meta.Invitations.
func (m *Meta) CreateInvitation(ctx context.Context, inv meta.Invitation) (meta.Invitation, error) {
	if inv.CreatedAt.IsZero() {
		inv.CreatedAt = m.now().UTC()
	}
	err := m.db.w.QueryRowContext(ctx, `INSERT INTO invitations (org_id, email, role, nonce, created_by, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, inv.OrgID, inv.Email, string(inv.Role), inv.Nonce, inv.CreatedBy,
		micros(inv.ExpiresAt), micros(inv.CreatedAt)).Scan(&inv.ID)
	if isUnique(err) {
		return inv, fmt.Errorf("meta: create invitation: %w", meta.ErrExists)
	}
	if err != nil {
		return inv, fmt.Errorf("meta: create invitation: %w", err)
	}
	inv.CreatedAt, inv.ExpiresAt = fromMicros(micros(inv.CreatedAt)), fromMicros(micros(inv.ExpiresAt))
	return inv, nil
}

// InvitationByNonce implements meta.Invitations.
func (m *Meta) InvitationByNonce(ctx context.Context, nonce string) (meta.Invitation, error) {
	inv, err := scanInvitation(m.db.r.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE nonce = ? AND used_at = 0`, nonce))
	if err != nil {
		return inv, fmt.Errorf("meta: invitation: %w", err)
	}
	return inv, nil
}

// ListInvitations implements meta.Invitations.
func (m *Meta) ListInvitations(ctx context.Context, orgID int64, now time.Time) ([]meta.Invitation, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE org_id = ? AND used_at = 0 AND expires_at > ? ORDER BY id DESC`,
		orgID, micros(now))
	if err != nil {
		return nil, fmt.Errorf("meta: list invitations: %w", err)
	}
	defer rows.Close()
	var out []meta.Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, fmt.Errorf("meta: list invitations: %w", err)
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list invitations: %w", err)
	}
	return out, nil
}

// DeleteInvitation implements meta.Invitations.
func (m *Meta) DeleteInvitation(ctx context.Context, orgID, id int64) error {
	if err := affected(m.db.w.ExecContext(ctx, `DELETE FROM invitations WHERE id = ? AND org_id = ?`, id, orgID)); err != nil {
		return fmt.Errorf("meta: delete invitation: %w", err)
	}
	return nil
}

// ClaimInvitation implements meta.Invitations.
func (m *Meta) ClaimInvitation(ctx context.Context, id int64) error {
	if err := affected(m.db.w.ExecContext(ctx, `UPDATE invitations SET used_at = ? WHERE id = ? AND used_at = 0`, micros(m.now()), id)); err != nil {
		return fmt.Errorf("meta: claim invitation: %w", err)
	}
	return nil
}

// SigningKey implements meta.Invitations.
func (m *Meta) SigningKey(ctx context.Context, purpose string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("meta: signing key: %w", err)
	}
	// Insert-if-missing then read back: concurrent first uses agree.
	if _, err := m.db.w.ExecContext(ctx, `INSERT OR IGNORE INTO signing_keys (purpose, secret) VALUES (?, ?)`, purpose, fresh); err != nil {
		return nil, fmt.Errorf("meta: signing key: %w", err)
	}
	var key []byte
	if err := m.db.w.QueryRowContext(ctx, `SELECT secret FROM signing_keys WHERE purpose = ?`, purpose).Scan(&key); err != nil {
		return nil, fmt.Errorf("meta: signing key: %w", err)
	}
	return key, nil
}

// SetPassword implements meta.Accounts.
func (m *Meta) SetPassword(ctx context.Context, userID int64, hash string) error {
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := affected(tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("meta: set password: %w", err)
	}
	return nil
}

// CreateUserToken implements meta.Accounts.
func (m *Meta) CreateUserToken(ctx context.Context, t meta.Token, userID int64, suffix string) (meta.UserToken, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = m.now().UTC()
	}
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO api_tokens (org_id, token_hash, name, scopes, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, t.OrgID, t.Hash, t.Name, jsonList(t.Scopes), micros(t.CreatedAt)).Scan(&t.ID)
		if isUnique(err) {
			return meta.ErrExists
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO api_token_users (token_id, user_id, suffix) VALUES (?, ?, ?)`, t.ID, userID, suffix)
		return err
	})
	if err != nil {
		return meta.UserToken{}, fmt.Errorf("meta: create user token: %w", err)
	}
	t.CreatedAt = fromMicros(micros(t.CreatedAt))
	return meta.UserToken{Token: t, UserID: userID, Suffix: suffix}, nil
}

// ListUserTokens implements meta.Accounts.
func (m *Meta) ListUserTokens(ctx context.Context, userID int64) ([]meta.UserToken, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT t.id, t.org_id, t.token_hash, t.name, t.scopes, t.created_at, u.suffix
		FROM api_token_users u JOIN api_tokens t ON t.id = u.token_id WHERE u.user_id = ? ORDER BY t.id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("meta: list user tokens: %w", err)
	}
	defer rows.Close()
	var out []meta.UserToken
	for rows.Next() {
		ut := meta.UserToken{UserID: userID}
		var scopes string
		var created int64
		if err := rows.Scan(&ut.ID, &ut.OrgID, &ut.Hash, &ut.Name, &scopes, &created, &ut.Suffix); err != nil {
			return nil, fmt.Errorf("meta: list user tokens: %w", err)
		}
		ut.Scopes, ut.CreatedAt = parseList(scopes), fromMicros(created)
		out = append(out, ut)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list user tokens: %w", err)
	}
	return out, nil
}

// TokenOwner implements meta.Accounts.
func (m *Meta) TokenOwner(ctx context.Context, tokenID int64) (int64, error) {
	var id int64
	if err := m.db.r.QueryRowContext(ctx, `SELECT user_id FROM api_token_users WHERE token_id = ?`, tokenID).Scan(&id); err != nil {
		return 0, fmt.Errorf("meta: token owner: %w", notFound(err))
	}
	return id, nil
}

// RevokeToken implements meta.Accounts.
func (m *Meta) RevokeToken(ctx context.Context, tokenID int64) error {
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM api_token_users WHERE token_id = ?`, `DELETE FROM api_token_projects WHERE token_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, tokenID); err != nil {
				return err
			}
		}
		return affected(tx.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = ?`, tokenID))
	})
	if err != nil {
		return fmt.Errorf("meta: revoke token %d: %w", tokenID, err)
	}
	return nil
}

// UpdateKey implements meta.ProjectSettings.
func (m *Meta) UpdateKey(ctx context.Context, k meta.Key) error {
	if err := affected(m.db.w.ExecContext(ctx, `UPDATE project_keys SET label = ?, disabled = ? WHERE id = ? AND project_id = ?`,
		k.Label, k.Disabled, k.ID, k.ProjectID)); err != nil {
		return fmt.Errorf("meta: update key %d: %w", k.ID, err)
	}
	return nil
}

// UpdateProjectSettings implements meta.ProjectSettings.
func (m *Meta) UpdateProjectSettings(ctx context.Context, p meta.Project) error {
	if err := affected(m.db.w.ExecContext(ctx, `UPDATE projects SET scrub = ?, scrub_fields = ?, drop_minidumps = ? WHERE id = ?`,
		p.Scrub, jsonList(p.ScrubFields), p.DropMinidumps, p.ID)); err != nil {
		return fmt.Errorf("meta: update settings of project %d: %w", p.ID, err)
	}
	return nil
}

// DeleteKey implements meta.ProjectSettings.
func (m *Meta) DeleteKey(ctx context.Context, projectID, id int64) error {
	if err := affected(m.db.w.ExecContext(ctx, `DELETE FROM project_keys WHERE id = ? AND project_id = ?`, id, projectID)); err != nil {
		return fmt.Errorf("meta: delete key %d: %w", id, err)
	}
	return nil
}

// ProjectSources implements meta.ProjectSettings.
func (m *Meta) ProjectSources(ctx context.Context, projectID int64) ([]byte, error) {
	var s string
	err := m.db.r.QueryRowContext(ctx, `SELECT config FROM project_sources WHERE project_id = ?`, projectID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return []byte("[]"), nil
	}
	if err != nil {
		return nil, fmt.Errorf("meta: project sources: %w", err)
	}
	return []byte(s), nil
}

// SetProjectSources implements meta.ProjectSettings.
func (m *Meta) SetProjectSources(ctx context.Context, projectID int64, sources []byte) error {
	if _, err := m.db.w.ExecContext(ctx, `INSERT INTO project_sources (project_id, config, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (project_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
		projectID, string(sources), micros(m.now())); err != nil {
		return fmt.Errorf("meta: set project sources: %w", err)
	}
	return nil
}
