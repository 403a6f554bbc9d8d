package meta

import (
	"context"
	"time"
)

// UserReport is user feedback on an event (Sentry's "user report"): what a
// user wrote after a crash. Reports are keyed by (ProjectID, EventID): a
// second report on the same event replaces the first, as in Sentry.
type UserReport struct {
	ProjectID int64
	// EventID is the event the report is about, 32 lowercase hex digits.
	// The event may arrive after its report, or never.
	EventID  string
	Name     string
	Email    string
	Comments string
	// IssueID is the issue of the event, or zero while the event is not
	// known yet; readers resolve it by event id and record it with
	// LinkUserReports.
	IssueID   int64
	CreatedAt time.Time
}

// UserReportQuery selects user reports, newest first.
type UserReportQuery struct {
	ProjectID int64
	// IssueID, when not zero, keeps the reports linked to that issue.
	IssueID int64
	// Unlinked keeps only the reports whose issue is not known yet.
	Unlinked bool
	Offset   int
	Limit    int
}

// UserReportLink records the issue of a report's event.
type UserReportLink struct {
	ProjectID int64
	EventID   string
	IssueID   int64
}

// Feedback stores user reports. It is optional: backends gain it one at a
// time, and callers check for it with a type assertion.
type Feedback interface {
	// PutUserReports stores reports, replacing any report on the same
	// event; storing the same report twice changes nothing.
	PutUserReports(ctx context.Context, reports []UserReport) error
	// ListUserReports returns the matching reports, newest first, and
	// whether more follow.
	ListUserReports(ctx context.Context, q UserReportQuery) (reports []UserReport, more bool, err error)
	// LinkUserReports sets the issue of reports whose event is now known.
	LinkUserReports(ctx context.Context, links []UserReportLink) error
	// CountUserReports counts the reports linked to each issue; issues
	// without reports are absent from the map.
	CountUserReports(ctx context.Context, issueIDs []int64) (map[int64]int64, error)
}

// SessionStatus is the status of a release-health session, as SDKs send it.
type SessionStatus string

// Session states. Ok sessions are running; the others are terminal.
const (
	SessionOk       SessionStatus = "ok"
	SessionExited   SessionStatus = "exited"
	SessionCrashed  SessionStatus = "crashed"
	SessionAbnormal SessionStatus = "abnormal"
	SessionErrored  SessionStatus = "errored"
)

// SessionUpdate is one fact about sessions, already validated: either one
// update of one session (Aggregate false) or the counts of an aggregate of
// sessions that started in the same period (Aggregate true).
type SessionUpdate struct {
	Release     string
	Environment string
	// Started is when the session (or the aggregate's sessions) started;
	// every update of a session is counted in the hour it started, so that
	// a crash is counted against the sessions it belongs to.
	Started time.Time
	// DistinctID identifies the user ("did"); empty when not sent.
	DistinctID string

	Aggregate bool

	// SessionID, Init, Status and Errors describe a single update. Only
	// Init starts a session; an update with errors, or a terminal
	// non-exited status, marks it errored once, whatever follows.
	SessionID string
	Init      bool
	Status    SessionStatus
	Errors    int64

	// Exited, Errored, Abnormal and Crashed count the aggregate's
	// sessions by final status; their sum is the sessions started.
	Exited, Errored, Abnormal, Crashed int64
}

// SessionItem is the updates of one envelope item. ItemID is a stable
// digest of the item: an item recorded before is skipped, so a retried
// envelope or a redelivered message counts once.
type SessionItem struct {
	ProjectID int64
	ItemID    string
	Updates   []SessionUpdate
	// ReceivedAt dates the item's idempotency record.
	ReceivedAt time.Time
}

// SessionQuery selects release-health counts of projects over [Start,
// End), in buckets of Interval (a whole number of hours).
type SessionQuery struct {
	ProjectIDs []int64
	Start, End time.Time
	Interval   time.Duration
	// GroupByRelease and GroupByEnvironment split the counts; ungrouped
	// fields are empty in the results.
	GroupByRelease     bool
	GroupByEnvironment bool
	// Release and Environment, when set, filter.
	Release     string
	Environment string
}

// SessionCounts are the counts of one group over one interval (or the
// whole range, for totals). Distinct users are counted over the period the
// counts cover, so totals are not sums of intervals.
type SessionCounts struct {
	// Time is the interval's start; zero for totals.
	Time        time.Time
	Release     string
	Environment string
	// Started counts started sessions; Errored counts those that had an
	// error, crashed or ended abnormally (each once); Crashed, Abnormal and
	// Exited count final states.
	Started, Errored, Crashed, Abnormal, Exited int64
	// Users counts distinct users; ErroredUsers, AbnormalUsers and
	// CrashedUsers count users by the worst outcome of their sessions
	// (crashed over abnormal over errored).
	Users, ErroredUsers, AbnormalUsers, CrashedUsers int64
}

// SessionStats stores release-health sessions. Optional, like Feedback.
type SessionStats interface {
	// RecordSessions folds the items into hourly counts per project,
	// release and environment, skipping items recorded before.
	RecordSessions(ctx context.Context, items []SessionItem) error
	// QuerySessions returns counts per interval and group (series, ordered
	// by group then time, empty intervals left out) and per group over the
	// whole range (totals).
	QuerySessions(ctx context.Context, q SessionQuery) (series, totals []SessionCounts, err error)
}

// Outcome is a quantity of data a client or server did not keep, for a
// reason: what Sentry SDKs report in client reports.
type Outcome struct {
	// Time is the outcome's time; it is counted in its hour.
	Time time.Time
	// Outcome is "client_discard", "rate_limited" or "filtered".
	Outcome  string
	Reason   string
	Category string
	Quantity int64
}

// OutcomeItem is the outcomes of one envelope item, idempotent by ItemID
// like SessionItem.
type OutcomeItem struct {
	ProjectID  int64
	ItemID     string
	Outcomes   []Outcome
	ReceivedAt time.Time
}

// OutcomeQuery selects outcome counts of projects over [Start, End) in
// buckets of Interval (whole hours).
type OutcomeQuery struct {
	ProjectIDs []int64
	Start, End time.Time
	Interval   time.Duration
}

// OutcomeCount is the quantity of one project, outcome, reason and
// category in one interval.
type OutcomeCount struct {
	Time      time.Time
	ProjectID int64
	Outcome   string
	Reason    string
	Category  string
	Quantity  int64
}

// Outcomes stores client reports' outcomes. Optional, like Feedback.
type Outcomes interface {
	// RecordOutcomes adds the items' quantities to hourly counts, skipping
	// items recorded before.
	RecordOutcomes(ctx context.Context, items []OutcomeItem) error
	// QueryOutcomes returns the counts per interval, ordered by time.
	QueryOutcomes(ctx context.Context, q OutcomeQuery) ([]OutcomeCount, error)
}

// Severity orders the outcome an update reports: 0 healthy, 1 errored,
// 2 abnormal, 3 crashed. A session's worst outcome is what it counts as.
func (u SessionUpdate) Severity() int {
	if u.Aggregate {
		switch {
		case u.Crashed > 0:
			return 3
		case u.Abnormal > 0:
			return 2
		case u.Errored > 0:
			return 1
		}
		return 0
	}
	switch u.Status {
	case SessionCrashed:
		return 3
	case SessionAbnormal:
		return 2
	case SessionErrored:
		return 1
	}
	if u.Errors > 0 {
		return 1
	}
	return 0
}
