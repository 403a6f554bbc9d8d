package fsblob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/fsblob"
)

// A composed blob reads as its parts joined, at any offset, survives the
// deletion of its parts' keys, is replaced by Put, and frees every byte
// when deleted.
func TestCompose(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := fsblob.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{"chunks/aa/one", "chunks/bb/two", "chunks/cc/three"}
	var want []byte
	for i, k := range parts {
		b := bytes.Repeat([]byte{byte('a' + i)}, 1000*(i+1))
		want = append(want, b...)
		if err := s.Put(ctx, k, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Compose(ctx, "difs/ab/file", parts); err != nil {
		t.Fatal(err)
	}
	shared := 0
	if err := s.List(ctx, "chunks/", func(bi blob.Info) error {
		if bi.Shared {
			shared++
		}
		return nil
	}); err != nil || shared != len(parts) {
		t.Fatalf("List: %d parts shared, %v; want %d", shared, err, len(parts))
	}
	for _, k := range parts {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Size(ctx, "difs/ab/file"); err != nil || n != int64(len(want)) {
		t.Fatalf("Size = %d, %v; want %d", n, err, len(want))
	}
	got, err := blob.ReadAll(ctx, s, "difs/ab/file")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
	rc, err := s.Open(ctx, "difs/ab/file")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	if n, err := rc.(io.ReaderAt).ReadAt(buf, 500); err != nil || !bytes.Equal(buf[:n], want[500:2000]) {
		t.Fatalf("ReadAt across parts: %d, %v", n, err)
	}
	rc.Close()
	var listed []blob.Info
	s.List(ctx, "difs/", func(bi blob.Info) error { listed = append(listed, bi); return nil })
	if len(listed) != 1 || listed[0].Key != "difs/ab/file" || listed[0].Size != int64(len(want)) || listed[0].Shared {
		t.Fatalf("List difs/ = %+v", listed)
	}

	if err := s.Put(ctx, "difs/ab/file", bytes.NewReader([]byte("plain"))); err != nil {
		t.Fatal(err)
	}
	if got, err := blob.ReadAll(ctx, s, "difs/ab/file"); err != nil || string(got) != "plain" {
		t.Fatalf("after Put: %q, %v", got, err)
	}
	if err := s.Compose(ctx, "difs/ab/other", []string{"difs/ab/file", "difs/ab/file"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := blob.ReadAll(ctx, s, "difs/ab/other"); string(got) != "plainplain" {
		t.Fatalf("composed from a plain blob twice: %q", got)
	}
	for _, k := range []string{"difs/ab/file", "difs/ab/other"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Open after Delete: %v", err)
		}
	}
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

// Composing from a missing part fails with ErrNotFound and leaves nothing.
func TestComposeMissingPart(t *testing.T) {
	ctx := context.Background()
	s, err := fsblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.Put(ctx, "chunks/aa/one", bytes.NewReader([]byte("x")))
	if err := s.Compose(ctx, "difs/ab/file", []string{"chunks/aa/one", "chunks/aa/gone"}); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Compose = %v, want ErrNotFound", err)
	}
	if _, err := s.Size(ctx, "difs/ab/file"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("half-composed blob visible: %v", err)
	}
}
