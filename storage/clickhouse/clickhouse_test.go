package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
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
	raw := make([]Bucket, len(buckets))
	for i := range raw {
		raw[i].Start = buckets[i].Start
	}
	if err := s.countsRaw(ctx, map[int64][]Bucket{1: raw}, 1, "1", micros(t0), micros(t0.Add(24*time.Hour)), hourMicros); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(buckets, raw) {
		t.Fatalf("aggregated counts\n%+v\ndiffer from the raw rows'\n%+v", buckets, raw)
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
	insertCopies(t, s, batch)
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
		optimize(t, s, table)
		if raw := rawCount(t, s, table); raw != n {
			t.Fatalf("%s: %d rows after merge, want %d", table, raw, n)
		}
	}
	// Merging the aggregates combines the copies' states but keeps their
	// rows counted: the minutes must still be caught as holding duplicates.
	for _, table := range []string{"issue_minutes", "issue_hours"} {
		optimize(t, s, table)
	}
	assertVisibleOnce(t, s, n)
}

// insertCopies inserts evs into events bypassing Put, as a writer that lost
// the race between the existence check and the insert would.
// optimize merges a table's parts now, as the background merges held by
// insertCopies would have.
func optimize(t *testing.T, s *Store, table string) {
	t.Helper()
	ctx := context.Background()
	if err := s.conn.Exec(ctx, `SYSTEM START MERGES `+s.db+`.`+table); err != nil {
		t.Fatalf("start merges on %s: %v", table, err)
	}
	if err := s.conn.Exec(ctx, `OPTIMIZE TABLE `+s.db+`.`+table+` FINAL`); err != nil {
		t.Fatal(err)
	}
}

func insertCopies(t *testing.T, s *Store, evs []*events.Event) {
	t.Helper()
	ctx := context.Background()
	// Background merges would collapse the copies at any moment; hold
	// them so the test sees the duplicates it wrote (OPTIMIZE still merges
	// when a test asks for it).
	for _, table := range []string{"events", "events_by_issue", "issue_users", "issue_minutes", "issue_hours"} {
		if err := s.conn.Exec(ctx, `SYSTEM STOP MERGES `+s.db+`.`+table); err != nil {
			t.Fatalf("stop merges on %s: %v", table, err)
		}
	}
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.db+`.events (project_id, event_id, issue_id, timestamp,
		received_at, level, platform, release, environment, title, user_key, tags.key, tags.value, data)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		keys, values := extractTags(ev.Data)
		if err := b.Append(ev.ProjectID, ev.EventID, ev.IssueID, micros(ev.Timestamp), micros(ev.ReceivedAt), ev.Level,
			ev.Platform, ev.Release, ev.Environment, ev.Title, ev.UserKey, keys, values, ev.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
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

	if got, err := s.CountsByInterval(ctx, 1, 1, t0, t0, time.Hour); err == nil {
		t.Fatalf("empty range accepted: %+v", got)
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
		for _, tbl := range []string{"events_by_issue", "issue_users", "issue_minutes", "issue_hours"} {
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
	// The load leaves the server merging parts for a while; timing reads
	// during that would measure the merges.
	waitMerges(b, s)
	bigStore.s = s
	return s
}

// waitMerges waits until the server runs no merge on the store's tables.
func waitMerges(b *testing.B, s *Store) {
	ctx := context.Background()
	db := strings.Trim(s.db, "`")
	start := time.Now()
	for time.Since(start) < 5*time.Minute {
		var n uint64
		if err := s.conn.QueryRow(ctx, `SELECT count() FROM system.merges WHERE database = ?`, db).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Logf("merges done after %v", time.Since(start))
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.Log("merges still running after 5 minutes")
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

// wantCounts is the oracle of CountsByInterval: the distinct events and
// users of project 1, issue 1 per interval, computed here.
func wantCounts(evs []*events.Event, from, to time.Time, interval time.Duration) []Bucket {
	lo, hi, step := micros(from), micros(to), interval.Microseconds()
	n := (hi - lo + step - 1) / step
	out := make([]Bucket, n)
	seen := make([]map[string]bool, n)
	users := make([]map[string]bool, n)
	for i := range out {
		out[i].Start = fromMicros(lo + int64(i)*step)
		seen[i], users[i] = map[string]bool{}, map[string]bool{}
	}
	for _, ev := range evs {
		ts := micros(ev.Timestamp)
		if ev.ProjectID != 1 || ev.IssueID != 1 || ts < lo || ts >= hi {
			continue
		}
		b := (ts - lo) / step
		if !seen[b][ev.EventID] {
			seen[b][ev.EventID] = true
			out[b].Events++
		}
		if ev.UserKey != "" && !users[b][ev.UserKey] {
			users[b][ev.UserKey] = true
			out[b].Users++
		}
	}
	return out
}

// histogramEvents are spread over five hours, bunched at minute and hour
// edges, with users repeating within and across hours, anonymous events,
// and events of other projects and issues.
func histogramEvents() []*events.Event {
	var evs []*events.Event
	const us = time.Microsecond
	for i := range 300 {
		at := t0.Add(time.Duration(i) * time.Minute)
		switch i % 3 {
		case 1:
			at = at.Add(-us) // the last instant of the minute before
		case 2:
			at = at.Add(time.Duration(i) * time.Second % time.Minute)
		}
		user := fmt.Sprintf("u%d", i%23)
		if i%11 == 0 {
			user = ""
		}
		evs = append(evs, testEvent(1, fmt.Sprintf("h%04d", i), 1, at, user))
	}
	evs = append(evs, testEvent(2, "h0000", 1, t0, "other-project"), testEvent(1, "other-issue", 2, t0, "x"))
	return evs
}

func TestCountsAggregated(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	evs := histogramEvents()
	if _, err := s.Put(ctx, evs); err != nil {
		t.Fatal(err)
	}
	check := func(stage string) {
		t.Helper()
		for _, tc := range []struct {
			from, to time.Time
			interval time.Duration
			agg      bool
		}{
			{t0, t0.Add(5 * time.Hour), time.Hour, true},
			{t0.Add(-time.Hour), t0.Add(5 * time.Hour), 2 * time.Hour, true}, // short last bucket
			{t0, t0.Add(24 * time.Hour), 24 * time.Hour, true},
			{t0, t0.Add(5 * time.Hour), 30 * time.Minute, false},                // finer than an hour
			{t0.Add(30 * time.Minute), t0.Add(5 * time.Hour), time.Hour, false}, // from off the hour
			{t0, t0.Add(5*time.Hour + time.Microsecond), time.Hour, false},      // to off the hour
			{t0, t0.Add(5 * time.Hour), 90 * time.Minute, false},                // not whole hours
		} {
			lo, hi, step := micros(tc.from), micros(tc.to), tc.interval.Microseconds()
			if got := aggregable(lo, hi, step); got != tc.agg {
				t.Fatalf("aggregable(%v, %v, %v) = %v", tc.from, tc.to, tc.interval, got)
			}
			got, err := s.CountsByInterval(ctx, 1, 1, tc.from, tc.to, tc.interval)
			if err != nil {
				t.Fatal(err)
			}
			if want := wantCounts(evs, tc.from, tc.to, tc.interval); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: CountsByInterval(%v, %v, %v) =\n%+v\nwant\n%+v", stage, tc.from, tc.to, tc.interval,
					got, want)
			}
			// Many issues at once count each as alone, suspect minutes
			// included.
			other, err := s.CountsByInterval(ctx, 1, 2, tc.from, tc.to, tc.interval)
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.CountsByIssue(ctx, 1, []int64{2, 1, 3}, tc.from, tc.to, tc.interval)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m[1], got) || !reflect.DeepEqual(m[2], other) || len(m[3]) != len(got) {
				t.Fatalf("%s: CountsByIssue(%v, %v, %v) =\n%+v\nwant issue 1\n%+v\nissue 2\n%+v", stage, tc.from, tc.to,
					tc.interval, m, got, other)
			}
		}
	}
	check("distinct")
	// Copies of some events, as a lost race leaves them: their minutes
	// must be counted from the raw rows.
	insertCopies(t, s, []*events.Event{evs[0], evs[1], evs[150], evs[299]})
	check("copies")
	for _, table := range []string{"events", "events_by_issue", "issue_minutes", "issue_hours"} {
		optimize(t, s, table)
	}
	check("merged")
}

// TestCountsBeforeEpoch checks that buckets round down, not towards zero,
// for timestamps before 1970.
func TestCountsBeforeEpoch(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	epoch := time.Unix(0, 0).UTC()
	const us = time.Microsecond
	evs := []*events.Event{
		testEvent(1, "a", 1, epoch.Add(-time.Hour), "u1"),
		testEvent(1, "b", 1, epoch.Add(-us), "u2"),
		testEvent(1, "c", 1, epoch, "u3"),
		testEvent(1, "d", 1, epoch.Add(time.Hour-us), "u3"),
	}
	if _, err := s.Put(ctx, evs); err != nil {
		t.Fatal(err)
	}
	got, err := s.CountsByInterval(ctx, 1, 1, epoch.Add(-time.Hour), epoch.Add(time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := wantCounts(evs, epoch.Add(-time.Hour), epoch.Add(time.Hour), time.Hour); !reflect.DeepEqual(got, want) {
		t.Fatalf("CountsByInterval = %+v, want %+v", got, want)
	}
	list, more, err := s.ListByIssue(ctx, 1, 1, 2)
	if err != nil || !more || len(list) != 2 || list[0].EventID != "c" || list[1].EventID != "b" {
		t.Fatalf("ListByIssue = %d events, more %v, %v", len(list), more, err)
	}
}

// TestUsersErrorBound checks the documented bound of the aggregated user
// count where uniq samples: 100,000 distinct users in one hour.
func TestUsersErrorBound(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const n = 100_000
	if err := s.conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.events (project_id, event_id, issue_id, timestamp,
		received_at, level, platform, release, environment, title, user_key, tags.key, tags.value, data)
		SELECT 1, lower(hex(MD5(toString(number)))), 1, %d + number * 36000, %d, 'error', 'native', '', '', 't',
			concat('user', toString(number)), [], [], '{}'
		FROM system.numbers LIMIT %d`, s.db, micros(t0), micros(t0), n)); err != nil {
		t.Fatal(err)
	}
	got, err := s.CountsByInterval(ctx, 1, 1, t0, t0.Add(time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Events != n {
		t.Fatalf("%d events, want %d exactly", got[0].Events, n)
	}
	if u := got[0].Users; u < n*98/100 || u > n*102/100 {
		t.Fatalf("%d users, want %d within 2%%", u, n)
	}
	t.Logf("aggregated users %d of %d", got[0].Users, n)
}

// TestUsersExactBelowSampling checks that the aggregated user count agrees
// with the exact one below uniq's sampling threshold.
func TestUsersExactBelowSampling(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const n = 60_000
	if err := s.conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.events (project_id, event_id, issue_id, timestamp,
		received_at, level, platform, release, environment, title, user_key, tags.key, tags.value, data)
		SELECT 1, lower(hex(MD5(toString(number)))), 1, %d + number * 60000, %d, 'error', 'native', '', '', 't',
			concat('user', toString(number %% %d)), [], [], '{}'
		FROM system.numbers LIMIT %d`, s.db, micros(t0), micros(t0), n, n)); err != nil {
		t.Fatal(err)
	}
	got, err := s.CountsByInterval(ctx, 1, 1, t0, t0.Add(time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Events != n || got[0].Users < n-1 || got[0].Users > n {
		t.Fatalf("bucket = %+v, want %d events and users (users may lose one to a collision)", got[0], n)
	}
}

// TestBackfill opens a database as schema version 1 left it, with events
// and an unmerged copy, and checks that the upgrade fills the aggregates.
func TestBackfill(t *testing.T) {
	srv := needServer(t)
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	cfg := Config{Addr: srv.Addr, Database: "t_" + hex.EncodeToString(b)}
	old, err := open(ctx, cfg, migrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := old.conn.Exec(ctx, `DROP DATABASE IF EXISTS `+old.db); err != nil {
			t.Errorf("drop %s: %v", old.db, err)
		}
		old.Close()
	})
	evs := histogramEvents()
	if _, err := old.Put(ctx, evs); err != nil {
		t.Fatal(err)
	}
	insertCopies(t, old, evs[:3])
	var tables uint64
	if err := old.conn.QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = ? AND name = 'issue_minutes'`,
		cfg.Database).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("version 1 has issue_minutes (%d, %v)", tables, err)
	}

	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := rawCount(t, s, "schema_migrations"); n != uint64(len(migrations)) {
		t.Fatalf("%d migration records, want %d", n, len(migrations))
	}
	if rawCount(t, s, "issue_minutes") == 0 || rawCount(t, s, "issue_hours") == 0 {
		t.Fatal("aggregates not backfilled")
	}
	from, to := t0.Add(-time.Hour), t0.Add(6*time.Hour)
	got, err := s.CountsByInterval(ctx, 1, 1, from, to, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := wantCounts(evs, from, to, time.Hour); !reflect.DeepEqual(got, want) {
		t.Fatalf("after backfill =\n%+v\nwant\n%+v", got, want)
	}
	// Events stored after the upgrade reach the aggregates through the views.
	late := testEvent(1, "late", 1, t0.Add(5*time.Hour+time.Minute), "new-user")
	if _, err := s.Put(ctx, []*events.Event{late}); err != nil {
		t.Fatal(err)
	}
	evs = append(evs, late)
	got, err = s.CountsByInterval(ctx, 1, 1, from, to, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := wantCounts(evs, from, to, time.Hour); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a later Put =\n%+v\nwant\n%+v", got, want)
	}
	checkList(t, s, evs)
}

// checkList compares every page of issue 1's list, at several page sizes
// and offsets, with the oracle order: newest first, then event id and
// project descending, each event once.
func checkList(t *testing.T, s *Store, evs []*events.Event) {
	t.Helper()
	ctx := context.Background()
	byRef := map[events.Ref]*events.Event{}
	for _, ev := range evs {
		if ev.IssueID == 1 {
			byRef[events.Ref{ProjectID: ev.ProjectID, EventID: ev.EventID}] = ev
		}
	}
	var want []*events.Event
	for _, ev := range byRef {
		want = append(want, ev)
	}
	slices.SortFunc(want, func(a, b *events.Event) int {
		if c := b.Timestamp.Compare(a.Timestamp); c != 0 {
			return c
		}
		if c := strings.Compare(b.EventID, a.EventID); c != 0 {
			return c
		}
		return int(b.ProjectID - a.ProjectID)
	})
	for _, limit := range []int{2, 7, 50, len(want)} {
		for offset := 0; offset <= len(want)+1; offset += max(1, limit/2) {
			got, more, err := s.ListByIssue(ctx, 1, offset, limit)
			if err != nil {
				t.Fatal(err)
			}
			end := min(offset+limit, len(want))
			var ids, wantIDs []string
			for _, ev := range got {
				ids = append(ids, ev.EventID)
			}
			if offset < len(want) {
				for _, ev := range want[offset:end] {
					wantIDs = append(wantIDs, ev.EventID)
				}
			}
			if !slices.Equal(ids, wantIDs) || more != (offset+limit < len(want)) {
				t.Fatalf("ListByIssue(offset %d, limit %d) = %v, more %v; want %v, more %v", offset, limit, ids, more,
					wantIDs, offset+limit < len(want))
			}
		}
	}
}

// TestListWindows lists an issue whose events cluster at minute edges, share
// timestamps, spread over days (so the window walks back over several
// spans) and have unmerged copies (so windows come out short and widen).
func TestListWindows(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const us = time.Microsecond
	var evs []*events.Event
	add := func(id string, at time.Time) {
		evs = append(evs, testEvent(1, id, 1, at, "u"))
	}
	for m := range 6 {
		edge := t0.Add(time.Duration(m) * time.Minute)
		add(fmt.Sprintf("m%d-first", m), edge)
		add(fmt.Sprintf("m%d-last", m), edge.Add(-us))
		for k := range 5 {
			add(fmt.Sprintf("m%d-same%d", m, k), edge.Add(30*time.Second)) // one shared timestamp
		}
	}
	for d := range 40 {
		add(fmt.Sprintf("old%02d", d), t0.Add(-time.Duration(d+1)*37*time.Hour))
	}
	add("other-issue", t0.Add(time.Hour))
	evs[len(evs)-1].IssueID = 2
	if _, err := s.Put(ctx, evs); err != nil {
		t.Fatal(err)
	}
	checkList(t, s, evs)

	// Copies of the newest events make the counted rows outnumber the
	// events of the newest minutes.
	var newest []*events.Event
	for _, ev := range evs {
		if !ev.Timestamp.Before(t0.Add(4 * time.Minute)) {
			newest = append(newest, ev)
		}
	}
	insertCopies(t, s, newest)
	insertCopies(t, s, newest)
	checkList(t, s, evs)

	// windowStart points at the minute that completes the target, and at
	// the whole issue past it.
	for _, tc := range []struct {
		target int
		want   int64
	}{
		// The newest minute holds 6 events, the one before 7; the copies
		// triple their rows.
		{1, micros(t0.Add(5 * time.Minute))},
		{3 * 6, micros(t0.Add(5 * time.Minute))},
		{3*6 + 1, micros(t0.Add(4 * time.Minute))},
		{3 * (6 + 7), micros(t0.Add(4 * time.Minute))},
		{3*(6+7) + 1, micros(t0.Add(3 * time.Minute))},
		{1_000_000, math.MinInt64},
	} {
		if got, err := s.windowStart(ctx, 1, tc.target); err != nil || got != tc.want {
			t.Fatalf("windowStart(%d) = %d, %v; want %d", tc.target, got, err, tc.want)
		}
	}
}

func TestIssueEventsConformance(t *testing.T) {
	storagetest.TestIssueEvents(t, func(t *testing.T) storagetest.IssueEventsStore { return newStore(t) })
}
