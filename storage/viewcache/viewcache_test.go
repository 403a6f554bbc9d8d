package viewcache_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/memcache"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/storage/viewcache"
)

// onlyStore hides a store's optional views.
type onlyStore struct{ events.Store }

func TestViews(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.OpenEvents(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var evs []*events.Event
	for i := range 300 {
		evs = append(evs, &events.Event{ProjectID: 1, EventID: fmt.Sprintf("%032x", i+1), IssueID: int64(1 + i%3),
			Timestamp: base.Add(time.Duration(i) * 4 * time.Minute), ReceivedAt: base, Level: "error", Title: "t", UserKey: fmt.Sprint(i % 7), Data: []byte("{}")})
	}
	if _, err := db.Put(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var stats viewcache.Stats
	wrapped := viewcache.Wrap(db, viewcache.Options{Histograms: memcache.New(1000), Sparklines: memcache.New(1000), TTL: time.Minute, Stats: &stats})
	h, ok := wrapped.(events.Histogrammer)
	ih, ok2 := wrapped.(events.IssueHistogrammer)
	if !ok || !ok2 {
		t.Fatalf("the wrapped SQLite store lost its views: %T", wrapped)
	}
	from, to := base, base.Add(24*time.Hour)
	want, err := db.CountsByInterval(ctx, 1, 2, from, to, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got, err := h.CountsByInterval(ctx, 1, 2, from, to, time.Hour)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("cached histogram %v (%v), want %v", got, err, want)
		}
	}
	wantSpark, err := db.CountsByIssue(ctx, 1, []int64{1, 2, 3}, from, to, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]int64{{1, 2, 3}, {3, 2, 1}} {
		got, err := ih.CountsByIssue(ctx, 1, ids, from, to, time.Hour)
		if err != nil || !reflect.DeepEqual(got, wantSpark) {
			t.Fatalf("cached sparklines %v (%v), want %v", got, err, wantSpark)
		}
	}
	if h, m := stats.Hits.Load(), stats.Misses.Load(); h != 3 || m != 2 {
		t.Errorf("%d hits, %d misses; want 3 and 2", h, m)
	}
	// A store without views is returned as it is.
	if _, ok := viewcache.Wrap(onlyStore{db}, viewcache.Options{Histograms: memcache.New(10), TTL: time.Minute}).(events.Histogrammer); ok {
		t.Error("a store without histograms gained one")
	}
}

// histOnly answers histograms and nothing else optional.
type histOnly struct {
	events.Store
	events.Histogrammer
}

// The wrapped store answers what the store answers, passing the
// uncached calls on, and no more.
func TestOptionalInterfaces(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.OpenEvents(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	if _, err := db.Put(ctx, []*events.Event{{ProjectID: 1, EventID: "a", IssueID: 7, Timestamp: now, ReceivedAt: now,
		Release: "app@1", Data: []byte(`{"tags":{"os":"linux"}}`)}}); err != nil {
		t.Fatal(err)
	}
	o := viewcache.Options{Histograms: memcache.New(10), Sparklines: memcache.New(10), TTL: time.Minute}
	answers := func(s events.Store) []bool {
		_, h := events.Optional[events.Histogrammer](s)
		_, ih := events.Optional[events.IssueHistogrammer](s)
		_, tc := events.Optional[events.TagCounter](s)
		_, m := events.Optional[events.IssueMatcher](s)
		_, d := events.Optional[events.IssueEventsDeleter](s)
		return []bool{h, ih, tc, m, d}
	}
	for _, c := range []struct {
		name  string
		store events.Store
		want  []bool
	}{
		{"every view", db, []bool{true, true, true, true, true}},
		{"histograms only", histOnly{db, db}, []bool{true, false, false, false, false}},
	} {
		if got := answers(viewcache.Wrap(c.store, o)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: answered %v, want %v", c.name, got, c.want)
		}
	}
	w := viewcache.Wrap(db, o)
	tc, _ := events.Optional[events.TagCounter](w)
	if n, counts, err := tc.TagCounts(ctx, 1, 7, 0); err != nil || n != 1 || len(counts) != 2 {
		t.Errorf("TagCounts through the cache = %d %v, %v", n, counts, err)
	}
	m, _ := events.Optional[events.IssueMatcher](w)
	if ids, err := m.MatchIssues(ctx, 1, events.IssueFilter{Tags: [][2]string{{"os", "linux"}}}, 0); err != nil || !reflect.DeepEqual(ids, []int64{7}) {
		t.Errorf("MatchIssues through the cache = %v, %v", ids, err)
	}
	d, _ := events.Optional[events.IssueEventsDeleter](w)
	if n, err := d.DeleteIssueEvents(ctx, 1, []int64{7}); err != nil || n != 1 {
		t.Errorf("DeleteIssueEvents through the cache = %d, %v", n, err)
	}
	// Calls the store cannot answer fail as unsupported.
	h := viewcache.Wrap(histOnly{db, db}, o).(events.TagCounter)
	if _, _, err := h.TagCounts(ctx, 1, 7, 0); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("TagCounts of a store without them: %v", err)
	}
}
