package meta

import (
	"context"
	"time"
)

// User is a person who signs in to the web interface. Only a bcrypt hash of
// the password is stored.
type User struct {
	ID           int64
	Email        string
	PasswordHash string
	// Admin users may manage the installation; the first user is one.
	Admin     bool
	CreatedAt time.Time
}

// Session is a signed-in browser. The cookie carries a random secret; only
// its SHA-256 is stored, so a leaked database cannot resume sessions.
type Session struct {
	// Hash is the lowercase hex SHA-256 of the cookie value.
	Hash   string
	UserID int64
	// CSRF is the token every POST form of this session must echo.
	CSRF      string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Users stores accounts, their organization memberships and their
// sessions. It is its own interface, not part of Store, so backends gain it
// one at a time (SQLite first; PostgreSQL later).
type Users interface {
	// CreateUser returns ErrExists when the email is taken.
	CreateUser(ctx context.Context, u User) (User, error)
	User(ctx context.Context, id int64) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	// CountUsers tells whether the first administrator still needs creating.
	CountUsers(ctx context.Context) (int64, error)
	// AddMember makes the user a member of the organization; adding twice
	// is not an error. Backends with Access make the organization's first
	// member its owner and later ones members.
	AddMember(ctx context.Context, userID, orgID int64) error
	// UserOrgs lists the ids of the organizations the user belongs to.
	UserOrgs(ctx context.Context, userID int64) ([]int64, error)
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns ErrNotFound for unknown or expired sessions.
	SessionByHash(ctx context.Context, hash string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, hash string) error
}

// IssueSearch is the richer issue query of the web interface.
type IssueSearch struct {
	ProjectID int64
	// Status filters by state; empty means any.
	Status IssueStatus
	// Level filters by level ("error", "fatal", ...); empty means any.
	Level string
	// Text matches a substring of the title, case-insensitively.
	Text string
	// Release matches the issue's first or last release; Environment
	// any environment the issue was seen in. Both are what the issue
	// store records: exact per-event matching goes through the events
	// store (events.IssueMatcher) and arrives here as IssueIDs.
	Release     string
	Environment string
	// IssueIDs, when not empty, restricts the search to these issues.
	IssueIDs []int64
	// Sort is "date" (last seen, the default), "new" (first seen), "freq"
	// (events) or "user" (users), newest or largest first.
	Sort   string
	Offset int
	Limit  int
}

// IssueSearcher searches issues with free text and level filters, which
// the API's IssueQuery does not carry.
type IssueSearcher interface {
	// SearchIssues returns the matching issues and whether more follow.
	SearchIssues(ctx context.Context, q IssueSearch) (issues []Issue, more bool, err error)
}

// IssueDeleter is implemented by stores that can delete issues.
type IssueDeleter interface {
	// DeleteIssues deletes the project's issues among ids, with their
	// grouping hashes, so that a later event of the same kind opens a new
	// issue; ids of other projects are ignored. It returns how many issues
	// were deleted. Events live in the events store and are deleted there
	// first.
	DeleteIssues(ctx context.Context, projectID int64, ids []int64) (int, error)
}
