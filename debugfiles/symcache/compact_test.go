package symcache

import (
	"bytes"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
)

// buildBytes writes the symcache of what add puts into a builder whose
// spills move to files past spillLimit bytes.
func buildBytes(t *testing.T, spillLimit int, add func(b *Builder)) []byte {
	t.Helper()
	b := newBuilder(Info{Arch: "x86_64"}, Options{}, spillLimit)
	add(b)
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCompactMatchesTrees checks, on real DWARF, that the symcache built
// from a session's compact functions, handed over, transient (their
// storage reused) or by batches of units with their gaps clipped, is byte
// for byte the one built from its trees with
// their Lines, with the spills in memory and in files.
func TestCompactMatchesTrees(t *testing.T) {
	for _, name := range []string{"elf-x86_64-gcc-O2", "elf-x86_64-clang-O3", "elf-x86_64-clang-O2-split", "elf-x86_64-gcc-O3", "elf-aarch64-gcc-O2", "elf-x86_64-gcc-O2-dwarf4-dwp"} {
		t.Run(name, func(t *testing.T) {
			a, err := loader.Open(fixtures.Get(t, name))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			for _, obj := range a.Objects {
				s, err := obj.DebugSession()
				if err != nil {
					t.Fatal(err)
				}
				cs, ok := s.(compactSession)
				if !ok {
					t.Fatalf("%T yields no compact functions", s)
				}
				for _, limit := range []int{spillAt, 512} {
					trees := buildBytes(t, limit, func(b *Builder) {
						if err := b.AddAll(s.Functions()); err != nil {
							t.Fatal(err)
						}
					})
					compact := buildBytes(t, limit, func(b *Builder) {
						if err := addEach(cs.CompactFunctions(), b.addCompact); err != nil {
							t.Fatal(err)
						}
					})
					if !bytes.Equal(trees, compact) {
						t.Errorf("%s (spill at %d): compact functions make a different symcache (%d bytes, trees %d)", obj.Arch(), limit, len(compact), len(trees))
					}
					ts, ok := s.(transientSession)
					if !ok {
						t.Fatalf("%T yields no transient compact functions", s)
					}
					transient := buildBytes(t, limit, func(b *Builder) {
						if err := addTransient(ts.TransientCompactFunctions(), b.addCompact); err != nil {
							t.Fatal(err)
						}
					})
					if !bytes.Equal(trees, transient) {
						t.Errorf("%s (spill at %d): transient compact functions make a different symcache (%d bytes, trees %d)", obj.Arch(), limit, len(transient), len(trees))
					}
					ss, ok := s.(streamSession)
					if !ok {
						t.Fatalf("%T yields no functions by batches of units", s)
					}
					// The fixtures are smaller than what is read batch
					// by batch by default.
					old := dwarf.SetStreamMinInfo(0)
					streamed := buildBytes(t, limit, func(b *Builder) {
						if err := addStreamed(ss.TransientSubprogramsAndGaps(), b.addCompact); err != nil {
							t.Fatal(err)
						}
					})
					dwarf.SetStreamMinInfo(old)
					if !bytes.Equal(trees, streamed) {
						t.Errorf("%s (spill at %d): functions by batches of units make a different symcache (%d bytes, trees %d)", obj.Arch(), limit, len(streamed), len(trees))
					}
				}
				s.Close()
			}
		})
	}
}

// TestCompactRandom checks addCompact against Add on random functions,
// including what the DWARF session never yields: rows out of order, file
// indexes past the unit's files, inlinees reaching past their caller,
// empty and overflowing inlinees.
func TestCompactRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	files := []debugfiles.FileInfo{{Name: "a.cpp", CompDir: "/src"}, {Name: "b.h", Dir: "inc"}, {Name: "a.cpp", Dir: "/src"}}
	for iter := range 300 {
		var cfs []*dwarf.CompactFunction
		for i := range 1 + rng.IntN(8) {
			cfs = append(cfs, randomCompact(rng, uint64(0x1000+i*0x200)*uint64(1+rng.IntN(2)), files))
		}
		trees := buildBytes(t, 256, func(b *Builder) {
			for _, cf := range cfs {
				b.Add(treeOf(cf))
			}
		})
		compact := buildBytes(t, 256, func(b *Builder) {
			for _, cf := range cfs {
				b.addCompact(cf)
			}
		})
		if !bytes.Equal(trees, compact) {
			t.Fatalf("case %d: compact functions make a different symcache", iter)
		}
	}
}

// TestCompactLargeValues checks addCompact against Add where the
// entries' values take one, two and more bytes each: rows far apart,
// hundreds of inlinees, hundreds of files (and one past them), and high
// line numbers. Real DWARF rarely has them, and codeCompact codes the
// entries of one-byte values apart from the others.
func TestCompactLargeValues(t *testing.T) {
	var files []debugfiles.FileInfo
	for i := range 300 {
		files = append(files, debugfiles.FileInfo{Name: fmt.Sprintf("f%d.c", i), CompDir: "/src"})
	}
	const addr, size = 0x10000, 0x80000
	f := &debugfiles.Function{Name: "big", Address: addr, Size: size}
	steps := []uint64{1, 100, 127, 128, 200, 255, 256, 16383, 16384, 20000}
	lines := []uint32{5, 127, 128, 200, 16383, 16384, 3000000}
	fileIdx := []uint32{0, 127, 128, 150, 299, 300}
	var rows []dwarf.LineRow
	for i, a := 0, uint64(addr); a < addr+size; i++ {
		rows = append(rows, dwarf.LineRow{Address: a, Size: steps[i%len(steps)] / 2, File: fileIdx[i%len(fileIdx)], Line: lines[i%len(lines)]})
		a += steps[i%len(steps)]
	}
	for i := range 400 {
		c := &debugfiles.Function{Name: fmt.Sprintf("i%d", i%7), Address: addr + uint64(i)*0x400, Size: 0x300, CallFile: files[i%len(files)], CallLine: uint32(i * 97)}
		if i%3 == 0 {
			c.Inlinees = []*debugfiles.Function{{Name: "leaf", Address: c.Address + 0x10, Size: 0x80, CallFile: files[(i*7)%len(files)], CallLine: 70000}}
		}
		f.Inlinees = append(f.Inlinees, c)
	}
	cf := &dwarf.CompactFunction{Function: f, Rows: rows, Files: files}
	trees := buildBytes(t, spillAt, func(b *Builder) { b.Add(treeOf(cf)) })
	compact := buildBytes(t, spillAt, func(b *Builder) { b.addCompact(cf) })
	if !bytes.Equal(trees, compact) {
		t.Fatalf("compact function makes a different symcache (%d bytes, trees %d)", len(compact), len(trees))
	}
}

// randomCompact makes a compact function at addr with random rows and a
// random inline tree.
func randomCompact(rng *rand.Rand, addr uint64, files []debugfiles.FileInfo) *dwarf.CompactFunction {
	size := uint64(0x20 + rng.IntN(0x1e0))
	f := &debugfiles.Function{Name: fmt.Sprintf("f%d", rng.IntN(20)), Address: addr, Size: size}
	var rows []dwarf.LineRow
	for a := addr - uint64(rng.IntN(2))*8; a < addr+size; a += uint64(1 + rng.IntN(24)) {
		if rng.IntN(6) == 0 {
			continue
		}
		rows = append(rows, dwarf.LineRow{Address: a, Size: uint64(rng.IntN(30)), File: uint32(rng.IntN(len(files) + 1)), Line: uint32(rng.IntN(40))})
	}
	if rng.IntN(10) == 0 && len(rows) > 1 {
		rows[0], rows[len(rows)-1] = rows[len(rows)-1], rows[0]
	}
	var grow func(p *debugfiles.Function, depth int)
	grow = func(p *debugfiles.Function, depth int) {
		if depth > 4 {
			return
		}
		for range rng.IntN(4) {
			a := p.Address + uint64(rng.IntN(int(p.Size)+1))
			s := uint64(rng.IntN(int(p.Size)/2 + 2))
			switch rng.IntN(20) {
			case 0:
				s = 0
			case 1:
				s = ^uint64(0) - a + 2 // the end overflows
			case 2:
				s += 0x40 // past the caller
			}
			c := &debugfiles.Function{Name: fmt.Sprintf("i%d", rng.IntN(10)), Address: a, Size: s, CallFile: files[rng.IntN(len(files))], CallLine: uint32(rng.IntN(9))}
			p.Inlinees = append(p.Inlinees, c)
			if s > 0 && s < 1<<20 {
				grow(c, depth+1)
			}
		}
	}
	grow(f, 1)
	return &dwarf.CompactFunction{Function: f, Rows: rows, Files: files}
}

// treeOf is the tree Functions yields for a compact function: its rows as
// Lines (sorted, as flatten would sort them), and as every inlinee's
// Lines those starting within its range. It copies the tree, so that the
// compact function is left as it was.
func treeOf(cf *dwarf.CompactFunction) *debugfiles.Function {
	var lines []debugfiles.LineInfo
	for _, r := range cf.Rows {
		var fi debugfiles.FileInfo
		if int(r.File) < len(cf.Files) {
			fi = cf.Files[r.File]
		}
		lines = append(lines, debugfiles.LineInfo{Address: r.Address, Size: r.Size, File: fi, Line: r.Line})
	}
	sorted := append([]debugfiles.LineInfo(nil), lines...)
	for i := 1; i < len(sorted); i++ { // stable insertion sort
		for j := i; j > 0 && sorted[j].Address < sorted[j-1].Address; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	var cp func(f *debugfiles.Function, top bool) *debugfiles.Function
	cp = func(f *debugfiles.Function, top bool) *debugfiles.Function {
		g := *f
		g.Inlinees = nil
		if top {
			g.Lines = lines
		} else {
			var ls []debugfiles.LineInfo
			end := f.Address + f.Size
			for _, l := range sorted {
				if end >= f.Address && l.Address >= f.Address && l.Address < end {
					ls = append(ls, l)
				}
			}
			g.Lines = ls
		}
		for _, c := range f.Inlinees {
			g.Inlinees = append(g.Inlinees, cp(c, false))
		}
		return &g
	}
	return cp(cf.Function, true)
}

// compactSession is a debug session that can yield functions with compact
// lines (dwarf.Session), one of the ways the tests read them.
type compactSession interface {
	CompactFunctions() iter.Seq2[*dwarf.CompactFunction, error]
}

// transientSession is a debug session that can yield compact functions
// whose storage it reuses, the whole program read first
// (dwarf.Session.TransientCompactFunctions).
type transientSession interface {
	TransientCompactFunctions() iter.Seq2[*dwarf.CompactFunction, error]
}

// addTransient adds each function of seq as it is yielded, returning the
// sequence's first error.
func addTransient(seq iter.Seq2[*dwarf.CompactFunction, error], add func(*dwarf.CompactFunction)) error {
	for f, err := range seq {
		if err != nil {
			return err
		}
		add(f)
	}
	return nil
}

// TestRawEntryRoundTrip decodes entries coded by appendRawEntry, whose
// values take one, two and more bytes each, at the end of their data and
// followed by more: decodeRawEntry's short ways for the common lengths
// must read what its general one reads.
func TestRawEntryRoundTrip(t *testing.T) {
	values := []uint32{0, 1, 127, 128, 200, 16383, 16384, 1 << 21, 1<<32 - 1}
	const prev, first = 0x1000, 7
	for _, d := range values {
		for _, nd := range values[:7] {
			for _, file := range values {
				for _, line := range values {
					e := entry{start: prev + uint64(d), node: first + nd, file: file, line: line}
					coded := appendRawEntry(nil, e, prev, first)
					for _, b := range [][]byte{coded, append(slices.Clip(coded), 0x81, 0x82, 0x03)} {
						got, n, ok := decodeRawEntry(b, prev, first)
						if !ok || got != e || n != len(coded) {
							t.Fatalf("%+v coded as % x (then %d bytes): decoded %+v in %d bytes, ok %v", e, coded, len(b)-len(coded), got, n, ok)
						}
					}
				}
			}
		}
	}
}
