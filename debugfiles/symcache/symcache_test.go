package symcache_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
)

func fn(name string, addr, size uint64, inlinees ...*debugfiles.Function) *debugfiles.Function {
	return &debugfiles.Function{Name: name, Address: addr, Size: size, Inlinees: inlinees}
}

func line(addr, size uint64, file string, n uint32) debugfiles.LineInfo {
	return debugfiles.LineInfo{Address: addr, Size: size, File: debugfiles.FileInfo{Name: file}, Line: n}
}

var testInfo = symcache.Info{Arch: "x86_64", LoadAddress: 0x400000, Format: debugfiles.FormatELF,
	DebugID: debugid.ID{GUID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Age: 3}}

// trees returns the function trees of the debugfiles index tests and more
// shapes: overlapping functions, twins, an inline chain with a line
// fallback, lines of size 0, a chain deeper than the lookup bound, nil
// inlinees, overlapping inlinees, an inlinee starting before its caller,
// an overflowing range, a far-away
// function (a separate region), paths joined from compilation and
// include directories.
func trees() []*debugfiles.Function {
	g := fn("g", 0x1120, 0x10)
	g.CallFile, g.CallLine = debugfiles.FileInfo{Name: "f.h"}, 7
	g.Lines = []debugfiles.LineInfo{line(0x1120, 0x10, "g.h", 3)}
	f := fn("f", 0x1110, 0x30, g)
	f.CallFile, f.CallLine = debugfiles.FileInfo{Name: "main.c", Dir: "src", CompDir: "/build"}, 42
	f.Lines = []debugfiles.LineInfo{line(0x1120, 0, "f.h", 6), line(0x1110, 0x10, "f.h", 5)}
	h := fn("h", 0x1130, 0x8)
	f.Inlinees = append(f.Inlinees, h, nil)
	top := fn("_ZN4main3runEv", 0x1100, 0x100, f)
	top.Lines = []debugfiles.LineInfo{line(0x1100, 0x80, "main.c", 40), line(0x1190, 0x20, `C:\src\win.c`, 50)}

	// Overlapping inlinees: the later start wins until its end, then
	// nothing (the reference looks at the last one starting before).
	ov := fn("ov", 0x1300, 0x100, fn("a", 0x1310, 0x80), fn("b", 0x1320, 0x10), fn("c", 0x1320, 0x20))
	ov.Lines = []debugfiles.LineInfo{line(0x1300, 0, "ov.c", 1), line(0x1350, 4, "ov.c", 2)}

	deep := fn("d299", 0x2000, 1)
	for i := 298; i >= 0; i-- {
		deep = fn(fmt.Sprintf("d%d", i), 0x2000, 0x10, nil, deep)
	}
	deep.Lines = []debugfiles.LineInfo{line(0x2000, 0x10, "deep.c", 9)}

	// An inlinee starting before its caller, as code moved to a cold
	// section can: its address goes to the table of absolute addresses.
	before := fn("before", 0x4ff8, 0x20)
	before.CallFile, before.CallLine = debugfiles.FileInfo{Name: "early.c"}, 4
	before.Lines = []debugfiles.LineInfo{line(0x4ff8, 0x20, "before.h", 2)}
	early := fn("early", 0x5000, 0x40, before)
	early.Lines = []debugfiles.LineInfo{line(0x5000, 0x40, "early.c", 3)}

	wrap := fn("wrap", 0x3000, 0x100, fn("overflow", 0x3010, ^uint64(0)))
	far := fn("far", 0x7000_0000_0000, 0x40)
	far.Lines = []debugfiles.LineInfo{line(0x7000_0000_0000, 0x40, "/abs/far.c", 77)}
	return []*debugfiles.Function{
		top,
		fn("outer", 0x1500, 0x100), fn("inner", 0x1550, 0x30), fn("partial", 0x15f0, 0x40),
		fn("twin1", 0x1700, 0x10), fn("twin2", 0x1700, 0x10), fn("empty", 0x1800, 0), nil,
		ov, deep, wrap, far, fn("", 0x4000, 0x10), early, fn("end", ^uint64(0)-0x10, 0x10),
	}
}

func TestSyntheticIdenticalToIndex(t *testing.T) {
	c, _ := build(t, testInfo, trees(), symcache.Options{})
	ix := debugfiles.NewIndex(trees())
	addrs := boundaryAddrs(trees())
	for a := uint64(0x10f0); a < 0x5100; a++ {
		addrs = append(addrs, a)
	}
	addrs = append(addrs, 0, 1, 0x7000_0000_0000, 0x7000_0000_003f, 0x7000_0000_0040, ^uint64(0), ^uint64(0)-1)
	checkIdentical(t, "synthetic", c, ix, addrs)
	for _, per := range []int{1, 3, 1 << 20} {
		c, _ := build(t, testInfo, trees(), symcache.Options{PageEntries: per})
		checkIdentical(t, fmt.Sprintf("synthetic/page%d", per), c, ix, addrs)
	}
}

// TestSharedSites covers call sites that several calling functions
// share, as the instances of a template share the calls in its body:
// each caller's sites are laid out apart, so such a site is placed with
// every caller, and the inlined calls of one function in several places
// must still find theirs. Call lines of 2^24 and more do not fit the
// builder's packed keys, which keeps such sites apart: the same layout
// is checked with them, alone and mixed with packed ones.
// TestRandomLinesIdenticalToIndex checks the lines of trees, at every
// level, against debugfiles.NewIndex at every address of their functions:
// random rows of random sizes (0, short of the next row, past it, and
// wrapping around the address space), sharing addresses, leaving gaps,
// starting before their function and sometimes out of order.
func TestRandomLinesIdenticalToIndex(t *testing.T) {
	files := []debugfiles.FileInfo{{Name: "a.c", CompDir: "/src"}, {Name: "b.h", Dir: "inc", CompDir: "/src"}, {}}
	for seed := range uint64(300) {
		gen := func() []*debugfiles.Function {
			rng := rand.New(rand.NewPCG(seed, 7))
			var grow func(addr, size uint64, depth int) *debugfiles.Function
			grow = func(addr, size uint64, depth int) *debugfiles.Function {
				f := fn(fmt.Sprintf("f%d", rng.IntN(9)), addr, size)
				if depth > 1 {
					f.CallFile, f.CallLine = files[rng.IntN(len(files))], uint32(rng.IntN(50))
				}
				for a := addr - uint64(rng.IntN(3))*4; a < addr+size; a += uint64(rng.IntN(12)) {
					if rng.IntN(5) == 0 {
						continue
					}
					s := uint64(rng.IntN(16))
					if rng.IntN(25) == 0 {
						s = ^uint64(0) - a + 1 + uint64(rng.IntN(4)) // the end wraps
					}
					f.Lines = append(f.Lines, debugfiles.LineInfo{Address: a, Size: s, File: files[rng.IntN(len(files))], Line: uint32(1 + rng.IntN(30))})
				}
				if n := len(f.Lines); n > 1 && rng.IntN(6) == 0 {
					i, j := rng.IntN(n), rng.IntN(n)
					f.Lines[i], f.Lines[j] = f.Lines[j], f.Lines[i]
				}
				if depth < 4 {
					for range rng.IntN(3) {
						a := addr + uint64(rng.IntN(int(size)))
						f.Inlinees = append(f.Inlinees, grow(a, uint64(1+rng.IntN(int(size)/2+1)), depth+1))
					}
				}
				return f
			}
			var fns []*debugfiles.Function
			for i := range 4 {
				fns = append(fns, grow(uint64(0x1000+i*0x100), uint64(0x40+rng.IntN(0x80)), 1))
			}
			return fns
		}
		c, _ := build(t, testInfo, gen(), symcache.Options{})
		var addrs []uint64
		for a := uint64(0xff0); a < 0x1500; a++ {
			addrs = append(addrs, a)
		}
		checkIdentical(t, fmt.Sprintf("seed %d", seed), c, debugfiles.NewIndex(gen()), addrs)
		if t.Failed() {
			return
		}
	}
}

func TestSharedSites(t *testing.T) {
	for _, tc := range []struct {
		name       string
		line, wide uint32 // call lines of the shared callee and of the instances
	}{
		{"packed", 12, 30},
		{"packed, long", 1<<16 + 12, 1<<23 + 30},
		{"wide", 1<<24 + 12, 1<<24 + 30},
		{"mixed", 12, 1<<30 + 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fns []*debugfiles.Function
			for i := range uint64(4) {
				base := 0x1000 + i*0x100
				callee := func(name string, addr uint64) *debugfiles.Function {
					f := fn(name, addr, 0x10)
					f.CallFile, f.CallLine = debugfiles.FileInfo{Name: "tmpl.h"}, tc.line
					f.Lines = []debugfiles.LineInfo{line(addr, 0x10, "g.h", 3)}
					return f
				}
				// Two instances (by name) call g from the same place,
				// and the second instance of each also calls it through
				// an inlined helper, whose own sites are shared across
				// the top-level functions.
				inst := fn(fmt.Sprintf("tmpl<%d>", i%2), base+0x10, 0x80, callee("g", base+0x20), callee("h", base+0x40))
				inst.CallFile, inst.CallLine = debugfiles.FileInfo{Name: "main.c"}, tc.wide+uint32(i)
				inst.Lines = []debugfiles.LineInfo{line(base+0x10, 0x80, "tmpl.h", 11)}
				top := fn(fmt.Sprintf("top%d", i), base, 0xc0, inst, callee("g", base+0x90))
				top.Lines = []debugfiles.LineInfo{line(base, 0xc0, "main.c", 29)}
				fns = append(fns, top)
			}
			c, _ := build(t, testInfo, fns, symcache.Options{})
			var addrs []uint64
			for a := uint64(0xff0); a < 0x1410; a++ {
				addrs = append(addrs, a)
			}
			checkIdentical(t, "shared sites", c, debugfiles.NewIndex(fns), addrs)
			if fr := c.Lookup(0x1025, nil); len(fr) != 3 || fr[1].Line != tc.line || fr[2].Line != tc.wide {
				t.Errorf("frames at 0x1025: %+v", fr)
			}
		})
	}
}

// TestNamelessCode checks code that the debug information has lines for
// but no function (padding between functions, say): the symcache answers
// it as the index does, a frame without a name whose address is where the
// code begins, whether the writer made it node 0 entries (after a
// function's code) or kept a node (after a gap, or after other nameless
// code, where the start of a run of node 0 entries would not be its own).
func TestNamelessCode(t *testing.T) {
	named := func(name string, addr, size uint64, n uint32) *debugfiles.Function {
		f := fn(name, addr, size)
		f.Lines = []debugfiles.LineInfo{line(addr, size, "main.c", n)}
		return f
	}
	nameless := func(addr uint64, lines ...debugfiles.LineInfo) *debugfiles.Function {
		f := fn("", addr, 0)
		for _, l := range lines {
			f.Size += l.Size
		}
		f.Lines = lines
		return f
	}
	fns := []*debugfiles.Function{
		named("a", 0x1000, 0x20, 10),
		nameless(0x1020, line(0x1020, 0x8, "main.c", 11), line(0x1028, 0x18, "main.c", 12)), // node 0, two entries
		named("b", 0x1040, 0x10, 30),
		nameless(0x1060, line(0x1060, 0x10, "main.c", 40)), // after a gap: a node
		nameless(0x1070, line(0x1070, 0x8, "x.c", 1)),      // after the node: node 0
		nameless(0x1078, line(0x1078, 0x8, "x.c", 2)),      // after node 0: a node
		named("c", 0x1080, 0x10, 50),
	}
	for _, per := range []int{0, 1} {
		c, _ := build(t, testInfo, fns, symcache.Options{PageEntries: per})
		var addrs []uint64
		for a := uint64(0xff0); a < 0x10a0; a++ {
			addrs = append(addrs, a)
		}
		checkIdentical(t, fmt.Sprintf("pages of %d entries", per), c, debugfiles.NewIndex(fns), addrs)
		if n := c.Stats().Nodes; n != 5 {
			t.Errorf("pages of %d entries: %d nodes, want 5: a, b, c and two of the four nameless parts", per, n)
		}
		if fr := c.Lookup(0x1030, nil); len(fr) != 1 || fr[0].Function != "" || fr[0].FunctionIndex != symcache.NoFunction || fr[0].Address != 0x1020 || fr[0].Line != 12 {
			t.Errorf("pages of %d entries: frames at 0x1030: %+v", per, fr)
		}
		if at, ok := c.RunStart(0x1030); !ok || at != 0x1028 {
			t.Errorf("pages of %d entries: RunStart(0x1030) = %#x, %v; want 0x1028", per, at, ok)
		}
		if _, ok := c.RunStart(0x1050); ok {
			t.Errorf("pages of %d entries: RunStart in a gap", per)
		}
	}
}

func TestLookupFrames(t *testing.T) {
	c, _ := build(t, testInfo, trees(), symcache.Options{})
	fr := c.Lookup(0x1124, nil)
	var got []string
	for _, f := range fr {
		got = append(got, fmt.Sprintf("%s %#x %s:%d %v %s", f.Function, f.Address, f.Path(), f.Line, f.Inlined, f.Lang))
	}
	want := []string{
		"g 0x1120 g.h:3 true unknown",
		"f 0x1110 f.h:7 true unknown",
		"_ZN4main3runEv 0x1100 /build/src/main.c:42 false cpp",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f := c.Lookup(0x1195, nil); len(f) != 1 || f[0].FileDir != `C:\src\` || f[0].FileName != "win.c" {
		t.Errorf("windows path split: %+v", f)
	}
	if c.FunctionName(fr[2].FunctionIndex) != "_ZN4main3runEv" {
		t.Errorf("FunctionName(%d) = %q", fr[2].FunctionIndex, c.FunctionName(fr[2].FunctionIndex))
	}
	if f := c.Lookup(0x2000, nil); len(f) != 256 || f[0].Function != "d255" || f[255].Function != "d0" {
		t.Errorf("deep chain: %d frames", len(f))
	}
	if c.DebugID() != testInfo.DebugID || c.Arch() != "x86_64" || c.LoadAddress() != 0x400000 || c.Format() != debugfiles.FormatELF {
		t.Errorf("identity: %v %q %#x %v", c.DebugID(), c.Arch(), c.LoadAddress(), c.Format())
	}
	if st := c.Stats(); st.Regions < 2 {
		t.Errorf("the far function should start a region of its own: %+v", st)
	}
}

// TestLookupReusedFrames checks that a lookup into frames left over from
// an earlier one (stale strings and fields in dst's spare capacity)
// answers what a lookup into nothing does.
func TestLookupReusedFrames(t *testing.T) {
	c, _ := build(t, testInfo, trees(), symcache.Options{})
	junk := symcache.Frame{Function: "junk", FunctionIndex: 99, Lang: symcache.LangRust, Inlined: true, Line: 77, Address: 0x77, FileDir: "/junk/", FileName: "junk.c"}
	buf := make([]symcache.Frame, 300)
	for _, a := range []uint64{0x1124, 0x1195, 0x2000, 0x1330, 0x1100, 5} {
		for i := range buf {
			buf[i] = junk
		}
		got := c.Lookup(a, buf[:1])[1:]
		want := c.Lookup(a, nil)
		if !slices.Equal(got, want) {
			t.Errorf("%#x: into reused frames %+v\nwant %+v", a, got, want)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	c, _ := build(t, testInfo, trees(), symcache.Options{})
	buf := make([]symcache.Frame, 0, 300)
	addrs := []uint64{0x1124, 0x1195, 0x2000, 0x1330, 0x7000_0000_0010, 5}
	if n := testing.AllocsPerRun(100, func() {
		for _, a := range addrs {
			buf = c.Lookup(a, buf[:0])
		}
	}); n != 0 {
		t.Errorf("%v allocations per lookup", n)
	}
}

func TestEmpty(t *testing.T) {
	c, data := build(t, testInfo, nil, symcache.Options{})
	if f := c.Lookup(0x1000, nil); len(f) != 0 {
		t.Errorf("empty cache answered %+v", f)
	}
	if len(data) > 212 { // the header
		t.Errorf("empty cache is %d bytes", len(data))
	}
}

func TestOpenFile(t *testing.T) {
	_, data := build(t, testInfo, trees(), symcache.Options{})
	path := filepath.Join(t.TempDir(), "x.symcache")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := symcache.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if f := c.Lookup(0x1124, nil); len(f) != 3 {
		t.Errorf("mapped lookup: %+v", f)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2, err := symcache.FromReaderAt(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f := c2.Lookup(0x1124, nil); len(f) != 3 {
		t.Errorf("FromReaderAt lookup: %+v", f)
	}
	if _, err := symcache.Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file opened")
	}
	if id, err := symcache.ReadDebugID(bytes.NewReader(data), int64(len(data))); err != nil || id != c2.DebugID() || id.IsZero() {
		t.Errorf("ReadDebugID = %v, %v; want %v", id, err, c2.DebugID())
	}
	for _, n := range []int{10, len(data) - 1} {
		if _, err := symcache.ReadDebugID(bytes.NewReader(data[:n]), int64(n)); !errors.Is(err, symcache.ErrCorrupt) {
			t.Errorf("ReadDebugID of %d bytes: %v, want ErrCorrupt", n, err)
		}
	}
}

// TestCorrupt checks the typed errors of Open on damaged files and that
// lookups on a file damaged past its header never panic.
func TestCorrupt(t *testing.T) {
	_, data := build(t, testInfo, trees(), symcache.Options{})
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(data)) }
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, symcache.ErrCorrupt},
		{"magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), symcache.ErrCorrupt},
		{"version", mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], symcache.Version+1); return b }), symcache.ErrVersion},
		{"header only", data[:20], symcache.ErrCorrupt},
		{"truncated", data[:len(data)-1], symcache.ErrCorrupt},
		{"extended", append(bytes.Clone(data), 0), symcache.ErrCorrupt},
		{"section past end", mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[76:], 1<<30); return b }), symcache.ErrCorrupt},
		{"count past end", mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[104:], 1<<30); return b }), symcache.ErrCorrupt},
		{"width", mut(func(b []byte) []byte { b[55] = 33; return b }), symcache.ErrCorrupt},
		{"page offset width", mut(func(b []byte) []byte { b[157] = 33; return b }), symcache.ErrCorrupt},
		{"directory file width", mut(func(b []byte) []byte { b[21] = 33; return b }), symcache.ErrCorrupt},
		{"directory line width", mut(func(b []byte) []byte { b[22] = 33; return b }), symcache.ErrCorrupt},
		{"decode table", mut(func(b []byte) []byte { b[166] = 7; return b }), symcache.ErrCorrupt},
		{"node table past end", mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[192:], 1<<30); return b }), symcache.ErrCorrupt},
		{"node directory past end", mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[196:], 1<<30); return b }), symcache.ErrCorrupt},
		{"node directory in the header", mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[196:], 8); return b }), symcache.ErrCorrupt},
		{"site flag width", mut(func(b []byte) []byte { b[23] = 2; return b }), symcache.ErrCorrupt},
		{"line base width", mut(func(b []byte) []byte { b[208] = 33; return b }), symcache.ErrCorrupt},
		{"line base shift", mut(func(b []byte) []byte { b[209] = 33; return b }), symcache.ErrCorrupt},
		{"top-level base width", mut(func(b []byte) []byte { b[210] = 65; return b }), symcache.ErrCorrupt},
		{"language width", mut(func(b []byte) []byte { b[211] = 4; return b }), symcache.ErrCorrupt},
		{"top-level table past end", mut(func(b []byte) []byte { b[210] = 64; binary.LittleEndian.PutUint32(b[185:], 1<<20); return b }), symcache.ErrCorrupt},
		{"exceptions past end", mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[204:], 1<<30); return b }), symcache.ErrCorrupt},
		{"exceptions in the header", mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[200:], 8); return b }), symcache.ErrCorrupt},
	} {
		_, err := symcache.New(tc.data)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		var fe *symcache.FormatError
		if tc.want == symcache.ErrCorrupt && !errors.As(err, &fe) {
			t.Errorf("%s: %v is not a *FormatError", tc.name, err)
		}
	}
	// A flipped body byte: Open accepts it (the header is intact), Verify
	// does not, and lookups stay safe.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		b := bytes.Clone(data)
		for k := 0; k < 1+i%4; k++ {
			b[181+rng.IntN(len(b)-181)] ^= byte(1 + rng.IntN(255))
		}
		c, err := symcache.New(b)
		if err != nil {
			continue
		}
		if c.Verify() == nil {
			t.Fatalf("round %d: Verify accepted a damaged body", i)
		}
		lookupAll(c)
	}
	// VerifyFile reads the file instead of mapping it and agrees with
	// Verify on an intact, a damaged and a truncated file.
	dir := t.TempDir()
	damaged := bytes.Clone(data)
	damaged[len(damaged)-1] ^= 0x40
	for _, f := range []struct {
		name string
		b    []byte
		ok   bool
	}{{"intact", data, true}, {"damaged", damaged, false}, {"truncated", data[:40], false}} {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, f.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := symcache.VerifyFile(path); (err == nil) != f.ok {
			t.Errorf("VerifyFile(%s) = %v", f.name, err)
		}
	}
}

// lookupAll looks up addresses around everything the tests build.
func lookupAll(c *symcache.Cache) int {
	var buf []symcache.Frame
	n := 0
	for _, a := range []uint64{0, 0x10ff, 0x1100, 0x1124, 0x1195, 0x1330, 0x1555, 0x2000, 0x3020, 0x4000, 0x7000_0000_0010, ^uint64(0) - 1} {
		for d := uint64(0); d < 4; d++ {
			buf = c.Lookup(a+d, buf[:0])
			n += len(buf)
		}
	}
	return n
}

func TestLanguage(t *testing.T) {
	for name, want := range map[string]symcache.Language{
		"main": symcache.LangUnknown, "_ZN3foo3barEv": symcache.LangCPlusPlus, "__ZN3foo3barEv": symcache.LangCPlusPlus,
		"_RNvCs1234_7mycrate3foo": symcache.LangRust, "_ZN7mycrate3foo17h0123456789abcdefE": symcache.LangRust,
		"$s4main3fooyyF": symcache.LangSwift, "_RAISE_SYNTAX_ERROR_INVALID_TARGET": symcache.LangUnknown,
		"_R0NvCs1234_7mycrate3foo": symcache.LangRust,
	} {
		c, _ := build(t, testInfo, []*debugfiles.Function{fn(name, 0x10, 4)}, symcache.Options{})
		if f := c.Lookup(0x10, nil); len(f) != 1 || f[0].Lang != want {
			t.Errorf("%s: %+v, want %v", name, f, want)
		}
	}
}

// FuzzSymcache opens mutated symcaches and looks addresses up: no input
// may panic, loop, or allocate more than the input's size.
func FuzzSymcache(f *testing.F) {
	for _, per := range []int{0, 1} {
		b := symcache.NewBuilder(testInfo, symcache.Options{PageEntries: per})
		for _, fn := range trees() {
			b.Add(fn)
		}
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes(), uint64(0x1124))
	}
	f.Fuzz(func(t *testing.T, data []byte, addr uint64) {
		id, idErr := symcache.ReadDebugID(bytes.NewReader(data), int64(len(data)))
		c, err := symcache.New(data)
		if err != nil {
			return
		}
		// What New accepts, its header alone gives the same id of.
		if idErr != nil || id != c.DebugID() {
			t.Fatalf("ReadDebugID = %v, %v; New's id %v", id, idErr, c.DebugID())
		}
		_ = c.Verify()
		buf := make([]symcache.Frame, 0, 8)
		buf = c.Lookup(addr, buf[:0])
		if len(buf) > 256 {
			t.Fatalf("%d frames", len(buf))
		}
		lookupAll(c)
	})
}

// TestOpenConstantHeap checks that opening costs the same few allocations
// whatever the size of the cache: nothing is parsed beyond the header.
func TestOpenConstantHeap(t *testing.T) {
	_, small := build(t, testInfo, trees(), symcache.Options{})
	fo := fixtureObjects(t, "elf-x86_64-gcc-O2-large")[0]
	_, large := build(t, symcache.InfoOf(fo.obj), fo.fns, symcache.Options{})
	count := func(data []byte) float64 {
		return testing.AllocsPerRun(50, func() {
			if _, err := symcache.New(data); err != nil {
				t.Fatal(err)
			}
		})
	}
	if s, l := count(small), count(large); s != l || l > 3 {
		t.Errorf("New allocates %v times for %d bytes and %v times for %d bytes", s, len(small), l, len(large))
	}
}

// TestWideNodeBlock gives a block of the node table column widths wider
// than one load, as only a damaged file has: Lookup must answer as its
// general path does, which reads the columns one by one.
func TestWideNodeBlock(t *testing.T) {
	_, data := build(t, testInfo, trees(), symcache.Options{})
	dir := binary.LittleEndian.Uint32(data[196:])
	// The first entry's offset takes the bit length of the node table's
	// length in bits; the row width, 7 bits, follows it: 127 bits.
	ow := bits.Len64(8 * uint64(binary.LittleEndian.Uint32(data[192:])))
	b := bytes.Clone(data)
	for i := range 7 {
		pos := uint64(dir)*8 + uint64(ow+i)
		b[pos>>3] |= 1 << (pos & 7)
	}
	c, err := symcache.New(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []uint64{0x1100, 0x1124, 0x1195, 0x1330} {
		got, want := c.Lookup(a, nil), symcache.LookupAny(c, a, nil)
		if !slices.Equal(got, want) {
			t.Errorf("%#x: Lookup %+v, general path %+v", a, got, want)
		}
	}
}

// TestSharedNamePrefixes checks that a function name another one begins
// with, up to a character other than a lowercase letter, takes no bytes of
// its own in the string table, through a chain of such names and whichever
// comes first, and that every lookup still names its function.
func TestSharedNamePrefixes(t *testing.T) {
	names := []string{
		"foo_impl",        // the beginning of foo_impl_locked
		"foo",             // of foo_impl, so of foo_impl_locked
		"foo_impl_locked", // keeps its bytes
		"fooBar",          // keeps its bytes: foo's are shared already
		"foob",            // keeps its bytes: it goes on with a lowercase letter
		"main.c",          // the name of a file: its bytes are the file's
		"x",
	}
	var fns []*debugfiles.Function
	for i, name := range names {
		f := fn(name, 0x1000+uint64(i)*0x10, 0x10)
		f.Lines = []debugfiles.LineInfo{line(f.Address, 0x10, "main.c", uint32(i+1))}
		fns = append(fns, f)
	}
	c, _ := build(t, testInfo, fns, symcache.Options{})
	// main.c, foo_impl_locked, fooBar, foob, x.
	if got, want := c.Stats().StringBytes, len("main.cfoo_impl_lockedfooBarfoobx"); got != want {
		t.Errorf("string table of %d bytes, want %d", got, want)
	}
	for i, name := range names {
		frames := c.Lookup(0x1000+uint64(i)*0x10+4, nil)
		if len(frames) != 1 || frames[0].Function != name || frames[0].FileName != "main.c" || frames[0].Line != uint32(i+1) {
			t.Errorf("lookup in %s: %+v", name, frames)
		}
	}
}

// TestSiteExceptions checks a call site whose call file is not its
// caller's (the file of its other sites), which the site table flags and
// an exception holds, and the call lines of the others, differences from
// a base of their caller's, one of them far from the rest.
func TestSiteExceptions(t *testing.T) {
	top := fn("top", 0x1000, 0x1000)
	top.Lines = []debugfiles.LineInfo{line(0x1000, 0x1000, "top.c", 1)}
	const n = 42
	for i := range n {
		c := fn(fmt.Sprintf("callee%d", i), 0x1000+uint64(i)*0x40, 0x20)
		c.Lines = []debugfiles.LineInfo{line(c.Address, 0x20, "callee.h", uint32(100+i))}
		c.CallFile, c.CallLine = debugfiles.FileInfo{Name: "top.c"}, uint32(10+i)
		switch i {
		case n - 2:
			c.CallFile = debugfiles.FileInfo{Name: "other.h"}
		case n - 1:
			c.CallLine = 1 << 24
		}
		top.Inlinees = append(top.Inlinees, c)
	}
	c, data := build(t, testInfo, []*debugfiles.Function{top}, symcache.Options{})
	frames := make([]symcache.Frame, 0, 16)
	for i, in := range top.Inlinees {
		frames = c.Lookup(in.Address+4, frames[:0])
		if len(frames) != 2 {
			t.Fatalf("callee%d: %d frames", i, len(frames))
		}
		f, o := frames[0], frames[1]
		if f.Function != in.Name || f.FileName != "callee.h" || f.Line != uint32(100+i) {
			t.Errorf("callee%d: inner frame %+v", i, f)
		}
		if o.Function != "top" || o.FileName != in.CallFile.Name || o.Line != in.CallLine {
			t.Errorf("callee%d: outer frame %s %s:%d, want top %s:%d", i, o.Function, o.FileName, o.Line, in.CallFile.Name, in.CallLine)
		}
	}
	if want := 1; exceptions(data) != want {
		t.Errorf("%d exceptions, want %d", exceptions(data), want)
	}
}

// exceptions reads the number of site exceptions from a symcache's header.
func exceptions(data []byte) int { return int(binary.LittleEndian.Uint32(data[204:])) }
