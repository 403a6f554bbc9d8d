package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

// CommitSource fetches the commits of a repository between two commits
// (oldest first); base empty means head alone.
type CommitSource interface {
	Commits(ctx context.Context, repo, base, head string) ([]meta.Commit, error)
}

// ReleaseConfig wires the release API.
type ReleaseConfig struct {
	Store meta.Releases
	// Commits, when set, resolves refs of repositories named "owner/name"
	// into commits; without it releases keep their refs only.
	Commits CommitSource
	// IsRepo tells which repositories Commits can resolve.
	IsRepo func(string) bool
}

// EnableReleases serves Sentry's release endpoints as sentry-cli calls
// them (releases new, set-commits, finalize) and the commits of a release.
func (a *API) EnableReleases(cfg ReleaseConfig) {
	h := &releaseAPI{a: a, cfg: cfg}
	a.mux.HandleFunc("POST /api/0/organizations/{org}/releases/", a.authed("project:releases", h.create))
	a.mux.HandleFunc("GET /api/0/organizations/{org}/releases/{version}/", a.authed("project:read", h.get))
	a.mux.HandleFunc("PUT /api/0/organizations/{org}/releases/{version}/", a.authed("project:releases", h.update))
	a.mux.HandleFunc("POST /api/0/organizations/{org}/releases/{version}/", a.authed("project:releases", h.update))
	a.mux.HandleFunc("GET /api/0/organizations/{org}/releases/{version}/commits/", a.authed("project:read", h.commits))
}

type releaseAPI struct {
	a   *API
	cfg ReleaseConfig
}

// releaseBody is the JSON sentry-cli sends; dateReleased comes with
// finalize and is accepted without being stored.
type releaseBody struct {
	Version      string            `json:"version"`
	Projects     []string          `json:"projects"`
	Refs         []meta.ReleaseRef `json:"refs"`
	DateReleased *time.Time        `json:"dateReleased"`
}

func (h *releaseAPI) org(r *http.Request, tok meta.Token) (meta.Organization, error) {
	org, err := h.a.meta.OrgBySlug(r.Context(), r.PathValue("org"))
	if err != nil {
		return org, err
	}
	if org.ID != tok.OrgID {
		return org, errNotFound
	}
	return org, nil
}

func readRelease(r *http.Request) (releaseBody, error) {
	var b releaseBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&b); err != nil && !errors.Is(err, io.EOF) {
		return b, &httpError{http.StatusBadRequest, "invalid JSON: " + err.Error()}
	}
	return b, nil
}

func (h *releaseAPI) create(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	org, err := h.org(r, tok)
	if err != nil {
		return err
	}
	b, err := readRelease(r)
	if err != nil {
		return err
	}
	if strings.TrimSpace(b.Version) == "" {
		return &httpError{http.StatusBadRequest, "version: This field is required."}
	}
	return h.save(w, r, org, b, http.StatusCreated)
}

func (h *releaseAPI) update(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	org, err := h.org(r, tok)
	if err != nil {
		return err
	}
	b, err := readRelease(r)
	if err != nil {
		return err
	}
	b.Version = r.PathValue("version")
	return h.save(w, r, org, b, http.StatusOK)
}

// save stores the release and resolves its refs into commits. A commit
// lookup that fails leaves the release stored: sentry-cli should not fail
// a deploy because GitHub is slow.
func (h *releaseAPI) save(w http.ResponseWriter, r *http.Request, org meta.Organization, b releaseBody, status int) error {
	rel, err := h.cfg.Store.UpsertRelease(r.Context(), meta.Release{OrgID: org.ID, Version: b.Version, Projects: b.Projects, Refs: b.Refs})
	if err != nil {
		return err
	}
	if h.cfg.Commits != nil {
		for _, ref := range b.Refs {
			if ref.Commit == "" || (h.cfg.IsRepo != nil && !h.cfg.IsRepo(ref.Repository)) {
				continue
			}
			cs, err := h.cfg.Commits.Commits(r.Context(), ref.Repository, ref.PreviousCommit, ref.Commit)
			if err != nil {
				h.a.log.Warn("release commits", "release", rel.Version, "repository", ref.Repository, "err", err)
				continue
			}
			if err := h.cfg.Store.SetReleaseCommits(r.Context(), rel.ID, ref.Repository, cs); err != nil {
				return err
			}
		}
	}
	return h.write(w, r, rel, status)
}

func (h *releaseAPI) write(w http.ResponseWriter, r *http.Request, rel meta.Release, status int) error {
	cs, err := h.cfg.Store.ReleaseCommits(r.Context(), rel.ID)
	if err != nil {
		return err
	}
	projects := make([]map[string]string, len(rel.Projects))
	for i, p := range rel.Projects {
		projects[i] = map[string]string{"slug": p, "name": p}
	}
	writeJSON(w, status, map[string]any{
		"id": fmt.Sprint(rel.ID), "version": rel.Version, "shortVersion": rel.Version, "ref": nil, "url": nil,
		"dateCreated": rel.CreatedAt.UTC().Format(time.RFC3339Nano), "dateReleased": nil,
		"commitCount": len(cs), "newGroups": 0, "projects": projects, "refs": rel.Refs,
	})
	return nil
}

func (h *releaseAPI) get(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	org, err := h.org(r, tok)
	if err != nil {
		return err
	}
	rel, err := h.cfg.Store.Release(r.Context(), org.ID, r.PathValue("version"))
	if err != nil {
		return err
	}
	return h.write(w, r, rel, http.StatusOK)
}

// commits lists a release's commits in the shape of Sentry's
// release-commits endpoint.
func (h *releaseAPI) commits(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	org, err := h.org(r, tok)
	if err != nil {
		return err
	}
	rel, err := h.cfg.Store.Release(r.Context(), org.ID, r.PathValue("version"))
	if err != nil {
		return err
	}
	cs, err := h.cfg.Store.ReleaseCommits(r.Context(), rel.ID)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(cs))
	for i, c := range cs {
		var date any
		if !c.Time.IsZero() {
			date = c.Time.UTC().Format(time.RFC3339)
		}
		out[i] = map[string]any{"id": c.SHA, "message": c.Message, "dateCreated": date, "url": c.URL,
			"repository": map[string]string{"name": c.Repository},
			"author":     map[string]string{"name": c.AuthorName, "email": c.AuthorEmail}}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
