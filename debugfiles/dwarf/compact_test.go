package dwarf_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
)

// TestCompactFunctionsMatchFunctions checks that CompactFunctions yields
// the trees Functions yields, in the same order, with each top-level
// function's rows naming the same lines as its Lines.
func TestCompactFunctionsMatchFunctions(t *testing.T) {
	for _, v := range []variant{
		{lang: "cxx", cc: "gcc", opt: "-O2", dwarf: 5},
		{lang: "cxx", cc: "clang", opt: "-O2", dwarf: 4, split: "dwo"},
		{lang: "c", cc: "gcc", opt: "-O2", dwarf: 4},
	} {
		t.Run(v.String(), func(t *testing.T) {
			needTools(t, v)
			b := openBinary(t, build(t, v), v.split)
			s, err := dwarf.NewSessionFromSections(b.sec, b.options())
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for f, err := range s.Functions() {
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, describe(f, f.Lines))
			}
			var got []string
			for cf, err := range s.CompactFunctions() {
				if err != nil {
					t.Fatal(err)
				}
				lines := make([]debugfiles.LineInfo, 0, len(cf.Rows))
				for _, r := range cf.Rows {
					var file debugfiles.FileInfo
					if int(r.File) < len(cf.Files) {
						file = cf.Files[r.File]
					}
					lines = append(lines, debugfiles.LineInfo{Address: r.Address, Size: r.Size, File: file, Line: r.Line})
				}
				got = append(got, describe(cf.Function, lines))
			}
			if len(want) == 0 {
				t.Fatal("no functions")
			}
			if !slices.Equal(got, want) {
				t.Errorf("CompactFunctions yields %d functions, Functions %d; they differ", len(got), len(want))
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("first difference at %d:\n got %s\nwant %s", i, got[i], want[i])
					}
				}
			}
		})
	}
}

// describe prints a top-level function with the given lines and its
// inlinees without theirs.
func describe(f *debugfiles.Function, lines []debugfiles.LineInfo) string {
	s := fmt.Sprintf("%#x+%#x %s lines=%v", f.Address, f.Size, f.Name, lines)
	var walk func(fs []*debugfiles.Function, depth int)
	walk = func(fs []*debugfiles.Function, depth int) {
		for _, c := range fs {
			s += fmt.Sprintf(" [%d %#x+%#x %s %s:%d]", depth, c.Address, c.Size, c.Name, c.CallFile.Path(), c.CallLine)
			walk(c.Inlinees, depth+1)
		}
	}
	walk(f.Inlinees, 1)
	return s
}
