package storagetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/storage/meta"
)

// DebugFileStore is what TestDebugFiles needs: a meta.Store that also
// indexes debug files and restricts tokens to projects.
type DebugFileStore interface {
	meta.Store
	meta.DebugFiles
	meta.TokenProjects
}

// TestDebugFiles checks the debug-file index and project-scoped tokens.
func TestDebugFiles(t *testing.T, newStore func(t *testing.T) DebugFileStore) {
	ctx := context.Background()
	s := newStore(t)
	o, err := s.CreateOrg(ctx, meta.Organization{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "game", Name: "Game"})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.CreateProject(ctx, meta.Project{OrgID: o.ID, Slug: "tool", Name: "Tool"})
	if err != nil {
		t.Fatal(err)
	}
	fat := func(arch, id string) meta.DebugFile {
		return meta.DebugFile{ProjectID: p.ID, Checksum: "aa11", BlobKey: "difs/aa/aa11", Name: "Game", DebugID: id,
			CodeID: "c0de" + arch, Arch: arch, Format: "macho", Kind: "dbg", Features: []string{"debug", "symtab"}, Size: 1000}
	}
	a, err := s.AddDebugFile(ctx, fat("x86_64", "11111111-2222-3333-4444-555555555555-0"))
	if err != nil || a.ID == 0 || a.CreatedAt.IsZero() {
		t.Fatalf("AddDebugFile = %+v, %v", a, err)
	}
	b, err := s.AddDebugFile(ctx, fat("arm64", "66666666-2222-3333-4444-555555555555-0"))
	if err != nil || b.ID == a.ID {
		t.Fatalf("second arch = %+v, %v", b, err)
	}
	again, err := s.AddDebugFile(ctx, fat("x86_64", "11111111-2222-3333-4444-555555555555-0"))
	if err != nil || again.ID != a.ID {
		t.Fatalf("re-adding returned %+v, %v; want the first row %d", again, err, a.ID)
	}
	got, err := s.ListDebugFiles(ctx, p.ID, meta.DebugFileQuery{DebugID: "11111111-2222-3333-4444-555555555555-0"})
	if err != nil || len(got) != 1 || got[0].ID != a.ID || !slices.Equal(got[0].Features, []string{"debug", "symtab"}) || got[0].CodeID != "c0dex86_64" {
		t.Fatalf("by debug id: %+v, %v", got, err)
	}
	if got, _ := s.ListDebugFiles(ctx, p.ID, meta.DebugFileQuery{CodeID: "C0DEARM64"}); len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("by code id: %+v", got)
	}
	if got, _ := s.ListDebugFiles(ctx, p.ID, meta.DebugFileQuery{Checksum: "aa11"}); len(got) != 2 || got[0].ID != b.ID {
		t.Fatalf("by checksum (newest first): %+v", got)
	}
	if got, _ := s.ListDebugFiles(ctx, p.ID, meta.DebugFileQuery{ID: b.ID}); len(got) != 1 || got[0].Arch != "arm64" {
		t.Fatalf("by id: %+v", got)
	}
	if got, _ := s.ListDebugFiles(ctx, p2.ID, meta.DebugFileQuery{}); len(got) != 0 {
		t.Fatalf("other project sees %+v", got)
	}
	if n, err := s.DebugFileBytes(ctx, p.ID); err != nil || n != 1000 {
		t.Fatalf("DebugFileBytes = %d, %v; want one file of 1000 bytes", n, err)
	}
	if err := s.DeleteDebugFile(ctx, p2.ID, a.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("delete from the wrong project: %v", err)
	}
	if err := s.DeleteDebugFile(ctx, p.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if used, err := s.DebugFileBlobUsed(ctx, "difs/aa/aa11"); err != nil || !used {
		t.Fatalf("blob still used by the arm64 row: %v, %v", used, err)
	}
	if err := s.DeleteDebugFile(ctx, p.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if used, err := s.DebugFileBlobUsed(ctx, "difs/aa/aa11"); err != nil || used {
		t.Fatalf("blob used after every row went: %v, %v", used, err)
	}

	tok, err := s.CreateToken(ctx, meta.Token{OrgID: o.ID, Hash: "h", Scopes: []string{"project:write"}})
	if err != nil {
		t.Fatal(err)
	}
	if ps, err := s.TokenProjects(ctx, tok.ID); err != nil || len(ps) != 0 {
		t.Fatalf("new token restricted: %v, %v", ps, err)
	}
	if err := s.SetTokenProjects(ctx, tok.ID, []int64{p2.ID, p.ID}); err != nil {
		t.Fatal(err)
	}
	if ps, _ := s.TokenProjects(ctx, tok.ID); !slices.Equal(ps, []int64{p.ID, p2.ID}) {
		t.Fatalf("TokenProjects = %v", ps)
	}
}
