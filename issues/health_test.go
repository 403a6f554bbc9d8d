package issues_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/ingest"
	"github.com/cairn-dev/cairn/issues"
	"github.com/cairn-dev/cairn/storage/meta"
)

func TestParseSession(t *testing.T) {
	started := time.Date(2026, 3, 4, 10, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, payload string
		want          meta.SessionUpdate
		err           bool
	}{
		{"init", `{"sid":"8333339F-5675-4F89-A9A0-1C935255AB58","did":"u1","init":true,"started":"2026-03-04T10:05:00Z","timestamp":"2026-03-04T10:06:00Z","status":"ok","errors":0,"attrs":{"release":"app@1","environment":"prod"}}`,
			meta.SessionUpdate{Release: "app@1", Environment: "prod", Started: started, DistinctID: "u1", SessionID: "8333339f56754f89a9a01c935255ab58", Init: true, Status: meta.SessionOk}, false},
		{"numeric times and did", `{"sid":"a","did":42,"started":1772618700,"status":"crashed","errors":1,"attrs":{"release":"app@1"}}`,
			meta.SessionUpdate{Release: "app@1", Started: started, DistinctID: "42", SessionID: "a", Status: meta.SessionCrashed, Errors: 1}, false},
		{"no status means ok", `{"sid":"a","started":"2026-03-04T10:05:00Z","attrs":{"release":"app@1"}}`,
			meta.SessionUpdate{Release: "app@1", Started: started, SessionID: "a", Status: meta.SessionOk}, false},
		{"no release", `{"sid":"a","started":"2026-03-04T10:05:00Z","attrs":{}}`, meta.SessionUpdate{}, true},
		{"unknown status", `{"sid":"a","status":"exploded","started":"2026-03-04T10:05:00Z","attrs":{"release":"r"}}`, meta.SessionUpdate{}, true},
		{"no sid", `{"started":"2026-03-04T10:05:00Z","attrs":{"release":"r"}}`, meta.SessionUpdate{}, true},
		{"negative errors", `{"sid":"a","errors":-1,"started":"2026-03-04T10:05:00Z","attrs":{"release":"r"}}`, meta.SessionUpdate{}, true},
		{"bad time", `{"sid":"a","started":"yesterday","attrs":{"release":"r"}}`, meta.SessionUpdate{}, true},
		{"not json", `{"sid":`, meta.SessionUpdate{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := issues.ParseSession([]byte(tc.payload))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !tc.err && got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseSessionsAndClientReport(t *testing.T) {
	us, err := issues.ParseSessions([]byte(`{"aggregates":[{"started":"2026-03-04T10:00:00Z","exited":3,"crashed":1},{"started":"2026-03-04T10:00:00Z","did":"u","errored":2},{"started":"2026-03-04T10:00:00Z"},{"exited":1}],"attrs":{"release":"r","environment":"e"}}`))
	if err != nil || len(us) != 2 || us[0].Exited != 3 || us[0].Crashed != 1 || !us[0].Aggregate || us[1].DistinctID != "u" || us[1].Errored != 2 || us[1].Environment != "e" {
		t.Fatalf("ParseSessions = %+v, %v", us, err)
	}
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	os, err := issues.ParseClientReport([]byte(`{"timestamp":"2026-03-04T09:59:00Z","discarded_events":[{"reason":"queue_overflow","category":"error","quantity":3},{"reason":"x","category":"","quantity":1},{"reason":"y","category":"error","quantity":0}],"rate_limited_events":[{"reason":"ratelimit_backoff","category":"session","quantity":2}]}`), now)
	if err != nil || len(os) != 2 || os[0].Outcome != "client_discard" || os[0].Quantity != 3 || os[1].Outcome != "rate_limited" || !os[0].Time.Equal(now.Add(-time.Minute)) {
		t.Fatalf("ParseClientReport = %+v, %v", os, err)
	}
	r, err := issues.ParseUserReport([]byte(`{"event_id":"8333339F-5675-4F89-A9A0-1C935255AB58","name":"Ann","email":"a@example.com","comments":"it crashed"}`))
	if err != nil || r.EventID != "8333339f56754f89a9a01c935255ab58" || r.Comments != "it crashed" {
		t.Fatalf("ParseUserReport = %+v, %v", r, err)
	}
	if _, err := issues.ParseUserReport([]byte(`{"event_id":"nope"}`)); err == nil {
		t.Error("a report without a valid event id was accepted")
	}
}

// Standalone items go through the sink and the worker into the stores,
// once each however often they are delivered, and feedback sent before its
// event attaches to the event's issue.
func TestWorkerItems(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	now := time.Now().UTC()
	started := now.Format(time.RFC3339)
	session := func(sid, status string, init bool, errs int) ingest.Item {
		return ingest.Item{Type: "session", Payload: fmt.Appendf(nil, `{"sid":%q,"did":"u-%s","init":%t,"status":%q,"errors":%d,"started":%q,"attrs":{"release":"app@1","environment":"prod"}}`,
			sid, sid, init, status, errs, started)}
	}
	eventID := newID()
	items := []ingest.Item{
		session("s1", "ok", true, 0), session("s1", "exited", false, 0),
		session("s2", "ok", true, 1), session("s2", "exited", false, 1),
		session("s3", "crashed", true, 1),
		session("s4", "ok", true, 0),
		{Type: "session", Payload: []byte(`{"sid":"bad","status":"exploded","attrs":{"release":"app@1"}}`)},
		{Type: "sessions", Payload: fmt.Appendf(nil, `{"aggregates":[{"started":%q,"exited":2,"crashed":2}],"attrs":{"release":"app@2"}}`, started)},
		{Type: "user_report", Payload: fmt.Appendf(nil, `{"event_id":%q,"name":"Ann","email":"ann@example.com","comments":"it froze"}`, eventID)},
		{Type: "client_report", Payload: []byte(`{"discarded_events":[{"reason":"queue_overflow","category":"error","quantity":7}]}`)},
	}
	// The envelope header names the event the report is about, as SDKs
	// send feedback; that alone must not make an (empty) event.
	acc := &ingest.Accepted{ProjectID: e.project.ID, EventID: eventID, ReceivedAt: now, Items: items}
	for range 2 { // a client retrying the envelope
		if err := e.sink.Accept(ctx, acc); err != nil {
			t.Fatal(err)
		}
	}
	// A retry that reaches another server (or this one after a restart)
	// is enqueued again; the worker must still count it once.
	other := issues.NewSink(e.blobs, e.q, issues.SinkOptions{})
	if err := other.Accept(ctx, acc); err != nil {
		t.Fatal(err)
	}
	other.Close()
	e.drain(t)

	q := meta.SessionQuery{ProjectIDs: []int64{e.project.ID}, Start: now.Add(-time.Hour), End: now.Add(time.Hour), Interval: time.Hour, GroupByRelease: true}
	_, totals, err := e.meta.QuerySessions(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(totals) != 2 {
		t.Fatalf("totals %+v", totals)
	}
	if c := totals[0]; c.Release != "app@1" || c.Started != 4 || c.Errored != 2 || c.Crashed != 1 || c.Exited != 2 || c.Users != 4 || c.CrashedUsers != 1 {
		t.Errorf("app@1 %+v", c)
	}
	if c := totals[1]; c.Release != "app@2" || c.Started != 4 || c.Crashed != 2 {
		t.Errorf("app@2 %+v", c)
	}
	os, err := e.meta.QueryOutcomes(ctx, meta.OutcomeQuery{ProjectIDs: []int64{e.project.ID}, Start: now.Add(-time.Hour), End: now.Add(time.Hour), Interval: time.Hour})
	if err != nil || len(os) != 1 || os[0].Quantity != 7 || os[0].Outcome != "client_discard" {
		t.Fatalf("outcomes %+v, %v", os, err)
	}
	if _, err := e.events.Get(ctx, e.project.ID, eventID); err == nil {
		t.Fatal("an envelope of items made an event")
	}
	reports, _, err := e.meta.ListUserReports(ctx, meta.UserReportQuery{ProjectID: e.project.ID})
	if err != nil || len(reports) != 1 || reports[0].IssueID != 0 || reports[0].Comments != "it froze" {
		t.Fatalf("reports %+v, %v", reports, err)
	}

	// The event arrives after its feedback.
	if err := e.sink.Accept(ctx, &ingest.Accepted{ProjectID: e.project.ID, EventID: eventID, ReceivedAt: now, Event: []byte(`{"message":"froze"}`)}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if err := issues.LinkUserReports(ctx, e.meta, e.events, e.project.ID); err != nil {
		t.Fatal(err)
	}
	is := e.issues(t)
	reports, _, err = e.meta.ListUserReports(ctx, meta.UserReportQuery{ProjectID: e.project.ID, IssueID: is[0].ID})
	if err != nil || len(reports) != 1 {
		t.Fatalf("reports of the issue %+v, %v", reports, err)
	}
	// Feedback on an event already stored is linked at once.
	report := fmt.Appendf(nil, `{"event_id":%q,"name":"Bob","comments":"again"}`, e.accept(t, `{"message":"froze"}`))
	e.drain(t)
	if err := e.sink.Accept(ctx, &ingest.Accepted{ProjectID: e.project.ID, ReceivedAt: now, Items: []ingest.Item{{Type: "user_report", Payload: report}}}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if n, err := e.meta.CountUserReports(ctx, []int64{is[0].ID}); err != nil || n[is[0].ID] != 2 {
		t.Fatalf("count %v, %v", n, err)
	}
}
