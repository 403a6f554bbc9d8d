package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

func TestIssueEventsConformance(t *testing.T) {
	storagetest.TestIssueEvents(t, func(t *testing.T) storagetest.IssueEventsStore {
		e, err := sqlite.OpenEvents(context.Background(), filepath.Join(t.TempDir(), "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	})
}

func TestIssueDeleteConformance(t *testing.T) {
	storagetest.TestIssueDelete(t, func(t *testing.T) storagetest.IssueMetaStore {
		m, err := sqlite.OpenMeta(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	})
}
