package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
	"golang.org/x/crypto/bcrypt"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// pageSize is the number of issues per list page.
const pageSize = 25

func (u *UI) setupForm(w http.ResponseWriter, r *http.Request) {
	n, err := u.cfg.Meta.CountUsers(r.Context())
	if err != nil {
		u.fail(w, err)
		return
	}
	if n > 0 {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	u.render(w, "setup", http.StatusOK, map[string]any{"CSRF": u.preCSRF(w, r)})
}

// setup creates the first administrator, a member of every organization
// existing at that moment (the defaults cairn serve created). It refuses
// once any account exists, so it cannot be replayed to add accounts.
func (u *UI) setup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !u.checkPreCSRF(r) {
		http.Error(w, "invalid or missing CSRF token; reload the page and try again", http.StatusForbidden)
		return
	}
	n, err := u.cfg.Meta.CountUsers(ctx)
	if err != nil {
		u.fail(w, err)
		return
	}
	if n > 0 {
		http.Error(w, "setup is already done; sign in instead", http.StatusForbidden)
		return
	}
	email, pw := r.PostFormValue("email"), r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		u.render(w, "setup", http.StatusBadRequest, map[string]any{"CSRF": u.preCSRF(w, r), "Email": email, "Error": "The passwords differ."})
		return
	}
	var orgIDs []int64
	if o, err := u.cfg.Meta.OrgBySlug(ctx, "default"); err == nil {
		orgIDs = append(orgIDs, o.ID)
	}
	user, err := CreateUser(ctx, u.cfg.Meta, email, pw, true, orgIDs)
	if err != nil {
		if errors.Is(err, meta.ErrExists) {
			err = errors.New("an account with this email exists")
		}
		u.render(w, "setup", http.StatusBadRequest, map[string]any{"CSRF": u.preCSRF(w, r), "Email": email, "Error": err.Error()})
		return
	}
	if err := u.startSession(w, r, user); err != nil {
		u.fail(w, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	if n, err := u.cfg.Meta.CountUsers(r.Context()); err == nil && n == 0 {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	u.render(w, "login", http.StatusOK, map[string]any{"CSRF": u.preCSRF(w, r), "Next": safeNext(r.URL.Query().Get("next"))})
}

// dummyHash is compared against when the email is unknown, so a sign-in
// takes as long for unknown accounts as for known ones. It is made on the
// first sign-in: a bcrypt hash costs ~50 ms, which every cairn command
// would otherwise pay at start-up.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("cairn-timing-equalizer"), bcrypt.DefaultCost)
	return h
})

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if !u.checkPreCSRF(r) {
		http.Error(w, "invalid or missing CSRF token; reload the page and try again", http.StatusForbidden)
		return
	}
	email, pw, next := r.PostFormValue("email"), r.PostFormValue("password"), safeNext(r.PostFormValue("next"))
	user, err := u.cfg.Meta.UserByEmail(r.Context(), email)
	hash := dummyHash()
	if err == nil {
		hash = []byte(user.PasswordHash)
	} else if !errors.Is(err, meta.ErrNotFound) {
		u.fail(w, err)
		return
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pw)) != nil || err != nil {
		u.render(w, "login", http.StatusUnauthorized, map[string]any{"CSRF": u.preCSRF(w, r), "Next": next, "Email": email, "Error": "Wrong email or password."})
		return
	}
	if err := u.startSession(w, r, user); err != nil {
		u.fail(w, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if err := u.cfg.Meta.DeleteSession(r.Context(), viewerOf(r).Session.Hash); err != nil {
		u.fail(w, err)
		return
	}
	u.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// orgProjects groups the projects of one organization for the home page.
type orgProjects struct {
	Org      meta.Organization
	Projects []meta.Project
}

func (u *UI) projects(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	var list []orgProjects
	for _, id := range v.OrgIDs {
		o, err := u.cfg.Meta.Org(r.Context(), id)
		if err != nil {
			u.fail(w, err)
			return
		}
		ps, err := u.cfg.Meta.ListProjects(r.Context(), id)
		if err != nil {
			u.fail(w, err)
			return
		}
		list = append(list, orgProjects{o, ps})
	}
	u.render(w, "projects", http.StatusOK, map[string]any{"V": v, "Orgs": list})
}

// project resolves {org}/{project} for the viewer. Non-members get the
// same 404 as for a missing project, so the response does not reveal
// which organizations exist.
func (u *UI) project(w http.ResponseWriter, r *http.Request) (meta.Organization, meta.Project, bool) {
	ctx := r.Context()
	o, err := u.cfg.Meta.OrgBySlug(ctx, r.PathValue("org"))
	if err == nil && !viewerOf(r).member(o.ID) {
		err = meta.ErrNotFound
	}
	var p meta.Project
	if err == nil {
		p, err = u.cfg.Meta.ProjectBySlug(ctx, o.ID, r.PathValue("project"))
	}
	if errors.Is(err, meta.ErrNotFound) {
		http.NotFound(w, r)
		return o, p, false
	}
	if err != nil {
		u.fail(w, err)
		return o, p, false
	}
	return o, p, true
}

// parseSearch reads the search box: is:STATUS, level:LEVEL and free text
// on the title. Unknown is: values are kept as text, so nothing typed is
// silently dropped.
func parseSearch(s string) (status meta.IssueStatus, level, text string) {
	var words []string
	for _, f := range strings.Fields(s) {
		switch {
		case strings.HasPrefix(f, "is:") && (f == "is:unresolved" || f == "is:resolved" || f == "is:ignored"):
			status = meta.IssueStatus(f[3:])
		case strings.HasPrefix(f, "level:") && len(f) > 6:
			level = strings.ToLower(f[6:])
		default:
			words = append(words, f)
		}
	}
	return status, level, strings.Join(words, " ")
}

func (u *UI) issueList(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	query, ok2 := q["query"]
	search := "is:unresolved"
	if ok2 {
		search = strings.Join(query, " ")
	}
	sort := q.Get("sort")
	switch sort {
	case "date", "new", "freq", "user":
	default:
		sort = "date"
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	status, level, text := parseSearch(search)
	list, more, err := u.cfg.Meta.SearchIssues(r.Context(), meta.IssueSearch{ProjectID: p.ID, Status: status, Level: level, Text: text,
		Sort: sort, Offset: (page - 1) * pageSize, Limit: pageSize})
	if err != nil {
		u.fail(w, err)
		return
	}
	link := func(pg int) string {
		return "?" + url.Values{"query": {search}, "sort": {sort}, "page": {strconv.Itoa(pg)}}.Encode()
	}
	data := map[string]any{"V": viewerOf(r), "Org": o, "Project": p, "Issues": list, "Query": search, "Sort": sort, "Page": page,
		"Sorts": []struct{ Key, Label string }{{"date", "Last seen"}, {"new", "First seen"}, {"freq", "Events"}, {"user", "Users"}}}
	if page > 1 {
		data["Prev"] = link(page - 1)
	}
	if more {
		data["Next"] = link(page + 1)
	}
	data["Back"] = link(page)
	u.render(w, "issues", http.StatusOK, data)
}

// bulk resolves, ignores or reopens the selected issues; ids of other
// projects are skipped, whatever the form says.
func (u *UI) bulk(w http.ResponseWriter, r *http.Request) {
	_, p, ok := u.project(w, r)
	if !ok {
		return
	}
	status := meta.IssueStatus(r.PostFormValue("action"))
	switch status {
	case meta.StatusResolved, meta.StatusIgnored, meta.StatusUnresolved:
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	for _, s := range r.PostForm["issue"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue
		}
		is, err := u.cfg.Meta.Issue(r.Context(), id)
		if errors.Is(err, meta.ErrNotFound) || (err == nil && is.ProjectID != p.ID) {
			continue
		}
		if err == nil {
			_, err = u.cfg.Meta.SetIssueStatus(r.Context(), id, status)
		}
		if err != nil {
			u.fail(w, err)
			return
		}
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("back")), http.StatusSeeOther)
}

func (u *UI) issueDetail(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var is meta.Issue
	if err == nil {
		is, err = u.cfg.Meta.Issue(ctx, id)
	}
	if err != nil || is.ProjectID != p.ID {
		if err == nil || errors.Is(err, meta.ErrNotFound) || errors.Is(err, strconv.ErrSyntax) || errors.Is(err, strconv.ErrRange) {
			http.NotFound(w, r)
		} else {
			u.fail(w, err)
		}
		return
	}
	// Events are addressed by their position among the issue's events,
	// newest first: prev/next/oldest are then one indexed query each.
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	if q.Get("offset") == "oldest" {
		offset = int(is.TimesSeen) - 1
	}
	offset = max(offset, 0)
	var ev *events.Event
	more := false
	if eid := q.Get("event"); eid != "" {
		ev, err = u.cfg.Events.Get(ctx, p.ID, eid)
		if errors.Is(err, events.ErrNotFound) || (err == nil && ev.IssueID != is.ID) {
			http.NotFound(w, r)
			return
		}
		offset = -1
	} else {
		var evs []*events.Event
		evs, more, err = u.cfg.Events.ListByIssue(ctx, is.ID, offset, 1)
		if err == nil && len(evs) == 0 && offset > 0 {
			// Counts can run ahead of stored events; fall back to the newest.
			offset = 0
			evs, more, err = u.cfg.Events.ListByIssue(ctx, is.ID, 0, 1)
		}
		if len(evs) > 0 {
			ev = evs[0]
		}
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	data := map[string]any{"V": viewerOf(r), "Org": o, "Project": p, "Issue": is, "Offset": offset}
	if offset > 0 {
		data["Newer"] = offset - 1
	}
	if more {
		data["Older"] = offset + 1
	}
	if ev != nil {
		decoded, err := issues.DecodeEvent(ev.Data)
		if err != nil {
			u.cfg.Log.Warn("web ui: undecodable event", "event_id", ev.EventID, "err", err)
			decoded = &issues.Event{EventID: ev.EventID}
		}
		data["Event"] = ev
		data["View"] = newEventView(decoded)
	}
	u.render(w, "issue", http.StatusOK, data)
}
