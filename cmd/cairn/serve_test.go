//go:build !cairncli

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/getsentry/sentry-go"
)

// startTestServer runs the real server in-process on a free port.
func startTestServer(t *testing.T) (*server, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir, cfg.Addr = dir, "127.0.0.1:0"
	s, err := startServer(context.Background(), cfg, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.shutdown(); err != nil {
			t.Error(err)
		}
	})
	return s, dir
}

// apiGet fetches an API path with a token and decodes the JSON answer.
func apiGet(t *testing.T, base, token, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, b)
		}
	}
	return resp.StatusCode
}

type apiIssue struct {
	ID        string            `json:"id"`
	ShortID   string            `json:"shortId"`
	Title     string            `json:"title"`
	Culprit   string            `json:"culprit"`
	Level     string            `json:"level"`
	Status    string            `json:"status"`
	Count     string            `json:"count"`
	UserCount int               `json:"userCount"`
	Metadata  map[string]string `json:"metadata"`
	Platform  string            `json:"platform"`
}

// waitIssues polls the issue list until ok accepts it.
func waitIssues(t *testing.T, base, token string, ok func([]apiIssue) bool) []apiIssue {
	t.Helper()
	var list []apiIssue
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		list = nil
		if code := apiGet(t, base, token, "/api/0/projects/default/default/issues/?query=", &list); code != 200 {
			t.Fatalf("issues: HTTP %d", code)
		}
		if ok(list) {
			return list
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("issues never matched; last: %+v", list)
	return nil
}

// totalCount adds up the events of the issues.
func totalCount(l []apiIssue) int {
	n := 0
	for _, is := range l {
		var c int
		fmt.Sscan(is.Count, &c)
		n += c
	}
	return n
}

func createToken(t *testing.T, dir string) string {
	t.Helper()
	out, err := run(t, "token", "create", "--data-dir", dir, "--org", "default")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	tok := strings.TrimSpace(out)
	if len(tok) != 64 {
		t.Fatalf("token %q", tok)
	}
	return tok
}

// The real Sentry Go SDK sends events to the server, and they come back
// out of the API grouped into issues.
func TestServeWithSentryGo(t *testing.T) {
	s, dir := startTestServer(t)
	client, err := sentry.NewClient(sentry.ClientOptions{Dsn: s.DSN, Release: "game@1.2.3", Environment: "production", AttachStacktrace: true})
	if err != nil {
		t.Fatal(err)
	}
	hub := sentry.NewHub(client, sentry.NewScope())
	hub.ConfigureScope(func(sc *sentry.Scope) { sc.SetUser(sentry.User{ID: "player-1"}) })
	var ids []string
	for range 3 {
		ids = append(ids, string(*hub.CaptureException(errors.New("level file is corrupt"))))
	}
	ids = append(ids, string(*hub.CaptureMessage("checkpoint reached")))
	if !hub.Flush(10 * time.Second) {
		t.Fatal("the SDK did not flush")
	}
	tok := createToken(t, dir)
	list := waitIssues(t, s.URL, tok, func(l []apiIssue) bool { return totalCount(l) == 4 })
	if len(list) != 2 {
		t.Fatalf("%d issues, want 2: %+v", len(list), list)
	}
	byTitle := map[string]apiIssue{}
	for _, is := range list {
		byTitle[is.Title] = is
	}
	exc, ok := byTitle["*errors.errorString: level file is corrupt"]
	if !ok || exc.Count != "3" || exc.UserCount != 1 || exc.Level != "error" || exc.Status != "unresolved" || !strings.HasPrefix(exc.ShortID, "DEFAULT-") {
		t.Errorf("exception issue %+v (all: %+v)", exc, list)
	}
	if msg, ok := byTitle["checkpoint reached"]; !ok || msg.Count != "1" {
		t.Errorf("message issue %+v", msg)
	}

	var ev struct {
		EventID string `json:"eventID"`
		GroupID string `json:"groupID"`
		Release struct{ Version string }
		Tags    []struct{ Key, Value string }
		Entries []struct{ Type string }
		SDK     struct{ Name string }
	}
	if code := apiGet(t, s.URL, tok, "/api/0/projects/default/default/events/"+ids[0]+"/", &ev); code != 200 {
		t.Fatalf("event: HTTP %d", code)
	}
	if ev.EventID != ids[0] || ev.GroupID != exc.ID || ev.Release.Version != "game@1.2.3" || ev.SDK.Name != "sentry.go" {
		t.Errorf("event %+v", ev)
	}
	if len(ev.Entries) == 0 || ev.Entries[0].Type != "exception" {
		t.Errorf("entries %+v", ev.Entries)
	}
	var evs []map[string]any
	if code := apiGet(t, s.URL, tok, "/api/0/issues/"+exc.ID+"/events/", &evs); code != 200 || len(evs) != 3 {
		t.Errorf("issue events: HTTP %d, %d events", code, len(evs))
	}
	var one apiIssue
	if code := apiGet(t, s.URL, tok, "/api/0/issues/"+exc.ID+"/", &one); code != 200 || one.ID != exc.ID {
		t.Errorf("issue: HTTP %d %+v", code, one)
	}
}

// Minidumps uploaded the way Breakpad and Crashpad upload them end as
// issues whose frames are named by module and offset.
func TestServeMinidumpUploads(t *testing.T) {
	peers := testtools.PeersDir(t)
	s, dir := startTestServer(t)
	// The token is made before the uploads: the command opens the data
	// directory's blob store, which clears its temporary files, and the
	// worker writes the dumps there while it processes them.
	tok := createToken(t, dir)
	dumps := map[string]string{ // dump → the module+offset Breakpad's stackwalker reports for frame 0
		"linux_null_dereference.dmp": "driver@0x1f26",
		"minidump2.dmp":              "test_app.exe@0x429e",
		"linux_inline.dmp":           "linux_inline@0x161b6",
		"ascii_read_av.dmp":          "crashme.exe@0xa6cd",
		// Another crash at the same place: the same issue.
		"null_read_av.dmp": "crashme.exe@0xa6cd",
	}
	for name := range dumps {
		data, err := os.ReadFile(filepath.Join(peers, "breakpad", name))
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("prod", "crashme")
		mw.WriteField("ver", "1.0")
		fw, _ := mw.CreateFormFile("upload_file_minidump", name)
		fw.Write(data)
		mw.Close()
		url := fmt.Sprintf("%s/api/%d/minidump/?sentry_key=%s", s.URL, s.ProjectID, s.Key)
		resp, err := http.Post(url, mw.FormDataContentType(), &body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d %s", name, resp.StatusCode, b)
		}
	}
	list := waitIssues(t, s.URL, tok, func(l []apiIssue) bool { return len(l) == len(dumps)-1 && totalCount(l) == len(dumps) })
	culprits := map[string]bool{}
	for _, is := range list {
		culprits[is.Culprit] = true
		if want := map[bool]string{true: "2", false: "1"}[is.Culprit == "crashme.exe@0xa6cd"]; is.Count != want {
			t.Errorf("%s: count %s, want %s", is.Culprit, is.Count, want)
		}
		if is.Platform != "native" || is.Level != "fatal" || is.Metadata["signature"] != is.Culprit {
			t.Errorf("issue %+v", is)
		}
		var ev struct {
			Entries []struct {
				Type string
				Data json.RawMessage
			}
			Errors []struct{ Type string }
		}
		apiGet(t, s.URL, tok, "/api/0/issues/"+is.ID+"/events/latest/", &ev)
		types := map[string]bool{}
		for _, e := range ev.Entries {
			types[e.Type] = true
		}
		for _, want := range []string{"exception", "threads", "debugmeta"} {
			if !types[want] {
				t.Errorf("%s: no %s entry", is.Title, want)
			}
		}
	}
	for name, want := range dumps {
		if want != "" && !culprits[want] {
			t.Errorf("%s: no issue with culprit %s (have %v)", name, want, culprits)
		}
	}
}

// A second start on the same data directory keeps the DSN, and SIGINT-style
// shutdown finishes what it accepted.
func TestServeRestartKeepsDSN(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir, cfg.Addr = dir, "127.0.0.1:0"
	var dsns []string
	for range 2 {
		s, err := startServer(context.Background(), cfg, slog.New(slog.DiscardHandler), true)
		if err != nil {
			t.Fatal(err)
		}
		dsns = append(dsns, s.Key)
		resp, err := http.Post(fmt.Sprintf("%s/api/%d/store/?sentry_key=%s&sentry_version=7", s.URL, s.ProjectID, s.Key),
			"application/json", strings.NewReader(`{"message":"before shutdown"}`))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("store: %v %v", resp, err)
		}
		resp.Body.Close()
		if err := s.shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	if dsns[0] != dsns[1] {
		t.Errorf("DSN key changed across restarts: %v", dsns)
	}
}

func TestServeHelp(t *testing.T) {
	out, err := run(t, "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--data-dir", "--addr", "CAIRN_DATA_DIR", "token create"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
	if _, err := run(t, "token", "create", "--data-dir", t.TempDir(), "--org", "nope"); err == nil {
		t.Error("a token was created for a missing organization")
	}
	if _, err := run(t, "token", "create", "--data-dir", t.TempDir(), "--scopes", "bogus:scope"); err == nil {
		t.Error("a token was created with an unknown scope")
	}
}

// Uploading a debug file builds its symbolicator caches in the background,
// before any crash needs them.
func TestServeBuildsCachesAhead(t *testing.T) {
	s, dir := startTestServer(t)
	tok := createToken(t, dir)
	bin := fixtures.Get(t, "elf-x86_64-gcc-O2")
	if out, err := run(t, "upload", "--url", s.URL, "--token", tok, "--org", "default", "--project", "default", "--wait", bin); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	cacheDir := filepath.Join(dir, "symbolicator")
	deadline := time.Now().Add(30 * time.Second)
	for {
		sym, cfi := countCacheFiles(filepath.Join(cacheDir, "symcache")), countCacheFiles(filepath.Join(cacheDir, "cficache"))
		if sym > 0 && cfi > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the upload: %d symcaches, %d cficaches in %s; want both built ahead", sym, cfi, cacheDir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countCacheFiles counts the data files (not sidecars) under dir.
func countCacheFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".meta") {
			n++
		}
		return nil
	})
	return n
}
