// Package meta defines the store of Cairn's metadata: organizations,
// projects, DSN keys, API tokens and issues. The embedded backend is SQLite,
// the production one PostgreSQL; both hold the same relations, so the
// interfaces speak in rows, not in backend types.
package meta

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when the requested row does not exist.
var ErrNotFound = errors.New("meta: not found")

// ErrExists is returned when creating a row whose unique name (slug, public
// key, token hash) is taken.
var ErrExists = errors.New("meta: already exists")

// Organization owns projects and API tokens.
type Organization struct {
	ID        int64
	Slug      string
	Name      string
	CreatedAt time.Time
}

// Project receives events through its DSN keys and groups them into issues.
type Project struct {
	ID    int64
	OrgID int64
	Slug  string
	Name  string
	// Platform is the project's main platform ("native", "go", ...).
	Platform string
	// Disabled projects refuse events.
	Disabled bool
	// Scrub turns server-side data scrubbing on; ScrubFields are extra key
	// names to filter.
	Scrub       bool
	ScrubFields []string
	// DropMinidumps makes the worker delete a minidump's blob once the
	// event read from it is stored: the dump's raw memory may hold what
	// scrubbing cannot reach, and the processed event keeps its stack.
	DropMinidumps bool
	CreatedAt     time.Time
}

// Key is a DSN key of a project.
type Key struct {
	ID        int64
	ProjectID int64
	// Public is the 32-hex-digit public key that appears in the DSN.
	Public string
	Label  string
	// Disabled keys are refused by ingest.
	Disabled bool
	// RateLimitCount events per RateLimitWindow; zero means unlimited.
	RateLimitCount  int
	RateLimitWindow time.Duration
	CreatedAt       time.Time
}

// Token is an API token of an organization. Only the SHA-256 of the secret
// is stored: a stolen database does not hand out working tokens.
type Token struct {
	ID    int64
	OrgID int64
	// Hash is the lowercase hex SHA-256 of the token string.
	Hash string
	Name string
	// Scopes are Sentry-style scopes ("project:read", "event:read", ...).
	Scopes    []string
	CreatedAt time.Time
}

// Orgs stores organizations.
type Orgs interface {
	// CreateOrg returns ErrExists when the slug is taken.
	CreateOrg(ctx context.Context, o Organization) (Organization, error)
	Org(ctx context.Context, id int64) (Organization, error)
	OrgBySlug(ctx context.Context, slug string) (Organization, error)
}

// Projects stores projects.
type Projects interface {
	// CreateProject returns ErrExists when the slug is taken in the org.
	CreateProject(ctx context.Context, p Project) (Project, error)
	Project(ctx context.Context, id int64) (Project, error)
	ProjectBySlug(ctx context.Context, orgID int64, slug string) (Project, error)
	ListProjects(ctx context.Context, orgID int64) ([]Project, error)
}

// Keys stores DSN keys.
type Keys interface {
	// CreateKey returns ErrExists when the public key is taken.
	CreateKey(ctx context.Context, k Key) (Key, error)
	KeyByPublic(ctx context.Context, public string) (Key, error)
	ListKeys(ctx context.Context, projectID int64) ([]Key, error)
}

// Tokens stores API tokens.
type Tokens interface {
	// CreateToken returns ErrExists when the hash is taken.
	CreateToken(ctx context.Context, t Token) (Token, error)
	TokenByHash(ctx context.Context, hash string) (Token, error)
}

// Store is the whole metadata store.
type Store interface {
	Orgs
	Projects
	Keys
	Tokens
	Issues
	Close() error
}
