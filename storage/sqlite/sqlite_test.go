package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/queue"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

func TestQueueConformance(t *testing.T) {
	storagetest.TestQueue(t, func(t *testing.T, o queue.Options) queue.Queue {
		q, err := sqlite.OpenQueue(context.Background(), filepath.Join(t.TempDir(), "queue.db"), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close() })
		return q
	})
}

func TestMetaConformance(t *testing.T) {
	storagetest.TestMeta(t, func(t *testing.T) meta.Store {
		m, err := sqlite.OpenMeta(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	})
}

func TestEventsConformance(t *testing.T) {
	storagetest.TestEvents(t, func(t *testing.T) events.Store {
		e, err := sqlite.OpenEvents(context.Background(), filepath.Join(t.TempDir(), "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	})
}

// Leases of a process that died are released by the next one.
func TestReleaseLeases(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "queue.db")
	q, err := sqlite.OpenQueue(ctx, path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q.Enqueue(ctx, []queue.Message{{Key: "a", Body: []byte("x")}, {Key: "b", Body: []byte("y")}})
	if ds, _ := q.Lease(ctx, 1, time.Hour); len(ds) != 1 {
		t.Fatal("no lease")
	}
	q.Close()
	q, err = sqlite.OpenQueue(ctx, path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if n, err := q.ReleaseLeases(ctx); n != 1 || err != nil {
		t.Fatalf("ReleaseLeases = %d, %v", n, err)
	}
	ds, _ := q.Lease(ctx, 10, time.Minute)
	if len(ds) != 2 {
		t.Fatalf("%d deliveries after release, want 2", len(ds))
	}
	for _, d := range ds {
		if d.Key == "a" && d.Attempt != 2 {
			t.Errorf("released message attempt %d, want 2", d.Attempt)
		}
	}
}

// Reopening a database keeps its data and does not re-run migrations.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	m, err := sqlite.OpenMeta(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateOrg(ctx, meta.Organization{Slug: "a", Name: "A"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m, err = sqlite.OpenMeta(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.OrgBySlug(ctx, "a"); err != nil {
		t.Fatal(err)
	}
}
