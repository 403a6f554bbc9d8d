package dwarf

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/internal/prefault"
)

// The builder turns DIEs into debugfiles.Function trees in two steps. The
// walk (over our own decoder, or over debug/dwarf for NewSession) records
// compact entries: every subprogram and scope DIE by offset (our decoder
// skips a C unit's structures and unions, which hold no functions), so
// names can be resolved through DW_AT_specification and
// DW_AT_abstract_origin later, and a node for every subprogram or inlined
// subroutine that has code. Emission then resolves names once per entry,
// clips inlined ranges into their parents and attaches line rows,
// allocating the result in slabs.

// errBudget reports input whose decoding would take far more work than its
// size justifies (range lists or line programs referenced over and over).
var errBudget = errors.New("input needs too much work for its size")

// budget bounds the work done for one input: ranges decoded, line rows read
// and line infos produced. It is a multiple of the input size, generous for
// real compilers' output. A budget belongs to one goroutine; workers
// emitting in parallel each hold a share drawn from a sharedBudget.
type budget struct {
	left   int64
	parent *sharedBudget
	// exhausted is set once spend has failed, including where the
	// failure was not reported as an error (str yields "" then): a
	// parallel walk that met it is redone serially.
	exhausted bool
}

func newBudget(inputSize int) *budget {
	return &budget{left: budgetPerByte*int64(inputSize) + budgetBase}
}

// The budget is budgetPerByte units per input byte plus budgetBase. Real
// binaries use a few units per byte.
const (
	budgetPerByte = 64
	budgetBase    = 1 << 16
)

func (b *budget) spend(n int) error {
	b.left -= int64(n)
	if b.left < 0 && b.parent != nil {
		b.left += b.parent.take(max(-b.left, budgetShare))
	}
	if b.left < 0 {
		b.exhausted = true
		return errBudget
	}
	return nil
}

// budgetShare is what a worker's budget draws from the shared one at a
// time: large enough that workers rarely meet at the lock.
const budgetShare = 1 << 16

// sharedBudget hands out a builder's budget to parallel workers.
type sharedBudget struct {
	mu   sync.Mutex
	from *budget
}

// take withdraws up to n units, fewer when less is left.
func (s *sharedBudget) take(n int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = max(min(n, s.from.left), 0)
	s.from.left -= n
	return n
}

// child returns a budget for one worker, empty until it spends.
func (s *sharedBudget) child() *budget { return &budget{parent: s} }

// giveBack returns what a worker's budget did not use.
func (s *sharedBudget) giveBack(b *budget) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.left > 0 {
		s.from.left += b.left
		b.left = 0
	}
}

type strKind uint8

const (
	strNone     strKind = iota
	strInline           // v is the string's offset in .debug_info
	strStrp             // v is an offset in .debug_str
	strLineStrp         // v is an offset in .debug_line_str
	strStrx             // v is an index into the unit's string offsets
	strTable            // v is an index into builder.strs (debug/dwarf walk)
)

// strRef is a string attribute not yet read: most names the walk sees are
// never needed, so they are resolved on use.
type strRef struct {
	v    uint64
	kind strKind
}

// entry is a DIE that names resolve through: a subprogram or a scope
// (namespace, class, structure, union, interface).
type entry struct {
	off    uint64
	spec   uint64
	origin uint64
	name   strRef
	link   strRef
	parent int32 // enclosing scope or subprogram entry, or -1
	unit   int32
	tag    uint16
	flags  uint8
}

const (
	entHasSpec = 1 << iota
	entHasOrigin
)

// node is a subprogram or inlined subroutine with code. There is one per
// function and inlined call of the program, held until it is emitted:
// 40 bytes, its source being its unit's.
type node struct {
	origin   uint64
	entry    int32 // the subprogram's own entry; -1 for inlinees
	parent   int32 // enclosing node for inlinees, -1 for subprograms
	unit     int32
	callFile uint32
	callLine uint32
	rng0     int32 // ranges in builder.ranges
	rng1     int32
	hasOrig  bool
}

// newNode appends a zeroed node and returns it, for the walk to fill in
// place: a node made on the stack and appended was copied by loads
// wider than the stores of its fields, which the processor cannot
// forward, and waited for them (a tenth of walkUnit's samples).
func (bl *builder) newNode() *node {
	k := len(bl.nodes)
	if k == cap(bl.nodes) {
		bl.nodes = slices.Grow(bl.nodes, 1)
	}
	bl.nodes = bl.nodes[:k+1]
	n := &bl.nodes[k]
	*n = node{}
	return n
}

// unitInfo is what emission needs of a compilation unit.
type unitInfo struct {
	src      int32
	off      uint64 // unit header offset, for errors
	version  uint16
	addrSize uint8
	is64     bool
	be       bool
	compDir  string

	// lowPC is the unit's base address for range lists.
	lowPC      uint64
	strOffBase uint64
	addr       addrCtx
	// rnglistsBase is where DW_FORM_rnglistx offsets start; ranges and
	// rnglists are the sections range lists are read from (the main
	// object's .debug_ranges for DWARF 4 split units, with rangesBase
	// added to every offset).
	rnglistsBase uint64
	rangesBase   uint64
	ranges       []byte
	rnglists     []byte

	stmtList uint64
	hasStmt  bool
	lineSec  lineSections
	// once guards reading the line table when workers emit the unit's
	// functions in parallel; nil otherwise.
	once     *sync.Once
	lines    *lineTable
	files    []debugfiles.FileInfo
	linesErr error

	// cu0..cu1 are the unit's own ranges in builder.ranges, for the code
	// of the unit no function covers.
	cu0, cu1 int32
	// replaced is set on a skeleton whose split unit was read; the split
	// unit stands for it.
	replaced bool

	skeleton bool
	dwoName  string
	dwoID    uint64
	// gnuRangesBase is the skeleton's DW_AT_GNU_ranges_base.
	gnuRangesBase uint64
}

// source is a set of DIEs in which references resolve: the main object or
// one split unit's .dwo data.
type source struct {
	sec     *Sections
	be      bool
	abbrevs map[abbrevKey]*abbrevTable
	// shared, when set, holds the tables instead of abbrevs: the copy of
	// a source the shards of a parallel walk share (sharedAbbrevs).
	shared *abbrevCache
	// slab, when set, holds the arrays of abbrevs' tables, which are
	// cleared together and the arrays used again (streamMain).
	slab *abbrevSlab
	ent0 int32 // entries of this source: entries[ent0:ent1]
	ent1 int32
}

type abbrevKey struct {
	off      uint64
	addrSize uint8
	is64     bool
	version  uint16
}

type builder struct {
	opts    Options
	bud     *budget
	sources []*source
	units   []*unitInfo
	entries []entry
	nodes   []node
	ranges  []addrRange
	strs    []string
	// lineCache shares line tables between units pointing at the same
	// program, keyed by offset in the main object's .debug_line.
	lineCache map[uint64]*lineTable

	names  []string // resolved names by entry, valid where named is set
	named  []bool
	scopes map[int32]string // qualified prefixes by scope entry
	// eix, when set, indexes the entries for lookupFrom (emitParallel
	// sets it while it names the nodes).
	eix *entryIndex
	// nodeNames are the names of the nodes when emitParallel resolved
	// them all before emitting (and dropped the entries); empty
	// otherwise.
	nodeNames []string
	// freeRows holds the rows of line tables released while workers
	// emit in parallel, for the tables still to read.
	freeRows chan []lineRow
	// tableRows is set when compact functions come with their unit's
	// line table rows as they are (CompactFunction.Table): a unit's rows
	// are then released only once its last function has been consumed.
	tableRows bool
	// gapRanges is gapsOf's working storage, reused from one segment of
	// a streaming walk to the next.
	gapRanges []addrRange
	// reuse is set when the consumer keeps nothing of a function once
	// it has been handed the next (TransientCompactFunctions):
	// emitParallel then builds later chunks in the storage of the ones
	// consumed.
	reuse bool
	// stores holds the storage of chunks consumed (reuse), kept from
	// one call of emitParallel to the next.
	stores chan *chunkStore
	// scratch holds the workers' scratch storage between the calls of
	// emitParallel of a streaming session, and entryBuf nodeEntries'.
	scratch  chan *emitScratch
	entryBuf []int32
	// entriesFound is set while entryBuf, eix and the room of nodeNames
	// are ready for emitParallel (findNodeEntries).
	entriesFound bool

	// streaming is set when the builder holds one segment of the
	// program at a time (see stream): emission then leaves the entries
	// and the sections to the streaming loop.
	streaming bool
	// shared, when set, is the budget the workers of emitParallel draw
	// from: the walk workers of a streaming session draw from it too.
	shared *sharedBudget
	// pool, when set, builds the chunks of every segment of a streaming
	// session (see emitPool), in place of workers of emitParallel's own.
	pool *emitPool
	// rangesRead are the offsets range lists were read at, in
	// .debug_ranges and .debug_rnglists: a streaming session releases
	// the pages of a segment's lists once it is emitted.
	rangesRead [2]offsetSpan
}

// offsetSpan is the lowest and highest of some offsets.
type offsetSpan struct {
	lo, hi uint64
	set    bool
}

func (s *offsetSpan) add(off uint64) {
	if !s.set {
		*s = offsetSpan{off, off, true}
		return
	}
	s.lo, s.hi = min(s.lo, off), max(s.hi, off)
}

// merge adds the offsets of o.
func (s *offsetSpan) merge(o offsetSpan) {
	if o.set {
		s.add(o.lo)
		s.add(o.hi)
	}
}

// nodeEntry is the entry a node's name comes from.
func (bl *builder) nodeEntry(n *node) int32 {
	if n.hasOrig {
		return bl.lookupFrom(n.unit, n.origin)
	}
	return n.entry
}

func newBuilder(opts Options, inputSize int) *builder {
	return &builder{opts: opts, bud: newBudget(inputSize), lineCache: map[uint64]*lineTable{}}
}

// presize reserves room for the walk's records from the size of
// .debug_info: optimized C and C++ take 60–70 bytes of it per function or
// inlined call and 25–50 per address range. Declarations (entries) vary
// most: one per 50–90 bytes in C++, one per several hundred in C, so
// their room is a quarter of the C++ figure and grows when needed. Room
// reserved and not used is not touched, but it counts as live heap for the
// garbage collector, which lets the heap grow by as much again before it
// collects: reserving far more than is used raises the peak.
func (bl *builder) presize(info int) {
	n := min(info, 1<<30)
	bl.nodes = make([]node, 0, n/56)
	bl.ranges = make([]addrRange, 0, n/32)
	bl.entries = make([]entry, 0, n/320)
}

// addRanges filters, sorts and merges the ranges appended since start and
// returns their bounds. Empty ranges, tombstones and ranges at address 0
// (where ld.bfd leaves functions it discarded) or below the load address
// are dropped.
func (bl *builder) addRanges(start int, addrSize uint8) (int32, int32) {
	r := bl.ranges[start:]
	out := r[:0]
	for _, x := range r {
		if x.lo >= x.hi || x.lo == 0 || x.lo < bl.opts.LoadAddress || tombstone(x.lo, addrSize) {
			continue
		}
		out = append(out, x)
	}
	if len(out) > 1 {
		if !slices.IsSortedFunc(out, cmpRange) {
			slices.SortFunc(out, cmpRange)
		}
		m := out[:1]
		for _, x := range out[1:] {
			last := &m[len(m)-1]
			if x.lo <= last.hi {
				last.hi = max(last.hi, x.hi)
				continue
			}
			m = append(m, x)
		}
		out = m
	}
	bl.ranges = bl.ranges[:start+len(out)]
	return int32(start), int32(start + len(out))
}

func cmpRange(a, b addrRange) int { return cmpU64(a.lo, b.lo) }

// entryIndex holds the offsets of a builder's entries in an array of
// their own, and where each unit's entries lie: a binary search over it
// stays in cache (8 bytes an entry rather than 72), within the unit's
// entries first, where references mostly point. Naming the bench
// fixture's 71,504 nodes looked their entries up in 2.1 ms of CPU through
// lookup, 1.4 ms through an index.
type entryIndex struct {
	offs []uint64
	// units[u] are unit u's entries, empty unless they lie together (the
	// walk records them unit after unit).
	units []entrySpan
}

// entrySpan is a run of entries, [lo, hi).
type entrySpan struct{ lo, hi int32 }

// indexEntries returns an index of the builder's entries, valid until
// they change.
func (bl *builder) indexEntries() *entryIndex {
	ix := &entryIndex{offs: make([]uint64, len(bl.entries)), units: make([]entrySpan, len(bl.units))}
	seen := make([]bool, len(bl.units))
	for i := range bl.entries {
		ix.offs[i] = bl.entries[i].off
		u := bl.entries[i].unit
		switch sp := &ix.units[u]; {
		case !seen[u]:
			seen[u] = true
			*sp = entrySpan{int32(i), int32(i + 1)}
		case sp.hi == int32(i):
			sp.hi++
		default:
			// Apart from its others: searched with the whole source.
			*sp = entrySpan{}
		}
	}
	return ix
}

// lookupFrom finds the entry at offset off of the source of unit u,
// through bl.eix when set.
func (bl *builder) lookupFrom(u int32, off uint64) int32 {
	src := bl.units[u].src
	ix := bl.eix
	if ix == nil {
		return bl.lookup(src, off)
	}
	if sp := ix.units[u]; sp.lo < sp.hi && ix.offs[sp.lo] <= off && off <= ix.offs[sp.hi-1] {
		if k, ok := slices.BinarySearch(ix.offs[sp.lo:sp.hi], off); ok {
			return sp.lo + int32(k)
		}
		return -1
	}
	s := bl.sources[src]
	if k, ok := slices.BinarySearch(ix.offs[s.ent0:s.ent1], off); ok {
		return s.ent0 + int32(k)
	}
	return -1
}

// lookup finds the entry at offset off of source src.
func (bl *builder) lookup(src int32, off uint64) int32 {
	s := bl.sources[src]
	es := bl.entries[s.ent0:s.ent1]
	// sort.Search written out: there is a lookup per inlined call, and
	// its closure call per step showed in profiles.
	lo, hi := 0, len(es)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if es[m].off < off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(es) && es[lo].off == off {
		return s.ent0 + int32(lo)
	}
	return -1
}

// str resolves a string reference of unit u.
func (bl *builder) str(u *unitInfo, r strRef) string {
	var s []byte
	switch r.kind {
	case strNone:
		return ""
	case strTable:
		if r.v < uint64(len(bl.strs)) {
			return bl.strs[r.v]
		}
		return ""
	}
	sec := bl.sources[u.src].sec
	switch r.kind {
	case strInline:
		s, _ = cstrAt(sec.Info, r.v)
	case strStrp:
		s, _ = cstrAt(sec.Str, r.v)
	case strLineStrp:
		s, _ = cstrAt(sec.LineStr, r.v)
	case strStrx:
		size := uint64(4)
		if u.is64 {
			size = 8
		}
		if r.v > uint64(len(sec.StrOffsets))/size {
			return ""
		}
		b := at(".debug_str_offsets", sec.StrOffsets, u.strOffBase+r.v*size, u.be)
		off := b.offset(u.is64)
		if b.err != nil {
			return ""
		}
		s, _ = cstrAt(sec.Str, off)
	}
	// Names are copied out of the sections; their bytes count against
	// the budget so that many references to one huge string stay bounded.
	if bl.bud.spend(len(s)) != nil {
		return ""
	}
	return string(s)
}

// name resolves the name of the function entry ei: the linkage name found
// anywhere along its DW_AT_specification / DW_AT_abstract_origin chain,
// else the plain name qualified with its enclosing namespaces and classes.
func (bl *builder) name(ei int32) string {
	if ei < 0 {
		return ""
	}
	if bl.named[ei] {
		return bl.names[ei]
	}
	// Walk the chain the way llvm's DWARFDie::findRecursively does, with
	// a bound instead of a visited set: chains are short, loops are
	// corrupt input.
	var stack [8]int32
	n := 0
	stack[n] = ei
	n++
	short := int32(-1)
	link := ""
	for steps := 0; n > 0 && steps < 32; steps++ {
		n--
		e := &bl.entries[stack[n]]
		u := bl.units[e.unit]
		if e.link.kind != strNone {
			if link = bl.str(u, e.link); link != "" {
				break
			}
		}
		if short < 0 && e.name.kind != strNone {
			short = stack[n]
		}
		if e.flags&entHasOrigin != 0 && n < len(stack) {
			if j := bl.lookupFrom(e.unit, e.origin); j >= 0 {
				stack[n] = j
				n++
			}
		}
		if e.flags&entHasSpec != 0 && n < len(stack) {
			if j := bl.lookupFrom(e.unit, e.spec); j >= 0 {
				stack[n] = j
				n++
			}
		}
	}
	name := link
	if name == "" && short >= 0 {
		e := &bl.entries[short]
		name = bl.str(bl.units[e.unit], e.name)
		if name != "" {
			name = bl.scopePrefix(e.parent) + name
		}
	}
	bl.names[ei] = name
	bl.named[ei] = true
	return name
}

// scopePrefix is "ns::Class::" for a function declared in scope entry si.
// Qualification stops at anything that is not a namespace or a type (a
// function, the unit), as demanglers print local entities relative to
// their function anyway.
func (bl *builder) scopePrefix(si int32) string {
	if si < 0 {
		return ""
	}
	if p, ok := bl.scopes[si]; ok {
		return p
	}
	e := &bl.entries[si]
	var part string
	switch e.tag {
	case tagNamespace:
		part = bl.str(bl.units[e.unit], e.name)
		if part == "" {
			part = "(anonymous namespace)"
		}
	case tagClassType, tagStructType, tagUnionType, tagInterfaceType:
		part = bl.str(bl.units[e.unit], e.name)
		if part == "" {
			part = "(anonymous " + map[uint16]string{tagClassType: "class", tagStructType: "struct", tagUnionType: "union", tagInterfaceType: "interface"}[e.tag] + ")"
		}
	default:
		bl.scopes[si] = ""
		return ""
	}
	p := bl.scopePrefix(e.parent)
	// Real scopes nest a few levels; a chain of thousands (corrupt input)
	// would make every prefix a copy of all the others.
	if len(p)+len(part) <= maxPrefix {
		p += part + "::"
	}
	bl.scopes[si] = p
	return p
}

// maxPrefix bounds the length of a qualification prefix.
const maxPrefix = 4096

// loadLines reads the line table of u on first use. Units emitted in
// parallel (u.once set) share no line table, so they skip the cache, and
// the first of the workers emitting u reads it.
func (bl *builder) loadLines(u *unitInfo, bud *budget) (*lineTable, error) {
	if u.once != nil {
		u.readLinesOnce(bud, bl.freeRows)
		return u.lines, u.linesErr
	}
	if u.lines != nil || u.linesErr != nil || !u.hasStmt {
		return u.lines, u.linesErr
	}
	t, ok := bl.lineCache[u.stmtList]
	if !ok {
		var err error
		t, err = parseLineTable(u.lineSec, u.stmtList, u.addrSize, bud)
		if err != nil {
			u.linesErr = err
			return nil, err
		}
		bl.lineCache[u.stmtList] = t
		u.lineSec.release(t)
	}
	u.setLines(t)
	return t, nil
}

// readLinesOnce reads the line table of u, which workers emit in parallel
// (u.once set), unless it has been read already. It does not look at the
// result: a unit's table is released once its last chunk is built, which
// may come before a worker reading ahead gets here (see jobFeed).
//
// The rows are built in the storage of a table released before, taken
// from free when it holds one.
func (u *unitInfo) readLinesOnce(bud *budget, free chan []lineRow) {
	u.once.Do(func() {
		if !u.hasStmt {
			return
		}
		var buf []lineRow
		select {
		case buf = <-free:
		default:
		}
		t, err := parseLineTableInto(u.lineSec, u.stmtList, u.addrSize, bud, buf)
		if err != nil {
			u.linesErr = err
			return
		}
		u.lineSec.release(t)
		u.setLines(t)
	})
}

// setLines makes t the line table of u, with its files as FileInfos.
func (u *unitInfo) setLines(t *lineTable) {
	u.lines = t
	u.files = make([]debugfiles.FileInfo, len(t.files))
	for i, f := range t.files {
		fi := debugfiles.FileInfo{Name: f.name, Dir: f.dir, CompDir: u.compDir}
		if f.dirIsCompDir && !isAbsPath(f.dir) && f.dir != "" {
			fi.CompDir = ""
		}
		if f.name == "" {
			fi = debugfiles.FileInfo{}
		}
		u.files[i] = fi
	}
}

func isAbsPath(p string) bool {
	return strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || (len(p) > 2 && p[1] == ':' && (p[2] == '\\' || p[2] == '/'))
}

func (u *unitInfo) file(i uint32) debugfiles.FileInfo {
	if int(i) < len(u.files) {
		return u.files[i]
	}
	return debugfiles.FileInfo{}
}

// chunked hands out line slices (LineInfo or LineRow) from large chunks:
// alloc reserves room for at most n lines, commit gives back what the
// caller did not use. minChunk sizes the chunks: large when a whole
// program is built at once, small when one function is, lest every
// function cost a chunk.
type chunked[T any] struct {
	chunk    []T
	minChunk int
}

type lineSlab = chunked[debugfiles.LineInfo]

func (s *chunked[T]) alloc(n int) []T {
	if cap(s.chunk)-len(s.chunk) < n {
		s.chunk = make([]T, 0, max(n, s.minChunk))
	}
	start := len(s.chunk)
	return s.chunk[start : start : start+n]
}

func (s *chunked[T]) commit(used []T) []T {
	s.chunk = s.chunk[:len(s.chunk)+len(used)]
	return slices.Clip(used)
}

// lines returns the line rows of u within [lo, hi) as LineInfos (see
// unitRows).
func (bl *builder) lines(u *unitInfo, lo, hi uint64, cuts []uint64, slab *lineSlab, bud *budget) ([]debugfiles.LineInfo, error) {
	mk := func(addr, size uint64, file, line uint32) debugfiles.LineInfo {
		return debugfiles.LineInfo{Address: addr, Size: size, File: u.file(file), Line: line}
	}
	out, err := unitRows(bl, u, lo, hi, cuts, slab.alloc, mk, bud)
	if err != nil || out == nil {
		return nil, err
	}
	return slab.commit(out), nil
}

// rows returns the line rows of u within [lo, hi) as LineRows (see
// unitRows).
func (bl *builder) rows(u *unitInfo, lo, hi uint64, cuts []uint64, slab *chunked[LineRow], bud *budget) ([]LineRow, error) {
	out, err := unitLineRows(bl, u, lo, hi, cuts, slab, bud)
	if err != nil || out == nil {
		return nil, err
	}
	return slab.commit(out), nil
}

// rowsFor returns the rows of u's line table and the part of them,
// rows[i:j], that answers for [lo, hi): from the last row at or before
// lo to the last before hi. i == j when there is none. near, unless
// negative, is a guess of i: the i of a function next to this one.
func rowsFor(u *unitInfo, lo, hi uint64, near int) (rows []lineRow, i, j int) {
	t := u.lines
	if t == nil || len(t.rows) == 0 {
		return nil, 0, 0
	}
	rows = t.rows
	if near < 0 {
		i = max(searchRows(rows, lo)-1, 0)
		j = i + searchRows(rows[i:], hi-1) // the first row at or after hi
		return rows, i, j
	}
	i = max(searchRowsNear(rows, lo, near)-1, 0)
	j = max(searchRowsNear(rows, hi-1, i), i)
	return rows, i, j
}

// tableView returns the rows of u's line table that answer for [lo, hi)
// (see CompactFunction.Table): from the last at or before lo to the last
// before hi. They are spent from the budget as copies of them would be,
// which bounds the work of a consumer that reads them for every function
// of a program whose functions overlap.
//
// near is a guess of where they start, as rowsFor takes it, and at is
// where they start, the guess for the function after this one. Searched
// for from scratch, two binary searches over the unit's table per
// function, they missed the caches: 1.2% of the bench fixture's symcache
// build's CPU, 0.5% from the guess.
func (bl *builder) tableView(u *unitInfo, lo, hi uint64, near int, bud *budget) (table []TableRow, at int, err error) {
	rows, i, j := rowsFor(u, lo, hi, near)
	if j <= i {
		return nil, i, nil
	}
	if err := bud.spend(j - i); err != nil {
		return nil, i, err
	}
	return rows[i:j:j], i, nil
}

// unitLineRows is unitRows for LineRows, written out: the rows of a
// program are most of the work of emitting it, and a call through mk for
// each showed in profiles.
func unitLineRows(bl *builder, u *unitInfo, lo, hi uint64, cuts []uint64, slab *chunked[LineRow], bud *budget) ([]LineRow, error) {
	rows, i, j := rowsFor(u, lo, hi, -1)
	if j <= i {
		return nil, nil
	}
	n := j - i + len(cuts)
	if err := bud.spend(n); err != nil {
		return nil, err
	}
	// Written by index, not appended: n is the most there can be, and
	// append's path to grow the slice, never taken, kept the loop's
	// values on the stack.
	out := slab.alloc(n)[:n]
	w := 0
	load := bl.opts.LoadAddress
	c := 0
	for k := i; k < j; k++ {
		r := rows[k]
		start := max(r.Address, lo)
		end := hi
		if k+1 < len(rows) {
			end = min(end, rows[k+1].Address)
		}
		if r.File == noFile || start >= end {
			continue
		}
		for c < len(cuts) && cuts[c] <= start {
			c++
		}
		for ; c < len(cuts) && cuts[c] < end; c++ {
			out[w] = LineRow{Address: start - load, Size: cuts[c] - start, File: r.File, Line: r.Line}
			w++
			start = cuts[c]
		}
		out[w] = LineRow{Address: start - load, Size: end - start, File: r.File, Line: r.Line}
		w++
	}
	return out[:w], nil
}

// unitRows returns the line rows of u within [lo, hi), clipped to it and
// split at every address in cuts (sorted), so that the lines of each
// inlinee are a contiguous part of its top-level function's lines. alloc
// returns an empty slice with room for n lines, the most there can be; mk
// builds a line from an address relative to the load address, a size, a
// file index of u and a line number.
func unitRows[T any](bl *builder, u *unitInfo, lo, hi uint64, cuts []uint64, alloc func(n int) []T, mk func(addr, size uint64, file, line uint32) T, bud *budget) ([]T, error) {
	rows, i, j := rowsFor(u, lo, hi, -1)
	if j <= i {
		return nil, nil
	}
	n := j - i + len(cuts)
	if err := bud.spend(n); err != nil {
		return nil, err
	}
	out := alloc(n)[:n] // written by index, as in unitLineRows
	w := 0
	load := bl.opts.LoadAddress
	c := 0
	for k := i; k < j; k++ {
		r := rows[k]
		start := max(r.Address, lo)
		end := hi
		if k+1 < len(rows) {
			end = min(end, rows[k+1].Address)
		}
		if r.File == noFile || start >= end {
			continue
		}
		for c < len(cuts) && cuts[c] <= start {
			c++
		}
		for ; c < len(cuts) && cuts[c] < end; c++ {
			out[w] = mk(start-load, cuts[c]-start, r.File, r.Line)
			w++
			start = cuts[c]
		}
		out[w] = mk(start-load, end-start, r.File, r.Line)
		w++
	}
	return out[:w], nil
}

// gap is code of a unit that no function covers.
type gap struct {
	unit int32
	r    addrRange
}

// gaps finds the code of each unit that no function covers: assembler
// units, skeleton units whose .dwo is missing, padding inside a unit's
// range, code whose DIE the compiler left out. Emission turns them into
// nameless functions: llvm-symbolizer still reports the line row there, and
// a file and line are worth more than nothing.
func (bl *builder) gaps() []gap { return bl.gapsOf(nil) }

// gapsOf is gaps for the units pick accepts (every unit when pick is
// nil), against the functions the builder holds.
func (bl *builder) gapsOf(pick func(ui int, u *unitInfo) bool) []gap {
	covered := bl.gapRanges[:0]
	defer func() { bl.gapRanges = covered[:0] }()
	for i := range bl.nodes {
		if n := &bl.nodes[i]; n.parent < 0 {
			covered = append(covered, bl.ranges[n.rng0:n.rng1]...)
		}
	}
	sortRanges(covered)
	merged := mergeSorted(covered)
	var out []gap
	for ui, u := range bl.units {
		if u.replaced || u.cu1 <= u.cu0 || !u.hasStmt || (pick != nil && !pick(ui, u)) {
			continue
		}
		for _, cu := range bl.ranges[u.cu0:u.cu1] {
			for _, r := range uncovered(merged, cu.lo, cu.hi) {
				out = append(out, gap{int32(ui), r})
			}
		}
	}
	return out
}

// sortRanges sorts rs by their starts. The walk records a unit's
// functions mostly in descending address order, and the units in
// ascending order: each descending run is reversed first, which leaves
// such ranges sorted in linear time (the bench fixture's 4,045 had 4,004
// descents, and the sort took 0.12-0.29 ms of the serial step between the
// walk and the emission). The union gaps takes of them does not depend on
// the order of ranges with the same start.
func sortRanges(rs []addrRange) {
	for i := 0; i < len(rs); {
		j := i + 1
		for j < len(rs) && rs[j].lo < rs[j-1].lo {
			j++
		}
		slices.Reverse(rs[i:j])
		i = j
	}
	if !slices.IsSortedFunc(rs, cmpRange) {
		slices.SortFunc(rs, cmpRange)
	}
}

// emit builds every function tree from the recorded nodes at once.
func (bl *builder) emit() ([]*debugfiles.Function, error) {
	bl.initNames()
	cfs, err := bl.emitNodes(0, len(bl.nodes), bl.gaps(), bl.bud, false, nil)
	return functionsOf(cfs), err
}

// functionsOf returns the trees of cfs.
func functionsOf(cfs []CompactFunction) []*debugfiles.Function {
	if len(cfs) == 0 {
		return nil
	}
	fns := make([]*debugfiles.Function, len(cfs))
	for i := range cfs {
		fns[i] = cfs[i].Function
	}
	return fns
}

func (bl *builder) initNames() {
	bl.names = make([]string, len(bl.entries))
	bl.named = make([]bool, len(bl.entries))
	bl.scopes = map[int32]string{}
}

// emitEach builds the function trees one top-level function at a time and
// hands each to yield before building the next, so that a consumer that
// converts and drops them holds one tree, not the whole program. A unit's
// line table is released after its last function. It relies on the walk
// recording each subprogram's inlinees right after it; where a node's
// parent lies outside its group (which the walk never produces) it falls
// back to building everything at once.
//
// With compact set, top-level functions come with their lines as LineRows
// instead of Lines, and inlinees without lines.
func (bl *builder) emitEach(compact bool, yield func(*CompactFunction) bool) error {
	bl.initNames()
	if emitWorkers() < 2 || len(bl.units) < 2 || len(bl.nodes) < nameParallelMin {
		return bl.emitRuns(bl.gaps(), compact, yield)
	}
	// The emission will most likely be parallel (emitRuns), and its
	// naming starts with lookups that need no gaps: they run beside
	// gaps, which took 0.7-1.2 ms of the bench fixture's symcache build
	// with the other core idle (x0.996, BENCHMARKS.md). Should the
	// emission be serial after all, the lookups are dropped.
	found := make(chan []gap, 1)
	go func() { found <- bl.gaps() }()
	bl.findNodeEntries()
	return bl.emitRuns(<-found, compact, yield)
}

// emitRuns is emitEach once the names are set up and the gaps found.
func (bl *builder) emitRuns(gaps []gap, compact bool, yield func(*CompactFunction) bool) error {
	if !bl.grouped() {
		bl.dropNodeEntries()
		fns, err := bl.emitNodes(0, len(bl.nodes), gaps, bl.bud, compact, nil)
		if err != nil {
			return err
		}
		for i := range fns {
			if !yield(&fns[i]) {
				return nil
			}
		}
		return nil
	}
	gapsOf := make([][]gap, len(bl.units))
	for _, g := range gaps {
		gapsOf[g.unit] = append(gapsOf[g.unit], g)
	}
	lastNode := make([]int, len(bl.units))
	for i := range lastNode {
		lastNode[i] = -1
	}
	for i := range bl.nodes {
		lastNode[bl.nodes[i].unit] = i
	}
	// users counts the units still to emit per shared line table.
	users := map[uint64]int{}
	for ui, u := range bl.units {
		if u.hasStmt && (lastNode[ui] >= 0 || len(gapsOf[ui]) > 0) {
			users[u.stmtList]++
		}
	}
	if bl.canEmitParallel(users) {
		return bl.emitParallel(gapsOf, lastNode, compact, yield)
	}
	bl.dropNodeEntries()
	release := func(ui int32) {
		u := bl.units[ui]
		if !u.hasStmt {
			return
		}
		if users[u.stmtList]--; users[u.stmtList] == 0 {
			delete(bl.lineCache, u.stmtList)
		}
		u.lines, u.files = nil, nil
	}
	var sc emitScratch
	send := func(fns []CompactFunction) bool {
		for i := range fns {
			if !yield(&fns[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(bl.nodes); {
		j := i + 1
		for j < len(bl.nodes) && bl.nodes[j].parent >= 0 {
			j++
		}
		fns, err := bl.emitNodes(i, j, nil, bl.bud, compact, &sc)
		if err != nil {
			return err
		}
		if !send(fns) {
			return nil
		}
		if ui := bl.nodes[i].unit; lastNode[ui] < j {
			if fns, err = bl.emitNodes(j, j, gapsOf[ui], bl.bud, compact, &sc); err != nil {
				return err
			}
			gapsOf[ui] = nil
			release(ui)
			if !send(fns) {
				return nil
			}
		}
		i = j
	}
	for ui, gs := range gapsOf {
		if len(gs) == 0 {
			continue
		}
		fns, err := bl.emitNodes(len(bl.nodes), len(bl.nodes), gs, bl.bud, compact, &sc)
		if err != nil {
			return err
		}
		release(int32(ui))
		if !send(fns) {
			return nil
		}
	}
	return nil
}

// grouped reports whether every node's parent lies in the run of nodes
// that starts at its top-level function, and all of a run is one unit.
func (bl *builder) grouped() bool {
	start := -1
	for k := range bl.nodes {
		n := &bl.nodes[k]
		if n.parent < 0 {
			start = k
			continue
		}
		if start < 0 || int(n.parent) < start || int(n.parent) >= k || n.unit != bl.nodes[start].unit {
			return false
		}
	}
	return true
}

// emitScratch is the working storage of emitNodes that does not outlive
// a call: a worker (or the serial emitter) reuses it from one run of
// functions to the next instead of allocating it each time.
type emitScratch struct {
	parentOf, unitOf         []int32
	counts, fill             []int32
	topOf, start, next, desc []int32
	cuts                     []uint64
	// fns[2(i-lo)] and fns[2(i-lo)+1] delimit the functions emitted
	// for node i.
	fns []int32
	// store, when set, is the storage the trees are built in, reused
	// from a chunk already consumed; emitNodes grows it as needed.
	store *chunkStore
}

// chunkStore is the storage of a run of function trees in compact form:
// the functions, their inlinee lists, the top-level CompactFunctions and
// their rows.
type chunkStore struct {
	slab     []debugfiles.Function
	children []*debugfiles.Function
	tops     []CompactFunction
	rows     []LineRow
}

// reuse returns s[:0] when it has room for n elements, else a new slice.
func reuse[T any](s []T, n int) []T {
	if cap(s) < n {
		s = make([]T, 0, n)
		prefault.Slice(s)
	}
	return s[:0]
}

// int32s returns s resized to n zeroed elements, reusing its storage.
func int32s(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// emitNodes builds the function trees of nodes[lo:hi], which must hold
// each inlinee's parent, and of the given gaps, spending from bud. With
// compact set, the lines of top-level functions are LineRows and inlinees
// have none. sc is working storage to reuse; nil means fresh.
func (bl *builder) emitNodes(lo, hi int, gaps []gap, bud *budget, compact bool, sc *emitScratch) ([]CompactFunction, error) {
	if sc == nil {
		sc = &emitScratch{}
	}
	total := len(gaps)
	for i := lo; i < hi; i++ {
		total += int(bl.nodes[i].rng1 - bl.nodes[i].rng0)
	}
	st := sc.store
	var slab []debugfiles.Function
	if st != nil {
		slab = reuse(st.slab, total)
		st.slab = slab
	} else {
		slab = make([]debugfiles.Function, 0, total)
	}
	parentOf := sc.parentOf[:0]
	unitOf := sc.unitOf[:0]
	defer func() { sc.parentOf, sc.unitOf = parentOf, unitOf }()
	load := bl.opts.LoadAddress
	fns := int32s(sc.fns, 2*(hi-lo))
	sc.fns = fns
	for i := lo; i < hi; i++ {
		n := &bl.nodes[i]
		u := bl.units[n.unit]
		if _, err := bl.loadLines(u, bud); err != nil {
			return nil, fmt.Errorf("unit at %#x: line table: %w", u.off, err)
		}
		var name string
		if len(bl.nodeNames) > 0 {
			name = bl.nodeNames[i]
		} else {
			name = bl.name(bl.nodeEntry(n))
		}
		fn0 := int32(len(slab))
		// The caller's functions; it comes before its inlinees in the
		// run (see grouped).
		var p0, p1 int32
		if pi := int(n.parent) - lo; n.parent >= 0 && pi >= 0 && pi < i-lo {
			p0, p1 = fns[2*pi], fns[2*pi+1]
		}
		for _, r := range bl.ranges[n.rng0:n.rng1] {
			lo, hi := r.lo, r.hi
			parent := int32(-1)
			if n.parent >= 0 {
				// An inlinee belongs to the part of its caller that
				// contains its start, clipped to it; a range outside its
				// caller (corrupt or overlapping DIEs) is dropped.
				for k := p0; k < p1; k++ {
					pf := &slab[k]
					plo := pf.Address + load
					if lo >= plo && lo < plo+pf.Size {
						parent = k
						hi = min(hi, plo+pf.Size)
						break
					}
				}
				if parent < 0 {
					continue
				}
			}
			// Filled in place: a Function literal appended while the
			// collector runs is copied with a write barrier over all of
			// it.
			slab = slab[:len(slab)+1]
			f := &slab[len(slab)-1]
			f.Address, f.Size = lo-load, hi-lo
			f.Name, f.CompDir = name, u.compDir
			f.Lines, f.Inlinees = nil, nil
			if n.parent >= 0 {
				f.CallFile = u.file(n.callFile)
				f.CallLine = n.callLine
			} else {
				f.CallFile, f.CallLine = debugfiles.FileInfo{}, 0
			}
			parentOf = append(parentOf, parent)
			unitOf = append(unitOf, n.unit)
		}
		fns[2*(i-lo)], fns[2*(i-lo)+1] = fn0, int32(len(slab))
	}
	if bud.left < 0 {
		// Names ran out of budget (workers emitting in parallel find
		// names resolved already, see emitParallel).
		return nil, errBudget
	}
	gap0 := len(slab) // the gaps' functions are slab[gap0:]
	for _, g := range gaps {
		u := bl.units[g.unit]
		if _, err := bl.loadLines(u, bud); err != nil {
			return nil, fmt.Errorf("unit at %#x: line table: %w", u.off, err)
		}
		slab = append(slab, debugfiles.Function{Address: g.r.lo - load, Size: g.r.hi - g.r.lo, CompDir: u.compDir})
		parentOf = append(parentOf, -1)
		unitOf = append(unitOf, g.unit)
	}

	// Attach inlinees with one shared backing array.
	counts := int32s(sc.counts, len(slab)+1)
	sc.counts = counts
	for _, p := range parentOf {
		if p >= 0 {
			counts[p+1]++
		}
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	var children []*debugfiles.Function
	if st != nil {
		children = reuse(st.children, int(counts[len(slab)]))[:counts[len(slab)]]
		st.children = children
	} else {
		children = make([]*debugfiles.Function, counts[len(slab)])
	}
	fill := append(sc.fill[:0], counts[:len(slab)]...)
	sc.fill = fill
	ntops := 0
	for i, p := range parentOf {
		if p < 0 {
			ntops++
			continue
		}
		children[fill[p]] = &slab[i]
		fill[p]++
	}
	for i := range slab {
		if c := children[counts[i]:counts[i+1]:counts[i+1]]; len(c) > 0 {
			if !slices.IsSortedFunc(c, cmpFunc) {
				slices.SortStableFunc(c, cmpFunc)
			}
			slab[i].Inlinees = c
		}
	}

	// Lines: each top-level function gets its rows, cut at the bounds of
	// everything inlined into it; inlinees share parts of that array.
	// Descendants are grouped by their top-level function with a counting
	// sort over slab indexes; the compact form, whose inlinees get no
	// lines, needs only the cuts.
	var start, desc []int32
	if !compact {
		topOf := int32s(sc.topOf, len(slab))
		start = int32s(sc.start, len(slab)+1)
		sc.topOf, sc.start = topOf, start
		for k, p := range parentOf {
			if p < 0 {
				topOf[k] = int32(k)
				continue
			}
			topOf[k] = topOf[p]
			start[topOf[k]+1]++
		}
		for k := 1; k < len(start); k++ {
			start[k] += start[k-1]
		}
		desc = int32s(sc.desc, int(start[len(slab)]))
		next := append(sc.next[:0], start[:len(slab)]...)
		sc.desc, sc.next = desc, next
		for k, p := range parentOf {
			if p >= 0 {
				desc[next[topOf[k]]] = int32(k)
				next[topOf[k]]++
			}
		}
	}
	var (
		ls lineSlab
		rs chunked[LineRow]
	)
	cuts := sc.cuts[:0]
	// near guesses where the table rows of the next function of unit
	// nearUnit start (tableView).
	near, nearUnit := -1, int32(-1)
	defer func() { sc.cuts = cuts }()
	var tops []CompactFunction
	if st != nil {
		tops = reuse(st.tops, ntops)
		st.tops = tops
		// Rows come from the chunk's row buffer, grown to what the
		// largest run so far needed.
		rs.chunk, rs.minChunk = st.rows[:0], max(2*cap(st.rows), 1<<12)
		defer func() { st.rows = rs.chunk }()
	} else {
		tops = make([]CompactFunction, 0, ntops)
	}
	if lo == 0 && hi == len(bl.nodes) && hi > 1000 {
		// The whole program at once: large chunks. A run of functions
		// (emitEach, emitParallel) takes what each function needs, as
		// a large chunk would mostly go to waste at its end.
		ls.minChunk, rs.minChunk = 1<<15, 1<<15
	}
	for k, p := range parentOf {
		if p >= 0 {
			continue
		}
		f := &slab[k]
		u := bl.units[unitOf[k]]
		if compact && bl.tableRows {
			if unitOf[k] != nearUnit {
				near, nearUnit = -1, unitOf[k]
			}
			table, at, err := bl.tableView(u, f.Address+load, f.Address+f.Size+load, near, bud)
			if err != nil {
				return nil, err
			}
			near = at
			tops = append(tops, CompactFunction{Function: f, Table: table, Load: load, Files: u.files, Gap: k >= gap0})
			continue
		}
		cuts = appendCuts(cuts[:0], f.Inlinees, load)
		if !slices.IsSorted(cuts) {
			slices.Sort(cuts)
		}
		cuts = slices.Compact(cuts)
		if compact {
			rows, err := bl.rows(u, f.Address+load, f.Address+f.Size+load, cuts, &rs, bud)
			if err != nil {
				return nil, err
			}
			tops = append(tops, CompactFunction{Function: f, Rows: rows, Files: u.files, Gap: k >= gap0})
			continue
		}
		lines, err := bl.lines(u, f.Address+load, f.Address+f.Size+load, cuts, &ls, bud)
		if err != nil {
			return nil, err
		}
		tops = append(tops, CompactFunction{Function: f, Gap: k >= gap0})
		f.Lines = lines
		for _, d := range desc[start[k]:start[k+1]] {
			c := &slab[d]
			a := searchLines(lines, c.Address)
			b := a + searchLines(lines[a:], c.Address+c.Size)
			c.Lines = lines[a:b:b]
		}
	}
	return tops, nil
}

// appendCuts appends the start and end (plus load) of every function
// of the trees fs, depth first. Where inlinees lie within their callers
// and siblings, in address order, do not overlap, which is what
// compilers produce, the addresses come out sorted, and sorting them is
// only a check.
func appendCuts(cuts []uint64, fs []*debugfiles.Function, load uint64) []uint64 {
	for _, c := range fs {
		cuts = append(cuts, c.Address+load)
		cuts = appendCuts(cuts, c.Inlinees, load)
		cuts = append(cuts, c.Address+c.Size+load)
	}
	return cuts
}

func cmpFunc(a, b *debugfiles.Function) int { return cmpU64(a.Address, b.Address) }

// searchLines returns the index of the first line at or after addr. The
// search is written out: sort.Search's closure showed in profiles.
func searchLines(lines []debugfiles.LineInfo, addr uint64) int {
	lo, hi := 0, len(lines)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if lines[m].Address < addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// searchRowsNear is searchRows started from near, a guess of the answer:
// it gallops away from near, doubling its steps, to a span that holds
// the answer and searches that, so that a guess d rows off reads O(log d)
// rows close to it rather than O(log n) across the table.
func searchRowsNear(rows []lineRow, addr uint64, near int) int {
	n := len(rows)
	near = min(max(near, 0), n)
	var lo, hi int // rows[lo-1] <= addr (or lo == 0), rows[hi] > addr (or hi == n)
	if near < n && rows[near].Address <= addr {
		lo = near + 1
		for step := 1; ; step *= 2 {
			e := lo + step - 1
			if e >= n {
				hi = n
				break
			}
			if rows[e].Address > addr {
				hi = e
				break
			}
			lo = e + 1
		}
	} else {
		hi = near
		for step := 1; ; step *= 2 {
			b := hi - step
			if b < 0 {
				lo = 0
				break
			}
			if rows[b].Address <= addr {
				lo = b + 1
				break
			}
			hi = b
		}
	}
	return lo + searchRows(rows[lo:hi], addr)
}

// searchRows returns the index of the first row after addr.
func searchRows(rows []lineRow, addr uint64) int {
	lo, hi := 0, len(rows)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rows[m].Address <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
