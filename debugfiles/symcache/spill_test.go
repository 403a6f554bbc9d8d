package symcache

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
)

// spillTrees makes n top-level functions, each with inlinees named from a
// pool of inline functions larger than the name cache, called from
// various lines, some nested, with line rows: enough distinct names and
// call sites that lookups miss the caches and compare with the bytes
// read back.
func spillTrees(n int) []*debugfiles.Function {
	rng := rand.New(rand.NewPCG(7, 11))
	files := []debugfiles.FileInfo{{Name: "a.cpp"}, {Name: "b.h"}, {Name: "c.h"}}
	var out []*debugfiles.Function
	for i := range n {
		addr := uint64(0x1000 + i*0x100)
		f := &debugfiles.Function{Name: fmt.Sprintf("ns::f%d", i), Address: addr, Size: 0xf0}
		for k := uint64(0); k < 0xf0; k += 0x10 {
			f.Lines = append(f.Lines, debugfiles.LineInfo{Address: addr + k, Size: 0x10, File: files[0], Line: uint32(10 + k)})
		}
		for j := range 3 {
			a := addr + uint64(j)*0x40
			c := &debugfiles.Function{
				Name: fmt.Sprintf("inl%d", rng.IntN(6000)), Address: a, Size: 0x30,
				CallFile: files[1+j%2], CallLine: uint32(rng.IntN(50)),
				Lines: []debugfiles.LineInfo{{Address: a, Size: 0x30, File: files[2], Line: uint32(rng.IntN(100))}},
			}
			if j == 1 {
				c.Inlinees = []*debugfiles.Function{{
					Name: fmt.Sprintf("inl%d", rng.IntN(6000)), Address: a + 0x10, Size: 0x10,
					CallFile: files[2], CallLine: uint32(rng.IntN(50)),
				}}
			}
			f.Inlinees = append(f.Inlinees, c)
		}
		out = append(out, f)
	}
	return out
}

// TestSpilledIdentical checks that a symcache whose builder keeps
// everything in memory and one whose builder moves every table to its
// temporary file at once have the same bytes: the names, call sites and
// coded ranges read back from the files, whole or while still partly
// buffered, are the ones written. The functions come in address order,
// and in runs the builder merges (up to maxRuns) or sorts in memory; the
// range stream is coded on two goroutines and on one.
func TestSpilledIdentical(t *testing.T) {
	info := Info{Arch: "x86_64", Format: debugfiles.FormatPDB}
	fns := spillTrees(20000)
	// inRuns adds the functions in k runs: k blocks, the last first.
	inRuns := func(k int) []*debugfiles.Function {
		var out []*debugfiles.Function
		for i := k - 1; i >= 0; i-- {
			out = append(out, fns[i*len(fns)/k:(i+1)*len(fns)/k]...)
		}
		return out
	}
	orders := []struct {
		name string
		fns  []*debugfiles.Function
	}{{"in order", fns}, {"in 8 runs", inRuns(8)}, {"in 200 runs", inRuns(200)}}
	modes := []struct {
		name  string
		limit int
		procs int
	}{
		{"in memory", 0, 0},
		{"in files", 1, 0},
		{"in files, one processor", 1, 1},
	}
	var want []byte
	for _, order := range orders {
		for _, m := range modes {
			got := func() []byte {
				if m.procs > 0 {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(m.procs))
				}
				b := newBuilder(info, Options{}, m.limit)
				for _, f := range order.fns {
					b.Add(f)
				}
				var buf bytes.Buffer
				if _, err := b.WriteTo(&buf); err != nil {
					t.Fatalf("%s, %s: %v", order.name, m.name, err)
				}
				return buf.Bytes()
			}()
			if want == nil {
				want = got
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("functions added %s, tables %s: %d bytes differ from those of functions in order, in memory (%d)", order.name, m.name, len(got), len(want))
			}
		}
	}
	c, err := New(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.NumFunctions(); got < 20000 {
		t.Errorf("%d functions, want at least 20000", got)
	}
}

// TestSplitPagesIdentical checks that the range stream coded in two parts
// on two goroutines, split at any group of pages, is the one coded in a
// single pass: every page of the second part starts from the entry
// covering it, at the right bit, and the parts' bits join without a gap.
// Each way is coded both writing the symbols the counting pass recorded
// and decoding and modelling the entries again.
func TestSplitPagesIdentical(t *testing.T) {
	defer func(n int) { forceSplit, recordEntries = 0, n }(recordEntries)
	info := Info{Arch: "x86_64", Format: debugfiles.FormatPDB}
	// Three regions: the last two thirds of the functions lie far above
	// the first, the last third farther still.
	trees := spillTrees(1200)
	for i, f := range trees[400:] {
		shiftFunction(f, uint64(1+i/400)<<32)
	}
	for _, limit := range []int{0, 1} {
		build := func(split uint64, record bool) []byte {
			forceSplit, recordEntries = split, 0
			if record {
				recordEntries = math.MaxInt
			}
			b := newBuilder(info, Options{PageEntries: 4}, limit)
			for _, f := range trees {
				b.Add(f)
			}
			var buf bytes.Buffer
			if _, err := b.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}
		want := build(1, false) // not a group boundary: one part
		c, err := New(want)
		if err != nil {
			t.Fatal(err)
		}
		pages := c.npages
		if pages < 4*groupPages {
			t.Fatalf("%d pages, too few to split", pages)
		}
		if c.nregions < 3 {
			t.Fatalf("%d regions, want 3", c.nregions)
		}
		// Every few groups, and the groups around each region's first page.
		var mids []uint64
		for mid := uint64(groupPages); mid < uint64(pages); mid += groupPages * (1 + uint64(len(mids)%5)) {
			mids = append(mids, mid)
		}
		for i := range int(c.nregions) {
			first := uint64(binary.LittleEndian.Uint32(c.regions[i*regionRecord+16:]))
			mids = append(mids, first/groupPages*groupPages, (first+groupPages-1)/groupPages*groupPages)
		}
		splits := 0
		for _, mid := range append(mids, 1) {
			for _, record := range []bool{false, true} {
				if got := build(mid, record); !bytes.Equal(got, want) {
					t.Fatalf("spill limit %d: split at page %d of %d, recorded %v: %d bytes differ from the single pass's %d", limit, mid, pages, record, len(got), len(want))
				}
			}
			splits++
		}
		t.Logf("spill limit %d: %d pages, %d splits identical", limit, pages, splits)
	}
}

// shiftFunction moves f, its lines and its inlinees by d.
func shiftFunction(f *debugfiles.Function, d uint64) {
	f.Address += d
	for i := range f.Lines {
		f.Lines[i].Address += d
	}
	for _, c := range f.Inlinees {
		shiftFunction(c, d)
	}
}
