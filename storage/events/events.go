// Package events defines the store of processed events. The embedded
// backend is SQLite, the production one ClickHouse; events are written in
// batches and read by id or by issue.
//
// Beyond Store, the web interface's issue pages use optional interfaces
// (Histogrammer, IssueHistogrammer, TagCounter, IssueMatcher,
// IssueEventsDeleter), which every backend implements to one contract
// (storagetest.TestIssueEvents). Stores that wrap others implement them
// all by delegation; callers find what a store really answers with
// Optional.
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

// Bucket is the count of an interval starting at Start.
type Bucket struct {
	Start  time.Time
	Events int64
	// Users counts the distinct users of the interval's events.
	Users int64
}

// Histogrammer is implemented by stores that count an issue's events over time.
type Histogrammer interface {
	// CountsByInterval returns one bucket per interval from from (included)
	// to to (excluded), aligned to from, empty intervals included, so a
	// chart needs no gap filling.
	CountsByInterval(ctx context.Context, projectID, issueID int64, from, to time.Time, interval time.Duration) ([]Bucket, error)
}

// IssueHistogrammer counts many issues' events at once (list sparklines).
type IssueHistogrammer interface {
	// CountsByIssue returns, for each issue id asked for, the buckets
	// CountsByInterval would return for it.
	CountsByIssue(ctx context.Context, projectID int64, issueIDs []int64, from, to time.Time, interval time.Duration) (map[int64][]Bucket, error)
}

// TagCount is how many events carried one value of one tag.
type TagCount struct {
	Key, Value string
	Count      int64
}

// TagCounter is implemented by stores that index the tags of events.
type TagCounter interface {
	// TagCounts counts the tag values of the issue's newest events, at
	// most newest of them, so the cost of a page does not grow with the
	// issue. It returns the number of events counted and the counts,
	// ordered by key, then by count, largest first.
	TagCounts(ctx context.Context, projectID, issueID int64, newest int) (events int64, counts []TagCount, err error)
}

// IssueFilter selects issues by what their events carried. Every set
// condition must hold for some event of the issue, not necessarily the
// same one: that is what an index per tag answers cheaply.
type IssueFilter struct {
	Release     string
	Environment string
	// Tags are key/value pairs the event must carry.
	Tags [][2]string
}

// IssueMatcher is implemented by stores that can find the issues whose
// events match an IssueFilter; the issue store cannot, as it keeps no
// per-event data.
type IssueMatcher interface {
	// MatchIssues returns the ids of at most limit matching issues of the
	// project, in no particular order.
	MatchIssues(ctx context.Context, projectID int64, f IssueFilter, limit int) ([]int64, error)
}

// IssueEventsDeleter is implemented by stores that can delete all events
// of issues, which deleting an issue needs.
type IssueEventsDeleter interface {
	// DeleteIssueEvents deletes the events of the project's issues and
	// returns how many were deleted. Deleting twice is not an error.
	DeleteIssueEvents(ctx context.Context, projectID int64, issueIDs []int64) (int64, error)
}
