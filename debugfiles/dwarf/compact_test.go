package dwarf_test

import (
	"debug/elf"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
	"github.com/cairn-dev/cairn/fixtures"
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

// TestTransientCompactFunctionsMatchCompact checks that
// TransientCompactFunctions yields what CompactFunctions does, function by
// function (what their lines answer: compactLines), on a program large
// enough that trees are built in the storage of functions already
// yielded and tables' rows reused, on one core and on all, and that it
// stops cleanly when the consumer does.
func TestTransientCompactFunctionsMatchCompact(t *testing.T) {
	f, err := elf.Open(fixtures.Get(t, "elf-x86_64-gcc-O2-large"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec, err := elfSections(f, false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dwarf.NewSessionFromSections(sec, dwarf.Options{LoadAddress: loadAddress(f)})
	if err != nil {
		t.Fatal(err)
	}
	describeCompact := func(cf *dwarf.CompactFunction) string {
		return describe(cf.Function, nil) + fmt.Sprintf(" rows=%v files=%d", dwarf.CompactLines(cf), len(cf.Files))
	}
	var want []string
	for cf, err := range s.CompactFunctions() {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, describeCompact(cf))
	}
	if len(want) < 1000 {
		t.Fatalf("only %d functions: too few to reuse storage", len(want))
	}
	// With one core the emission is serial, and the rows of the tables
	// are released as it goes rather than by the consumer.
	for _, procs := range []int{runtime.GOMAXPROCS(0), 1} {
		prev := runtime.GOMAXPROCS(procs)
		var got []string
		for cf, err := range s.TransientCompactFunctions() {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, describeCompact(cf))
		}
		runtime.GOMAXPROCS(prev)
		if !slices.Equal(got, want) {
			t.Errorf("GOMAXPROCS %d: TransientCompactFunctions yields %d functions, CompactFunctions %d; they differ", procs, len(got), len(want))
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("first difference at %d:\n got %s\nwant %s", i, got[i], want[i])
				}
			}
		}
	}
	n := 0
	for _, err := range s.TransientCompactFunctions() {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 500 {
			break
		}
	}
}

// TestFunctionFields guards emitNodes, which fills reused Functions field
// by field: a field added to debugfiles.Function must be set there too.
func TestFunctionFields(t *testing.T) {
	if n := reflect.TypeFor[debugfiles.Function]().NumField(); n != 8 {
		t.Fatalf("debugfiles.Function has %d fields; emitNodes sets 8", n)
	}
}
