package issues

import (
	"context"

	"github.com/cairn-dev/cairn/storage/meta"
)

// IssueChange is what the events of one batch did to one issue, told to
// WorkerOptions.OnIssue after their occurrences were committed. It is
// reported once per issue and batch, for occurrences counted by that batch
// only: a redelivered message whose event was counted before reports
// nothing, so listeners see each event once (crashes aside: a crash between
// the commit and the call loses the call, so listeners that must not miss
// a change make their effects idempotent and cheap to repeat).
type IssueChange struct {
	ProjectID int64
	IssueID   int64
	// Issue is the issue as the batch grouped it, before its counts moved;
	// zero when the batch only counted events stored by an earlier
	// delivery.
	Issue meta.Issue
	// Event is the newest processed event of the batch for the issue; nil
	// when the batch only counted events stored earlier.
	Event *Event
	// EventID names the event that Event is or would be.
	EventID string
	// New is true when the batch recorded the issue's first events;
	// Regressed when it reopened a resolved issue.
	New       bool
	Regressed bool
	// Count is how many events of the issue the batch counted.
	Count int
}

// changed reports recorded occurrences to OnIssue.
func (w *Worker) changed(ctx context.Context, occs []meta.Occurrence, recs []meta.Recorded, fresh []*item) {
	if w.opts.OnIssue == nil || len(recs) == 0 {
		return
	}
	last := map[int64]meta.Occurrence{}
	for _, o := range occs {
		if p, ok := last[o.IssueID]; !ok || !o.Time.Before(p.Time) {
			last[o.IssueID] = o
		}
	}
	byIssue := map[int64]*item{}
	for _, it := range fresh {
		if it.ev == nil || it.issue.ID == 0 {
			continue
		}
		if p := byIssue[it.issue.ID]; p == nil || !it.ev.Timestamp.Time.Before(p.ev.Timestamp.Time) {
			byIssue[it.issue.ID] = it
		}
	}
	for _, r := range recs {
		o := last[r.IssueID]
		c := IssueChange{ProjectID: o.ProjectID, IssueID: r.IssueID, EventID: o.EventID, New: r.New, Regressed: r.Regressed, Count: r.Count}
		if it := byIssue[r.IssueID]; it != nil {
			c.Issue, c.Event, c.EventID = it.issue, it.ev, it.ev.EventID
		}
		w.opts.OnIssue(ctx, c)
	}
}
