package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
)

func openEvents(t testing.TB) *sqlite.Events {
	t.Helper()
	e, err := sqlite.OpenEvents(context.Background(), filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func put(t *testing.T, e *sqlite.Events, evs ...*events.Event) {
	t.Helper()
	if _, err := e.Put(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func TestCountsByInterval(t *testing.T) {
	ctx := context.Background()
	e := openEvents(t)
	from := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	ev := func(id string, issue int64, at time.Duration, user string) *events.Event {
		return &events.Event{ProjectID: 1, EventID: id, IssueID: issue, Timestamp: from.Add(at), UserKey: user, Data: []byte(`{}`)}
	}
	put(t, e,
		ev("a", 10, -time.Minute, "u1"), // before the range
		ev("b", 10, 0, "u1"),
		ev("c", 10, 30*time.Minute, "u1"),
		ev("d", 10, 59*time.Minute, "u2"),
		ev("e", 10, 3*time.Hour+time.Second, ""),
		ev("f", 10, 4*time.Hour, "u3"), // at the end: excluded
		ev("g", 11, time.Hour, "u9"),
		&events.Event{ProjectID: 2, EventID: "h", IssueID: 10, Timestamp: from, Data: []byte(`{}`)}, // another project
	)
	got, err := e.CountsByInterval(ctx, 1, 10, from, from.Add(4*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []events.Bucket{{Start: from, Events: 3, Users: 2}, {Start: from.Add(time.Hour)}, {Start: from.Add(2 * time.Hour)}, {Start: from.Add(3 * time.Hour), Events: 1}}
	if !slices.Equal(got, want) {
		t.Errorf("CountsByInterval = %v, want %v", got, want)
	}
	m, err := e.CountsByIssue(ctx, 1, []int64{10, 11, 12}, from, from.Add(2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m[11][1].Events != 1 || m[11][0].Events != 0 || m[10][0].Events != 3 || len(m[12]) != 2 || m[12][0].Events != 0 {
		t.Errorf("CountsByIssue = %v", m)
	}
	if _, err := e.CountsByInterval(ctx, 1, 10, from, from, time.Hour); err == nil {
		t.Error("empty range accepted")
	}
}

func TestTagsMatchCountDelete(t *testing.T) {
	ctx := context.Background()
	e := openEvents(t)
	now := time.Now().UTC()
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
		evs = append(evs, &events.Event{ProjectID: 1, EventID: fmt.Sprintf("e%d", i), IssueID: 100 + int64(i%2), Timestamp: now.Add(time.Duration(i) * time.Second),
			Release: "app@1", Environment: "prod", Level: "fatal", Data: []byte(data)})
	}
	evs = append(evs, &events.Event{ProjectID: 1, EventID: "x", IssueID: 102, Timestamp: now, Release: "app@2", Data: []byte(`not json`)})
	put(t, e, evs...)

	match := func(f events.IssueFilter) []int64 {
		ids, err := e.MatchIssues(ctx, 1, f, 0)
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
		{events.IssueFilter{Environment: "prod", Tags: [][2]string{{"os", "windows"}}}, []int64{100, 101}},
		// Only e9 (issue 101) has gpu amd; conditions hold per issue.
		{events.IssueFilter{Tags: [][2]string{{"gpu", "amd"}, {"os", "linux"}}}, []int64{101}},
		{events.IssueFilter{Tags: [][2]string{{"gpu", "amd"}, {"os", "windows"}}}, []int64{101}},
		{events.IssueFilter{Tags: [][2]string{{"gpu", "amd"}, {"release", "app@2"}}}, nil},
	} {
		if got := match(c.f); !slices.Equal(got, c.want) {
			t.Errorf("MatchIssues(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
	if _, err := e.MatchIssues(ctx, 1, events.IssueFilter{}, 0); err == nil {
		t.Error("empty filter accepted")
	}

	total, counts, err := e.TagCounts(ctx, 1, 101, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Issue 101 holds e1, e3, e5, e7, e9: os windows once (e1), linux four times.
	if total != 5 || !slices.Contains(counts, events.TagCount{Key: "os", Value: "linux", Count: 4}) ||
		!slices.Contains(counts, events.TagCount{Key: "os", Value: "windows", Count: 1}) ||
		!slices.Contains(counts, events.TagCount{Key: "release", Value: "app@1", Count: 5}) {
		t.Errorf("TagCounts = %d %v", total, counts)
	}
	// Bounded to the newest events: the newest two of issue 101 are e9 and e7.
	total, counts, _ = e.TagCounts(ctx, 1, 101, 2)
	if total != 2 || !slices.Contains(counts, events.TagCount{Key: "gpu", Value: "amd", Count: 1}) {
		t.Errorf("TagCounts newest 2 = %d %v", total, counts)
	}

	n, err := e.DeleteIssueEvents(ctx, 1, []int64{101})
	if err != nil || n != 5 {
		t.Fatalf("DeleteIssueEvents = %d, %v", n, err)
	}
	if list, _, _ := e.ListByIssue(ctx, 101, 0, 10); len(list) != 0 {
		t.Errorf("%d events left", len(list))
	}
	if got := match(events.IssueFilter{Release: "app@1"}); !slices.Equal(got, []int64{100}) {
		t.Errorf("tags of deleted events still match: %v", got)
	}
	if n, err := e.DeleteIssueEvents(ctx, 2, []int64{100}); err != nil || n != 0 {
		t.Errorf("delete through another project: %d, %v", n, err)
	}
}

func TestSearchAndDeleteIssues(t *testing.T) {
	ctx := context.Background()
	m, err := sqlite.OpenMeta(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	o, _ := m.CreateOrg(ctx, meta.Organization{Slug: "o", Name: "O"})
	p, _ := m.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "p", Name: "P"})
	q, _ := m.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "q", Name: "Q"})
	now := time.Now().UTC()
	var ids []int64
	for i, rel := range []string{"a@1", "a@2", "a@2"} {
		is, err := m.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: p.ID, Hash: fmt.Sprint(i), Title: "t", Level: "error", Time: now}})
		if err != nil {
			t.Fatal(err)
		}
		env := "prod"
		if i == 2 {
			env = "staging"
		}
		if _, err := m.RecordOccurrences(ctx, []meta.Occurrence{{IssueID: is[0].ID, ProjectID: p.ID, EventID: fmt.Sprint(i), Time: now, Release: rel, Environment: env}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, is[0].ID)
	}
	search := func(s meta.IssueSearch) int {
		s.ProjectID = p.ID
		list, _, err := m.SearchIssues(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	if n := search(meta.IssueSearch{Release: "a@2"}); n != 2 {
		t.Errorf("release: %d", n)
	}
	if n := search(meta.IssueSearch{Environment: "staging"}); n != 1 {
		t.Errorf("environment: %d", n)
	}
	if n := search(meta.IssueSearch{IssueIDs: []int64{ids[0], ids[2], 99999}}); n != 2 {
		t.Errorf("ids: %d", n)
	}
	if n, err := m.DeleteIssues(ctx, q.ID, ids); err != nil || n != 0 {
		t.Errorf("delete through another project: %d %v", n, err)
	}
	if n, err := m.DeleteIssues(ctx, p.ID, ids[:2]); err != nil || n != 2 {
		t.Fatalf("DeleteIssues = %d, %v", n, err)
	}
	if _, err := m.Issue(ctx, ids[0]); err == nil {
		t.Error("deleted issue still found")
	}
	if n := search(meta.IssueSearch{}); n != 1 {
		t.Errorf("%d issues left, want 1", n)
	}
	// The hash is free again: the same kind of event opens a new issue.
	is, err := m.GroupIssues(ctx, []meta.GroupRequest{{ProjectID: p.ID, Hash: "0", Title: "t", Level: "error", Time: now}})
	if err != nil || is[0].ID == ids[0] {
		t.Errorf("regrouped into %v, %v", is, err)
	}
}
