package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/queue"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web/ui"
)

type env struct {
	meta   *sqlite.Meta
	events *sqlite.Events
	srv    *httptest.Server
	dir    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{dir: t.TempDir()}
	var err error
	if e.meta, err = sqlite.OpenMeta(ctx, filepath.Join(e.dir, "meta.db")); err != nil {
		t.Fatal(err)
	}
	if e.events, err = sqlite.OpenEvents(ctx, filepath.Join(e.dir, "events.db")); err != nil {
		t.Fatal(err)
	}
	h, err := ui.New(ui.Config{Meta: e.meta, Events: e.events})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		e.srv.Close()
		e.events.Close()
		e.meta.Close()
	})
	return e
}

// org creates an organization with one project.
func (e *env) org(t *testing.T, slug string) (meta.Organization, meta.Project) {
	t.Helper()
	ctx := context.Background()
	o, err := e.meta.CreateOrg(ctx, meta.Organization{Slug: slug, Name: strings.ToUpper(slug)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.meta.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: slug + "-app", Name: slug + " app", Platform: "native"})
	if err != nil {
		t.Fatal(err)
	}
	return o, p
}

func (e *env) user(t *testing.T, email string, orgs ...int64) {
	t.Helper()
	if _, err := ui.CreateUser(context.Background(), e.meta, email, "correct horse", false, orgs); err != nil {
		t.Fatal(err)
	}
}

var evSeq int

// issue stores an event and records it into a new issue.
func (e *env) issue(t *testing.T, p meta.Project, title, level string, data string) meta.Issue {
	t.Helper()
	ctx := context.Background()
	evSeq++
	id := fmt.Sprintf("%032x", evSeq)
	now := time.Now().Add(-time.Duration(evSeq) * time.Minute).UTC()
	is, err := e.meta.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: p.ID, Hash: id, Type: "error", Title: title, Culprit: "culprit of " + title, Level: level, Platform: "native", Time: now}})
	if err != nil {
		t.Fatal(err)
	}
	if data == "" {
		data = fmt.Sprintf(`{"event_id":%q,"platform":"native","level":%q}`, id, level)
	}
	if _, err := e.events.Put(ctx, []*events.Event{{ProjectID: p.ID, EventID: id, IssueID: is[0].ID, Timestamp: now, ReceivedAt: now, Level: level, Title: title, Data: []byte(data)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.meta.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: is[0].ID, ProjectID: p.ID, EventID: id, Time: now, Level: level, Title: title, Culprit: "culprit of " + title}}); err != nil {
		t.Fatal(err)
	}
	got, err := e.meta.Issue(ctx, is[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// browser is a cookie-keeping client that does not follow redirects, so
// tests see where each response sends it.
type browser struct {
	t   *testing.T
	c   *http.Client
	url string
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, url: e.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	res, err := b.c.Get(b.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

func (b *browser) post(path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	res, err := b.c.PostForm(b.url+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in page:\n%s", body)
	}
	return m[1]
}

func (b *browser) login(email string) {
	b.t.Helper()
	_, body, _ := b.get("/login")
	code, _, h := b.post("/login", url.Values{"csrf": {csrfOf(b.t, body)}, "email": {email}, "password": {"correct horse"}, "next": {"/"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/" {
		b.t.Fatalf("login %s: %d %s", email, code, h.Get("Location"))
	}
}

func TestSetupCreatesFirstAdministratorOnce(t *testing.T) {
	e := newEnv(t)
	e.org(t, "default")
	b := e.browser(t)
	if code, _, h := b.get("/"); code != http.StatusSeeOther || h.Get("Location") != "/setup" {
		t.Fatalf("first visit: %d → %q, want /setup", code, h.Get("Location"))
	}
	_, body, h := b.get("/setup")
	if !strings.Contains(h.Get("Set-Cookie"), "HttpOnly") || !strings.Contains(h.Get("Set-Cookie"), "SameSite=Lax") {
		t.Errorf("CSRF cookie %q", h.Get("Set-Cookie"))
	}
	form := url.Values{"csrf": {csrfOf(t, body)}, "email": {"Admin@Example.com"}, "password": {"correct horse"}, "password2": {"correct horse"}}
	code, _, h := b.post("/setup", form)
	if code != http.StatusSeeOther {
		t.Fatalf("setup: %d", code)
	}
	if c := h.Get("Set-Cookie"); !strings.Contains(c, "cairn_session=") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") || strings.Contains(c, "Secure") {
		t.Errorf("session cookie over plain HTTP: %q", c)
	}
	if code, body, _ := b.get("/"); code != http.StatusOK || !strings.Contains(body, "default-app") || !strings.Contains(body, "admin@example.com") {
		t.Fatalf("home after setup: %d\n%s", code, body)
	}
	u, err := e.meta.UserByEmail(context.Background(), "admin@example.com")
	if err != nil || !u.Admin {
		t.Fatalf("admin %+v %v", u, err)
	}
	// Setup cannot be replayed to create more accounts.
	other := e.browser(t)
	_, body, _ = other.get("/login")
	form.Set("csrf", csrfOf(t, body))
	form.Set("email", "intruder@example.com")
	if code, _, _ := other.post("/setup", form); code != http.StatusForbidden {
		t.Errorf("second setup: %d, want 403", code)
	}
}

func TestLoginLogoutAndCSRF(t *testing.T) {
	e := newEnv(t)
	o, p := e.org(t, "acme")
	e.user(t, "dev@acme.test", o.ID)
	is := e.issue(t, p, "boom", "error", "")
	b := e.browser(t)

	// Without a session pages send to sign-in, keeping the target.
	code, _, h := b.get("/o/acme/acme-app/")
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login?next=") {
		t.Fatalf("anonymous: %d → %q", code, h.Get("Location"))
	}
	// A sign-in without the CSRF cookie's token is refused.
	if code, _, _ := b.post("/login", url.Values{"email": {"dev@acme.test"}, "password": {"correct horse"}}); code != http.StatusForbidden {
		t.Errorf("login without CSRF: %d", code)
	}
	_, body, _ := b.get("/login")
	if code, body, _ := b.post("/login", url.Values{"csrf": {csrfOf(t, body)}, "email": {"dev@acme.test"}, "password": {"wrong password"}}); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password") {
		t.Errorf("wrong password: %d", code)
	}
	// An open redirect through next is neutralized.
	_, body, _ = b.get("/login")
	code, _, h = b.post("/login", url.Values{"csrf": {csrfOf(t, body)}, "email": {"DEV@acme.test"}, "password": {"correct horse"}, "next": {"//evil.example/"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Fatalf("login: %d → %q", code, h.Get("Location"))
	}

	code, body, _ = b.get("/o/acme/acme-app/")
	if code != http.StatusOK || !strings.Contains(body, "boom") {
		t.Fatalf("issue list: %d\n%s", code, body)
	}
	token := csrfOf(t, body)
	// A POST without the session's CSRF token changes nothing.
	if code, _, _ := b.post("/o/acme/acme-app/bulk", url.Values{"action": {"resolved"}, "issue": {fmt.Sprint(is.ID)}}); code != http.StatusForbidden {
		t.Errorf("bulk without CSRF: %d", code)
	}
	// The token with its first byte changed: "00" would be no change for
	// one token in 256.
	wrong := "00" + token[2:]
	if token[:2] == "00" {
		wrong = "ff" + token[2:]
	}
	if code, _, _ := b.post("/o/acme/acme-app/bulk", url.Values{"csrf": {wrong}, "action": {"resolved"}, "issue": {fmt.Sprint(is.ID)}}); code != http.StatusForbidden {
		t.Errorf("bulk with a wrong CSRF token: %d", code)
	}
	if got, _ := e.meta.Issue(context.Background(), is.ID); got.Status != meta.StatusUnresolved {
		t.Fatalf("status changed without CSRF: %s", got.Status)
	}
	if code, _, _ := b.post("/logout", url.Values{"csrf": {token}}); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := b.get("/o/acme/acme-app/"); code != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to sign-in", code)
	}
}

func TestSecureCookieUnderTLS(t *testing.T) {
	ctx := context.Background()
	m, err := sqlite.OpenMeta(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h, err := ui.New(ui.Config{Meta: m})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/setup")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if c := res.Header.Get("Set-Cookie"); !strings.Contains(c, "; Secure") {
		t.Errorf("cookie over TLS lacks Secure: %q", c)
	}
}

func TestIssueListSearchSortPaginateBulk(t *testing.T) {
	e := newEnv(t)
	o, p := e.org(t, "acme")
	e.user(t, "dev@acme.test", o.ID)
	var all []meta.Issue
	for i := range 30 {
		level := "error"
		if i%10 == 0 {
			level = "fatal"
		}
		all = append(all, e.issue(t, p, fmt.Sprintf("crash number %02d", i), level, ""))
	}
	b := e.browser(t)
	b.login("dev@acme.test")

	_, body, _ := b.get("/o/acme/acme-app/")
	if !strings.Contains(body, "crash number 00") || strings.Contains(body, "crash number 29") || !strings.Contains(body, "Next →") {
		t.Fatalf("first page should hold the 25 most recent issues and a next link:\n%s", body)
	}
	_, body, _ = b.get("/o/acme/acme-app/?query=is%3Aunresolved&sort=date&page=2")
	if !strings.Contains(body, "crash number 29") || strings.Contains(body, "crash number 00") {
		t.Errorf("second page:\n%s", body)
	}
	_, body, _ = b.get("/o/acme/acme-app/?query=" + url.QueryEscape("level:fatal number"))
	if n := strings.Count(body, "/issues/"); n != 3 {
		t.Errorf("level:fatal matched %d issues, want 3", n)
	}
	_, body, _ = b.get("/o/acme/acme-app/?query=" + url.QueryEscape("NUMBER 07") + "&sort=new")
	if n := strings.Count(body, "/issues/"); n != 1 || !strings.Contains(body, "crash number 07") {
		t.Errorf("free text matched %d issues", n)
	}
	for _, s := range []string{"freq", "user", "new"} {
		if code, _, _ := b.get("/o/acme/acme-app/?sort=" + s); code != http.StatusOK {
			t.Errorf("sort %s: %d", s, code)
		}
	}

	code, body, h := b.post("/o/acme/acme-app/bulk", url.Values{"csrf": {csrfOf(t, body)}, "action": {"resolved"},
		"issue": {fmt.Sprint(all[0].ID), fmt.Sprint(all[1].ID)}, "back": {"/o/acme/acme-app/"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/o/acme/acme-app/" {
		t.Fatalf("bulk resolve: %d %q %s", code, h.Get("Location"), body)
	}
	_, body, _ = b.get("/o/acme/acme-app/?query=is%3Aresolved")
	if n := strings.Count(body, "/issues/"); n != 2 {
		t.Errorf("resolved: %d issues, want 2", n)
	}
	_, body, _ = b.get("/o/acme/acme-app/")
	if strings.Contains(body, "crash number 00<") || strings.Contains(body, "crash number 01<") {
		t.Errorf("resolved issues still listed as unresolved")
	}
}

// TestOrganizationsAreIsolated proves a member of one organization never
// sees, nor changes, another's projects, issues or events, whatever URL
// they forge.
func TestOrganizationsAreIsolated(t *testing.T) {
	e := newEnv(t)
	acme, acmeApp := e.org(t, "acme")
	globex, globexApp := e.org(t, "globex")
	e.user(t, "dev@acme.test", acme.ID)
	e.user(t, "dev@globex.test", globex.ID)
	secret := e.issue(t, globexApp, "globex secret crash", "fatal", "")
	mine := e.issue(t, acmeApp, "acme crash", "error", "")

	b := e.browser(t)
	b.login("dev@acme.test")
	_, home, _ := b.get("/")
	if strings.Contains(home, "globex") || !strings.Contains(home, "acme-app") {
		t.Errorf("home lists another organization's projects:\n%s", home)
	}
	for _, path := range []string{
		"/o/globex/globex-app/",
		fmt.Sprintf("/o/globex/globex-app/issues/%d/", secret.ID),
		// The issue of another organization through one's own project.
		fmt.Sprintf("/o/acme/acme-app/issues/%d/", secret.ID),
		fmt.Sprintf("/o/acme/acme-app/issues/%d/?event=%s", mine.ID, secret.LastEventID),
		// A project of another organization under one's own slug.
		"/o/acme/globex-app/",
	} {
		code, body, _ := b.get(path)
		if code != http.StatusNotFound || strings.Contains(body, "secret") {
			t.Errorf("GET %s: %d, want 404 without data", path, code)
		}
	}
	token := csrfOf(t, home)
	b.post("/o/acme/acme-app/bulk", url.Values{"csrf": {token}, "action": {"ignored"}, "issue": {fmt.Sprint(secret.ID)}})
	if code, _, _ := b.post("/o/globex/globex-app/bulk", url.Values{"csrf": {token}, "action": {"ignored"}, "issue": {fmt.Sprint(secret.ID)}}); code != http.StatusNotFound {
		t.Errorf("bulk on another organization: %d", code)
	}
	if got, _ := e.meta.Issue(context.Background(), secret.ID); got.Status != meta.StatusUnresolved {
		t.Errorf("another organization's issue changed to %s", got.Status)
	}
	// The other member does see their own issue.
	g := e.browser(t)
	g.login("dev@globex.test")
	if code, body, _ := g.get(fmt.Sprintf("/o/globex/globex-app/issues/%d/", secret.ID)); code != http.StatusOK || !strings.Contains(body, "globex secret crash") {
		t.Errorf("owner: %d", code)
	}
}

const nativeEvent = `{"event_id":"%s","platform":"native","level":"fatal",
 "exception":{"values":[{"type":"EXCEPTION_ACCESS_VIOLATION_READ","value":"Fatal Error: EXCEPTION_ACCESS_VIOLATION_READ","thread_id":7,
   "stacktrace":{"frames":[
     {"instruction_addr":"0x7ff6a0001000","function":"main","filename":"main.cpp","lineno":10,"trust":"cfi","in_app":true},
     {"instruction_addr":"0x7ff6a0002000","function":"crash_inner","filename":"crash.h","lineno":5,"trust":"cfi","in_app":true},
     {"instruction_addr":"0x7ff6a0002000","function":"inline_helper","filename":"crash.h","lineno":3,"trust":"context","in_app":true}]}}]},
 "threads":{"values":[{"id":7,"name":"main","crashed":true},
   {"id":8,"name":"worker","stacktrace":{"frames":[{"instruction_addr":"0x7ffb10003000","trust":"context"}]}}]},
 "debug_meta":{"images":[
   {"type":"pe","code_file":"C:\\app\\app.exe","debug_file":"C:\\app\\app.pdb","debug_id":"3249d99d-0c40-4931-8610-f4e4fb0b6936-1","image_addr":"0x7ff6a0000000","image_size":65536,"debug_status":"found","unwind_status":"found"},
   {"type":"pe","code_file":"C:\\Windows\\System32\\ntdll.dll","debug_file":"ntdll.pdb","debug_id":"b3a2c1d0-0000-4000-8000-000000000001-1","image_addr":"0x7ffb10000000","image_size":65536,"debug_status":"missing","unwind_status":"missing"}]},
 "tags":[["os","windows"],["release","app@1.2"]],
 "contexts":{"os":{"name":"Windows","version":"10.0.19045"}},
 "breadcrumbs":{"values":[{"timestamp":1700000000.5,"category":"ui.click","level":"info","message":"clicked <Save>"}]}}`

func TestIssueDetailRendersNativeEvent(t *testing.T) {
	e := newEnv(t)
	o, p := e.org(t, "acme")
	e.user(t, "dev@acme.test", o.ID)
	id := fmt.Sprintf("%032x", 999)
	evSeq++
	is := e.issue(t, p, "EXCEPTION_ACCESS_VIOLATION_READ", "fatal", fmt.Sprintf(nativeEvent, id))
	b := e.browser(t)
	b.login("dev@acme.test")
	code, body, h := b.get(fmt.Sprintf("/o/acme/acme-app/issues/%d/", is.ID))
	if code != http.StatusOK {
		t.Fatalf("detail: %d\n%s", code, body)
	}
	if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("security headers %v", h)
	}
	inline := strings.Index(body, "inline_helper")
	outer := strings.Index(body, "crash_inner")
	mainFn := strings.Index(body, ">main<")
	for _, want := range []string{
		"0x00007ff6a0002000", "app.exe", "crash.h:3", "inlined", "cfi",
		"Thread 8 worker", "ntdll.dll", "missing",
		"Upload ntdll.pdb (debug id b3a2c1d0-0000-4000-8000-000000000001-1) with either command:", "cairn upload --org acme --project acme-app path/to/ntdll.pdb",
		"10.0.19045", "app@1.2", "clicked &lt;Save&gt;", "Copy as text", "EXCEPTION_ACCESS_VIOLATION_READ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	if !(inline >= 0 && inline < outer && outer < mainFn) {
		t.Errorf("frames not innermost first: inline %d, caller %d, main %d", inline, outer, mainFn)
	}
	if strings.Contains(body, "clicked <Save>") {
		t.Error("breadcrumb message not escaped")
	}
}

func TestEventNavigation(t *testing.T) {
	e := newEnv(t)
	o, p := e.org(t, "acme")
	e.user(t, "dev@acme.test", o.ID)
	ctx := context.Background()
	is := e.issue(t, p, "repeat", "error", "")
	base := time.Now().Add(-time.Hour).UTC()
	for i := range 3 {
		id := fmt.Sprintf("e%031x", i)
		ts := base.Add(time.Duration(i) * time.Minute)
		if _, err := e.events.Put(ctx, []*events.Event{{ProjectID: p.ID, EventID: id, IssueID: is.ID, Timestamp: ts, ReceivedAt: ts, Data: []byte(`{"platform":"native"}`)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.meta.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: is.ID, ProjectID: p.ID, EventID: id, Time: ts}}); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser(t)
	b.login("dev@acme.test")
	page := fmt.Sprintf("/o/acme/acme-app/issues/%d/", is.ID)
	_, body, _ := b.get(page)
	if !strings.Contains(body, is.LastEventID) || !strings.Contains(body, "?offset=1") || strings.Contains(body, "Newer") {
		t.Errorf("newest event page:\n%s", body)
	}
	_, body, _ = b.get(page + "?offset=oldest")
	if !strings.Contains(body, fmt.Sprintf("e%031x", 0)) || strings.Contains(body, "Older") || !strings.Contains(body, "?offset=2") {
		t.Errorf("oldest event page:\n%s", body)
	}
	_, body, _ = b.get(page + "?event=" + fmt.Sprintf("e%031x", 1))
	if !strings.Contains(body, fmt.Sprintf("e%031x", 1)) {
		t.Errorf("event by id")
	}
}

// TestMinidumpEventRenders runs a real minidump through the sink and the
// issues worker and renders the resulting issue.
func TestMinidumpEventRenders(t *testing.T) {
	peers := testtools.PeersDir(t)
	dump, err := os.ReadFile(filepath.Join(peers, "breakpad", "linux_null_dereference.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	ctx := context.Background()
	o, p := e.org(t, "acme")
	e.user(t, "dev@acme.test", o.ID)
	blobs, err := fsblob.Open(filepath.Join(e.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := sqlite.OpenQueue(ctx, filepath.Join(e.dir, "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	sink := issues.NewSink(blobs, q, issues.SinkOptions{})
	defer sink.Close()
	if err := sink.Accept(ctx, &ingest.Accepted{ProjectID: p.ID, EventID: fmt.Sprintf("%032x", 4242), ReceivedAt: time.Now(),
		Event: []byte(`{"release":"driver@1"}`), Attachments: []ingest.Attachment{{Name: "crash.dmp", Type: "event.minidump", Data: dump}}}); err != nil {
		t.Fatal(err)
	}
	w := issues.NewWorker(q, e.meta, e.events, &issues.Processor{Blobs: blobs, Symbolicator: issues.Unsymbolicated{}}, issues.WorkerOptions{})
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	list, _, err := e.meta.ListIssues(ctx, meta.IssueQuery{ProjectID: p.ID})
	if err != nil || len(list) != 1 {
		t.Fatalf("issues %v %v", list, err)
	}
	b := e.browser(t)
	b.login("dev@acme.test")
	code, body, _ := b.get(fmt.Sprintf("/o/acme/acme-app/issues/%d/", list[0].ID))
	if code != http.StatusOK {
		t.Fatalf("detail: %d", code)
	}
	for _, want := range []string{"SIGSEGV", "Stack trace", "Loaded images", "driver", "0x", "cairn upload --org acme --project acme-app"} {
		if !strings.Contains(body, want) {
			t.Errorf("minidump page lacks %q", want)
		}
	}
}
