package symcache

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
	"github.com/cairn-dev/cairn/internal/atomicfile"
	"github.com/cairn-dev/cairn/internal/prefault"
	"github.com/cairn-dev/cairn/internal/radix"
)

// castagnoli is the CRC-32C table; Go computes it with the CPU's CRC
// instructions where they exist (several GB/s).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Write builds the symcache of obj's debug information (DWARF, PDB,
// Breakpad records, or the symbol table of an object without debug
// information) and writes it to w. Functions are consumed one at a time
// from the object's debug session, with compact lines where the session
// offers them (DWARF), and, from a large program, a batch of units at a
// time (dwarf.Session.TransientSubprogramsAndGaps), so that the memory the
// reading holds does not grow with the debug information.
func Write(w io.Writer, obj debugfiles.Object, opts Options) error {
	s, err := obj.DebugSession()
	if err != nil {
		return fmt.Errorf("symcache: %s: %w", obj.Name(), err)
	}
	b := NewBuilder(InfoOf(obj), opts)
	fill := opts.FillFromSymbols && obj.Features()&debugfiles.FeatureDebug != 0
	var symbols func() []debugfiles.Symbol
	if fill {
		var wait func()
		symbols, wait = readSymbols(obj)
		// An error returns before they are used; the caller may close
		// obj then.
		defer wait()
	}
	var covered []addrRange
	cover := func(f *debugfiles.Function) {
		if fill && f != nil && f.Size > 0 {
			covered = append(covered, addrRange{f.Address, f.End()})
		}
	}
	if ss, ok := s.(streamSession); ok {
		err = addStreamed(ss.TransientSubprogramsAndGaps(), func(cf *dwarf.CompactFunction) { cover(cf.Function); b.addCompact(cf) })
	} else {
		err = addEach(s.Functions(), func(f *debugfiles.Function) { cover(f); b.Add(f) })
	}
	// The session's caches are not needed for writing: closing it first
	// lets them go before the writer's tables grow.
	if cerr := s.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("symcache: %s: %w", obj.Name(), err)
	}
	if fill {
		fillFromSymbols(b, symbols(), covered)
	}
	if opts.AfterReading != nil {
		opts.AfterReading()
	}
	_, err = b.WriteTo(w)
	return err
}

// AddAll adds every function of a debug session's sequence, stopping at
// its first error. Reading the debug information and flattening run on
// two goroutines, handing over batches of trees: a tree is not touched by
// the reader after it was yielded (debugfiles.NewIndex relies on that as
// well), so the work overlaps on two cores. Batches are small and few are
// in flight: the trees waiting in them are most of the memory a large
// input's functions take while they are read.
func (b *Builder) AddAll(seq iter.Seq2[*debugfiles.Function, error]) error {
	return addEach(seq, b.Add)
}

// streamSession is what Write uses of a debug session that can yield its
// functions with compact lines, a batch of units at a time (dwarf.Session).
// Compact lines spare the session a LineInfo per row and every level of a
// tree its lines, and the builder a file lookup per row. The session
// reuses their storage: addCompact copies out all it keeps before
// returning, so the trees and rows of every function need not be
// allocated and collected, and no goroutine hands them over. The code
// that no function covers comes as gaps, which are known to be the
// program's only once every batch was read.
type streamSession interface {
	TransientSubprogramsAndGaps() iter.Seq2[*dwarf.CompactFunction, error]
}

// addStreamed adds each function of seq as it is yielded, then the gaps,
// clipped to the code that no function covers (dwarf.GapClipper),
// returning the sequence's first error.
func addStreamed(seq iter.Seq2[*dwarf.CompactFunction, error], add func(*dwarf.CompactFunction)) error {
	var clip dwarf.GapClipper
	for f, err := range seq {
		if err != nil {
			return err
		}
		if clip.Note(f) {
			add(f)
		}
	}
	for g := range clip.Gaps() {
		add(g)
	}
	return nil
}

// addEach is AddAll for any sequence of functions and the method that adds
// one: it reads seq on its own goroutine and hands batches to add on this
// one, returning the sequence's first error.
func addEach[T any](seq iter.Seq2[T, error], add func(T)) error {
	const batch = 32
	ch := make(chan []T, 2)
	var err error
	go func() {
		defer close(ch)
		buf := make([]T, 0, batch)
		for f, e := range seq {
			if e != nil {
				err = e
				return
			}
			buf = append(buf, f)
			if len(buf) == batch {
				ch <- buf
				buf = make([]T, 0, batch)
			}
		}
		if len(buf) > 0 {
			ch <- buf
		}
	}()
	for fs := range ch {
		for _, f := range fs {
			add(f)
		}
	}
	return err // written before ch was closed
}

// region is a run of the address space without large gaps, with its own
// pages of the directory.
type region struct {
	start, end uint64
	firstPage  uint32
	lo, hi     int // its entries
}

// assembly holds what WriteTo derives from the builder's spans: the final
// numbering of nodes, functions, files and call sites, and the tables and
// range entries in that numbering. The large ones (the final entries, the
// node table, the absolute addresses, the range stream) are kept in
// spills.
type assembly struct {
	b *Builder

	// Renumbering in order of first appearance in the final ranges.
	funcMap []uint32        // old function id -> new id+1
	funcs   chunked[uint32] // new function id -> old
	fileMap []uint32        // old file id+1 -> new id+1
	files   []string
	// sites places the call sites with their callers; callerSites
	// counts the sites placed with every function so far.
	sites       siteTable
	callerSites []uint32
	nnodes      uint32
	// warmth sums what load read of the site table ahead of mapNode
	// (siteTable.warm); it is never used.
	warmth uint32
	// nodeCols holds the site, address and parent columns of every
	// final node as uvarints (a top-level node's whole row of the
	// top-level table in its site column); maxv the largest value of
	// every column of the inlined nodes and of the sites.
	nodeCols spill
	maxv     [numCols]uint64
	// nodeMarks[k] is where node k*nodeMarkEvery's columns start in
	// nodeCols, so that the node table can be written in two parts.
	nodeMarks []int64
	// blockW holds the column widths in bits (site, address, parent)
	// of every block of nodeBlock nodes; curW and curTop gather the
	// open block's: the bit lengths of its inlined nodes' columns and
	// of its top-level nodes' rows.
	blockW [][numNodeCols]uint8
	curW   [numNodeCols]uint8
	curTop uint8
	// nodeBytes is the node table's length, markByte[k] where the rows
	// from mark k on start in it: a byte, for the table to be written
	// in parts.
	nodeBytes uint64
	markByte  []uint64
	// entBuf and colBuf gather what resolve writes to ents and
	// nodeCols, a node or an entry at a time, for one write of
	// batchBytes: a write per entry cost more than coding it.
	entBuf, colBuf []byte
	// abs holds the absolute addresses of inlined nodes that cannot be
	// coded relative to their parent's, as uvarints.
	abs    spill
	nabs   int
	maxAbs uint64
	// top holds the function and address of every top-level node, as
	// uvarints, in node order: its row of the top-level table.
	top                  spill
	ntop                 int
	maxTopFn, maxTopAddr uint64
	// topLo and topHi are the lowest and highest address of the open
	// block of top-level rows, maxTopDiff the largest difference within
	// a block so far (see topBlock).
	topLo, topHi, maxTopDiff uint64
	chain                    [maxChain]uint32

	// ents holds the final range entries (see putEntry); end is the end
	// of the last one.
	spans     *spanMerger
	ents      spill
	nents     int
	end       uint64
	lastStart uint64
	pend      entry
	havePend  bool
	// gaps are the gap entries of minCut bytes or more, which cut may
	// cut regions at; firstStart is the start of the first entry.
	gaps       []gap
	firstStart uint64
	// marks are where the reading of entries can start: one every
	// markEvery entries (see entryReaderAt).
	marks []entryMark
	// fol counts the range stream's symbols as resolve makes the
	// entries, when it runs; followed tells that encodePages used its
	// counts.
	fol      *follower
	followed bool
	// skipEnts tells that resolve did not code the final entries into
	// ents, nor mark them, as a follower was counting them: they are
	// needed only when its counts are not used (followerFits), and
	// coding them took an eighth of resolve. keepEnts makes resolve
	// code them whatever runs.
	skipEnts, keepEnts bool

	// The layout: page shift, regions, directory (a block per group
	// of pages, their offsets packed in dirW bits each, the file and
	// line each group starts from in groupW), the range stream and the
	// Huffman codes of its alphabets.
	shift   uint8
	regions []region
	npages  uint64
	dir     []byte
	dirW    uint8
	groupW  [2]uint8
	stream  spill
	codes   [numAlphabets]code

	// Strings: the offsets of every file's directory and name and of
	// every function's name in the string table, the lengths of the
	// functions' names, the table's length, and the width in bits of a
	// string's length in the file and function tables.
	fileStr  [][2]uint32
	funcStr  []uint32
	funcLen  []uint32
	funcLang []Language
	// langW is the width of a function row's language, the fewest bits
	// that hold every function's: 0 when none is known (a C program's
	// names say nothing of their language), which saves 3 KB on
	// CPython's libpython.
	langW   uint8
	funcOwn []uint64 // a bit per function: its name's bytes are its own (planStrings)
	strLen  uint64
	lenW    uint8
	// widths are the column widths in bits (for nodes, the widest of
	// any block's), siteRow a site row's width in bits.
	widths  [numCols]uint8
	siteRow int
	absW    int
	// topW are the widths of a top-level row's function and address
	// (its difference from its block's base), topBaseW that of a block's
	// base, firstW that of the first-site field of top-level and site
	// rows.
	topW     [2]uint8
	topBaseW uint8
	firstW   uint8
	// funcFirst is the first site of every function's calls, siteRows
	// the site table as it is written (orderSites).
	funcFirst []uint32
	siteRows  spill
	// funcHome is the file of every function's calls (its sites' call
	// file, as most of them have it), funcBase the base of their lines
	// shifted right by baseShift, in baseW bits, flagW the width of a
	// site row's exception flag, and siteExc the sites whose call file
	// is another, in site order (siteColumns).
	funcHome  []uint32
	funcBase  []uint32
	baseShift uint8
	baseW     uint8
	flagW     uint8
	siteExc   []siteException

	// spare is memory a phase is done with, all of it written, which
	// heldSections reuses for the file's sections (see keepSpare).
	spare []byte
}

// keepSpare keeps the symbols a counting pass recorded, once replayed,
// as memory for heldSections. Where the first touch of a page is costly
// (on the virtual machines measured, a page fault takes ~13 µs), making
// the bench fixture's 1.4 MB of sections into new memory took 3.8 ms
// against 1.9 ms into this (medians of 15 builds). Only what was written
// is kept: the rest of the array was never touched, and reusing it would
// save nothing.
func (a *assembly) keepSpare(syms []uint16) {
	if len(syms) > len(a.spare)/2 {
		a.spare = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(syms))), 2*len(syms))
	}
}

// WriteTo writes the symcache. The Builder should not be used afterwards.
//
// It makes two passes over coded data rather than holding tables of
// fixed-size records: resolving the spans into final, renumbered entries
// (and the node table), then, with the regions cut at the gaps resolve
// noted, encoding the pages. The sections are then generated for the
// checksum that the header carries and held for the writing, or, past
// holdSections, generated a second time to write them. An
// atomicfile.Writer is told the file's size before its first byte.
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	a := &assembly{b: b}
	defer func() { a.close() }()
	if err := b.names.data.finish(); err != nil {
		return 0, err
	}
	if b.names.err != nil {
		return 0, b.names.err
	}
	b.names.forget()
	// Only reads by id follow, of names and files alike: the scratch of
	// Add and the caches of files (which hold the session's strings) go.
	b.ownRows, b.unitFiles, b.unitIDs = nil, nil, nil
	b.fileCache = [fileCacheSize]cachedFile{}
	if err := a.assemble(); err != nil {
		return 0, err
	}
	if a.skipEnts && !a.followerFits() {
		// The follower gave up (too many entries), and the final
		// entries were not kept: resolve again, keeping them, for
		// encodePages to count.
		a.release()
		a = &assembly{b: b, keepEnts: true}
		if err := a.assemble(); err != nil {
			return 0, err
		}
	}
	b.raw.close()
	// The site table and the strings are laid out once the range stream,
	// which needs the most memory, is written: neither then holds the
	// other's tables. A small symcache's (to be held whole, its stream
	// estimated at 4 bytes an entry) are laid out beside the stream's
	// writing, which leaves a core idle part of the time: they share no
	// table.
	var tables error
	beside := uint64(a.nents)*4 <= holdSections
	var wg sync.WaitGroup
	if beside {
		wg.Go(func() { tables = a.layTables() })
	}
	err := a.encodePages()
	wg.Wait()
	if err != nil {
		return 0, err
	}
	b.followed = a.followed
	if !beside {
		tables = a.layTables()
	}
	if tables != nil {
		return 0, tables
	}

	sizes := [...]uint64{
		uint64(a.strLen), bitBytes(uint64(len(a.files)), 2*(strBits(a.strLen)+uint64(a.lenW))),
		bitBytes(uint64(a.funcs.len()), strBits(a.strLen)+uint64(a.lenW)+uint64(a.langW)+uint64(a.widths[colCallFile])+uint64(a.baseW)),
		bitBytes(uint64(a.sites.len()), uint64(a.siteRow)+uint64(a.firstW)), a.nodeBytes,
		bitBytes(uint64(len(a.blockW)), a.nodeDirBits()),
		a.topBytes(),
		uint64(a.nabs) * uint64(a.absW), uint64(len(a.regions)) * regionRecord,
		uint64(len(a.dir)), a.codeBytes(), uint64(a.stream.size),
		uint64(len(a.siteExc)) * exceptionRecord,
	}
	size := uint64(headerSize)
	var offs [len(sizes)]uint32
	for i, n := range sizes {
		offs[i] = uint32(size)
		size += n
	}
	if size > math.MaxUint32 {
		return 0, errTooLarge("file", int(size))
	}
	var h [headerSize]byte
	copy(h[offMagic:], magic)
	le := binary.LittleEndian
	le.PutUint32(h[offVersion:], Version)
	le.PutUint32(h[offHeaderSize:], headerSize)
	le.PutUint64(h[offLoadAddress:], b.info.LoadAddress)
	copy(h[offGUID:offGUID+16], b.info.DebugID.GUID[:])
	le.PutUint32(h[offAge:], b.info.DebugID.Age)
	h[offFormat] = byte(b.info.Format)
	h[offPageShift] = a.shift
	h[offLenWidth] = a.lenW
	copy(h[offWidths:offWidths+numCols], a.widths[:])
	copy(h[offArch:offArch+archLen], b.info.Arch)
	put := func(off int, x, c uint32) { le.PutUint32(h[off:], x); le.PutUint32(h[off+4:], c) }
	put(offStrings, offs[0], uint32(a.strLen))
	put(offFiles, offs[1], uint32(len(a.files)))
	put(offFuncs, offs[2], uint32(a.funcs.len()))
	put(offSites, offs[3], uint32(a.sites.len()))
	put(offNodes, offs[4], a.nnodes)
	le.PutUint32(h[offNodeBytes:], uint32(a.nodeBytes))
	le.PutUint32(h[offNodeDir:], offs[5])
	put(offTop, offs[6], uint32(a.ntop))
	h[offTopWidths], h[offTopWidths+1] = a.topW[0], a.topW[1]
	h[offTopBase] = a.topBaseW
	h[offLangWidth] = a.langW
	h[offTopWidths+2] = a.firstW
	put(offAbs, offs[7], uint32(a.nabs))
	h[offAbsWidth] = byte(a.absW)
	put(offRegions, offs[8], uint32(len(a.regions)))
	put(offDir, offs[9], uint32(a.npages))
	h[offDirWidth] = a.dirW
	h[offGroupWidths], h[offGroupWidths+1] = a.groupW[0], a.groupW[1]
	put(offCodes, offs[10], uint32(a.codeBytes()))
	for i := range a.codes {
		h[offCodeBits+i] = a.codes[i].bits
	}
	put(offStream, offs[11], uint32(a.stream.size))
	put(offExceptions, offs[12], uint32(len(a.siteExc)))
	h[offFlagWidth] = a.flagW
	h[offLineBase], h[offLineBase+1] = a.baseW, a.baseShift
	le.PutUint32(h[offEntries:], uint32(min(a.nents, math.MaxUint32)))
	le.PutUint32(h[offFileSize:], uint32(size))

	crc := crc32.Update(0, castagnoli, h[:offChecksum])
	crc = crc32.Update(crc, castagnoli, h[offChecksum+4:])
	// A small file's sections are made once, held, and written after the
	// header that holds their checksum; a large one's are made twice,
	// for the checksum and for the writing, rather than held.
	var body []byte
	if size-headerSize <= holdSections {
		var err error
		if body, err = a.heldSections(size-headerSize, uint64(offs[4])-headerSize, uint64(offs[5])-headerSize); err != nil {
			return 0, err
		}
		crc = crc32.Update(crc, castagnoli, body)
	} else if err := a.sections(func(p []byte) error { crc = crc32.Update(crc, castagnoli, p); return nil }); err != nil {
		return 0, err
	}
	le.PutUint32(h[offChecksum:], crc)

	atomicfile.Preallocate(w, int64(size))
	bw := bufio.NewWriterSize(w, 1<<16)
	n, err := bw.Write(h[:])
	total := int64(n)
	switch {
	case err != nil:
	case body != nil:
		n, err = bw.Write(body)
		total += int64(n)
	default:
		err = a.sections(func(p []byte) error {
			n, err := bw.Write(p)
			total += int64(n)
			return err
		})
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return total, fmt.Errorf("symcache: write: %w", err)
	}
	return total, nil
}

// assemble resolves the spans and lays the file out.
func (a *assembly) assemble() error {
	b := a.b
	// The site table's cache (128 KB) is looked in before it is filled.
	prefault.Value(&a.sites)
	for _, s := range [...]*spill{&a.nodeCols, &a.ents, &a.stream, &a.abs, &a.sites.keys, &a.top, &a.siteRows} {
		s.limit, s.pool = b.spillLimit, b.spillPool
	}
	b.resolves++
	if err := a.resolve(); err != nil {
		return err
	}
	// What only resolve needed goes: the renumbering of functions and
	// the lookup tables of sites, whose records move to a spill.
	a.funcMap = nil
	if err := a.sites.done(); err != nil {
		return err
	}
	if b.nodes >= collectNodes {
		// The collector sets its next goal from the heap it last found
		// live, which resolve's tables, now gone, were most of: without
		// a collection here, the phases after grow the heap towards
		// twice those tables before reusing their memory. On a 100 MB
		// PDB this takes 0.5-4 MB off the peak.
		runtime.GC()
	}
	return a.layout()
}

// layTables lays out the site table and the strings.
func (a *assembly) layTables() error {
	if err := a.orderSites(); err != nil {
		return err
	}
	return a.planStrings()
}

// funcName returns the name of the function of new id i, valid until the
// next call. Names are read in about the order they were added: the
// functions' first appearances in address order follow the order they
// were added in but for the runs merged.
func (a *assembly) funcName(i int) ([]byte, error) {
	old := int(a.funcs.at(i))
	off, n := a.b.names.span(old)
	return a.b.names.read(old, off, n, true)
}

// close releases the spills, the builder's too, and stops the follower.
func (a *assembly) close() {
	a.release()
	a.b.raw.close()
	a.b.names.data.close()
}

// release releases the assembly's own spills, and stops the follower.
func (a *assembly) release() {
	if a.fol != nil {
		a.fol.stop()
		a.fol = nil
	}
	a.abs.close()
	a.sites.keys.close()
	a.siteRows.close()
	a.top.close()
	a.nodeCols.close()
	a.ents.close()
	a.stream.close()
}

// holdSections is the largest size of sections WriteTo holds in memory
// to make them once: a bench-sized symcache (1.4 MB), not a large PDB's
// (15 MB), whose build's peak memory it would raise. A variable for the
// tests, which compare both ways.
var holdSections uint64 = 4 << 20

// collectNodes is the fewest nodes for which WriteTo collects garbage
// once resolve is done; below it, the tables are too small to matter.
const collectNodes = 1 << 18

// openSpan is a span on resolve's stack: its data, read when it first
// contributes entries, the cursor over its entries, and the new ids of its
// nodes.
type openSpan struct {
	sp     span
	loaded bool
	buf    []byte // its data
	data   []byte // its entries not yet decoded
	cur    entry  // the entry last decoded
	nodes  []node
	newIDs []uint32 // new id+1 of each node, 0 while unmapped
	// nameless is set for a span written as node 0 (assembly.nameless).
	nameless bool
}

// resolve applies debugfiles.NewIndex's ownership rules to the spans and
// puts the final entries in address order, gaps as entries of node 0,
// renumbering what they reach (mapNode).
//
// Where spans overlap, the one starting later owns its range and an
// enclosing one resumes after it; of two spans with the same range the one
// added later wins.
func (a *assembly) resolve() error {
	b := a.b
	if err := b.raw.finish(); err != nil {
		return err
	}
	a.funcMap = make([]uint32, b.names.len())
	a.fileMap = make([]uint32, len(b.paths)+1)
	// The nodes bound the sites; a node's site is often shared with
	// other nodes (the pieces of one inlined call, the calls of one
	// inline function's body). Half of them is about what a large PDB
	// has (405,000 sites for 832,000 nodes): reserving it spares the
	// tables growing, whose old slots are garbage, at less than 3 bytes
	// a node.
	a.sites.reserve(b.nodes / 2)
	spans, err := newSpanMerger(&b.raw, b.runs, &b.heads)
	if err != nil {
		return err
	}
	a.spans = spans
	if !a.keepEnts {
		a.fol = a.startFollower()
	}
	a.skipEnts = a.fol != nil
	var (
		any   bool
		last  uint64 // end of what the entries cover
		free  []*openSpan
		stack []*openSpan
		pos   uint64
	)
	emit := func(s, e uint64, op *openSpan) {
		if s >= e || err != nil {
			return
		}
		// Whether what comes before s is a function's code: nameless
		// code starting there can be node 0 (a.nameless).
		afterCode := !any || s == last && a.havePend && a.pend.node != 0
		if any && s > last {
			a.putEntry(entry{start: last}) // a gap
		}
		if !op.loaded {
			if err = a.load(op); err != nil {
				return
			}
			op.nameless = afterCode && a.nameless(op, s, e)
		}
		// The entry covering s: the last one starting at or before it,
		// else the first. Later emits of a span start past this one's end.
		for len(op.data) > 0 {
			next, n, ok := a.decodeEntry(op.data, op.cur.start, op)
			if !ok {
				err = errSpill
				return
			}
			if next.start > s {
				break
			}
			op.cur, op.data = next, op.data[n:]
		}
		first := op.cur
		first.start = s
		a.putEntry(a.mapEntry(first, op))
		for len(op.data) > 0 {
			next, n, ok := a.decodeEntry(op.data, op.cur.start, op)
			if !ok {
				err = errSpill
				return
			}
			if next.start >= e {
				break
			}
			op.cur, op.data = next, op.data[n:]
			a.putEntry(a.mapEntry(next, op))
		}
		any, last = true, e
	}
	closeUntil := func(limit uint64, all bool) {
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if !all && top.sp.end > limit {
				break
			}
			emit(max(pos, top.sp.start), top.sp.end, top)
			pos = max(pos, top.sp.end)
			stack = stack[:len(stack)-1]
			free = append(free, top)
		}
	}
	for err == nil {
		s, ok := spans.next()
		if !ok {
			err = spans.err
			break
		}
		closeUntil(s.start, false)
		if n := len(stack); n > 0 {
			top := stack[n-1]
			emit(max(pos, top.sp.start), s.start, top)
		}
		pos = s.start
		var op *openSpan
		if n := len(free); n > 0 {
			op, free = free[n-1], free[:n-1]
		} else {
			op = &openSpan{}
		}
		op.sp, op.loaded = s, false
		stack = append(stack, op)
	}
	closeUntil(0, true)
	if err != nil {
		return err
	}
	a.end = last
	if a.havePend {
		a.flushPend(a.end)
	}
	if a.fol != nil {
		a.fol.finish(a.end)
	}
	a.ents.write(a.entBuf)
	a.nodeCols.write(a.colBuf)
	a.entBuf, a.colBuf = nil, nil
	if err := a.nodeCols.finish(); err != nil {
		return err
	}
	if err := a.abs.finish(); err != nil {
		return err
	}
	if err := a.top.finish(); err != nil {
		return err
	}
	return a.ents.finish()
}

// spanMerger yields the spans of the runs in resolve's order, merging the
// runs; with more than maxRuns runs it sorts the spans in memory instead.
type spanMerger struct {
	raw    *spill
	heads  []runHead
	sorted []span
	// inMemory is set when the spans were sorted in memory.
	inMemory bool
	err      error
}

// maxRuns bounds the runs merged: each step compares their heads.
const maxRuns = 16

// maxHeads bounds the span headers a Builder keeps for resolve (40 bytes
// each): enough for most programs, well below a large PDB's functions. A
// variable for the tests.
var maxHeads = 1 << 14

// runHead is the next span of a run.
type runHead struct {
	sp   span
	next int64 // offset of the span after it
	left int   // spans of the run after it
}

func newSpanMerger(raw *spill, runs []run, heads *chunked[span]) (*spanMerger, error) {
	m := &spanMerger{raw: raw}
	if len(runs) <= maxRuns {
		for _, r := range runs {
			h := runHead{next: r.off, left: r.n}
			if m.advance(&h) {
				m.heads = append(m.heads, h)
			}
		}
		return m, m.err
	}
	m.inMemory = true
	// Exactly as many as the runs hold: growing the slice as they are
	// read would leave its earlier arrays as garbage.
	total := 0
	for _, r := range runs {
		total += r.n
	}
	m.sorted = make([]span, 0, total)
	if heads.len() == total {
		// The builder kept them: the bench fixture's 7,724 took 1.0 ms
		// to read back from its 4.7 MB of raw spans, and sort; 0.36 ms
		// from here.
		for _, b := range heads.blocks {
			m.sorted = append(m.sorted, b...)
		}
		// A resolve made again (see WriteTo) reads them from raw.
		*heads = chunked[span]{}
	} else {
		for _, r := range runs {
			h := runHead{next: r.off, left: r.n}
			for m.advance(&h) {
				m.sorted = append(m.sorted, h.sp)
			}
		}
	}
	sortSpans(m.sorted)
	slices.Reverse(m.sorted) // next takes from the end
	return m, m.err
}

// sortSpans puts spans in resolve's order (cmpSpan): a radix sort by
// start, which keeps the order they were added in, and then the few spans
// of a same start sorted by cmpSpan. Sorting the bench fixture's 7,724
// spans by cmpSpan alone, a call per comparison, took 1.1 ms.
func sortSpans(spans []span) {
	radix.SortStable(spans, func(s *span) uint64 { return s.start })
	for i := 0; i < len(spans); {
		j := i + 1
		for j < len(spans) && spans[j].start == spans[i].start {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(spans[i:j], func(x, y span) int { return cmpSpan(&x, &y) })
		}
		i = j
	}
}

// advance reads the next span of a run into h.sp; false at its end or on
// an error.
func (m *spanMerger) advance(h *runHead) bool {
	if h.left == 0 || m.err != nil {
		return false
	}
	var buf [maxSpanHeader]byte
	n := min(int64(len(buf)), m.raw.size-h.next)
	if n <= 0 {
		m.err = errSpill
		return false
	}
	if err := m.raw.readAt(buf[:n], h.next, true); err != nil {
		m.err = err
		return false
	}
	sp, next, ok := decodeSpanHeader(buf[:n], h.next)
	if !ok {
		m.err = errSpill
		return false
	}
	h.sp, h.next, h.left = sp, next, h.left-1
	return true
}

// next returns the next span in resolve's order.
func (m *spanMerger) next() (span, bool) {
	if m.err != nil {
		return span{}, false
	}
	if m.inMemory {
		if n := len(m.sorted); n > 0 {
			sp := m.sorted[n-1]
			m.sorted = m.sorted[:n-1]
			return sp, true
		}
		return span{}, false
	}
	best := -1
	for i := range m.heads {
		if best < 0 || cmpSpan(&m.heads[i].sp, &m.heads[best].sp) < 0 {
			best = i
		}
	}
	if best < 0 {
		return span{}, false
	}
	sp := m.heads[best].sp
	if !m.advance(&m.heads[best]) {
		m.heads = slices.Delete(m.heads, best, best+1)
		if m.err != nil {
			return span{}, false
		}
	}
	return sp, true
}

// batchBytes is how much of what resolve writes to a spill it gathers
// before writing it.
const batchBytes = 4 << 10

// errSpill reports coded data that do not decode: a temporary file that
// changed under the builder.
var errSpill = errors.New("symcache: temporary data corrupt")

// load reads a span's data and decodes its nodes.
func (a *assembly) load(op *openSpan) error {
	sp := op.sp
	n := int64(sp.entLen) + int64(sp.nodeLen)
	if sp.off < 0 || sp.off+n > a.b.raw.size {
		return errSpill
	}
	if int64(cap(op.buf)) < n {
		op.buf = make([]byte, n)
	}
	buf := op.buf[:n]
	// Spans come in the order of the data unless they had to be sorted,
	// and then mostly in the reverse order (a unit's functions often
	// come in descending address order) or in a few sequences
	// interleaved: the windows serve both.
	if err := a.b.raw.readAt(buf, sp.off, true); err != nil {
		return err
	}
	var ok bool
	op.nodes, ok = decodeRawNodes(op.nodes[:0], buf[sp.entLen:], sp.firstNode, sp.start, uint32(a.b.names.len()), uint32(len(a.b.paths)))
	if !ok {
		return errSpill
	}
	// The inlined nodes' call sites are hashed now, and the places of
	// the site table where mapNode will look for them read: a span's
	// reads are then in flight together, where mapNode's, each after
	// the one before, waited for the memory one at a time.
	var warm uint32
	for i := range op.nodes {
		nd := &op.nodes[i]
		if nd.parent != 0 {
			nd.site = siteHash(op.nodes[nd.parent-sp.firstNode].fn, nd.fn, nd.callFile, nd.callLine)
			warm += a.sites.warm(nd.site)
		}
	}
	a.warmth += warm
	op.newIDs = slices.Grow(op.newIDs[:0], len(op.nodes))[:len(op.nodes)]
	clear(op.newIDs)
	// The first entry starts the cursor.
	first, k, ok := a.decodeEntry(buf[:sp.entLen], sp.start, op)
	if !ok {
		return errSpill
	}
	op.cur, op.data, op.loaded = first, buf[k:sp.entLen], true
	return nil
}

// decodeEntry decodes an entry of op's span and checks that its node and
// file are ones the tables have.
func (a *assembly) decodeEntry(b []byte, prev uint64, op *openSpan) (entry, int, bool) {
	e, n, ok := decodeRawEntry(b, prev, op.sp.firstNode)
	if !ok || e.node-op.sp.firstNode >= uint32(len(op.nodes)) || e.file > uint32(len(a.b.paths)) {
		return entry{}, 0, false
	}
	return e, n, true
}

// decodeRawEntry decodes an entry coded by appendRawEntry and returns it
// with its length.
func decodeRawEntry(b []byte, prev uint64, first uint32) (entry, int, bool) {
	// Most entries: a delta and a node of one byte each, and a file and
	// a line of one or two (see codeCompact).
	if len(b) >= 6 && b[0]|b[1] < 0x80 {
		e := entry{start: prev + uint64(b[0]), node: first + uint32(b[1]), file: uint32(b[2])}
		k := 3
		if b[2] >= 0x80 && b[3] < 0x80 {
			e.file = uint32(b[2]&0x7f) | uint32(b[3])<<7
			k = 4
		}
		if b[k-1] < 0x80 {
			if b[k] < 0x80 {
				e.line = uint32(b[k])
				return e, k + 1, true
			}
			if b[k+1] < 0x80 {
				e.line = uint32(b[k]&0x7f) | uint32(b[k+1])<<7
				return e, k + 2, true
			}
		}
	}
	var v [4]uint64
	k, ok := readUvarints(b, v[:])
	if !ok {
		return entry{}, 0, false
	}
	return entry{start: prev + v[0], node: first + uint32(v[1]), file: uint32(v[2]), line: uint32(v[3])}, k, true
}

// decodeRawNodes appends to dst the nodes coded by appendRawNode in b,
// of a span whose first node is first and which starts at start, and
// checks that they index the tables (nfuncs functions, nfiles files) and
// that parents precede their children; false when one does not, or b is
// malformed.
func decodeRawNodes(dst []node, b []byte, first uint32, start uint64, nfuncs, nfiles uint32) ([]node, bool) {
	// Every node takes five bytes at least: room for them all at once,
	// filled in place.
	dst = slices.Grow(dst, len(b)/5)
	for id := first; len(b) > 0; id++ {
		var v [5]uint64
		// uvarint, written out: resolve decodes every node of every
		// span.
		for i := range v {
			switch {
			case len(b) > 0 && b[0] < 0x80:
				v[i], b = uint64(b[0]), b[1:]
			case len(b) > 1 && b[1] < 0x80:
				v[i], b = uint64(b[0]&0x7f)|uint64(b[1])<<7, b[2:]
			default:
				x, n := binary.Uvarint(b)
				if n <= 0 {
					return dst, false
				}
				v[i], b = x, b[n:]
			}
		}
		var parent uint32
		if v[2] != 0 {
			parent = id - uint32(v[2])
			if v[2] > uint64(id-first) {
				return dst, false // not a node of the span before it
			}
		}
		if v[0] >= uint64(nfuncs) || v[3] > uint64(nfiles) {
			return dst, false
		}
		// Stored in place: a node made on the stack and appended was
		// copied by loads wider than the stores of its fields, which
		// the processor cannot forward (nearly half of the samples
		// here). The address is a signed varint, whose zigzag is
		// zigzag64's.
		dst = dst[:len(dst)+1]
		nd := &dst[len(dst)-1]
		nd.fn, nd.addr, nd.parent, nd.callFile, nd.callLine = uint32(v[0]), start+unzigzag64(v[1]), parent, uint32(v[3]), uint32(v[4])
	}
	return dst, true
}

// nameless reports whether op's span, loaded and about to be emitted over
// [s, e), is nameless code to write as entries of node 0 with their files
// and lines rather than as a node: a lone nameless node (a gap of the
// debug information with line rows), emitted whole from its address on,
// every entry with a file or a line. A reader finds its frame's address
// as the start of the run of such entries, so the caller checks that
// what comes before s is a function's code, not a gap or other nameless
// code. Padding between functions is such code: on CPython's libpython it
// was half of the top-level nodes, which took 40 KB of node and
// top-level rows.
func (a *assembly) nameless(op *openSpan, s, e uint64) bool {
	if len(op.nodes) != 1 || op.nodes[0].addr != s || s != op.sp.start || e != op.sp.end {
		return false
	}
	if _, n := a.b.names.span(int(op.nodes[0].fn)); n != 0 {
		return false
	}
	if op.cur.file == 0 && op.cur.line == 0 {
		return false
	}
	data, prev := op.data, op.cur.start
	for len(data) > 0 {
		x, n, ok := a.decodeEntry(data, prev, op)
		if !ok || x.file == 0 && x.line == 0 {
			return false // a damaged span is left for the emit to find
		}
		data, prev = data[n:], x.start
	}
	return true
}

// mapEntry renumbers an entry's node and file; a nameless span's entries
// take node 0.
func (a *assembly) mapEntry(e entry, op *openSpan) entry {
	if op.nameless {
		e.node = 0
		e.file = a.mapFile(e.file)
		return e
	}
	e.node = a.mapNode(op, e.node)
	e.file = a.mapFile(e.file)
	return e
}

// mapFile renumbers a file in order of first appearance.
func (a *assembly) mapFile(f uint32) uint32 {
	if f == 0 {
		return 0
	}
	if a.fileMap[f] == 0 {
		a.files = append(a.files, a.b.paths[f-1])
		a.fileMap[f] = uint32(len(a.files))
	}
	return a.fileMap[f]
}

// mapNode renumbers node id of a span, parents first, in order of first
// appearance, so that neighbouring entries have nearby node ids (small
// deltas) and functions shadowed by others are left out. A new node's
// function is renumbered too, its call site found or added, and its
// columns of the node table put.
func (a *assembly) mapNode(op *openSpan, id uint32) uint32 {
	if id == 0 {
		return 0
	}
	first := op.sp.firstNode
	if op.newIDs[id-first] != 0 {
		return op.newIDs[id-first]
	}
	// Parents first, iteratively: chains are at most maxChain deep.
	n := 0
	for p := id; p != 0 && op.newIDs[p-first] == 0 && n < maxChain; p = op.nodes[p-first].parent {
		a.chain[n] = p
		n++
	}
	for k := n - 1; k >= 0; k-- {
		old := &op.nodes[a.chain[k]-first]
		if a.funcMap[old.fn] == 0 {
			a.funcs.append(old.fn)
			a.funcMap[old.fn] = uint32(a.funcs.len())
			a.callerSites = append(a.callerSites, 0)
		}
		fn := a.funcMap[old.fn] - 1
		var parent uint32
		if old.parent != 0 {
			parent = op.newIDs[old.parent-first]
		}
		callFile := a.mapFile(old.callFile)
		if a.nnodes%nodeMarkEvery == 0 {
			a.nodeMarks = append(a.nodeMarks, a.nodeCols.size+int64(len(a.colBuf)))
		}
		a.nnodes++
		nid := a.nnodes
		var buf [2 * binary.MaxVarintLen64]byte
		var v [numNodeCols]uint64
		if old.parent == 0 {
			// A top-level node has no call site and no parent to be
			// relative to: its function and address go to the
			// top-level table, and its site column holds the row
			// (split over the site and address columns when written).
			v[colSite] = uint64(a.ntop)
			a.ntop++
			a.maxTopFn, a.maxTopAddr = max(a.maxTopFn, uint64(fn)), max(a.maxTopAddr, old.addr)
			if (a.ntop-1)%topBlock == 0 {
				a.topLo, a.topHi = old.addr, old.addr
			}
			a.topLo, a.topHi = min(a.topLo, old.addr), max(a.topHi, old.addr)
			a.maxTopDiff = max(a.maxTopDiff, a.topHi-a.topLo)
			a.curTop = max(a.curTop, uint8(bits.Len64(v[colSite])))
			m := binary.PutUvarint(buf[:], uint64(fn))
			m += binary.PutUvarint(buf[m:], old.addr)
			a.top.write(buf[:m])
		} else {
			// An inlined node's site is stored as its index among the
			// sites of its caller's function, which are few.
			pnode := &op.nodes[old.parent-first]
			caller := a.funcMap[pnode.fn] - 1 // parents are mapped first
			v[colSite] = uint64(a.sites.place(siteKey{caller, fn, callFile, old.callLine}, old.site, a.callerSites, &a.maxv))
			// Its address is stored as its distance from its parent's
			// (shifted left one bit), which is small: inlined ranges
			// lie inside their caller. One starting before its parent
			// or 2^30 bytes or more after it stores an index into the
			// table of absolute addresses instead (low bit set). Its
			// parent is stored as the distance back to it (parents are
			// numbered before their children), which is small.
			if pa := pnode.addr; old.addr >= pa && old.addr-pa < 1<<(maxColBits-2) {
				v[colAddr] = (old.addr - pa) << 1
			} else {
				v[colAddr] = uint64(a.nabs)<<1 | 1
				a.nabs++
				a.maxAbs = max(a.maxAbs, old.addr)
				m := binary.PutUvarint(buf[:], old.addr)
				a.abs.write(buf[:m])
			}
			v[colParent] = uint64(nid - parent)
			for c := range numNodeCols {
				a.maxv[c] = max(a.maxv[c], v[c])
				a.curW[c] = max(a.curW[c], uint8(bits.Len64(v[c])))
			}
		}
		if nid%nodeBlock == 0 {
			a.closeBlock()
		}
		for c := range numNodeCols {
			a.colBuf = appendUvarint(a.colBuf, v[c])
		}
		if len(a.colBuf) >= batchBytes {
			a.nodeCols.write(a.colBuf)
			a.colBuf = a.colBuf[:0]
		}
		op.newIDs[a.chain[k]-first] = nid
	}
	return op.newIDs[id-first]
}

// gap is a gap entry: its index among the entries, start and size.
type gap struct {
	index       int
	start, size uint64
}

// minCut is the smallest gap that may cut regions: 16 pages of the
// smallest page size.
const minCut = 16

// putEntry adds the next final entry unless it repeats the last one's
// answer. Entries are renumbered before they are compared: renumbering
// maps distinct ids to distinct ids, so the same entries repeat.
func (a *assembly) putEntry(e entry) {
	if a.havePend {
		p := a.pend
		if p.node == e.node && p.file == e.file && p.line == e.line {
			return
		}
		a.flushPend(e.start)
	}
	a.pend, a.havePend = e, true
}

// flushPend writes the pending entry, which ends at next: its start as
// the distance from the previous entry's, its node, file and line, as
// uvarints.
func (a *assembly) flushPend(next uint64) {
	e := a.pend
	if e.gap() && (next-e.start >= minCut || a.nents == 0) {
		a.gaps = append(a.gaps, gap{index: a.nents, start: e.start, size: next - e.start})
	}
	if a.nents == 0 {
		a.firstStart = e.start
	}
	if a.fol != nil {
		a.fol.put(e)
	}
	if a.skipEnts {
		a.lastStart = e.start
		a.nents++
		return
	}
	if a.nents%markEvery == 0 {
		a.marks = append(a.marks, entryMark{index: a.nents, off: a.ents.size + int64(len(a.entBuf)), prev: a.lastStart, start: e.start})
	}
	b := a.entBuf
	b = appendUvarint(b, e.start-a.lastStart)
	b = appendUvarint(b, uint64(e.node))
	b = appendUvarint(b, uint64(e.file))
	a.entBuf = appendUvarint(b, uint64(e.line))
	if len(a.entBuf) >= batchBytes {
		a.ents.write(a.entBuf)
		a.entBuf = a.entBuf[:0]
	}
	a.lastStart = e.start
	a.nents++
}

// entryReader reads the final entries back in order.
type entryReader struct {
	r    spillReader
	prev uint64
	left int
}

func (a *assembly) entryReader() *entryReader {
	return &entryReader{r: a.ents.reader(), left: a.nents}
}

// entryMark is where entry index starts in ents: its offset, the start of
// the entry before it (its start is coded as the difference) and its own
// start.
type entryMark struct {
	index       int
	off         int64
	prev, start uint64
}

// markEvery is how many entries lie between two marks, nodeMarkEvery
// how many nodes: a multiple of 8, so that a part of the node table
// starting at a mark starts at a byte.
const (
	markEvery     = 1024
	nodeMarkEvery = 8192
)

// entryReaderAt reads the final entries in order from mark m on. Readers
// of ents may run at once: they read its file with ReadAt and hold their
// own buffers.
func (a *assembly) entryReaderAt(m entryMark) *entryReader {
	return &entryReader{r: a.ents.readerAt(m.off), prev: m.prev, left: a.nents - m.index}
}

// next returns the next entry; ok is false after the last one or on an
// error, which er.r.err holds.
func (er *entryReader) next() (entry, bool) {
	if er.left == 0 {
		return entry{}, false
	}
	er.left--
	e := entry{start: er.prev + er.r.uvarint()}
	e.node = uint32(er.r.uvarint())
	e.file = uint32(er.r.uvarint())
	e.line = uint32(er.r.uvarint())
	er.prev = e.start
	return e, er.r.err == nil
}

// layout chooses the page size (guessShift), which follows the code that
// functions cover, not the span of the address space: a lone function far
// away must not make every page huge. It then cuts the entries into
// regions at gaps of 16 pages or more, which paging through would waste
// directory space on, and computes the column widths of the tables.
func (a *assembly) layout() error {
	if a.nents > 0 {
		a.shift = a.guessShift()
		a.cut(regionGap(a.shift))
	}
	for i := range a.regions {
		a.regions[i].firstPage = uint32(a.npages)
		a.npages += pageCount(a.regions[i].end-a.regions[i].start, a.shift)
	}
	if a.npages >= math.MaxUint32/4 {
		return errTooLarge("page directory", int(a.npages))
	}

	// The node and site tables take the narrowest column widths, in
	// bits, that hold every value.
	for i, v := range a.maxv {
		if bits.Len64(v) > maxColBits {
			return errTooLarge("table column", bits.Len64(v))
		}
		a.widths[i] = uint8(bits.Len64(v))
	}
	// The node table's columns are as wide as its widest block's.
	if a.nnodes%nodeBlock != 0 {
		a.closeBlock()
	}
	a.widths[colSite], a.widths[colAddr], a.widths[colParent] = 0, 0, 0
	for _, w := range a.blockW {
		for c := range numNodeCols {
			a.widths[c] = max(a.widths[c], w[c])
		}
	}
	a.layNodes()
	a.topW = [2]uint8{uint8(bits.Len64(a.maxTopFn)), uint8(bits.Len64(a.maxTopDiff))}
	a.topBaseW = uint8(bits.Len64(a.maxTopAddr))
	for i := numNodeCols; i < numCols; i++ {
		a.siteRow += int(a.widths[i])
	}
	a.absW = (bits.Len64(a.maxAbs) + 7) / 8
	return nil
}

// closeBlock ends the open block of nodes: its columns take the widths
// its inlined nodes need, and a top-level node's row in the top-level
// table takes the site column and, for the bits that do not fit, the
// address column.
func (a *assembly) closeBlock() {
	w := a.curW
	if a.curTop > w[colSite]+w[colAddr] {
		w[colAddr] = a.curTop - w[colSite]
	}
	a.blockW = append(a.blockW, w)
	a.curW, a.curTop = [numNodeCols]uint8{}, 0
}

// blockRows is the number of rows of block k of the node table: nodeBlock
// but in the last block.
func (a *assembly) blockRows(k int) uint64 {
	return min(uint64(a.nnodes)-uint64(k)*nodeBlock, nodeBlock)
}

// rowBits is the width of a row of a block whose column widths are w.
func rowBits(w [numNodeCols]uint8) uint64 {
	return uint64(w[colSite]) + uint64(w[colAddr]) + uint64(w[colParent])
}

// markBlocks is the number of blocks of nodes between two marks.
const markBlocks = nodeMarkEvery / nodeBlock

// layNodes places the blocks of the node table (eachBlock) and notes
// where the rows from each mark on start, and the table's length.
func (a *assembly) layNodes() {
	a.markByte = a.markByte[:0]
	a.nodeBytes = a.eachBlock(func(k int, at uint64) {
		if k%markBlocks == 0 {
			a.markByte = append(a.markByte, at/8)
		}
	})
}

// eachBlock calls f with every block of the node table and the bit offset
// of its first row, and returns the table's length in bytes. The blocks
// lie one after the other, the rows from each mark on starting at a byte
// so that the table can be written in parts (the bits before are
// padding).
func (a *assembly) eachBlock(f func(k int, at uint64)) uint64 {
	var bytes, part uint64
	for k, w := range a.blockW {
		if k%markBlocks == 0 {
			bytes += (part + 7) / 8
			part = 0
		}
		f(k, 8*bytes+part)
		part += a.blockRows(k) * rowBits(w)
	}
	return bytes + (part+7)/8
}

// nodeDirBits is the width of an entry of the node directory: a bit
// offset in the node table (nodeOffBits), a row width and two column
// widths.
func (a *assembly) nodeDirBits() uint64 { return a.nodeOffBits() + nodeDirFields }

// nodeOffBits is the width of a node directory entry's bit offset: the
// bit length of the node table's length in bits.
func (a *assembly) nodeOffBits() uint64 { return uint64(bits.Len64(8 * a.nodeBytes)) }

// guessShift is the page shift: pages of about perPage entries, from the
// bytes the spans cover and the entries they promise (entryGuess). Both
// are known before resolve, so that a follower counts the pages the
// layout will have; the exact figures after resolve differ a little (an
// overlap counted twice, entries that repeat across spans) and moved the
// page size across a power of two for some inputs, making the follower's
// counting useless for them.
func (a *assembly) guessShift() uint8 {
	return pageShift(a.b.spanBytes, a.b.entryGuess(), a.perPage())
}

// regionGap is the smallest gap between entries that cuts regions with
// pages of 1<<shift bytes: 16 pages.
func regionGap(shift uint8) uint64 {
	if shift >= 60 {
		return math.MaxUint64
	}
	return uint64(16) << shift
}

// perPage is the number of entries a page holds on average.
func (a *assembly) perPage() int {
	if n := a.b.opts.PageEntries; n > 0 {
		return n
	}
	return 8
}

// orderSites lays out the site table by calling function: the sites of
// each function's calls one after the other, in function order, each at
// the local index its nodes hold, so that a function needs only where its
// sites begin (funcFirst).
//
// The site records are in order of placing, not of the table. Rather than
// hold the whole table (megabytes for a large PDB) to write rows where
// they go, it is made a band of rows at a time, each band from one more
// reading of the records (from the page cache), and appended to the
// siteRows spill. A band is twice the spill limit, as large as what a
// spill holds before it moves to a file (all the table when there is no
// limit): 512 KB, a sixth of a 100 MB PDB's table.
func (a *assembly) orderSites() error {
	nf := a.funcs.len()
	if len(a.callerSites) != nf {
		return errSpill
	}
	a.funcFirst = make([]uint32, nf)
	var n uint64
	for f := range nf {
		a.funcFirst[f] = uint32(n)
		n += uint64(a.callerSites[f])
	}
	a.callerSites = nil
	if n != uint64(a.sites.len()) {
		return errSpill
	}
	if nf > 0 {
		a.firstW = uint8(bits.Len32(a.funcFirst[nf-1]))
	}
	if err := a.siteColumns(); err != nil {
		return err
	}
	row := uint64(a.siteRow) + uint64(a.firstW)
	// A band's rows are a multiple of 8, so that every band starts on a
	// byte.
	band := n
	if lim := uint64(a.siteRows.limit); lim > 0 {
		band = max(2*lim*8/max(row, 1)/8*8, 8)
	}
	buf := make([]byte, bitBytes(min(band, n), row))
	for lo := uint64(0); lo < n; lo += band {
		hi := min(lo+band, n)
		b := buf[:bitBytes(hi-lo, row)]
		clear(b)
		if err := a.siteBand(b, lo, hi, row); err != nil {
			return err
		}
		a.siteRows.write(b)
	}
	slices.SortFunc(a.siteExc, func(x, y siteException) int { return cmp.Compare(x.site, y.site) })
	return a.siteRows.finish()
}

// siteException is a site whose call file is not its calling function's:
// the site table flags it, and these hold its call file and line.
type siteException struct{ site, file, line uint32 }

// siteColumns chooses what the site table holds of a site's call file and
// line, in two readings of the site records.
//
// A function's calls inlined into it are in its own source file, so their
// sites' call file is a column of the function table, the file of the most
// of them (a majority vote, which finds it when there is one), rather than
// one of every site: the 103 MB PDB's 404,880 sites and the bench
// fixture's 30,138 all have their caller's, and 19 of libpython's 20,057
// another, which a flag of 1 bit marks and an exception holds.
//
// A site's call line is a difference too, from a base of its calling
// function's: its sites' lowest line, its low bits cleared, so that the
// function table holds only the high bits. The number of bits cleared is
// the one that makes the two tables smallest: on libpython 14, the sites
// taking 14 bits and the functions 4, rather than the sites 18; on the
// PDB 10, the sites 11 bits and the functions 4, rather than 14. (Lines
// too wide for a narrower column as exceptions took the sites to 14 bits
// on libpython too, but as many lookups as went through those sites
// took the slow path: 1.04 times as long on average.)
func (a *assembly) siteColumns() error {
	// Three arrays of a function's length at most, two of them kept: a
	// large PDB's build is at its peak of memory here, which its goal
	// bounds.
	nf := a.funcs.len()
	home, votes := make([]uint32, nf), make([]uint32, nf)
	if err := a.eachSite(func(k siteKey, _ uint32) error {
		c := k.caller
		switch {
		case votes[c] == 0:
			home[c], votes[c] = k.callFile, 1
		case home[c] == k.callFile:
			votes[c]++
		default:
			votes[c]--
		}
		return nil
	}); err != nil {
		return err
	}
	lo, hi := make([]uint32, nf), votes
	for i := range lo {
		lo[i], hi[i] = math.MaxUint32, 0
	}
	other, maxLine := false, uint32(0)
	if err := a.eachSite(func(k siteKey, _ uint32) error {
		c := k.caller
		other = other || k.callFile != home[c]
		lo[c], hi[c] = min(lo[c], k.callLine), max(hi[c], k.callLine)
		maxLine = max(maxLine, k.callLine)
		return nil
	}); err != nil {
		return err
	}
	// For every shift up to the widest line's width, the widest base
	// and the widest difference, over the functions that have sites.
	n := uint64(a.sites.len())
	best, shift, baseW, lineW := uint64(math.MaxUint64), 0, 0, 0
	for sh := 0; sh <= bits.Len32(maxLine); sh++ {
		var maxBase, maxDiff uint64
		for c, l := range lo {
			if l > hi[c] {
				continue // no sites
			}
			b := uint64(l) >> sh
			maxBase, maxDiff = max(maxBase, b), max(maxDiff, uint64(hi[c])-b<<sh)
		}
		bw, dw := bits.Len64(maxBase), bits.Len64(maxDiff)
		if size := n*uint64(dw) + uint64(nf)*uint64(bw); size < best {
			best, shift, baseW, lineW = size, sh, bw, dw
		}
	}
	for c := range nf {
		if lo[c] > hi[c] {
			lo[c] = 0
		}
		lo[c] >>= shift
	}
	maxHome := uint32(0)
	for _, h := range home {
		maxHome = max(maxHome, h)
	}
	a.funcHome, a.funcBase, a.baseShift, a.baseW = home, lo, uint8(shift), uint8(baseW)
	a.widths[colCallFile] = uint8(bits.Len32(maxHome))
	a.widths[colCallLine] = uint8(lineW)
	a.flagW = 0
	if other {
		a.flagW = 1
	}
	a.siteRow = int(a.widths[colFunc]) + int(a.flagW) + lineW
	a.siteExc = a.siteExc[:0]
	return nil
}

// siteBand writes into b the rows [lo, hi) of the site table, of row bits
// each, from the site records.
func (a *assembly) siteBand(b []byte, lo, hi, row uint64) error {
	nf, n := uint32(a.funcs.len()), uint64(a.sites.len())
	wd := a.widths
	return a.eachSite(func(k siteKey, local uint32) error {
		end := n // of the caller's sites
		if k.caller+1 < nf {
			end = uint64(a.funcFirst[k.caller+1])
		}
		pos := uint64(a.funcFirst[k.caller]) + uint64(local)
		if pos >= end {
			return errSpill
		}
		if pos < lo || pos >= hi {
			return nil
		}
		at := (pos - lo) * row
		at = storeBits(b, at, uint64(k.fn), wd[colFunc])
		var line uint64
		if k.callFile != a.funcHome[k.caller] {
			a.siteExc = append(a.siteExc, siteException{uint32(pos), k.callFile, k.callLine})
			at = storeBits(b, at, 1, a.flagW)
		} else {
			at = storeBits(b, at, 0, a.flagW)
			line = uint64(k.callLine) - uint64(a.funcBase[k.caller])<<a.baseShift
		}
		at = storeBits(b, at, line, wd[colCallLine])
		storeBits(b, at, uint64(a.funcFirst[k.fn]), a.firstW)
		return nil
	})
}

// eachSite calls f with every site record, in the order of placing: the
// site and its index among its caller's sites.
func (a *assembly) eachSite(f func(k siteKey, local uint32) error) error {
	nf := uint32(a.funcs.len())
	id := 0
	return a.sites.keys.each(func(p []byte) error {
		for ; len(p) >= siteRecord; p = p[siteRecord:] {
			le := binary.LittleEndian
			k := a.sites.unpack(le.Uint64(p), le.Uint32(p[8:]), id)
			id++
			if k.caller >= nf || k.fn >= nf {
				return errSpill
			}
			if err := f(k, le.Uint32(p[12:])); err != nil {
				return err
			}
		}
		if len(p) != 0 {
			return errSpill // pieces are whole records: spillChunk is a multiple of siteRecord
		}
		return nil
	})
}

// cut splits the entries into regions at gap entries of at least minGap
// bytes; gaps at the ends are left out. Only the gaps resolve kept are
// looked at: the others are too short to cut, and every entry before and
// after a gap is not one (consecutive gaps are one entry, and the first
// and last entries belong to functions).
func (a *assembly) cut(minGap uint64) {
	start, startAddr := 0, uint64(0)
	if a.nents > 0 {
		startAddr = a.firstStart
	}
	for _, g := range a.gaps {
		if g.size < minGap && g.index+1 < a.nents {
			continue
		}
		if start >= 0 && start < g.index {
			a.regions = append(a.regions, region{start: startAddr, end: g.start, lo: start, hi: g.index})
		}
		start, startAddr = g.index+1, g.start+g.size
	}
	if start < a.nents {
		a.regions = append(a.regions, region{start: startAddr, end: a.end, lo: start, hi: a.nents})
	}
}

// entryWindow gives access by index to the final entries from the oldest
// one not yet dropped on, reading them in order.
type entryWindow struct {
	er   *entryReader
	base int // index of win[0]
	win  []entry
}

// at returns entry i; i must not lie before the window.
func (w *entryWindow) at(i int) entry {
	for i >= w.base+len(w.win) {
		e, _ := w.er.next()
		w.win = append(w.win, e)
	}
	return w.win[i-w.base]
}

// drop forgets the entries before index i.
func (w *entryWindow) drop(i int) {
	if k := i - w.base; k > 0 && k >= len(w.win)/2 {
		k = min(k, len(w.win))
		w.win = w.win[:copy(w.win, w.win[k:])]
		w.base += k
	}
}

// planStrings assigns the string table offsets: interned, offset 0 is the
// empty string; the files' directories and names come first, then the
// function names. Functions are distinct by name, so only the files'
// strings need a lookup table. A function name that another one begins
// with takes that one's first bytes (prefixSharer). The language of every
// function is noted on the sharer's reading of the names, which saves
// reading them once more for it.
func (a *assembly) planStrings() error {
	ids := map[string]uint32{"": 0}
	size, longest := uint64(0), 0
	// An offset past 4 GiB is cut, and the file found too large.
	add := func(s string) uint32 {
		if id, ok := ids[s]; ok {
			return id
		}
		id := uint32(size)
		size += uint64(len(s))
		longest = max(longest, len(s))
		return id
	}
	a.fileStr = make([][2]uint32, len(a.files))
	for i, p := range a.files {
		dir, name := splitPath(p)
		a.fileStr[i][0] = add(dir)
		ids[dir] = a.fileStr[i][0]
		a.fileStr[i][1] = add(name)
		ids[name] = a.fileStr[i][1]
	}
	nf := a.funcs.len()
	a.funcStr = make([]uint32, nf)
	a.funcLen = make([]uint32, nf)
	a.funcLang = make([]Language, nf)
	a.funcOwn = make([]uint64, (nf+63)/64)
	sh, err := a.newPrefixSharer()
	if err != nil {
		return err
	}
	for i := range nf {
		name, err := a.funcName(i)
		if err != nil {
			return err
		}
		if uint64(len(name)) > math.MaxUint32 {
			return errTooLarge("function name", len(name))
		}
		a.funcLen[i] = uint32(len(name))
		longest = max(longest, len(name))
		if id, ok := ids[string(name)]; ok {
			a.funcStr[i] = id
			sh.host[i] = fileHosted
			continue
		}
		if plainName(name, a.funcLang[i]) {
			if err := sh.find(a, i, name); err != nil {
				return err
			}
		}
	}
	// The names that keep their bytes take offsets in function order,
	// then every other takes that of the name that holds it.
	for i := range nf {
		if sh.host[i] == 0 {
			a.funcStr[i] = uint32(size)
			a.funcOwn[i/64] |= 1 << (i % 64)
			size += uint64(a.funcLen[i])
		}
	}
	for i := range nf {
		if h := sh.host[i]; h > 0 {
			r := int(h - 1)
			for sh.host[r] > 0 {
				r = int(sh.host[r] - 1)
			}
			a.funcStr[i] = a.funcStr[r]
		}
	}
	a.strLen = size
	a.lenW = uint8(bits.Len64(uint64(longest)))
	return nil
}

// ownsBytes reports whether function i's name is stored in the string
// table at its offset, rather than shared with a file's string or with the
// first bytes of another function's name.
func (a *assembly) ownsBytes(i int) bool { return a.funcOwn[i/64]&(1<<(i%64)) != 0 }

// prefixSharer finds the function names that other function names begin
// with, so that they take no bytes of their own: a string reference is an
// offset and a length, and "foo" is the first three bytes of "foo_impl".
// On CPython's libpython a name is the beginning of another for 1,118 of
// the 8,028 functions (Argument Clinic's foo and foo_impl, foo and
// foo_locked), and sharing their bytes takes 17.9 KB off the 147 KB of
// strings. Names are compared at the places where a name goes on with a
// character other than a lowercase letter: sharing at every place would
// take 1.4 KB more, for six times the look-ups. Mangled and decorated
// names take no part (plainName): they begin with their scheme's marks,
// and took 4.6% of the build of a 103 MB PDB's symcache to share nothing.
//
// A name's hash is a polynomial over its bytes, so that the hashes of a
// name's beginnings come one after the other as it is read; its high 32
// bits are kept, and a match is confirmed by the length and the bytes. The
// table takes 8 bytes a slot, at most half its slots used: the names
// themselves stay where they are (spilled, for a large input).
type prefixSharer struct {
	// slots hold the high half of a name's hash above its function
	// index+1, at the slot of its hash; 0 is an empty slot. One word a
	// slot: a look-up that finds nothing, as most do, reads one.
	slots []uint64
	// host is, for every function, the function+1 whose name begins
	// with its own, 0 when none, fileHosted when a file's string is the
	// same.
	host []int32
	buf  []byte
}

// fileHosted marks a function name that is one of the files' strings.
const fileHosted = -1

// prefixHashMul is the multiplier of the names' polynomial hash: odd, and
// with its bits spread, so that the low bits of short names differ.
const prefixHashMul = 0x9e3779b97f4a7c15

// newPrefixSharer hashes every function name, in one reading of them, and
// notes each one's language (a.funcLang) on the way. Its table is sized by
// the names that take part: a large PDB's are decorated, and a table for
// all of them was 2 MB at its build's peak.
func (a *assembly) newPrefixSharer() (*prefixSharer, error) {
	nf := a.funcs.len()
	var plain []uint64 // the high half of each one's hash, above its index+1
	for i := range nf {
		name, err := a.funcName(i)
		if err != nil {
			return nil, err
		}
		// name is read into a buffer that stays unchanged until
		// languageOf returns, which keeps nothing of it: a string over
		// the buffer saves a copy of every name of the input.
		a.funcLang[i] = languageOf(unsafe.String(unsafe.SliceData(name), len(name)))
		a.langW = max(a.langW, uint8(bits.Len8(uint8(a.funcLang[i]))))
		if !plainName(name, a.funcLang[i]) {
			continue
		}
		h := uint64(0)
		for _, c := range name {
			h = h*prefixHashMul + uint64(c) + 1
		}
		plain = append(plain, h>>32<<32|uint64(i+1))
	}
	n := 1
	for n < 2*len(plain) {
		n <<= 1
	}
	sh := &prefixSharer{slots: make([]uint64, n), host: make([]int32, nf)}
	for _, v := range plain {
		s := sh.slot(v)
		for sh.slots[s] != 0 {
			s = (s + 1) & (n - 1)
		}
		sh.slots[s] = v
	}
	return sh, nil
}

// plainName reports whether a function name, of language lang
// (languageOf), may share bytes with another: whether it is neither
// mangled nor decorated by MSVC (?name@@).
func plainName(name []byte, lang Language) bool {
	return lang == LangUnknown && (len(name) == 0 || name[0] != '?')
}

// slot is where a hash's search starts: from its high half, the part the
// table keeps.
func (sh *prefixSharer) slot(h uint64) int {
	return int((h >> 32) * prefixHashMul >> 32 & uint64(len(sh.slots)-1))
}

// find notes function i as the host of every function whose name name
// begins with, up to a character other than a lowercase letter, and that
// has none yet. It reads those names to confirm them, so name is copied
// first: it may be a view of the buffer they are read into.
func (sh *prefixSharer) find(a *assembly, i int, name []byte) error {
	t := append(sh.buf[:0], name...)
	sh.buf = t
	h, mask := uint64(0), len(sh.slots)-1
	for k, c := range t {
		if k > 0 && (c < 'a' || c > 'z') {
			for s := sh.slot(h); sh.slots[s] != 0; s = (s + 1) & mask {
				if sh.slots[s]>>32 != h>>32 {
					continue
				}
				j := int(uint32(sh.slots[s]) - 1)
				if sh.host[j] != 0 {
					continue
				}
				old := int(a.funcs.at(j))
				off, n := a.b.names.span(old)
				if n != k {
					continue
				}
				other, err := a.b.names.read(old, off, n, false)
				if err != nil {
					return err
				}
				if string(other) == string(t[:k]) {
					sh.host[j] = int32(i + 1)
				}
			}
		}
		h = h*prefixHashMul + uint64(c) + 1
	}
	return nil
}

// topBytes is the size of the top-level table: a base per block of
// topBlock rows, before the block's rows.
func (a *assembly) topBytes() uint64 {
	n := uint64(a.ntop)
	return bitBytes(1, (n+topBlock-1)/topBlock*uint64(a.topBaseW)+n*(uint64(a.topW[0])+uint64(a.topW[1])+uint64(a.firstW)))
}

// strBits is the width in bits of a string offset in the file and
// function tables: the bit length of the string table's length.
func strBits(strLen uint64) uint64 { return uint64(bits.Len64(strLen)) }

// appendN appends the low n bytes of v, little-endian.
func appendN(b []byte, v uint64, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// bitBytes is the size in bytes of n rows of width bits each.
func bitBytes(n, width uint64) uint64 { return (n*width + 7) / 8 }

// codeBytes is the size of the decode tables: one of 1<<maxCodeLen
// entries of 2 bytes per alphabet that has symbols.
func (a *assembly) codeBytes() uint64 {
	var n uint64
	for i := range a.codes {
		n += tableBytes(a.codes[i].bits)
	}
	return n
}

// sections generates the sections in file order, in pieces of up to
// spillChunk bytes: strings, files, functions, sites, nodes, top-level
// table, absolute addresses, regions, page directory, decode tables, range
// stream.
func (a *assembly) sections(out func([]byte) error) error {
	if err := a.frontSections(out); err != nil {
		return err
	}
	if err := a.nodeSection(out, 0, len(a.nodeMarks)); err != nil {
		return err
	}
	return a.backSections(out)
}

// heldSections returns the sections, size bytes, the node table starting
// at byte nodes and ending at top, made on two goroutines: the node table,
// which takes most of the time (~2 ms of 2.6 on the bench fixture), in two
// parts split at a mark, the other sections beside the first part.
func (a *assembly) heldSections(size, nodes, top uint64) ([]byte, error) {
	// Every byte of body is written (fill checks that the parts fill
	// theirs exactly), so memory used before serves as well as new.
	body := a.spare
	if uint64(len(body)) < size {
		body = make([]byte, size)
	}
	body = body[:size:size]
	a.spare = nil
	// fill makes the sections of gen into body from at to end, which
	// they must fill exactly.
	fill := func(at, end uint64, gen func(out func([]byte) error) error) error {
		err := gen(func(p []byte) error {
			if uint64(len(p)) > end-at {
				return errSectionSize
			}
			at += uint64(copy(body[at:], p))
			return nil
		})
		if err == nil && at != end {
			err = errSectionSize
		}
		return err
	}
	mid := len(a.nodeMarks) / 2
	split := top
	if mid < len(a.markByte) {
		split = nodes + a.markByte[mid]
	}
	err := runParts(2, func(i int) error {
		if i == 1 {
			return fill(split, top, func(out func([]byte) error) error { return a.nodeSection(out, mid, len(a.nodeMarks)) })
		}
		if err := fill(0, nodes, a.frontSections); err != nil {
			return err
		}
		if err := fill(nodes, split, func(out func([]byte) error) error { return a.nodeSection(out, 0, mid) }); err != nil {
			return err
		}
		return fill(top, size, a.backSections)
	})
	return body, err
}

// errSectionSize reports sections of another size than the header plans.
var errSectionSize = errors.New("symcache: sections of another size than planned")

// sectionWriter hands the bytes of sections to out in pieces of up to
// spillChunk bytes, gathering them in its bit writer's buffer: bytes are
// appended there directly, between bit-packed tables.
type sectionWriter struct {
	out func([]byte) error
	bw  bitWriter
	err error
}

func newSectionWriter(out func([]byte) error) *sectionWriter {
	return &sectionWriter{out: out, bw: bitWriter{out: make([]byte, 0, spillChunk+64)}}
}

// flush hands the bytes gathered to out when they make a piece, or when
// forced.
func (s *sectionWriter) flush(force bool) {
	if s.err == nil && len(s.bw.out) > 0 && (force || len(s.bw.out) >= spillChunk) {
		s.err = s.out(s.bw.out)
		s.bw.out = s.bw.out[:0]
	}
}

// drain is flush for a bit-packed table; forced, it ends the table at a
// byte boundary.
func (s *sectionWriter) drain(force bool) {
	if force {
		s.bw.flush()
	}
	s.flush(force)
}

// setErr notes err unless an error came before.
func (s *sectionWriter) setErr(err error) {
	if s.err == nil {
		s.err = err
	}
}

// frontSections generates the strings and the file, function and site
// tables.
func (a *assembly) frontSections(out func([]byte) error) error {
	w := newSectionWriter(out)
	// A string is stored where its offset was assigned: the first time.
	// The empty string takes no bytes.
	cur := uint64(0)
	str := func(s []byte, id uint32) {
		if uint64(id) == cur && len(s) > 0 {
			w.bw.out = append(w.bw.out, s...)
			cur += uint64(len(s))
			w.flush(false)
		}
	}
	for i, p := range a.files {
		dir, name := splitPath(p)
		str([]byte(dir), a.fileStr[i][0])
		str([]byte(name), a.fileStr[i][1])
	}
	for i, id := range a.funcStr {
		if !a.ownsBytes(i) {
			continue // a file's string, or the beginning of another name
		}
		name, nerr := a.funcName(i)
		if nerr != nil {
			return nerr
		}
		str(name, id)
	}
	w.flush(true)
	// The file, function, site and node tables are bit-packed.
	sw, lw := uint(strBits(a.strLen)), uint(a.lenW)
	for i, s := range a.fileStr {
		dir, name := splitPath(a.files[i])
		w.bw.put(uint64(s[0]), sw)
		w.bw.put(uint64(len(dir)), lw)
		w.bw.put(uint64(s[1]), sw)
		w.bw.put(uint64(len(name)), lw)
		w.drain(false)
	}
	w.drain(true)
	hw := uint(a.widths[colCallFile])
	for i, id := range a.funcStr {
		w.bw.put(uint64(id), sw)
		w.bw.put(uint64(a.funcLen[i]), lw)
		w.bw.put(uint64(a.funcLang[i]), uint(a.langW))
		w.bw.put(uint64(a.funcHome[i]), hw)
		w.bw.put(uint64(a.funcBase[i]), uint(a.baseW))
		w.drain(false)
	}
	w.drain(true)
	// The site table, laid out by orderSites.
	if w.err == nil {
		w.err = a.siteRows.each(out)
	}
	return w.err
}

// nodeSection generates the rows of the node table from mark from on to
// mark to (to past the last mark: to the last row).
func (a *assembly) nodeSection(out func([]byte) error, from, to int) error {
	if from >= to {
		return nil
	}
	w := newSectionWriter(out)
	r := a.nodeCols.readerAt(a.nodeMarks[from])
	row := uint64(from) * nodeMarkEvery
	rows := min(uint64(to)*nodeMarkEvery, uint64(a.nnodes)) - row
	for i := range rows {
		if i > 0 && row%nodeMarkEvery == 0 {
			w.bw.flush() // the rows from a mark on start at a byte
		}
		wd := &a.blockW[row>>nodeBlockShift]
		row++
		var v [numNodeCols]uint64
		for c := range v {
			v[c] = r.uvarint()
		}
		if v[colParent] == 0 {
			// A top-level node: its row of the top-level table, low
			// bits in the site column.
			v[colSite], v[colAddr] = v[colSite]&(1<<wd[colSite]-1), v[colSite]>>wd[colSite]
		}
		// Column widths are at most maxColBits, 32. The parent
		// distance comes first: a lookup following a chain reads it
		// with one mask.
		w.bw.putNarrow(v[colParent], uint(wd[colParent]))
		w.bw.putNarrow(v[colSite], uint(wd[colSite]))
		w.bw.putNarrow(v[colAddr], uint(wd[colAddr]))
		if len(w.bw.out) >= spillChunk {
			w.flush(false)
		}
	}
	if r.err != nil {
		w.setErr(r.err)
	}
	w.drain(true)
	return w.err
}

// backSections generates the node directory, the top-level table, the
// absolute addresses, the regions, the page directory, the decode tables
// and the range stream.
func (a *assembly) backSections(out func([]byte) error) error {
	w := newSectionWriter(out)
	// The node directory: where each block of the node table starts
	// and its column widths.
	ow := uint(a.nodeOffBits())
	a.eachBlock(func(k int, at uint64) {
		bw := &a.blockW[k]
		w.bw.put(at, ow)
		w.bw.putNarrow(rowBits(*bw), rowWidthBits)
		w.bw.putNarrow(uint64(bw[colParent]), colWidthBits)
		w.bw.putNarrow(uint64(bw[colSite]), colWidthBits)
		w.drain(false)
	})
	w.drain(true)
	tr := a.top.reader()
	var blk [topBlock][2]uint64 // function, address
	for t := 0; t < a.ntop; t += topBlock {
		rows := blk[:min(topBlock, a.ntop-t)]
		base := uint64(math.MaxUint64)
		for i := range rows {
			rows[i] = [2]uint64{tr.uvarint(), tr.uvarint()}
			base = min(base, rows[i][1])
		}
		w.bw.put(base, uint(a.topBaseW))
		for _, r := range rows {
			w.bw.put(r[0], uint(a.topW[0]))
			w.bw.put(r[1]-base, uint(a.topW[1]))
			if r[0] < uint64(len(a.funcFirst)) {
				w.bw.put(uint64(a.funcFirst[r[0]]), uint(a.firstW))
			} else {
				w.setErr(errSpill)
			}
			w.drain(false)
		}
	}
	if tr.err != nil {
		w.setErr(tr.err)
	}
	w.drain(true)
	ar := a.abs.reader()
	for range a.nabs {
		w.bw.out = appendN(w.bw.out, ar.uvarint(), a.absW)
		w.flush(false)
	}
	if ar.err != nil {
		w.setErr(ar.err)
	}
	w.flush(true)
	for _, rg := range a.regions {
		w.bw.out = binary.LittleEndian.AppendUint64(w.bw.out, rg.start)
		w.bw.out = binary.LittleEndian.AppendUint64(w.bw.out, rg.end)
		w.bw.out = binary.LittleEndian.AppendUint32(w.bw.out, rg.firstPage)
		w.flush(false)
	}
	w.flush(true)
	if w.err == nil && len(a.dir) > 0 {
		w.err = out(a.dir)
	}
	for i := range a.codes {
		for _, e := range a.codes[i].table() {
			w.bw.out = binary.LittleEndian.AppendUint16(w.bw.out, e)
			w.flush(false)
		}
	}
	w.flush(true)
	if w.err == nil {
		w.err = a.stream.each(out)
	}
	for _, x := range a.siteExc {
		w.bw.out = binary.LittleEndian.AppendUint32(w.bw.out, x.site)
		w.bw.out = binary.LittleEndian.AppendUint32(w.bw.out, x.file)
		w.bw.out = binary.LittleEndian.AppendUint32(w.bw.out, x.line)
		w.flush(false)
	}
	w.flush(true)
	return w.err
}

// pageShift is log2 of the page size that puts about perPage entries on a
// page.
func pageShift(covered uint64, n, perPage int) uint8 {
	per := covered / uint64(max(n, 1)) * uint64(perPage)
	if per == 0 {
		per = 1
	}
	s := bits.Len64(per) - 1
	return uint8(min(max(s, 0), 63))
}

// pageCount is the number of pages of 1<<shift bytes covering n bytes.
func pageCount(n uint64, shift uint8) uint64 {
	c := n >> shift
	if n&(1<<shift-1) != 0 {
		c++
	}
	return c
}

// splitPath cuts a path after its last separator: the directory keeps the
// separator, so that dir+name is the path again, byte for byte.
func splitPath(p string) (dir, name string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' || p[i] == '\\' {
			return p[:i+1], p[i+1:]
		}
	}
	return "", p
}

// siteKey is a placed call site: the calling function (the function of
// the node's parent), the function called, the file (new id+1) and the
// line it was called from; function ids are new ids.
type siteKey struct{ caller, fn, callFile, callLine uint32 }

// siteTable places call sites with their callers, in order of first
// appearance: a site's index among its caller's (its local index) is the
// number of sites placed with that caller before it, which is what an
// inlined node holds, and the site table is laid out by caller from them
// (orderSites). A site called from several functions is placed with each.
//
// A site is kept packed into 64 bits and a line, as every real one fits
// (functions below 2^24-1, a file below 2^16, a line below 2^24); one that
// does not is kept in maps, its packed key being wideKey.
//
// A large input has hundreds of thousands of sites, so their records (the
// packed key, the line and the local index, siteRecord bytes) go to a
// spill as they are placed, from which the site table is written; what
// stays in memory is a 32-bit hash of each and the open-addressing tables
// of their ids+1, one per part of the hashes. A table's size need not be a
// power of two: it grows by half when four fifths full, and being in
// parts, the tables grow without ever holding two copies of all the slots.
// A key whose hash matches is compared with the record read back; a small
// cache of the sites last found or placed, indexed by other bits of the
// hash, answers most lookups without that read, as a node's site is
// mostly one its span or a recent one has.
type siteTable struct {
	keys    spill
	n       int
	hashs   chunked[uint32]
	parts   [1 << sitePartBits]sitePart
	cache   [siteCacheSize]cachedSite
	wide    map[uint32]siteKey
	wideIDs map[siteKey]uint32 // id of every wide site
	err     error
}

// siteRecord is the size of a site's record in a siteTable's spill: its
// packed key, line and local index, little-endian.
const siteRecord = 16

// siteCacheBits is log2 of the number of places of a siteTable's cache.
const siteCacheBits = 13

// siteCacheSize is the number of places of a siteTable's cache.
const siteCacheSize = 1 << siteCacheBits

// cachedSite is a packed key and line and its local index+1; 0 is an
// empty place.
type cachedSite struct {
	p     uint64
	line  uint32
	local uint32
}

// reserve sizes the slots for about n sites, so that they need not grow
// through every size up to it, each time leaving the smaller one to the
// garbage collector.
//
// The parts share one array, prefaulted at once. Each part's slots are a
// few KB (3.3 KB on the bench fixture), less than the whole pages that
// prefault maps, and warm reads them before place writes them: a page
// first read maps the zero page, and its first write then faults again
// and flushes the TLB of the other core, 128 faults in all on the
// critical path of resolve.
func (t *siteTable) reserve(n int) {
	per := max(n/len(t.parts)*4/3, 64)
	var all []uint32
	for i := range t.parts {
		if len(t.parts[i].slots) < per {
			if all == nil {
				all = make([]uint32, per*len(t.parts))
				prefault.Slice(all)
			}
			t.parts[i].slots = all[i*per : (i+1)*per : (i+1)*per]
		}
	}
}

// done ends the placing: the records can be read back in order, the
// lookup tables go.
func (t *siteTable) done() error {
	t.hashs, t.parts, t.cache = chunked[uint32]{}, [1 << sitePartBits]sitePart{}, [siteCacheSize]cachedSite{}
	if err := t.keys.finish(); err != nil {
		return err
	}
	return t.err
}

// wideKey marks a site kept in the maps.
const wideKey = ^uint64(0)

func (t *siteTable) len() int { return t.n }

// pack packs k but for its line, if it fits.
func (k siteKey) pack() (uint64, bool) {
	if k.caller >= 1<<24-1 || k.fn >= 1<<24-1 || k.callFile >= 1<<16 || k.callLine >= 1<<24 {
		return 0, false
	}
	return uint64(k.caller)<<40 | uint64(k.fn)<<16 | uint64(k.callFile), true
}

// unpack returns the site of packed key p and line of site id.
func (t *siteTable) unpack(p uint64, line uint32, id int) siteKey {
	if p == wideKey {
		return t.wide[uint32(id)]
	}
	return siteKey{caller: uint32(p >> 40), fn: uint32(p>>16) & (1<<24 - 1), callFile: uint32(p) & 0xffff, callLine: line}
}

// sitePartBits is log2 of the number of parts of a siteTable's slots.
const sitePartBits = 6

// sitePart is one part of a siteTable's slots, with the number of ids it
// holds.
type sitePart struct {
	slots []uint32
	n     int
}

// mixKey mixes the bits of a key (a finalizer of 64-bit hashes). Its low
// 32 bits are the hash siteHash gives: their high bits choose a site's
// part, the others its slot.
func mixKey(p uint64) uint64 {
	p ^= p >> 33
	p *= 0xff51afd7ed558ccd
	p ^= p >> 33
	p *= 0xc4ceb9fe1a85ec53
	p ^= p >> 33
	return p
}

// slot is where the search for a key of hash h starts among n slots.
func slot(h uint32, n uint64) uint64 {
	hi, _ := bits.Mul64(uint64(h<<sitePartBits)<<32, n)
	return hi
}

// siteHash hashes a call site by the ids its node holds before resolve
// renumbers them: the caller's function, the function called, the file
// and the line. Renumbering maps distinct ids to distinct ids, so sites
// are equal when these are, and their hash is known as soon as a span's
// nodes are decoded, before mapNode renumbers them.
func siteHash(caller, fn, callFile, callLine uint32) uint32 {
	// The line is mixed in by a multiplication that spreads it over the
	// high bits, which the file in the low bits does not reach.
	return uint32(mixKey(uint64(caller)<<40 ^ uint64(fn)<<16 ^ uint64(callFile) + uint64(callLine)*0x9e3779b97f4a7c15))
}

// cacheIndex is the place of a siteTable's cache for a site of hash h:
// other bits than those choosing its part and slot.
func cacheIndex(h uint32) uint32 { return h * 0x9e3779b9 >> (32 - siteCacheBits) }

// part is the part of the slots of a site of hash h: warm reads ahead
// where place will look.
func (t *siteTable) part(h uint32) *sitePart { return &t.parts[h>>(32-sitePartBits)] }

// warm reads the cache place and the first slot of a site of hash h,
// for their memory to be fetched before place needs it, and returns what
// it read (for the reads not to be left out).
func (t *siteTable) warm(h uint32) uint32 {
	w := t.cache[cacheIndex(h)].local
	pt := t.part(h)
	if n := uint64(len(pt.slots)); n > 0 {
		w += pt.slots[slot(h, n)]
	}
	return w
}

// place returns the local index of site k, of hash tag (siteHash),
// placing it after the sites of its caller so far (callerSites, by
// function, counts them) when it is new, and then raising the site
// columns of maxv to its values.
func (t *siteTable) place(k siteKey, tag uint32, callerSites []uint32, maxv *[numCols]uint64) uint32 {
	p, ok := k.pack()
	if !ok {
		if id, ok := t.wideIDs[k]; ok {
			return t.local(int(id))
		}
		if t.wide == nil {
			t.wide, t.wideIDs = map[uint32]siteKey{}, map[siteKey]uint32{}
		}
		local := callerSites[k.caller]
		callerSites[k.caller]++
		id := t.add(wideKey, 0, local, 0)
		t.wide[id], t.wideIDs[k] = k, id
		t.raise(k, maxv)
		return local
	}
	c := &t.cache[cacheIndex(tag)]
	if c.local != 0 && c.p == p && c.line == k.callLine {
		return c.local - 1
	}
	pt := t.part(tag)
	if 5*(pt.n+1) > 4*len(pt.slots) {
		t.grow(pt)
	}
	n := uint64(len(pt.slots))
	for i := slot(tag, n); ; {
		s := pt.slots[i]
		if s == 0 {
			local := callerSites[k.caller]
			callerSites[k.caller]++
			pt.slots[i] = t.add(p, k.callLine, local, tag) + 1
			pt.n++
			*c = cachedSite{p: p, line: k.callLine, local: local + 1}
			t.raise(k, maxv)
			return local
		}
		if t.hashs.at(int(s-1)) == tag {
			if q, line, local := t.record(int(s - 1)); q == p && line == k.callLine {
				*c = cachedSite{p: p, line: line, local: local + 1}
				return local
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// add appends the record of a site of packed key p, line and local index,
// of hash h, and returns its id.
func (t *siteTable) add(p uint64, line, local, h uint32) uint32 {
	var b [siteRecord]byte
	binary.LittleEndian.PutUint64(b[:], p)
	binary.LittleEndian.PutUint32(b[8:], line)
	binary.LittleEndian.PutUint32(b[12:], local)
	t.keys.write(b[:])
	t.hashs.append(h)
	t.n++
	return uint32(t.n - 1)
}

// record reads back the packed key, line and local index of site id. A
// failed read latches its error, reported by done, and answers wideKey,
// which no packed key equals.
func (t *siteTable) record(id int) (p uint64, line, local uint32) {
	var b [siteRecord]byte
	if err := t.keys.readAt(b[:], int64(id)*siteRecord, false); err != nil {
		if t.err == nil {
			t.err = err
		}
		return wideKey, 0, 0
	}
	return binary.LittleEndian.Uint64(b[:]), binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])
}

// local returns the local index of site id.
func (t *siteTable) local(id int) uint32 {
	_, _, local := t.record(id)
	return local
}

// raise raises the site columns of maxv to k's values.
func (t *siteTable) raise(k siteKey, maxv *[numCols]uint64) {
	maxv[colFunc] = max(maxv[colFunc], uint64(k.fn))
	maxv[colCallFile] = max(maxv[colCallFile], uint64(k.callFile))
	maxv[colCallLine] = max(maxv[colCallLine], uint64(k.callLine))
}

// grow makes the slots of a part half as many again and places its
// keys again.
func (t *siteTable) grow(pt *sitePart) {
	old := pt.slots
	n := uint64(max(len(old)+len(old)/2, 64))
	pt.slots = make([]uint32, n)
	prefault.Slice(pt.slots)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := slot(t.hashs.at(int(s-1)), n)
		for pt.slots[i] != 0 {
			if i++; i == n {
				i = 0
			}
		}
		pt.slots[i] = s
	}
}
