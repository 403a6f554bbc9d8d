package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
)

// TestDeleteIssuesClearsReferences checks that deleting an issue leaves
// no row naming it in the metadata tables that reference issues, and
// touches no other issue's rows.
func TestDeleteIssuesClearsReferences(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	m, err := sqlite.OpenMeta(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	org, err := m.CreateOrg(ctx, meta.Organization{Slug: "o", Name: "O"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.CreateProject(ctx, meta.Project{OrgID: org.ID, Slug: "p", Name: "P"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	issues, err := m.GroupIssues(ctx, []meta.GroupRequest{
		{ProjectID: p.ID, Hash: "gone", Type: "error", Title: "t", Time: now},
		{ProjectID: p.ID, Hash: "kept", Type: "error", Title: "t", Time: now},
	})
	if err != nil {
		t.Fatal(err)
	}
	gone, kept := issues[0].ID, issues[1].ID
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range []int64{gone, kept} {
		for _, ins := range []struct {
			q    string
			args []any
		}{
			{`INSERT INTO issue_events (project_id, event_id, issue_id) VALUES (?, ?, ?)`, []any{p.ID, fmt.Sprint(id), id}},
			{`INSERT INTO alert_issue_minutes (issue_id, minute, count) VALUES (?, 1, 1)`, []any{id}},
			{`INSERT INTO issue_links (issue_id, kind, url, created_at) VALUES (?, 'github', ?, 1)`,
				[]any{id, fmt.Sprintf("https://example.com/%d", id)}},
			{`INSERT INTO user_reports (project_id, event_id, name, email, comments, issue_id, created_at)
				VALUES (?, ?, 'n', 'e@example.com', 'c', ?, 1)`, []any{p.ID, fmt.Sprint(id), id}},
		} {
			if _, err := db.ExecContext(ctx, ins.q, ins.args...); err != nil {
				t.Fatalf("%s: %v", ins.q, err)
			}
		}
	}
	if n, err := m.DeleteIssues(ctx, p.ID, []int64{gone}); err != nil || n != 1 {
		t.Fatalf("DeleteIssues = %d, %v", n, err)
	}
	for _, table := range []string{"issue_hashes", "issue_events", "alert_issue_minutes", "issue_links", "user_reports"} {
		for _, c := range []struct {
			id   int64
			want int
		}{{gone, 0}, {kept, 1}} {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE issue_id = ?`, c.id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != c.want {
				t.Errorf("%s: %d rows of issue %d, want %d", table, n, c.id, c.want)
			}
		}
	}
}
