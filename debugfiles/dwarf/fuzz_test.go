package dwarf_test

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
)

// fuzzSeeds builds the C oracle program in a few configurations and returns
// their DWARF sections; without a compiler the fuzz target starts from an
// empty corpus.
func fuzzSeeds(f *testing.F) []*dwarf.Sections { return fuzzSeedsT(f) }

func fuzzSeedsT(f testing.TB) []*dwarf.Sections {
	var out []*dwarf.Sections
	dir := f.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "src"), os.DirFS("testdata/src")); err != nil {
		f.Fatal(err)
	}
	for i, args := range [][]string{
		{"gcc", "-O2", "-gdwarf-4"},
		{"gcc", "-O2", "-gdwarf-5"},
		{clang, "-O2", "-gdwarf-5"},
		{"gcc", "-O2", "-gdwarf-5", "-gsplit-dwarf"},
	} {
		if _, err := exec.LookPath(args[0]); err != nil {
			continue
		}
		out1 := filepath.Join(dir, "seed"+string(rune('0'+i)))
		cmd := exec.Command(args[0], append(args[1:], "-o", out1, "src/cprog.c", "src/cutil.c")...)
		cmd.Dir = dir
		if err := cmd.Run(); err != nil {
			continue
		}
		ef, err := elf.Open(out1)
		if err != nil {
			f.Fatal(err)
		}
		s, err := elfSections(ef, false)
		ef.Close()
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// FuzzSession feeds mutated DWARF sections to both sessions, the index and
// the package reader: none may panic, and the work they do is bounded by
// the input size.
func FuzzSession(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.Info, s.Abbrev, s.Str, s.StrOffsets, s.LineStr, s.Line, s.Addr, s.Ranges, s.RngLists, s.CUIndex)
	}
	f.Fuzz(func(t *testing.T, info, abbrev, str, strOffsets, lineStr, line, addr, ranges, rnglists, cuIndex []byte) {
		sec := &dwarf.Sections{
			Info: info, Abbrev: abbrev, Str: str, StrOffsets: strOffsets, LineStr: lineStr,
			Line: line, Addr: addr, Ranges: ranges, RngLists: rnglists, CUIndex: cuIndex,
		}
		// Skeletons resolve to the same data, so that the split-unit
		// paths see hostile input too.
		opts := dwarf.Options{ResolveDWOSections: func(string, string, uint64) (*dwarf.Sections, error) { return sec, nil }}
		before := allocated()
		if s, err := dwarf.NewSessionFromSections(sec, opts); err == nil {
			exercise(t, s)
		}
		// The session's work budget is 64 units per input byte plus
		// 65536, and the split data (the same sections here) earns it
		// once more; a unit allocates a few hundred bytes at most.
		size := uint64(len(info) + len(abbrev) + len(str) + len(strOffsets) + len(lineStr) + len(line) + len(addr) + len(ranges) + len(rnglists) + len(cuIndex))
		units := 2 * (64*size + 1<<16)
		if got := allocated() - before; got > 512*units+64<<20 {
			t.Fatalf("allocated %d bytes for %d bytes of input", got, size)
		}
		if pkg, err := dwarf.NewPackage(sec); err == nil {
			pkg.Resolve("", "", 1)
		}
		// Sessions over debug/dwarf (NewSession) are not fed hostile
		// input: debug/dwarf's LineReader sizes its tables from a line
		// header's entry counts, and a header of a few hundred bytes
		// makes it spend seconds or ask for terabytes (a fatal error, not
		// a panic). Cairn reads untrusted files through its own reader.
	})
}

// allocated is the bytes allocated so far, read without stopping the world
// (runtime.ReadMemStats would halve the fuzzer's speed).
func allocated() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

func exercise(t *testing.T, s *dwarf.Session) {
	// The streaming forms build units on several goroutines; the one
	// reusing its storage must yield the same functions and the same
	// error.
	var n int
	var cerr error
	for cf, err := range s.CompactFunctions() {
		if err != nil {
			cerr = err
			break
		}
		n++
		for _, r := range cf.Rows {
			if int(r.File) < len(cf.Files) {
				_ = cf.Files[r.File].Path()
			}
		}
	}
	var tn int
	var terr error
	var named, gaps []string
	describe := func(cf *dwarf.CompactFunction) string {
		return fmt.Sprintf("%#x+%#x %s %v", cf.Address, cf.Size, cf.Name, dwarf.CompactLines(cf))
	}
	for cf, err := range s.TransientCompactFunctions() {
		if err != nil {
			terr = err
			break
		}
		tn++
		if cf.Name != "" {
			named = append(named, describe(cf))
		}
		if cf.Gap {
			gaps = append(gaps, describe(cf))
		}
	}
	if tn != n || fmt.Sprint(terr) != fmt.Sprint(cerr) {
		t.Fatalf("TransientCompactFunctions: %d functions, error %v; CompactFunctions: %d, %v", tn, terr, n, cerr)
	}
	// TransientSubprograms reads a few units at a time: an error may come
	// after other functions than the whole-program walk's, but input read
	// without one yields the same functions with names.
	var sub []string
	var serr error
	for cf, err := range s.TransientSubprograms() {
		if err != nil {
			serr = err
			break
		}
		if cf.Name != "" {
			sub = append(sub, fmt.Sprintf("%#x+%#x %s %v", cf.Address, cf.Size, cf.Name, dwarf.CompactLines(cf)))
		}
	}
	if terr == nil && (serr != nil || !slices.Equal(sub, named)) {
		t.Fatalf("TransientSubprograms: %d named functions, error %v; TransientCompactFunctions: %d", len(sub), serr, len(named))
	}
	// TransientSubprogramsAndGaps, batch by batch whatever the size, and
	// its gaps clipped, yields what the whole-program walk does.
	old := dwarf.SetStreamMinInfo(0)
	var clip dwarf.GapClipper
	var sg, gg []string
	for cf, err := range s.TransientSubprogramsAndGaps() {
		if err != nil {
			serr = err
			break
		}
		if clip.Note(cf) && cf.Name != "" {
			sg = append(sg, describe(cf))
		}
	}
	dwarf.SetStreamMinInfo(old)
	for cf := range clip.Gaps() {
		gg = append(gg, describe(cf))
	}
	slices.Sort(gaps)
	slices.Sort(gg)
	if terr == nil && (serr != nil || !slices.Equal(sg, named) || !slices.Equal(gg, gaps)) {
		t.Fatalf("TransientSubprogramsAndGaps: %d named functions and %d gaps, error %v; TransientCompactFunctions: %d and %d", len(sg), len(gg), serr, len(named), len(gaps))
	}
	fns, err := s.AllFunctions()
	if err != nil {
		return
	}
	ix := debugfiles.NewIndex(fns)
	for _, f := range fns {
		ix.Lookup(f.Address)
		ix.Lookup(f.Address + f.Size/2)
	}
}
