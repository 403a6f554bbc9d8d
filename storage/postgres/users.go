package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairn-dev/cairn/storage/meta"
)

var (
	_ meta.Users           = (*Meta)(nil)
	_ meta.Access          = (*Meta)(nil)
	_ meta.Invitations     = (*Meta)(nil)
	_ meta.Accounts        = (*Meta)(nil)
	_ meta.ProjectSettings = (*Meta)(nil)
)

// CreateUser implements meta.Users.
func (m *Meta) CreateUser(ctx context.Context, u meta.User) (meta.User, error) {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = m.now()
	}
	u.CreatedAt = stamp(u.CreatedAt)
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	err := m.db.pool.QueryRow(ctx, `INSERT INTO users (email, password_hash, admin, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		u.Email, u.PasswordHash, u.Admin, u.CreatedAt).Scan(&u.ID)
	if isUnique(err) {
		return u, fmt.Errorf("meta: create user %q: %w", u.Email, meta.ErrExists)
	}
	if err != nil {
		return u, fmt.Errorf("meta: create user %q: %w", u.Email, err)
	}
	return u, nil
}

const userColumns = `id, email, password_hash, admin, created_at`

func scanUser(row pgx.Row) (meta.User, error) {
	var u meta.User
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Admin, &u.CreatedAt)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, notFound(err)
}

// User implements meta.Users.
func (m *Meta) User(ctx context.Context, id int64) (meta.User, error) {
	u, err := scanUser(m.db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return u, fmt.Errorf("meta: user %d: %w", id, err)
	}
	return u, nil
}

// UserByEmail implements meta.Users; emails compare case-insensitively.
func (m *Meta) UserByEmail(ctx context.Context, email string) (meta.User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	u, err := scanUser(m.db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	if err != nil {
		return u, fmt.Errorf("meta: user %q: %w", email, err)
	}
	return u, nil
}

// CountUsers implements meta.Users.
func (m *Meta) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	if err := m.db.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("meta: count users: %w", err)
	}
	return n, nil
}

// AddMember implements meta.Users. The first member of an organization
// owns it; the organization's row lock orders concurrent first members,
// so exactly one of them becomes the owner.
func (m *Meta) AddMember(ctx context.Context, userID, orgID int64) error {
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, orgID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO org_members (user_id, org_id, role)
			VALUES ($1, $2, CASE WHEN EXISTS (SELECT 1 FROM org_members WHERE org_id = $2) THEN 'member' ELSE 'owner' END)
			ON CONFLICT DO NOTHING`, userID, orgID)
		return err
	})
	if err != nil {
		return fmt.Errorf("meta: add member: %w", err)
	}
	return nil
}

// int64s runs a query returning one bigint column.
func (m *Meta) int64s(ctx context.Context, what, query string, args ...any) ([]int64, error) {
	rows, err := m.db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("meta: %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("meta: %s: %w", what, err)
	}
	return out, nil
}

// UserOrgs implements meta.Users.
func (m *Meta) UserOrgs(ctx context.Context, userID int64) ([]int64, error) {
	return m.int64s(ctx, "user orgs", `SELECT org_id FROM org_members WHERE user_id = $1 ORDER BY org_id`, userID)
}

// CreateSession implements meta.Users.
func (m *Meta) CreateSession(ctx context.Context, s meta.Session) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = m.now()
	}
	if _, err := m.db.pool.Exec(ctx, `INSERT INTO sessions (hash, user_id, csrf, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
		s.Hash, s.UserID, s.CSRF, stamp(s.ExpiresAt), stamp(s.CreatedAt)); err != nil {
		return fmt.Errorf("meta: create session: %w", err)
	}
	return nil
}

// SessionByHash implements meta.Users.
func (m *Meta) SessionByHash(ctx context.Context, hash string, now time.Time) (meta.Session, error) {
	var s meta.Session
	err := m.db.pool.QueryRow(ctx, `SELECT hash, user_id, csrf, expires_at, created_at FROM sessions WHERE hash = $1 AND expires_at > $2`,
		hash, now).Scan(&s.Hash, &s.UserID, &s.CSRF, &s.ExpiresAt, &s.CreatedAt)
	if err != nil {
		return s, fmt.Errorf("meta: session: %w", notFound(err))
	}
	s.ExpiresAt, s.CreatedAt = s.ExpiresAt.UTC(), s.CreatedAt.UTC()
	return s, nil
}

// DeleteSession implements meta.Users; expired sessions go with it, so the
// table does not grow without bound.
func (m *Meta) DeleteSession(ctx context.Context, hash string) error {
	if _, err := m.db.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1 OR expires_at <= $2`, hash, m.now()); err != nil {
		return fmt.Errorf("meta: delete session: %w", err)
	}
	return nil
}

// changed turns "no row changed" into ErrNotFound.
func changed(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return meta.ErrNotFound
	}
	return nil
}

// MemberRole implements meta.Access.
func (m *Meta) MemberRole(ctx context.Context, orgID, userID int64) (meta.Role, error) {
	var r string
	if err := m.db.pool.QueryRow(ctx, `SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID).Scan(&r); err != nil {
		return "", fmt.Errorf("meta: member role: %w", notFound(err))
	}
	return meta.Role(r), nil
}

// checkOwners locks the organization's memberships and reports
// ErrLastOwner when userID, whose role is read under the lock, is an
// owner that a change would leave as none. Locking the organization row
// serializes owners demoting each other at once.
func checkOwners(ctx context.Context, tx pgx.Tx, orgID, userID int64) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, orgID); err != nil {
		return err
	}
	var cur string
	if err := tx.QueryRow(ctx, `SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID).Scan(&cur); err != nil {
		return notFound(err)
	}
	if cur != string(meta.RoleOwner) {
		return nil
	}
	var others int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM org_members WHERE org_id = $1 AND role = 'owner' AND user_id <> $2`, orgID, userID).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return meta.ErrLastOwner
	}
	return nil
}

// SetMemberRole implements meta.Access.
func (m *Meta) SetMemberRole(ctx context.Context, orgID, userID int64, role meta.Role) error {
	if !role.Valid() {
		return fmt.Errorf("meta: set role: unknown role %q", role)
	}
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		if role != meta.RoleOwner {
			if err := checkOwners(ctx, tx, orgID, userID); err != nil {
				return err
			}
		}
		return changed(tx.Exec(ctx, `UPDATE org_members SET role = $1 WHERE org_id = $2 AND user_id = $3`, string(role), orgID, userID))
	})
	if err != nil {
		return fmt.Errorf("meta: set role: %w", err)
	}
	return nil
}

// ListMembers implements meta.Access.
func (m *Meta) ListMembers(ctx context.Context, orgID int64) ([]meta.Member, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT u.id, u.email, m.role FROM org_members m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = $1 ORDER BY u.email`, orgID)
	if err != nil {
		return nil, fmt.Errorf("meta: list members: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Member, error) {
		var mb meta.Member
		var role string
		err := r.Scan(&mb.UserID, &mb.Email, &role)
		mb.Role = meta.Role(role)
		return mb, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: list members: %w", err)
	}
	return out, nil
}

// RemoveMember implements meta.Access.
func (m *Meta) RemoveMember(ctx context.Context, orgID, userID int64) error {
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		if err := checkOwners(ctx, tx, orgID, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM team_members WHERE user_id = $1 AND team_id IN (SELECT id FROM teams WHERE org_id = $2)`, userID, orgID); err != nil {
			return err
		}
		return changed(tx.Exec(ctx, `DELETE FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID))
	})
	if err != nil {
		return fmt.Errorf("meta: remove member: %w", err)
	}
	return nil
}

// CreateTeam implements meta.Access.
func (m *Meta) CreateTeam(ctx context.Context, t meta.Team) (meta.Team, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = m.now()
	}
	t.CreatedAt = stamp(t.CreatedAt)
	err := m.db.pool.QueryRow(ctx, `INSERT INTO teams (org_id, slug, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		t.OrgID, t.Slug, t.Name, t.CreatedAt).Scan(&t.ID)
	if isUnique(err) {
		return t, fmt.Errorf("meta: create team %q: %w", t.Slug, meta.ErrExists)
	}
	if err != nil {
		return t, fmt.Errorf("meta: create team %q: %w", t.Slug, err)
	}
	return t, nil
}

func scanTeam(row pgx.Row) (meta.Team, error) {
	var t meta.Team
	err := row.Scan(&t.ID, &t.OrgID, &t.Slug, &t.Name, &t.CreatedAt)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, notFound(err)
}

// Team implements meta.Access.
func (m *Meta) Team(ctx context.Context, orgID, teamID int64) (meta.Team, error) {
	t, err := scanTeam(m.db.pool.QueryRow(ctx, `SELECT id, org_id, slug, name, created_at FROM teams WHERE id = $1 AND org_id = $2`, teamID, orgID))
	if err != nil {
		return t, fmt.Errorf("meta: team %d: %w", teamID, err)
	}
	return t, nil
}

// RenameTeam implements meta.Access.
func (m *Meta) RenameTeam(ctx context.Context, orgID, teamID int64, name string) error {
	if err := changed(m.db.pool.Exec(ctx, `UPDATE teams SET name = $1 WHERE id = $2 AND org_id = $3`, name, teamID, orgID)); err != nil {
		return fmt.Errorf("meta: rename team %d: %w", teamID, err)
	}
	return nil
}

// DeleteTeam implements meta.Access; members and projects go by cascade.
func (m *Meta) DeleteTeam(ctx context.Context, orgID, teamID int64) error {
	if err := changed(m.db.pool.Exec(ctx, `DELETE FROM teams WHERE id = $1 AND org_id = $2`, teamID, orgID)); err != nil {
		return fmt.Errorf("meta: delete team %d: %w", teamID, err)
	}
	return nil
}

// ListTeams implements meta.Access.
func (m *Meta) ListTeams(ctx context.Context, orgID int64) ([]meta.Team, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT id, org_id, slug, name, created_at FROM teams WHERE org_id = $1 ORDER BY name, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("meta: list teams: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Team, error) { return scanTeam(r) })
	if err != nil {
		return nil, fmt.Errorf("meta: list teams: %w", err)
	}
	return out, nil
}

// AddTeamMember implements meta.Access.
func (m *Meta) AddTeamMember(ctx context.Context, teamID, userID int64) error {
	var ok bool
	if err := m.db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM teams t JOIN org_members o ON o.org_id = t.org_id WHERE t.id = $1 AND o.user_id = $2)`,
		teamID, userID).Scan(&ok); err != nil {
		return fmt.Errorf("meta: add team member: %w", err)
	}
	if !ok {
		return fmt.Errorf("meta: add team member: %w", meta.ErrNotFound)
	}
	if _, err := m.db.pool.Exec(ctx, `INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, teamID, userID); err != nil {
		return fmt.Errorf("meta: add team member: %w", err)
	}
	return nil
}

// RemoveTeamMember implements meta.Access.
func (m *Meta) RemoveTeamMember(ctx context.Context, teamID, userID int64) error {
	if _, err := m.db.pool.Exec(ctx, `DELETE FROM team_members WHERE team_id = $1 AND user_id = $2`, teamID, userID); err != nil {
		return fmt.Errorf("meta: remove team member: %w", err)
	}
	return nil
}

// TeamMembers implements meta.Access.
func (m *Meta) TeamMembers(ctx context.Context, teamID int64) ([]int64, error) {
	return m.int64s(ctx, "team members", `SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY user_id`, teamID)
}

// AddTeamProject implements meta.Access.
func (m *Meta) AddTeamProject(ctx context.Context, teamID, projectID int64) error {
	var ok bool
	if err := m.db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM teams t JOIN projects p ON p.org_id = t.org_id WHERE t.id = $1 AND p.id = $2)`,
		teamID, projectID).Scan(&ok); err != nil {
		return fmt.Errorf("meta: add team project: %w", err)
	}
	if !ok {
		return fmt.Errorf("meta: add team project: %w", meta.ErrNotFound)
	}
	if _, err := m.db.pool.Exec(ctx, `INSERT INTO team_projects (team_id, project_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, teamID, projectID); err != nil {
		return fmt.Errorf("meta: add team project: %w", err)
	}
	return nil
}

// RemoveTeamProject implements meta.Access.
func (m *Meta) RemoveTeamProject(ctx context.Context, teamID, projectID int64) error {
	if _, err := m.db.pool.Exec(ctx, `DELETE FROM team_projects WHERE team_id = $1 AND project_id = $2`, teamID, projectID); err != nil {
		return fmt.Errorf("meta: remove team project: %w", err)
	}
	return nil
}

// TeamProjects implements meta.Access.
func (m *Meta) TeamProjects(ctx context.Context, teamID int64) ([]int64, error) {
	return m.int64s(ctx, "team projects", `SELECT project_id FROM team_projects WHERE team_id = $1 ORDER BY project_id`, teamID)
}

// UserTeams implements meta.Access.
func (m *Meta) UserTeams(ctx context.Context, orgID, userID int64) ([]int64, error) {
	return m.int64s(ctx, "user teams", `SELECT tm.team_id FROM team_members tm JOIN teams t ON t.id = tm.team_id
		WHERE t.org_id = $1 AND tm.user_id = $2 ORDER BY tm.team_id`, orgID, userID)
}

// ProjectTeams implements meta.Access.
func (m *Meta) ProjectTeams(ctx context.Context, projectID int64) ([]int64, error) {
	return m.int64s(ctx, "project teams", `SELECT team_id FROM team_projects WHERE project_id = $1 ORDER BY team_id`, projectID)
}

const invitationColumns = `id, org_id, email, role, nonce, created_by, expires_at, created_at`

func scanInvitation(row pgx.Row) (meta.Invitation, error) {
	var inv meta.Invitation
	var role string
	err := row.Scan(&inv.ID, &inv.OrgID, &inv.Email, &role, &inv.Nonce, &inv.CreatedBy, &inv.ExpiresAt, &inv.CreatedAt)
	inv.Role, inv.ExpiresAt, inv.CreatedAt = meta.Role(role), inv.ExpiresAt.UTC(), inv.CreatedAt.UTC()
	return inv, notFound(err)
}

// CreateInvitation implements meta.Invitations.
func (m *Meta) CreateInvitation(ctx context.Context, inv meta.Invitation) (meta.Invitation, error) {
	if inv.CreatedAt.IsZero() {
		inv.CreatedAt = m.now()
	}
	inv.CreatedAt, inv.ExpiresAt = stamp(inv.CreatedAt), stamp(inv.ExpiresAt)
	err := m.db.pool.QueryRow(ctx, `INSERT INTO invitations (org_id, email, role, nonce, created_by, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, inv.OrgID, inv.Email, string(inv.Role), inv.Nonce, inv.CreatedBy,
		inv.ExpiresAt, inv.CreatedAt).Scan(&inv.ID)
	if isUnique(err) {
		return inv, fmt.Errorf("meta: create invitation: %w", meta.ErrExists)
	}
	if err != nil {
		return inv, fmt.Errorf("meta: create invitation: %w", err)
	}
	return inv, nil
}

// InvitationByNonce implements meta.Invitations.
func (m *Meta) InvitationByNonce(ctx context.Context, nonce string) (meta.Invitation, error) {
	inv, err := scanInvitation(m.db.pool.QueryRow(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE nonce = $1 AND used_at IS NULL`, nonce))
	if err != nil {
		return inv, fmt.Errorf("meta: invitation: %w", err)
	}
	return inv, nil
}

// ListInvitations implements meta.Invitations.
func (m *Meta) ListInvitations(ctx context.Context, orgID int64, now time.Time) ([]meta.Invitation, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE org_id = $1 AND used_at IS NULL AND expires_at > $2 ORDER BY id DESC`,
		orgID, now)
	if err != nil {
		return nil, fmt.Errorf("meta: list invitations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Invitation, error) { return scanInvitation(r) })
	if err != nil {
		return nil, fmt.Errorf("meta: list invitations: %w", err)
	}
	return out, nil
}

// DeleteInvitation implements meta.Invitations.
func (m *Meta) DeleteInvitation(ctx context.Context, orgID, id int64) error {
	if err := changed(m.db.pool.Exec(ctx, `DELETE FROM invitations WHERE id = $1 AND org_id = $2`, id, orgID)); err != nil {
		return fmt.Errorf("meta: delete invitation: %w", err)
	}
	return nil
}

// ClaimInvitation implements meta.Invitations.
func (m *Meta) ClaimInvitation(ctx context.Context, id int64) error {
	if err := changed(m.db.pool.Exec(ctx, `UPDATE invitations SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, stamp(m.now()), id)); err != nil {
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
	if _, err := m.db.pool.Exec(ctx, `INSERT INTO signing_keys (purpose, secret) VALUES ($1, $2) ON CONFLICT DO NOTHING`, purpose, fresh); err != nil {
		return nil, fmt.Errorf("meta: signing key: %w", err)
	}
	var key []byte
	if err := m.db.pool.QueryRow(ctx, `SELECT secret FROM signing_keys WHERE purpose = $1`, purpose).Scan(&key); err != nil {
		return nil, fmt.Errorf("meta: signing key: %w", err)
	}
	return key, nil
}

// SetPassword implements meta.Accounts.
func (m *Meta) SetPassword(ctx context.Context, userID int64, hash string) error {
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		if err := changed(tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
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
		t.CreatedAt = m.now()
	}
	t.CreatedAt = stamp(t.CreatedAt)
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO api_tokens (org_id, token_hash, name, scopes, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, t.OrgID, t.Hash, t.Name, nonNil(t.Scopes), t.CreatedAt).Scan(&t.ID)
		if isUnique(err) {
			return meta.ErrExists
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO api_token_users (token_id, user_id, suffix) VALUES ($1, $2, $3)`, t.ID, userID, suffix)
		return err
	})
	if err != nil {
		return meta.UserToken{}, fmt.Errorf("meta: create user token: %w", err)
	}
	return meta.UserToken{Token: t, UserID: userID, Suffix: suffix}, nil
}

// ListUserTokens implements meta.Accounts.
func (m *Meta) ListUserTokens(ctx context.Context, userID int64) ([]meta.UserToken, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT t.id, t.org_id, t.token_hash, t.name, t.scopes, t.created_at, u.suffix
		FROM api_token_users u JOIN api_tokens t ON t.id = u.token_id WHERE u.user_id = $1 ORDER BY t.id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("meta: list user tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.UserToken, error) {
		ut := meta.UserToken{UserID: userID}
		err := r.Scan(&ut.ID, &ut.OrgID, &ut.Hash, &ut.Name, &ut.Scopes, &ut.CreatedAt, &ut.Suffix)
		ut.CreatedAt = ut.CreatedAt.UTC()
		return ut, err
	})
	if err != nil {
		return nil, fmt.Errorf("meta: list user tokens: %w", err)
	}
	return out, nil
}

// TokenOwner implements meta.Accounts.
func (m *Meta) TokenOwner(ctx context.Context, tokenID int64) (int64, error) {
	var id int64
	if err := m.db.pool.QueryRow(ctx, `SELECT user_id FROM api_token_users WHERE token_id = $1`, tokenID).Scan(&id); err != nil {
		return 0, fmt.Errorf("meta: token owner: %w", notFound(err))
	}
	return id, nil
}

// RevokeToken implements meta.Accounts.
func (m *Meta) RevokeToken(ctx context.Context, tokenID int64) error {
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM api_token_projects WHERE token_id = $1`, tokenID); err != nil {
			return err
		}
		return changed(tx.Exec(ctx, `DELETE FROM api_tokens WHERE id = $1`, tokenID))
	})
	if err != nil {
		return fmt.Errorf("meta: revoke token %d: %w", tokenID, err)
	}
	return nil
}

// UpdateKey implements meta.ProjectSettings.
func (m *Meta) UpdateKey(ctx context.Context, k meta.Key) error {
	if err := changed(m.db.pool.Exec(ctx, `UPDATE project_keys SET label = $1, disabled = $2 WHERE id = $3 AND project_id = $4`,
		k.Label, k.Disabled, k.ID, k.ProjectID)); err != nil {
		return fmt.Errorf("meta: update key %d: %w", k.ID, err)
	}
	return nil
}

// UpdateProjectSettings implements meta.ProjectSettings.
func (m *Meta) UpdateProjectSettings(ctx context.Context, p meta.Project) error {
	if err := changed(m.db.pool.Exec(ctx, `UPDATE projects SET scrub = $1, scrub_fields = $2, drop_minidumps = $3 WHERE id = $4`,
		p.Scrub, nonNil(p.ScrubFields), p.DropMinidumps, p.ID)); err != nil {
		return fmt.Errorf("meta: update settings of project %d: %w", p.ID, err)
	}
	return nil
}

// DeleteKey implements meta.ProjectSettings.
func (m *Meta) DeleteKey(ctx context.Context, projectID, id int64) error {
	if err := changed(m.db.pool.Exec(ctx, `DELETE FROM project_keys WHERE id = $1 AND project_id = $2`, id, projectID)); err != nil {
		return fmt.Errorf("meta: delete key %d: %w", id, err)
	}
	return nil
}

// ProjectSources implements meta.ProjectSettings.
func (m *Meta) ProjectSources(ctx context.Context, projectID int64) ([]byte, error) {
	var s string
	err := m.db.pool.QueryRow(ctx, `SELECT config FROM project_sources WHERE project_id = $1`, projectID).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return []byte("[]"), nil
	}
	if err != nil {
		return nil, fmt.Errorf("meta: project sources: %w", err)
	}
	return []byte(s), nil
}

// SetProjectSources implements meta.ProjectSettings.
func (m *Meta) SetProjectSources(ctx context.Context, projectID int64, sources []byte) error {
	if _, err := m.db.pool.Exec(ctx, `INSERT INTO project_sources (project_id, config, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (project_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
		projectID, string(sources), stamp(m.now())); err != nil {
		return fmt.Errorf("meta: set project sources: %w", err)
	}
	return nil
}
