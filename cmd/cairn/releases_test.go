//go:build !cairncli

package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/config"
)

// sentry-cli's release calls store the release, and refs of GitHub
// repositories become the commits GitHub's compare endpoint lists.
func TestServeReleaseCommits(t *testing.T) {
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/repos/acme/game/compare/aaa...ccc" || r.Header.Get("Authorization") != "Bearer ghp_x" ||
			r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" {
			t.Errorf("%s %s %v", r.Method, r.URL.Path, r.Header)
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"commits": [{"sha": "bbb", "html_url": "https://github.com/acme/game/commit/bbb",
			"commit": {"message": "Fix the crash", "author": {"name": "Ada", "email": "ada@example.com", "date": "2026-01-01T10:00:00Z"}}}]}`)
	}))
	defer gh.Close()
	cfg := config.Default()
	cfg.DataDir, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	cfg.Notify.GitHubToken, cfg.Notify.GitHubAPIURL = "ghp_x", gh.URL
	s, err := startServer(context.Background(), cfg, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown()
	tok := createToken(t, cfg.DataDir)
	call := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, b := call("POST", "/api/0/organizations/default/releases/", `{"version": "game@1.0", "projects": ["default"]}`); code != 201 {
		t.Fatalf("create: HTTP %d %s", code, b)
	}
	if code, b := call("PUT", "/api/0/organizations/default/releases/game@1.0/",
		`{"refs": [{"repository": "acme/game", "commit": "ccc", "previousCommit": "aaa"}]}`); code != 200 {
		t.Fatalf("set commits: HTTP %d %s", code, b)
	}
	code, b := call("GET", "/api/0/organizations/default/releases/game@1.0/commits/", "")
	var cs []struct {
		ID, Message, URL string
		Author           struct{ Name, Email string }
		Repository       struct{ Name string }
	}
	if code != 200 || json.Unmarshal(b, &cs) != nil || len(cs) != 1 || cs[0].ID != "bbb" || cs[0].Author.Name != "Ada" ||
		cs[0].Repository.Name != "acme/game" || cs[0].URL != "https://github.com/acme/game/commit/bbb" {
		t.Fatalf("commits: HTTP %d %s", code, b)
	}
}
