package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
)

// HealthStore is a meta store with user feedback, release-health sessions
// and client-report outcomes.
type HealthStore interface {
	meta.Store
	meta.Feedback
	meta.SessionStats
	meta.Outcomes
}

// TestHealth checks the Feedback, SessionStats and Outcomes of a meta
// store.
func TestHealth(t *testing.T, newStore func(t *testing.T) HealthStore) {
	ctx := context.Background()
	setup := func(t *testing.T) (HealthStore, meta.Project) {
		s := newStore(t)
		o, err := s.CreateOrg(ctx, meta.Organization{Slug: "acme", Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "game", Name: "Game"})
		if err != nil {
			t.Fatal(err)
		}
		return s, p
	}
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

	t.Run("Feedback", func(t *testing.T) {
		s, p := setup(t)
		ev := func(i int) string { return fmt.Sprintf("%032x", i) }
		var reports []meta.UserReport
		for i := range 5 {
			reports = append(reports, meta.UserReport{ProjectID: p.ID, EventID: ev(i), Name: "Ann", Email: "ann@example.com",
				Comments: fmt.Sprintf("crash %d", i), CreatedAt: t0.Add(time.Duration(i) * time.Minute)})
		}
		reports[1].IssueID = 7
		if err := s.PutUserReports(ctx, reports); err != nil {
			t.Fatal(err)
		}
		// Storing again (a redelivery) and replacing one report's text.
		reports[2].Comments = "edited"
		if err := s.PutUserReports(ctx, reports[2:3]); err != nil {
			t.Fatal(err)
		}
		list, more, err := s.ListUserReports(ctx, meta.UserReportQuery{ProjectID: p.ID, Limit: 3})
		if err != nil || !more || len(list) != 3 || list[0].EventID != ev(4) || list[2].EventID != ev(2) || list[2].Comments != "edited" {
			t.Fatalf("ListUserReports = %+v, %v, %v", list, more, err)
		}
		if !list[0].CreatedAt.Equal(t0.Add(4*time.Minute)) || list[0].Email != "ann@example.com" {
			t.Errorf("report %+v", list[0])
		}
		unlinked, _, err := s.ListUserReports(ctx, meta.UserReportQuery{ProjectID: p.ID, Unlinked: true})
		if err != nil || len(unlinked) != 4 {
			t.Fatalf("unlinked = %d, %v; want 4", len(unlinked), err)
		}
		if err := s.LinkUserReports(ctx, []meta.UserReportLink{{ProjectID: p.ID, EventID: ev(3), IssueID: 7}, {ProjectID: p.ID, EventID: ev(0), IssueID: 8}}); err != nil {
			t.Fatal(err)
		}
		byIssue, _, err := s.ListUserReports(ctx, meta.UserReportQuery{ProjectID: p.ID, IssueID: 7})
		if err != nil || len(byIssue) != 2 || byIssue[0].EventID != ev(3) || byIssue[1].EventID != ev(1) {
			t.Fatalf("issue 7 reports = %+v, %v", byIssue, err)
		}
		counts, err := s.CountUserReports(ctx, []int64{7, 8, 9})
		if err != nil || counts[7] != 2 || counts[8] != 1 || counts[9] != 0 {
			t.Fatalf("CountUserReports = %v, %v", counts, err)
		}
		// A later report on a linked event keeps its issue.
		if err := s.PutUserReports(ctx, []meta.UserReport{{ProjectID: p.ID, EventID: ev(3), Name: "Bob", CreatedAt: t0}}); err != nil {
			t.Fatal(err)
		}
		if byIssue, _, _ = s.ListUserReports(ctx, meta.UserReportQuery{ProjectID: p.ID, IssueID: 7}); len(byIssue) != 2 {
			t.Errorf("replacing a report unlinked it: %+v", byIssue)
		}
	})

	t.Run("Sessions", func(t *testing.T) {
		s, p := setup(t)
		items := SessionMix(p.ID, t0)
		for range 2 { // the second time is a redelivery: nothing changes
			if err := s.RecordSessions(ctx, items); err != nil {
				t.Fatal(err)
			}
		}
		// An SDK repeating a crash under a new item counts no new crash.
		again := meta.SessionItem{ProjectID: p.ID, ItemID: "s3-again", Updates: []meta.SessionUpdate{{Release: "app@1.0", Environment: "production",
			Started: t0.Add(5 * time.Minute), DistinctID: "u3", SessionID: "s3", Status: meta.SessionCrashed}}}
		if err := s.RecordSessions(ctx, []meta.SessionItem{again}); err != nil {
			t.Fatal(err)
		}
		q := meta.SessionQuery{ProjectIDs: []int64{p.ID}, Start: t0.Add(-time.Hour), End: t0.Add(2 * time.Hour), Interval: time.Hour, GroupByRelease: true}
		series, totals, err := s.QuerySessions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := []meta.SessionCounts{
			{Release: "app@1.0", Started: 5, Errored: 4, Crashed: 2, Abnormal: 1, Exited: 2, Users: 4, ErroredUsers: 1, AbnormalUsers: 1, CrashedUsers: 1},
			{Release: "app@2.0", Started: 5, Errored: 2, Crashed: 1, Exited: 3, Users: 1, CrashedUsers: 1},
		}
		if len(totals) != 2 || totals[0] != want[0] || totals[1] != want[1] {
			t.Fatalf("totals\n got %+v\nwant %+v", totals, want)
		}
		if len(series) != 2 || !series[0].Time.Equal(t0) || series[0].Started != 5 || series[1].Release != "app@2.0" {
			t.Fatalf("series %+v", series)
		}
		// Ungrouped, a user seen in two releases counts once.
		q.GroupByRelease = false
		if _, totals, err = s.QuerySessions(ctx, q); err != nil || len(totals) != 1 || totals[0].Started != 10 || totals[0].Users != 4 {
			t.Fatalf("ungrouped totals %+v, %v", totals, err)
		}
		q.Release = "app@2.0"
		if _, totals, err = s.QuerySessions(ctx, q); err != nil || len(totals) != 1 || totals[0].Started != 5 {
			t.Fatalf("release filter %+v, %v", totals, err)
		}
		// Outside the range, nothing.
		q = meta.SessionQuery{ProjectIDs: []int64{p.ID}, Start: t0.Add(time.Hour), End: t0.Add(3 * time.Hour), Interval: time.Hour}
		if series, totals, err = s.QuerySessions(ctx, q); err != nil || len(series)+len(totals) != 0 {
			t.Fatalf("empty range: %+v %+v %v", series, totals, err)
		}
	})

	t.Run("Outcomes", func(t *testing.T) {
		s, p := setup(t)
		item := meta.OutcomeItem{ProjectID: p.ID, ItemID: "r1", Outcomes: []meta.Outcome{
			{Time: t0.Add(10 * time.Minute), Outcome: "client_discard", Reason: "queue_overflow", Category: "error", Quantity: 3},
			{Time: t0.Add(20 * time.Minute), Outcome: "client_discard", Reason: "queue_overflow", Category: "error", Quantity: 2},
			{Time: t0.Add(70 * time.Minute), Outcome: "rate_limited", Reason: "backpressure", Category: "session", Quantity: 4},
		}}
		for range 2 {
			if err := s.RecordOutcomes(ctx, []meta.OutcomeItem{item}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.QueryOutcomes(ctx, meta.OutcomeQuery{ProjectIDs: []int64{p.ID}, Start: t0, End: t0.Add(2 * time.Hour), Interval: time.Hour})
		if err != nil || len(got) != 2 {
			t.Fatalf("QueryOutcomes = %+v, %v", got, err)
		}
		if got[0].Quantity != 5 || !got[0].Time.Equal(t0) || got[0].Reason != "queue_overflow" || got[1].Quantity != 4 || !got[1].Time.Equal(t0.Add(time.Hour)) {
			t.Errorf("outcomes %+v", got)
		}
	})
}

// SessionMix is a known mix of release-health items, starting in the hour
// of t0. Release app@1.0 (environment production): five sessions by four
// users — one exits cleanly, one errors (reported three times) then exits,
// one crashes after starting ok, one starts crashed (same user as the
// previous), one ends abnormally: 5 started, 4 errored, 2 crashed,
// 1 abnormal; crash-free sessions 60%, users 75%. Release app@2.0: an
// aggregate of 3 exited sessions and one of 1 errored and 1 crashed
// session by user u1: crash-free sessions 80%, users 0%.
func SessionMix(projectID int64, t0 time.Time) []meta.SessionItem {
	up := func(sid, did string, init bool, st meta.SessionStatus, errs int64) meta.SessionUpdate {
		return meta.SessionUpdate{Release: "app@1.0", Environment: "production", Started: t0.Add(5 * time.Minute),
			DistinctID: did, SessionID: sid, Init: init, Status: st, Errors: errs}
	}
	updates := []meta.SessionUpdate{
		up("s1", "u1", true, meta.SessionOk, 0), up("s1", "u1", false, meta.SessionExited, 0),
		up("s2", "u2", true, meta.SessionOk, 1), up("s2", "u2", false, meta.SessionOk, 2), up("s2", "u2", false, meta.SessionExited, 2),
		up("s3", "u3", true, meta.SessionOk, 0), up("s3", "u3", false, meta.SessionCrashed, 1),
		up("s4", "u3", true, meta.SessionCrashed, 1),
		up("s5", "u4", true, meta.SessionOk, 0), up("s5", "u4", false, meta.SessionAbnormal, 0),
	}
	var items []meta.SessionItem
	for i, u := range updates {
		items = append(items, meta.SessionItem{ProjectID: projectID, ItemID: fmt.Sprintf("u%d", i), Updates: []meta.SessionUpdate{u}})
	}
	items = append(items, meta.SessionItem{ProjectID: projectID, ItemID: "agg", Updates: []meta.SessionUpdate{
		{Release: "app@2.0", Started: t0, Aggregate: true, Exited: 3},
		{Release: "app@2.0", Started: t0, Aggregate: true, DistinctID: "u1", Errored: 1, Crashed: 1},
	}})
	return items
}
