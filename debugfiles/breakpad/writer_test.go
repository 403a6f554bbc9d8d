package breakpad

import (
	"bytes"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/internal/symoracle"
)

// TestRoundTripPeers reads every peer symbol file into a Module and writes
// it back: the output must equal the input byte for byte, after only the
// normalizations ReadModule documents (the one that applies to the peers:
// linux_inline.new.sym lacks a final newline).
func TestRoundTripPeers(t *testing.T) {
	root, files := peerSymFiles(t)
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			rd := NewBytesReader(data)
			m, err := ReadModule(rd)
			if err != nil {
				t.Fatal(err)
			}
			if rd.Skipped() != 0 {
				t.Fatalf("skipped %d lines: %v", rd.Skipped(), rd.Errors())
			}
			var buf bytes.Buffer
			if err := WriteModule(&buf, m); err != nil {
				t.Fatal(err)
			}
			want := data
			if len(want) > 0 && want[len(want)-1] != '\n' {
				want = append(want[:len(want):len(want)], '\n')
			}
			if got := buf.Bytes(); !bytes.Equal(got, want) {
				gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
				for i := range min(len(gl), len(wl)) {
					if gl[i] != wl[i] {
						t.Fatalf("line %d differs:\n got %q\nwant %q", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("%d lines written, want %d", len(gl), len(wl))
			}
		})
	}
}

func TestWriterFormat(t *testing.T) {
	m := &Module{
		OS: "Linux", Arch: "x86_64", ID: "0123456789ABCDEF0123456789ABCDEF0", Name: "libfoo.so",
		CodeID: "EFCDAB8967452301", Info: []string{"GENERATOR cairn"},
		Files:         []File{{0, "/src/a.cc"}, {1, "/src/b c.h"}},
		InlineOrigins: []InlineOrigin{{Index: 0, Name: "inl()", File: -1}, {Index: 1, Name: "old()", Legacy: true, File: -1}},
		Funcs: []Func{{
			Multiple: true, Address: 0x1a2b, Size: 0x40, ParamSize: 0x10, Name: "f(int)",
			Inlines: []Inline{
				{Depth: 0, CallLine: 12, CallFile: 1, Origin: 0, Ranges: []Range{{0x1a30, 8}, {0x1a50, 4}}},
				{Depth: 1, CallLine: 3, CallFile: -1, Origin: 1, Ranges: []Range{{0x1a30, 2}}, Legacy: true},
				{Depth: 0, CallLine: 0, CallFile: -1, Origin: 0, Ranges: []Range{{0x1a60, 1}}},
			},
			Lines: []Line{{0x1a2b, 5, 10, 0}, {0x1a30, 8, 4000000000, 1}},
		}},
		Publics:           []Public{{Address: 0x10, Name: "_init"}, {Multiple: true, Address: 0x2000, ParamSize: 0xc, Name: "bar\nbaz"}},
		InterleavePublics: true,
		Stack:             []string{"STACK CFI INIT 1a2b 40 .cfa: $rsp 8 + .ra: .cfa -8 + ^"},
	}
	var buf bytes.Buffer
	if err := WriteModule(&buf, m); err != nil {
		t.Fatal(err)
	}
	want := `MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 libfoo.so
INFO CODE_ID EFCDAB8967452301
INFO GENERATOR cairn
FILE 0 /src/a.cc
FILE 1 /src/b c.h
INLINE_ORIGIN 0 inl()
INLINE_ORIGIN 1 -1 old()
PUBLIC 10 0 _init
FUNC m 1a2b 40 10 f(int)
INLINE 0 12 1 0 1a30 8 1a50 4
INLINE 1 3 1 1a30 2
INLINE 0 0 -1 0 1a60 1
1a2b 5 10 0
1a30 8 4000000000 1
PUBLIC m 2000 c bar baz
STACK CFI INIT 1a2b 40 .cfa: $rsp 8 + .ra: .cfa -8 + ^
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// And it reads back to the same model, but for the name's line break.
	m2, err := ReadModule(NewBytesReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m.Publics[1].Name = "bar baz"
	if !reflect.DeepEqual(m, m2) {
		t.Errorf("read back\n%+v\nwant\n%+v", m2, m)
	}
}

// failWriter fails every write.
type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, os.ErrClosed
}

func TestWriterError(t *testing.T) {
	fw := &failWriter{}
	m := &Module{OS: "Linux", Arch: "x86", ID: "0", Name: "n"}
	for range 5000 {
		m.Publics = append(m.Publics, Public{Address: 1, Name: strings.Repeat("x", 100)})
	}
	if err := WriteModule(fw, m); err != os.ErrClosed || fw.n != 1 {
		t.Errorf("err %v after %d writes; want ErrClosed after the first", err, fw.n)
	}
}

// fakeObject is a debugfiles.Object built in memory, standing in for the
// DWARF, PDB and Mach-O readers FromObject will be fed.
type fakeObject struct {
	format   debugfiles.Format
	arch     string
	name     string
	debug    string
	codeID   string
	features debugfiles.Features
	funcs    []*debugfiles.Function
	syms     []debugfiles.Symbol
}

func (o *fakeObject) Format() debugfiles.Format { return o.format }
func (o *fakeObject) Kind() debugfiles.Kind     { return debugfiles.KindExecutable }
func (o *fakeObject) Arch() string              { return o.arch }
func (o *fakeObject) DebugID() debugid.ID {
	return debugid.FromBuildID([]byte{0x10, 0xfa, 0xa6, 0xbb, 0xaa, 0xb8, 0x3d, 0xb3})
}
func (o *fakeObject) CodeID() string                { return o.codeID }
func (o *fakeObject) Name() string                  { return o.name }
func (o *fakeObject) DebugFile() string             { return o.debug }
func (o *fakeObject) Features() debugfiles.Features { return o.features }
func (o *fakeObject) LoadAddress() uint64           { return 0 }
func (o *fakeObject) DebugSession() (debugfiles.DebugSession, error) {
	return fakeSession{o.funcs}, nil
}
func (o *fakeObject) Symbols() iter.Seq[debugfiles.Symbol] {
	return func(yield func(debugfiles.Symbol) bool) {
		for _, s := range o.syms {
			if !yield(s) {
				return
			}
		}
	}
}

type fakeSession struct{ funcs []*debugfiles.Function }

func (s fakeSession) Close() error { return nil }
func (s fakeSession) Functions() iter.Seq2[*debugfiles.Function, error] {
	return func(yield func(*debugfiles.Function, error) bool) {
		for _, f := range s.funcs {
			if !yield(f, nil) {
				return
			}
		}
	}
}

// TestFromObjectDumpSyms converts a hand-made function tree and checks the
// numbering and ordering rules of Breakpad's Module::Write.
func TestFromObjectDumpSyms(t *testing.T) {
	src := func(n string) debugfiles.FileInfo { return debugfiles.FileInfo{CompDir: "/build", Dir: "src", Name: n} }
	obj := &fakeObject{
		format: debugfiles.FormatELF, arch: "x86_64", name: "/usr/lib/libdemo.so", codeID: "10faa6bbaab83db3",
		features: debugfiles.FeatureSymtab | debugfiles.FeatureDebug,
		funcs: []*debugfiles.Function{
			{Address: 0x2000, Size: 0x20, Name: "_Z4zetav", Lines: []debugfiles.LineInfo{
				{Address: 0x1ff0, Size: 0x20, File: src("z.cc"), Line: 1}, // clipped to the function
				{Address: 0x2010, File: src("z.cc"), Line: 2},             // size "to the end"
			}},
			{Address: 0x1000, Size: 0x40, Name: "_Z5alphav",
				Lines: []debugfiles.LineInfo{
					{Address: 0x1000, File: src("a.cc"), Line: 10},
					{Address: 0x1008, File: src("m.h"), Line: 5},
					{Address: 0x1010, File: src("m.h"), Line: 6},
					{Address: 0x1030, Size: 0x10, File: src("a.cc"), Line: 12},
				},
				Inlinees: []*debugfiles.Function{
					{Address: 0x1008, Size: 0x8, Name: "_Z3maxii", CallFile: src("a.cc"), CallLine: 11,
						Inlinees: []*debugfiles.Function{{Address: 0x1008, Size: 4, Name: "_Z3absi", CallFile: src("m.h"), CallLine: 5}}},
					{Address: 0x1020, Size: 0x8, Name: "_Z3maxii", CallFile: src("a.cc"), CallLine: 11,
						Inlinees: []*debugfiles.Function{{Address: 0x1020, Size: 2, Name: "_Z3absi", CallFile: src("m.h"), CallLine: 5}}},
					{Address: 0x1028, Size: 0x4, Name: "_Z3maxii", CallLine: 13},
				}},
			{Address: 0x1000, Size: 0x40, Name: "_Z5alphav"}, // exact duplicate
			{Address: 0x1000, Size: 0x40, Name: "_Z4betav"},  // folded code
			{Address: 0x3000, Size: 0, Name: "empty"},
		},
		syms: []debugfiles.Symbol{
			{Name: "_start", Address: 0x800},
			{Name: "_Z5alphav", Address: 0x1000, Size: 0x40},
			{Name: "local_label", Address: 0x1010},
			{Name: "_Z4zetav", Address: 0x2000, Size: 0x20},
			{Name: "_fini", Address: 0x2100},
			{Name: "_fini_alias", Address: 0x2100},
		},
	}
	m, err := FromObject(obj, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteModule(&buf, m); err != nil {
		t.Fatal(err)
	}
	want := `MODULE Linux x86_64 BBA6FA10B8AAB33D00000000000000000 libdemo.so
INFO CODE_ID 10FAA6BBAAB83DB3
FILE 0 /build/src/a.cc
FILE 1 /build/src/m.h
FILE 2 /build/src/z.cc
INLINE_ORIGIN 0 _Z3absi
INLINE_ORIGIN 1 _Z3maxii
FUNC 1000 40 0 _Z4betav
FUNC 1000 40 0 _Z5alphav
INLINE 0 11 0 1 1008 8 1020 8
INLINE 1 5 1 0 1008 4 1020 2
INLINE 0 13 -1 1 1028 4
1000 8 10 0
1008 8 5 1
1010 20 6 1
1030 10 12 0
FUNC 2000 20 0 _Z4zetav
2000 10 1 2
2010 10 2 2
PUBLIC 800 0 _start
PUBLIC 2100 0 _fini
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	// dump_syms' own PUBLIC rule and the multiple field, with a demangler.
	m, err = FromObject(obj, ConvertOptions{Publics: PublicsNotAtFuncs, Multiple: true, Demangle: func(s string) string {
		return strings.TrimPrefix(s, "_Z")
	}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range m.Funcs {
		names = append(names, f.Name)
		if f.Address == 0x1000 && !f.Multiple {
			t.Errorf("folded FUNC at 0x1000 not marked multiple")
		}
	}
	var pubs []string
	for _, p := range m.Publics {
		pubs = append(pubs, p.Name)
		if p.Address == 0x2100 && !p.Multiple {
			t.Errorf("PUBLIC at 0x2100 not marked multiple")
		}
	}
	if want := []string{"4betav", "4zetav"}; !reflect.DeepEqual(names, want) {
		t.Errorf("FUNC names %q, want %q", names, want)
	}
	if want := []string{"_start", "local_label", "_fini"}; !reflect.DeepEqual(pubs, want) {
		t.Errorf("PUBLIC names %q, want %q", pubs, want)
	}

	// Without debug information only PUBLIC records are written.
	obj.features = debugfiles.FeatureSymtab
	m, err = FromObject(obj, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Funcs) != 0 || len(m.Publics) != 5 {
		t.Errorf("stripped object: %d FUNCs, %d PUBLICs; want 0 and 5", len(m.Funcs), len(m.Publics))
	}
}

// functionsOf reads an object's functions for comparison.
func functionsOf(t *testing.T, o debugfiles.Object) []*debugfiles.Function {
	t.Helper()
	return symoracle.ObjectFunctions(t, o)
}

// TestFromObjectPeers converts each peer Object back into a symbol file and
// reads that again: identity, functions (with lines and inline trees) and
// symbols must survive. This holds FromObject's inline grouping and table
// numbering to the Session's tree building.
func TestFromObjectPeers(t *testing.T) {
	root, files := peerSymFiles(t)
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			o, err := Open(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			m, err := FromObject(o, ConvertOptions{Publics: PublicsNotAtFuncs})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := WriteModule(&buf, m); err != nil {
				t.Fatal(err)
			}
			o2, err := NewObject(byteReaderAt(buf.Bytes()), int64(buf.Len()), "rewritten")
			if err != nil {
				t.Fatal(err)
			}
			if o2.DebugID() != o.DebugID() || o2.CodeID() != o.CodeID() || o2.Name() != o.Name() || o2.Arch() != o.Arch() || o2.OS() != o.OS() {
				t.Errorf("identity changed: %v %q %q %q", o2.DebugID(), o2.CodeID(), o2.Name(), o2.Arch())
			}
			if o2.Features()|debugfiles.FeatureUnwind != o.Features()|debugfiles.FeatureUnwind {
				t.Errorf("features %v, want %v (without unwind)", o2.Features(), o.Features())
			}
			f1, f2 := functionsOf(t, o), functionsOf(t, o2)
			// FromObject sorts FUNCs and drops exact duplicates; compare as sets
			// keyed by address and name.
			key := func(f *debugfiles.Function) string { return fmt.Sprintf("%s@%#x", f.Name, f.Address) }
			byKey := map[string]*debugfiles.Function{}
			for _, f := range f1 {
				if _, dup := byKey[key(f)]; !dup {
					byKey[key(f)] = f
				}
			}
			if len(f2) != len(byKey) {
				t.Errorf("%d functions, want %d", len(f2), len(byKey))
			}
			for _, f := range f2 {
				want := byKey[key(f)]
				if want == nil {
					t.Errorf("unexpected function %s at %#x", f.Name, f.Address)
					continue
				}
				if !reflect.DeepEqual(canon(f), canon(want)) {
					t.Errorf("function %s at %#x differs after the round trip", f.Name, f.Address)
				}
			}
			var s1, s2 []debugfiles.Symbol
			funcAt := map[uint64]bool{}
			for s := range o.Symbols() {
				if s.Size != 0 {
					funcAt[s.Address] = true
				}
			}
			// Older dump_syms kept PUBLICs at FUNC starts (for ARM, at the
			// start with the Thumb bit set); dump_syms' rule drops them.
			arm := o.BreakpadArch() == "arm"
			for s := range o.Symbols() {
				if s.Size != 0 || !(funcAt[s.Address] || (arm && s.Address&1 == 1 && funcAt[s.Address-1])) {
					s1 = append(s1, s)
				}
			}
			for s := range o2.Symbols() {
				s2 = append(s2, s)
			}
			if a, b := symbolSet(s1), symbolSet(s2); !reflect.DeepEqual(a, b) {
				n := 0
				for s, c := range a {
					if b[s] != c && n < 5 {
						t.Errorf("symbol %+v: %d times, %d after the round trip", s, c, b[s])
						n++
					}
				}
				for s, c := range b {
					if a[s] != c && n < 10 {
						t.Errorf("symbol %+v: %d times after the round trip, %d before", s, c, a[s])
						n++
					}
				}
			}
		})
	}
}

// canon renders a function tree with inlinees of one name and call site in
// address order; FromObject merges such siblings into one INLINE record,
// which reads back as the same set of inlinees.
func canon(f *debugfiles.Function) string {
	var b strings.Builder
	var walk func(f *debugfiles.Function, depth int)
	walk = func(f *debugfiles.Function, depth int) {
		fmt.Fprintf(&b, "%*s%s %#x+%#x called at %s:%d\n", depth, "", f.Name, f.Address, f.Size, f.CallFile.Name, f.CallLine)
		for _, l := range f.Lines {
			fmt.Fprintf(&b, "%*s  %#x+%#x %s:%d\n", depth, "", l.Address, l.Size, l.File.Name, l.Line)
		}
		for _, c := range f.Inlinees {
			walk(c, depth+1)
		}
	}
	walk(f, 0)
	return b.String()
}

// symbolSet is a set of symbols; sizes of PUBLIC-derived entries are 0 in
// both, FUNC entries keep theirs.
func symbolSet(s []debugfiles.Symbol) map[debugfiles.Symbol]int {
	m := map[debugfiles.Symbol]int{}
	for _, x := range s {
		m[x]++
	}
	return m
}

// TestWriteObjectDropsUnusedFiles checks the streaming writer against
// FromObject where a dropped duplicate is the only user of a file and an
// inline origin.
func TestWriteObjectDropsUnusedFiles(t *testing.T) {
	src := func(n string) debugfiles.FileInfo { return debugfiles.FileInfo{CompDir: "/build", Name: n} }
	obj := &fakeObject{
		format: debugfiles.FormatELF, arch: "x86_64", name: "libdemo.so",
		features: debugfiles.FeatureSymtab | debugfiles.FeatureDebug,
		funcs: []*debugfiles.Function{
			{Address: 0x1000, Size: 0x40, Name: "_Z5alphav", Lines: []debugfiles.LineInfo{{Address: 0x1000, File: src("a.cc"), Line: 3}}},
			{Address: 0x1000, Size: 0x40, Name: "_Z5gammav",
				Lines:    []debugfiles.LineInfo{{Address: 0x1000, File: src("only-gamma.h"), Line: 9}},
				Inlinees: []*debugfiles.Function{{Address: 0x1004, Size: 4, Name: "_Z5deltav", CallFile: src("only-gamma.h"), CallLine: 9}}},
			{Address: 0x2000, Size: 0x10, Name: "_Z4zetav", Lines: []debugfiles.LineInfo{{Address: 0x2000, File: src("z.cc"), Line: 1}}},
		},
		syms: []debugfiles.Symbol{{Name: "_start", Address: 0x800}},
	}
	for _, opts := range []ConvertOptions{{}, {Multiple: true}, {Multiple: true, NoInlines: true}} {
		m, err := FromObject(obj, opts)
		if err != nil {
			t.Fatal(err)
		}
		var want, got bytes.Buffer
		if err := WriteModule(&want, m); err != nil {
			t.Fatal(err)
		}
		if err := WriteObject(&got, obj, opts); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%+v: WriteObject wrote\n%s\nFromObject+WriteModule\n%s", opts, got.String(), want.String())
		}
		if opts.Multiple && strings.Contains(got.String(), "only-gamma") {
			t.Errorf("%+v: the dropped function's file is listed:\n%s", opts, got.String())
		}
	}
}
