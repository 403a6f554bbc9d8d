package ingest

import (
	"context"
	"errors"
	"time"
)

// The types below are the contract between ingest and the rest of the
// server: ingest authenticates, limits, decodes and scrubs what clients
// send, and hands each accepted event to a Sink that makes it durable
// before the client gets its 200. Keys and projects come from a KeyStore.

// Limit is a rate limit: at most Count events per Window. The zero Limit
// allows everything.
type Limit struct {
	Count  int
	Window time.Duration
}

// Key is a DSN key: the public key of a DSN and what it may do.
type Key struct {
	// Public is the 32-hex-digit public key of the DSN.
	Public    string
	ProjectID int64
	// Disabled keys are refused with 401.
	Disabled bool
	// RateLimit applies to events accepted with this key.
	RateLimit Limit
}

// Project holds the per-project settings ingest applies.
type Project struct {
	ID   int64
	Slug string
	// Disabled projects are refused with 403.
	Disabled bool
	// Scrub turns server-side data scrubbing on; ScrubFields are extra
	// key names to filter besides the built-in sensitive ones.
	Scrub       bool
	ScrubFields []string
}

// ErrUnknownKey and ErrUnknownProject are returned by a KeyStore for keys
// and projects that do not exist.
var (
	ErrUnknownKey     = errors.New("ingest: unknown DSN key")
	ErrUnknownProject = errors.New("ingest: unknown project")
)

// KeyStore looks up DSN keys and projects. Implementations should be fast
// (ingest calls it for every request) and may cache.
type KeyStore interface {
	// Key returns the key with this public key, or ErrUnknownKey.
	Key(ctx context.Context, public string) (Key, error)
	// Project returns the project, or ErrUnknownProject.
	Project(ctx context.Context, id int64) (Project, error)
}

// Attachment is a file sent with an event.
type Attachment struct {
	// Name is the file name the client gave.
	Name        string
	ContentType string
	// Type is Sentry's attachment type: "event.attachment",
	// "event.minidump", "event.applecrashreport", "unreal.context",
	// "unreal.logs", "event.view_hierarchy", ...
	Type string
	Data []byte
}

// Item is an envelope item that is not part of an event: "session",
// "sessions", "user_report", "client_report".
type Item struct {
	Type    string
	Payload []byte
}

// Accepted is what ingest accepted from one request: an event with its
// attachments, and/or standalone items.
type Accepted struct {
	ProjectID int64
	// EventID is the event's id, 32 lowercase hex digits; empty when the
	// request carried only standalone items.
	EventID    string
	ReceivedAt time.Time
	// Event is the event payload as JSON, scrubbed when the project asks
	// for it; for a minidump upload it holds the fields that came with the
	// dump (sentry[...] fields, Breakpad's prod/ver/guid as tags, the rest
	// as extra).
	Event       []byte
	Attachments []Attachment
	Items       []Item
	// RemoteAddr and UserAgent describe the client, for the event's
	// request data and for client_report accounting.
	RemoteAddr string
	UserAgent  string
}

// Sink makes accepted data durable. Accept returns only once the event and
// its attachments are committed (queue and blob store), so that a client
// that got a 200 never loses its event even if the process dies right
// after. It must be idempotent by (ProjectID, EventID): accepting an event
// id already accepted returns nil and stores nothing twice.
type Sink interface {
	Accept(ctx context.Context, a *Accepted) error
}
