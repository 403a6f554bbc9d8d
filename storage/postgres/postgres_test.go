package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/notify"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/postgres"
	"github.com/cairn-dev/cairn/storage/queue"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

// The production roles turn notifications on by this assertion
// (cmd/cairn/roles.go).
var _ notify.Store = (*postgres.Meta)(nil)

// dsn is the test server; CAIRN_TEST_POSTGRES overrides it.
func dsn() string {
	if v := os.Getenv("CAIRN_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

const startCommand = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

var serverUp = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ping := func() error {
		c, err := pgx.Connect(ctx, dsn())
		if err != nil {
			return err
		}
		return c.Close(ctx)
	}
	err := ping()
	if err == nil || os.Getenv("CAIRN_TEST_POSTGRES") != "" {
		return err
	}
	if _, lerr := exec.LookPath("pg_ctlcluster"); lerr != nil {
		return err
	}
	_ = exec.CommandContext(ctx, "sh", "-c", startCommand).Run()
	for ctx.Err() == nil {
		if err = ping(); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
})

// schema returns a fresh schema name for one test and drops the schema
// when the test ends.
func schema(t *testing.T) string {
	t.Helper()
	if err := serverUp(); err != nil {
		testtools.Missing(t, "PostgreSQL at 127.0.0.1:5432 ("+err.Error()+")", startCommand)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, dsn())
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA IF EXISTS `+name+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// openMeta opens the metadata store in the test's own schema, closed
// when the test ends.
func openMeta(t *testing.T) *postgres.Meta {
	t.Helper()
	m, err := postgres.OpenMeta(context.Background(), dsn(), opts(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func opts(t *testing.T) postgres.Options {
	return postgres.Options{Schema: schema(t), MaxConns: 8}
}

// withProject opens n metadata stores on one schema, as n processes
// would, closed when the test ends, and creates organization "o" with
// project "p" through the first.
func withProject(t *testing.T, o postgres.Options, n int) ([]*postgres.Meta, meta.Project) {
	t.Helper()
	ctx := context.Background()
	var stores []*postgres.Meta
	for range n {
		m, err := postgres.OpenMeta(ctx, dsn(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		stores = append(stores, m)
	}
	org, err := stores[0].CreateOrg(ctx, meta.Organization{Slug: "o", Name: "O"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := stores[0].CreateProject(ctx, meta.Project{OrgID: org.ID, Slug: "p", Name: "P"})
	if err != nil {
		t.Fatal(err)
	}
	return stores, p
}

func TestQueueConformance(t *testing.T) {
	storagetest.TestQueue(t, func(t *testing.T, o queue.Options) queue.Queue {
		q, err := postgres.OpenQueue(context.Background(), dsn(), opts(t), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		return q
	})
}

func TestMetaConformance(t *testing.T) {
	storagetest.TestMeta(t, func(t *testing.T) meta.Store { return openMeta(t) })
}

func TestEventsConformance(t *testing.T) {
	storagetest.TestEvents(t, func(t *testing.T) events.Store {
		e, err := postgres.OpenEvents(context.Background(), dsn(), opts(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	})
}

// Opening an already migrated schema keeps its data.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	o := opts(t)
	m, err := postgres.OpenMeta(ctx, dsn(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateOrg(ctx, meta.Organization{Slug: "a", Name: "A"}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m, err = postgres.OpenMeta(ctx, dsn(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.OrgBySlug(ctx, "a"); err != nil {
		t.Fatal(err)
	}
}

// Workers in separate processes group the same hash and record events of
// the same issue at once: one issue is created and no count is lost.
func TestConcurrentGrouping(t *testing.T) {
	ctx := context.Background()
	stores, p := withProject(t, opts(t), 4)
	at := time.Now().UTC()
	var wg sync.WaitGroup
	ids := make(chan int64, 4*25)
	for w, s := range stores {
		wg.Go(func() {
			for i := range 25 {
				// Both hashes in opposite orders: lock ordering must keep
				// the batches from deadlocking.
				reqs := []meta.GroupRequest{
					{ProjectID: p.ID, Hash: "h1", Type: "error", Title: "t", Time: at},
					{ProjectID: p.ID, Hash: "h2", Type: "error", Title: "t", Time: at},
				}
				if w%2 == 1 {
					reqs[0], reqs[1] = reqs[1], reqs[0]
				}
				got, err := s.GroupIssues(ctx, reqs)
				if err != nil {
					t.Error(err)
					return
				}
				var occs []meta.Occurrence
				for _, is := range got {
					occs = append(occs, meta.Occurrence{IssueID: is.ID, ProjectID: p.ID,
						EventID: strings.Repeat("0", 20) + hex.EncodeToString([]byte{byte(w), byte(i), byte(is.ID)}) + "000000", Time: at})
				}
				if _, err := s.RecordOccurrences(ctx, occs); err != nil {
					t.Error(err)
					return
				}
				ids <- got[0].ID
			}
		})
	}
	wg.Wait()
	close(ids)
	distinct := map[int64]bool{}
	for id := range ids {
		distinct[id] = true
	}
	if len(distinct) != 2 {
		t.Fatalf("%d issues for 2 hashes", len(distinct))
	}
	for id := range distinct {
		is, err := stores[0].Issue(ctx, id)
		if err != nil || is.TimesSeen != 100 {
			t.Errorf("issue %d: times seen %d, %v; want 100", id, is.TimesSeen, err)
		}
	}
}

func TestDebugFilesConformance(t *testing.T) {
	storagetest.TestDebugFiles(t, func(t *testing.T) storagetest.DebugFileStore { return openMeta(t) })
}

func BenchmarkQueueEnqueueLeaseAck(b *testing.B) {
	ctx := context.Background()
	if err := serverUp(); err != nil {
		b.Skip("PostgreSQL down: " + err.Error())
	}
	name := "b_" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "_")
	q, err := postgres.OpenQueue(ctx, dsn(), postgres.Options{Schema: name}, queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		q.Close()
		if c, err := pgx.Connect(ctx, dsn()); err == nil {
			c.Exec(ctx, `DROP SCHEMA `+name+` CASCADE`)
			c.Close(ctx)
		}
	}()
	batch := make([]queue.Message, 100)
	for i := range batch {
		batch[i] = queue.Message{Key: strings.Repeat("a", 32), Body: make([]byte, 2048)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := q.Enqueue(ctx, batch); err != nil {
			b.Fatal(err)
		}
		for n := 0; n < len(batch); {
			ds, err := q.Lease(ctx, len(batch)-n, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if err := q.Ack(ctx, ds); err != nil {
				b.Fatal(err)
			}
			n += len(ds)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "msgs/s")
}

func TestAccountsConformance(t *testing.T) {
	storagetest.TestAccounts(t, func(t *testing.T) storagetest.AccountsStore { return openMeta(t) })
}

func TestAlertsConformance(t *testing.T) {
	storagetest.TestAlerts(t, func(t *testing.T) storagetest.AlertStore { return openMeta(t) })
}

func TestHealthConformance(t *testing.T) {
	storagetest.TestHealth(t, func(t *testing.T) storagetest.HealthStore { return openMeta(t) })
}

// The notifier's new-issue trigger reads Recorded.New: only the call that
// records an issue's first occurrences reports it, with how many it
// recorded; redelivered events report nothing.
func TestRecordedNew(t *testing.T) {
	ctx := context.Background()
	stores, p := withProject(t, opts(t), 1)
	m := stores[0]
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	iss, err := m.GroupIssues(ctx, []meta.GroupRequest{
		{ProjectID: p.ID, Hash: "a", Type: "error", Title: "A", Time: at},
		{ProjectID: p.ID, Hash: "b", Type: "error", Title: "B", Time: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := iss[0].ID, iss[1].ID
	occ := func(issue int64, n int) meta.Occurrence {
		return meta.Occurrence{IssueID: issue, ProjectID: p.ID, EventID: strings.Repeat("0", 30) + hex.EncodeToString([]byte{byte(n)}), Time: at}
	}
	byIssue := func(rec []meta.Recorded) map[int64]meta.Recorded {
		out := map[int64]meta.Recorded{}
		for _, r := range rec {
			out[r.IssueID] = r
		}
		return out
	}

	rec, err := m.RecordOccurrences(ctx, []meta.Occurrence{occ(a, 1), occ(a, 2), occ(a, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if got := byIssue(rec); len(rec) != 1 || !got[a].New || got[a].Count != 2 {
		t.Fatalf("first occurrences of A: %+v; want New, Count 2", rec)
	}
	rec, err = m.RecordOccurrences(ctx, []meta.Occurrence{occ(a, 2), occ(a, 3), occ(b, 4)})
	if err != nil {
		t.Fatal(err)
	}
	got := byIssue(rec)
	if len(rec) != 2 || got[a].New || got[a].Count != 1 || !got[b].New || got[b].Count != 1 {
		t.Fatalf("second batch: %+v; want A not new with 1, B new with 1", rec)
	}
	rec, err = m.RecordOccurrences(ctx, []meta.Occurrence{occ(a, 1), occ(b, 4)})
	if err != nil || len(rec) != 0 {
		t.Fatalf("redelivery recorded %+v, %v; want nothing", rec, err)
	}
}

// Senders in separate processes claim the outbox at once: every delivery
// is claimed by exactly one of them.
func TestConcurrentClaim(t *testing.T) {
	ctx := context.Background()
	stores, p := withProject(t, opts(t), 4)
	now := time.Now().UTC()
	const n = 300
	var ds []meta.Delivery
	for i := range n {
		ds = append(ds, meta.Delivery{RuleID: 1, ProjectID: p.ID, IssueID: int64(i), Key: "d" + strings.Repeat("x", i%7) + hex.EncodeToString([]byte{byte(i >> 8), byte(i)}),
			Trigger: meta.TriggerNewIssue, Action: meta.AlertAction{Type: meta.ActionSlack}, NextAttempt: now.Add(-time.Duration(i) * time.Millisecond)})
	}
	if added, err := stores[0].EnqueueDeliveries(ctx, ds); err != nil || len(added) != n {
		t.Fatalf("enqueue: %d added, %v", len(added), err)
	}
	var mu sync.Mutex
	claimedBy := map[int64]int{}
	var wg sync.WaitGroup
	for w, s := range stores {
		for range 2 {
			wg.Go(func() {
				for {
					got, err := s.ClaimDeliveries(ctx, now, 7, time.Hour)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, d := range got {
						if prev, ok := claimedBy[d.ID]; ok {
							t.Errorf("delivery %d claimed by %d and %d", d.ID, prev, w)
						}
						claimedBy[d.ID] = w
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(claimedBy) != n {
		t.Fatalf("%d of %d deliveries claimed", len(claimedBy), n)
	}
	if more, err := stores[0].ClaimDeliveries(ctx, now.Add(time.Minute), 10, time.Hour); err != nil || len(more) != 0 {
		t.Fatalf("claimed again within the lease: %d, %v", len(more), err)
	}
	if more, err := stores[0].ClaimDeliveries(ctx, now.Add(2*time.Hour), n, time.Hour); err != nil || len(more) != n {
		t.Fatalf("after the lease: %d claimed, %v; want %d", len(more), err, n)
	}
}

// Workers recording updates of the same sessions at once count each
// session errored and crashed once, and lose no started session.
func TestConcurrentSessions(t *testing.T) {
	ctx := context.Background()
	stores, p := withProject(t, opts(t), 4)
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	const sessions = 10
	up := func(sid string, init bool, st meta.SessionStatus, errs int64) meta.SessionUpdate {
		return meta.SessionUpdate{Release: "app@1", Environment: "production", Started: t0, DistinctID: "u-" + sid,
			SessionID: sid, Init: init, Status: st, Errors: errs}
	}
	var inits []meta.SessionItem
	for i := range sessions {
		sid := fmt.Sprintf("s%d", i)
		inits = append(inits, meta.SessionItem{ProjectID: p.ID, ItemID: "init-" + sid, Updates: []meta.SessionUpdate{up(sid, true, meta.SessionOk, 0)}})
	}
	if err := stores[0].RecordSessions(ctx, inits); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w, s := range stores {
		wg.Go(func() {
			for r := range 5 {
				// Each worker reports errors of every session, then a crash,
				// in its own order of sessions.
				var items []meta.SessionItem
				for i := range sessions {
					sid := fmt.Sprintf("s%d", (i*(w+1)+r)%sessions)
					st, errs := meta.SessionOk, int64(1)
					if r == 4 {
						st = meta.SessionCrashed
					}
					items = append(items, meta.SessionItem{ProjectID: p.ID, ItemID: fmt.Sprintf("w%d-r%d-%s", w, r, sid),
						Updates: []meta.SessionUpdate{up(sid, false, st, errs)}})
				}
				if err := s.RecordSessions(ctx, items); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	_, totals, err := stores[0].QuerySessions(ctx, meta.SessionQuery{ProjectIDs: []int64{p.ID}, Start: t0, End: t0.Add(time.Hour), Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	want := meta.SessionCounts{Started: sessions, Errored: sessions, Crashed: sessions, Users: sessions, CrashedUsers: sessions}
	if len(totals) != 1 || totals[0] != want {
		t.Fatalf("totals %+v, want %+v", totals, want)
	}
}
