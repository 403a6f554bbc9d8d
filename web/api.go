package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
)

// maxPage bounds per_page, as Sentry does.
const maxPage = 100

// API serves the read API under /api/0/, in the JSON shapes of Sentry's
// API so that existing scripts and tools read it unchanged. Every endpoint
// needs an API token (Authorization: Bearer …) of the organization that
// owns the data, with the endpoint's scope.
type API struct {
	meta   meta.Store
	events events.Store
	log    *slog.Logger
	// baseURL prefixes permalinks ("http://127.0.0.1:8000").
	baseURL string
	mux     *http.ServeMux
}

// NewAPI returns the API handler. baseURL is the address users reach the
// server at, for permalinks.
func NewAPI(m meta.Store, evs events.Store, baseURL string, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &API{meta: m, events: evs, log: log, baseURL: strings.TrimSuffix(baseURL, "/"), mux: http.NewServeMux()}
	a.routes(a.mux)
	return a
}

func (a *API) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/0/projects/{org}/{project}/issues/", a.authed("event:read", a.projectIssues))
	mux.HandleFunc("GET /api/0/projects/{org}/{project}/events/{event_id}/", a.authed("event:read", a.projectEvent))
	mux.HandleFunc("GET /api/0/projects/{org}/{project}/keys/", a.authed("project:read", a.projectKeys))
	mux.HandleFunc("GET /api/0/issues/{id}/", a.authed("event:read", a.issue))
	mux.HandleFunc("GET /api/0/organizations/{org}/issues/{id}/", a.authed("event:read", a.issue))
	mux.HandleFunc("PUT /api/0/issues/{id}/", a.authed("event:write", a.updateIssue))
	mux.HandleFunc("GET /api/0/issues/{id}/events/", a.authed("event:read", a.issueEvents))
	mux.HandleFunc("GET /api/0/issues/{id}/events/{which}/", a.authed("event:read", a.issueEvent))
	a.healthRoutes(mux)
	mux.HandleFunc("/api/0/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "The requested resource does not exist")
	})
}

// ServeHTTP implements http.Handler for every path under /api/0/.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

type handler func(w http.ResponseWriter, r *http.Request, tok meta.Token) error

// httpError is an error with the status and message the client sees.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

var (
	errNotFound  = &httpError{http.StatusNotFound, "The requested resource does not exist"}
	errForbidden = &httpError{http.StatusForbidden, "You do not have permission to perform this action."}
)

func (a *API) authed(scope string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := a.authenticate(r)
		if err != nil {
			if errors.Is(err, errUnauthenticated) {
				writeError(w, http.StatusUnauthorized, "Authentication credentials were not provided.")
			} else if errors.Is(err, meta.ErrNotFound) {
				writeError(w, http.StatusUnauthorized, "Invalid token")
			} else {
				a.internal(w, r, err)
			}
			return
		}
		if !hasScope(tok.Scopes, scope) {
			writeError(w, http.StatusForbidden, errForbidden.msg)
			return
		}
		if err := h(w, r, tok); err != nil {
			var he *httpError
			if errors.As(err, &he) {
				writeError(w, he.status, he.msg)
				return
			}
			if errors.Is(err, meta.ErrNotFound) || errors.Is(err, events.ErrNotFound) {
				writeError(w, http.StatusNotFound, errNotFound.msg)
				return
			}
			a.internal(w, r, err)
		}
	}
}

func (a *API) internal(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	a.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "Internal Error")
}

func writeError(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// project resolves {org}/{project} for a token, hiding other
// organizations' projects as not found.
func (a *API) project(ctx context.Context, tok meta.Token, orgSlug, projectSlug string) (meta.Organization, meta.Project, error) {
	org, err := a.meta.OrgBySlug(ctx, orgSlug)
	if err != nil {
		return org, meta.Project{}, err
	}
	if org.ID != tok.OrgID {
		return org, meta.Project{}, errNotFound
	}
	p, err := a.meta.ProjectBySlug(ctx, org.ID, projectSlug)
	if err != nil {
		return org, p, err
	}
	return org, p, a.canRead(ctx, tok, p)
}

// issueFor loads {id} and checks the token's organization owns it.
func (a *API) issueFor(r *http.Request, tok meta.Token) (meta.Issue, meta.Organization, meta.Project, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return meta.Issue{}, meta.Organization{}, meta.Project{}, errNotFound
	}
	is, err := a.meta.Issue(r.Context(), id)
	if err != nil {
		return is, meta.Organization{}, meta.Project{}, err
	}
	p, err := a.meta.Project(r.Context(), is.ProjectID)
	if err != nil {
		return is, meta.Organization{}, p, err
	}
	if p.OrgID != tok.OrgID {
		return is, meta.Organization{}, p, errNotFound
	}
	if err := a.canRead(r.Context(), tok, p); err != nil {
		return is, meta.Organization{}, p, err
	}
	if slug := r.PathValue("org"); slug != "" {
		if org, err := a.meta.OrgBySlug(r.Context(), slug); err != nil || org.ID != p.OrgID {
			return is, meta.Organization{}, p, errNotFound
		}
	}
	org, err := a.meta.Org(r.Context(), p.OrgID)
	return is, org, p, err
}

// page reads Sentry's cursor ("<value>:<offset>:<is_prev>"; only the
// offset is used) and per_page.
func page(r *http.Request) (offset, limit int, err error) {
	limit = maxPage
	if v := r.URL.Query().Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return 0, 0, &httpError{http.StatusBadRequest, fmt.Sprintf("per_page must be between 1 and %d", maxPage)}
		}
		limit = n
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		parts := strings.Split(c, ":")
		if len(parts) != 3 {
			return 0, 0, &httpError{http.StatusBadRequest, "invalid cursor"}
		}
		if offset, err = strconv.Atoi(parts[1]); err != nil || offset < 0 {
			return 0, 0, &httpError{http.StatusBadRequest, "invalid cursor"}
		}
	}
	return offset, limit, nil
}

// setLink writes Sentry's pagination header, which sentry-cli and the
// Sentry SDK helpers follow.
func setLink(w http.ResponseWriter, r *http.Request, offset, limit int, more bool) {
	u := *r.URL
	link := func(off int, rel string, results bool) string {
		q := u.Query()
		cursor := fmt.Sprintf("0:%d:%d", off, map[bool]int{true: 1, false: 0}[rel == "previous"])
		q.Set("cursor", cursor)
		u.RawQuery = q.Encode()
		return fmt.Sprintf(`<%s>; rel="%s"; results="%t"; cursor="%s"`, (&url.URL{Path: u.Path, RawQuery: u.RawQuery}).String(), rel, results, cursor)
	}
	prev := link(max(offset-limit, 0), "previous", offset > 0)
	next := link(offset+limit, "next", more)
	w.Header().Set("Link", prev+", "+next)
}

func (a *API) projectIssues(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	org, p, err := a.project(r.Context(), tok, r.PathValue("org"), r.PathValue("project"))
	if err != nil {
		return err
	}
	offset, limit, err := page(r)
	if err != nil {
		return err
	}
	q := meta.IssueQuery{ProjectID: p.ID, Sort: r.URL.Query().Get("sort"), Offset: offset, Limit: limit, Status: meta.StatusUnresolved}
	if v, ok := r.URL.Query()["query"]; ok {
		q.Status = ""
		for term := range strings.FieldsSeq(v[0]) {
			switch term {
			case "is:unresolved":
				q.Status = meta.StatusUnresolved
			case "is:resolved":
				q.Status = meta.StatusResolved
			case "is:ignored", "is:archived":
				q.Status = meta.StatusIgnored
			default:
				return &httpError{http.StatusBadRequest, fmt.Sprintf("unsupported search term %q (supported: is:unresolved, is:resolved, is:ignored)", term)}
			}
		}
	}
	switch q.Sort {
	case "", "date", "new", "freq":
	default:
		return &httpError{http.StatusBadRequest, "sort must be date, new or freq"}
	}
	list, more, err := a.meta.ListIssues(r.Context(), q)
	if err != nil {
		return err
	}
	out := make([]issueJSON, len(list))
	for i, is := range list {
		out[i] = a.issueJSON(is, org, p)
	}
	setLink(w, r, offset, limit, more)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) issue(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	is, org, p, err := a.issueFor(r, tok)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.issueJSON(is, org, p))
	return nil
}

func (a *API) updateIssue(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	is, org, p, err := a.issueFor(r, tok)
	if err != nil {
		return err
	}
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
		return &httpError{http.StatusBadRequest, "invalid JSON body"}
	}
	var st meta.IssueStatus
	switch body.Status {
	case "resolved", "resolvedInNextRelease":
		st = meta.StatusResolved
	case "unresolved":
		st = meta.StatusUnresolved
	case "ignored":
		st = meta.StatusIgnored
	default:
		return &httpError{http.StatusBadRequest, "status must be resolved, unresolved or ignored"}
	}
	if is, err = a.meta.SetIssueStatus(r.Context(), is.ID, st); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.issueJSON(is, org, p))
	return nil
}

func (a *API) issueEvents(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	is, _, p, err := a.issueFor(r, tok)
	if err != nil {
		return err
	}
	offset, limit, err := page(r)
	if err != nil {
		return err
	}
	list, more, err := a.events.ListByIssue(r.Context(), is.ID, offset, limit)
	if err != nil {
		return err
	}
	full := r.URL.Query().Get("full") == "true" || r.URL.Query().Get("full") == "1"
	out := make([]any, 0, len(list))
	for _, ev := range list {
		v, err := eventJSON(ev, p, full)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	setLink(w, r, offset, limit, more)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// issueEvent serves /issues/{id}/events/{latest|oldest|event id}/.
func (a *API) issueEvent(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	is, _, p, err := a.issueFor(r, tok)
	if err != nil {
		return err
	}
	var ev *events.Event
	switch which := r.PathValue("which"); which {
	case "latest", "recommended":
		list, _, err := a.events.ListByIssue(r.Context(), is.ID, 0, 1)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return errNotFound
		}
		ev = list[0]
	case "oldest":
		return &httpError{http.StatusBadRequest, "oldest is not supported; page through /events/ instead"}
	default:
		if ev, err = a.events.Get(r.Context(), p.ID, which); err != nil {
			return err
		}
		if ev.IssueID != is.ID {
			return errNotFound
		}
	}
	v, err := eventJSON(ev, p, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) projectEvent(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	_, p, err := a.project(r.Context(), tok, r.PathValue("org"), r.PathValue("project"))
	if err != nil {
		return err
	}
	id := strings.ToLower(strings.ReplaceAll(r.PathValue("event_id"), "-", ""))
	ev, err := a.events.Get(r.Context(), p.ID, id)
	if err != nil {
		return err
	}
	v, err := eventJSON(ev, p, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) projectKeys(w http.ResponseWriter, r *http.Request, tok meta.Token) error {
	_, p, err := a.project(r.Context(), tok, r.PathValue("org"), r.PathValue("project"))
	if err != nil {
		return err
	}
	keys, err := a.meta.ListKeys(r.Context(), p.ID)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, map[string]any{
			"id": k.Public, "name": k.Label, "public": k.Public, "isActive": !k.Disabled,
			"projectId": p.ID, "dateCreated": isoTime(k.CreatedAt),
			"dsn": map[string]string{"public": DSN(a.baseURL, k.Public, p.ID)},
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// DSN is the DSN of a key: http://<public key>@<host>/<project id>.
func DSN(baseURL, public string, projectID int64) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("http://%s@%s/%d", public, strings.TrimPrefix(baseURL, "http://"), projectID)
	}
	u.User = url.User(public)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strconv.FormatInt(projectID, 10)
	return u.String()
}
