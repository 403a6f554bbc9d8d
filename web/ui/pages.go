package ui

import (
	"errors"
	"net/http"
	"net/url"
	"sync"

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
	// Role is the viewer's role, which decides the settings links shown.
	Role meta.Role
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
		if ps, err = u.visible(r.Context(), v, ps); err != nil {
			u.fail(w, err)
			return
		}
		role, err := u.role(r.Context(), v, id)
		if err != nil {
			u.fail(w, err)
			return
		}
		list = append(list, orgProjects{o, ps, role})
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
	if err == nil {
		// A project of another team answers like a missing one, too.
		var ok bool
		if ok, err = u.canSee(ctx, viewerOf(r), p); err == nil && !ok {
			err = meta.ErrNotFound
		}
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
