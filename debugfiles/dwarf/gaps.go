package dwarf

import (
	"cmp"
	"iter"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles"
)

// GapClipper turns what TransientSubprogramsAndGaps yields into what
// TransientCompactFunctions yields. Note records the code of every
// function and keeps a copy of every gap; once the sequence has ended,
// Gaps yields the parts of the gaps that no function covers, as the
// whole-program walk finds them. A gap of a batch of units is most often
// code of that batch no function covers at all (padding, assembler
// units), so what it holds is small beside the batches' records.
type GapClipper struct {
	covered blocks[addrRange] // relative to the load address
	held    blocks[heldGap]
	// units are what the gaps of one unit share, held once for a run
	// of gaps from one unit.
	units []gapUnit
	// The rows of the gaps held, from chunks: a gap has a few, and an
	// allocation of each would cost more than its rows.
	table chunked[TableRow]
	rows  chunked[LineRow]
}

// heldGap is a gap copied out of the session's reused storage: its
// function's range (it has no name), its unit's part in units[unit], and
// its rows, in one form or the other. A program's gaps are thousands
// (libpython's are 4,874, most of them padding between functions).
type heldGap struct {
	addr, size uint64
	unit       int32
	table      []TableRow
	rows       []LineRow
}

// gapUnit is what the gaps of a unit share.
type gapUnit struct {
	load    uint64
	compDir string
	files   []debugfiles.FileInfo
}

// Note records cf, a function the sequence yielded, and reports whether
// it is one to consume now: every function but a gap, which Note keeps
// for Gaps.
func (c *GapClipper) Note(cf *CompactFunction) bool {
	if cf == nil || cf.Function == nil {
		return true
	}
	f := cf.Function
	if !cf.Gap {
		if end := f.Address + f.Size; end > f.Address {
			c.covered.add(addrRange{f.Address, end})
		}
		return true
	}
	// A unit's files are made for it and never reused: they are held
	// as they are.
	u := gapUnit{load: cf.Load, compDir: f.CompDir, files: cf.Files}
	if n := len(c.units); n == 0 || !sameUnit(&c.units[n-1], &u) {
		c.units = append(c.units, u)
	}
	g := heldGap{addr: f.Address, size: f.Size, unit: int32(len(c.units) - 1)}
	if cf.Table != nil {
		c.table.minChunk = gapRowChunk
		g.table = c.table.commit(append(c.table.alloc(len(cf.Table)), cf.Table...))
	} else if len(cf.Rows) > 0 {
		c.rows.minChunk = gapRowChunk
		g.rows = c.rows.commit(append(c.rows.alloc(len(cf.Rows)), cf.Rows...))
	}
	c.held.add(g)
	return false
}

// gapRowChunk is the rows of a chunk of the gaps' rows: the bench
// fixture's 3,679 gaps have a row each.
const gapRowChunk = 1 << 10

// Gaps yields, in the order Note kept them, the parts of the gaps that no
// function noted covers, each a function of its own with the rows that
// answer for it. The functions are valid until the next one is yielded.
func (c *GapClipper) Gaps() iter.Seq[*CompactFunction] {
	return func(yield func(*CompactFunction) bool) {
		covered := make([]addrRange, 0, c.covered.len())
		for r := range c.covered.all() {
			covered = append(covered, *r)
		}
		covered = mergedRanges(covered)
		var f debugfiles.Function
		var cf CompactFunction
		for g := range c.held.all() {
			for _, part := range uncovered(covered, g.addr, g.addr+g.size) {
				u := &c.units[g.unit]
				f = debugfiles.Function{Address: part.lo, Size: part.hi - part.lo, CompDir: u.compDir}
				cf = CompactFunction{Function: &f, Load: u.load, Files: u.files, Gap: true}
				if g.table != nil {
					cf.Table = clipTable(g.table, part.lo+u.load, part.hi+u.load)
				} else {
					cf.Rows = clipRows(g.rows, part.lo, part.hi)
				}
				if !yield(&cf) {
					return
				}
			}
		}
	}
}

// blocks is an append-only list kept in blocks of a fixed size: growing
// it copies nothing, and a list of thousands of small records costs its
// records, not the sum of the arrays append would have grown through.
type blocks[T any] struct {
	full [][]T
	last []T
	n    int
}

// blockLen is the records of a block.
const blockLen = 1 << 9

func (b *blocks[T]) add(v T) {
	if len(b.last) == cap(b.last) {
		if b.last != nil {
			b.full = append(b.full, b.last)
		}
		b.last = make([]T, 0, blockLen)
	}
	b.last = append(b.last, v)
	b.n++
}

func (b *blocks[T]) len() int { return b.n }

// all yields the records in the order they were added.
func (b *blocks[T]) all() iter.Seq[*T] {
	return func(yield func(*T) bool) {
		for _, blk := range append(b.full, b.last) {
			for i := range blk {
				if !yield(&blk[i]) {
					return
				}
			}
		}
	}
}

// sameUnit reports whether x and y are the same unit's: the same load
// address and compilation directory, and the same files, not only equal
// ones.
func sameUnit(x, y *gapUnit) bool {
	return x.load == y.load && x.compDir == y.compDir && len(x.files) == len(y.files) &&
		(len(x.files) == 0 || &x.files[0] == &y.files[0])
}

// mergedRanges sorts rs by start and joins those that overlap or touch,
// in place.
func mergedRanges(rs []addrRange) []addrRange {
	slices.SortFunc(rs, cmpRange)
	return mergeSorted(rs)
}

// mergeSorted joins the ranges of rs, sorted by start, that overlap or
// touch, in place.
func mergeSorted(rs []addrRange) []addrRange {
	merged := rs[:0]
	for _, r := range rs {
		if n := len(merged); n > 0 && r.lo <= merged[n-1].hi {
			merged[n-1].hi = max(merged[n-1].hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// uncovered returns the parts of [lo, hi) outside every range of merged
// (sorted, disjoint).
func uncovered(merged []addrRange, lo, hi uint64) []addrRange {
	var out []addrRange
	i, _ := slices.BinarySearchFunc(merged, lo, func(r addrRange, a uint64) int { return cmp.Compare(r.hi, a+1) })
	for ; lo < hi; i++ {
		end := hi
		if i < len(merged) {
			end = min(hi, max(merged[i].lo, lo))
		}
		if lo < end {
			out = append(out, addrRange{lo, end})
		}
		if i >= len(merged) {
			break
		}
		lo = max(lo, merged[i].hi)
	}
	return out
}

// clipTable returns the rows of table (see CompactFunction.Table) that
// answer for [lo, hi), as rowsFor takes them from a unit's table: from the
// last at or before lo to the last before hi.
func clipTable(table []TableRow, lo, hi uint64) []TableRow {
	i := max(searchRows(table, lo)-1, 0)
	j := i + searchRows(table[i:], hi-1)
	if j <= i {
		return nil
	}
	return table[i:j:j]
}

// clipRows returns the parts of rows within [lo, hi).
func clipRows(rows []LineRow, lo, hi uint64) []LineRow {
	var out []LineRow
	for _, r := range rows {
		s, e := max(r.Address, lo), min(r.Address+r.Size, hi)
		if s < e {
			out = append(out, LineRow{Address: s, Size: e - s, File: r.File, Line: r.Line})
		}
	}
	return out
}
