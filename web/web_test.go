package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/memcache"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web"
)

type fixture struct {
	meta   *sqlite.Meta
	events *sqlite.Events
	srv    *httptest.Server
	token  string
	proj   meta.Project
	issue  meta.Issue
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	m, err := sqlite.OpenMeta(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := sqlite.OpenEvents(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); evs.Close() })
	_, p, _, err := web.EnsureDefaults(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := web.CreateToken(ctx, m, "default", "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	var issue meta.Issue
	for i := range 3 {
		is, err := m.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: p.ID, Hash: fmt.Sprint("h", i), Type: "error",
			Title: fmt.Sprint("Crash ", i), Level: "fatal", Platform: "native", Time: at}})
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("%032x", i+1)
		data := `{"event_id":"` + id + `","timestamp":1775030400,"platform":"native","level":"fatal","title":"Crash","type":"error",
			"exception":{"values":[{"type":"SIGSEGV","stacktrace":{"frames":[{"instruction_addr":"0x401f26","package":"/bin/driver","in_app":true}]}}]},
			"tags":[["custom","yes"]],"release":"r1","user":{"id":"u"},"hashes":["h"]}`
		if _, err := evs.Put(ctx, []*events.Event{{ProjectID: p.ID, EventID: id, IssueID: is[0].ID, Timestamp: at, Data: []byte(data)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: is[0].ID, ProjectID: p.ID, EventID: id, Time: at.Add(time.Duration(i) * time.Minute), Release: "r1"}}); err != nil {
			t.Fatal(err)
		}
		issue = is[0]
	}
	srv := httptest.NewServer(web.NewAPI(m, evs, "http://cairn.test", nil))
	t.Cleanup(srv.Close)
	return &fixture{meta: m, events: evs, srv: srv, token: tok, proj: p, issue: issue}
}

func (f *fixture) do(t *testing.T, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestAuth(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	readOnly, _, err := web.CreateToken(ctx, f.meta, "default", "ro", []string{"event:read"})
	if err != nil {
		t.Fatal(err)
	}
	noEvents, _, _ := web.CreateToken(ctx, f.meta, "default", "x", []string{"org:read"})
	other, _ := f.meta.CreateOrg(ctx, meta.Organization{Slug: "other", Name: "Other"})
	otherTok, _, _ := web.CreateToken(ctx, f.meta, other.Slug, "o", nil)
	issuePath := fmt.Sprintf("/api/0/issues/%d/", f.issue.ID)
	for _, c := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/api/0/projects/default/default/issues/", "", "", 401},
		{"GET", "/api/0/projects/default/default/issues/", "0000", "", 401},
		{"GET", "/api/0/projects/default/default/issues/", noEvents, "", 403},
		{"GET", "/api/0/projects/default/default/issues/", otherTok, "", 404},
		{"GET", issuePath, otherTok, "", 404},
		{"GET", "/api/0/projects/default/default/issues/", readOnly, "", 200},
		{"PUT", issuePath, readOnly, `{"status":"resolved"}`, 403},
		{"GET", "/api/0/projects/default/nope/issues/", f.token, "", 404},
		{"GET", "/api/0/issues/999999/", f.token, "", 404},
		{"GET", "/api/0/issues/abc/", f.token, "", 404},
		{"GET", "/api/0/nothing/here/", f.token, "", 404},
		{"GET", "/api/0/projects/default/default/issues/?query=is:bogus", f.token, "", 400},
		{"GET", "/api/0/projects/default/default/issues/?cursor=zzz", f.token, "", 400},
	} {
		resp, body := f.do(t, c.method, c.path, c.token, c.body)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.want)
		}
		var detail struct{ Detail string }
		if c.want != 200 && (json.Unmarshal(body, &detail) != nil || detail.Detail == "") {
			t.Errorf("%s %s: error body %s lacks detail", c.method, c.path, body)
		}
	}
}

func TestIssuesAPI(t *testing.T) {
	f := setup(t)
	resp, body := f.do(t, "GET", "/api/0/projects/default/default/issues/?per_page=2", f.token, "")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0]["title"] != "Crash 2" || list[0]["count"] != "1" || list[0]["shortId"] != "DEFAULT-3" ||
		list[0]["status"] != "unresolved" || list[0]["firstSeen"] == "" {
		t.Fatalf("first page %v", list)
	}
	if link := resp.Header.Get("Link"); !strings.Contains(link, `rel="next"; results="true"; cursor="0:2:0"`) {
		t.Errorf("Link %q", link)
	}
	resp, body = f.do(t, "GET", "/api/0/projects/default/default/issues/?per_page=2&cursor=0:2:0", f.token, "")
	json.Unmarshal(body, &list)
	if len(list) != 1 || !strings.Contains(resp.Header.Get("Link"), `rel="next"; results="false"`) {
		t.Errorf("second page %v, Link %q", list, resp.Header.Get("Link"))
	}

	path := fmt.Sprintf("/api/0/issues/%d/", f.issue.ID)
	resp, body = f.do(t, "PUT", path, f.token, `{"status":"resolved"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"resolved"`) {
		t.Fatalf("resolve: %d %s", resp.StatusCode, body)
	}
	_, body = f.do(t, "GET", "/api/0/projects/default/default/issues/", f.token, "")
	json.Unmarshal(body, &list)
	if len(list) != 2 {
		t.Errorf("unresolved issues after resolving one: %d", len(list))
	}
	_, body = f.do(t, "GET", "/api/0/projects/default/default/issues/?query=", f.token, "")
	json.Unmarshal(body, &list)
	if len(list) != 3 {
		t.Errorf("all issues: %d", len(list))
	}

	_, body = f.do(t, "GET", fmt.Sprintf("/api/0/issues/%d/events/", f.issue.ID), f.token, "")
	var evs []map[string]any
	if err := json.Unmarshal(body, &evs); err != nil || len(evs) != 1 || evs[0]["eventID"] != fmt.Sprintf("%032x", 3) || evs[0]["entries"] != nil {
		t.Fatalf("issue events %s", body)
	}
	for _, p := range []string{
		fmt.Sprintf("/api/0/issues/%d/events/latest/", f.issue.ID),
		fmt.Sprintf("/api/0/projects/default/default/events/%032x/", 3),
	} {
		resp, body = f.do(t, "GET", p, f.token, "")
		var ev struct {
			EventID string `json:"eventID"`
			GroupID string `json:"groupID"`
			Tags    []struct{ Key, Value string }
			Entries []struct {
				Type string
				Data struct {
					Values []struct {
						Stacktrace struct {
							Frames []map[string]any
						}
					}
				}
			}
		}
		if err := json.Unmarshal(body, &ev); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
		if ev.GroupID != fmt.Sprint(f.issue.ID) || len(ev.Entries) == 0 || ev.Entries[0].Type != "exception" {
			t.Fatalf("%s: %s", p, body)
		}
		fr := ev.Entries[0].Data.Values[0].Stacktrace.Frames[0]
		if fr["instructionAddr"] != "0x401f26" || fr["package"] != "/bin/driver" || fr["inApp"] != true {
			t.Errorf("%s: frame %v", p, fr)
		}
		tags := map[string]string{}
		for _, kv := range ev.Tags {
			tags[kv.Key] = kv.Value
		}
		if tags["custom"] != "yes" || tags["level"] != "fatal" || tags["release"] != "r1" {
			t.Errorf("%s: tags %v", p, tags)
		}
	}
	resp, _ = f.do(t, "GET", "/api/0/projects/default/default/events/ffffffffffffffffffffffffffffffff/", f.token, "")
	if resp.StatusCode != 404 {
		t.Errorf("missing event: %d", resp.StatusCode)
	}
	resp, body = f.do(t, "GET", "/api/0/projects/default/default/keys/", f.token, "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"public":"http://`) {
		t.Errorf("keys: %d %s", resp.StatusCode, body)
	}
}

func TestKeyStore(t *testing.T) {
	ctx := context.Background()
	m, err := sqlite.OpenMeta(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, p, k, err := web.EnsureDefaults(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	// Defaults are created once.
	if _, p2, k2, _ := web.EnsureDefaults(ctx, m); p2.ID != p.ID || k2.Public != k.Public {
		t.Fatal("EnsureDefaults made a second project or key")
	}
	ks := web.NewKeyStore(m, memcache.New(100), time.Minute)
	for range 2 { // the second round comes from the cache
		got, err := ks.Key(ctx, k.Public)
		if err != nil || got.ProjectID != p.ID || got.Public != k.Public {
			t.Fatalf("Key = %+v, %v", got, err)
		}
		gp, err := ks.Project(ctx, p.ID)
		if err != nil || gp.Slug != "default" {
			t.Fatalf("Project = %+v, %v", gp, err)
		}
		if _, err := ks.Key(ctx, "ffffffffffffffffffffffffffffffff"); !errors.Is(err, ingest.ErrUnknownKey) {
			t.Fatalf("unknown key: %v", err)
		}
		if _, err := ks.Project(ctx, 4242); !errors.Is(err, ingest.ErrUnknownProject) {
			t.Fatalf("unknown project: %v", err)
		}
	}
}

func TestShortIDAndDSN(t *testing.T) {
	for seq, want := range map[int64]string{1: "GAME-1", 31: "GAME-Z", 32: "GAME-10", 1000: "GAME-Z8"} {
		if got := web.ShortID("game", seq); got != want {
			t.Errorf("ShortID(%d) = %s, want %s", seq, got, want)
		}
	}
	if got := web.DSN("http://127.0.0.1:8000", "abc", 3); got != "http://abc@127.0.0.1:8000/3" {
		t.Errorf("DSN = %s", got)
	}
	if got := web.DSN("https://crash.example.com/sentry/", "abc", 3); got != "https://abc@crash.example.com/sentry/3" {
		t.Errorf("DSN with a path = %s", got)
	}
}
