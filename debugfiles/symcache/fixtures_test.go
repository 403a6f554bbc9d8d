package symcache_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/symoracle"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// randomAddrs is how many random code addresses each object is checked at,
// on top of every function, inlinee and line boundary.
const randomAddrs = 100_000

// fixtureObject is one object of a fixture output, opened as Cairn's
// commands open it.
type fixtureObject struct {
	label  string
	output string // the file opened
	obj    debugfiles.Object
	fns    []*debugfiles.Function
	// code is the object's code range (absolute), or zero when the
	// standard library cannot read the file's sections.
	code fixtures.CodeRange
}

// fixtureObjects opens every output of a fixture that loader.Open reads
// (formats it does not read yet are skipped, so new formats are picked up
// as soon as the loader knows them), pairs stripped binaries with their
// debug files, and reads all functions.
func fixtureObjects(t *testing.T, name string) []fixtureObject {
	t.Helper()
	r, _ := fixtures.Lookup(name)
	dir := fixtures.GetDir(t, name)
	var out []fixtureObject
	for _, o := range r.Outputs {
		if strings.HasSuffix(o, "/") || strings.HasSuffix(o, ".dwo") || strings.HasSuffix(o, ".dwp") || strings.HasSuffix(o, ".plist") {
			continue // directories, split-DWARF parts, bundle metadata
		}
		path := filepath.Join(dir, o)
		a, err := loader.Open(path)
		if errors.Is(err, loader.ErrNotYetSupported) || errors.Is(err, debugfiles.ErrUnknownFormat) {
			t.Logf("%s: %v (skipped)", o, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		ranges, _ := fixtures.TextRanges(path)
		for _, obj := range a.Objects {
			obj, err := a.WithDebugFile(obj, []string{filepath.Join(dir, "debug")})
			if err != nil {
				t.Fatal(err)
			}
			fo := fixtureObject{label: o, output: path, obj: obj}
			if len(a.Objects) > 1 {
				fo.label += "/" + obj.Arch()
			}
			for _, cr := range ranges {
				if len(ranges) == 1 || cr.Arch == obj.Arch() {
					fo.code = cr
				}
			}
			fo.fns = readFunctions(t, obj)
			out = append(out, fo)
		}
	}
	return out
}

func readFunctions(t testing.TB, obj debugfiles.Object) []*debugfiles.Function {
	t.Helper()
	return symoracle.ObjectFunctions(t, obj)
}

// build writes a symcache of fns and opens it from memory.
func build(t testing.TB, info symcache.Info, fns []*debugfiles.Function, opts symcache.Options) (*symcache.Cache, []byte) {
	t.Helper()
	b := symcache.NewBuilder(info, opts)
	for _, f := range fns {
		b.Add(f)
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	c, err := symcache.New(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(); err != nil {
		t.Fatal(err)
	}
	return c, buf.Bytes()
}

// boundaryAddrs lists every function, inlinee and line start, the byte
// before it and its last byte: the addresses where answers change.
func boundaryAddrs(fns []*debugfiles.Function) []uint64 {
	var out []uint64
	var walk func(f *debugfiles.Function)
	walk = func(f *debugfiles.Function) {
		out = append(out, f.Address, f.Address-1, f.End()-1, f.End())
		for _, l := range f.Lines {
			out = append(out, l.Address, l.Address-1, l.Address+l.Size-1)
		}
		for _, c := range f.Inlinees {
			if c != nil {
				walk(c)
			}
		}
	}
	for _, f := range fns {
		if f != nil {
			walk(f)
		}
	}
	return out
}

// lookupAddrs returns randomAddrs random addresses in the object's code
// (relative to its load address; over the functions' span when the code
// range is unknown) and every boundary.
func lookupAddrs(fo fixtureObject, seed uint64) []uint64 {
	load := fo.obj.LoadAddress()
	lo, hi := fo.code.Start-load, fo.code.End-load
	if fo.code.End == 0 {
		lo, hi = ^uint64(0), 0
		for _, f := range fo.fns {
			if f != nil && f.Size > 0 {
				lo, hi = min(lo, f.Address), max(hi, f.End())
			}
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := boundaryAddrs(fo.fns)
	if hi > lo {
		for range randomAddrs {
			out = append(out, lo+rng.Uint64N(hi-lo))
		}
	}
	return out
}

// sameFrames compares a symcache answer with the reference index's.
func sameFrames(got []symcache.Frame, want []debugfiles.Frame) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := &got[i], want[i]
		if g.Function != w.Function || g.Path() != w.File.Path() || g.Line != w.Line || g.Address != w.Address || g.Inlined != w.Inlined {
			return false
		}
	}
	return true
}

func fmtCache(fs []symcache.Frame) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s@%#x %s:%d inl=%v", f.Function, f.Address, f.Path(), f.Line, f.Inlined))
	}
	return "[" + strings.Join(parts, " | ") + "]"
}

func fmtIndex(fs []debugfiles.Frame) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s@%#x %s:%d inl=%v", f.Function, f.Address, f.File.Path(), f.Line, f.Inlined))
	}
	return "[" + strings.Join(parts, " | ") + "]"
}

// checkIdentical compares the symcache with debugfiles.NewIndex over the
// same functions at addrs and reports every difference (up to ten).
func checkIdentical(t *testing.T, label string, c *symcache.Cache, ix *debugfiles.Index, addrs []uint64) {
	t.Helper()
	var got, general []symcache.Frame
	var want []debugfiles.Frame
	bad := 0
	for _, a := range addrs {
		got = c.Lookup(a, got[:0])
		general = symcache.LookupAny(c, a, general[:0])
		want = ix.AppendLookup(want[:0], a)
		if !sameFrames(got, want) || !sameFrames(general, want) {
			bad++
			if bad <= 10 {
				t.Errorf("%s %#x:\n  symcache %s\n  general  %s\n  index    %s", label, a, fmtCache(got), fmtCache(general), fmtIndex(want))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d addresses differ", label, bad, len(addrs))
	}
}

// TestIdenticalToIndex builds the symcache of every object of every
// default fixture that the loader reads and checks that it answers exactly
// what debugfiles.NewIndex over the same functions answers, at 100,000
// random code addresses and every function, inlinee and line boundary.
func TestIdenticalToIndex(t *testing.T) {
	for _, name := range fixtures.Default() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for i, fo := range fixtureObjects(t, name) {
				c, data := build(t, symcache.InfoOf(fo.obj), fo.fns, symcache.Options{})
				addrs := lookupAddrs(fo, uint64(i+1))
				ix := debugfiles.NewIndex(fo.fns)
				checkIdentical(t, fo.label, c, ix, addrs)
				st := c.Stats()
				t.Logf("%s: %d functions, %d bytes (%d entries, %d nodes, %d pages of %d bytes), %d addresses identical",
					fo.label, len(fo.fns), len(data), st.Entries, st.Nodes, st.Pages, st.PageSize, len(addrs))
			}
		})
	}
}

// TestIdenticalDenseAndSparse repeats the identity check with very small
// and very large pages, which exercise page starts inside entries and
// long in-page decoding.
func TestIdenticalDenseAndSparse(t *testing.T) {
	for _, name := range []string{"elf-x86_64-gcc-O2", "elf-x86_64-clang-O3", "macho-fat"} {
		t.Run(name, func(t *testing.T) {
			for i, fo := range fixtureObjects(t, name) {
				ix := debugfiles.NewIndex(fo.fns)
				addrs := lookupAddrs(fo, uint64(i+7))
				for _, per := range []int{1, 2, 1000} {
					c, _ := build(t, symcache.InfoOf(fo.obj), fo.fns, symcache.Options{PageEntries: per})
					checkIdentical(t, fmt.Sprintf("%s/page%d", fo.label, per), c, ix, addrs)
				}
			}
		})
	}
}

// TestIdenticalBreakpad checks Breakpad .sym input (FUNC, line, INLINE and
// PUBLIC records): .sym files converted from fixtures, with INLINE records,
// and every .sym of the peers' Breakpad test data.
func TestIdenticalBreakpad(t *testing.T) {
	var paths []string
	for _, name := range []string{"elf-x86_64-gcc-O2", "elf-x86_64-clang-O3", "elf-x86_64-gcc-O2-large"} {
		for _, fo := range fixtureObjects(t, name) {
			m, err := breakpad.FromObject(fo.obj, breakpad.ConvertOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), name+".sym")
			var buf bytes.Buffer
			if err := breakpad.WriteModule(&buf, m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	if dir := filepath.Join(testtools.RepoRoot(), "..", "shared", "fixtures", "peers"); dirExists(dir) {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".sym") {
				paths = append(paths, p)
			}
			return nil
		})
	}
	for i, p := range paths {
		o, err := breakpad.Open(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		fo := fixtureObject{label: filepath.Base(p), output: p, obj: o, fns: readFunctions(t, o)}
		c, _ := build(t, symcache.InfoOf(o), fo.fns, symcache.Options{})
		checkIdentical(t, fo.label, c, debugfiles.NewIndex(fo.fns), lookupAddrs(fo, uint64(i+100)))
		o.Close()
	}
	t.Logf("%d .sym files identical", len(paths))
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// With FillFromSymbols, code the DWARF leaves out (GCC's crt code) is
// named from the symbol table, without a file or line; every address the
// debug information covers answers as without it.
func TestFillFromSymbols(t *testing.T) {
	for _, fo := range fixtureObjects(t, "elf-x86_64-gcc-O2") {
		if fo.obj.Features()&debugfiles.FeatureDebug == 0 {
			continue
		}
		var plain, filled bytes.Buffer
		if err := symcache.Write(&plain, fo.obj, symcache.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := symcache.Write(&filled, fo.obj, symcache.Options{FillFromSymbols: true}); err != nil {
			t.Fatal(err)
		}
		p, err := symcache.New(plain.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		f, err := symcache.New(filled.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		named := 0
		for sym := range fo.obj.Symbols() {
			if sym.Name == "" || sym.Size == 0 {
				continue
			}
			addr := sym.Address - fo.obj.LoadAddress()
			pf, ff := p.Lookup(addr, nil), f.Lookup(addr, nil)
			// Functions are numbered in order of appearance, which the
			// added symbols change.
			for _, fr := range [][]symcache.Frame{pf, ff} {
				for i := range fr {
					fr[i].FunctionIndex = 0
				}
			}
			switch {
			case len(pf) > 0:
				if fmt.Sprint(pf) != fmt.Sprint(ff) {
					t.Errorf("%s: %#x: %v with the symbols, %v without", fo.label, addr, ff, pf)
				}
			case len(ff) != 1 || ff[0].Function != sym.Name || ff[0].Line != 0:
				t.Errorf("%s: %#x (%s, not in the DWARF): %v, want the symbol alone", fo.label, addr, sym.Name, ff)
			default:
				named++
			}
		}
		if named == 0 {
			t.Errorf("%s: no symbol outside the DWARF was named (the fixture has crt code)", fo.label)
		}
	}
}

// TestAfterReading checks that Write calls Options.AfterReading once,
// after the functions are read and before a byte is written, and that the
// symcache is the same with it.
func TestAfterReading(t *testing.T) {
	for _, fo := range fixtureObjects(t, "elf-x86_64-gcc-O2") {
		var plain, hooked bytes.Buffer
		if err := symcache.Write(&plain, fo.obj, symcache.Options{}); err != nil {
			t.Fatal(err)
		}
		calls, written := 0, -1
		opts := symcache.Options{AfterReading: func() { calls++; written = hooked.Len() }}
		if err := symcache.Write(&hooked, fo.obj, opts); err != nil {
			t.Fatal(err)
		}
		if calls != 1 || written != 0 {
			t.Errorf("%s: AfterReading called %d times, with %d bytes written; want once, with none", fo.label, calls, written)
		}
		if !bytes.Equal(plain.Bytes(), hooked.Bytes()) {
			t.Errorf("%s: the symcache differs with AfterReading", fo.label)
		}
	}
}
