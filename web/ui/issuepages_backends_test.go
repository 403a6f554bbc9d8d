package ui_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/internal/testtools/chtest"
	"github.com/cairn-dev/cairn/snuba"
	"github.com/cairn-dev/cairn/storage/clickhouse"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/memcache"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/postgres"
	"github.com/cairn-dev/cairn/storage/viewcache"
	"github.com/cairn-dev/cairn/web/ui"
)

// pgSchema returns the test server's DSN and a schema of the test's own,
// dropped when it ends.
func pgSchema(t *testing.T) (string, string) {
	t.Helper()
	ctx := context.Background()
	dsn := os.Getenv("CAIRN_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		testtools.Missing(t, "PostgreSQL at 127.0.0.1:5432 ("+err.Error()+")", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
	}
	c.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			c.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
			c.Close(ctx)
		}
	})
	return dsn, schema
}

// TestIssueFeaturesOnBackends runs the issue pages' optional features
// (sparklines, tag search, tag distributions, bulk delete with the
// events' attachments) on the production stores: PostgreSQL alone, and
// PostgreSQL joined with ClickHouse behind the view cache, as `cairn
// serve --role web` wires them.
func TestIssueFeaturesOnBackends(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		ch   bool
	}{{"postgres", false}, {"postgres+clickhouse", true}} {
		t.Run(c.name, func(t *testing.T) {
			dsn, schema := pgSchema(t)
			o := postgres.Options{Schema: schema, MaxConns: 4}
			m, err := postgres.OpenMeta(ctx, dsn, o)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			pe, err := postgres.OpenEvents(ctx, dsn, o)
			if err != nil {
				t.Fatal(err)
			}
			defer pe.Close()
			var evs events.Store = pe
			// put stores events where the workers and the snuba writers
			// would.
			put := func(list ...*events.Event) {
				t.Helper()
				if _, err := pe.Put(ctx, list); err != nil {
					t.Fatal(err)
				}
			}
			if c.ch {
				srv := chtest.Start(t)
				a, err := clickhouse.Open(ctx, clickhouse.Config{Addr: srv.Addr, Database: "ui_" + schema})
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				evs = viewcache.Wrap(snuba.Reader{Store: pe, Analytics: a},
					viewcache.Options{Histograms: memcache.New(100), Sparklines: memcache.New(100), TTL: time.Minute})
				put = func(list ...*events.Event) {
					t.Helper()
					for _, s := range []events.Store{a, pe} {
						if _, err := s.Put(ctx, list); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			blobs, err := fsblob.Open(filepath.Join(t.TempDir(), "blobs"))
			if err != nil {
				t.Fatal(err)
			}
			h, err := ui.New(ui.Config{Meta: m, Events: evs, Blobs: blobs})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			org, _ := m.CreateOrg(ctx, meta.Organization{Slug: "acme", Name: "Acme"})
			p, _ := m.CreateProject(ctx, meta.Project{OrgID: org.ID, Slug: "game", Name: "Game", Platform: "native"})
			if _, err := ui.CreateUser(ctx, m, "dev@acme.test", "correct horse", false, []int64{org.ID}); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			// issue groups and records n events tagged os, the first with
			// a stored minidump.
			issue := func(hash, os string, n int) (meta.Issue, string) {
				t.Helper()
				is, err := m.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: p.ID, Hash: hash, Type: "error", Title: "crash " + hash,
					Level: "fatal", Platform: "native", Time: now}})
				if err != nil {
					t.Fatal(err)
				}
				var list []*events.Event
				var occs []meta.Occurrence
				for i := range n {
					id := fmt.Sprintf("%s%031x", hash[:1], i)
					data := fmt.Sprintf(`{"event_id":%q,"tags":{"os":%q},"attachments":[{"name":"d.dmp","type":"event.minidump","key":"events/%d/%s/0"}]}`,
						id, os, p.ID, id)
					at := now.Add(-time.Duration(i) * time.Minute)
					list = append(list, &events.Event{ProjectID: p.ID, EventID: id, IssueID: is[0].ID, Timestamp: at, ReceivedAt: at,
						Level: "fatal", Release: "demo@1", Environment: "prod", Title: "crash " + hash, Data: []byte(data)})
					occs = append(occs, meta.Occurrence{IssueID: is[0].ID, ProjectID: p.ID, EventID: id, Time: at, Level: "fatal",
						Release: "demo@1", Environment: "prod", Title: "crash " + hash})
				}
				put(list...)
				if _, err := m.RecordOccurrences(ctx, occs); err != nil {
					t.Fatal(err)
				}
				key := fmt.Sprintf("events/%d/%s/0", p.ID, list[0].EventID)
				if err := blobs.Put(ctx, key, strings.NewReader("MDMP")); err != nil {
					t.Fatal(err)
				}
				return is[0], key
			}
			gone, goneKey := issue("gone", "windows", 3)
			_, keptKey := issue("kept", "linux", 2)

			br := (&env{srv: srv}).browser(t)
			br.login("dev@acme.test")
			_, body, _ := br.get("/o/acme/game/")
			if !strings.Contains(body, `value="delete"`) {
				t.Error("no delete button")
			}
			if n := len(rectRE.FindAllString(body, -1)); n != 48 {
				t.Errorf("%d sparkline bars, want 24 per issue", n)
			}
			for q, want := range map[string]string{"os:windows": "crash gone", "os:linux": "crash kept"} {
				_, body, _ := br.get("/o/acme/game/?query=" + url.QueryEscape(q))
				if n := strings.Count(body, `class="title" href=`); n != 1 || !strings.Contains(body, want) {
					t.Errorf("query %q: %d issues, want %q", q, n, want)
				}
			}
			page := fmt.Sprintf("/o/acme/game/issues/%d/", gone.ID)
			_, body, _ = br.get(page)
			for _, want := range []string{`<rect class="bar`, "over the newest 3 events", ">windows</td><td class=\"num pct\">100%"} {
				if !strings.Contains(body, want) {
					t.Errorf("issue page lacks %q", want)
				}
			}

			form := url.Values{"csrf": {csrfOf(t, body)}, "action": {"delete"}, "confirm": {"yes"},
				"issue": {fmt.Sprint(gone.ID)}, "back": {"/o/acme/game/"}}
			if code, _, _ := br.post("/o/acme/game/bulk", form); code != http.StatusSeeOther {
				t.Fatalf("delete: %d", code)
			}
			if _, err := m.Issue(ctx, gone.ID); err == nil {
				t.Error("issue not deleted")
			}
			if list, _, err := evs.ListByIssue(ctx, gone.ID, 0, 10); err != nil || len(list) != 0 {
				t.Errorf("%d events of the deleted issue left, %v", len(list), err)
			}
			if _, err := blobs.Size(ctx, goneKey); err == nil {
				t.Error("the deleted issue's minidump is still stored")
			}
			if _, err := blobs.Size(ctx, keptKey); err != nil {
				t.Errorf("the kept issue's minidump: %v", err)
			}
			_, body, _ = br.get("/o/acme/game/?query=" + url.QueryEscape("os:windows"))
			if n := strings.Count(body, `class="title" href=`); n != 0 {
				t.Errorf("the deleted issue still matches: %d issues", n)
			}
		})
	}
}
