package fsblob_test

import (
	"os"
	"path/filepath"
	"testing"

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

// Temporary files of a Put interrupted by a crash are removed on open.
func TestOpenCleansTemporaries(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(dir, ".tmp", "put-123")
	if err := os.WriteFile(leftover, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fsblob.Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("leftover temporary still present: %v", err)
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
