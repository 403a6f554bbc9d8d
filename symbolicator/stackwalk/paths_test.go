package stackwalk

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
)

func TestStoreLayout(t *testing.T) {
	const id = "5A9832E5287241C1838ED98914E9B7FF1"
	for _, c := range []struct {
		path string
		kind candKind
		ok   bool
	}{
		{"s/test_app.pdb/" + id + "/test_app.sym", candSym, true},
		{"s/test_app.pdb/" + id + "/test_app.symcache", candSymcache, true},
		{"s/test_app.pdb/" + id + "/test_app.cficache", candCficache, true},
		{"s/libc.so.6/" + id + "/libc.so.6.sym", candSym, true},
		{"s/test_app.pdb/" + id + "/test_app.pdb.sym", 0, false}, // not StorePath's stem
		{"s/test_app.pdb/" + id + "/other.sym", 0, false},
		{"s/test_app.pdb/" + id + "/test_app.txt", 0, false},
		{"s/test_app.pdb/5a9832e5287241c1838ed98914e9b7ff1/test_app.sym", 0, false}, // not Breakpad's form
		{"s/test_app.pdb/5A9832E5-2872-41C1-838E-D98914E9B7FF-1/test_app.sym", 0, false},
		{"s/test_app.pdb/00000000000000000000000000000000/test_app.sym", 0, false},
		{"s/test_app.pdb/notanid/test_app.sym", 0, false},
		{"test_app.sym", 0, false},
	} {
		got, kind, ok := storeLayout(filepath.FromSlash(c.path))
		if ok != c.ok || kind != c.kind || ok && got.Breakpad() != id {
			t.Errorf("%s: %v %v %v, want %v %v", c.path, got, kind, ok, c.kind, c.ok)
		}
	}
}

// The index records a file in the store layout under the identifier its
// place names, without reading it (as the store lookups trust the place),
// and any other file under the identifier its content names.
func TestIndexTrustsStoreLayout(t *testing.T) {
	const placed, named, other = "5A9832E5287241C1838ED98914E9B7FF1", "BCE8785C57B44245A669896B6A19B9542", "C32AD7E235EA6112E02A5B9D6219C4850"
	root := t.TempDir()
	write := func(rel, content string) string {
		path := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	inStore := write("app.pdb/"+placed+"/app.sym", "MODULE windows x86 "+named+" app.pdb\n")
	loose := write("misc/renamed.sym", "MODULE windows x86 "+other+" lib.pdb\n")
	p := &SymbolPaths{Paths: []string{root}}
	p.buildIndex(context.Background())
	for _, c := range []struct {
		id, want string
	}{{placed, inStore}, {named, ""}, {other, loose}} {
		id, err := debugid.Parse(c.id)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if cands := p.byDebug[id]; len(cands) == 1 {
			got = cands[0].path
		} else if len(cands) > 1 {
			t.Errorf("%s: %d candidates", c.id, len(cands))
		}
		if got != c.want {
			t.Errorf("%s: indexed %q, want %q", c.id, got, c.want)
		}
	}
}
