package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/postgres"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

func TestIssueEventsConformance(t *testing.T) {
	storagetest.TestIssueEvents(t, func(t *testing.T) storagetest.IssueEventsStore {
		e, err := postgres.OpenEvents(context.Background(), dsn(), opts(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	})
}

func TestIssueDeleteConformance(t *testing.T) {
	storagetest.TestIssueDelete(t, func(t *testing.T) storagetest.IssueMetaStore { return openMeta(t) })
}

// Deleting an issue clears every row that names it by id, in tables the
// metadata interfaces reach only through other features, and leaves
// another issue's rows alone.
func TestDeleteIssuesClearsReferences(t *testing.T) {
	ctx := context.Background()
	o := opts(t)
	stores, p := withProject(t, o, 1)
	m := stores[0]
	now := time.Now().UTC()
	issues, err := m.GroupIssues(ctx, []meta.GroupRequest{
		{ProjectID: p.ID, Hash: "gone", Type: "error", Title: "t", Time: now},
		{ProjectID: p.ID, Hash: "kept", Type: "error", Title: "t", Time: now},
	})
	if err != nil {
		t.Fatal(err)
	}
	gone, kept := issues[0].ID, issues[1].ID
	conn, err := pgx.Connect(ctx, dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET search_path TO `+o.Schema); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{gone, kept} {
		for _, ins := range []struct {
			q    string
			args []any
		}{
			{`INSERT INTO issue_events (project_id, event_id, issue_id) VALUES ($1, $2, $3)`, []any{p.ID, fmt.Sprint(id), id}},
			{`INSERT INTO issue_users (issue_id, user_key) VALUES ($1, 'u')`, []any{id}},
			{`INSERT INTO alert_issue_minutes (issue_id, minute, count) VALUES ($1, 1, 1)`, []any{id}},
			{`INSERT INTO issue_links (issue_id, kind, url, created_at) VALUES ($1, 'github', $2, now())`,
				[]any{id, fmt.Sprintf("https://example.com/%d", id)}},
			{`INSERT INTO user_reports (project_id, event_id, name, email, comments, issue_id, created_at)
				VALUES ($1, $2, 'n', 'e@example.com', 'c', $3, now())`, []any{p.ID, fmt.Sprint(id), id}},
		} {
			if _, err := conn.Exec(ctx, ins.q, ins.args...); err != nil {
				t.Fatalf("%s: %v", ins.q, err)
			}
		}
	}
	if n, err := m.DeleteIssues(ctx, p.ID, []int64{gone}); err != nil || n != 1 {
		t.Fatalf("DeleteIssues = %d, %v", n, err)
	}
	for _, table := range []string{"issue_hashes", "issue_events", "issue_users", "alert_issue_minutes", "issue_links", "user_reports"} {
		for _, c := range []struct {
			id   int64
			want int
		}{{gone, 0}, {kept, 1}} {
			var n int
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE issue_id = $1`, c.id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != c.want {
				t.Errorf("%s: %d rows of issue %d, want %d", table, n, c.id, c.want)
			}
		}
	}
}
