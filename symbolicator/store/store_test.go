package store_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/identify"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// A fat dSYM is one blob and one row per architecture; lookups by debug id
// in either spelling, and by code id, find it.
func TestAddLookupDelete(t *testing.T) {
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
	s := &store.Store{Blobs: blobs, Index: m}

	path := filepath.Join(fixtures.GetDir(t, "macho-fat"), "demo.dSYM", "Contents", "Resources", "DWARF", "demo")
	objs, err := identify.File(path)
	if err != nil || len(objs) != 2 {
		t.Fatalf("Identify = %+v, %v", objs, err)
	}
	b, _ := os.ReadFile(path)
	sum := sha1.Sum(b)
	files, err := s.Add(ctx, p.ID, "dir/../demo", path, hex.EncodeToString(sum[:]), int64(len(b)), objs, false)
	if err != nil || len(files) != 2 || files[0].Name != "demo" {
		t.Fatalf("Add = %+v, %v", files, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Add without consume removed the source: %v", err)
	}
	id, _ := debugid.Parse(objs[1].DebugID)
	got, err := s.Lookup(ctx, p.ID, id.Breakpad(), "")
	if err != nil || len(got) != 1 || got[0].Arch != objs[1].Arch {
		t.Fatalf("Lookup by Breakpad id = %+v, %v", got, err)
	}
	if objs[0].CodeID != "" {
		if got, _ := s.Lookup(ctx, p.ID, "", strings.ToUpper(objs[0].CodeID)); len(got) != 1 {
			t.Fatalf("Lookup by code id = %+v", got)
		}
	}
	rc, err := s.Open(ctx, got[0])
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	for _, f := range files {
		if err := s.Delete(ctx, p.ID, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := blobs.Size(ctx, files[0].BlobKey); err == nil {
		t.Fatal("blob kept after its last row was deleted")
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"../../etc/passwd": "passwd", `C:\build\Game.pdb`: "Game.pdb", "a\x00b\nc": "abc", "..": ""} {
		if got := store.SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}
