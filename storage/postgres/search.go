package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/storage/meta"
)

var _ meta.IssueSearcher = (*Meta)(nil)

// SearchIssues implements meta.IssueSearcher, which the web interface's
// issue list needs.
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
	args := []any{q.ProjectID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := "project_id = $1 AND times_seen > 0"
	if q.Status != "" {
		where += " AND status = " + arg(string(q.Status))
	}
	if q.Level != "" {
		where += " AND level = " + arg(q.Level)
	}
	if q.Text != "" {
		// strpos on lowercased text rather than LIKE, so % and _ typed by
		// the user match themselves.
		where += " AND strpos(lower(title), " + arg(strings.ToLower(q.Text)) + ") > 0"
	}
	if q.Release != "" {
		p := arg(q.Release)
		where += " AND (first_release = " + p + " OR last_release = " + p + ")"
	}
	if q.Environment != "" {
		where += " AND " + arg(q.Environment) + " = ANY (environments)"
	}
	if len(q.IssueIDs) > 0 {
		where += " AND id = ANY (" + arg(q.IssueIDs) + "::bigint[])"
	}
	query := `SELECT ` + issueColumns + ` FROM issues WHERE ` + where + ` ORDER BY ` + order +
		` LIMIT ` + arg(limit+1) + ` OFFSET ` + arg(max(q.Offset, 0))
	rows, err := m.db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("meta: search issues: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (meta.Issue, error) { return scanIssue(r) })
	if err != nil {
		return nil, false, fmt.Errorf("meta: search issues: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
