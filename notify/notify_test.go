package notify_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/notify"
	"github.com/cairn-dev/cairn/notify/smtptest"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
)

// fixture is a store with one organization, project and issue.
type fixture struct {
	store *sqlite.Meta
	proj  meta.Project
	issue meta.Issue
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	m, err := sqlite.OpenMeta(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	org, err := m.CreateOrg(ctx, meta.Organization{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.CreateProject(ctx, meta.Project{OrgID: org.ID, Slug: "demo", Name: "Demo", Platform: "native"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	is, err := m.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: p.ID, Hash: "h1", Type: "error", Title: "EXC_BAD_ACCESS in crash_null",
		Culprit: "crash_null (crash.c:12)", Level: "fatal", Platform: "native", Time: now}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: is[0].ID, ProjectID: p.ID, EventID: strings.Repeat("a", 32),
		Time: now, Level: "fatal", Title: is[0].Title, Culprit: is[0].Culprit}}); err != nil {
		t.Fatal(err)
	}
	return &fixture{store: m, proj: p, issue: is[0]}
}

func crashEvent() *issues.Event {
	yes, no := true, false
	return &issues.Event{EventID: strings.Repeat("a", 32), Level: "fatal", Environment: "production",
		Exception: &issues.Exceptions{Values: []*issues.Exception{{Type: "EXC_BAD_ACCESS", Stacktrace: &issues.Stacktrace{Frames: []*issues.Frame{
			{Function: "_start", InApp: &no},
			{Function: "main", Filename: "crash.c", Lineno: 30, InApp: &yes},
			{Function: "crash_null", Filename: "crash.c", Lineno: 12, InApp: &yes},
		}}}}}}
}

func tlsFromHTTPTest(t *testing.T) (server, client *tls.Config) {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(ts.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return ts.TLS, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// parseMail checks a received message's headers and returns its parts.
func parseMail(t *testing.T, data []byte) (*mail.Message, map[string]string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		b, _ := io.ReadAll(p)
		parts[pt] = string(b)
	}
	return msg, parts
}

// Email goes through a real SMTP conversation with STARTTLS and AUTH
// PLAIN and arrives as a readable multipart/alternative message.
func TestEmailOverSMTP(t *testing.T) {
	serverTLS, clientTLS := tlsFromHTTPTest(t)
	srv, err := smtptest.Start(smtptest.Options{TLS: serverTLS, Username: "cairn", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Addr)
	p, _ := strconv.Atoi(port)
	f := newFixture(t)
	ctx := context.Background()
	rule, err := f.store.CreateAlertRule(ctx, meta.AlertRule{ProjectID: f.proj.ID, Name: "new crashes", Enabled: true,
		Trigger: meta.TriggerNewIssue, Actions: []meta.AlertAction{{Type: meta.ActionEmail, Emails: []string{"dev@example.com"}}}})
	if err != nil {
		t.Fatal(err)
	}
	svc := notify.New(f.store, notify.Options{PublicURL: "https://crash.example.com/",
		SMTP: notify.SMTP{Host: host, Port: p, From: "cairn@example.com", Username: "cairn", Password: "s3cret", TLS: clientTLS}})
	change := issues.IssueChange{ProjectID: f.proj.ID, IssueID: f.issue.ID, Event: crashEvent(), New: true, Count: 1}
	svc.OnIssue(ctx, change)
	svc.OnIssue(ctx, change) // a retried worker: same occurrence, same key
	if n, err := svc.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("SendDue = %d, %v; want one delivery", n, err)
	}
	var m smtptest.Message
	select {
	case m = <-srv.Messages:
	case <-time.After(5 * time.Second):
		t.Fatal("no message arrived")
	}
	if !m.TLS || m.Auth != "cairn" || m.From != "cairn@example.com" || len(m.To) != 1 || m.To[0] != "dev@example.com" {
		t.Errorf("envelope %+v", m)
	}
	msg, parts := parseMail(t, m.Data)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "[Cairn] New issue: EXC_BAD_ACCESS in crash_null — demo" {
		t.Errorf("Subject %q (%v)", subject, err)
	}
	if msg.Header.Get("From") != "cairn@example.com" || msg.Header.Get("To") != "dev@example.com" || msg.Header.Get("Message-Id") == "" {
		t.Errorf("headers %v", msg.Header)
	}
	link := "https://crash.example.com/o/acme/demo/issues/" + strconv.FormatInt(f.issue.ID, 10) + "/"
	text, html := parts["text/plain"], parts["text/html"]
	for _, want := range []string{"EXC_BAD_ACCESS in crash_null", "crash_null (crash.c:12)", "fatal", "Events:     1", "First seen:",
		"crash_null (crash.c:12)\r\n  main (crash.c:30)", link} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "_start") {
		t.Errorf("text part shows a frame that is not in-app:\n%s", text)
	}
	if !strings.Contains(html, `<a href="`+link+`">`) || !strings.Contains(html, "<pre") {
		t.Errorf("html part:\n%s", html)
	}
	ds, err := f.store.ListDeliveries(ctx, meta.DeliveryQuery{ProjectID: f.proj.ID, RuleID: rule.ID})
	if err != nil || len(ds) != 1 || ds[0].Status != meta.DeliverySent || ds[0].Attempts != 1 {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	select {
	case extra := <-srv.Messages:
		t.Errorf("a second message arrived: %s", extra.Data)
	case <-time.After(100 * time.Millisecond):
	}
}

// A relay that refuses the credentials fails the delivery at once: 5xx
// replies are permanent.
func TestEmailAuthRefused(t *testing.T) {
	srv, err := smtptest.Start(smtptest.Options{Username: "cairn", Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Addr)
	p, _ := strconv.Atoi(port)
	s := notify.SMTP{Host: host, Port: p, From: "cairn@example.com", Username: "cairn", Password: "wrong"}
	err = s.Send(context.Background(), []string{"dev@example.com"}, []byte("Subject: x\r\n\r\nx\r\n"))
	if err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("err = %v, want a 535 reply", err)
	}
}

// slackPeer is an incoming webhook that checks the JSON shape Slack
// documents and fails the first failures requests with 500.
type slackPeer struct {
	t        *testing.T
	failures int32
	calls    atomic.Int32
	mu       sync.Mutex
	bodies   []map[string]any
}

func (p *slackPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.calls.Add(1)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		p.t.Errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.bodies = append(p.bodies, body)
	p.mu.Unlock()
	if n <= p.failures {
		http.Error(w, "internal_error", http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "ok")
}

func checkSlackShape(t *testing.T, body map[string]any, link string) {
	t.Helper()
	if s, _ := body["text"].(string); s == "" {
		t.Errorf("no fallback text: %v", body)
	}
	blocks, _ := body["blocks"].([]any)
	var types []string
	for _, b := range blocks {
		bm := b.(map[string]any)
		types = append(types, bm["type"].(string))
		switch bm["type"] {
		case "header":
			txt := bm["text"].(map[string]any)
			if txt["type"] != "plain_text" || len([]rune(txt["text"].(string))) > 150 {
				t.Errorf("header %v", txt)
			}
		case "section":
			if txt := bm["text"].(map[string]any); txt["type"] != "mrkdwn" {
				t.Errorf("section text %v", txt)
			}
			fields := bm["fields"].([]any)
			if len(fields) == 0 || len(fields) > 10 {
				t.Errorf("%d fields", len(fields))
			}
			for _, f := range fields {
				if f.(map[string]any)["type"] != "mrkdwn" {
					t.Errorf("field %v", f)
				}
			}
		case "context":
			for _, e := range bm["elements"].([]any) {
				if e.(map[string]any)["type"] != "mrkdwn" {
					t.Errorf("context element %v", e)
				}
			}
		case "actions":
			btn := bm["elements"].([]any)[0].(map[string]any)
			if btn["type"] != "button" || btn["url"] != link || btn["text"].(map[string]any)["type"] != "plain_text" {
				t.Errorf("button %v", btn)
			}
		}
	}
	if strings.Join(types, ",") != "header,section,context,actions" {
		t.Errorf("blocks %v", types)
	}
}

// Slack answers 500 twice, then 200: the sender retries with backoff and
// the third attempt succeeds; the regression key is per resolution.
func TestSlackRetries(t *testing.T) {
	peer := &slackPeer{t: t, failures: 2}
	hook := httptest.NewServer(peer)
	defer hook.Close()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.store.CreateAlertRule(ctx, meta.AlertRule{ProjectID: f.proj.ID, Name: "regressions", Enabled: true,
		Trigger: meta.TriggerRegression, MinLevel: "error", Environment: "production",
		Actions: []meta.AlertAction{{Type: meta.ActionSlack, WebhookURL: hook.URL + "/services/T/B/X"}}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	svc := notify.New(f.store, notify.Options{PublicURL: "https://crash.example.com", Backoff: time.Second, Now: clock})
	if _, err := f.store.SetIssueStatus(ctx, f.issue.ID, meta.StatusResolved); err != nil {
		t.Fatal(err)
	}
	staging := crashEvent()
	staging.Environment = "staging"
	svc.OnIssue(ctx, issues.IssueChange{ProjectID: f.proj.ID, IssueID: f.issue.ID, Event: staging, Regressed: true, Count: 1})
	svc.OnIssue(ctx, issues.IssueChange{ProjectID: f.proj.ID, IssueID: f.issue.ID, Event: crashEvent(), Regressed: true, Count: 1})
	svc.OnIssue(ctx, issues.IssueChange{ProjectID: f.proj.ID, IssueID: f.issue.ID, Event: crashEvent(), Regressed: true, Count: 1})
	for i, wantAttempts := range []int{1, 2, 3} {
		if n, err := svc.SendDue(ctx); err != nil || n != 1 {
			t.Fatalf("round %d: SendDue = %d, %v", i, n, err)
		}
		ds, _ := f.store.ListDeliveries(ctx, meta.DeliveryQuery{ProjectID: f.proj.ID})
		if len(ds) != 1 || ds[0].Attempts != wantAttempts {
			t.Fatalf("round %d: deliveries %+v", i, ds)
		}
		if i < 2 {
			if ds[0].Status != meta.DeliveryPending || !strings.Contains(ds[0].LastError, "HTTP 500") {
				t.Fatalf("round %d: %+v", i, ds[0])
			}
			if n, _ := svc.SendDue(ctx); n != 0 {
				t.Fatalf("round %d: retried before the backoff", i)
			}
			now = now.Add(time.Second << i) // 1s, then 2s
		} else if ds[0].Status != meta.DeliverySent || ds[0].LastError != "" {
			t.Fatalf("final %+v", ds[0])
		}
	}
	if peer.calls.Load() != 3 {
		t.Errorf("%d webhook calls, want 3", peer.calls.Load())
	}
	checkSlackShape(t, peer.bodies[2], "https://crash.example.com/o/acme/demo/issues/"+strconv.FormatInt(f.issue.ID, 10)+"/")
}

// A webhook that always fails ends as failed after MaxAttempts, with its
// last error kept; Slack's invalid_payload fails at once.
func TestSlackGivesUp(t *testing.T) {
	answer := "internal_error"
	status := http.StatusInternalServerError
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, answer, status) }))
	defer hook.Close()
	f := newFixture(t)
	ctx := context.Background()
	rule, _ := f.store.CreateAlertRule(ctx, meta.AlertRule{ProjectID: f.proj.ID, Name: "all", Enabled: true, Trigger: meta.TriggerNewIssue,
		Actions: []meta.AlertAction{{Type: meta.ActionSlack, WebhookURL: hook.URL}}})
	now := time.Now()
	svc := notify.New(f.store, notify.Options{MaxAttempts: 3, Backoff: time.Millisecond, Now: func() time.Time { return now }})
	svc.OnIssue(ctx, issues.IssueChange{ProjectID: f.proj.ID, IssueID: f.issue.ID, New: true, Count: 1})
	for range 5 {
		svc.SendDue(ctx)
		now = now.Add(time.Minute)
	}
	ds, _ := f.store.ListDeliveries(ctx, meta.DeliveryQuery{ProjectID: f.proj.ID, RuleID: rule.ID})
	if len(ds) != 1 || ds[0].Status != meta.DeliveryFailed || ds[0].Attempts != 3 || !strings.Contains(ds[0].LastError, "HTTP 500 internal_error") {
		t.Fatalf("deliveries %+v", ds)
	}
	answer, status = "invalid_payload", http.StatusBadRequest
	if err := svc.SendTest(ctx, rule.ID); err != nil {
		t.Fatal(err)
	}
	svc.SendDue(ctx)
	ds, _ = f.store.ListDeliveries(ctx, meta.DeliveryQuery{ProjectID: f.proj.ID, RuleID: rule.ID, Limit: 1})
	if ds[0].Trigger != "test" || ds[0].Status != meta.DeliveryFailed || ds[0].Attempts != 1 || !strings.Contains(ds[0].LastError, "invalid_payload") {
		t.Fatalf("test delivery %+v", ds[0])
	}
}

// Slack's 429 is retried after Retry-After, not the backoff.
func TestSlackRetryAfter(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		http.Error(w, "rate_limited", http.StatusTooManyRequests)
	}))
	defer hook.Close()
	f := newFixture(t)
	ctx := context.Background()
	f.store.CreateAlertRule(ctx, meta.AlertRule{ProjectID: f.proj.ID, Name: "all", Enabled: true, Trigger: meta.TriggerNewIssue,
		Actions: []meta.AlertAction{{Type: meta.ActionSlack, WebhookURL: hook.URL}}})
	now := time.Now().UTC().Truncate(time.Second)
	svc := notify.New(f.store, notify.Options{Backoff: time.Second, Now: func() time.Time { return now }})
	svc.OnIssue(ctx, issues.IssueChange{ProjectID: f.proj.ID, IssueID: f.issue.ID, New: true, Count: 1})
	svc.SendDue(ctx)
	ds, _ := f.store.ListDeliveries(ctx, meta.DeliveryQuery{ProjectID: f.proj.ID})
	if ds[0].Status != meta.DeliveryPending || !ds[0].NextAttempt.Equal(now.Add(120*time.Second)) {
		t.Fatalf("delivery %+v, want next attempt at %v", ds[0], now.Add(120*time.Second))
	}
}

// The frequency rule fires once when the count crosses the threshold
// within the window, and not again in the same window.
func TestFrequencyRule(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.store.CreateAlertRule(ctx, meta.AlertRule{ProjectID: f.proj.ID, Name: "spike", Enabled: true, Trigger: meta.TriggerFrequency,
		Threshold: 5, Window: 10 * time.Minute, Actions: []meta.AlertAction{{Type: meta.ActionSlack, WebhookURL: "http://127.0.0.1:1/"}}})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	svc := notify.New(f.store, notify.Options{Now: func() time.Time { return now }})
	pending := func() int {
		ds, _ := f.store.ListDeliveries(ctx, meta.DeliveryQuery{ProjectID: f.proj.ID})
		return len(ds)
	}
	change := issues.IssueChange{ProjectID: f.proj.ID, IssueID: f.issue.ID, Count: 2}
	for i := range 2 {
		svc.OnIssue(ctx, change)
		now = now.Add(time.Minute)
		if pending() != 0 {
			t.Fatalf("fired after %d events", 2*(i+1))
		}
	}
	svc.OnIssue(ctx, change) // 6 > 5
	if pending() != 1 {
		t.Fatalf("%d deliveries after crossing the threshold", pending())
	}
	svc.OnIssue(ctx, change)
	if pending() != 1 {
		t.Fatal("fired twice in one window")
	}
	now = now.Add(30 * time.Minute) // the old counts left the window
	svc.OnIssue(ctx, issues.IssueChange{ProjectID: f.proj.ID, IssueID: f.issue.ID, Count: 1})
	if pending() != 1 {
		t.Fatal("fired below the threshold")
	}
}

// githubPeer is GitHub's REST API for issue creation and compare.
func githubPeer(t *testing.T, created *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ghp_test" || r.Header.Get("Accept") != "application/vnd.github+json" ||
			r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" || r.Header.Get("User-Agent") == "" {
			t.Errorf("headers %v", r.Header)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v3/repos/acme/game/issues":
			var in map[string]any
			json.NewDecoder(r.Body).Decode(&in)
			body, _ := in["body"].(string)
			labels, _ := in["labels"].([]any)
			if in["title"] != "EXC_BAD_ACCESS in crash_null" || !strings.Contains(body, "```\ncrash_null (crash.c:12)\nmain (crash.c:30)\n```") ||
				!strings.Contains(body, "[View the issue in Cairn](https://crash.example.com/o/acme/demo/issues/") ||
				len(labels) != 1 || labels[0] != "crash" || len(in) != 3 {
				t.Errorf("issue body %v", in)
			}
			created.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id": 1, "number": 42, "html_url": "https://github.com/acme/game/issues/42", "title": "x"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/api/v3/repos/acme/game/compare/1111111...3333333":
			io.WriteString(w, `{"status": "ahead", "ahead_by": 2, "commits": [
				{"sha": "2222222aaaa", "html_url": "https://github.com/acme/game/commit/2222222aaaa",
				 "commit": {"message": "Check the level pointer\n\nlong text", "author": {"name": "Ada", "email": "ada@example.com", "date": "2026-01-01T10:00:00Z"}}},
				{"sha": "3333333bbbb", "html_url": "https://github.com/acme/game/commit/3333333bbbb",
				 "commit": {"message": "Load levels lazily", "author": {"name": "Lin", "email": "lin@example.com", "date": "2026-01-02T10:00:00Z"}}}]}`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
		}
	}))
}

// A GitHub action creates an issue through the REST API and links it back
// to the Cairn issue; compare yields a release's commits.
func TestGitHub(t *testing.T) {
	var created atomic.Int32
	gh := githubPeer(t, &created)
	defer gh.Close()
	f := newFixture(t)
	ctx := context.Background()
	f.store.CreateAlertRule(ctx, meta.AlertRule{ProjectID: f.proj.ID, Name: "track", Enabled: true, Trigger: meta.TriggerNewIssue,
		Actions: []meta.AlertAction{{Type: meta.ActionGitHub, Repo: "acme/game", Labels: []string{"crash"}}}})
	svc := notify.New(f.store, notify.Options{PublicURL: "https://crash.example.com", GitHub: notify.GitHub{Token: "ghp_test", APIURL: gh.URL + "/api/v3"}})
	svc.OnIssue(ctx, issues.IssueChange{ProjectID: f.proj.ID, IssueID: f.issue.ID, Event: crashEvent(), New: true, Count: 1})
	if _, err := svc.SendDue(ctx); err != nil {
		t.Fatal(err)
	}
	links, err := f.store.IssueLinks(ctx, f.issue.ID)
	if err != nil || len(links) != 1 || links[0].URL != "https://github.com/acme/game/issues/42" || created.Load() != 1 {
		t.Fatalf("links %+v, %v; %d created", links, err, created.Load())
	}
	cs, err := svc.Commits(ctx, "acme/game", "1111111", "3333333")
	if err != nil || len(cs) != 2 || cs[0].SHA != "2222222aaaa" || cs[0].AuthorName != "Ada" || cs[1].URL != "https://github.com/acme/game/commit/3333333bbbb" ||
		!cs[0].Time.Equal(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("commits %+v, %v", cs, err)
	}
}

func TestValidateRule(t *testing.T) {
	ok := meta.AlertRule{Name: "x", Trigger: meta.TriggerNewIssue, Actions: []meta.AlertAction{{Type: meta.ActionEmail, Emails: []string{"a@b"}}}}
	if err := notify.ValidateRule(ok); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*meta.AlertRule){
		"no actions":  func(r *meta.AlertRule) { r.Actions = nil },
		"bad trigger": func(r *meta.AlertRule) { r.Trigger = "sometimes" },
		"no window":   func(r *meta.AlertRule) { r.Trigger, r.Threshold = meta.TriggerFrequency, 3 },
		"bad level":   func(r *meta.AlertRule) { r.MinLevel = "loud" },
		"bad repo":    func(r *meta.AlertRule) { r.Actions = []meta.AlertAction{{Type: meta.ActionGitHub, Repo: "game"}} },
		"bad webhook": func(r *meta.AlertRule) {
			r.Actions = []meta.AlertAction{{Type: meta.ActionSlack, WebhookURL: "ftp://x"}}
		},
		"bad address": func(r *meta.AlertRule) {
			r.Actions = []meta.AlertAction{{Type: meta.ActionEmail, Emails: []string{"nobody"}}}
		},
	} {
		r := ok
		mod(&r)
		if notify.ValidateRule(r) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
