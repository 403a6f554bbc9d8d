// Package events defines the store of processed events. The embedded
// backend is SQLite, the production one ClickHouse; events are written in
// batches and read by id or by issue.
package events

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned for events that are not stored.
var ErrNotFound = errors.New("events: not found")

// Event is one processed event.
type Event struct {
	ProjectID int64
	// EventID is 32 lowercase hex digits, unique within the project.
	EventID     string
	IssueID     int64
	Timestamp   time.Time
	ReceivedAt  time.Time
	Level       string
	Platform    string
	Release     string
	Environment string
	Title       string
	// UserKey identifies the event's user for distinct-user counts ("" when
	// the event has no user).
	UserKey string
	// Data is the processed event as JSON.
	Data []byte
}

// Ref names an event.
type Ref struct {
	ProjectID int64
	EventID   string
}

// PutResult tells what Put did with one event.
type PutResult struct {
	// Inserted is false when an event with the same project and id was
	// already stored; the stored one is kept unchanged.
	Inserted bool
	// NewUser is true when the event was inserted and its user had no
	// earlier event in the issue.
	NewUser bool
}

// Store keeps processed events. Put is idempotent by (project, event id),
// which is what makes the at-least-once queue deliver each event once.
type Store interface {
	// Put stores events in one transaction.
	Put(ctx context.Context, evs []*Event) ([]PutResult, error)
	// Get returns one event, or ErrNotFound.
	Get(ctx context.Context, projectID int64, eventID string) (*Event, error)
	// Exists reports which of the refs are stored.
	Exists(ctx context.Context, refs []Ref) (map[Ref]bool, error)
	// ListByIssue returns events of an issue, newest first, and whether
	// more follow.
	ListByIssue(ctx context.Context, issueID int64, offset, limit int) (evs []*Event, more bool, err error)
	// Close releases the store's resources.
	Close() error
}
