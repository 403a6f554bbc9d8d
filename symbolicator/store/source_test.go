package store_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/identify"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/symbolicator/sources"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// A project's upload store finds an ELF binary with debug information as
// both a code and a debug file, by debug id or code id, opens it by the
// key it gave, and shows nothing to another project.
func TestProjectSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m, err := sqlite.OpenMeta(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	blobs, _ := fsblob.Open(filepath.Join(dir, "blobs"))
	o, _ := m.CreateOrg(ctx, meta.Organization{Slug: "o"})
	p, _ := m.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "p"})
	other, _ := m.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "q"})
	s := &store.Store{Blobs: blobs, Index: m}

	bin := fixtures.Get(t, "elf-x86_64-gcc-O2")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := identify.File(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(data)
	if _, err := s.Add(ctx, p.ID, "demo", bin, hex.EncodeToString(sum[:]), int64(len(data)), objs, false); err != nil {
		t.Fatal(err)
	}
	a, err := loader.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	id := sources.FileID{DebugID: a.Objects[0].DebugID(), Object: sources.ObjectELF}
	byCode := sources.FileID{CodeID: a.Objects[0].CodeID(), Object: sources.ObjectELF}

	up := s.Source(p.ID)
	for _, tc := range []struct {
		id   sources.FileID
		t    sources.FileType
		want int
	}{
		{id, sources.FileELFCode, 1}, {id, sources.FileELFDebug, 1}, {byCode, sources.FileELFDebug, 1},
		{id, sources.FileBreakpad, 0}, {id, sources.FilePDB, 0}, {id, sources.FileMachDebug, 0},
	} {
		keys, err := up.Lookup(ctx, tc.id, tc.t)
		if err != nil || len(keys) != tc.want {
			t.Errorf("Lookup(%v) = %v, %v; want %d keys", tc.t, keys, err, tc.want)
		}
	}
	keys, _ := up.Lookup(ctx, id, sources.FileELFCode)
	rc, err := up.Open(ctx, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if len(got) != len(data) {
		t.Errorf("opened %d bytes, want %d", len(got), len(data))
	}
	if keys, _ := s.Source(other.ID).Lookup(ctx, id, sources.FileELFCode); len(keys) != 0 {
		t.Errorf("another project sees %v", keys)
	}
	if _, err := up.Open(ctx, "difs/00/0000"); !errors.Is(err, sources.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := up.Open(ctx, "events/x"); !errors.Is(err, sources.ErrNotFound) {
		t.Errorf("key outside the debug files: %v", err)
	}
}
