package symcache_test

import (
	"math/rand/v2"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
)

// RunStart finds the start of the line record holding an address, also
// when the record spans many pages and when inlined calls split it, at
// every page size: the offsets Breakpad prints count from there.
func TestRunStart(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	file := debugfiles.FileInfo{Name: "a.c", CompDir: "/src"}
	other := debugfiles.FileInfo{Name: "b.h", CompDir: "/src"}
	f := &debugfiles.Function{Address: 0x1000, Name: "long_function"}
	addr, line := f.Address, uint32(10)
	var starts []uint64 // line record starts, in address order
	for range 400 {
		size := uint64(1 + rng.IntN(40))
		if rng.IntN(20) == 0 {
			size = 3000 + uint64(rng.IntN(3000)) // spans many pages
		}
		line += uint32(1 + rng.IntN(3)) // adjacent records differ
		f.Lines = append(f.Lines, debugfiles.LineInfo{Address: addr, Size: size, File: file, Line: line})
		starts = append(starts, addr)
		addr += size
	}
	f.Size = addr - f.Address
	// An inlined call inside one long record: its own lines, and the
	// caller's record resumes after it with the same line.
	long := -1
	for i, l := range f.Lines {
		if l.Size >= 3000 {
			long = i
			break
		}
	}
	in := &debugfiles.Function{Name: "inlined", Address: f.Lines[long].Address + 100, Size: 50, CallFile: file, CallLine: f.Lines[long].Line,
		Lines: []debugfiles.LineInfo{{Address: f.Lines[long].Address + 100, Size: 50, File: other, Line: 7}}}
	f.Inlinees = []*debugfiles.Function{in}

	for _, pageEntries := range []int{1, 2, 8, 64} {
		c, _ := build(t, testInfo, []*debugfiles.Function{f}, symcache.Options{PageEntries: pageEntries})
		check := func(a, want uint64) {
			t.Helper()
			if got, ok := c.RunStart(a); !ok || got != want {
				t.Errorf("PageEntries %d: RunStart(%#x) = %#x, %v; want %#x", pageEntries, a, got, ok, want)
			}
		}
		for i, s := range starts {
			end := f.End()
			if i+1 < len(starts) {
				end = starts[i+1]
			}
			for _, a := range []uint64{s, s + (end-s)/2, end - 1} {
				switch {
				case i == long && a >= in.Address && a < in.End():
					check(a, in.Address)
				case i == long && a >= in.End():
					check(a, in.End())
				default:
					check(a, s)
				}
			}
		}
		if _, ok := c.RunStart(f.Address - 1); ok {
			t.Errorf("PageEntries %d: RunStart before the function answers", pageEntries)
		}
	}
}
