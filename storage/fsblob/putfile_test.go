package fsblob_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/fsblob"
)

func TestPutFile(t *testing.T) {
	dir := t.TempDir()
	s, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "assembled")
	if err := os.WriteFile(src, []byte("debug file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFile(context.Background(), "difs/ab/abc", src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Errorf("source still present: %v", err)
	}
	got, err := blob.ReadAll(context.Background(), s, "difs/ab/abc")
	if err != nil || string(got) != "debug file" {
		t.Fatalf("read back %q, %v", got, err)
	}
}
