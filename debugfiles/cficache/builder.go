package cficache

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"math"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/internal/atomicfile"
)

// Info identifies the object a cficache describes; it goes into the
// header.
type Info struct {
	Arch    unwind.Arch
	DebugID debugid.ID
}

// Stats counts what a Builder kept and left out.
type Stats struct {
	// Rows, WinRanges and ParamRanges count the address ranges written
	// to each index (after merging adjacent equal ones).
	Rows, WinRanges, ParamRanges int
	// RuleSets and WinFrames count distinct encoded records.
	RuleSets, WinFrames int
	// Malformed counts entries of the input the builder could not read
	// (a malformed FDE, a STACK record that does not parse) and left out.
	Malformed int
	// Unexpressible counts rows left out because their CFA has no
	// expression a walker can evaluate.
	Unexpressible int
	// OutOfRange counts ranges left out because they lie beyond the 4 GiB
	// a cficache addresses.
	OutOfRange int
}

// span is an address range and what covers it: a rule set offset, a frame
// data offset, or a parameter size.
type span struct {
	start, end uint64
	ref        uint32
}

// Builder collects unwind information and writes a cficache. Sources are
// added in order of preference: where two cover the same address, the one
// added first wins, as unwind.Lookup prefers the first table.
type Builder struct {
	info Info

	cfi, win, params []span

	rules    []byte
	ruleRefs map[uint64]uint32
	wins     []byte
	winRefs  map[uint64]uint32
	seed     maphash.Seed

	sym *SymbolStack

	stats Stats

	regs []unwind.RegRule
	enc  []byte
}

// NewBuilder starts a cficache for the object info describes.
func NewBuilder(info Info) *Builder {
	return &Builder{info: info, ruleRefs: map[uint64]uint32{}, winRefs: map[uint64]uint32{}, seed: maphash.MakeSeed()}
}

// Stats reports what was kept and left out so far.
func (b *Builder) Stats() Stats {
	s := b.stats
	s.RuleSets, s.WinFrames = len(b.ruleRefs), len(b.winRefs)
	return s
}

// AddTables adds unwind tables in order of preference.
func (b *Builder) AddTables(tables []unwind.Table) {
	for _, t := range tables {
		b.AddTable(t)
	}
}

// AddTable adds every row of a table. An entry that fails to decode is
// left out whole (its rows before the error too) and counted as
// malformed, as Breakpad's dump_syms leaves it out. Within the table, of
// rows that overlap, the lower one keeps the addresses they share.
//
// Rows carrying Windows frame data go to the frame data index with the
// rules Breakpad's processor applies to STACK WIN records (SymbolStack):
// FrameData (type 4) before FPO (type 0), other types ignored, and within
// a type the innermost of nested records, a record partially overlapping
// one yielded before it refused. A table yielding the records in a symbol
// file's order therefore gives the cache that file gives.
func (b *Builder) AddTable(t unwind.Table) {
	b.flushSymbols()
	var (
		cfi, pending []span
		wins         [2][]rangeRef // FPO, FrameData in table order; ref indexes frames
		frames       []unwind.WinFrame
		cur          unwind.Range
		bad          bool
	)
	flush := func() {
		cfi = append(cfi, pending...)
		pending = pending[:0]
	}
	for row, err := range t.Rows() {
		if row.Entry != cur {
			flush()
			cur, bad = row.Entry, false
		}
		if err != nil {
			b.stats.Malformed++
			pending, bad = pending[:0], true
			continue
		}
		if bad || row.End <= row.Start {
			continue
		}
		if row.Win != nil {
			i := -1
			switch row.Win.Type {
			case 0:
				i = 0
			case 4:
				i = 1
			}
			if i >= 0 && len(frames) < math.MaxUint32 {
				wins[i] = append(wins[i], rangeRef{row.Start, row.End, uint32(len(frames))})
				frames = append(frames, *row.Win)
			}
			continue
		}
		ref, ok := b.internRow(&row)
		if !ok {
			b.stats.Unexpressible++
			continue
		}
		pending = append(pending, span{row.Start, row.End, ref})
	}
	flush()
	b.cfi = b.cover(b.cfi, cfi)
	for _, i := range [...]int{1, 0} {
		var win []span
		for _, n := range nestedFlatten(wins[i]) {
			win = append(win, span{n.start, n.end, b.internWin(&frames[n.ref])})
		}
		b.win = b.cover(b.win, win)
	}
}

// AddRow adds one row with the lowest preference so far, for callers
// that produce rows without an unwind.Table.
func (b *Builder) AddRow(row *unwind.Row) bool {
	b.flushSymbols()
	if row.End <= row.Start {
		return false
	}
	ref, ok := b.internRow(row)
	if !ok {
		b.stats.Unexpressible++
		return false
	}
	b.cfi = b.cover(b.cfi, []span{{row.Start, row.End, ref}})
	return true
}

// internRow encodes a row and returns the offset of its rule set.
func (b *Builder) internRow(row *unwind.Row) (uint32, bool) {
	n, ok := normalize(b.info.Arch, row, b.regs)
	b.regs = n.Regs
	if !ok {
		return 0, false
	}
	b.enc = appendRow(b.enc[:0], &n)
	return b.intern(&b.rules, b.ruleRefs, b.enc), true
}

// internWin encodes frame data and returns its offset.
func (b *Builder) internWin(w *unwind.WinFrame) uint32 {
	b.enc = appendWin(b.enc[:0], w)
	return b.intern(&b.wins, b.winRefs, b.enc)
}

// intern appends rec to blob once and returns its offset. Records are
// found by hash; on the rare collision of different records the new one
// is simply stored again (deduplication only saves space).
func (b *Builder) intern(blob *[]byte, refs map[uint64]uint32, rec []byte) uint32 {
	h := maphash.Bytes(b.seed, rec)
	if ref, ok := refs[h]; ok && int(ref)+len(rec) <= len(*blob) && bytes.Equal((*blob)[ref:int(ref)+len(rec)], rec) {
		return ref
	}
	ref := uint32(len(*blob))
	refs[h] = ref
	*blob = append(*blob, rec...)
	return ref
}

// cover adds the parts of add that have no entry yet to have, which is
// sorted and disjoint; the result is sorted and disjoint. Within add, of
// overlapping spans the one starting lower keeps the shared addresses.
func (b *Builder) cover(have, add []span) []span {
	if len(add) == 0 {
		return have
	}
	slices.SortStableFunc(add, func(x, y span) int { return cmp.Compare(x.start, y.start) })
	var pieces []span
	var last uint64
	j := 0
	for i, s := range add {
		if s.end > 1<<32-1 {
			b.stats.OutOfRange++
			if s.start >= 1<<32-1 {
				continue
			}
			s.end = 1<<32 - 1
		}
		if i > 0 && s.start < last {
			s.start = last
		}
		if s.start >= s.end {
			continue
		}
		last = s.end
		// Subtract the existing spans.
		for j < len(have) && have[j].end <= s.start {
			j++
		}
		pos := s.start
		for k := j; k < len(have) && have[k].start < s.end; k++ {
			if have[k].start > pos {
				pieces = append(pieces, span{pos, have[k].start, s.ref})
			}
			pos = max(pos, have[k].end)
		}
		if pos < s.end {
			pieces = append(pieces, span{pos, s.end, s.ref})
		}
	}
	if len(have) == 0 {
		return pieces
	}
	out := make([]span, 0, len(have)+len(pieces))
	i, k := 0, 0
	for i < len(have) || k < len(pieces) {
		if k == len(pieces) || (i < len(have) && have[i].start < pieces[k].start) {
			out = append(out, have[i])
			i++
		} else {
			out = append(out, pieces[k])
			k++
		}
	}
	return out
}

// index encodes sorted, disjoint spans as an address index: an entry per
// span, adjacent spans with the same reference merged, and a gap entry
// where coverage stops.
func index(spans []span) (data []byte, count int) {
	var out []byte
	emit := func(start uint64, ref uint32) {
		out = binary.LittleEndian.AppendUint32(out, uint32(start))
		out = binary.LittleEndian.AppendUint32(out, ref)
		count++
	}
	for i := 0; i < len(spans); {
		s := spans[i]
		j := i + 1
		for j < len(spans) && spans[j].start == s.end && spans[j].ref == s.ref {
			s.end = spans[j].end
			j++
		}
		emit(s.start, s.ref)
		if j == len(spans) || spans[j].start > s.end {
			emit(s.end, none)
		}
		i = j
	}
	return out, count
}

// WriteTo writes the cficache (SPEC.md). An atomicfile.Writer is told its
// size first.
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	data, err := b.Bytes()
	if err != nil {
		return 0, err
	}
	atomicfile.Preallocate(w, int64(len(data)))
	n, err := w.Write(data)
	if err != nil {
		return int64(n), fmt.Errorf("cficache: write: %w", err)
	}
	return int64(n), nil
}

// Bytes returns the cficache as a byte slice, for callers that use it in
// memory (New) without writing a file.
func (b *Builder) Bytes() ([]byte, error) {
	b.flushSymbols()
	cfiIdx, nCFI := index(b.cfi)
	winIdx, nWin := index(b.win)
	parIdx, nPar := index(b.params)
	b.stats.Rows, b.stats.WinRanges, b.stats.ParamRanges = nCFI, nWin, nPar

	var buf bytes.Buffer
	hdr := make([]byte, headerSize)
	buf.Write(hdr)
	type section struct {
		field int
		data  []byte
		count int // -1: the field holds the length in bytes
	}
	sections := []section{
		{offCFI, cfiIdx, nCFI},
		{offRules, b.rules, -1},
		{offWin, winIdx, nWin},
		{offWinData, b.wins, -1},
		{offParams, parIdx, nPar},
	}
	for _, s := range sections {
		off := buf.Len()
		buf.Write(s.data)
		n := s.count
		if n < 0 {
			n = len(s.data)
		}
		binary.LittleEndian.PutUint32(hdr[s.field:], uint32(off))
		binary.LittleEndian.PutUint32(hdr[s.field+4:], uint32(n))
	}
	if buf.Len() > 1<<32-1 {
		return nil, fmt.Errorf("%w: %d-byte cficache", ErrTooLarge, buf.Len())
	}
	out := buf.Bytes()
	copy(hdr[offMagic:], magic)
	binary.LittleEndian.PutUint32(hdr[offVersion:], Version)
	binary.LittleEndian.PutUint32(hdr[offHeaderSize:], headerSize)
	binary.LittleEndian.PutUint32(hdr[offFileSize:], uint32(len(out)))
	hdr[offArch] = byte(b.info.Arch)
	copy(hdr[offGUID:offGUID+16], b.info.DebugID.GUID[:])
	binary.LittleEndian.PutUint32(hdr[offAge:], b.info.DebugID.Age)
	copy(out, hdr)
	binary.LittleEndian.PutUint32(out[offChecksum:], checksum(out))
	return out, nil
}

// checksum is the CRC-32C of a cficache with its checksum field left out.
func checksum(b []byte) uint32 {
	c := crc32.Update(0, castagnoli, b[:offChecksum])
	return crc32.Update(c, castagnoli, b[offChecksum+4:])
}
