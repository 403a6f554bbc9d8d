package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/cairn-dev/cairn/storage/meta"
)

var (
	_ meta.DebugFiles    = (*Meta)(nil)
	_ meta.TokenProjects = (*Meta)(nil)
)

const debugFileCols = `id, project_id, checksum, blob_key, name, debug_id, code_id, arch, format, kind, features, size, created_at`

func scanDebugFile(sc interface{ Scan(...any) error }) (meta.DebugFile, error) {
	var f meta.DebugFile
	var features string
	var created int64
	err := sc.Scan(&f.ID, &f.ProjectID, &f.Checksum, &f.BlobKey, &f.Name, &f.DebugID, &f.CodeID, &f.Arch, &f.Format, &f.Kind, &features, &f.Size, &created)
	f.Features = parseList(features)
	f.CreatedAt = fromMicros(created)
	return f, err
}

// AddDebugFile implements meta.DebugFiles.
func (m *Meta) AddDebugFile(ctx context.Context, f meta.DebugFile) (meta.DebugFile, error) {
	if f.CreatedAt.IsZero() {
		f.CreatedAt = m.now().UTC()
	}
	var out meta.DebugFile
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// ON CONFLICT DO NOTHING then SELECT keeps the first upload's row
		// (and its id, which clients may have recorded) on a retry.
		if _, err := tx.ExecContext(ctx, `INSERT INTO debug_files (project_id, checksum, blob_key, name, debug_id, code_id, arch, format, kind, features, size, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, checksum, debug_id, arch) DO NOTHING`,
			f.ProjectID, f.Checksum, f.BlobKey, f.Name, f.DebugID, f.CodeID, f.Arch, f.Format, f.Kind, jsonList(f.Features), f.Size, micros(f.CreatedAt)); err != nil {
			return err
		}
		var err error
		out, err = scanDebugFile(tx.QueryRowContext(ctx, `SELECT `+debugFileCols+` FROM debug_files
			WHERE project_id = ? AND checksum = ? AND debug_id = ? AND arch = ?`, f.ProjectID, f.Checksum, f.DebugID, f.Arch))
		return err
	})
	if err != nil {
		return out, fmt.Errorf("meta: add debug file %s: %w", f.DebugID, err)
	}
	return out, nil
}

// ListDebugFiles implements meta.DebugFiles.
func (m *Meta) ListDebugFiles(ctx context.Context, projectID int64, q meta.DebugFileQuery) ([]meta.DebugFile, error) {
	where := []string{"project_id = ?"}
	args := []any{projectID}
	if q.ID != 0 {
		where, args = append(where, "id = ?"), append(args, q.ID)
	}
	if q.DebugID != "" {
		where, args = append(where, "debug_id = ?"), append(args, strings.ToLower(q.DebugID))
	}
	if q.CodeID != "" {
		where, args = append(where, "code_id = ?"), append(args, strings.ToLower(q.CodeID))
	}
	if q.Checksum != "" {
		where, args = append(where, "checksum = ?"), append(args, strings.ToLower(q.Checksum))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := m.db.r.QueryContext(ctx, `SELECT `+debugFileCols+` FROM debug_files WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("meta: list debug files: %w", err)
	}
	defer rows.Close()
	var out []meta.DebugFile
	for rows.Next() {
		f, err := scanDebugFile(rows)
		if err != nil {
			return nil, fmt.Errorf("meta: list debug files: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list debug files: %w", err)
	}
	return out, nil
}

// DeleteDebugFile implements meta.DebugFiles.
func (m *Meta) DeleteDebugFile(ctx context.Context, projectID, id int64) error {
	res, err := m.db.w.ExecContext(ctx, `DELETE FROM debug_files WHERE project_id = ? AND id = ?`, projectID, id)
	if err != nil {
		return fmt.Errorf("meta: delete debug file %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("meta: delete debug file %d: %w", id, meta.ErrNotFound)
	}
	return nil
}

// DebugFileBlobUsed implements meta.DebugFiles.
func (m *Meta) DebugFileBlobUsed(ctx context.Context, blobKey string) (bool, error) {
	var one int
	err := m.db.r.QueryRowContext(ctx, `SELECT 1 FROM debug_files WHERE blob_key = ? LIMIT 1`, blobKey).Scan(&one)
	if err == sql.ErrNoRows {
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
	err := m.db.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM (SELECT DISTINCT checksum, size FROM debug_files WHERE project_id = ?)`, projectID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("meta: debug file bytes: %w", err)
	}
	return n, nil
}

// SetTokenProjects implements meta.TokenProjects.
func (m *Meta) SetTokenProjects(ctx context.Context, tokenID int64, projectIDs []int64) error {
	err := m.db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_token_projects WHERE token_id = ?`, tokenID); err != nil {
			return err
		}
		for _, p := range projectIDs {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO api_token_projects (token_id, project_id) VALUES (?, ?)`, tokenID, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("meta: token %d projects: %w", tokenID, err)
	}
	return nil
}

// TokenProjects implements meta.TokenProjects.
func (m *Meta) TokenProjects(ctx context.Context, tokenID int64) ([]int64, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT project_id FROM api_token_projects WHERE token_id = ? ORDER BY project_id`, tokenID)
	if err != nil {
		return nil, fmt.Errorf("meta: token %d projects: %w", tokenID, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("meta: token %d projects: %w", tokenID, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
