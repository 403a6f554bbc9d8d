package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/postgres"
	"github.com/cairn-dev/cairn/storage/queue"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

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

func opts(t *testing.T) postgres.Options {
	return postgres.Options{Schema: schema(t), MaxConns: 8}
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
	storagetest.TestMeta(t, func(t *testing.T) meta.Store {
		m, err := postgres.OpenMeta(context.Background(), dsn(), opts(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	})
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
	o := opts(t)
	var stores []*postgres.Meta
	for range 4 {
		m, err := postgres.OpenMeta(ctx, dsn(), o)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
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
	storagetest.TestDebugFiles(t, func(t *testing.T) storagetest.DebugFileStore {
		m, err := postgres.OpenMeta(context.Background(), dsn(), opts(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	})
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
	storagetest.TestAccounts(t, func(t *testing.T) storagetest.AccountsStore {
		m, err := postgres.OpenMeta(context.Background(), dsn(), opts(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	})
}
