package symcache

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

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
// buffered, are the ones written. So are those moved to the memory of a
// pool (Options.SpillMemory), and those moved there until the pool ran
// out and then, with what the pool held, to a file. The functions come in address order,
// and in runs the builder merges (up to maxRuns) or sorts in memory; the
// range stream is coded on two goroutines and on one; the sections are
// made once on two goroutines, the node table in two parts, and made
// twice, as a large file's are. The spans sorted in memory are read back
// from the builder's temporary file (there are more than maxHeads) or, in
// one mode, taken from the headers the builder kept.
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
	// descending adds them from the last to the first, as a unit's
	// functions often come, and interleaved alternates a descending
	// sequence and an ascending one: every function a run of its own,
	// sorted in memory and read back going backwards.
	descending := slices.Clone(fns)
	slices.Reverse(descending)
	var interleaved []*debugfiles.Function
	for i := range len(fns) / 2 {
		interleaved = append(interleaved, fns[len(fns)/2-1-i], fns[len(fns)/2+i])
	}
	orders := []struct {
		name string
		fns  []*debugfiles.Function
		// files: only with the tables in files, on every processor:
		// the reading of the files is what the order is about.
		files bool
	}{{"in order", fns, false}, {"in 8 runs", inRuns(8), false}, {"in 200 runs", inRuns(200), false}, {"descending", descending, true}, {"interleaved", interleaved, true}}
	modes := []struct {
		name  string
		limit int
		procs int
		// made: the sections made twice and not held, as a large
		// file's are, instead of made once on two goroutines.
		made bool
		// heads: the builder keeps the span headers of all functions.
		heads bool
		// pool is Options.SpillMemory.
		pool int64
	}{
		{"in memory", 0, 0, false, false, 0},
		{"in files", 1, 0, false, false, 0},
		{"in files, span headers kept", 1, 0, false, true, 0},
		{"in files, one processor", 1, 1, false, false, 0},
		{"in memory, sections made twice", 0, 0, true, false, 0},
		{"in the pool's memory", 1, 0, false, false, 1 << 30},
		{"in the pool's memory until it runs out", 1, 0, false, false, 300 << 10},
	}
	var want []byte
	for _, order := range orders {
		for _, m := range modes {
			if order.files && (m.limit == 0 || m.procs != 0) || m.made && order.name != "in order" {
				continue
			}
			if m.pool > 0 && order.name != "in order" && order.name != "interleaved" {
				continue // the pool's reads go forwards, or both ways
			}
			got := func() []byte {
				if m.procs > 0 {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(m.procs))
				}
				if m.made {
					defer func(n uint64) { holdSections = n }(holdSections)
					holdSections = 0
				}
				if m.heads {
					defer func(n int) { maxHeads = n }(maxHeads)
					maxHeads = len(order.fns)
				} else if len(order.fns) <= maxHeads {
					t.Fatalf("%d functions: the span headers are kept, and their reading from the file is not checked", len(order.fns))
				}
				b := newBuilder(info, Options{SpillMemory: m.pool}, m.limit)
				for _, f := range order.fns {
					b.Add(f)
				}
				var buf bytes.Buffer
				if _, err := b.WriteTo(&buf); err != nil {
					t.Fatalf("%s, %s: %v", order.name, m.name, err)
				}
				if m.pool > 0 {
					if b.raw.kept != nil || b.raw.f != nil || b.spillPool.left.Load() != m.pool {
						t.Errorf("%s, %s: the pool has %d of %d bytes back once written", order.name, m.name, b.spillPool.left.Load(), m.pool)
					}
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

// spillRec is the size of the records of the spill tests.
const spillRec = 100

// spillRecord is record i of the spill tests: its index, then bytes that
// depend on it.
func spillRecord(i int) []byte {
	b := make([]byte, spillRec)
	binary.LittleEndian.PutUint32(b, uint32(i))
	for k := 4; k < spillRec; k++ {
		b[k] = byte(i + k)
	}
	return b
}

// isSpillRecord reports whether b starts with record i.
func isSpillRecord(b []byte, i int) bool {
	return binary.LittleEndian.Uint32(b) == uint32(i) && b[spillRec-1] == byte(i+spillRec-1)
}

// TestSpillWindows checks that records read back from a spill's file in
// order, backwards, or in two sequences interleaved (one each way) are
// the ones written, and that the windows serve them with few reads of the
// file: about one per window's worth of records in each direction.
func TestSpillWindows(t *testing.T) {
	const rec, n = spillRec, 20000
	s := spill{limit: 1024}
	defer s.close()
	for i := range n {
		s.write(spillRecord(i))
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	if s.f == nil {
		t.Fatal("the spill did not move to a file")
	}
	forward := make([]int, n)
	for i := range forward {
		forward[i] = i
	}
	backward := slices.Clone(forward)
	slices.Reverse(backward)
	var both []int
	for i := range n / 2 {
		both = append(both, n/2-1-i, n/2+i)
	}
	for _, order := range []struct {
		name string
		recs []int
	}{{"in order", forward}, {"backwards", backward}, {"two ways interleaved", both}} {
		s.wins, s.reads = [spillWindows]spillWin{}, 0
		for _, i := range order.recs {
			var b [rec]byte
			if err := s.readAt(b[:], int64(i)*rec, true); err != nil {
				t.Fatalf("%s: record %d: %v", order.name, i, err)
			}
			if !isSpillRecord(b[:], i) {
				t.Fatalf("%s: record %d reads as record %d", order.name, i, binary.LittleEndian.Uint32(b[:]))
			}
		}
		// Each window holds spillWindow/rec records; a record across
		// two windows' border takes one more read.
		if most := 2 * n * rec / spillWindow; s.reads > most {
			t.Errorf("%s: %d reads of the file for %d records of %d bytes, want at most %d", order.name, s.reads, n, rec, most)
		}
	}
}

// TestSpillPool checks a spill that moves to the memory of its pool: the
// records read back in order, backwards and through a reader are the ones
// written, whether the pool held them all or ran out on the way (the
// spill then moves what it held to a file and goes on there), and every
// byte taken from the pool is given back at close.
func TestSpillPool(t *testing.T) {
	const rec, n = spillRec, 20000
	for _, tc := range []struct {
		name   string
		pool   int64
		toFile bool
	}{
		{"the pool holds them all", 4 << 20, false},
		{"the pool runs out", 1 << 20, true},
		{"the pool is too small from the start", 1 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := newSpillPool(tc.pool)
			s := spill{limit: 1024, pool: pool}
			for i := range n {
				s.write(spillRecord(i))
				if i == n/2 {
					// Read while written: the last bytes are still in
					// the buffer.
					var got [2 * rec]byte
					if err := s.readAt(got[:], int64(i-1)*rec, false); err != nil {
						t.Fatal(err)
					}
					if !isSpillRecord(got[:], i-1) || !isSpillRecord(got[rec:], i) {
						t.Fatalf("records %d and %d do not read back while written", i-1, i)
					}
				}
			}
			if err := s.finish(); err != nil {
				t.Fatal(err)
			}
			if got := s.f != nil; got != tc.toFile {
				t.Fatalf("moved to a file: %v, want %v", got, tc.toFile)
			}
			if !tc.toFile && (s.kept == nil || pool.left.Load() >= tc.pool-n*rec) {
				t.Fatalf("%d bytes left of a pool of %d, for %d bytes kept", pool.left.Load(), tc.pool, n*rec)
			}
			check := func(how string, i int, b []byte) {
				t.Helper()
				if !isSpillRecord(b, i) {
					t.Fatalf("%s: record %d reads as record %d", how, i, binary.LittleEndian.Uint32(b))
				}
			}
			for _, i := range []int{0, 1, n / 3, n - 1, n - 2, n / 3} {
				var b [rec]byte
				if err := s.readAt(b[:], int64(i)*rec, false); err != nil {
					t.Fatal(err)
				}
				check("at random", i, b[:])
			}
			for i := n - 1; i >= 0; i-- {
				var b [rec]byte
				if err := s.readAt(b[:], int64(i)*rec, true); err != nil {
					t.Fatal(err)
				}
				check("backwards", i, b[:])
			}
			var all []byte
			if err := s.each(func(p []byte) error { all = append(all, p...); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(all) != n*rec {
				t.Fatalf("each gave %d bytes, want %d", len(all), n*rec)
			}
			for i := range n {
				check("in order", i, all[i*rec:])
			}
			s.close()
			if got := pool.left.Load(); got != tc.pool {
				t.Errorf("the pool has %d bytes after close, want %d", got, tc.pool)
			}
		})
	}
}

// TestSpillPoolReader checks the uvarints read back from a spill in the
// pool's memory, across the borders of its chunks.
func TestSpillPoolReader(t *testing.T) {
	pool := newSpillPool(1 << 30)
	s := spill{limit: 1024, pool: pool}
	defer s.close()
	var want []uint64
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := rng.Uint64() >> rng.IntN(64)
		want = append(want, v)
		s.write(binary.AppendUvarint(nil, v))
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	if s.kept == nil || len(s.kept.chunks) < 2 {
		t.Fatal("the spill did not move to the pool's memory, in several chunks")
	}
	r := s.reader()
	for i, v := range want {
		if got := r.uvarint(); got != v {
			t.Fatalf("value %d: %d, want %d", i, got, v)
		}
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
}

// TestSplitPagesIdentical checks that the range stream coded in two parts
// on two goroutines, split at any group of pages, is the one coded in a
// single pass: every page of the second part starts from the entry
// covering it, at the right bit, and the parts' bits join without a gap.
// Each way is coded both writing the symbols the counting pass recorded
// and decoding and modelling the entries again.
func TestSplitPagesIdentical(t *testing.T) {
	defer func(n int) { forceSplit, recordEntries, followMode = 0, n, 0 }(recordEntries)
	followMode = -1 // whose counts would leave the split untried
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

// randomTrees makes n functions of random sizes at random addresses, with
// lines and inlinees at random offsets, so that entries start anywhere
// in a page and some span many pages, and gaps between them of every
// size around the ones that cut regions (16 pages of 2^0 to 2^12 bytes,
// one byte less, or far more).
func randomTrees(seed uint64, n int) []*debugfiles.Function {
	rng := rand.New(rand.NewPCG(seed, 3))
	files := []debugfiles.FileInfo{{Name: "a.c"}, {Name: "b.h"}}
	var out []*debugfiles.Function
	at := uint64(0x1000)
	for i := range n {
		switch rng.IntN(4) {
		case 0:
			at += uint64(rng.IntN(16))
		case 1:
			at += 16 << rng.IntN(13)
		case 2:
			at += 16<<rng.IntN(13) - 1
		default:
			at += uint64(rng.IntN(1 << 16))
		}
		size := uint64(1 + rng.IntN(600))
		if rng.IntN(10) == 0 {
			size = uint64(1 + rng.IntN(1<<14)) // lines or not, one long entry
		}
		f := &debugfiles.Function{Name: fmt.Sprintf("f%d", i), Address: at, Size: size}
		for range rng.IntN(8) {
			f.Lines = append(f.Lines, debugfiles.LineInfo{Address: at + uint64(rng.IntN(int(size))), Size: uint64(rng.IntN(40)), File: files[rng.IntN(2)], Line: uint32(rng.IntN(500))})
		}
		for range rng.IntN(3) {
			off := uint64(rng.IntN(int(size)))
			c := &debugfiles.Function{Name: fmt.Sprintf("inl%d", rng.IntN(50)), Address: at + off, Size: uint64(1 + rng.IntN(int(size-off))), CallFile: files[rng.IntN(2)], CallLine: uint32(rng.IntN(100))}
			c.Lines = []debugfiles.LineInfo{{Address: c.Address, Size: c.Size, File: files[1], Line: uint32(rng.IntN(100))}}
			f.Inlinees = append(f.Inlinees, c)
		}
		out = append(out, f)
		at += size
	}
	return out
}

// TestFollowerIdentical checks that a range stream counted by a follower
// while resolve makes the entries is the one counted after resolve: over
// functions at random places (randomTrees) and over three regions, pages
// of 2 to 8 entries, the builder's tables in memory and in files, and
// functions added in order and in a run backwards, and functions nested
// in one that covers them all. The follower's counts must be used, but
// where its page size is made wrong, and then resolve must run again, as
// the follower's run did not keep the final entries; the file is the
// same, counted after resolve in one part and in two.
func TestFollowerIdentical(t *testing.T) {
	defer func() { followMode, forceSplit, followShiftOff = 0, 0, 0 }()
	info := Info{Arch: "x86_64", Format: debugfiles.FormatPDB}
	trees := spillTrees(1200)
	for i, f := range trees[400:] {
		shiftFunction(f, uint64(1+i/400)<<32)
	}
	slices.Reverse(trees[400:800]) // a run added backwards
	// nested: the first 400 once more, inside one function covering
	// them all, so that the bytes of the spans count twice what they
	// cover.
	nested := []*debugfiles.Function{{Name: "outer", Address: trees[0].Address, Size: trees[399].End() - trees[0].Address}}
	nested = append(nested, trees[:400]...)
	build := func(fns []*debugfiles.Function, mode, perPage, limit int) ([]byte, *Builder) {
		followMode = mode
		b := newBuilder(info, Options{PageEntries: perPage}, limit)
		for _, f := range fns {
			b.Add(f)
		}
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), b
	}
	inputs := []struct {
		name string
		fns  []*debugfiles.Function
	}{{"three regions", trees}, {"nested", nested}}
	for seed := range uint64(4) {
		inputs = append(inputs, struct {
			name string
			fns  []*debugfiles.Function
		}{fmt.Sprintf("random %d", seed), randomTrees(seed, 3000)})
	}
	for _, in := range inputs {
		for _, perPage := range []int{2, 4, 8} {
			for _, limit := range []int{0, 1} {
				want, b := build(in.fns, -1, perPage, limit)
				if b.followed || b.resolves != 1 {
					t.Fatalf("%s: with followMode -1, follower's counts used %v, %d resolves", in.name, b.followed, b.resolves)
				}
				for _, split := range []uint64{0, 5 * groupPages} {
					// The follower counts the pages of the layout; with
					// a page size twice the layout's, its counts are
					// not used, and resolve runs again to keep the
					// final entries it did not code.
					for _, off := range []uint8{0, 1} {
						forceSplit, followShiftOff = split, off
						got, b := build(in.fns, 1, perPage, limit)
						forceSplit, followShiftOff = 0, 0
						if !bytes.Equal(got, want) {
							t.Errorf("%s, %d entries a page, spill limit %d, split at %d, follower's shift off by %d: %d bytes differ from the %d counted after resolve", in.name, perPage, limit, split, off, len(got), len(want))
						}
						if b.followed != (off == 0) || b.resolves != 1+int(off) {
							t.Errorf("%s, %d entries a page, spill limit %d, follower's shift off by %d: follower's counts used %v, %d resolves", in.name, perPage, limit, off, b.followed, b.resolves)
						}
					}
				}
			}
		}
	}
}

// TestFollowerGivesUp checks that a follower stops recording past its
// limit of entries, and past twice that many pages, which a page size
// guessed far too small makes of one long entry.
func TestFollowerGivesUp(t *testing.T) {
	f := newFollower(4, 100, 0)
	for i := range 101 {
		f.push(entry{start: uint64(16 * i), node: 1, line: uint32(i)})
	}
	if !f.failed || f.enc != nil {
		t.Errorf("after 101 entries with a limit of 100: failed %v, record kept %v", f.failed, f.enc != nil)
	}
	f = newFollower(0, 100, 0)
	f.push(entry{start: 0, node: 1})
	f.push(entry{start: 1 << 40, node: 2})
	f.push(entry{start: 1<<40 + 1, node: 3}) // codes the second, 2^40 pages on
	if !f.failed || f.pages > 2*100+groupPages {
		t.Errorf("one entry over 2^40 pages of 1 byte: failed %v after %d pages", f.failed, f.pages)
	}
}

// TestCorruptSpillFails checks that a temporary file changed under the
// builder makes WriteTo fail, with and without a follower, and that the
// follower's goroutine ends with it.
func TestCorruptSpillFails(t *testing.T) {
	defer func() { followMode = 0 }()
	info := Info{Arch: "x86_64", Format: debugfiles.FormatPDB}
	trees := spillTrees(3000)
	for _, mode := range []int{-1, 1} {
		followMode = mode
		before := runtime.NumGoroutine()
		b := newBuilder(info, Options{}, 1)
		for _, f := range trees {
			b.Add(f)
		}
		b.raw.flush()
		if b.raw.f == nil || b.raw.size < 1<<16 {
			t.Fatalf("raw store of %d bytes not in a file", b.raw.size)
		}
		// Bytes of 0xff make varints longer than 64 bits.
		if _, err := b.raw.f.WriteAt(bytes.Repeat([]byte{0xff}, 4096), b.raw.size/2); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WriteTo(io.Discard); err == nil {
			t.Errorf("follow mode %d: WriteTo of a corrupt temporary file succeeded", mode)
		}
		for range 100 {
			if runtime.NumGoroutine() <= before {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("follow mode %d: %d goroutines after WriteTo failed, %d before", mode, n, before)
		}
	}
}

// TestDecodeRawNodes checks that a span's nodes read back as
// appendRawNode coded them, and that nodes which would index past the
// tables, or name a parent that is not an earlier node of the span, are
// refused, as are truncated ones.
func TestDecodeRawNodes(t *testing.T) {
	const first, start = 40, 0x1000
	nodes := []node{
		{fn: 7, addr: start},
		{fn: 300, addr: start + 0x10, parent: first, callFile: 2, callLine: 20},
		{fn: 1 << 20, addr: start + 0x18, parent: first + 1, callFile: 3, callLine: 1 << 16},
		{fn: 8, addr: start - 4, parent: first, callFile: 1, callLine: 9}, // before its span
	}
	code := func(ns []node) []byte {
		var b []byte
		for i := range ns {
			b = appendRawNode(b, &ns[i], first+uint32(i), start)
		}
		return b
	}
	got, ok := decodeRawNodes(nil, code(nodes), first, start, 1<<21, 3)
	if !ok || !slices.Equal(got, nodes) {
		t.Fatalf("decodeRawNodes = %+v, %v; want %+v", got, ok, nodes)
	}
	bad := []struct {
		name           string
		nodes          []node
		nfuncs, nfiles uint32
	}{
		{"function past the table", nodes, 1 << 20, 3},
		{"file past the table", nodes, 1 << 21, 2},
		{"parent before the span", []node{{fn: 1, addr: start, parent: first - 1}}, 2, 0},
		{"parent after it", []node{{fn: 1, addr: start}, {fn: 1, addr: start, parent: first + 2}}, 2, 0},
	}
	for _, tt := range bad {
		if _, ok := decodeRawNodes(nil, code(tt.nodes), first, start, tt.nfuncs, tt.nfiles); ok {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	b := code(nodes)
	if _, ok := decodeRawNodes(nil, b[:len(b)-1], first, start, 1<<21, 3); ok {
		t.Error("truncated nodes: accepted")
	}
}

// TestReplayParts checks that replaying a record's pages in two parts, at
// every group and at its ends, writes what one replay of them all does,
// and that a part of no pages writes nothing.
func TestReplayParts(t *testing.T) {
	defer func() { followMode, forceSplit, followShiftOff = 0, 0, 0 }()
	rec := &symRecord{syms: []uint16{alphaTagFirst << 8}, extras: []uint32{5}, pages: make([]uint32, groupPages), groups: []groupStart{{}}, groupExtras: []uint32{0}}
	for _, at := range []int{0, groupPages} {
		if err := (&streamEnc{}).replay(rec, at, at); err != nil {
			t.Errorf("no pages from %d: %v", at, err)
		}
	}
	info := Info{Arch: "x86_64", Format: debugfiles.FormatPDB}
	fns := randomTrees(9, 600)
	build := func(split uint64) []byte {
		followMode, forceSplit = 1, split
		b := newBuilder(info, Options{PageEntries: 4}, 0)
		for _, f := range fns {
			b.Add(f)
		}
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf); err != nil {
			t.Fatalf("split at %d: %v", split, err)
		}
		if !b.followed {
			t.Fatalf("split at %d: the follower's counts not used", split)
		}
		return buf.Bytes()
	}
	want := build(1) // not a group: one part
	c, err := New(want)
	if err != nil {
		t.Fatal(err)
	}
	pages := uint64(c.npages) + 1 // and the stream's end
	for split := uint64(groupPages); split <= pages+groupPages; split += groupPages {
		if got := build(split); !bytes.Equal(got, want) {
			t.Fatalf("replay split at page %d of %d: %d bytes differ from one replay's %d", split, pages, len(got), len(want))
		}
	}
}

// TestSortSpans checks that sortSpans orders spans as cmpSpan does,
// spans of equal starts too (by end, enclosing first, then in the order
// they were added), whatever the size of the starts.
func TestSortSpans(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, tc := range []struct {
		name string
		high uint64 // added to every start
	}{{"small starts", 0}, {"starts past 40 bits", 1 << 50}} {
		for _, n := range []int{0, 1, 2, 100, 5000} {
			spans := make([]span, n)
			for i := range spans {
				start := tc.high + uint64(rng.IntN(n/4+1))*16
				spans[i] = span{start: start, end: start + uint64(1+rng.IntN(64)), order: uint32(i), off: int64(i)}
			}
			want := slices.Clone(spans)
			slices.SortFunc(want, func(x, y span) int { return cmpSpan(&x, &y) })
			got := slices.Clone(spans)
			sortSpans(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s, %d spans: sortSpans orders them otherwise than cmpSpan", tc.name, n)
			}
		}
	}
}
