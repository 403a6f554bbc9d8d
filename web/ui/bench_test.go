package ui_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web/ui"
)

// populate stores nIssues issues with nEvents events spread over them
// (skewed: the first issues get the most) across the last 14 days, in
// batches as the worker writes them.
func populate(b testing.TB, m *sqlite.Meta, e *sqlite.Events, p meta.Project, nIssues, nEvents int) []meta.Issue {
	ctx := context.Background()
	now := time.Now().UTC()
	reqs := make([]meta.GroupRequest, nIssues)
	for i := range reqs {
		reqs[i] = meta.GroupRequest{ProjectID: p.ID, Hash: fmt.Sprint("h", i), Type: "error", Title: fmt.Sprintf("EXCEPTION_ACCESS_VIOLATION_READ in demo::module%d::crash", i),
			Culprit: "demo.exe", Level: "fatal", Platform: "native", Time: now.Add(-14 * 24 * time.Hour)}
	}
	list, err := m.GroupIssues(ctx, reqs)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 2000
	for start := 0; start < nEvents; start += batch {
		var evs []*events.Event
		var occ []meta.Occurrence
		for i := start; i < min(start+batch, nEvents); i++ {
			is := list[(i*i/7+i)%nIssues]
			if i%3 == 0 {
				is = list[i%10] // a few big issues
			}
			id := fmt.Sprintf("%032x", i+1)
			ts := now.Add(-time.Duration(i%(14*24*60)) * time.Minute)
			os := []string{"windows", "linux", "macos"}[i%3]
			data := fmt.Sprintf(richEvent, id, p.ID)
			if i%10 != 0 {
				data = fmt.Sprintf(`{"event_id":%q,"platform":"native","level":"fatal","tags":[["os",%q],["gpu","gpu%d"]]}`, id, os, i%7)
			}
			evs = append(evs, &events.Event{ProjectID: p.ID, EventID: id, IssueID: is.ID, Timestamp: ts, ReceivedAt: ts, Level: "fatal",
				Release: fmt.Sprintf("demo@%d", i%4), Environment: "production", UserKey: fmt.Sprint("u", i%300), Data: []byte(data)})
			occ = append(occ, meta.Occurrence{IssueID: is.ID, ProjectID: p.ID, EventID: id, Time: ts, Level: "fatal", Release: fmt.Sprintf("demo@%d", i%4), Environment: "production"})
		}
		if _, err := e.Put(ctx, evs); err != nil {
			b.Fatal(err)
		}
		if _, err := m.RecordOccurrences(ctx, occ); err != nil {
			b.Fatal(err)
		}
	}
	return list
}

// benchEnv is a UI over stores holding 1k issues and 100k events, with a
// signed-in session cookie.
type benchEnv struct {
	h      http.Handler
	cookie string
	issues []meta.Issue
}

func newBenchEnv(b testing.TB, dir string) *benchEnv {
	ctx := context.Background()
	m, err := sqlite.OpenMeta(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	e, err := sqlite.OpenEvents(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close(); m.Close() })
	o, err := m.CreateOrg(ctx, meta.Organization{Slug: "acme", Name: "Acme"})
	if err != nil {
		b.Fatal(err)
	}
	p, err := m.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "demo", Name: "Demo", Platform: "native"})
	if err != nil {
		b.Fatal(err)
	}
	list := populate(b, m, e, p, 1000, 100000)
	u, err := ui.CreateUser(ctx, m, "dev@acme.test", "correct horse", true, []int64{o.ID})
	if err != nil {
		b.Fatal(err)
	}
	// The session is made directly: the sign-in form costs a bcrypt hash.
	secret := "bench-session-secret"
	if err := m.CreateSession(ctx, meta.Session{Hash: sha256hex(secret), UserID: u.ID, CSRF: "x", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	h, err := ui.New(ui.Config{Meta: m, Events: e})
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{h: h, cookie: "cairn_session=" + secret, issues: list}
}

func (be *benchEnv) get(b testing.TB, path string) {
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Cookie", be.cookie)
	w := httptest.NewRecorder()
	be.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String())
	}
}

func BenchmarkIssueListPage(b *testing.B) {
	be := newBenchEnv(b, b.TempDir())
	for _, q := range []string{"", "?sort=freq", "?query=os%3Awindows+release%3Ademo%401"} {
		b.Run("q="+q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				be.get(b, "/o/acme/demo/"+q)
			}
		})
	}
}

func BenchmarkIssueDetailPage(b *testing.B) {
	be := newBenchEnv(b, b.TempDir())
	// The biggest issue (~3% of all events) and a typical one.
	for _, c := range []struct {
		name string
		is   meta.Issue
	}{{"big", be.issues[0]}, {"typical", be.issues[500]}} {
		for _, q := range []string{"", "?range=14d&view=raw"} {
			b.Run(c.name+q, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					be.get(b, fmt.Sprintf("/o/acme/demo/issues/%d/%s", c.is.ID, q))
				}
			})
		}
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
