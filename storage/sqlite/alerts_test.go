package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

func TestAlertsConformance(t *testing.T) {
	storagetest.TestAlerts(t, func(t *testing.T) storagetest.AlertStore {
		m, err := sqlite.OpenMeta(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	})
}
