package debugfiles

import (
	"fmt"
	"strings"
	"testing"
)

func fn(name string, addr, size uint64, inlinees ...*Function) *Function {
	return &Function{Name: name, Address: addr, Size: size, Inlinees: inlinees}
}

func line(addr, size uint64, file string, n uint32) LineInfo {
	return LineInfo{Address: addr, Size: size, File: FileInfo{Name: file}, Line: n}
}

func names(frames []Frame) string {
	var s []string
	for _, f := range frames {
		s = append(s, f.Function)
	}
	return strings.Join(s, ",")
}

func TestIndexOverlaps(t *testing.T) {
	ix := NewIndex([]*Function{
		fn("outer", 0x100, 0x100),
		fn("inner", 0x150, 0x30),
		fn("partial", 0x1f0, 0x40),
		fn("twin1", 0x300, 0x10),
		fn("twin2", 0x300, 0x10),
		fn("empty", 0x400, 0),
		nil,
	})
	for addr, want := range map[uint64]string{
		0xff: "", 0x100: "outer", 0x14f: "outer", 0x150: "inner", 0x17f: "inner", 0x180: "outer",
		0x1ef: "outer", 0x1f0: "partial", 0x22f: "partial", 0x230: "", 0x300: "twin2", 0x400: "",
	} {
		if got := names(ix.Lookup(addr)); got != want {
			t.Errorf("Lookup(%#x) = %q, want %q", addr, got, want)
		}
	}
}

func TestIndexInlineChain(t *testing.T) {
	g := fn("g", 0x120, 0x10)
	g.CallFile, g.CallLine = FileInfo{Name: "f.h"}, 7
	g.Lines = []LineInfo{line(0x120, 0x10, "g.h", 3)}
	f := fn("f", 0x110, 0x30, g)
	f.CallFile, f.CallLine = FileInfo{Name: "main.c"}, 42
	// f's lines are out of order; NewIndex sorts them.
	f.Lines = []LineInfo{line(0x120, 0, "f.h", 6), line(0x110, 0x10, "f.h", 5)}
	h := fn("h", 0x130, 0x8) // no lines of its own
	f.Inlinees = append(f.Inlinees, h)
	top := fn("main", 0x100, 0x100, f)
	top.Lines = []LineInfo{line(0x100, 0x100, "main.c", 40)}
	ix := NewIndex([]*Function{top})

	fr := ix.Lookup(0x124)
	if names(fr) != "g,f,main" {
		t.Fatalf("frames = %+v", fr)
	}
	want := []Frame{
		{Function: "g", File: FileInfo{Name: "g.h"}, Line: 3, Address: 0x120, Inlined: true},
		{Function: "f", File: FileInfo{Name: "f.h"}, Line: 7, Address: 0x110, Inlined: true},
		{Function: "main", File: FileInfo{Name: "main.c"}, Line: 42, Address: 0x100},
	}
	for i := range want {
		if fr[i] != want[i] {
			t.Errorf("frame %d = %+v, want %+v", i, fr[i], want[i])
		}
	}
	// A line of size 0 reaches to the next line.
	if fr := ix.Lookup(0x134); fr[0].Function != "h" || fr[0].Line != 6 || fr[0].File.Name != "f.h" {
		t.Errorf("h falls back to f's lines: %+v", fr[0])
	}
	if fr := ix.Lookup(0x1f0); names(fr) != "main" || fr[0].Line != 40 {
		t.Errorf("main = %+v", fr)
	}
}

func TestIndexDeepChainAndNils(t *testing.T) {
	leaf := fn("d39", 0x100, 1)
	cur := leaf
	for i := 38; i >= 0; i-- {
		cur = fn(fmt.Sprintf("d%d", i), 0x100, 0x10, nil, cur, nil)
	}
	ix := NewIndex([]*Function{cur})
	if fr := ix.Lookup(0x100); len(fr) != 40 || fr[0].Function != "d39" || fr[39].Function != "d0" || fr[39].Inlined {
		t.Fatalf("deep chain: %d frames", len(fr))
	}
}

func TestAppendLookupDoesNotAllocate(t *testing.T) {
	top := fn("main", 0x100, 0x100, fn("f", 0x110, 0x10, fn("g", 0x110, 8)))
	top.Lines = []LineInfo{line(0x100, 0x100, "main.c", 1)}
	ix := NewIndex([]*Function{top, fn("other", 0x300, 0x10)})
	buf := make([]Frame, 0, 8)
	if n := testing.AllocsPerRun(100, func() { buf = ix.AppendLookup(buf[:0], 0x112) }); n != 0 {
		t.Errorf("%v allocations per lookup", n)
	}
	if names(buf) != "g,f,main" {
		t.Errorf("frames = %+v", buf)
	}
}
