package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/postgres"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web/ui"
)

// TestSettingsOnPostgres runs sign-in, the issue list and the settings
// pages on the PostgreSQL metadata store, in a schema of its own.
func TestSettingsOnPostgres(t *testing.T) {
	ctx := context.Background()
	dsn, schema := pgSchema(t)
	m, err := postgres.OpenMeta(ctx, dsn, postgres.Options{Schema: schema, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	evs, err := sqlite.OpenEvents(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer evs.Close()
	h, err := ui.New(ui.Config{Meta: m, Events: evs, BaseURL: "http://cairn.example"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	o, _ := m.CreateOrg(ctx, meta.Organization{Slug: "acme", Name: "Acme"})
	p, _ := m.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "game", Name: "Game", Platform: "native"})
	hidden, _ := m.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "hidden", Name: "Hidden", Platform: "native"})
	if _, err := ui.CreateUser(ctx, m, "root@acme.test", "correct horse", true, []int64{o.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := ui.CreateUser(ctx, m, "dev@acme.test", "correct horse", false, []int64{o.ID}); err != nil {
		t.Fatal(err)
	}
	team, _ := m.CreateTeam(ctx, meta.Team{OrgID: o.ID, Slug: "secret", Name: "Secret"})
	if err := m.AddTeamProject(ctx, team.ID, hidden.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: p.ID, Hash: "h", Type: "error", Title: "crash", Level: "fatal", Platform: "native"}}); err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv}
	owner := e.browser(t)
	owner.login("root@acme.test")
	_, page, _ := owner.get("/o/acme/game/settings/keys")
	if code, _, _ := owner.post("/o/acme/game/settings/keys", url.Values{"csrf": {csrfOf(t, page)}, "action": {"create"}, "label": {"PG"}}); code != http.StatusSeeOther {
		t.Fatalf("create key: %d", code)
	}
	for path, want := range map[string]string{
		"/orgs/acme/members":            "dev@acme.test",
		"/orgs/acme/teams":              "Secret",
		"/o/acme/game/settings/keys":    "@cairn.example/" + fmt.Sprint(p.ID),
		"/o/acme/game/settings/sources": "No sources",
		"/account":                      "No tokens yet",
		"/o/acme/game/?query=":          "No issues match",
	} {
		code, body, _ := owner.get(path)
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d, want 200 with %q", path, code, want)
		}
	}
	dev := e.browser(t)
	dev.login("dev@acme.test")
	if code, _, _ := dev.get("/o/acme/hidden/"); code != http.StatusNotFound {
		t.Errorf("member reads another team's project: %d", code)
	}
	if code, _, _ := dev.get("/o/acme/game/"); code != http.StatusOK {
		t.Errorf("member reads a project without teams: %d", code)
	}
}
