//go:build !cairncli

package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// A user created on the command line signs in to the web interface that
// cairn serve mounts at /, beside the API and ingest routes.
func TestUserCreateAndSignIn(t *testing.T) {
	s, dir := startTestServer(t)
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader("correct horse\n"))
	cmd.SetArgs([]string{"user", "create", "--data-dir", dir, "--email", "admin@example.com", "--password-stdin"})
	if err := cmd.Execute(); err != nil || !strings.Contains(out.String(), "created administrator admin@example.com") {
		t.Fatalf("user create: %v\n%s", err, out.String())
	}
	if out, err := run(t, "user", "create", "--data-dir", dir, "--email", "x@example.com"); err == nil {
		t.Errorf("a password outside stdin was accepted: %s", out)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		res, err := c.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, page := get("/")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if code != http.StatusOK || m == nil || !strings.Contains(page, "Sign in") {
		t.Fatalf("/ without a session should show sign-in: %d\n%s", code, page)
	}
	res, err := c.PostForm(s.URL+"/login", url.Values{"csrf": {m[1]}, "email": {"admin@example.com"}, "password": {"correct horse"}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "/o/default/default/") {
		t.Fatalf("after sign-in: %d\n%s", res.StatusCode, b)
	}
	if code, _ := get("/o/default/default/"); code != http.StatusOK {
		t.Errorf("issue list: %d", code)
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz shadowed: %d %q", code, body)
	}
	if code, _ := get("/api/0/projects/default/default/issues/"); code != http.StatusUnauthorized {
		t.Errorf("API without a token: %d, want 401 from the API, not the web interface", code)
	}
}
