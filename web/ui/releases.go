package ui

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
)

// maxReleaseIssues bounds the issues counted for one release.
const maxReleaseIssues = 10000

// releaseRow is one release of the releases page.
type releaseRow struct {
	Release string
	// Sessions and Users count started sessions and distinct users;
	// CrashFree and CrashFreeUsers are percentages, empty without data.
	Sessions, Users           int64
	CrashFree, CrashFreeUsers string
	// Issues counts the issues with events of the release; empty when
	// the stores cannot tell.
	Issues string
}

// percent renders a crash-free rate as Sentry's release list does.
func percent(crashed, total int64) string {
	if total == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f%%", 100*(1-float64(crashed)/float64(total)))
}

// releases lists a project's releases that had sessions in the chosen
// range, with their crash-free rates and issue counts.
func (u *UI) releases(w http.ResponseWriter, r *http.Request) {
	o, p, ok := u.project(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	rng := r.URL.Query().Get("range")
	if rng != "14d" {
		rng = "24h"
	}
	span := 24 * time.Hour
	if rng == "14d" {
		span = 14 * 24 * time.Hour
	}
	base := fmt.Sprintf("/o/%s/%s/releases/", o.Slug, p.Slug)
	data := map[string]any{"V": viewerOf(r), "Org": o, "Project": p,
		"Ranges": []option{{"Last 24 hours", base, rng == "24h"}, {"Last 14 days", base + "?range=14d", rng == "14d"}}}
	st, ok := u.cfg.Meta.(meta.SessionStats)
	if !ok {
		data["Notice"] = "This server's metadata store does not keep release health."
		u.render(w, "releases", http.StatusOK, data)
		return
	}
	end := u.cfg.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	_, totals, err := st.QuerySessions(ctx, meta.SessionQuery{ProjectIDs: []int64{p.ID}, Start: end.Add(-span), End: end,
		Interval: span, GroupByRelease: true})
	if err != nil {
		u.fail(w, err)
		return
	}
	slices.SortStableFunc(totals, func(a, b meta.SessionCounts) int { return int(b.Started - a.Started) })
	rows := make([]releaseRow, 0, len(totals))
	for _, t := range totals {
		row := releaseRow{Release: t.Release, Sessions: t.Started, Users: t.Users,
			CrashFree: percent(t.Crashed, t.Started), CrashFreeUsers: percent(t.CrashedUsers, t.Users)}
		if n, ok, err := u.releaseIssues(ctx, p.ID, t.Release); err != nil {
			u.fail(w, err)
			return
		} else if ok {
			row.Issues = fmt.Sprint(n)
		}
		rows = append(rows, row)
	}
	data["Releases"] = rows
	data["Range"] = rng
	u.render(w, "releases", http.StatusOK, data)
}

// releaseIssues counts the issues with events of a release.
func (u *UI) releaseIssues(ctx context.Context, projectID int64, release string) (int, bool, error) {
	if m, ok := events.Optional[events.IssueMatcher](u.cfg.Events); ok {
		ids, err := m.MatchIssues(ctx, projectID, events.IssueFilter{Release: release}, maxReleaseIssues)
		return len(ids), true, err
	}
	return 0, false, nil
}

// feedbackRow is one user report on the issue page.
type feedbackRow struct {
	meta.UserReport
	// EventURL shows the report's event on the issue page.
	EventURL string
}

// maxIssueFeedback bounds the reports the issue page lists.
const maxIssueFeedback = 50

// addFeedback puts the issue's user reports on the issue page, first
// linking reports that arrived before their events.
func (u *UI) addFeedback(ctx context.Context, data map[string]any, base string, p meta.Project, is meta.Issue) error {
	fb, ok := u.cfg.Meta.(meta.Feedback)
	if !ok {
		return nil
	}
	if err := issues.LinkUserReports(ctx, fb, u.cfg.Events, p.ID); err != nil {
		return err
	}
	list, more, err := fb.ListUserReports(ctx, meta.UserReportQuery{ProjectID: p.ID, IssueID: is.ID, Limit: maxIssueFeedback})
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return nil
	}
	n := int64(len(list))
	if more {
		counts, err := fb.CountUserReports(ctx, []int64{is.ID})
		if err != nil {
			return err
		}
		n = counts[is.ID]
	}
	rows := make([]feedbackRow, len(list))
	for i, r := range list {
		rows[i] = feedbackRow{UserReport: r, EventURL: base + "?event=" + r.EventID}
	}
	data["Feedback"], data["FeedbackCount"] = rows, n
	return nil
}
