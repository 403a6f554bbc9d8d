package symcache

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
	"github.com/cairn-dev/cairn/internal/prefault"
)

// Info identifies the object a symcache describes; it goes into the header.
type Info struct {
	// Arch is the architecture in Sentry's spelling ("x86_64", "arm64");
	// at most 16 bytes are kept.
	Arch    string
	DebugID debugid.ID
	// LoadAddress is the object's preferred load address; every address a
	// symcache holds is relative to it, as debugfiles reports addresses.
	LoadAddress uint64
	// Format is the container the debug information came from.
	Format debugfiles.Format
}

// InfoOf reads an object's identity.
func InfoOf(obj debugfiles.Object) Info {
	return Info{Arch: obj.Arch(), DebugID: obj.DebugID(), LoadAddress: obj.LoadAddress(), Format: obj.Format()}
}

// Options tune the layout of a written symcache, and the memory its build
// may take. The zero value is the default and what Write is normally
// given.
type Options struct {
	// PageEntries is the average number of range entries per page of the
	// address directory the writer aims at: fewer make lookups decode
	// less and the file larger. 0 means 8.
	PageEntries int
	// FillFromSymbols makes Write name the code an object's debug
	// information leaves out (start-up code, hand-written assembly,
	// objects built without -g) from its symbol table, as Symbolicator's
	// symcaches do. Lookups there give the symbol without file or line.
	FillFromSymbols bool
	// SpillMemory is how many bytes of its intermediate tables (the
	// flattened functions, the names, the final entries and node rows)
	// a build may keep in memory once each outgrows a few hundred
	// kilobytes; past that they go to unlinked temporary files. 0 sends
	// them all to files: the least memory, which a large PDB's build
	// wants. Memory spares the system calls and the file system's work:
	// the bench fixture's build, which keeps 3.4 MB of tables in the
	// pool at most, ran x0.957 with it, its peak RSS unchanged
	// (BENCHMARKS.md). The written file is the same either way.
	SpillMemory int64
	// AfterReading, when set, is called by Write once the functions are
	// read and the debug session closed, before the tables are resolved
	// and written. What the reading allocated is then nearly all garbage
	// (the bench fixture's build: ~20 MB allocated, 4 MB of it live): a
	// command that builds one symcache and exits collects there
	// (runtime.GC), and the writing reuses that memory instead of growing
	// the heap by 3-4 MB more before the collector's own cycle comes
	// (BENCHMARKS.md). A server building symcaches side by side leaves it
	// unset: the collector paces itself better across builds.
	AfterReading func()
}

// Builder turns function trees into a symcache. Add consumes one
// top-level function at a time and keeps only its flattened ranges, coded
// compactly, so the caller can let each tree go as soon as Add returns;
// WriteTo resolves overlaps between functions and writes the file.
//
// The symcache answers every lookup exactly as debugfiles.NewIndex over the
// same functions answers it (AppendLookup), including its handling of
// overlapping functions, overlapping inlinees, lines of size 0 and inline
// chains deeper than 256.
//
// The flattened ranges of a large input (a PDB of 100 MB makes tens of
// megabytes of them) move to an unlinked temporary file once they outgrow
// a few hundred kilobytes, as do the function names, the call sites and
// the tables WriteTo derives from them, so that building a symcache needs
// far less memory than the debug information it reads; the page cache
// holds them instead of the heap, and what stays in memory is a few bytes
// per function and call site. Options.SpillMemory lets them stay in
// memory up to a bound instead, which is faster.
type Builder struct {
	info Info
	opts Options
	// spillLimit is the limit of every spill the builder and WriteTo
	// make: spillAt, but for tests of the temporary files. spillPool
	// is the memory they share (Options.SpillMemory).
	spillLimit int
	spillPool  *spillPool

	// names interns the function names.
	names nameStore

	fileInfos map[debugfiles.FileInfo]uint32
	lastFile  debugfiles.FileInfo // the last fileID argument and answer:
	lastID    uint32              // neighbouring rows share files
	// fileCache holds FileInfos met before, placed by the address of
	// their name's bytes: a session hands out the same strings for a
	// file each time (a unit's call sites name a few files over and
	// over), so most are found without hashing the strings.
	fileCache [fileCacheSize]cachedFile
	filePaths map[string]uint32
	paths     []string // file id i+1 is paths[i]; id 0 is the empty path

	// raw holds the flattened top-level functions in the order they
	// were added, each a span header and its entries and nodes
	// (appendSpanHeader, appendRawEntry, appendRawNode). runs cuts them
	// into runs in resolve's order: the functions of a debug file mostly
	// come in address order, so that resolve merges a few runs rather
	// than sorting every span in memory.
	raw  spill
	runs []run
	// heads are the spans added, as resolve decodes them from raw (off
	// is where their data start), while there are at most maxHeads: a
	// resolve that sorts the spans in memory takes them from here
	// rather than reading all of raw for them (newSpanMerger).
	heads     chunked[span]
	headsGone bool
	last      span // the last span added
	nodes     int  // nodes recorded so far; node ids are 1..nodes
	order     int
	// spans, spanEntries and spanBytes count the spans, their entries
	// and the bytes they cover (overlaps counted twice): WriteTo's
	// follower guesses the page size from them.
	spans, spanEntries int
	spanBytes          uint64
	// touching counts the spans that touch the span added before them,
	// before or after it: no gap entry lies between them.
	touching int
	// followed tells that WriteTo used its follower's counts, resolves
	// how many times it resolved the spans (tests).
	followed bool
	resolves int

	// Scratch of Add: the nodes and pieces of the function being
	// flattened, and its coded span.
	fnodes  []node
	pieces  []piece
	scratch [maxChain + 1][]piece
	buf     []byte

	// rows are the line rows the pieces of the function being flattened
	// point into, in table form (appendTableRow). For a compact function
	// (addCompact) they are its unit's table rows or its own, which
	// answer for every level of its tree, a row's File indexes unitFiles,
	// and their addresses are load more than the function's; for a tree
	// (Add) they are each level's Lines, converted into ownRows when
	// flatten first needs them, and a row's File is a file id already.
	rows    []dwarf.TableRow
	ownRows []dwarf.TableRow
	load    uint64
	compact bool
	// unitFiles are the files of the compact function last added, which
	// the functions of its unit share; unitIDs the file id+1 of each, 0
	// while not yet looked up, so that a unit's files are interned once
	// rather than once per row.
	unitFiles []debugfiles.FileInfo
	unitIDs   []uint32
}

// node is one frame level: a top-level function (part) or one inlined
// range. parent and callFile hold id+1, 0 meaning none.
type node struct {
	fn       uint32
	addr     uint64
	parent   uint32
	callFile uint32
	callLine uint32
	// site is the hash of an inlined node's call site (siteHash), set
	// by resolve as it loads the node's span.
	site uint32
}

// span is one flattened top-level function: its address range, the order
// it was added in, and where its data lie in the builder's raw store: its
// entries (appendRawEntry) followed by its nodes (appendRawNode). Its
// nodes have the consecutive ids from firstNode on.
type span struct {
	start, end      uint64
	off             int64
	entLen, nodeLen uint32
	order           uint32
	firstNode       uint32
}

// cmpSpan is resolve's order of spans: by start, enclosing first, then in
// the order they were added.
func cmpSpan(x, y *span) int {
	if c := cmp.Compare(x.start, y.start); c != 0 {
		return c
	}
	if c := cmp.Compare(y.end, x.end); c != 0 {
		return c
	}
	return cmp.Compare(x.order, y.order)
}

// run is a sequence of spans stored one after the other from raw offset
// off, each not before the previous in resolve's order.
type run struct {
	off int64
	n   int
}

// appendSpanHeader codes a span's header: start, size, order, first node
// and the lengths of its entries and nodes, as uvarints.
func appendSpanHeader(buf []byte, sp *span) []byte {
	for _, v := range [...]uint64{sp.start, sp.end - sp.start, uint64(sp.order), uint64(sp.firstNode), uint64(sp.entLen), uint64(sp.nodeLen)} {
		buf = binary.AppendUvarint(buf, v)
	}
	return buf
}

// maxSpanHeader bounds the length of a span header.
const maxSpanHeader = 6 * binary.MaxVarintLen64

// uvarint is binary.Uvarint with the values of one and two bytes, most
// of those the builder codes, decoded inline.
func uvarint(b []byte) (uint64, int) {
	if len(b) >= 2 {
		if b[0] < 0x80 {
			return uint64(b[0]), 1
		}
		if b[1] < 0x80 {
			return uint64(b[0]&0x7f) | uint64(b[1])<<7, 2
		}
	}
	return binary.Uvarint(b)
}

// readUvarints decodes len(v) consecutive unsigned varints from the start
// of b into v, returning how many bytes they took; false when b ends
// first or a value is malformed.
func readUvarints(b []byte, v []uint64) (int, bool) {
	k := 0
	for i := range v {
		x, n := uvarint(b[k:])
		if n <= 0 {
			return 0, false
		}
		v[i], k = x, k+n
	}
	return k, true
}

// decodeSpanHeader decodes the header at the start of b, stored at raw
// offset off, and returns the span (its data offset set) and the offset
// of the next span.
func decodeSpanHeader(b []byte, off int64) (span, int64, bool) {
	var v [6]uint64
	k, ok := readUvarints(b, v[:])
	if !ok {
		return span{}, 0, false
	}
	sp := span{start: v[0], end: v[0] + v[1], order: uint32(v[2]), firstNode: uint32(v[3]), entLen: uint32(v[4]), nodeLen: uint32(v[5])}
	sp.off = off + int64(k)
	return sp, sp.off + int64(sp.entLen) + int64(sp.nodeLen), true
}

// entry is the answer for the addresses from start up to the next entry:
// the innermost node (id+1, 0 for none), the file (id+1, 0 for none) and
// the line.
type entry struct {
	start uint64
	node  uint32
	file  uint32
	line  uint32
}

// gap reports whether e is a gap: no function, file or line. An entry of
// node 0 with a file or a line is nameless code (SPEC.md, Range stream).
func (e entry) gap() bool { return e.node == 0 && e.file == 0 && e.line == 0 }

// piece is an entry under construction: line is the index+1 of its row in
// the builder's rows, 0 meaning that no line row of the chain below covers
// the piece yet. Pieces hold no pointers, so their buffers cost the
// garbage collector nothing.
type piece struct {
	start uint64
	node  uint32
	line  int32
}

// NewBuilder starts a symcache for an object.
func NewBuilder(info Info, opts Options) *Builder {
	return newBuilder(info, opts, spillAt)
}

// newBuilder is NewBuilder with the limit of the builder's spills.
func newBuilder(info Info, opts Options, spillLimit int) *Builder {
	pool := newSpillPool(opts.SpillMemory)
	b := &Builder{
		info:       info,
		opts:       opts,
		spillLimit: spillLimit,
		spillPool:  pool,
		names:      nameStore{data: spill{limit: spillLimit, pool: pool}, seed: maphash.MakeSeed()},
		fileInfos:  map[debugfiles.FileInfo]uint32{},
		filePaths:  map[string]uint32{"": 0},
		raw:        spill{limit: spillLimit, pool: pool},
	}
	// Its caches (~100 KB) are looked in before they are filled.
	prefault.Value(b)
	return b
}

// Add flattens one top-level function with its lines and inlinees. Like
// debugfiles.NewIndex it sorts the tree's inlinees and lines by address in
// place; it keeps no reference to the tree afterwards. Functions of size 0,
// or whose end overflows, contribute nothing. Of two functions with the
// same range the one added later wins, as in NewIndex.
func (b *Builder) Add(f *debugfiles.Function) {
	order := b.order
	b.order++
	if f == nil {
		return
	}
	b.compact, b.rows = false, b.ownRows[:0]
	b.addTree(f, order)
	b.ownRows, b.rows = b.rows[:0], nil
}

// addCompact is Add for a function whose lines come as compact rows: the
// rows of its top level, of which each inlinee's lines are the part within
// the inlinee's range (see dwarf.CompactFunction). It answers every lookup
// as Add would over the same tree with its Lines, without a LineInfo, a
// file lookup by FileInfo or a pointer per row. It keeps no reference to
// the function afterwards but the unit's files.
func (b *Builder) addCompact(cf *dwarf.CompactFunction) {
	order := b.order
	b.order++
	if cf == nil || cf.Function == nil {
		return
	}
	f := cf.Function
	b.useUnitFiles(cf.Files)
	rows, load := cf.Table, cf.Load
	if rows == nil {
		rows, load = b.tableOf(cf.Rows), 0
	}
	if !b.internRowFiles(rows) {
		// The session yields its rows sorted; a copy keeps the caller's
		// rows as they were should another one not.
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, func(a, b dwarf.TableRow) int { return cmp.Compare(a.Address, b.Address) })
	}
	b.compact, b.rows, b.load = true, rows, load
	b.addTree(f, order)
	b.rows, b.load = nil, 0
}

// tableOf returns compact rows in table form, in the builder's own rows.
func (b *Builder) tableOf(rows []dwarf.LineRow) []dwarf.TableRow {
	byAddr := func(a, b dwarf.LineRow) int { return cmp.Compare(a.Address, b.Address) }
	if !slices.IsSortedFunc(rows, byAddr) {
		// A copy keeps the caller's rows as they were.
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, byAddr)
	}
	t := b.ownRows[:0]
	for i := range rows {
		r := &rows[i]
		var next uint64
		if i+1 < len(rows) {
			next = rows[i+1].Address
		}
		t = appendTableRow(t, r.Address, r.Size, r.File, r.Line, next, i+1 == len(rows))
	}
	b.ownRows = t
	return t
}

// appendTableRow appends to t a line row in table form (dwarf.TableRow):
// the row from addr of size bytes, or with size 0 up to the next row,
// which starts at next unless the row is the last. The reference's line
// search answers for an address with the last row starting at or before
// it, if its size is 0 or the address lies before its end: a row that
// ends before the next one starts is followed by a NoFile row at its
// end, and a row whose end wraps around answers for nothing. A file of
// NoFile, past the unit's files as others are (rowFile), becomes the
// one before it.
func appendTableRow(t []dwarf.TableRow, addr, size uint64, file, line uint32, next uint64, last bool) []dwarf.TableRow {
	if file == dwarf.NoFile {
		file--
	}
	end := addr + size
	if size != 0 && end <= addr {
		return append(t, dwarf.TableRow{Address: addr, File: dwarf.NoFile})
	}
	t = append(t, dwarf.TableRow{Address: addr, File: file, Line: line})
	if size != 0 && (last || end < next) {
		t = append(t, dwarf.TableRow{Address: end, File: dwarf.NoFile})
	}
	return t
}

// useUnitFiles makes files the files that the File of compact rows
// indexes, keeping the ids already found when they are the last unit's.
func (b *Builder) useUnitFiles(files []debugfiles.FileInfo) {
	if len(files) == len(b.unitFiles) && (len(files) == 0 || &files[0] == &b.unitFiles[0]) {
		return
	}
	b.unitFiles = files
	b.unitIDs = slices.Grow(b.unitIDs[:0], len(files))[:len(files)]
	clear(b.unitIDs)
}

// internRowFiles looks up the unit's files that compact rows name and
// that were not looked up before, so that codeCompact finds every row's
// file id in unitIDs (rowFile) without a call in its loop. It reports
// whether the rows are in address order, in the same pass.
func (b *Builder) internRowFiles(rows []dwarf.TableRow) (sorted bool) {
	ids := b.unitIDs
	sorted = true
	for i := range rows {
		if f := rows[i].File; int(f) < len(ids) && ids[f] == 0 {
			ids[f] = b.fileID(b.unitFiles[f]) + 1
		}
		if i > 0 && rows[i].Address < rows[i-1].Address {
			sorted = false
		}
	}
	return sorted
}

// rowFile returns the file id of a compact row's File, looked up by
// internRowFiles; a File past the unit's files is an unknown file, the
// empty path's id 0.
func rowFile(ids []uint32, f uint32) uint32 {
	if int(f) < len(ids) {
		return ids[f] - 1
	}
	return 0
}

// addTree flattens a top-level function, added as the order-th,
// into a span, with the builder's rows set up by Add or addCompact.
func (b *Builder) addTree(f *debugfiles.Function, order int) {
	if f.Size == 0 || f.Address+f.Size <= f.Address {
		return
	}
	first := uint32(b.nodes + 1)
	b.fnodes = b.fnodes[:0]
	b.pieces = b.flatten(f, 0, f.Address, f.End(), 1, b.pieces[:0])
	var buf []byte
	var n int
	if b.compact {
		buf, n = b.codeCompact(b.buf[:0], f.Address, first, f.End())
	} else {
		c := spanCoder{buf: b.buf[:0], start: f.Address, first: first}
		for _, p := range b.pieces {
			e := entry{start: p.start, node: p.node}
			if p.line != 0 {
				// A tree's rows hold file ids (linesOf).
				r := &b.rows[p.line-1]
				e.file, e.line = r.File, r.Line
			}
			c.put(e)
		}
		buf, n = c.buf, c.n
	}
	entLen := len(buf)
	for i := range b.fnodes {
		buf = appendRawNode(buf, &b.fnodes[i], first+uint32(i), f.Address)
	}
	sp := span{
		start: f.Address, end: f.End(),
		entLen: uint32(entLen), nodeLen: uint32(len(buf) - entLen),
		order: uint32(order), firstNode: first,
	}
	var hdr [maxSpanHeader]byte
	head := appendSpanHeader(hdr[:0], &sp)
	off := b.raw.write(head)
	b.raw.write(buf)
	switch {
	case b.headsGone:
	case b.heads.len() == maxHeads:
		b.heads, b.headsGone = chunked[span]{}, true
	default:
		h := sp
		h.off = off + int64(len(head))
		b.heads.append(h)
	}
	if n := len(b.runs); n == 0 || cmpSpan(&b.last, &sp) > 0 {
		b.runs = append(b.runs, run{off: off})
	}
	b.runs[len(b.runs)-1].n++
	if b.spans > 0 && (sp.start == b.last.end || sp.end == b.last.start) {
		b.touching++
	}
	b.last = sp
	b.nodes += len(b.fnodes)
	b.spans++
	b.spanEntries += n
	b.spanBytes += sp.end - sp.start
	b.buf = buf[:0]
}

// entryGuess is how many final entries the spans promise: their own, and
// a gap entry before every span but the first, unless it touches the span
// added before it (the functions of a symbol table, or of Breakpad
// records, mostly touch).
func (b *Builder) entryGuess() int {
	return max(b.spanEntries+b.spans-1-b.touching, 1)
}

// appendRawEntry codes an entry of a span: the distance of its start from
// prev (the previous entry's, or the span's start), its node relative to
// the span's first, its file and its line, as uvarints.
func appendRawEntry(buf []byte, e entry, prev uint64, first uint32) []byte {
	buf = appendUvarint(buf, e.start-prev)
	buf = appendUvarint(buf, uint64(e.node-first))
	buf = appendUvarint(buf, uint64(e.file))
	return appendUvarint(buf, uint64(e.line))
}

// appendRawNode codes node id of a span starting at start: its function,
// its address relative to start (zigzag), the distance back to its parent
// (0 for none), its call file and line, as uvarints.
func appendRawNode(buf []byte, nd *node, id uint32, start uint64) []byte {
	buf = appendUvarint(buf, uint64(nd.fn))
	buf = appendUvarint(buf, zigzag64(int64(nd.addr-start)))
	var up uint32
	if nd.parent != 0 {
		up = id - nd.parent
	}
	buf = appendUvarint(buf, uint64(up))
	buf = appendUvarint(buf, uint64(nd.callFile))
	return appendUvarint(buf, uint64(nd.callLine))
}

// appendUvarint is binary.AppendUvarint with the values of one and two
// bytes, nearly all of those a span codes, written inline: the call and
// its loop were a tenth of adding a function.
func appendUvarint(buf []byte, v uint64) []byte {
	if v < 1<<7 {
		return append(buf, byte(v))
	}
	if v < 1<<14 {
		return append(buf, byte(v)|0x80, byte(v>>7))
	}
	return binary.AppendUvarint(buf, v)
}

// inlineesSorted reports whether fs is in the order byAddress sorts it
// in, as sessions give inlinees: flatten sorts them otherwise.
func inlineesSorted(fs []*debugfiles.Function) bool {
	for i := 1; i < len(fs); i++ {
		if fs[i] != nil && (fs[i-1] == nil || fs[i].Address < fs[i-1].Address) {
			return false
		}
	}
	return true
}

func byAddress(a, b *debugfiles.Function) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return cmp.Compare(a.Address, b.Address)
}

func linesSorted(lines []debugfiles.LineInfo) bool {
	for i := 1; i < len(lines); i++ {
		if lines[i].Address < lines[i-1].Address {
			return false
		}
	}
	return true
}

// flatten appends the pieces of [lo, hi), where n is the innermost
// function of the chain so far (at depth, counting the top-level function
// as 1), and returns the extended slice.
//
// The reference lookup descends, at each level, into the last inlinee
// starting at or before the address if the address lies before that
// inlinee's end; so inlinee j owns [start_j, min(end_j, start_j+1)) of its
// parent's range. The innermost frame's line is the deepest chain level
// whose lines cover the address: the pieces of the children are resolved
// first, and what they leave open falls back to n's own lines.
func (b *Builder) flatten(n *debugfiles.Function, parent uint32, lo, hi uint64, depth int, out []piece) []piece {
	id := b.addNode(n, parent, depth == 1)
	mark := len(out)
	pos := lo
	if depth < maxChain {
		// Inlinees, and a tree's lines (linesOf), go in address order,
		// stably and with nil inlinees last, exactly as
		// debugfiles.NewIndex sorts them, so that ties resolve the same
		// way. Sessions give them sorted: the checks are all it costs.
		if !inlineesSorted(n.Inlinees) {
			slices.SortStableFunc(n.Inlinees, byAddress)
		}
		kids := n.Inlinees
		for j, c := range kids {
			if c == nil {
				break // nil inlinees sort last
			}
			a := c.Address
			if a >= hi {
				break
			}
			e := a + c.Size
			if e <= a {
				continue // empty, or its end overflows: never selected
			}
			if j+1 < len(kids) && kids[j+1] != nil && kids[j+1].Address < e {
				e = kids[j+1].Address
			}
			s, t := max(a, lo), min(e, hi)
			if s >= t {
				continue
			}
			if pos < s {
				out = append(out, piece{start: pos, node: id})
			}
			out = b.flatten(c, id, s, t, depth+1, out)
			pos = t
		}
	}
	if pos < hi {
		out = append(out, piece{start: pos, node: id})
	}
	if b.compact {
		// An inlinee of a compact function has as lines the rows of
		// the top level starting within its range. The last of them
		// starting at or before an address of the inlinee is the last
		// of all the rows (any row after it starts within the range
		// too), and the row after it either its next one or past the
		// inlinee: the top level's rows answer every address as the
		// inlinee's would, and where the inlinee's leave it open, so
		// would its callers'. addTree resolves them all with the top
		// level's rows as it codes the entries (codeCompact).
		return out
	}
	if len(n.Lines) == 0 {
		return out
	}
	open := false
	for _, p := range out[mark:] {
		if p.line == 0 {
			open = true
			break
		}
	}
	if !open {
		return out
	}
	first, end := b.linesOf(n)
	if first == end {
		return out
	}
	lines := b.rows[first:end]
	sc := append(b.scratch[depth][:0], out[mark:]...)
	out = out[:mark]
	from := 0
	for i, p := range sc {
		if p.line != 0 {
			out = append(out, p)
			continue
		}
		end := hi
		if i+1 < len(sc) {
			end = sc[i+1].start
		}
		out, from = splitByLines(lines, int32(first), p, end, from, out)
	}
	b.scratch[depth] = sc[:0]
	return out
}

// linesOf returns where the lines of n, a level of a tree, lie in the
// builder's rows: its Lines, appended to the rows now, with their files
// interned.
func (b *Builder) linesOf(n *debugfiles.Function) (first, end int) {
	if !linesSorted(n.Lines) {
		slices.SortStableFunc(n.Lines, func(a, b debugfiles.LineInfo) int { return cmp.Compare(a.Address, b.Address) })
	}
	first = len(b.rows)
	for i := range n.Lines {
		l := &n.Lines[i]
		var next uint64
		if i+1 < len(n.Lines) {
			next = n.Lines[i+1].Address
		}
		b.rows = appendTableRow(b.rows, l.Address, l.Size, b.fileID(l.File), l.Line, next, i+1 == len(n.Lines))
	}
	return first, len(b.rows)
}

// splitByLines resolves the open piece p, which ends at end, with sorted
// lines in table form, as the reference's line search answers (see
// appendTableRow). lines[0] is row base of the builder's rows. The lines
// before from start at or before p: pieces are resolved in address order,
// and each call returns the from of the next piece, so that the search
// for a piece's first line skips the lines of the pieces before it.
func splitByLines(lines []dwarf.TableRow, base int32, p piece, end uint64, from int, out []piece) ([]piece, int) {
	cur := p.start
	i := rowAfter(lines, from, cur) - 1
	for cur < end {
		covers, next := rowSpan(lines, i, end)
		q := piece{start: cur, node: p.node}
		if covers {
			q.line = base + int32(i) + 1
		}
		out = appendPiece(out, q)
		cur = next
		i = lastRowAt(lines, i, cur)
	}
	return out, i + 1
}

// rowSpan reports whether rows[i], the last of rows in table form
// starting at or before an address (none for i < 0), answers for it (its
// File is not NoFile), and where that answer ends: at the next row's
// start, or end.
func rowSpan(rows []dwarf.TableRow, i int, end uint64) (bool, uint64) {
	next := end
	if i+1 < len(rows) && rows[i+1].Address < next {
		next = rows[i+1].Address
	}
	return i >= 0 && rows[i].File != dwarf.NoFile, next
}

// spanCoder codes the entries of a span (appendRawEntry), leaving out
// those that repeat the answer of the one before.
type spanCoder struct {
	buf   []byte
	start uint64 // the span's start
	first uint32 // its first node
	last  entry
	n     int // entries coded
}

func (c *spanCoder) put(e entry) {
	if c.n > 0 && c.last.node == e.node && c.last.file == e.file && c.last.line == e.line {
		return
	}
	prev := c.start
	if c.n > 0 {
		prev = c.last.start
	}
	c.buf = appendRawEntry(c.buf, e, prev, c.first)
	c.last = e
	c.n++
}

// codeCompact appends to buf the entries of a compact function that
// spans [start, end) and whose first node is first, and returns them with
// their count: its pieces (b.pieces, none resolved) resolved with its rows
// as flatten resolves a tree's pieces (splitByLines), in one pass that
// writes no resolved pieces. It codes them as spanCoder.put does, written
// out: the call in the loop left its values on the stack around it. The
// last entry is held in scalars: as a struct, it was copied by loads
// wider than the stores of its fields, which the processor cannot
// forward. The addresses it goes through are the rows', load more than
// the function's: entries code differences, which are the same.
func (b *Builder) codeCompact(buf []byte, start uint64, first uint32, end uint64) ([]byte, int) {
	rows, pieces, ids, load := b.rows, b.pieces, b.unitIDs, b.load
	n := 0
	prev := start + load
	var lastNode, lastFile, lastLine uint32
	from := 0
	for k, p := range pieces {
		hi := end + load
		if k+1 < len(pieces) {
			hi = pieces[k+1].start + load
		}
		cur := p.start + load
		i := rowAfter(rows, from, cur) - 1
		for cur < hi {
			covers, next := rowSpan(rows, i, hi)
			var file, line uint32
			if covers {
				file, line = rowFile(ids, rows[i].File), rows[i].Line
			}
			if n == 0 || p.node != lastNode || file != lastFile || line != lastLine {
				// Nearly every entry codes in four to six bytes,
				// written here: a distance and a node of a byte
				// each, a file and a line of one or two (a program
				// of more than 127 files numbers most of its units'
				// own files past them: 94,000 of libpython's 217,000
				// entries). The others go to appendRawEntry.
				d, nd, at := cur-prev, p.node-first, len(buf)
				if d|uint64(nd) < 1<<7 && file|line < 1<<14 && cap(buf)-at >= 6 {
					w := buf[at : at+6]
					w[0], w[1] = byte(d), byte(nd)
					k := 3
					if w[2] = byte(file); file >= 1<<7 {
						w[2], w[3] = byte(file)|0x80, byte(file>>7)
						k = 4
					}
					if w[k] = byte(line); line >= 1<<7 {
						w[k], w[k+1] = byte(line)|0x80, byte(line>>7)
						k++
					}
					buf = buf[:at+k+1]
				} else {
					buf = appendRawEntry(buf, entry{start: cur, node: p.node, file: file, line: line}, prev, first)
				}
				prev, lastNode, lastFile, lastLine = cur, p.node, file, line
				n++
			}
			cur = next
			i = lastRowAt(rows, i, cur)
		}
		from = i + 1
	}
	return buf, n
}

// rowAfter returns the index of the first of rows (sorted) that starts
// after addr; those before from start at or before it. It is most often
// rows[from] or one of the next few (the pieces before took the rows
// before): they are tried first, and only past them the rest searched.
func rowAfter(rows []dwarf.TableRow, from int, addr uint64) int {
	lo := from
	for lo < len(rows) && rows[lo].Address <= addr && lo-from < 4 {
		lo++
	}
	if lo < len(rows) && rows[lo].Address <= addr {
		hi := len(rows)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if rows[m].Address <= addr {
				lo = m + 1
			} else {
				hi = m
			}
		}
	}
	return lo
}

// lastRowAt returns the last of rows (sorted) starting at or before addr,
// from i, the last starting at or before an address below it.
func lastRowAt(rows []dwarf.TableRow, i int, addr uint64) int {
	for i+1 < len(rows) && rows[i+1].Address <= addr {
		i++
	}
	return i
}

// appendPiece appends p unless it continues the last piece unchanged.
func appendPiece(out []piece, p piece) []piece {
	if n := len(out); n > 0 && out[n-1].node == p.node && out[n-1].line == p.line {
		return out
	}
	return append(out, p)
}

// addNode records a chain level and returns its id+1.
func (b *Builder) addNode(n *debugfiles.Function, parent uint32, top bool) uint32 {
	fn := b.names.id(n.Name)
	var callFile, callLine uint32
	if !top {
		callFile, callLine = b.fileID(n.CallFile), n.CallLine
	}
	// Its fields are stored where it goes: a node made on the stack
	// and appended was copied by loads of 16 bytes over the stores of
	// its fields of 4 and 8, which the processor cannot forward, and
	// waited for them (a third of flatten's samples).
	k := len(b.fnodes)
	if k == cap(b.fnodes) {
		b.fnodes = slices.Grow(b.fnodes, 1)
	}
	b.fnodes = b.fnodes[:k+1]
	nd := &b.fnodes[k]
	nd.fn, nd.addr, nd.parent, nd.callFile, nd.callLine = fn, n.Address, parent, callFile, callLine
	return uint32(b.nodes + k + 1)
}

// nameStore interns function names. Ids follow the order of first
// appearance, whatever the hash seed.
//
// The names of a large input are megabytes (a PDB names its functions by
// their decorated names), so their bytes go to a spill, one after the
// other, and what stays in memory is a few bytes per name: where it ends,
// a 32-bit hash, and a slot of the open-addressing table of ids+1, kept
// at most three quarters full. A name whose hash matches is compared
// with its bytes read back; the last name seen at each place of a small
// cache, indexed by another part of the hash, is found without that read,
// as are the few names inlined over and over (a PDB's inline sites name
// the same functions hundreds of thousands of times). A name seen again
// as the very same string, as a DWARF session hands them out, is found
// without hashing it, by the address of its bytes.
type nameStore struct {
	data  spill
	ends  chunked[uint32]
	hashs chunked[uint32]
	slots []uint32
	seed  maphash.Seed
	// byAddr and cache are the caches, placed by the address of a
	// name's bytes and by its hash.
	byAddr, cache [nameCacheSize]cachedName
	buf           []byte
	err           error
}

// nameCacheSize is the number of places of each of a nameStore's caches.
const (
	nameCacheBits = 12
	nameCacheSize = 1 << nameCacheBits
)

// cachedName is a name and its id+1; 0 is an empty place.
type cachedName struct {
	name string
	id   uint32
}

// len is the number of distinct names.
func (t *nameStore) len() int { return t.ends.len() }

// span returns the offset and length of name id in data.
func (t *nameStore) span(id int) (int64, int) {
	var start uint32
	if id > 0 {
		start = t.ends.at(id - 1)
	}
	return int64(start), int(t.ends.at(id) - start)
}

// home is the first slot of a hash among n, a power of two.
func home(h uint32, n int) int {
	return int(uint64(h) * 0x9e3779b97f4a7c15 >> (64 - bits.TrailingZeros(uint(n))))
}

// id returns the id of a name, adding it when it is new.
func (t *nameStore) id(name string) uint32 {
	// A DWARF session hands out one string per function, which the
	// first cache finds by its address, without hashing it, and
	// compares in one step (the same bytes compare equal unread).
	a := &t.byAddr[uintptr(unsafe.Pointer(unsafe.StringData(name)))*0x9e3779b97f4a7c15>>(64-nameCacheBits)]
	if a.id != 0 && a.name == name {
		return a.id - 1
	}
	h := maphash.String(t.seed, name)
	c := &t.cache[h>>32&(nameCacheSize-1)]
	if c.id != 0 && c.name == name {
		*a = *c
		return c.id - 1
	}
	if 4*(t.len()+1) > 3*len(t.slots) {
		t.grow()
	}
	tag := uint32(h)
	mask := len(t.slots) - 1
	for i := home(tag, len(t.slots)); ; i = (i + 1) & mask {
		k := t.slots[i]
		if k == 0 {
			end := t.data.size + int64(len(name))
			if end > math.MaxUint32 && t.err == nil {
				t.err = errTooLarge("function names", int(end))
			}
			t.data.writeString(name)
			t.ends.append(uint32(end))
			t.hashs.append(tag)
			t.slots[i] = uint32(t.len())
			// A new name is not cached: most are seen once (a PDB's
			// procedures), and would push out the ones inlined often.
			return uint32(t.len() - 1)
		}
		if t.hashs.at(int(k-1)) == tag && t.equal(int(k-1), name) {
			*c = cachedName{name: name, id: k}
			*a = *c
			return k - 1
		}
	}
}

// grow doubles the slots and places every id again.
func (t *nameStore) grow() {
	n := max(2*len(t.slots), 1024)
	t.slots = make([]uint32, n)
	prefault.Slice(t.slots)
	for id := range t.len() {
		i := home(t.hashs.at(id), n)
		for t.slots[i] != 0 {
			i = (i + 1) & (n - 1)
		}
		t.slots[i] = uint32(id + 1)
	}
}

// equal reports whether name id is name. A failed read latches its
// error and answers no: the name is then added again, and the error
// reported when the symcache is written.
func (t *nameStore) equal(id int, name string) bool {
	off, n := t.span(id)
	if n != len(name) {
		return false
	}
	b, err := t.read(id, off, n, false)
	if err != nil {
		if t.err == nil {
			t.err = err
		}
		return false
	}
	return string(b) == name
}

// read returns the n bytes of name id at off, valid until the next read;
// sequential says whether reads go through the names in about the order
// they were added.
func (t *nameStore) read(id int, off int64, n int, sequential bool) ([]byte, error) {
	if !t.data.moved() && off+int64(n) <= int64(len(t.data.mem)) {
		return t.data.mem[off : off+int64(n)], nil
	}
	if cap(t.buf) < n {
		t.buf = make([]byte, n)
	}
	b := t.buf[:n]
	if err := t.data.readAt(b, off, sequential); err != nil {
		return nil, fmt.Errorf("symcache: function name %d: %w", id, err)
	}
	return b, nil
}

// forget drops the caches, which hold the caller's strings: only reads
// by id follow.
func (t *nameStore) forget() {
	t.cache, t.byAddr = [nameCacheSize]cachedName{}, [nameCacheSize]cachedName{}
	t.slots, t.hashs = nil, chunked[uint32]{}
}

// chunked is an append-only sequence kept in blocks of 1<<chunkBits
// values: it grows without copying, and without the unused half that a
// slice grown by doubling may carry, which for the large tables of a
// large input is megabytes.
type chunked[T any] struct {
	blocks [][]T
	n      int
}

const chunkBits = 12

func (c *chunked[T]) append(v T) {
	if c.n>>chunkBits == len(c.blocks) {
		c.blocks = append(c.blocks, make([]T, 0, 1<<chunkBits))
	}
	b := &c.blocks[len(c.blocks)-1]
	*b = append(*b, v)
	c.n++
}

func (c *chunked[T]) at(i int) T { return c.blocks[i>>chunkBits][i&(1<<chunkBits-1)] }

func (c *chunked[T]) len() int { return c.n }

// fileCacheSize is the number of places of the builder's file cache.
const fileCacheSize = 64

// cachedFile is a FileInfo and its file id; ok marks a used place.
type cachedFile struct {
	fi debugfiles.FileInfo
	id uint32
	ok bool
}

// fileID interns a file by its joined path (id+1; 0 is the empty path).
// FileInfo values are cached first, so the path is joined once per
// distinct FileInfo rather than once per line row.
func (b *Builder) fileID(fi debugfiles.FileInfo) uint32 {
	if b.lastID != 0 && (sameStrings(&fi, &b.lastFile) || fi == b.lastFile) {
		return b.lastID
	}
	// The place makes it likely that a FileInfo found there holds the
	// very same strings.
	c := &b.fileCache[uintptr(unsafe.Pointer(unsafe.StringData(fi.Name)))>>4%fileCacheSize]
	if c.ok && (sameStrings(&c.fi, &fi) || c.fi == fi) {
		b.lastFile, b.lastID = fi, c.id
		return c.id
	}
	if id, ok := b.fileInfos[fi]; ok {
		b.lastFile, b.lastID = fi, id
		*c = cachedFile{fi: fi, id: id, ok: true}
		return id
	}
	p := fi.Path()
	id, ok := b.filePaths[p]
	if !ok {
		b.paths = append(b.paths, p)
		id = uint32(len(b.paths))
		b.filePaths[p] = id
	}
	b.fileInfos[fi] = id
	*c = cachedFile{fi: fi, id: id, ok: true}
	return id
}

// sameStrings reports whether x and y hold the very same strings (the
// same bytes at the same addresses), as a DWARF session hands out a
// unit's files, without reading them: comparing FileInfos by their bytes
// (a call, and three of memequal) was a twentieth of adding a function.
// false says nothing: the strings may still be equal.
func sameStrings(x, y *debugfiles.FileInfo) bool {
	return unsafe.StringData(x.Name) == unsafe.StringData(y.Name) && len(x.Name) == len(y.Name) &&
		unsafe.StringData(x.Dir) == unsafe.StringData(y.Dir) && len(x.Dir) == len(y.Dir) &&
		unsafe.StringData(x.CompDir) == unsafe.StringData(y.CompDir) && len(x.CompDir) == len(y.CompDir)
}

// errTooLarge reports a symcache past the format's 32-bit offsets.
func errTooLarge(what string, n int) error {
	return fmt.Errorf("symcache: %s too large for the format (%d)", what, n)
}
