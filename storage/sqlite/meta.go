package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Meta is the SQLite meta.Store.
type Meta struct {
	db  *db
	now func() time.Time
}

var _ meta.Store = (*Meta)(nil)

// OpenMeta opens (creating and migrating) the metadata database at path.
func OpenMeta(ctx context.Context, path string) (*Meta, error) {
	d, err := open(ctx, path, "meta")
	if err != nil {
		return nil, err
	}
	return &Meta{db: d, now: time.Now}, nil
}

// Close implements meta.Store.
func (m *Meta) Close() error { return m.db.close() }

// isUnique reports a UNIQUE or PRIMARY KEY constraint violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return meta.ErrNotFound
	}
	return err
}

func jsonList(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func parseList(s string) []string {
	var v []string
	_ = json.Unmarshal([]byte(s), &v)
	return v
}

// CreateOrg implements meta.Orgs.
func (m *Meta) CreateOrg(ctx context.Context, o meta.Organization) (meta.Organization, error) {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = m.now().UTC()
	}
	err := m.db.w.QueryRowContext(ctx, `INSERT INTO organizations (slug, name, created_at) VALUES (?, ?, ?) RETURNING id`,
		o.Slug, o.Name, micros(o.CreatedAt)).Scan(&o.ID)
	if isUnique(err) {
		return o, fmt.Errorf("meta: create organization %q: %w", o.Slug, meta.ErrExists)
	}
	if err != nil {
		return o, fmt.Errorf("meta: create organization %q: %w", o.Slug, err)
	}
	o.CreatedAt = fromMicros(micros(o.CreatedAt))
	return o, nil
}

func (m *Meta) scanOrg(row *sql.Row) (meta.Organization, error) {
	var o meta.Organization
	var created int64
	err := row.Scan(&o.ID, &o.Slug, &o.Name, &created)
	o.CreatedAt = fromMicros(created)
	return o, notFound(err)
}

// Org implements meta.Orgs.
func (m *Meta) Org(ctx context.Context, id int64) (meta.Organization, error) {
	o, err := m.scanOrg(m.db.r.QueryRowContext(ctx, `SELECT id, slug, name, created_at FROM organizations WHERE id = ?`, id))
	if err != nil {
		return o, fmt.Errorf("meta: organization %d: %w", id, err)
	}
	return o, nil
}

// OrgBySlug implements meta.Orgs.
func (m *Meta) OrgBySlug(ctx context.Context, slug string) (meta.Organization, error) {
	o, err := m.scanOrg(m.db.r.QueryRowContext(ctx, `SELECT id, slug, name, created_at FROM organizations WHERE slug = ?`, slug))
	if err != nil {
		return o, fmt.Errorf("meta: organization %q: %w", slug, err)
	}
	return o, nil
}

// CreateProject implements meta.Projects.
func (m *Meta) CreateProject(ctx context.Context, p meta.Project) (meta.Project, error) {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = m.now().UTC()
	}
	err := m.db.w.QueryRowContext(ctx, `INSERT INTO projects (org_id, slug, name, platform, disabled, scrub, scrub_fields, drop_minidumps, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		p.OrgID, p.Slug, p.Name, p.Platform, p.Disabled, p.Scrub, jsonList(p.ScrubFields), p.DropMinidumps, micros(p.CreatedAt)).Scan(&p.ID)
	if isUnique(err) {
		return p, fmt.Errorf("meta: create project %q: %w", p.Slug, meta.ErrExists)
	}
	if err != nil {
		return p, fmt.Errorf("meta: create project %q: %w", p.Slug, err)
	}
	p.CreatedAt = fromMicros(micros(p.CreatedAt))
	return p, nil
}

const projectColumns = `id, org_id, slug, name, platform, disabled, scrub, scrub_fields, drop_minidumps, created_at`

type scanner interface{ Scan(...any) error }

func scanProject(s scanner) (meta.Project, error) {
	var p meta.Project
	var fields string
	var created int64
	err := s.Scan(&p.ID, &p.OrgID, &p.Slug, &p.Name, &p.Platform, &p.Disabled, &p.Scrub, &fields, &p.DropMinidumps, &created)
	p.ScrubFields = parseList(fields)
	p.CreatedAt = fromMicros(created)
	return p, notFound(err)
}

// Project implements meta.Projects.
func (m *Meta) Project(ctx context.Context, id int64) (meta.Project, error) {
	p, err := scanProject(m.db.r.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = ?`, id))
	if err != nil {
		return p, fmt.Errorf("meta: project %d: %w", id, err)
	}
	return p, nil
}

// ProjectBySlug implements meta.Projects.
func (m *Meta) ProjectBySlug(ctx context.Context, orgID int64, slug string) (meta.Project, error) {
	p, err := scanProject(m.db.r.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE org_id = ? AND slug = ?`, orgID, slug))
	if err != nil {
		return p, fmt.Errorf("meta: project %q: %w", slug, err)
	}
	return p, nil
}

// ListProjects implements meta.Projects.
func (m *Meta) ListProjects(ctx context.Context, orgID int64) ([]meta.Project, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE org_id = ? ORDER BY id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("meta: list projects: %w", err)
	}
	defer rows.Close()
	var out []meta.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, fmt.Errorf("meta: list projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list projects: %w", err)
	}
	return out, nil
}

// CreateKey implements meta.Keys.
func (m *Meta) CreateKey(ctx context.Context, k meta.Key) (meta.Key, error) {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = m.now().UTC()
	}
	err := m.db.w.QueryRowContext(ctx, `INSERT INTO project_keys (project_id, public_key, label, disabled, rate_limit_count, rate_limit_window_ms, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		k.ProjectID, k.Public, k.Label, k.Disabled, k.RateLimitCount, k.RateLimitWindow.Milliseconds(), micros(k.CreatedAt)).Scan(&k.ID)
	if isUnique(err) {
		return k, fmt.Errorf("meta: create key: %w", meta.ErrExists)
	}
	if err != nil {
		return k, fmt.Errorf("meta: create key: %w", err)
	}
	k.CreatedAt = fromMicros(micros(k.CreatedAt))
	return k, nil
}

const keyColumns = `id, project_id, public_key, label, disabled, rate_limit_count, rate_limit_window_ms, created_at`

func scanKey(s scanner) (meta.Key, error) {
	var k meta.Key
	var window, created int64
	err := s.Scan(&k.ID, &k.ProjectID, &k.Public, &k.Label, &k.Disabled, &k.RateLimitCount, &window, &created)
	k.RateLimitWindow = time.Duration(window) * time.Millisecond
	k.CreatedAt = fromMicros(created)
	return k, notFound(err)
}

// KeyByPublic implements meta.Keys.
func (m *Meta) KeyByPublic(ctx context.Context, public string) (meta.Key, error) {
	k, err := scanKey(m.db.r.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM project_keys WHERE public_key = ?`, public))
	if err != nil {
		return k, fmt.Errorf("meta: key: %w", err)
	}
	return k, nil
}

// ListKeys implements meta.Keys.
func (m *Meta) ListKeys(ctx context.Context, projectID int64) ([]meta.Key, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT `+keyColumns+` FROM project_keys WHERE project_id = ? ORDER BY id`, projectID)
	if err != nil {
		return nil, fmt.Errorf("meta: list keys: %w", err)
	}
	defer rows.Close()
	var out []meta.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("meta: list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list keys: %w", err)
	}
	return out, nil
}

// CreateToken implements meta.Tokens.
func (m *Meta) CreateToken(ctx context.Context, t meta.Token) (meta.Token, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = m.now().UTC()
	}
	err := m.db.w.QueryRowContext(ctx, `INSERT INTO api_tokens (org_id, token_hash, name, scopes, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, t.OrgID, t.Hash, t.Name, jsonList(t.Scopes), micros(t.CreatedAt)).Scan(&t.ID)
	if isUnique(err) {
		return t, fmt.Errorf("meta: create token: %w", meta.ErrExists)
	}
	if err != nil {
		return t, fmt.Errorf("meta: create token: %w", err)
	}
	t.CreatedAt = fromMicros(micros(t.CreatedAt))
	return t, nil
}

// TokenByHash implements meta.Tokens.
func (m *Meta) TokenByHash(ctx context.Context, hash string) (meta.Token, error) {
	var t meta.Token
	var scopes string
	var created int64
	err := m.db.r.QueryRowContext(ctx, `SELECT id, org_id, token_hash, name, scopes, created_at FROM api_tokens WHERE token_hash = ?`, hash).
		Scan(&t.ID, &t.OrgID, &t.Hash, &t.Name, &scopes, &created)
	if err != nil {
		return t, fmt.Errorf("meta: token: %w", notFound(err))
	}
	t.Scopes = parseList(scopes)
	t.CreatedAt = fromMicros(created)
	return t, nil
}
