package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

// The sessions, stats_v2 and user-feedback endpoints answer in Sentry's
// shapes, with exact crash-free rates for a known mix, and refuse what
// they do not support with a 400.
func TestHealthAPI(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := time.Now().UTC()
	// The mix starts sessions up to 5 minutes after t0, and the query
	// below counts them on today's interval: in the last minutes of a UTC
	// day, t0 moves back enough for them all to fall on it.
	t0 := now
	if last := now.Truncate(24 * time.Hour).Add(24*time.Hour - 10*time.Minute); t0.After(last) {
		t0 = last
	}
	if err := f.meta.RecordSessions(ctx, storagetest.SessionMix(f.proj.ID, t0)); err != nil {
		t.Fatal(err)
	}
	if err := f.meta.RecordOutcomes(ctx, []meta.OutcomeItem{{ProjectID: f.proj.ID, ItemID: "r", Outcomes: []meta.Outcome{
		{Time: now, Outcome: "client_discard", Reason: "queue_overflow", Category: "error", Quantity: 4}}}}); err != nil {
		t.Fatal(err)
	}
	// One report on a stored event (linked at read time), one on an
	// event that never came.
	if err := f.meta.PutUserReports(ctx, []meta.UserReport{
		{ProjectID: f.proj.ID, EventID: fmt.Sprintf("%032x", 3), Name: "Ann", Comments: "froze", CreatedAt: now},
		{ProjectID: f.proj.ID, EventID: fmt.Sprintf("%032x", 99), Name: "Bob", Comments: "lost", CreatedAt: now.Add(-time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}

	get := func(path string, v any) int {
		t.Helper()
		resp, body := f.do(t, "GET", path, f.token, "")
		if resp.StatusCode == http.StatusOK && v != nil {
			if err := json.Unmarshal(body, v); err != nil {
				t.Fatalf("%s: %v\n%s", path, err, body)
			}
		}
		return resp.StatusCode
	}
	var ans struct {
		Start, End string
		Intervals  []string
		Groups     []struct {
			By     map[string]string
			Totals map[string]any
			Series map[string][]any
		}
	}
	code := get(fmt.Sprintf("/api/0/organizations/default/sessions/?project=%d&field=sum(session)&field=crash_free_rate(session)&field=crash_free_rate(user)&field=count_unique(user)&groupBy=release&statsPeriod=2d&interval=1d", f.proj.ID), &ans)
	if code != 200 || len(ans.Groups) != 2 || len(ans.Intervals) != 3 {
		t.Fatalf("sessions: HTTP %d %+v", code, ans)
	}
	g := ans.Groups[0]
	if g.By["release"] != "app@1.0" || g.Totals["sum(session)"] != 5.0 || g.Totals["crash_free_rate(session)"] != 0.6 ||
		g.Totals["crash_free_rate(user)"] != 0.75 || g.Totals["count_unique(user)"] != 4.0 {
		t.Errorf("app@1.0 %+v", g)
	}
	if s := g.Series["crash_free_rate(session)"]; s[0] != nil || s[2] != 0.6 {
		t.Errorf("rate series %v (empty intervals must be null)", s)
	}
	for _, bad := range []string{"field=sum(session)&interval=30m", "field=nope", "field=crash_free_rate(session)&groupBy=session.status",
		"field=sum(session)&groupBy=os", "field=sum(session)&statsPeriod=forever", "field=sum(session)&project=abc"} {
		if code := get("/api/0/organizations/default/sessions/?"+bad, nil); code != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", bad, code)
		}
	}
	if code := get("/api/0/organizations/default/sessions/?field=sum(session)&project=424242", nil); code != http.StatusForbidden {
		t.Errorf("another organization's project: HTTP %d, want 403", code)
	}

	var stats struct {
		Groups []struct {
			By     map[string]any
			Totals map[string]int64
		}
	}
	if code := get("/api/0/organizations/default/stats_v2/?field=sum(quantity)&groupBy=reason&outcome=client_discard", &stats); code != 200 ||
		len(stats.Groups) != 1 || stats.Groups[0].By["reason"] != "queue_overflow" || stats.Groups[0].Totals["sum(quantity)"] != 4 {
		t.Errorf("stats_v2: HTTP %d %+v", code, stats)
	}

	var fb []struct {
		EventID, Name, Comments string
		Issue                   *struct{ ID string }
	}
	if code := get("/api/0/projects/default/default/user-feedback/", &fb); code != 200 || len(fb) != 2 {
		t.Fatalf("user feedback: HTTP %d %+v", code, fb)
	}
	if fb[0].Name != "Ann" || fb[0].Issue == nil || fb[0].Issue.ID != fmt.Sprint(f.issue.ID) || fb[1].Issue != nil {
		t.Errorf("feedback %+v", fb)
	}
	if resp, _ := f.do(t, "GET", "/api/0/projects/default/default/user-feedback/", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: HTTP %d", resp.StatusCode)
	}
}
