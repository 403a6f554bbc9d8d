package snuba_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/testtools/chtest"
	"github.com/cairn-dev/cairn/snuba"
	"github.com/cairn-dev/cairn/storage/clickhouse"
	"github.com/cairn-dev/cairn/storage/events"
	"github.com/cairn-dev/cairn/storage/memcache"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/storage/storagetest"
	"github.com/cairn-dev/cairn/storage/viewcache"
)

// dualPut stores every event in the web role's store and in the analytics
// store, as the workers and the snuba writers do together.
type dualPut struct {
	storagetest.IssueEventsStore
	analytics events.Store
}

func (d dualPut) Put(ctx context.Context, evs []*events.Event) ([]events.PutResult, error) {
	if _, err := d.analytics.Put(ctx, evs); err != nil {
		return nil, err
	}
	return d.IssueEventsStore.Put(ctx, evs)
}

// TestReaderConformance holds the web role's events store of the
// production topology, a primary store joined with ClickHouse, bare and
// behind the shared view cache, to the contract every backend meets.
func TestReaderConformance(t *testing.T) {
	ctx := context.Background()
	srv := chtest.Start(t)
	open := func(t *testing.T) (*sqlite.Events, *clickhouse.Store) {
		primary, err := sqlite.OpenEvents(ctx, filepath.Join(t.TempDir(), "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { primary.Close() })
		b := make([]byte, 6)
		rand.Read(b)
		ch, err := clickhouse.Open(ctx, clickhouse.Config{Addr: srv.Addr, Database: "reader_" + hex.EncodeToString(b)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ch.Close() })
		return primary, ch
	}
	t.Run("Reader", func(t *testing.T) {
		storagetest.TestIssueEvents(t, func(t *testing.T) storagetest.IssueEventsStore {
			primary, ch := open(t)
			return dualPut{snuba.Reader{Store: primary, Analytics: ch}, ch}
		})
	})
	t.Run("ViewCache", func(t *testing.T) {
		storagetest.TestIssueEvents(t, func(t *testing.T) storagetest.IssueEventsStore {
			primary, ch := open(t)
			w := viewcache.Wrap(snuba.Reader{Store: primary, Analytics: ch},
				viewcache.Options{Histograms: memcache.New(100), Sparklines: memcache.New(100), TTL: time.Minute})
			s, ok := w.(storagetest.IssueEventsStore)
			if !ok {
				t.Fatalf("the cached reader lost optional interfaces: %T", w)
			}
			return dualPut{s, ch}
		})
	})
}

// onlyStore hides a store's optional interfaces.
type onlyStore struct{ events.Store }

// A Reader implements every optional interface, but reports only those
// its stores answer.
func TestReaderOptional(t *testing.T) {
	db, err := sqlite.OpenEvents(context.Background(), filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		name string
		r    snuba.Reader
		want bool
	}{
		{"primary only", snuba.Reader{Store: db}, true},
		{"analytics answers", snuba.Reader{Store: onlyStore{db}, Analytics: db}, true},
		{"neither answers", snuba.Reader{Store: onlyStore{db}, Analytics: onlyStore{db}}, false},
	} {
		got := []bool{}
		_, ok := events.Optional[events.Histogrammer](c.r)
		got = append(got, ok)
		_, ok = events.Optional[events.IssueHistogrammer](c.r)
		got = append(got, ok)
		_, ok = events.Optional[events.TagCounter](c.r)
		got = append(got, ok)
		_, ok = events.Optional[events.IssueMatcher](c.r)
		got = append(got, ok)
		_, ok = events.Optional[events.IssueEventsDeleter](c.r)
		got = append(got, ok)
		for i, ok := range got {
			if ok != c.want {
				t.Errorf("%s: interface %d answered = %v, want %v", c.name, i, ok, c.want)
			}
		}
	}
	// Deleting needs the primary store: the analytics one alone would
	// leave the event bodies behind.
	if _, err := (snuba.Reader{Store: onlyStore{db}, Analytics: db}).DeleteIssueEvents(context.Background(), 1, []int64{1}); err == nil {
		t.Error("deleted without a primary store that deletes")
	}
}
