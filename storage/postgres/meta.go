package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/storage/meta"
)

// Meta is the PostgreSQL meta.Store.
type Meta struct {
	db  *db
	now func() time.Time
}

var _ meta.Store = (*Meta)(nil)

// OpenMeta connects to dsn and applies the migrations.
func OpenMeta(ctx context.Context, dsn string, o Options) (*Meta, error) {
	d, err := open(ctx, dsn, o)
	if err != nil {
		return nil, err
	}
	return &Meta{db: d, now: time.Now}, nil
}

// Close implements meta.Store.
func (m *Meta) Close() error { return m.db.close() }

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return meta.ErrNotFound
	}
	return err
}

// stamp is the time stored for t: PostgreSQL keeps microseconds, so
// callers get back exactly what a later read returns.
func stamp(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// CreateOrg implements meta.Orgs.
func (m *Meta) CreateOrg(ctx context.Context, o meta.Organization) (meta.Organization, error) {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = m.now()
	}
	o.CreatedAt = stamp(o.CreatedAt)
	err := m.db.pool.QueryRow(ctx, `INSERT INTO organizations (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id`,
		o.Slug, o.Name, o.CreatedAt).Scan(&o.ID)
	if isUnique(err) {
		return o, fmt.Errorf("meta: create organization %q: %w", o.Slug, meta.ErrExists)
	}
	if err != nil {
		return o, fmt.Errorf("meta: create organization %q: %w", o.Slug, err)
	}
	return o, nil
}

func scanOrg(row pgx.Row) (meta.Organization, error) {
	var o meta.Organization
	err := row.Scan(&o.ID, &o.Slug, &o.Name, &o.CreatedAt)
	o.CreatedAt = o.CreatedAt.UTC()
	return o, notFound(err)
}

// Org implements meta.Orgs.
func (m *Meta) Org(ctx context.Context, id int64) (meta.Organization, error) {
	o, err := scanOrg(m.db.pool.QueryRow(ctx, `SELECT id, slug, name, created_at FROM organizations WHERE id = $1`, id))
	if err != nil {
		return o, fmt.Errorf("meta: organization %d: %w", id, err)
	}
	return o, nil
}

// OrgBySlug implements meta.Orgs.
func (m *Meta) OrgBySlug(ctx context.Context, slug string) (meta.Organization, error) {
	o, err := scanOrg(m.db.pool.QueryRow(ctx, `SELECT id, slug, name, created_at FROM organizations WHERE slug = $1`, slug))
	if err != nil {
		return o, fmt.Errorf("meta: organization %q: %w", slug, err)
	}
	return o, nil
}

// CreateProject implements meta.Projects.
func (m *Meta) CreateProject(ctx context.Context, p meta.Project) (meta.Project, error) {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = m.now()
	}
	p.CreatedAt = stamp(p.CreatedAt)
	err := m.db.pool.QueryRow(ctx, `INSERT INTO projects (org_id, slug, name, platform, disabled, scrub, scrub_fields, drop_minidumps, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		p.OrgID, p.Slug, p.Name, p.Platform, p.Disabled, p.Scrub, nonNil(p.ScrubFields), p.DropMinidumps, p.CreatedAt).Scan(&p.ID)
	if isUnique(err) {
		return p, fmt.Errorf("meta: create project %q: %w", p.Slug, meta.ErrExists)
	}
	if err != nil {
		return p, fmt.Errorf("meta: create project %q: %w", p.Slug, err)
	}
	return p, nil
}

const projectColumns = `id, org_id, slug, name, platform, disabled, scrub, scrub_fields, drop_minidumps, created_at`

func scanProject(row pgx.Row) (meta.Project, error) {
	var p meta.Project
	err := row.Scan(&p.ID, &p.OrgID, &p.Slug, &p.Name, &p.Platform, &p.Disabled, &p.Scrub, &p.ScrubFields, &p.DropMinidumps, &p.CreatedAt)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, notFound(err)
}

// Project implements meta.Projects.
func (m *Meta) Project(ctx context.Context, id int64) (meta.Project, error) {
	p, err := scanProject(m.db.pool.QueryRow(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = $1`, id))
	if err != nil {
		return p, fmt.Errorf("meta: project %d: %w", id, err)
	}
	return p, nil
}

// ProjectBySlug implements meta.Projects.
func (m *Meta) ProjectBySlug(ctx context.Context, orgID int64, slug string) (meta.Project, error) {
	p, err := scanProject(m.db.pool.QueryRow(ctx, `SELECT `+projectColumns+` FROM projects WHERE org_id = $1 AND slug = $2`, orgID, slug))
	if err != nil {
		return p, fmt.Errorf("meta: project %q: %w", slug, err)
	}
	return p, nil
}

// ListProjects implements meta.Projects.
func (m *Meta) ListProjects(ctx context.Context, orgID int64) ([]meta.Project, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT `+projectColumns+` FROM projects WHERE org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("meta: list projects: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Project, error) { return scanProject(r) })
	if err != nil {
		return nil, fmt.Errorf("meta: list projects: %w", err)
	}
	return out, nil
}

// CreateKey implements meta.Keys.
func (m *Meta) CreateKey(ctx context.Context, k meta.Key) (meta.Key, error) {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = m.now()
	}
	k.CreatedAt = stamp(k.CreatedAt)
	err := m.db.pool.QueryRow(ctx, `INSERT INTO project_keys (project_id, public_key, label, disabled, rate_limit_count, rate_limit_window_ms, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		k.ProjectID, k.Public, k.Label, k.Disabled, k.RateLimitCount, k.RateLimitWindow.Milliseconds(), k.CreatedAt).Scan(&k.ID)
	if isUnique(err) {
		return k, fmt.Errorf("meta: create key: %w", meta.ErrExists)
	}
	if err != nil {
		return k, fmt.Errorf("meta: create key: %w", err)
	}
	return k, nil
}

const keyColumns = `id, project_id, public_key, label, disabled, rate_limit_count, rate_limit_window_ms, created_at`

func scanKey(row pgx.Row) (meta.Key, error) {
	var k meta.Key
	var window int64
	err := row.Scan(&k.ID, &k.ProjectID, &k.Public, &k.Label, &k.Disabled, &k.RateLimitCount, &window, &k.CreatedAt)
	k.RateLimitWindow = time.Duration(window) * time.Millisecond
	k.CreatedAt = k.CreatedAt.UTC()
	return k, notFound(err)
}

// KeyByPublic implements meta.Keys.
func (m *Meta) KeyByPublic(ctx context.Context, public string) (meta.Key, error) {
	k, err := scanKey(m.db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM project_keys WHERE public_key = $1`, public))
	if err != nil {
		return k, fmt.Errorf("meta: key: %w", err)
	}
	return k, nil
}

// ListKeys implements meta.Keys.
func (m *Meta) ListKeys(ctx context.Context, projectID int64) ([]meta.Key, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT `+keyColumns+` FROM project_keys WHERE project_id = $1 ORDER BY id`, projectID)
	if err != nil {
		return nil, fmt.Errorf("meta: list keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Key, error) { return scanKey(r) })
	if err != nil {
		return nil, fmt.Errorf("meta: list keys: %w", err)
	}
	return out, nil
}

// CreateToken implements meta.Tokens.
func (m *Meta) CreateToken(ctx context.Context, t meta.Token) (meta.Token, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = m.now()
	}
	t.CreatedAt = stamp(t.CreatedAt)
	err := m.db.pool.QueryRow(ctx, `INSERT INTO api_tokens (org_id, token_hash, name, scopes, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, t.OrgID, t.Hash, t.Name, nonNil(t.Scopes), t.CreatedAt).Scan(&t.ID)
	if isUnique(err) {
		return t, fmt.Errorf("meta: create token: %w", meta.ErrExists)
	}
	if err != nil {
		return t, fmt.Errorf("meta: create token: %w", err)
	}
	return t, nil
}

// TokenByHash implements meta.Tokens.
func (m *Meta) TokenByHash(ctx context.Context, hash string) (meta.Token, error) {
	var t meta.Token
	err := m.db.pool.QueryRow(ctx, `SELECT id, org_id, token_hash, name, scopes, created_at FROM api_tokens WHERE token_hash = $1`, hash).
		Scan(&t.ID, &t.OrgID, &t.Hash, &t.Name, &t.Scopes, &t.CreatedAt)
	if err != nil {
		return t, fmt.Errorf("meta: token: %w", notFound(err))
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}
