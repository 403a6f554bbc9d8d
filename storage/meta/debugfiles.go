package meta

import (
	"context"
	"time"
)

// DebugFile is one object of an uploaded debug file, indexed so the
// symbolicator finds it by debug id or code id. A fat Mach-O file or a
// dSYM with several architectures is one blob and several rows sharing the
// Checksum; the same bytes uploaded twice are one row per object.
type DebugFile struct {
	ID        int64
	ProjectID int64
	// Checksum is the lowercase hex SHA-1 of the whole uploaded file; the
	// blob holding it is named after it, so identical uploads share it.
	Checksum string
	// BlobKey is where the file's bytes live in the blob store.
	BlobKey string
	// Name is the file name the client gave, sanitized.
	Name string
	// DebugID is the canonical debug id ("e14d895b-…-0"), CodeID the
	// lowercase code id or "".
	DebugID string
	CodeID  string
	// Arch is the architecture in Sentry's spelling ("x86_64", "arm64").
	Arch string
	// Format is the container ("elf", "macho", "pe", "pdb", "breakpad",
	// "sourcebundle"), Kind the object kind ("exe", "lib", "dbg", "src").
	Format string
	Kind   string
	// Features are "symtab", "debug", "unwind", "sources".
	Features  []string
	Size      int64
	CreatedAt time.Time
}

// DebugFileQuery selects debug files of a project; empty fields match all.
type DebugFileQuery struct {
	ID       int64
	DebugID  string
	CodeID   string
	Checksum string
	// Limit bounds the rows returned; zero means 100.
	Limit int
}

// DebugFiles is the index of uploaded debug files. It is its own interface,
// not part of Store, so backends gain it one at a time.
type DebugFiles interface {
	// AddDebugFile indexes an object. Adding the same (project, checksum,
	// debug id, arch) again returns the existing row, so a retried
	// assembly never duplicates.
	AddDebugFile(ctx context.Context, f DebugFile) (DebugFile, error)
	// ListDebugFiles returns the matching rows, newest first.
	ListDebugFiles(ctx context.Context, projectID int64, q DebugFileQuery) ([]DebugFile, error)
	// DeleteDebugFile removes one row; ErrNotFound when it does not exist
	// in the project.
	DeleteDebugFile(ctx context.Context, projectID, id int64) error
	// DebugFileBlobUsed reports whether any row of any project still refers
	// to the blob, so deletion frees shared bytes only when the last
	// reference goes.
	DebugFileBlobUsed(ctx context.Context, blobKey string) (bool, error)
	// DebugFileBytes sums the sizes of a project's distinct uploaded files,
	// for its quota.
	DebugFileBytes(ctx context.Context, projectID int64) (int64, error)
}

// TokenProjects restricts API tokens to some projects of their
// organization. A token without any project rows may use every project of
// its organization.
type TokenProjects interface {
	// SetTokenProjects replaces the projects a token is restricted to.
	SetTokenProjects(ctx context.Context, tokenID int64, projectIDs []int64) error
	// TokenProjects lists them; empty means unrestricted.
	TokenProjects(ctx context.Context, tokenID int64) ([]int64, error)
}
