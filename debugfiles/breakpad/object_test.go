package breakpad

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
)

func TestObjectPeers(t *testing.T) {
	root := peersDir(t)
	tests := []struct {
		path                          string
		arch, id, codeID, name, feats string
	}{
		{"rust-minidump/symbols/crash-client/509C0610949836F7B70BD88BCF03E5400/crash-client.sym",
			"x86_64", "509c0610-9498-36f7-b70b-d88bcf03e540", "509c0610949836f7b70bd88bcf03e540", "crash-client", "symtab, debug, unwind"},
		{"breakpad/symbols/kernel32.pdb/BCE8785C57B44245A669896B6A19B9542/kernel32.sym",
			"x86", "bce8785c-57b4-4245-a669-896b6a19b954-2", "", "kernel32.pdb", "symtab, unwind"},
		{"breakpad/symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym",
			"x86", "5a9832e5-2872-41c1-838e-d98914e9b7ff-1", "", "test_app.pdb", "symtab, debug, unwind"},
		{"breakpad/symbols/linux_inline/BBA6FA10B8AAB33D00000000000000000/linux_inline.new.sym",
			"x86_64", "bba6fa10-b8aa-b33d-0000-000000000000", "10faa6bbaab83db3", "linux_inline", "symtab, debug"},
		{"breakpad/symbols/libc-2.13.so/F4F8DFCD5A5FB5A7CE64717E9E6AE3890/libc-2.13.so.sym",
			"x86_64", "f4f8dfcd-5a5f-b5a7-ce64-717e9e6ae389", "", "libc-2.13.so", "symtab, unwind"},
		{"breakpad/symbols/microdump/breakpad_unittests/DA7778FB66018A4E9B4110ED06E730D00/breakpad_unittests.sym",
			"arm", "da7778fb-6601-8a4e-9b41-10ed06e730d0", "", "breakpad_unittests", "symtab, debug, unwind"},
		{"breakpad/symbols/microdump/breakpad_unittests/D6D1FEC9A15DE7F38A236898871A2E770/breakpad_unittests.sym",
			"arm64", "d6d1fec9-a15d-e7f3-8a23-6898871a2e77", "", "breakpad_unittests", "symtab, debug, unwind"},
		{"breakpad/symbols/microdump/crash_example/6E72E2F1A5F59AB3D51356FDFE394D490/crash_example.sym",
			"mips", "6e72e2f1-a5f5-9ab3-d513-56fdfe394d49", "", "crash_example", "symtab, debug, unwind"},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			p := filepath.Join(root, tc.path)
			mapped, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer mapped.Close()
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// The streaming path (a ReaderAt without Bytes) must agree.
			streamed, err := NewObject(bytes.NewReader(data), int64(len(data)), p)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range []*Object{mapped, streamed} {
				if o.Format() != debugfiles.FormatBreakpad || o.Kind() != debugfiles.KindDebug || o.LoadAddress() != 0 || o.DebugFile() != "" {
					t.Errorf("format %v kind %v load %#x debug file %q", o.Format(), o.Kind(), o.LoadAddress(), o.DebugFile())
				}
				got := fmt.Sprintf("%s %s %s %s %s", o.Arch(), o.DebugID(), o.CodeID(), o.Name(), o.Features())
				want := fmt.Sprintf("%s %s %s %s %s", tc.arch, tc.id, tc.codeID, tc.name, tc.feats)
				if got != want {
					t.Errorf("got  %s\nwant %s", got, want)
				}
				if o.Skipped() != 0 {
					t.Errorf("skipped %d: %v", o.Skipped(), o.ParseErrors())
				}
			}
			f1, f2 := functionsOf(t, mapped), functionsOf(t, streamed)
			if len(f1) != len(f2) {
				t.Fatalf("%d functions mapped, %d streamed", len(f1), len(f2))
			}
			for i := range f1 {
				if canon(f1[i]) != canon(f2[i]) {
					t.Fatalf("function %d differs between mapped and streamed reading", i)
				}
			}
		})
	}
}

// TestObjectCounts checks Symbols and Functions of every peer against
// counts taken from the text with a grep-like scan.
func TestObjectCounts(t *testing.T) {
	root, files := peerSymFiles(t)
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			// Inline ranges kept: all but those of size 0 and those partly
			// overlapping one kept before in the same FUNC (checked pairwise).
			var funcs, publics, lines, inlineRanges int
			var kept [][2]uint64
			for _, l := range strings.Split(string(data), "\n") {
				f := strings.Fields(l)
				switch oracleKind(l) {
				case KindFunc:
					funcs++
					kept = kept[:0]
				case KindPublic:
					addr := f[1]
					if addr == "m" {
						addr = f[2]
					}
					if addr != "0" { // Breakpad ignores PUBLICs at 0
						publics++
					}
				case KindLine:
					if f[1] != "0" {
						lines++
					}
				case KindInline:
					first := 4 // INLINE depth line origin, then ranges
					if (len(f)-1)%2 == 0 {
						first = 5 // the newer form adds the call file
					}
				ranges:
					for i := first; i+1 < len(f); i += 2 {
						a, _ := strconv.ParseUint(f[i], 16, 64)
						n, _ := strconv.ParseUint(f[i+1], 16, 64)
						if n == 0 {
							continue
						}
						for _, k := range kept {
							inside := k[0] <= a && a+n <= k[1]
							around := a <= k[0] && k[1] <= a+n
							if a < k[1] && k[0] < a+n && !inside && !around {
								continue ranges
							}
						}
						kept = append(kept, [2]uint64{a, a + n})
						inlineRanges++
					}
				}
			}
			o, err := Open(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			var syms []debugfiles.Symbol
			for s := range o.Symbols() {
				syms = append(syms, s)
			}
			if !slices.IsSortedFunc(syms, func(a, b debugfiles.Symbol) int {
				return int(min(a.Address-b.Address, 1)) - int(min(b.Address-a.Address, 1))
			}) {
				t.Errorf("symbols not sorted")
			}
			fs := functionsOf(t, o)
			gotLines, gotRanges := 0, 0
			var count func([]*debugfiles.Function)
			count = func(l []*debugfiles.Function) {
				for _, f := range l {
					gotRanges++
					count(f.Inlinees)
				}
			}
			for _, f := range fs {
				gotLines += len(f.Lines)
				count(f.Inlinees)
				if !slices.IsSortedFunc(f.Lines, func(a, b debugfiles.LineInfo) int { return cmpU(a.Address, b.Address) }) {
					t.Errorf("%s: lines not sorted", f.Name)
				}
			}
			if funcs == 0 {
				// Only PUBLIC records: they are the functions.
				if len(fs) != len(syms) {
					t.Errorf("%d functions from %d PUBLICs", len(fs), len(syms))
				}
				return
			}
			if len(syms) != funcs+publics || len(fs) != funcs || gotLines != lines || gotRanges != inlineRanges {
				t.Errorf("symbols %d functions %d lines %d inline ranges %d; grep says %d+%d, %d, %d, %d",
					len(syms), len(fs), gotLines, gotRanges, funcs, publics, funcs, lines, inlineRanges)
			}
		})
	}
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sessionOf parses a symbol file given as text and returns its functions.
func sessionOf(t *testing.T, text string) []*debugfiles.Function {
	t.Helper()
	o, err := NewObject(byteReaderAt(text), int64(len(text)), "test.sym")
	if err != nil {
		t.Fatal(err)
	}
	return functionsOf(t, o)
}

// tree renders functions compactly: name[start,end) @callfile:line {lines} (children).
func tree(fs []*debugfiles.Function) string {
	var parts []string
	for _, f := range fs {
		s := fmt.Sprintf("%s[%x,%x)", f.Name, f.Address, f.End())
		if f.CallLine != 0 || f.CallFile.Name != "" {
			s += fmt.Sprintf("@%s:%d", f.CallFile.Name, f.CallLine)
		}
		if len(f.Lines) > 0 {
			var ls []string
			for _, l := range f.Lines {
				ls = append(ls, fmt.Sprintf("%x:%s:%d", l.Address, l.File.Name, l.Line))
			}
			s += "{" + strings.Join(ls, " ") + "}"
		}
		if len(f.Inlinees) > 0 {
			s += "(" + tree(f.Inlinees) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// TestSessionInlineTree pins the placement rules of Breakpad's
// ContainedRangeMap, which the Session mirrors.
func TestSessionInlineTree(t *testing.T) {
	head := "MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 t\nFILE 0 a.c\nFILE 1 b.h\nINLINE_ORIGIN 0 outer\nINLINE_ORIGIN 1 inner\nINLINE_ORIGIN 2 other\n"
	tests := []struct{ name, body, want string }{
		{"several ranges become several inlinees",
			"FUNC 100 40 0 f\nINLINE 0 7 0 0 110 8 130 4\n100 10 1 0\n110 8 20 1\n118 18 2 0\n130 4 21 1\n",
			"f[100,140){100:a.c:1 110:b.h:20 118:a.c:2 130:b.h:21}(outer[110,118)@a.c:7{110:b.h:20} outer[130,134)@a.c:7{130:b.h:21})"},
		{"children nest inside the range that contains them",
			"FUNC 100 40 0 f\nINLINE 0 7 0 0 110 8 130 4\nINLINE 1 3 1 1 131 2\nINLINE 1 4 1 1 112 2\n",
			"f[100,140)(outer[110,118)@a.c:7(inner[112,114)@b.h:4) outer[130,134)@a.c:7(inner[131,133)@b.h:3))"},
		{"an equal range nests inside the earlier one",
			"FUNC 100 40 0 f\nINLINE 0 7 0 0 110 8\nINLINE 1 3 1 1 110 8\n",
			"f[100,140)(outer[110,118)@a.c:7(inner[110,118)@b.h:3))"},
		{"a partial overlap is dropped",
			"FUNC 100 40 0 f\nINLINE 0 7 0 0 110 8\nINLINE 0 8 0 2 114 8\n",
			"f[100,140)(outer[110,118)@a.c:7)"},
		{"a range enclosing an earlier one adopts it",
			"FUNC 100 40 0 f\nINLINE 1 3 1 1 112 2\nINLINE 0 7 0 0 110 8\n",
			"f[100,140)(outer[110,118)@a.c:7(inner[112,114)@b.h:3))"},
		{"a record skipping a depth is kept (records sorted by address)",
			"FUNC 100 40 0 f\nINLINE 0 7 0 0 110 8\nINLINE 1 3 1 1 110 2 120 4\nINLINE 0 8 0 2 120 8\nINLINE 2 5 1 1 114 2\n",
			"f[100,140)(outer[110,118)@a.c:7(inner[110,112)@b.h:3 inner[114,116)@b.h:5) other[120,128)@a.c:8(inner[120,124)@b.h:3))"},
		{"of equal ranges the deeper nests inside, whatever the order",
			"FUNC 100 40 0 f\nINLINE 1 3 1 1 110 8\nINLINE 0 7 0 0 110 8\nINLINE 2 5 1 2 110 8\n",
			"f[100,140)(outer[110,118)@a.c:7(inner[110,118)@b.h:3(other[110,118)@b.h:5)))"},
		{"missing origin and file, old form, zero size",
			"FUNC 100 40 0 f\nINLINE 0 7 9 9 110 8\nINLINE 1 5 2 112 2 114 0\n",
			"f[100,140)(<name omitted>[110,118)@:7(other[112,114)@:5))"},
		{"lines: zero sizes dropped, unsorted sorted, overlaps dropped",
			"FUNC 100 40 0 f\n120 8 3 0\n100 0 1 0\n100 10 2 0\n108 10 9 0\n",
			"f[100,140){100:a.c:2 120:a.c:3}"},
		{"FUNCs of size 0 are left out; lines go with the right FUNC",
			"FUNC 100 0 0 empty\n100 4 1 0\nFUNC 200 10 0 g\n200 4 2 0\n",
			"g[200,210){200:a.c:2}"},
	}
	for _, tc := range tests {
		if got := tree(sessionOf(t, head+tc.body)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// TestSessionBreakpadInlineOrder checks the option that drops INLINE
// records skipping a depth, as Breakpad's Function::AppendInline does
// (the first record may be at depth 0 or 1).
func TestSessionBreakpadInlineOrder(t *testing.T) {
	text := "MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 t\nINLINE_ORIGIN 0 a\nINLINE_ORIGIN 1 b\n" +
		"FUNC 100 40 0 f\nINLINE 1 1 0 0 100 10\nINLINE 3 2 0 1 102 2\nINLINE 2 3 0 1 104 2\n" +
		"FUNC 200 40 0 g\nINLINE 0 1 0 0 200 10\nINLINE 2 2 0 1 202 2\nINLINE 1 3 0 1 204 2\n"
	o, err := NewObject(byteReaderAt(text), int64(len(text)), "t")
	if err != nil {
		t.Fatal(err)
	}
	var fs []*debugfiles.Function
	for f, err := range o.Session(SessionOptions{BreakpadInlineOrder: true}).Functions() {
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	want := "f[100,140)(a[100,110)@:1(b[104,106)@:3)) g[200,240)(a[200,210)@:1(b[204,206)@:3))"
	if got := tree(fs); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSessionPublicsOnly(t *testing.T) {
	fs := sessionOf(t, "MODULE Linux x86 0123456789ABCDEF0123456789ABCDEF0 t\nPUBLIC 0 0 zero\nPUBLIC 20 0 b\nPUBLIC 10 4 a\nPUBLIC 20 0 b2\nSTACK CFI INIT 10 4 .cfa: $esp 4 +\n")
	if got := tree(fs); got != "a[10,20) b[20,20)" {
		t.Errorf("got %s", got)
	}
}

func TestObjectErrors(t *testing.T) {
	for _, in := range []string{"", "MODUL", "FUNC 1 2 3 x\n", "\x7fELF\x02\x01\x01", "MODULE Linux x86\nFUNC 1 2 3 x\n"} {
		_, err := NewObject(strings.NewReader(in), int64(len(in)), "x")
		if !errors.Is(err, ErrNoModule) || !errors.Is(err, debugfiles.ErrUnknownFormat) {
			t.Errorf("%q: %v, want ErrNoModule", in, err)
		}
	}
	in := "MODULE Linux x86 NOTANID t\n"
	if _, err := NewObject(strings.NewReader(in), int64(len(in)), "x"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad id: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.sym")); err == nil {
		t.Errorf("Open of a missing file succeeded")
	}
	// Bad lines are counted, not fatal.
	in = "MODULE Linux x86 0123456789ABCDEF0123456789ABCDEF0 t\nFUNC zz\nFUNC 10 2 0 f\n10 2 x 0\n"
	o, err := NewObject(strings.NewReader(in), int64(len(in)), "x")
	if err != nil {
		t.Fatal(err)
	}
	if o.Skipped() != 2 || o.ParseErrors()[0].Line != 2 || o.ParseErrors()[1].Line != 4 || o.Features() != debugfiles.FeatureSymtab {
		t.Errorf("skipped %d %v, features %v", o.Skipped(), o.ParseErrors(), o.Features())
	}
}

func TestObjectClose(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.sym")
	if err := os.WriteFile(p, []byte("MODULE mac arm64 0123456789ABCDEF0123456789ABCDEF0 t\nINFO CODE_ID ABCD t.dylib\nFUNC 10 2 0 f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if o.CodeID() != "abcd" || o.CodeFile() != "t.dylib" || o.OS() != "mac" || o.Arch() != "arm64" {
		t.Errorf("code id %q file %q os %q arch %q", o.CodeID(), o.CodeFile(), o.OS(), o.Arch())
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.DebugSession(); err == nil {
		t.Errorf("DebugSession after Close succeeded")
	}
}

func TestSentryArch(t *testing.T) {
	for in, want := range map[string]string{"x86": "x86", "i386": "x86", "x86_64": "x86_64", "amd64": "x86_64", "arm": "arm",
		"arm64": "arm64", "aarch64": "arm64", "arm64e": "arm64e", "armv7": "armv7", "ppc": "ppc", "ppc64": "ppc64", "mips": "mips", "mips64": "mips64", "X86_64": "x86_64"} {
		if got := SentryArch(in); got != want {
			t.Errorf("SentryArch(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"x86": "x86", "x86_64": "x86_64", "arm64": "arm64", "arm": "arm", "arm64e": "arm64e", "amd64": "x86_64"} {
		if got := BreakpadArch(in); got != want {
			t.Errorf("BreakpadArch(%q) = %q, want %q", in, got, want)
		}
	}
}
