package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/internal/testtools/chtest"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

// server is the test binary's ClickHouse, nil with serverErr set when it
// could not be started; serverMissing tells a missing binary from a failure.
var (
	server        *chtest.Server
	serverErr     error
	serverMissing bool
)

func TestMain(m *testing.M) {
	code := func() int {
		bin, args, ok := chtest.Find()
		if !ok {
			serverMissing = true
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "cairn-clickhouse-")
		if err != nil {
			serverErr = err
			return m.Run()
		}
		defer os.RemoveAll(dir)
		if server, serverErr = chtest.New(bin, args, dir); serverErr == nil {
			if serverErr = server.Start(); serverErr != nil {
				server = nil
			}
		}
		if server != nil {
			defer server.Stop()
		}
		return m.Run()
	}()
	os.Exit(code)
}

// needServer skips (fails under CI) without a server binary, and fails when
// the server would not start.
func needServer(t testing.TB) *chtest.Server {
	t.Helper()
	if serverMissing {
		testtools.Missing(t, "clickhouse-server", chtest.Install)
	}
	if server == nil {
		t.Fatalf("clickhouse-server: %v", serverErr)
	}
	return server
}

// newStore opens a store on a database of its own, dropped when the test
// ends.
func newStore(t testing.TB) *Store {
	t.Helper()
	srv := needServer(t)
	b := make([]byte, 6)
	rand.Read(b)
	ctx := context.Background()
	s, err := Open(ctx, Config{Addr: srv.Addr, Database: "t_" + hex.EncodeToString(b)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.conn.Exec(ctx, `DROP DATABASE IF EXISTS `+s.db); err != nil {
			t.Errorf("drop %s: %v", s.db, err)
		}
		s.Close()
	})
	return s
}

func TestEvents(t *testing.T) {
	storagetest.TestEvents(t, func(t *testing.T) events.Store { return newStore(t) })
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testEvent(project int64, id string, issue int64, at time.Time, user string) *events.Event {
	return &events.Event{ProjectID: project, EventID: id, IssueID: issue, Timestamp: at, ReceivedAt: at.Add(time.Second),
		Level: "error", Platform: "native", Release: "app@1", Environment: "prod", Title: "t", UserKey: user,
		Data: []byte(`{"event_id":"` + id + `"}`)}
}

// rawCount counts the rows of a table, duplicates included.
func rawCount(t *testing.T, s *Store, table string) uint64 {
	t.Helper()
	var n uint64
	if err := s.conn.QueryRow(context.Background(), `SELECT count() FROM `+s.db+`.`+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// assertVisibleOnce checks that every read path shows each of the n events
// of issue 1 exactly once.
func assertVisibleOnce(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	list, more, err := s.ListByIssue(ctx, 1, 0, n+10)
	if err != nil || more || len(list) != n {
		t.Fatalf("ListByIssue: %d events, more %v, %v; want %d", len(list), more, err, n)
	}
	seen := map[string]bool{}
	for i, ev := range list {
		if seen[ev.EventID] {
			t.Fatalf("ListByIssue shows %s twice", ev.EventID)
		}
		seen[ev.EventID] = true
		if i > 0 && ev.Timestamp.After(list[i-1].Timestamp) {
			t.Fatalf("ListByIssue not newest first at %d", i)
		}
	}
	// Pages must tile the list without repeats either.
	var paged []string
	for off := 0; ; off += 7 {
		page, more, err := s.ListByIssue(ctx, 1, off, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page {
			paged = append(paged, ev.EventID)
		}
		if !more {
			break
		}
	}
	if len(paged) != n {
		t.Fatalf("paging yields %d events, want %d", len(paged), n)
	}
	if c, err := s.IssueEventCount(ctx, 1, 1); err != nil || c != int64(n) {
		t.Fatalf("IssueEventCount = %d, %v; want %d", c, err, n)
	}
	buckets, err := s.CountsByInterval(ctx, 1, 1, t0, t0.Add(24*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, b := range buckets {
		total += b.Events
	}
	if total != int64(n) {
		t.Fatalf("CountsByInterval counts %d events, want %d", total, n)
	}
	facets, err := s.TagFacets(ctx, 1, 1, 5)
	if err != nil || len(facets) == 0 || facets[0].Key != "level" || facets[0].Values[0].Count != int64(n) {
		t.Fatalf("TagFacets = %+v, %v", facets, err)
	}
}

func TestRepeatedBatch(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var batch []*events.Event
	for i := range 100 {
		batch = append(batch, testEvent(1, fmt.Sprintf("%032x", i), 1, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("u%d", i%10)))
	}
	// A repeat inside the batch is stored once.
	res, err := s.Put(ctx, append(slices.Clone(batch), batch[0]))
	if err != nil {
		t.Fatal(err)
	}
	users := 0
	for i, r := range res[:100] {
		if !r.Inserted {
			t.Fatalf("first Put: event %d not inserted", i)
		}
		if r.NewUser {
			users++
		}
	}
	if users != 10 || res[100].Inserted || res[100].NewUser {
		t.Fatalf("first Put: %d new users, repeat %+v", users, res[100])
	}
	for range 3 {
		res, err := s.Put(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Inserted || r.NewUser {
				t.Fatalf("repeated Put: event %d = %+v", i, r)
			}
		}
	}
	if n := rawCount(t, s, "events"); n != 100 {
		t.Fatalf("%d rows stored, want 100", n)
	}
	assertVisibleOnce(t, s, 100)
}

// TestConcurrentWriters has two writers store the same events at once, then
// forces the race both can lose (each checked before the other inserted) by
// inserting a copy past the existence check. Reads must show each event
// once; a merge must remove the copies.
func TestConcurrentWriters(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const n = 500
	var batch []*events.Event
	for i := range n {
		ev := testEvent(1, fmt.Sprintf("%032x", i), 1, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("u%d", i%7))
		ev.Data = []byte(`{"tags":{"os":"linux"}}`)
		batch = append(batch, ev)
	}
	other, err := Open(ctx, Config{Addr: server.Addr, Database: strings.Trim(s.db, "`")})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w, st := range []*Store{s, other} {
		wg.Go(func() {
			for i := 0; i < n; i += 50 {
				if _, err := st.Put(ctx, batch[i:i+50]); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	assertVisibleOnce(t, s, n)

	// The lost race: rows inserted as if the existence check had run before
	// the other writer's insert.
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.db+`.events (project_id, event_id, issue_id, timestamp,
		received_at, level, platform, release, environment, title, user_key, tags.key, tags.value, data)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range batch {
		if err := b.Append(ev.ProjectID, ev.EventID, ev.IssueID, micros(ev.Timestamp), micros(ev.ReceivedAt), ev.Level,
			ev.Platform, ev.Release, ev.Environment, ev.Title, ev.UserKey, []string{"os"}, []string{"linux"}, ev.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if raw := rawCount(t, s, "events_by_issue"); raw <= n {
		t.Fatalf("%d rows: the duplicates were not written", raw)
	}
	assertVisibleOnce(t, s, n)
	facets, err := s.TagFacets(ctx, 1, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	if os := facets[len(facets)-1]; os.Key != "os" || os.Values[0].Count != n {
		t.Fatalf("os facet = %+v, want %d", os, n)
	}
	ex, err := s.Exists(ctx, []events.Ref{{ProjectID: 1, EventID: batch[0].EventID}})
	if err != nil || len(ex) != 1 {
		t.Fatalf("Exists = %v, %v", ex, err)
	}
	if ev, err := s.Get(ctx, 1, batch[3].EventID); err != nil || ev.EventID != batch[3].EventID {
		t.Fatalf("Get = %+v, %v", ev, err)
	}

	for _, table := range []string{"events", "events_by_issue"} {
		if err := s.conn.Exec(ctx, `OPTIMIZE TABLE `+s.db+`.`+table+` FINAL`); err != nil {
			t.Fatal(err)
		}
		if raw := rawCount(t, s, table); raw != n {
			t.Fatalf("%s: %d rows after merge, want %d", table, raw, n)
		}
	}
}

func TestCountsByInterval(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const us = time.Microsecond
	evs := []*events.Event{
		testEvent(1, "before", 1, t0.Add(-us), "a"),           // before the range
		testEvent(1, "first", 1, t0, "a"),                     // bucket 0, its first instant
		testEvent(1, "edge-lo", 1, t0.Add(time.Hour-us), "b"), // bucket 0, its last instant
		testEvent(1, "edge-hi", 1, t0.Add(time.Hour), "a"),    // bucket 1
		testEvent(1, "anon", 1, t0.Add(time.Hour+us), ""),     // bucket 1, no user
		testEvent(1, "last", 1, t0.Add(4*time.Hour-us), "c"),  // bucket 3, last of the range
		testEvent(1, "end", 1, t0.Add(4*time.Hour), "c"),      // the range's end, excluded
		testEvent(2, "project2", 1, t0, "z"),                  // another project
		testEvent(1, "issue2", 2, t0, "z"),                    // another issue
	}
	if _, err := s.Put(ctx, evs); err != nil {
		t.Fatal(err)
	}
	got, err := s.CountsByInterval(ctx, 1, 1, t0, t0.Add(4*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []Bucket{
		{Start: t0, Events: 2, Users: 2},
		{Start: t0.Add(time.Hour), Events: 2, Users: 1},
		{Start: t0.Add(2 * time.Hour)},
		{Start: t0.Add(3 * time.Hour), Events: 1, Users: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CountsByInterval =\n%+v\nwant\n%+v", got, want)
	}

	// A range that is not a whole number of intervals ends with a short
	// bucket, cut at the range's end; "last" lies past it.
	got, err = s.CountsByInterval(ctx, 1, 1, t0.Add(30*time.Minute), t0.Add(90*time.Minute+us), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want = []Bucket{
		{Start: t0.Add(30 * time.Minute), Events: 3, Users: 2},
		{Start: t0.Add(90 * time.Minute)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("short last bucket: %+v, want %+v", got, want)
	}

	if got, err := s.CountsByInterval(ctx, 1, 1, t0, t0, time.Hour); err != nil || len(got) != 0 {
		t.Fatalf("empty range = %+v, %v", got, err)
	}
	if _, err := s.CountsByInterval(ctx, 1, 1, t0, t0.Add(time.Hour), 0); err == nil {
		t.Fatal("zero interval accepted")
	}
	if _, err := s.CountsByInterval(ctx, 1, 1, t0, t0.Add(24*time.Hour), time.Second); err == nil {
		t.Fatal("86400 buckets accepted")
	}
}

func TestTagFacets(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var evs []*events.Event
	add := func(level, release, data string) {
		ev := testEvent(1, fmt.Sprintf("e%d", len(evs)), 1, t0.Add(time.Duration(len(evs))*time.Second), "")
		ev.Level, ev.Release, ev.Data = level, release, []byte(data)
		evs = append(evs, ev)
	}
	add("error", "app@1", `{"tags":{"os":"linux","arch":"x86_64"}}`)
	add("error", "app@1", `{"tags":[["os","linux"],["arch","arm64"]]}`)
	add("error", "app@2", `{"tags":[["os","windows"],["level","error"]]}`)
	add("fatal", "", `{"tags":{"os":"macos","cpus":8}}`)
	add("warning", "app@3", `not json`)
	other := testEvent(1, "other", 2, t0, "")
	other.Data = []byte(`{"tags":{"os":"other"}}`)
	if _, err := s.Put(ctx, append(evs, other)); err != nil {
		t.Fatal(err)
	}
	got, err := s.TagFacets(ctx, 1, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Facet{
		// The "level" tag of e2 merges with its level: counted once.
		{Key: "level", Values: []FacetValue{{"error", 3}, {"fatal", 1}}},
		{Key: "release", Values: []FacetValue{{"app@1", 2}, {"app@2", 1}}},
		{Key: "environment", Values: []FacetValue{{"prod", 5}}},
		{Key: "platform", Values: []FacetValue{{"native", 5}}},
		{Key: "arch", Values: []FacetValue{{"arm64", 1}, {"x86_64", 1}}},
		{Key: "cpus", Values: []FacetValue{{"8", 1}}},
		{Key: "os", Values: []FacetValue{{"linux", 2}, {"macos", 1}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("TagFacets =\n%+v\nwant\n%+v", got, want)
	}
	if got, err := s.TagFacets(ctx, 1, 99, 2); err != nil || len(got) != 0 {
		t.Fatalf("facets of an empty issue = %+v, %v", got, err)
	}
}

func TestExtractTags(t *testing.T) {
	for _, tc := range []struct {
		data         string
		keys, values []string
	}{
		{`{"tags":{"b":"2","a":"1"}}`, []string{"a", "b"}, []string{"1", "2"}},
		{`{"tags":[["b","2"],["a","1"],["bad"],[1,"x"],["n",null]]}`, []string{"b", "a"}, []string{"2", "1"}},
		{`{"tags":{"n":1.5,"t":true,"z":null}}`, []string{"n", "t"}, []string{"1.5", "true"}},
		{`{"x":{"tags":"nested only"}}`, []string{}, []string{}},
		{`{"tags":"string"}`, []string{}, []string{}},
		{`garbage "tags"`, []string{}, []string{}},
		{``, []string{}, []string{}},
	} {
		keys, values := extractTags([]byte(tc.data))
		if !reflect.DeepEqual(keys, tc.keys) || !reflect.DeepEqual(values, tc.values) {
			t.Errorf("extractTags(%s) = %q, %q; want %q, %q", tc.data, keys, values, tc.keys, tc.values)
		}
	}
}

func TestOpenMigratesOnce(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	again, err := Open(ctx, Config{Addr: server.Addr, Database: strings.Trim(s.db, "`")})
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
	if n := rawCount(t, s, "schema_migrations"); n != uint64(len(migrations)) {
		t.Fatalf("%d migration records, want %d", n, len(migrations))
	}
	if _, err := Open(ctx, Config{Addr: server.Addr, Database: "x; DROP"}); err == nil {
		t.Fatal("invalid database name accepted")
	}
}

// TestReconnect restarts the server under an open store: the pooled
// connections die, and the next Put must succeed on a new one.
func TestReconnect(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Put(ctx, []*events.Event{testEvent(1, "before", 1, t0, "u")}); err != nil {
		t.Fatal(err)
	}
	server.Stop()
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	res, err := s.Put(ctx, []*events.Event{testEvent(1, "after", 1, t0.Add(time.Second), "u")})
	if err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
	if !res[0].Inserted || res[0].NewUser {
		t.Fatalf("Put after restart = %+v", res[0])
	}
	list, _, err := s.ListByIssue(ctx, 1, 0, 10)
	if err != nil || len(list) != 2 || list[0].EventID != "after" {
		t.Fatalf("ListByIssue after restart: %d events, %v", len(list), err)
	}
}

func BenchmarkPutBatch(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	const size = 10_000
	data := []byte(`{"tags":{"os":"linux","arch":"x86_64"},"exception":{"values":[{"type":"SIGSEGV"}]}}`)
	batch := make([]*events.Event, size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for j := range batch {
			ev := testEvent(1, fmt.Sprintf("%016x%016x", i, j), int64(j%100), t0.Add(time.Duration(j)*time.Millisecond), fmt.Sprintf("u%d", j%1000))
			ev.Data = data
			batch[j] = ev
		}
		b.StartTimer()
		if _, err := s.Put(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}

// bigStore is a store holding a million events of one issue over 24 hours,
// generated server-side, shared by the read benchmarks.
var bigStore = struct {
	sync.Mutex
	s *Store
}{}

const bigEvents = 1_000_000

func loadBig(b *testing.B) *Store {
	bigStore.Lock()
	defer bigStore.Unlock()
	if bigStore.s != nil {
		return bigStore.s
	}
	srv := needServer(b)
	ctx := context.Background()
	s, err := Open(ctx, Config{Addr: srv.Addr, Database: "bench_1m"})
	if err != nil {
		b.Fatal(err)
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, `SELECT count() FROM `+s.db+`.events`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n != bigEvents {
		start := time.Now()
		if err := s.conn.Exec(ctx, `TRUNCATE TABLE `+s.db+`.events`); err != nil {
			b.Fatal(err)
		}
		for _, tbl := range []string{"events_by_issue", "issue_users"} {
			if err := s.conn.Exec(ctx, `TRUNCATE TABLE `+s.db+`.`+tbl); err != nil {
				b.Fatal(err)
			}
		}
		// Events are 86.4 ms apart, so the million fills 24 hours; data
		// is ~600 bytes, the size of a small symbolicated event.
		pad := strings.Repeat("x", 500)
		if err := s.conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.events (project_id, event_id, issue_id, timestamp,
			received_at, level, platform, release, environment, title, user_key, tags.key, tags.value, data)
			SELECT 1, lower(hex(MD5(toString(number)))), 1, %d + number * 86400, %d + number * 86400 + 1000000,
				['error', 'warning', 'fatal'][number %% 3 + 1], 'native', concat('app@', toString(number %% 20)),
				if(number %% 10 = 0, 'staging', 'prod'), 'SIGSEGV in crash()', concat('user', toString(number %% 10000)),
				['os', 'arch'], [concat('os', toString(number %% 5)), 'x86_64'],
				concat('{"event_id":"', lower(hex(MD5(toString(number)))), '","pad":"%s"}')
			FROM system.numbers LIMIT %d`, s.db, micros(t0), micros(t0), pad, bigEvents)); err != nil {
			b.Fatal(err)
		}
		b.Logf("loaded %d events in %v", bigEvents, time.Since(start))
	}
	bigStore.s = s
	return s
}

// reportP95 reports the 95th percentile of the recorded latencies.
func reportP95(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}

func BenchmarkListByIssue(b *testing.B) {
	s := loadBig(b)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		evs, more, err := s.ListByIssue(ctx, 1, (i%5)*50, 50)
		if err != nil || len(evs) != 50 || !more {
			b.Fatalf("ListByIssue: %d events, %v", len(evs), err)
		}
		lat = append(lat, time.Since(start))
	}
	reportP95(b, lat)
}

func BenchmarkCountsByInterval(b *testing.B) {
	s := loadBig(b)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		buckets, err := s.CountsByInterval(ctx, 1, 1, t0, t0.Add(24*time.Hour), time.Hour)
		if err != nil || len(buckets) != 24 || buckets[0].Events == 0 {
			b.Fatalf("CountsByInterval: %d buckets, %v", len(buckets), err)
		}
		lat = append(lat, time.Since(start))
	}
	reportP95(b, lat)
}

// The web interface finds the histogram through the events package's
// optional interface.
var _ events.Histogrammer = (*Store)(nil)
