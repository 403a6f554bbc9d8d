package storagetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

// AccountsStore is what the web interface's accounts and access pages
// need of a metadata store.
type AccountsStore interface {
	meta.Store
	meta.Users
	meta.Access
	meta.Invitations
	meta.Accounts
	meta.ProjectSettings
}

// TestAccounts checks users, sessions, memberships, roles, teams,
// invitations, user tokens and project settings.
func TestAccounts(t *testing.T, newStore func(t *testing.T) AccountsStore) {
	ctx := context.Background()
	type fixture struct {
		s          AccountsStore
		org, other meta.Organization
		p, q, x    meta.Project
		ann, bob   meta.User
	}
	setup := func(t *testing.T) fixture {
		t.Helper()
		var f fixture
		f.s = newStore(t)
		var err error
		if f.org, err = f.s.CreateOrg(ctx, meta.Organization{Slug: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		if f.other, err = f.s.CreateOrg(ctx, meta.Organization{Slug: "other", Name: "Other"}); err != nil {
			t.Fatal(err)
		}
		for _, pp := range []struct {
			dst  *meta.Project
			org  int64
			slug string
		}{{&f.p, f.org.ID, "game"}, {&f.q, f.org.ID, "tools"}, {&f.x, f.other.ID, "secret"}} {
			if *pp.dst, err = f.s.CreateProject(ctx, meta.Project{OrgID: pp.org, Slug: pp.slug, Name: pp.slug}); err != nil {
				t.Fatal(err)
			}
		}
		if f.ann, err = f.s.CreateUser(ctx, meta.User{Email: " Ann@Example.COM ", PasswordHash: "h1"}); err != nil {
			t.Fatal(err)
		}
		if f.bob, err = f.s.CreateUser(ctx, meta.User{Email: "bob@example.com", PasswordHash: "h2"}); err != nil {
			t.Fatal(err)
		}
		return f
	}

	t.Run("UsersSessionsMembers", func(t *testing.T) {
		f := setup(t)
		s := f.s
		if n, err := s.CountUsers(ctx); err != nil || n != 2 {
			t.Fatalf("CountUsers = %d, %v", n, err)
		}
		if _, err := s.CreateUser(ctx, meta.User{Email: "ann@example.com", PasswordHash: "h"}); !errors.Is(err, meta.ErrExists) {
			t.Errorf("duplicate email: %v", err)
		}
		got, err := s.UserByEmail(ctx, "ANN@example.com")
		if err != nil || got.ID != f.ann.ID || got.Email != "ann@example.com" || got.PasswordHash != "h1" {
			t.Fatalf("UserByEmail = %+v, %v", got, err)
		}
		if u, err := s.User(ctx, f.bob.ID); err != nil || u.Email != "bob@example.com" {
			t.Fatalf("User = %+v, %v", u, err)
		}
		if _, err := s.User(ctx, 9999); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("missing user: %v", err)
		}
		for range 2 {
			if err := s.AddMember(ctx, f.ann.ID, f.org.ID); err != nil {
				t.Fatal(err)
			}
		}
		if ids, err := s.UserOrgs(ctx, f.ann.ID); err != nil || !slices.Equal(ids, []int64{f.org.ID}) {
			t.Errorf("UserOrgs = %v, %v", ids, err)
		}
		now := time.Now()
		if err := s.CreateSession(ctx, meta.Session{Hash: "live", UserID: f.ann.ID, CSRF: "c", ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, meta.Session{Hash: "old", UserID: f.ann.ID, CSRF: "c", ExpiresAt: now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if ss, err := s.SessionByHash(ctx, "live", now); err != nil || ss.UserID != f.ann.ID || ss.CSRF != "c" {
			t.Errorf("live session %+v %v", ss, err)
		}
		if _, err := s.SessionByHash(ctx, "old", now); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("expired session: %v", err)
		}
		if err := s.DeleteSession(ctx, "live"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionByHash(ctx, "live", now); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("deleted session: %v", err)
		}
	})

	t.Run("RolesAndLastOwner", func(t *testing.T) {
		f := setup(t)
		s := f.s
		if err := s.AddMember(ctx, f.ann.ID, f.org.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.AddMember(ctx, f.bob.ID, f.org.ID); err != nil {
			t.Fatal(err)
		}
		if r, err := s.MemberRole(ctx, f.org.ID, f.ann.ID); err != nil || r != meta.RoleOwner {
			t.Fatalf("first member's role = %q, %v; want owner", r, err)
		}
		if r, err := s.MemberRole(ctx, f.org.ID, f.bob.ID); err != nil || r != meta.RoleMember {
			t.Fatalf("second member's role = %q, %v; want member", r, err)
		}
		if _, err := s.MemberRole(ctx, f.other.ID, f.ann.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("role in a foreign org: %v", err)
		}
		if err := s.SetMemberRole(ctx, f.org.ID, f.ann.ID, meta.RoleMember); !errors.Is(err, meta.ErrLastOwner) {
			t.Errorf("demoting the last owner: %v", err)
		}
		if err := s.RemoveMember(ctx, f.org.ID, f.ann.ID); !errors.Is(err, meta.ErrLastOwner) {
			t.Errorf("removing the last owner: %v", err)
		}
		if err := s.SetMemberRole(ctx, f.other.ID, f.bob.ID, meta.RoleOwner); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("role of a non-member: %v", err)
		}
		if err := s.SetMemberRole(ctx, f.org.ID, f.bob.ID, "god"); err == nil {
			t.Error("unknown role accepted")
		}
		if err := s.SetMemberRole(ctx, f.org.ID, f.bob.ID, meta.RoleOwner); err != nil {
			t.Fatal(err)
		}
		if err := s.SetMemberRole(ctx, f.org.ID, f.ann.ID, meta.RoleManager); err != nil {
			t.Fatalf("demoting one of two owners: %v", err)
		}
		ms, err := s.ListMembers(ctx, f.org.ID)
		if err != nil || len(ms) != 2 || ms[0].Email != "ann@example.com" || ms[0].Role != meta.RoleManager || ms[1].Role != meta.RoleOwner {
			t.Fatalf("ListMembers = %+v, %v", ms, err)
		}
		if err := s.RemoveMember(ctx, f.org.ID, f.ann.ID); err != nil {
			t.Fatal(err)
		}
		if ids, _ := s.UserOrgs(ctx, f.ann.ID); len(ids) != 0 {
			t.Errorf("orgs after removal: %v", ids)
		}
		if err := s.RemoveMember(ctx, f.org.ID, f.ann.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("removing twice: %v", err)
		}
	})

	t.Run("TeamsAndVisibility", func(t *testing.T) {
		f := setup(t)
		s := f.s
		_ = s.AddMember(ctx, f.ann.ID, f.org.ID)
		_ = s.AddMember(ctx, f.bob.ID, f.org.ID)
		red, err := s.CreateTeam(ctx, meta.Team{OrgID: f.org.ID, Slug: "red", Name: "Red"})
		if err != nil {
			t.Fatal(err)
		}
		blue, err := s.CreateTeam(ctx, meta.Team{OrgID: f.org.ID, Slug: "blue", Name: "Blue"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateTeam(ctx, meta.Team{OrgID: f.org.ID, Slug: "red", Name: "Again"}); !errors.Is(err, meta.ErrExists) {
			t.Errorf("duplicate team: %v", err)
		}
		if _, err := s.CreateTeam(ctx, meta.Team{OrgID: f.other.ID, Slug: "red", Name: "Red"}); err != nil {
			t.Errorf("same slug in another org: %v", err)
		}
		if _, err := s.Team(ctx, f.other.ID, red.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("team through another org: %v", err)
		}
		if err := s.RenameTeam(ctx, f.org.ID, red.ID, "Red squad"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Team(ctx, f.org.ID, red.ID); err != nil || got.Name != "Red squad" || got.Slug != "red" {
			t.Errorf("Team = %+v, %v", got, err)
		}
		if ts, err := s.ListTeams(ctx, f.org.ID); err != nil || len(ts) != 2 || ts[0].ID != blue.ID {
			t.Errorf("ListTeams = %+v, %v", ts, err)
		}
		for range 2 {
			if err := s.AddTeamMember(ctx, red.ID, f.bob.ID); err != nil {
				t.Fatal(err)
			}
			if err := s.AddTeamProject(ctx, blue.ID, f.p.ID); err != nil {
				t.Fatal(err)
			}
		}
		stranger, _ := s.CreateUser(ctx, meta.User{Email: "eve@example.com", PasswordHash: "h"})
		if err := s.AddTeamMember(ctx, red.ID, stranger.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("non-member into a team: %v", err)
		}
		if err := s.AddTeamProject(ctx, red.ID, f.x.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("foreign project into a team: %v", err)
		}
		if ids, _ := s.TeamMembers(ctx, red.ID); !slices.Equal(ids, []int64{f.bob.ID}) {
			t.Errorf("TeamMembers = %v", ids)
		}
		if ids, _ := s.TeamProjects(ctx, blue.ID); !slices.Equal(ids, []int64{f.p.ID}) {
			t.Errorf("TeamProjects = %v", ids)
		}
		if ids, _ := s.UserTeams(ctx, f.org.ID, f.bob.ID); !slices.Equal(ids, []int64{red.ID}) {
			t.Errorf("UserTeams = %v", ids)
		}
		if ids, _ := s.ProjectTeams(ctx, f.p.ID); !slices.Equal(ids, []int64{blue.ID}) {
			t.Errorf("ProjectTeams = %v", ids)
		}
		see := func(u meta.User, p meta.Project) bool {
			t.Helper()
			ok, err := meta.CanSeeProject(ctx, s, u, p)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		// Bob is a member of red; game belongs to blue, tools to nobody.
		if see(f.bob, f.p) || !see(f.bob, f.q) || see(f.bob, f.x) {
			t.Errorf("member visibility: game %v tools %v foreign %v", see(f.bob, f.p), see(f.bob, f.q), see(f.bob, f.x))
		}
		if !see(f.ann, f.p) || !see(f.ann, f.q) {
			t.Error("the owner does not see every project")
		}
		if err := s.AddTeamProject(ctx, red.ID, f.p.ID); err != nil {
			t.Fatal(err)
		}
		if !see(f.bob, f.p) {
			t.Error("a project shared with the member's team is hidden")
		}
		if err := s.RemoveTeamMember(ctx, red.ID, f.bob.ID); err != nil {
			t.Fatal(err)
		}
		if see(f.bob, f.p) {
			t.Error("a former team member still sees the team's project")
		}
		if err := s.RemoveTeamProject(ctx, blue.ID, f.p.ID); err != nil {
			t.Fatal(err)
		}
		_ = s.AddTeamMember(ctx, blue.ID, f.bob.ID)
		if err := s.RemoveMember(ctx, f.org.ID, f.bob.ID); err != nil {
			t.Fatal(err)
		}
		if ids, _ := s.UserTeams(ctx, f.org.ID, f.bob.ID); len(ids) != 0 {
			t.Errorf("teams after leaving the org: %v", ids)
		}
		if err := s.DeleteTeam(ctx, f.org.ID, red.ID); err != nil {
			t.Fatal(err)
		}
		if ids, _ := s.ProjectTeams(ctx, f.p.ID); len(ids) != 0 {
			t.Errorf("teams of the project after deleting its team: %v", ids)
		}
		if err := s.DeleteTeam(ctx, f.org.ID, red.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("deleting twice: %v", err)
		}
	})

	t.Run("Invitations", func(t *testing.T) {
		f := setup(t)
		s := f.s
		now := time.Now().UTC()
		inv, err := s.CreateInvitation(ctx, meta.Invitation{OrgID: f.org.ID, Email: "new@example.com", Role: meta.RoleManager,
			Nonce: "n1", CreatedBy: f.ann.ID, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateInvitation(ctx, meta.Invitation{OrgID: f.org.ID, Role: meta.RoleMember, Nonce: "old", ExpiresAt: now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		got, err := s.InvitationByNonce(ctx, "n1")
		if err != nil || got.ID != inv.ID || got.Role != meta.RoleManager || got.Email != "new@example.com" || !got.ExpiresAt.Equal(inv.ExpiresAt) {
			t.Fatalf("InvitationByNonce = %+v, %v", got, err)
		}
		if list, err := s.ListInvitations(ctx, f.org.ID, now); err != nil || len(list) != 1 || list[0].ID != inv.ID {
			t.Errorf("ListInvitations = %+v, %v", list, err)
		}
		if err := s.ClaimInvitation(ctx, inv.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.ClaimInvitation(ctx, inv.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("second claim: %v", err)
		}
		if _, err := s.InvitationByNonce(ctx, "n1"); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("used invitation found: %v", err)
		}
		if err := s.DeleteInvitation(ctx, f.other.ID, inv.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("deleting through another org: %v", err)
		}
		k1, err := s.SigningKey(ctx, "invite")
		if err != nil || len(k1) < 32 {
			t.Fatalf("SigningKey = %x, %v", k1, err)
		}
		k2, _ := s.SigningKey(ctx, "invite")
		k3, _ := s.SigningKey(ctx, "other")
		if !bytes.Equal(k1, k2) || bytes.Equal(k1, k3) {
			t.Error("signing keys are not stable per purpose")
		}
	})

	t.Run("PasswordsAndUserTokens", func(t *testing.T) {
		f := setup(t)
		s := f.s
		if err := s.CreateSession(ctx, meta.Session{Hash: "s", UserID: f.ann.ID, CSRF: "c", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPassword(ctx, f.ann.ID, "new-hash"); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.User(ctx, f.ann.ID); u.PasswordHash != "new-hash" {
			t.Errorf("hash after SetPassword = %q", u.PasswordHash)
		}
		if _, err := s.SessionByHash(ctx, "s", time.Now()); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("session survived a password change: %v", err)
		}
		org, err := s.CreateToken(ctx, meta.Token{OrgID: f.org.ID, Hash: "orghash", Name: "ci", Scopes: []string{"project:read"}})
		if err != nil {
			t.Fatal(err)
		}
		ut, err := s.CreateUserToken(ctx, meta.Token{OrgID: f.org.ID, Hash: "userhash", Name: "laptop", Scopes: []string{"event:read"}}, f.ann.ID, "beef")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUserToken(ctx, meta.Token{OrgID: f.org.ID, Hash: "userhash"}, f.ann.ID, "beef"); !errors.Is(err, meta.ErrExists) {
			t.Errorf("duplicate token hash: %v", err)
		}
		list, err := s.ListUserTokens(ctx, f.ann.ID)
		if err != nil || len(list) != 1 || list[0].ID != ut.ID || list[0].Suffix != "beef" || list[0].Name != "laptop" ||
			!slices.Equal(list[0].Scopes, []string{"event:read"}) || list[0].CreatedAt.IsZero() {
			t.Fatalf("ListUserTokens = %+v, %v", list, err)
		}
		if id, err := s.TokenOwner(ctx, ut.ID); err != nil || id != f.ann.ID {
			t.Errorf("TokenOwner = %d, %v", id, err)
		}
		if _, err := s.TokenOwner(ctx, org.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("owner of an organization token: %v", err)
		}
		if err := s.RevokeToken(ctx, ut.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenByHash(ctx, "userhash"); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("revoked token still found: %v", err)
		}
		if err := s.RevokeToken(ctx, ut.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("revoking twice: %v", err)
		}
		if list, _ := s.ListUserTokens(ctx, f.ann.ID); len(list) != 0 {
			t.Errorf("tokens after revocation: %+v", list)
		}
	})

	t.Run("KeysAndSources", func(t *testing.T) {
		f := setup(t)
		s := f.s
		k, err := s.CreateKey(ctx, meta.Key{ProjectID: f.p.ID, Public: "0123456789abcdef0123456789abcdef", Label: "Default"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateKey(ctx, meta.Key{ID: k.ID, ProjectID: f.q.ID, Label: "stolen", Disabled: true}); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("update through another project: %v", err)
		}
		if err := s.UpdateKey(ctx, meta.Key{ID: k.ID, ProjectID: f.p.ID, Label: "Game PC", Disabled: true}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.KeyByPublic(ctx, k.Public); err != nil || got.Label != "Game PC" || !got.Disabled {
			t.Errorf("key after update = %+v, %v", got, err)
		}
		if err := s.DeleteKey(ctx, f.q.ID, k.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("delete through another project: %v", err)
		}
		if err := s.DeleteKey(ctx, f.p.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.KeyByPublic(ctx, k.Public); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("deleted key: %v", err)
		}
		if raw, err := s.ProjectSources(ctx, f.p.ID); err != nil || string(raw) != "[]" {
			t.Errorf("sources of a new project = %s, %v", raw, err)
		}
		cfg := []byte(`[{"id":"ms","type":"http","url":"https://msdl.microsoft.com/download/symbols/","layout":{"type":"symstore"}}]`)
		for range 2 {
			if err := s.SetProjectSources(ctx, f.p.ID, cfg); err != nil {
				t.Fatal(err)
			}
		}
		if raw, err := s.ProjectSources(ctx, f.p.ID); err != nil || !bytes.Equal(raw, cfg) {
			t.Errorf("ProjectSources = %s, %v", raw, err)
		}
		if raw, _ := s.ProjectSources(ctx, f.q.ID); string(raw) != "[]" {
			t.Errorf("another project's sources = %s", raw)
		}

		if got, err := s.Project(ctx, f.p.ID); err != nil || got.Scrub || got.DropMinidumps || len(got.ScrubFields) != 0 {
			t.Errorf("data settings of a new project = %+v, %v", got, err)
		}
		// Only the data settings change: a name or slug in the argument
		// is not a rename.
		edit := meta.Project{ID: f.p.ID, Slug: "renamed", Name: "Renamed", Scrub: true, ScrubFields: []string{"ssn", "license_key"}, DropMinidumps: true}
		for range 2 {
			if err := s.UpdateProjectSettings(ctx, edit); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Project(ctx, f.p.ID)
		if err != nil || !got.Scrub || !got.DropMinidumps || !slices.Equal(got.ScrubFields, edit.ScrubFields) || got.Slug != "game" || got.Name != "game" {
			t.Errorf("project after UpdateProjectSettings = %+v, %v", got, err)
		}
		if other, _ := s.Project(ctx, f.q.ID); other.Scrub || other.DropMinidumps || len(other.ScrubFields) != 0 {
			t.Errorf("another project's settings changed: %+v", other)
		}
		if err := s.UpdateProjectSettings(ctx, meta.Project{ID: f.p.ID}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Project(ctx, f.p.ID); err != nil || got.Scrub || got.DropMinidumps || len(got.ScrubFields) != 0 {
			t.Errorf("project after clearing its settings = %+v, %v", got, err)
		}
		if err := s.UpdateProjectSettings(ctx, meta.Project{ID: 987654, Scrub: true}); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("settings of a missing project: %v", err)
		}
	})
}
