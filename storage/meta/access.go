package meta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Role is a member's role in an organization. Owners and managers see
// every project and manage members, teams and project settings; members see
// the projects of their teams.
type Role string

// Roles, most powerful first.
const (
	RoleOwner   Role = "owner"
	RoleManager Role = "manager"
	RoleMember  Role = "member"
)

// Roles lists the valid roles, most powerful first.
var Roles = []Role{RoleOwner, RoleManager, RoleMember}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Manages reports whether the role may manage members, teams and project
// settings.
func (r Role) Manages() bool { return r == RoleOwner || r == RoleManager }

// ErrLastOwner is returned when a change would leave an organization
// without an owner, which would lock everyone out of its settings.
var ErrLastOwner = errors.New("meta: an organization must keep at least one owner")

// Member is a user's membership of an organization.
type Member struct {
	UserID int64
	Email  string
	Role   Role
}

// Team groups members of an organization; a project assigned to teams is
// visible to their members only (and to owners and managers).
type Team struct {
	ID        int64
	OrgID     int64
	Slug      string
	Name      string
	CreatedAt time.Time
}

// Access stores roles, teams, team members and team projects. Like Users
// it is optional: a backend without it gives every member every project.
// The first member added to an organization (Users.AddMember) becomes its
// owner, later ones members.
type Access interface {
	// MemberRole returns ErrNotFound when the user is not a member.
	MemberRole(ctx context.Context, orgID, userID int64) (Role, error)
	// SetMemberRole returns ErrNotFound for non-members and ErrLastOwner
	// when it would demote the last owner.
	SetMemberRole(ctx context.Context, orgID, userID int64, role Role) error
	// ListMembers orders by email.
	ListMembers(ctx context.Context, orgID int64) ([]Member, error)
	// RemoveMember removes the membership and the user's team memberships
	// in the organization; ErrLastOwner when the user is its last owner,
	// ErrNotFound when not a member.
	RemoveMember(ctx context.Context, orgID, userID int64) error

	// CreateTeam returns ErrExists when the slug is taken in the org.
	CreateTeam(ctx context.Context, t Team) (Team, error)
	// Team returns ErrNotFound for teams of other organizations.
	Team(ctx context.Context, orgID, teamID int64) (Team, error)
	RenameTeam(ctx context.Context, orgID, teamID int64, name string) error
	// DeleteTeam drops the team with its members and projects.
	DeleteTeam(ctx context.Context, orgID, teamID int64) error
	ListTeams(ctx context.Context, orgID int64) ([]Team, error)
	// AddTeamMember returns ErrNotFound unless the user is a member of the
	// team's organization; adding twice is not an error.
	AddTeamMember(ctx context.Context, teamID, userID int64) error
	RemoveTeamMember(ctx context.Context, teamID, userID int64) error
	TeamMembers(ctx context.Context, teamID int64) ([]int64, error)
	// AddTeamProject returns ErrNotFound unless the project belongs to the
	// team's organization; adding twice is not an error.
	AddTeamProject(ctx context.Context, teamID, projectID int64) error
	RemoveTeamProject(ctx context.Context, teamID, projectID int64) error
	TeamProjects(ctx context.Context, teamID int64) ([]int64, error)
	// UserTeams lists the user's teams in the organization.
	UserTeams(ctx context.Context, orgID, userID int64) ([]int64, error)
	// ProjectTeams lists the teams a project is assigned to.
	ProjectTeams(ctx context.Context, projectID int64) ([]int64, error)
}

// EffectiveRole is the user's role in the organization: installation
// administrators act as owners of the organizations they belong to, so an
// administrator cannot be locked out by a role change. It returns
// ErrNotFound for non-members.
func EffectiveRole(ctx context.Context, a Access, orgID int64, u User) (Role, error) {
	r, err := a.MemberRole(ctx, orgID, u.ID)
	if err != nil {
		return "", fmt.Errorf("meta: role: %w", err)
	}
	if u.Admin {
		return RoleOwner, nil
	}
	return r, nil
}

// CanSeeProject reports whether the user may read the project: members of
// its organization with role owner or manager always, members when the
// project has no team or shares a team with them.
func CanSeeProject(ctx context.Context, a Access, u User, p Project) (bool, error) {
	role, err := EffectiveRole(ctx, a, p.OrgID, u)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if role.Manages() {
		return true, nil
	}
	teams, err := a.ProjectTeams(ctx, p.ID)
	if err != nil || len(teams) == 0 {
		return err == nil, err
	}
	mine, err := a.UserTeams(ctx, p.OrgID, u.ID)
	if err != nil {
		return false, err
	}
	for _, t := range teams {
		if slices.Contains(mine, t) {
			return true, nil
		}
	}
	return false, nil
}

// Invitation lets whoever holds its link create an account and join an
// organization with a role, once, before it expires. The link carries the
// Nonce signed with the installation's signing key.
type Invitation struct {
	ID    int64
	OrgID int64
	// Email, when set, is the address the account must use.
	Email     string
	Role      Role
	Nonce     string
	CreatedBy int64
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Invitations stores pending invitations and the key that signs them.
type Invitations interface {
	CreateInvitation(ctx context.Context, inv Invitation) (Invitation, error)
	// InvitationByNonce returns ErrNotFound for unknown or used ones.
	InvitationByNonce(ctx context.Context, nonce string) (Invitation, error)
	// ListInvitations lists the organization's unused, unexpired ones.
	ListInvitations(ctx context.Context, orgID int64, now time.Time) ([]Invitation, error)
	DeleteInvitation(ctx context.Context, orgID, id int64) error
	// ClaimInvitation marks the invitation used; exactly one of several
	// concurrent claims succeeds, the others get ErrNotFound.
	ClaimInvitation(ctx context.Context, id int64) error
	// SigningKey returns the installation's secret key of the given
	// purpose, creating a random one on first use, so links stay valid
	// across restarts and across the nodes of one installation.
	SigningKey(ctx context.Context, purpose string) ([]byte, error)
}

// UserToken is an API token created by a user for themselves: it acts with
// the user's access, never more, and shows its last characters in lists.
type UserToken struct {
	Token
	UserID int64
	// Suffix is the token's last four characters.
	Suffix string
}

// Accounts holds what a user changes about their own account.
type Accounts interface {
	// SetPassword replaces the user's bcrypt hash and ends their sessions.
	SetPassword(ctx context.Context, userID int64, hash string) error
	// CreateUserToken stores the token and its owner together.
	CreateUserToken(ctx context.Context, t Token, userID int64, suffix string) (UserToken, error)
	// ListUserTokens lists the user's tokens, newest first.
	ListUserTokens(ctx context.Context, userID int64) ([]UserToken, error)
	// TokenOwner returns the user a token belongs to, or ErrNotFound for
	// organization tokens made with cairn token create.
	TokenOwner(ctx context.Context, tokenID int64) (int64, error)
	// RevokeToken deletes the token; ErrNotFound when it does not exist.
	RevokeToken(ctx context.Context, tokenID int64) error
}

// ProjectSettings edits DSN keys and a project's symbol sources.
type ProjectSettings interface {
	// UpdateKey stores k's Label and Disabled for the key k.ID of
	// k.ProjectID; ErrNotFound when there is none.
	UpdateKey(ctx context.Context, k Key) error
	// DeleteKey returns ErrNotFound when the key is not the project's.
	DeleteKey(ctx context.Context, projectID, id int64) error
	// ProjectSources returns the project's symbol sources as the JSON
	// array of Sentry Symbolicator source objects; "[]" when none.
	ProjectSources(ctx context.Context, projectID int64) ([]byte, error)
	// SetProjectSources replaces that array; callers validate it.
	SetProjectSources(ctx context.Context, projectID int64, sources []byte) error
	// UpdateProjectSettings stores p's data handling settings (Scrub,
	// ScrubFields, DropMinidumps) for the project p.ID; ErrNotFound when
	// there is none.
	UpdateProjectSettings(ctx context.Context, p Project) error
}
