package storagetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
)

// IssueEventsStore is an events store with what the web interface's issue
// pages use beyond events.Store: histograms, tag counts, tag search and
// deleting an issue's events.
type IssueEventsStore interface {
	events.Store
	events.Histogrammer
	events.IssueHistogrammer
	events.TagCounter
	events.IssueMatcher
	events.IssueEventsDeleter
}

// IssueMetaStore is a metadata store that can search and delete issues.
type IssueMetaStore interface {
	meta.Store
	meta.IssueSearcher
	meta.IssueDeleter
}

// TestIssueEvents checks the events store's side of the issue pages. The
// stores may keep several physical copies of an event (ClickHouse does
// until a merge); every answer counts each event once.
func TestIssueEvents(t *testing.T, newStore func(t *testing.T) IssueEventsStore) {
	ctx := context.Background()
	put := func(t *testing.T, s IssueEventsStore, evs ...*events.Event) []events.PutResult {
		t.Helper()
		res, err := s.Put(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	t.Run("CountsByInterval", func(t *testing.T) {
		s := newStore(t)
		from := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
		ev := func(id string, issue int64, at time.Duration, user string) *events.Event {
			return &events.Event{ProjectID: 1, EventID: id, IssueID: issue, Timestamp: from.Add(at), ReceivedAt: from,
				UserKey: user, Data: []byte(`{}`)}
		}
		put(t, s,
			ev("a", 10, -time.Minute, "u1"), // before the range
			ev("b", 10, 0, "u1"),
			ev("c", 10, 30*time.Minute, "u1"),
			ev("d", 10, 59*time.Minute, "u2"),
			ev("e", 10, 3*time.Hour+time.Second, ""),
			ev("f", 10, 4*time.Hour, "u3"), // at the end: excluded
			ev("g", 11, time.Hour, "u9"),
			&events.Event{ProjectID: 2, EventID: "h", IssueID: 10, Timestamp: from, ReceivedAt: from, Data: []byte(`{}`)}, // another project
		)
		// A batch repeated, as a redelivered queue message repeats it,
		// counts once.
		put(t, s, ev("b", 10, 0, "u1"), ev("c", 10, 30*time.Minute, "u1"))
		for _, c := range []struct {
			name     string
			from, to time.Time
			interval time.Duration
			want     []events.Bucket
		}{
			{"hours", from, from.Add(4 * time.Hour), time.Hour, []events.Bucket{
				{Start: from, Events: 3, Users: 2}, {Start: from.Add(time.Hour)}, {Start: from.Add(2 * time.Hour)},
				{Start: from.Add(3 * time.Hour), Events: 1}}},
			{"half hours off the hour", from.Add(-30 * time.Minute), from.Add(time.Hour), 30 * time.Minute, []events.Bucket{
				{Start: from.Add(-30 * time.Minute), Events: 1, Users: 1}, {Start: from, Events: 1, Users: 1},
				{Start: from.Add(30 * time.Minute), Events: 2, Users: 2}}},
			{"a last partial interval", from, from.Add(90 * time.Minute), time.Hour, []events.Bucket{
				{Start: from, Events: 3, Users: 2}, {Start: from.Add(time.Hour)}}},
		} {
			got, err := s.CountsByInterval(ctx, 1, 10, c.from, c.to, c.interval)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s: CountsByInterval = %v, want %v", c.name, got, c.want)
			}
		}
		m, err := s.CountsByIssue(ctx, 1, []int64{10, 11, 12}, from, from.Add(2*time.Hour), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64][]events.Bucket{
			10: {{Start: from, Events: 3, Users: 2}, {Start: from.Add(time.Hour)}},
			11: {{Start: from}, {Start: from.Add(time.Hour), Events: 1, Users: 1}},
			12: {{Start: from}, {Start: from.Add(time.Hour)}},
		}
		if len(m) != len(want) {
			t.Errorf("CountsByIssue = %v, want %v", m, want)
		}
		for id, bs := range want {
			if !slices.Equal(m[id], bs) {
				t.Errorf("CountsByIssue[%d] = %v, want %v", id, m[id], bs)
			}
		}
		if m, err := s.CountsByIssue(ctx, 1, nil, from, from.Add(time.Hour), time.Hour); err != nil || len(m) != 0 {
			t.Errorf("CountsByIssue of no issue = %v, %v", m, err)
		}
		for _, c := range []struct {
			name     string
			from, to time.Time
			interval time.Duration
		}{
			{"empty range", from, from, time.Hour},
			{"reversed range", from.Add(time.Hour), from, time.Hour},
			{"no interval", from, from.Add(time.Hour), 0},
			{"too many intervals", from, from.Add(24 * time.Hour), time.Second},
		} {
			if _, err := s.CountsByInterval(ctx, 1, 10, c.from, c.to, c.interval); err == nil {
				t.Errorf("%s accepted", c.name)
			}
		}
	})
	t.Run("TagsMatchCountDelete", func(t *testing.T) {
		s := newStore(t)
		now := time.Now().UTC().Truncate(time.Second)
		var evs []*events.Event
		for i := range 10 {
			os := "linux"
			if i < 3 {
				os = "windows"
			}
			data := fmt.Sprintf(`{"tags":[["os",%q],["gpu","nv"]]}`, os)
			if i == 9 {
				data = `{"tags":{"os":"linux","gpu":"amd"}}`
			}
			evs = append(evs, &events.Event{ProjectID: 1, EventID: fmt.Sprintf("e%d", i), IssueID: 100 + int64(i%2),
				Timestamp: now.Add(time.Duration(i) * time.Second), ReceivedAt: now, UserKey: fmt.Sprintf("u%d", i%2),
				Release: "app@1", Environment: "prod", Level: "fatal", Data: []byte(data)})
		}
		evs = append(evs, &events.Event{ProjectID: 1, EventID: "x", IssueID: 102, Timestamp: now, ReceivedAt: now,
			Release: "app@2", Data: []byte(`not json`)})
		put(t, s, evs...)
		put(t, s, evs[9]) // a repeated event counts once

		match := func(f events.IssueFilter) []int64 {
			t.Helper()
			ids, err := s.MatchIssues(ctx, 1, f, 0)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(ids)
			return ids
		}
		for _, c := range []struct {
			f    events.IssueFilter
			want []int64
		}{
			{events.IssueFilter{Release: "app@1"}, []int64{100, 101}},
			{events.IssueFilter{Release: "app@2"}, []int64{102}},
			{events.IssueFilter{Release: "app@3"}, nil},
			{events.IssueFilter{Environment: "prod", Tags: [][2]string{{"os", "windows"}}}, []int64{100, 101}},
			// Only e9 (issue 101) has gpu amd; conditions hold per issue.
			{events.IssueFilter{Tags: [][2]string{{"gpu", "amd"}, {"os", "linux"}}}, []int64{101}},
			{events.IssueFilter{Tags: [][2]string{{"gpu", "amd"}, {"os", "windows"}}}, []int64{101}},
			{events.IssueFilter{Tags: [][2]string{{"gpu", "amd"}, {"release", "app@2"}}}, nil},
			{events.IssueFilter{Tags: [][2]string{{"level", "fatal"}}}, []int64{100, 101}},
		} {
			if got := match(c.f); !slices.Equal(got, c.want) {
				t.Errorf("MatchIssues(%+v) = %v, want %v", c.f, got, c.want)
			}
		}
		if ids, err := s.MatchIssues(ctx, 2, events.IssueFilter{Release: "app@1"}, 0); err != nil || len(ids) != 0 {
			t.Errorf("MatchIssues of another project = %v, %v", ids, err)
		}
		if ids, err := s.MatchIssues(ctx, 1, events.IssueFilter{Release: "app@1"}, 1); err != nil || len(ids) != 1 {
			t.Errorf("MatchIssues limited to 1 = %v, %v", ids, err)
		}
		if _, err := s.MatchIssues(ctx, 1, events.IssueFilter{}, 0); err == nil {
			t.Error("empty filter accepted")
		}

		total, counts, err := s.TagCounts(ctx, 1, 101, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Issue 101 holds e1, e3, e5, e7, e9: os windows once (e1), linux
		// four times; gpu nv four times, amd once (e9).
		want := []events.TagCount{
			{Key: "environment", Value: "prod", Count: 5},
			{Key: "gpu", Value: "nv", Count: 4}, {Key: "gpu", Value: "amd", Count: 1},
			{Key: "level", Value: "fatal", Count: 5},
			{Key: "os", Value: "linux", Count: 4}, {Key: "os", Value: "windows", Count: 1},
			{Key: "release", Value: "app@1", Count: 5},
		}
		if total != 5 || !slices.Equal(counts, want) {
			t.Errorf("TagCounts = %d %v, want 5 %v", total, counts, want)
		}
		// Bounded to the newest events: the newest two of issue 101 are
		// e9 and e7.
		total, counts, err = s.TagCounts(ctx, 1, 101, 2)
		if err != nil || total != 2 || !slices.Contains(counts, events.TagCount{Key: "gpu", Value: "amd", Count: 1}) ||
			!slices.Contains(counts, events.TagCount{Key: "os", Value: "linux", Count: 2}) {
			t.Errorf("TagCounts newest 2 = %d %v, %v", total, counts, err)
		}
		// An event whose payload is not JSON still has its column tags.
		if total, counts, err := s.TagCounts(ctx, 1, 102, 0); err != nil || total != 1 ||
			!slices.Equal(counts, []events.TagCount{{Key: "release", Value: "app@2", Count: 1}}) {
			t.Errorf("TagCounts of issue 102 = %d %v, %v", total, counts, err)
		}
		if total, counts, err := s.TagCounts(ctx, 2, 101, 0); err != nil || total != 0 || len(counts) != 0 {
			t.Errorf("TagCounts through another project = %d %v, %v", total, counts, err)
		}

		if n, err := s.DeleteIssueEvents(ctx, 2, []int64{100, 101}); err != nil || n != 0 {
			t.Errorf("delete through another project: %d, %v", n, err)
		}
		if n, err := s.DeleteIssueEvents(ctx, 1, nil); err != nil || n != 0 {
			t.Errorf("delete of no issue: %d, %v", n, err)
		}
		n, err := s.DeleteIssueEvents(ctx, 1, []int64{101, 999})
		if err != nil || n != 5 {
			t.Fatalf("DeleteIssueEvents = %d, %v; want 5", n, err)
		}
		if n, err := s.DeleteIssueEvents(ctx, 1, []int64{101}); err != nil || n != 0 {
			t.Errorf("second DeleteIssueEvents = %d, %v; want 0", n, err)
		}
		if list, _, err := s.ListByIssue(ctx, 101, 0, 10); err != nil || len(list) != 0 {
			t.Errorf("%d events left, %v", len(list), err)
		}
		if _, err := s.Get(ctx, 1, "e9"); err == nil {
			t.Error("a deleted event is still found")
		}
		if got := match(events.IssueFilter{Release: "app@1"}); !slices.Equal(got, []int64{100}) {
			t.Errorf("tags of deleted events still match: %v", got)
		}
		if total, counts, err := s.TagCounts(ctx, 1, 101, 0); err != nil || total != 0 || len(counts) != 0 {
			t.Errorf("TagCounts after delete = %d %v, %v", total, counts, err)
		}
		bs, err := s.CountsByInterval(ctx, 1, 101, now.Truncate(time.Hour), now.Truncate(time.Hour).Add(2*time.Hour), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.Events != 0 || b.Users != 0 {
				t.Errorf("deleted events still counted: %v", bs)
			}
		}
		// Issue 100 kept its events.
		if list, _, err := s.ListByIssue(ctx, 100, 0, 10); err != nil || len(list) != 5 {
			t.Errorf("issue 100 has %d events, %v; want 5", len(list), err)
		}
		// The issue's users went with its events: an event of a user seen
		// before the deletion brings a new user again.
		res := put(t, s, &events.Event{ProjectID: 1, EventID: "again", IssueID: 101, Timestamp: now, ReceivedAt: now,
			UserKey: "u1", Data: []byte(`{}`)})
		if !res[0].Inserted || !res[0].NewUser {
			t.Errorf("Put after delete = %+v, want a new user", res[0])
		}
		res = put(t, s, &events.Event{ProjectID: 1, EventID: "again0", IssueID: 100, Timestamp: now, ReceivedAt: now,
			UserKey: "u0", Data: []byte(`{}`)})
		if !res[0].Inserted || res[0].NewUser {
			t.Errorf("Put into the kept issue = %+v, want a known user", res[0])
		}
	})
}

// TestIssueDelete checks that a metadata store searches and deletes
// issues.
func TestIssueDelete(t *testing.T, newStore func(t *testing.T) IssueMetaStore) {
	ctx := context.Background()
	m := newStore(t)
	o, err := m.CreateOrg(ctx, meta.Organization{Slug: "o", Name: "O"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "p", Name: "P"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := m.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "q", Name: "Q"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	var ids []int64
	for i, rel := range []string{"a@1", "a@2", "a@2"} {
		is, err := m.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: p.ID, Hash: fmt.Sprint(i), Type: "error", Title: "t", Level: "error", Time: now}})
		if err != nil {
			t.Fatal(err)
		}
		env := "prod"
		if i == 2 {
			env = "staging"
		}
		if _, err := m.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: is[0].ID, ProjectID: p.ID, EventID: fmt.Sprint(i),
			Time: now, Release: rel, Environment: env}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, is[0].ID)
	}
	search := func(s meta.IssueSearch) int {
		t.Helper()
		s.ProjectID = p.ID
		list, _, err := m.SearchIssues(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	for _, c := range []struct {
		name string
		s    meta.IssueSearch
		want int
	}{
		{"release", meta.IssueSearch{Release: "a@2"}, 2},
		{"environment", meta.IssueSearch{Environment: "staging"}, 1},
		{"ids", meta.IssueSearch{IssueIDs: []int64{ids[0], ids[2], 99999}}, 2},
	} {
		if n := search(c.s); n != c.want {
			t.Errorf("%s: %d issues, want %d", c.name, n, c.want)
		}
	}
	if n, err := m.DeleteIssues(ctx, q.ID, ids); err != nil || n != 0 {
		t.Errorf("delete through another project: %d %v", n, err)
	}
	if n, err := m.DeleteIssues(ctx, p.ID, nil); err != nil || n != 0 {
		t.Errorf("delete of no issue: %d %v", n, err)
	}
	if n, err := m.DeleteIssues(ctx, p.ID, ids[:2]); err != nil || n != 2 {
		t.Fatalf("DeleteIssues = %d, %v", n, err)
	}
	if n, err := m.DeleteIssues(ctx, p.ID, ids[:2]); err != nil || n != 0 {
		t.Errorf("second DeleteIssues = %d, %v; want 0", n, err)
	}
	if _, err := m.Issue(ctx, ids[0]); err == nil {
		t.Error("deleted issue still found")
	}
	if is, err := m.Issue(ctx, ids[2]); err != nil || is.TimesSeen != 1 {
		t.Errorf("kept issue = %+v, %v", is, err)
	}
	if n := search(meta.IssueSearch{}); n != 1 {
		t.Errorf("%d issues left, want 1", n)
	}
	// The hash is free again: the same kind of event opens a new issue,
	// and the event itself, counted by the deleted issue, counts again.
	is, err := m.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: p.ID, Hash: "0", Type: "error", Title: "t", Level: "error", Time: now}})
	if err != nil || is[0].ID == ids[0] {
		t.Fatalf("regrouped into %v, %v", is, err)
	}
	rec, err := m.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: is[0].ID, ProjectID: p.ID, EventID: "0", Time: now}})
	if err != nil || len(rec) != 1 || !rec[0].New || rec[0].Count != 1 {
		t.Errorf("recording the event again = %+v, %v", rec, err)
	}
}
