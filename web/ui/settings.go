package ui

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"

	"github.com/cairn-dev/cairn/storage/meta"
)

// KeyCache is what the settings need of ingest's DSN key cache:
// web.KeyStore implements it.
type KeyCache interface {
	Invalidate(ctx context.Context, public string, projectID int64) error
}

// adminStore is what the settings pages need beyond Store. Both backends
// implement it; with a store that does not, the pages answer 501 and every
// member sees every project, as before teams existed.
type adminStore interface {
	meta.Access
	meta.Invitations
	meta.Accounts
	meta.ProjectSettings
}

// settingsPages are the templates of the account, organization and
// project settings; each is parsed with the layout and the shared
// settings partials.
var settingsPages = []string{"account", "members", "invite", "teams", "team", "newproject", "keys", "sources", "debugfiles"}

// settingsFuncs are the template functions only the settings pages use.
var settingsFuncs = template.FuncMap{
	"has": func(list []string, s string) bool { return slices.Contains(list, s) },
}

func (u *UI) settingsRoutes() error {
	for _, name := range settingsPages {
		t, err := template.New("layout.html").Funcs(funcs).Funcs(settingsFuncs).ParseFS(templateFS,
			"templates/layout.html", "templates/settings_parts.html", "templates/"+name+".html")
		if err != nil {
			return err
		}
		u.pages[name] = t
	}
	m := u.mux
	m.HandleFunc("GET /account", u.authed(u.account))
	m.HandleFunc("POST /account/password", u.authed(u.changePassword))
	m.HandleFunc("POST /account/tokens", u.authed(u.createToken))
	m.HandleFunc("POST /account/tokens/{id}/revoke", u.authed(u.revokeToken))

	m.HandleFunc("GET /invite/{token}", u.inviteForm)
	m.HandleFunc("POST /invite/{token}", u.acceptInvite)

	m.HandleFunc("GET /orgs/{org}/members", u.authed(u.orgPage("members", u.membersData)))
	m.HandleFunc("POST /orgs/{org}/members", u.authed(u.inOrg(true, u.addMember)))
	m.HandleFunc("POST /orgs/{org}/members/{user}/role", u.authed(u.inOrg(true, u.setRole)))
	m.HandleFunc("POST /orgs/{org}/members/{user}/remove", u.authed(u.inOrg(true, u.removeMember)))
	m.HandleFunc("POST /orgs/{org}/invitations", u.authed(u.inOrg(true, u.createInvite)))
	m.HandleFunc("POST /orgs/{org}/invitations/{id}/delete", u.authed(u.inOrg(true, u.deleteInvite)))
	m.HandleFunc("GET /orgs/{org}/teams", u.authed(u.orgPage("teams", u.teamsData)))
	m.HandleFunc("POST /orgs/{org}/teams", u.authed(u.inOrg(true, u.createTeam)))
	m.HandleFunc("GET /orgs/{org}/teams/{team}", u.authed(u.inOrg(false, u.team)))
	m.HandleFunc("POST /orgs/{org}/teams/{team}", u.authed(u.inOrg(true, u.editTeam)))
	m.HandleFunc("GET /orgs/{org}/projects/new", u.authed(u.newProjectForm))
	m.HandleFunc("POST /orgs/{org}/projects", u.authed(u.createProject))

	m.HandleFunc("GET /o/{org}/{project}/settings/{$}", u.authed(u.projectSettings))
	m.HandleFunc("GET /o/{org}/{project}/settings/keys", u.authed(u.keys))
	m.HandleFunc("POST /o/{org}/{project}/settings/keys", u.authed(u.inProject(u.editKeys)))
	m.HandleFunc("GET /o/{org}/{project}/settings/sources", u.authed(u.inProject(u.sourcesPage)))
	m.HandleFunc("POST /o/{org}/{project}/settings/sources", u.authed(u.inProject(u.editSources)))
	m.HandleFunc("GET /o/{org}/{project}/settings/debug-files", u.authed(u.debugFiles))
	m.HandleFunc("POST /o/{org}/{project}/settings/debug-files/{id}/delete", u.authed(u.deleteDebugFile))
	return u.dataRoutes()
}

// admin returns the settings store, answering 501 when the backend has
// none.
func (u *UI) admin(w http.ResponseWriter) (adminStore, bool) {
	a, ok := u.cfg.Meta.(adminStore)
	if !ok {
		http.Error(w, "this server's metadata store does not support settings", http.StatusNotImplemented)
	}
	return a, ok
}

// canSee reports whether the viewer may read the project: a member of its
// organization whose role or teams grant it.
func (u *UI) canSee(ctx context.Context, v *viewer, p meta.Project) (bool, error) {
	if !v.member(p.OrgID) {
		return false, nil
	}
	a, ok := u.cfg.Meta.(meta.Access)
	if !ok {
		return true, nil
	}
	return meta.CanSeeProject(ctx, a, v.User, p)
}

// visible keeps the projects the viewer may read.
func (u *UI) visible(ctx context.Context, v *viewer, ps []meta.Project) ([]meta.Project, error) {
	out := ps[:0:0]
	for _, p := range ps {
		ok, err := u.canSee(ctx, v, p)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// role is the viewer's role in the organization, "" for non-members;
// without role storage every member counts as a plain member.
func (u *UI) role(ctx context.Context, v *viewer, orgID int64) (meta.Role, error) {
	if !v.member(orgID) {
		return "", nil
	}
	a, ok := u.cfg.Meta.(meta.Access)
	if !ok {
		return meta.RoleMember, nil
	}
	r, err := meta.EffectiveRole(ctx, a, orgID, v.User)
	if errors.Is(err, meta.ErrNotFound) {
		return "", nil
	}
	return r, err
}

// orgCtx is an organization page's subject: the organization and the
// viewer's role in it.
type orgCtx struct {
	Org  meta.Organization
	Role meta.Role
}

// org resolves {org} for a member; others get 404, as for a missing
// organization. With manage set, members without a managing role get 403.
func (u *UI) org(w http.ResponseWriter, r *http.Request, manage bool) (orgCtx, bool) {
	var c orgCtx
	o, err := u.cfg.Meta.OrgBySlug(r.Context(), r.PathValue("org"))
	if err == nil {
		c.Org = o
		c.Role, err = u.role(r.Context(), viewerOf(r), o.ID)
		if err == nil && c.Role == "" {
			err = meta.ErrNotFound
		}
	}
	if errors.Is(err, meta.ErrNotFound) {
		http.NotFound(w, r)
		return c, false
	}
	if err != nil {
		u.fail(w, err)
		return c, false
	}
	if manage && !c.Role.Manages() {
		http.Error(w, "only owners and managers may change this", http.StatusForbidden)
		return c, false
	}
	return c, true
}

// notices are the messages a settings page shows after a redirect; the
// query names one by key, so a crafted link cannot put words on the page.
var notices = map[string]string{
	"password":       "Your password was changed. Other browsers were signed out.",
	"revoked":        "The token was revoked; requests using it are refused from now on.",
	"member-added":   "The member was added.",
	"member-removed": "The member was removed.",
	"role":           "The role was changed.",
	"invite-deleted": "The invitation was withdrawn.",
	"team-created":   "The team was created.",
	"team-saved":     "The team was saved.",
	"team-deleted":   "The team was deleted.",
	"key-created":    "A new DSN key was created.",
	"key-saved":      "The key was saved. Ingest nodes that cached it pick up the change within 30 seconds.",
	"key-deleted":    "The key was deleted. Ingest nodes that cached it refuse it within 30 seconds.",
	"source-saved":   "The source was saved. New crashes use it within a minute.",
	"source-removed": "The source was removed.",
	"file-deleted":   "The debug file was deleted.",
	"project":        "The project was created with a DSN key.",
}

func noticeOf(r *http.Request) string { return notices[r.URL.Query().Get("done")] }

// done redirects after a successful POST (post/redirect/get), naming the
// notice to show.
func done(w http.ResponseWriter, r *http.Request, path, notice string) {
	http.Redirect(w, r, path+"?"+url.Values{"done": {notice}}.Encode(), http.StatusSeeOther)
}

// slugPattern is Sentry's slug rule: lowercase letters, digits, dashes
// and underscores, not starting with a dash.
var slugPattern = regexp.MustCompile(`^[a-z0-9_][a-z0-9_-]{0,49}$`)
