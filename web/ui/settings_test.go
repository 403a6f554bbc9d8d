package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/memcache"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web"
	"github.com/cairn-dev/cairn/web/ui"
)

// stack is a whole server on real stores: the web interface, the read
// API and ingest, with a clock tests can move.
type stack struct {
	*env
	blobs *fsblob.Store
	api   *httptest.Server
	ing   *httptest.Server
	mu    sync.Mutex
	now   time.Time
}

func (s *stack) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *stack) advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

// acceptAll is an ingest sink that keeps nothing.
type acceptAll struct{}

func (acceptAll) Accept(context.Context, *ingest.Accepted) error { return nil }

// newStack starts the servers; keyTTL is ingest's key cache window.
func newStack(t *testing.T, keyTTL time.Duration) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{env: &env{dir: t.TempDir()}, now: time.Now()}
	var err error
	if s.meta, err = sqlite.OpenMeta(ctx, filepath.Join(s.dir, "meta.db")); err != nil {
		t.Fatal(err)
	}
	if s.events, err = sqlite.OpenEvents(ctx, filepath.Join(s.dir, "events.db")); err != nil {
		t.Fatal(err)
	}
	if s.blobs, err = fsblob.Open(filepath.Join(s.dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	h, err := ui.New(ui.Config{Meta: s.meta, Events: s.events, Blobs: s.blobs, Now: s.clock, AllowPrivateSources: true,
		BaseURL: "http://cairn.example"})
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(h)
	s.api = httptest.NewServer(web.NewAPI(s.meta, s.events, "http://cairn.example", nil))
	keys := web.NewKeyStore(s.meta, memcache.New(100), keyTTL)
	s.ing = httptest.NewServer(ingest.NewHandler(ingest.DefaultConfig(), keys, acceptAll{}, nil))
	t.Cleanup(func() {
		s.ing.Close()
		s.api.Close()
		s.srv.Close()
		s.events.Close()
		s.meta.Close()
	})
	return s
}

// apiGet calls the read API with a bearer token.
func (s *stack) apiGet(t *testing.T, token, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.api.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// send posts a store event with a DSN key and returns ingest's status.
func (s *stack) send(t *testing.T, projectID int64, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/%d/store/", s.ing.URL, projectID),
		strings.NewReader(`{"message":"hello","level":"error"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Sentry-Auth", "Sentry sentry_version=7, sentry_key="+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// access gives acme two projects, game (team red) and tools (no team),
// and four people: the owner, a manager, a member of red and a member of
// another team. A separate administrator is created first, since the
// first account of an installation always is one.
func (s *stack) access(t *testing.T) (acme meta.Organization, game, tools meta.Project) {
	t.Helper()
	ctx := context.Background()
	s.user(t, "root@cairn.test")
	acme, game = s.org(t, "acme")
	var err error
	if tools, err = s.meta.CreateProject(ctx, meta.Project{OrgID: acme.ID, Slug: "tools", Name: "Tools", Platform: "native"}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"owner@acme.test", "manager@acme.test", "red@acme.test", "blue@acme.test"} {
		s.user(t, email, acme.ID)
	}
	mgr, _ := s.meta.UserByEmail(ctx, "manager@acme.test")
	if err := s.meta.SetMemberRole(ctx, acme.ID, mgr.ID, meta.RoleManager); err != nil {
		t.Fatal(err)
	}
	red, _ := s.meta.CreateTeam(ctx, meta.Team{OrgID: acme.ID, Slug: "red", Name: "Red"})
	blue, _ := s.meta.CreateTeam(ctx, meta.Team{OrgID: acme.ID, Slug: "blue", Name: "Blue"})
	r, _ := s.meta.UserByEmail(ctx, "red@acme.test")
	b, _ := s.meta.UserByEmail(ctx, "blue@acme.test")
	for _, err := range []error{s.meta.AddTeamMember(ctx, red.ID, r.ID), s.meta.AddTeamMember(ctx, blue.ID, b.ID), s.meta.AddTeamProject(ctx, red.ID, game.ID)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return acme, game, tools
}

var tokenRE = regexp.MustCompile(`id="new-token" class="mono" readonly value="([0-9a-f]{64})"`)

// token creates an API token through the account page.
func (b *browser) token(orgID int64, scopes ...string) string {
	b.t.Helper()
	_, page, _ := b.get("/account")
	form := url.Values{"csrf": {csrfOf(b.t, page)}, "name": {"script"}, "org": {fmt.Sprint(orgID)}, "scope": scopes}
	code, body, _ := b.post("/account/tokens", form)
	m := tokenRE.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		b.t.Fatalf("create token: %d\n%s", code, body)
	}
	return m[1]
}

func TestEachRoleSeesWhatItShould(t *testing.T) {
	s := newStack(t, time.Second)
	acme, game, _ := s.access(t)
	type want struct {
		game, tools, manage int
	}
	cases := map[string]want{
		"owner@acme.test":   {http.StatusOK, http.StatusOK, http.StatusSeeOther},
		"manager@acme.test": {http.StatusOK, http.StatusOK, http.StatusSeeOther},
		"red@acme.test":     {http.StatusOK, http.StatusOK, http.StatusForbidden},
		"blue@acme.test":    {http.StatusNotFound, http.StatusOK, http.StatusForbidden},
	}
	for email, w := range cases {
		t.Run(email, func(t *testing.T) {
			b := s.browser(t)
			b.login(email)
			for path, code := range map[string]int{
				"/o/acme/acme-app/":                     w.game,
				"/o/acme/acme-app/settings/keys":        w.game,
				"/o/acme/acme-app/settings/sources":     w.game,
				"/o/acme/acme-app/settings/debug-files": w.game,
				"/o/acme/tools/":                        w.tools,
				"/o/acme/tools/settings/keys":           w.tools,
				"/orgs/acme/members":                    http.StatusOK,
				"/orgs/acme/teams":                      http.StatusOK,
				"/orgs/nonexistent/members":             http.StatusNotFound,
			} {
				if got, _, _ := b.get(path); got != code {
					t.Errorf("GET %s = %d, want %d", path, got, code)
				}
			}
			_, home, _ := b.get("/")
			if strings.Contains(home, `href="/o/acme/acme-app/"`) != (w.game == http.StatusOK) || !strings.Contains(home, `href="/o/acme/tools/"`) {
				t.Errorf("home page lists the wrong projects:\n%s", home)
			}
			_, page, _ := b.get("/account")
			csrf := csrfOf(t, page)
			if code, _, _ := b.post("/o/acme/tools/settings/keys", url.Values{"csrf": {csrf}, "action": {"create"}, "label": {"x"}}); code != w.manage {
				t.Errorf("create key = %d, want %d", code, w.manage)
			}
			if code, _, _ := b.post("/orgs/acme/teams", url.Values{"csrf": {csrf}, "name": {"T " + email}, "slug": {strings.Split(email, "@")[0] + "-team"}}); code != w.manage {
				t.Errorf("create team = %d, want %d", code, w.manage)
			}
			// The same rules hold for the user's API tokens.
			tok := b.token(acme.ID, "event:read", "project:read")
			if got := s.apiGet(t, tok, "/api/0/projects/acme/acme-app/issues/"); got != w.game {
				t.Errorf("API issues of game = %d, want %d", got, w.game)
			}
			if got := s.apiGet(t, tok, "/api/0/projects/acme/acme-app/keys/"); got != w.game {
				t.Errorf("API keys of game = %d, want %d", got, w.game)
			}
			if got := s.apiGet(t, tok, "/api/0/projects/acme/tools/issues/"); got != http.StatusOK {
				t.Errorf("API issues of tools = %d, want 200", got)
			}
		})
	}
	// An issue of game is hidden from blue by id too.
	is := s.issue(t, game, "crash in render", "fatal", "")
	b := s.browser(t)
	b.login("blue@acme.test")
	if code, _, _ := b.get(fmt.Sprintf("/o/acme/acme-app/issues/%d/", is.ID)); code != http.StatusNotFound {
		t.Errorf("blue reads game's issue page: %d", code)
	}
	tok := b.token(acme.ID, "event:read")
	if code := s.apiGet(t, tok, fmt.Sprintf("/api/0/issues/%d/", is.ID)); code != http.StatusNotFound {
		t.Errorf("blue reads game's issue through the API: %d", code)
	}
	r := s.browser(t)
	r.login("red@acme.test")
	if code := s.apiGet(t, r.token(acme.ID, "event:read"), fmt.Sprintf("/api/0/issues/%d/", is.ID)); code != http.StatusOK {
		t.Errorf("red reads game's issue through the API: %d", code)
	}
}
