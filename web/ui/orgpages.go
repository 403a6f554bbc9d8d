package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/web"
)

// memberRow is one member with the teams they belong to.
type memberRow struct {
	meta.Member
	Teams []string
	Self  bool
}

// membersData gathers the members page.
func (u *UI) membersData(r *http.Request, a adminStore, c orgCtx) (map[string]any, error) {
	ctx := r.Context()
	ms, err := a.ListMembers(ctx, c.Org.ID)
	if err != nil {
		return nil, err
	}
	teams, err := a.ListTeams(ctx, c.Org.ID)
	if err != nil {
		return nil, err
	}
	names := map[int64][]string{}
	for _, t := range teams {
		ids, err := a.TeamMembers(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			names[id] = append(names[id], t.Name)
		}
	}
	v := viewerOf(r)
	rows := make([]memberRow, len(ms))
	for i, m := range ms {
		rows[i] = memberRow{m, names[m.UserID], m.UserID == v.User.ID}
	}
	data := map[string]any{"V": v, "C": c, "Members": rows, "Roles": meta.Roles, "Notice": noticeOf(r), "Tab": "members"}
	if c.Role.Manages() {
		invs, err := a.ListInvitations(ctx, c.Org.ID, u.cfg.Now())
		if err != nil {
			return nil, err
		}
		data["Invitations"] = invs
	}
	return data, nil
}

// inOrg runs an organization's settings handler for a signed-in member of
// it: write says the request changes something (managers and owners only,
// CSRF checked).
func (u *UI) inOrg(write bool, h func(http.ResponseWriter, *http.Request, adminStore, orgCtx)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := u.admin(w)
		if !ok {
			return
		}
		c, ok := u.org(w, r, write)
		if !ok {
			return
		}
		h(w, r, a, c)
	}
}

// orgPage serves one page of an organization's settings: the page's data
// for the signed-in member, rendered with its template.
func (u *UI) orgPage(page string, data func(*http.Request, adminStore, orgCtx) (map[string]any, error)) func(http.ResponseWriter, *http.Request) {
	return u.inOrg(false, func(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) {
		d, err := data(r, a, c)
		if err != nil {
			u.fail(w, err)
			return
		}
		u.render(w, page, http.StatusOK, d)
	})
}

func (u *UI) membersError(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx, field, msg string) {
	data, err := u.membersData(r, a, c)
	if err != nil {
		u.fail(w, err)
		return
	}
	data[field] = msg
	u.render(w, "members", http.StatusBadRequest, data)
}

// grantable reports whether a viewer with role actor may give role to
// someone: only owners make owners.
func grantable(actor, role meta.Role) bool {
	return role.Valid() && actor.Manages() && (role != meta.RoleOwner || actor == meta.RoleOwner)
}

func (u *UI) addMember(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) {
	ctx := r.Context()
	role := meta.Role(r.PostFormValue("role"))
	if !grantable(c.Role, role) {
		u.membersError(w, r, a, c, "AddError", "You may not give the role "+string(role)+".")
		return
	}
	user, err := u.cfg.Meta.UserByEmail(ctx, r.PostFormValue("email"))
	if errors.Is(err, meta.ErrNotFound) {
		u.membersError(w, r, a, c, "AddError", "No account uses this email address. Create an invitation link below and send it to them.")
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	if _, err := a.MemberRole(ctx, c.Org.ID, user.ID); err == nil {
		u.membersError(w, r, a, c, "AddError", user.Email+" is already a member.")
		return
	}
	if err := u.cfg.Meta.AddMember(ctx, user.ID, c.Org.ID); err != nil {
		u.fail(w, err)
		return
	}
	if err := a.SetMemberRole(ctx, c.Org.ID, user.ID, role); err != nil && !errors.Is(err, meta.ErrLastOwner) {
		u.fail(w, err)
		return
	}
	done(w, r, "/orgs/"+c.Org.Slug+"/members", "member-added")
}

// target resolves {user} to a member of the organization that the viewer
// may change: owners only by owners.
func (u *UI) target(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) (int64, bool) {
	id, _ := strconv.ParseInt(r.PathValue("user"), 10, 64)
	cur, err := a.MemberRole(r.Context(), c.Org.ID, id)
	if errors.Is(err, meta.ErrNotFound) {
		http.NotFound(w, r)
		return 0, false
	}
	if err != nil {
		u.fail(w, err)
		return 0, false
	}
	if cur == meta.RoleOwner && c.Role != meta.RoleOwner {
		u.membersError(w, r, a, c, "ListError", "Only owners may change owners.")
		return 0, false
	}
	return id, true
}

func (u *UI) setRole(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) {
	id, ok := u.target(w, r, a, c)
	if !ok {
		return
	}
	role := meta.Role(r.PostFormValue("role"))
	if !grantable(c.Role, role) {
		u.membersError(w, r, a, c, "ListError", "You may not give the role "+string(role)+".")
		return
	}
	err := a.SetMemberRole(r.Context(), c.Org.ID, id, role)
	if errors.Is(err, meta.ErrLastOwner) {
		u.membersError(w, r, a, c, "ListError", "The organization must keep at least one owner: make someone else an owner first.")
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	done(w, r, "/orgs/"+c.Org.Slug+"/members", "role")
}

func (u *UI) removeMember(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) {
	id, ok := u.target(w, r, a, c)
	if !ok {
		return
	}
	err := a.RemoveMember(r.Context(), c.Org.ID, id)
	if errors.Is(err, meta.ErrLastOwner) {
		u.membersError(w, r, a, c, "ListError", "The last owner cannot be removed: make someone else an owner first.")
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	if id == viewerOf(r).User.ID {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	done(w, r, "/orgs/"+c.Org.Slug+"/members", "member-removed")
}

// Invitation links are /invite/<nonce>.<expiry>.<signature>: the
// signature (HMAC-SHA256 under the installation's invite key) covers the
// nonce and the expiry, so neither can be altered or guessed; the stored
// row makes each link work once.

const invitePurpose = "invite"

func (u *UI) inviteTTL() time.Duration {
	if u.cfg.InviteTTL > 0 {
		return u.cfg.InviteTTL
	}
	return 7 * 24 * time.Hour
}

func inviteMAC(key []byte, nonce string, exp int64) string {
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "cairn-invite\x00%s\x00%d", nonce, exp)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func (u *UI) inviteLink(r *http.Request, key []byte, inv meta.Invitation) string {
	exp := inv.ExpiresAt.Unix()
	return u.baseURL(r) + "/invite/" + inv.Nonce + "." + strconv.FormatInt(exp, 10) + "." + inviteMAC(key, inv.Nonce, exp)
}

// baseURL is the server's public address for links shown to users.
func (u *UI) baseURL(r *http.Request) string {
	if u.cfg.BaseURL != "" {
		return strings.TrimSuffix(u.cfg.BaseURL, "/")
	}
	scheme := "http"
	if u.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (u *UI) createInvite(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) {
	ctx := r.Context()
	role := meta.Role(r.PostFormValue("role"))
	if !grantable(c.Role, role) {
		u.membersError(w, r, a, c, "InviteError", "You may not give the role "+string(role)+".")
		return
	}
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	if email != "" && !strings.Contains(email, "@") {
		u.membersError(w, r, a, c, "InviteError", "The email address is not valid.")
		return
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		u.fail(w, err)
		return
	}
	key, err := a.SigningKey(ctx, invitePurpose)
	if err != nil {
		u.fail(w, err)
		return
	}
	now := u.cfg.Now()
	inv, err := a.CreateInvitation(ctx, meta.Invitation{OrgID: c.Org.ID, Email: email, Role: role, Nonce: hex.EncodeToString(b),
		CreatedBy: viewerOf(r).User.ID, ExpiresAt: now.Add(u.inviteTTL()).Truncate(time.Second), CreatedAt: now})
	if err != nil {
		u.fail(w, err)
		return
	}
	data, err := u.membersData(r, a, c)
	if err != nil {
		u.fail(w, err)
		return
	}
	data["InviteLink"], data["Invite"] = u.inviteLink(r, key, inv), inv
	u.render(w, "members", http.StatusOK, data)
}

func (u *UI) deleteInvite(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := a.DeleteInvitation(r.Context(), c.Org.ID, id); err != nil && !errors.Is(err, meta.ErrNotFound) {
		u.fail(w, err)
		return
	}
	done(w, r, "/orgs/"+c.Org.Slug+"/members", "invite-deleted")
}

// invitation checks an invitation link: its signature, its expiry and
// that it is unused. On failure it writes the page explaining why.
func (u *UI) invitation(w http.ResponseWriter, r *http.Request, a adminStore) (meta.Invitation, meta.Organization, bool) {
	ctx := r.Context()
	fail := func(status int, msg string) (meta.Invitation, meta.Organization, bool) {
		u.render(w, "invite", status, map[string]any{"Invalid": msg})
		return meta.Invitation{}, meta.Organization{}, false
	}
	parts := strings.Split(r.PathValue("token"), ".")
	if len(parts) != 3 {
		return fail(http.StatusNotFound, "This invitation link is not valid. Check that it was copied whole.")
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return fail(http.StatusNotFound, "This invitation link is not valid. Check that it was copied whole.")
	}
	key, err := a.SigningKey(ctx, invitePurpose)
	if err != nil {
		u.fail(w, err)
		return meta.Invitation{}, meta.Organization{}, false
	}
	if !hmac.Equal([]byte(inviteMAC(key, parts[0], exp)), []byte(parts[2])) {
		return fail(http.StatusNotFound, "This invitation link is not valid. Check that it was copied whole.")
	}
	if !u.cfg.Now().Before(time.Unix(exp, 0)) {
		return fail(http.StatusGone, "This invitation has expired. Ask for a new link.")
	}
	inv, err := a.InvitationByNonce(ctx, parts[0])
	if errors.Is(err, meta.ErrNotFound) {
		return fail(http.StatusGone, "This invitation was already used or withdrawn. Sign in, or ask for a new link.")
	}
	if err != nil {
		u.fail(w, err)
		return inv, meta.Organization{}, false
	}
	o, err := u.cfg.Meta.Org(ctx, inv.OrgID)
	if err != nil {
		u.fail(w, err)
		return inv, o, false
	}
	return inv, o, true
}

func (u *UI) inviteForm(w http.ResponseWriter, r *http.Request) {
	a, ok := u.admin(w)
	if !ok {
		return
	}
	inv, o, ok := u.invitation(w, r, a)
	if !ok {
		return
	}
	u.render(w, "invite", http.StatusOK, map[string]any{"CSRF": u.preCSRF(w, r), "Inv": inv, "Org": o, "Email": inv.Email})
}

// acceptInvite creates the account, claims the invitation and signs in.
// The password is checked before the claim, so a typo does not burn the
// link; the claim is atomic, so a link used twice at once makes one
// account.
func (u *UI) acceptInvite(w http.ResponseWriter, r *http.Request) {
	a, ok := u.admin(w)
	if !ok {
		return
	}
	if !u.checkPreCSRF(r) {
		http.Error(w, "invalid or missing CSRF token; reload the page and try again", http.StatusForbidden)
		return
	}
	inv, o, ok := u.invitation(w, r, a)
	if !ok {
		return
	}
	ctx := r.Context()
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	if inv.Email != "" {
		email = inv.Email
	}
	again := func(msg string) {
		u.render(w, "invite", http.StatusBadRequest, map[string]any{"CSRF": u.preCSRF(w, r), "Inv": inv, "Org": o, "Email": email, "Error": msg})
	}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		again("The passwords differ.")
		return
	}
	if !strings.Contains(email, "@") {
		again("The email address is not valid.")
		return
	}
	hash, err := HashPassword(pw)
	if err != nil {
		again("The password is too short: " + err.Error() + ".")
		return
	}
	if _, err := u.cfg.Meta.UserByEmail(ctx, email); err == nil {
		again("An account with this email exists. Sign in and ask an owner to add you by email.")
		return
	}
	if err := a.ClaimInvitation(ctx, inv.ID); errors.Is(err, meta.ErrNotFound) {
		u.render(w, "invite", http.StatusGone, map[string]any{"Invalid": "This invitation was already used or withdrawn."})
		return
	} else if err != nil {
		u.fail(w, err)
		return
	}
	user, err := u.cfg.Meta.CreateUser(ctx, meta.User{Email: email, PasswordHash: hash})
	if err == nil {
		err = u.cfg.Meta.AddMember(ctx, user.ID, inv.OrgID)
	}
	if err == nil {
		if err = a.SetMemberRole(ctx, inv.OrgID, user.ID, inv.Role); errors.Is(err, meta.ErrLastOwner) {
			err = nil // the org had no owner and this member became it
		}
	}
	if err == nil {
		err = u.startSession(w, r, user)
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// teamRow is a team with its member and project counts.
type teamRow struct {
	meta.Team
	Members, Projects int
}

func (u *UI) teamsData(r *http.Request, a adminStore, c orgCtx) (map[string]any, error) {
	ctx := r.Context()
	teams, err := a.ListTeams(ctx, c.Org.ID)
	if err != nil {
		return nil, err
	}
	rows := make([]teamRow, len(teams))
	for i, t := range teams {
		ms, err := a.TeamMembers(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		ps, err := a.TeamProjects(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		rows[i] = teamRow{t, len(ms), len(ps)}
	}
	return map[string]any{"V": viewerOf(r), "C": c, "Teams": rows, "Notice": noticeOf(r), "Tab": "teams"}, nil
}

func (u *UI) createTeam(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	slug := strings.TrimSpace(r.PostFormValue("slug"))
	fail := func(msg string) {
		data, err := u.teamsData(r, a, c)
		if err != nil {
			u.fail(w, err)
			return
		}
		data["Error"], data["Name"], data["Slug"] = msg, name, slug
		u.render(w, "teams", http.StatusBadRequest, data)
	}
	if name == "" || len(name) > 100 {
		fail("Give the team a name of up to 100 characters.")
		return
	}
	if !slugPattern.MatchString(slug) {
		fail("The slug must be 1 to 50 lowercase letters, digits, dashes or underscores, not starting with a dash.")
		return
	}
	t, err := a.CreateTeam(r.Context(), meta.Team{OrgID: c.Org.ID, Slug: slug, Name: name})
	if errors.Is(err, meta.ErrExists) {
		fail("A team with this slug exists.")
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	done(w, r, "/orgs/"+c.Org.Slug+"/teams/"+strconv.FormatInt(t.ID, 10), "team-created")
}

// teamOf resolves {team} within the organization.
func (u *UI) teamOf(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) (meta.Team, bool) {
	id, _ := strconv.ParseInt(r.PathValue("team"), 10, 64)
	t, err := a.Team(r.Context(), c.Org.ID, id)
	if errors.Is(err, meta.ErrNotFound) {
		http.NotFound(w, r)
		return t, false
	}
	if err != nil {
		u.fail(w, err)
		return t, false
	}
	return t, true
}

// pick is one choice of a team page's lists: in the team or not.
type pick struct {
	ID     int64
	Label  string
	Detail string
	In     bool
}

func (u *UI) team(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) {
	t, ok := u.teamOf(w, r, a, c)
	if !ok {
		return
	}
	ctx := r.Context()
	in, err := a.TeamMembers(ctx, t.ID)
	if err != nil {
		u.fail(w, err)
		return
	}
	ms, err := a.ListMembers(ctx, c.Org.ID)
	if err != nil {
		u.fail(w, err)
		return
	}
	var members []pick
	for _, m := range ms {
		members = append(members, pick{m.UserID, m.Email, string(m.Role), slices.Contains(in, m.UserID)})
	}
	pin, err := a.TeamProjects(ctx, t.ID)
	if err != nil {
		u.fail(w, err)
		return
	}
	ps, err := u.cfg.Meta.ListProjects(ctx, c.Org.ID)
	if err != nil {
		u.fail(w, err)
		return
	}
	var projects []pick
	for _, p := range ps {
		projects = append(projects, pick{p.ID, p.Name, p.Slug, slices.Contains(pin, p.ID)})
	}
	u.render(w, "team", http.StatusOK, map[string]any{"V": viewerOf(r), "C": c, "Team": t, "Members": members,
		"Projects": projects, "Notice": noticeOf(r), "Tab": "teams"})
}

// editTeam applies one action of the team page: rename, delete, or add or
// remove a member or a project.
func (u *UI) editTeam(w http.ResponseWriter, r *http.Request, a adminStore, c orgCtx) {
	t, ok := u.teamOf(w, r, a, c)
	if !ok {
		return
	}
	ctx := r.Context()
	back := "/orgs/" + c.Org.Slug + "/teams/" + strconv.FormatInt(t.ID, 10)
	id, _ := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	var err error
	switch r.PostFormValue("action") {
	case "rename":
		name := strings.TrimSpace(r.PostFormValue("name"))
		if name == "" || len(name) > 100 {
			http.Error(w, "give the team a name of up to 100 characters", http.StatusBadRequest)
			return
		}
		err = a.RenameTeam(ctx, c.Org.ID, t.ID, name)
	case "delete":
		if err = a.DeleteTeam(ctx, c.Org.ID, t.ID); err == nil {
			done(w, r, "/orgs/"+c.Org.Slug+"/teams", "team-deleted")
			return
		}
	case "add-member":
		err = a.AddTeamMember(ctx, t.ID, id)
	case "remove-member":
		err = a.RemoveTeamMember(ctx, t.ID, id)
	case "add-project":
		err = a.AddTeamProject(ctx, t.ID, id)
	case "remove-project":
		err = a.RemoveTeamProject(ctx, t.ID, id)
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	if errors.Is(err, meta.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	done(w, r, back, "team-saved")
}

var platforms = []string{"native", "c", "cpp", "go", "rust", "python", "javascript", "java", "cocoa", "other"}

func (u *UI) newProjectForm(w http.ResponseWriter, r *http.Request) {
	c, ok := u.org(w, r, true)
	if !ok {
		return
	}
	u.render(w, "newproject", http.StatusOK, map[string]any{"V": viewerOf(r), "C": c, "Platforms": platforms, "Platform": "native", "Tab": "new"})
}

// createProject makes a project with one DSN key; it has no team, so
// every member sees it until the teams page assigns it.
func (u *UI) createProject(w http.ResponseWriter, r *http.Request) {
	c, ok := u.org(w, r, true)
	if !ok {
		return
	}
	ctx := r.Context()
	name, slug, platform := strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("slug")), r.PostFormValue("platform")
	fail := func(msg string) {
		u.render(w, "newproject", http.StatusBadRequest, map[string]any{"V": viewerOf(r), "C": c, "Platforms": platforms,
			"Name": name, "Slug": slug, "Platform": platform, "Error": msg, "Tab": "new"})
	}
	if name == "" || len(name) > 100 {
		fail("Give the project a name of up to 100 characters.")
		return
	}
	if !slugPattern.MatchString(slug) {
		fail("The slug must be 1 to 50 lowercase letters, digits, dashes or underscores, not starting with a dash; it appears in URLs.")
		return
	}
	if !slices.Contains(platforms, platform) {
		platform = "other"
	}
	p, err := u.cfg.Meta.CreateProject(ctx, meta.Project{OrgID: c.Org.ID, Slug: slug, Name: name, Platform: platform})
	if errors.Is(err, meta.ErrExists) {
		fail("A project with this slug exists in " + c.Org.Name + ".")
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	if _, err := web.CreateKey(ctx, u.cfg.Meta, p.ID, "Default"); err != nil {
		u.fail(w, err)
		return
	}
	done(w, r, "/o/"+c.Org.Slug+"/"+p.Slug+"/settings/keys", "project")
}
