package fsblob_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.TestBlob(t, func(t *testing.T) blob.Store {
		s, err := fsblob.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Temporary files of a Put interrupted by a crash are removed on open,
// once they are old; a young one may be another process's write in
// progress and is left alone.
func TestOpenCleansTemporaries(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(dir, ".tmp", "put-123")
	writing := filepath.Join(dir, ".tmp", "put-456")
	for _, p := range []string{leftover, writing} {
		if err := os.WriteFile(p, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(leftover, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := fsblob.Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("old leftover temporary still present: %v", err)
	}
	if _, err := os.Stat(writing); err != nil {
		t.Fatalf("a write in progress was removed: %v", err)
	}
}

// The reserved temporary directory cannot be addressed as a key.
func TestReservedKey(t *testing.T) {
	s, err := fsblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Size(t.Context(), ".tmp/x"); err == nil {
		t.Fatal("reserved key accepted")
	}
}
