package meta

import (
	"context"
	"time"
)

// IssueStatus is the triage state of an issue.
type IssueStatus string

// Issue states, spelled as Sentry's API spells them.
const (
	StatusUnresolved IssueStatus = "unresolved"
	StatusResolved   IssueStatus = "resolved"
	StatusIgnored    IssueStatus = "ignored"
)

// Substatus values of unresolved issues, as in Sentry.
const (
	SubstatusNew       = "new"
	SubstatusOngoing   = "ongoing"
	SubstatusRegressed = "regressed"
)

// Issue is a group of events that share a grouping hash.
type Issue struct {
	ID        int64
	ProjectID int64
	// ShortSeq numbers issues within their project; the API shows it as
	// the short id ("DEFAULT-1A").
	ShortSeq int64
	// Type is "error" for events with an exception, "default" otherwise.
	Type     string
	Title    string
	Culprit  string
	Level    string
	Platform string
	// Metadata holds what the UI shows under the title: the exception's
	// type and value, the crash signature of native crashes, the top
	// frame's function and file.
	Metadata  map[string]string
	Status    IssueStatus
	Substatus string
	// TimesSeen and UserCount count events and distinct users.
	TimesSeen int64
	UserCount int64
	FirstSeen time.Time
	LastSeen  time.Time
	// FirstRelease and LastRelease are the releases of the first and most
	// recent events that named one.
	FirstRelease string
	LastRelease  string
	// Environments lists every environment seen, in first-seen order.
	Environments []string
	// ResolvedAt is when the issue was last resolved (zero if never).
	ResolvedAt time.Time
	// LastEventID is the id of the most recent event.
	LastEventID string
}

// GroupRequest asks for the issue of a grouping hash, creating it from the
// event's description when no issue has the hash yet.
type GroupRequest struct {
	ProjectID int64
	// Hash is the grouping hash of the event.
	Hash     string
	Type     string
	Title    string
	Culprit  string
	Level    string
	Platform string
	Metadata map[string]string
	// Time is the event's time, the new issue's first and last seen.
	Time time.Time
}

// Occurrence records one stored event against its issue.
type Occurrence struct {
	IssueID int64
	// ProjectID and EventID name the event; an occurrence already
	// recorded for them is skipped.
	ProjectID   int64
	EventID     string
	Time        time.Time
	Level       string
	Release     string
	Environment string
	// NewUser is true when the event's user was not seen in the issue
	// before.
	NewUser bool
	// Title, Culprit and Metadata describe the newest event; the issue
	// takes them when the occurrence is its latest.
	Title    string
	Culprit  string
	Metadata map[string]string
}

// Recorded tells what an occurrence changed.
type Recorded struct {
	IssueID int64
	// Regressed is true when the occurrence reopened a resolved issue.
	Regressed bool
	// New is true when these were the issue's first occurrences, and Count
	// is how many occurrences of the issue this call recorded.
	New   bool
	Count int
}

// IssueQuery selects and orders issues of one project.
type IssueQuery struct {
	ProjectID int64
	// Status filters by state; empty means any.
	Status IssueStatus
	// Sort is "date" (last seen, the default), "new" (first seen) or
	// "freq" (times seen), newest or largest first.
	Sort   string
	Offset int
	Limit  int
}

// Issues stores issues and the grouping hashes that lead to them.
type Issues interface {
	// GroupIssues returns, for each request, the issue holding its hash,
	// creating missing ones, in one transaction. Created issues start with
	// no occurrence: counts move only in RecordOccurrences, after the event
	// itself is stored, so a crash between the two never counts an event
	// that does not exist.
	GroupIssues(ctx context.Context, reqs []GroupRequest) ([]Issue, error)
	// RecordOccurrences updates counts, first/last seen, level, releases
	// and environments, and regresses resolved issues, in one transaction.
	// It is idempotent by (project, event id), so a worker that crashed
	// after storing events but before recording them can record them again
	// on redelivery; only recorded occurrences are returned.
	RecordOccurrences(ctx context.Context, occs []Occurrence) ([]Recorded, error)
	Issue(ctx context.Context, id int64) (Issue, error)
	// ListIssues returns issues matching q and whether more follow.
	ListIssues(ctx context.Context, q IssueQuery) (issues []Issue, more bool, err error)
	// SetIssueStatus moves an issue to a new state.
	SetIssueStatus(ctx context.Context, id int64, status IssueStatus) (Issue, error)
}
