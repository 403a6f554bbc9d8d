package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

// GitHub is a client of the GitHub REST API (version 2022-11-28), for
// issues and commit ranges.
type GitHub struct {
	Token string
	// APIURL is the API root (default https://api.github.com; GitHub
	// Enterprise: https://HOST/api/v3).
	APIURL string
	Client *http.Client
}

// ErrGitHubDisabled is returned when no token is configured.
var ErrGitHubDisabled = errors.New("notify: github: no token configured")

// Configured reports whether the client has a token.
func (g *GitHub) Configured() bool { return g != nil && g.Token != "" }

func (g *GitHub) base() string {
	if g.APIURL == "" {
		return "https://api.github.com"
	}
	return strings.TrimSuffix(g.APIURL, "/")
}

// splitRepo checks an "owner/name" repository and escapes its parts.
func splitRepo(repo string) (string, error) {
	owner, name, ok := strings.Cut(strings.TrimSpace(repo), "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("notify: github: repository %q: want owner/name", repo)
	}
	return url.PathEscape(owner) + "/" + url.PathEscape(name), nil
}

// IsRepo reports whether s names a GitHub repository ("owner/name").
func IsRepo(s string) bool { _, err := splitRepo(s); return err == nil }

func (g *GitHub) do(ctx context.Context, method, path string, in, out any) error {
	if !g.Configured() {
		return permanent(ErrGitHubDisabled)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base()+path, body)
	if err != nil {
		return permanent(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.Token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "cairn")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := g.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var ge struct{ Message string }
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &ge) == nil && ge.Message != "" {
			msg = ge.Message
		}
		err := fmt.Errorf("HTTP %d: %s", resp.StatusCode, clip(msg, 200))
		// Secondary rate limits answer 403 or 429 with Retry-After; other
		// client errors (bad token, unknown repository, validation) do not
		// heal by retrying.
		if ra := retryAfter(resp.Header); ra > 0 || resp.StatusCode == http.StatusTooManyRequests {
			return &sendError{err: err, retryAfter: ra}
		}
		if resp.StatusCode < 500 {
			return permanent(err)
		}
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// CreatedIssue is what GitHub answers to an issue creation.
type CreatedIssue struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
}

// CreateIssue opens an issue in repo ("owner/name").
func (g *GitHub) CreateIssue(ctx context.Context, repo, title, body string, labels []string) (CreatedIssue, error) {
	var out CreatedIssue
	p, err := splitRepo(repo)
	if err != nil {
		return out, permanent(err)
	}
	in := struct {
		Title  string   `json:"title"`
		Body   string   `json:"body"`
		Labels []string `json:"labels,omitempty"`
	}{clip(title, 256), body, labels}
	if err := g.do(ctx, http.MethodPost, "/repos/"+p+"/issues", in, &out); err != nil {
		return out, fmt.Errorf("notify: github: create issue in %s: %w", repo, err)
	}
	return out, nil
}

type ghCommit struct {
	SHA     string `json:"sha"`
	HTMLURL string `json:"html_url"`
	Commit  struct {
		Message string `json:"message"`
		Author  struct {
			Name  string    `json:"name"`
			Email string    `json:"email"`
			Date  time.Time `json:"date"`
		} `json:"author"`
	} `json:"commit"`
}

func (c ghCommit) meta(repo string) meta.Commit {
	return meta.Commit{Repository: repo, SHA: c.SHA, Message: c.Commit.Message, AuthorName: c.Commit.Author.Name,
		AuthorEmail: c.Commit.Author.Email, URL: c.HTMLURL, Time: c.Commit.Author.Date}
}

// Commits lists the commits after base up to head, oldest first (GitHub's
// compare endpoint, at most 250 commits); without base, head alone.
func (g *GitHub) Commits(ctx context.Context, repo, base, head string) ([]meta.Commit, error) {
	p, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	if base == "" {
		var c ghCommit
		if err := g.do(ctx, http.MethodGet, "/repos/"+p+"/commits/"+url.PathEscape(head), nil, &c); err != nil {
			return nil, fmt.Errorf("notify: github: commit %s of %s: %w", head, repo, err)
		}
		return []meta.Commit{c.meta(repo)}, nil
	}
	var cmp struct {
		Commits []ghCommit `json:"commits"`
	}
	if err := g.do(ctx, http.MethodGet, "/repos/"+p+"/compare/"+url.PathEscape(base)+"..."+url.PathEscape(head), nil, &cmp); err != nil {
		return nil, fmt.Errorf("notify: github: compare %s...%s in %s: %w", base, head, repo, err)
	}
	out := make([]meta.Commit, len(cmp.Commits))
	for i, c := range cmp.Commits {
		out[i] = c.meta(repo)
	}
	return out, nil
}
