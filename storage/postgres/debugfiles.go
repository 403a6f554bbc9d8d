package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/storage/meta"
)

var (
	_ meta.DebugFiles    = (*Meta)(nil)
	_ meta.TokenProjects = (*Meta)(nil)
)

const debugFileCols = `id, project_id, checksum, blob_key, name, debug_id, code_id, arch, format, kind, features, size, created_at`

func scanDebugFile(row pgx.Row) (meta.DebugFile, error) {
	var f meta.DebugFile
	err := row.Scan(&f.ID, &f.ProjectID, &f.Checksum, &f.BlobKey, &f.Name, &f.DebugID, &f.CodeID, &f.Arch, &f.Format, &f.Kind,
		&f.Features, &f.Size, &f.CreatedAt)
	f.CreatedAt = f.CreatedAt.UTC()
	return f, err
}

// AddDebugFile implements meta.DebugFiles. A retried upload keeps the
// first row (and its id); concurrent identical uploads meet on the unique
// key, and the loser reads the winner's row.
func (m *Meta) AddDebugFile(ctx context.Context, f meta.DebugFile) (meta.DebugFile, error) {
	if f.CreatedAt.IsZero() {
		f.CreatedAt = m.now()
	}
	f.CreatedAt = stamp(f.CreatedAt)
	var out meta.DebugFile
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO debug_files (project_id, checksum, blob_key, name, debug_id, code_id, arch, format, kind, features, size, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (project_id, checksum, debug_id, arch) DO NOTHING`,
			f.ProjectID, f.Checksum, f.BlobKey, f.Name, f.DebugID, f.CodeID, f.Arch, f.Format, f.Kind, nonNil(f.Features), f.Size, f.CreatedAt); err != nil {
			return err
		}
		var err error
		out, err = scanDebugFile(tx.QueryRow(ctx, `SELECT `+debugFileCols+` FROM debug_files
			WHERE project_id = $1 AND checksum = $2 AND debug_id = $3 AND arch = $4`, f.ProjectID, f.Checksum, f.DebugID, f.Arch))
		return err
	})
	if err != nil {
		return out, fmt.Errorf("meta: add debug file %s: %w", f.DebugID, err)
	}
	return out, nil
}

// ListDebugFiles implements meta.DebugFiles.
func (m *Meta) ListDebugFiles(ctx context.Context, projectID int64, q meta.DebugFileQuery) ([]meta.DebugFile, error) {
	where := []string{"project_id = $1"}
	args := []any{projectID}
	add := func(col, v string) {
		args = append(args, strings.ToLower(v))
		where = append(where, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if q.ID != 0 {
		args = append(args, q.ID)
		where = append(where, fmt.Sprintf("id = $%d", len(args)))
	}
	if q.DebugID != "" {
		add("debug_id", q.DebugID)
	}
	if q.CodeID != "" {
		add("code_id", q.CodeID)
	}
	if q.Checksum != "" {
		add("checksum", q.Checksum)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := m.db.pool.Query(ctx, `SELECT `+debugFileCols+` FROM debug_files WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("meta: list debug files: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.DebugFile, error) { return scanDebugFile(r) })
	if err != nil {
		return nil, fmt.Errorf("meta: list debug files: %w", err)
	}
	return out, nil
}

// DeleteDebugFile implements meta.DebugFiles.
func (m *Meta) DeleteDebugFile(ctx context.Context, projectID, id int64) error {
	tag, err := m.db.pool.Exec(ctx, `DELETE FROM debug_files WHERE project_id = $1 AND id = $2`, projectID, id)
	if err != nil {
		return fmt.Errorf("meta: delete debug file %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("meta: delete debug file %d: %w", id, meta.ErrNotFound)
	}
	return nil
}

// DebugFileBlobUsed implements meta.DebugFiles.
func (m *Meta) DebugFileBlobUsed(ctx context.Context, blobKey string) (bool, error) {
	var one int
	err := m.db.pool.QueryRow(ctx, `SELECT 1 FROM debug_files WHERE blob_key = $1 LIMIT 1`, blobKey).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("meta: debug file blob %s: %w", blobKey, err)
	}
	return true, nil
}

// DebugFileBytes implements meta.DebugFiles.
func (m *Meta) DebugFileBytes(ctx context.Context, projectID int64) (int64, error) {
	var n int64
	err := m.db.pool.QueryRow(ctx, `SELECT COALESCE(SUM(size), 0)::bigint FROM
		(SELECT DISTINCT checksum, size FROM debug_files WHERE project_id = $1) AS d`, projectID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("meta: debug file bytes: %w", err)
	}
	return n, nil
}

// SetTokenProjects implements meta.TokenProjects.
func (m *Meta) SetTokenProjects(ctx context.Context, tokenID int64, projectIDs []int64) error {
	err := m.db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM api_token_projects WHERE token_id = $1`, tokenID); err != nil {
			return err
		}
		if len(projectIDs) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_token_projects (token_id, project_id)
			SELECT $1, p FROM unnest($2::bigint[]) AS p ON CONFLICT DO NOTHING`, tokenID, projectIDs)
		return err
	})
	if err != nil {
		return fmt.Errorf("meta: token %d projects: %w", tokenID, err)
	}
	return nil
}

// TokenProjects implements meta.TokenProjects.
func (m *Meta) TokenProjects(ctx context.Context, tokenID int64) ([]int64, error) {
	rows, err := m.db.pool.Query(ctx, `SELECT project_id FROM api_token_projects WHERE token_id = $1 ORDER BY project_id`, tokenID)
	if err != nil {
		return nil, fmt.Errorf("meta: token %d projects: %w", tokenID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("meta: token %d projects: %w", tokenID, err)
	}
	return out, nil
}
