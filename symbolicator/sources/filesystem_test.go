package sources

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
)

// TestFilesystemSource lays a real PE image and its PDB out as a symbol
// store (the PDB cabinet-compressed, as symstore /compress does) and looks
// them up by the identifiers the files themselves carry.
func TestFilesystemSource(t *testing.T) {
	dir := fixtures.GetDir(t, "pe-x86_64-clang-O2")
	exe, err := loader.Open(filepath.Join(dir, "demo.exe"))
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	obj := exe.Objects[0]
	id := FileID{DebugID: obj.DebugID(), CodeID: obj.CodeID(), CodeFile: `C:\build\demo.exe`, DebugFile: `C:\build\demo.pdb`, Object: ObjectPE}
	pdbBytes, err := os.ReadFile(filepath.Join(dir, "demo.pdb"))
	if err != nil {
		t.Fatal(err)
	}
	exeBytes, err := os.ReadFile(filepath.Join(dir, "demo.exe"))
	if err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	layout := DirectoryLayout{Type: LayoutSymstore}
	put := func(rel string, b []byte) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pdbPaths := Paths(layout, FilePDB, id)
	put(pdbPaths[0], writeCAB(t, true, false, map[string][]byte{"demo.pdb": pdbBytes}, []string{"demo.pdb"}))
	put(Paths(layout, FilePE, id)[1], exeBytes)

	src := NewFilesystem("local", root, layout, Filters{})
	cands := src.Candidates(t.Context(), id, []FileType{FilePDB, FilePE})
	if len(cands) != 4 {
		t.Fatalf("candidates %+v", cands)
	}
	got := map[FileType][]byte{}
	var statuses []Status
	for _, c := range cands {
		b, err := download(t, src, c)
		statuses = append(statuses, StatusOf(err))
		if err == nil {
			got[c.Type] = b
		} else if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v", c, err)
		}
	}
	if want := []Status{StatusNotFound, StatusFound, StatusFound, StatusNotFound}; !equalStatuses(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	if !bytes.Equal(got[FilePDB], pdbBytes) || !bytes.Equal(got[FilePE], exeBytes) {
		t.Errorf("fetched files differ from the fixture")
	}
	if _, err := download(t, src, Location{SourceID: "local", Path: "../etc/passwd"}); err == nil || StatusOf(err) != StatusError {
		t.Errorf("path outside the root: %v", err)
	}
}

func equalStatuses(a, b []Status) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
