package stackwalk

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"unsafe"

	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/cficache"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/internal/mmapfile"
	"github.com/cairn-dev/cairn/internal/radix"
)

// SymbolFileOptions select Breakpad behaviours a SymbolFile does not
// mirror by default.
type SymbolFileOptions struct {
	// BreakpadInlineOrder drops INLINE records whose depth is more than
	// one below the record before them, as Breakpad's resolver does (it
	// assumes depth-first order). Symbol files whose INLINE records are
	// sorted by address (Mozilla's dump_syms) then lose inlined frames;
	// rust-minidump keeps them, and so does Cairn by default.
	BreakpadInlineOrder bool
}

// SymbolFile is a Breakpad symbol file read for stack walking, answering
// both symbol and unwind lookups the way Breakpad's processor does.
//
// Opening indexes FUNC and PUBLIC records by address (a FUNC overlapping
// one before it is dropped, the first PUBLIC at an address wins, PUBLICs
// at address 0 are ignored), remembers where each FUNC's line and INLINE
// records are, and indexes STACK CFI and STACK WIN records with
// Breakpad's rules (cficache.SymbolStack). Only those records are parsed:
// a FUNC's lines and inlines are parsed the first time an address inside
// it is symbolized, so a crash touching a few functions never parses the
// rest. Malformed lines seen are counted (Corrupt); those inside functions
// no frame touches are never read, so they are not.
type SymbolFile struct {
	data   []byte
	closer io.Closer
	name   string
	opts   SymbolFileOptions

	arch    unwind.Arch
	id      debugid.ID
	os      string
	skipped int

	funcs   []symFunc
	publics []symPublic
	files   []nameRef // FILE records, sorted by index
	origins []nameRef // INLINE_ORIGIN records, sorted by index

	stack *cficache.SymbolStack

	mu     sync.Mutex
	bodies map[int]*funcBody
}

// symFunc is a FUNC record: its range, name, and the bytes of the file
// holding it and its line and INLINE records.
type symFunc struct {
	addr, end    uint64
	name         [2]uint32 // offset and length in data
	off, bodyEnd uint32    // where the FUNC line starts and its records end
	seq          uint32    // file order
}

// Range implements breakpad.Ranged.
func (f symFunc) Range() (start, end uint64) { return f.addr, f.end }

type symPublic struct {
	addr uint64
	name [2]uint32
}

// nameRef is a FILE or INLINE_ORIGIN record: index and name.
type nameRef struct {
	index int64
	name  [2]uint32
}

var _ Symbols = (*SymbolFile)(nil)
var _ Unwinder = (*SymbolFile)(nil)

// OpenSymbolFile maps and indexes a Breakpad symbol file.
func OpenSymbolFile(path string, opts SymbolFileOptions) (*SymbolFile, error) {
	m, err := mmapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("stackwalk: %w", err)
	}
	s, err := NewSymbolFile(m.Bytes(), path, opts)
	if err != nil {
		m.Close()
		return nil, err
	}
	s.closer = m
	return s, nil
}

// NewSymbolFile indexes a symbol file held in data, which must stay
// unchanged while the SymbolFile is used. name is used in errors.
func NewSymbolFile(data []byte, name string, opts SymbolFileOptions) (*SymbolFile, error) {
	if len(data) > 1<<32-1 {
		return nil, fmt.Errorf("stackwalk: %s: symbol file larger than 4 GiB", name)
	}
	s := &SymbolFile{data: data, name: name, opts: opts, bodies: map[int]*funcBody{}}
	// Line and INLINE records, most of a file, are only needed for the
	// functions a walk symbolizes: the index pass parses only the runs of
	// other records, where they lie. The same pass finds the STACK records
	// (and for x86 the FUNC records again) for package cficache; which
	// ones depends on the architecture the MODULE record names.
	stack := cficache.NewStackLines(moduleArch(data))
	// The index pass parses the FUNC records: it hands x86 parameter
	// sizes over rather than have them parsed again.
	stack.CallerParsesFuncs()
	runs, n := filterRecords(data, stack)
	// Sized from the counts, the tables are allocated once: growing them
	// by appends cost most of an index's allocation.
	s.files = make([]nameRef, 0, n.files)
	s.origins = make([]nameRef, 0, n.origins)
	s.publics = make([]symPublic, 0, n.publics)
	ix := symIndexer{s: s, stack: stack, cur: -1, funcs: make([]symFunc, 0, n.funcs)}
	for _, run := range runs {
		rd := breakpad.NewBytesReader(data[run[0]:run[1]])
		for rd.Next() {
			if !ix.add(rd.Record()) {
				return nil, fmt.Errorf("stackwalk: %s: %w", name, breakpad.ErrNoModule)
			}
		}
		if err := rd.Err(); err != nil {
			return nil, fmt.Errorf("stackwalk: %s: %w", name, err)
		}
		s.skipped += rd.Skipped()
	}
	if !ix.module {
		return nil, fmt.Errorf("stackwalk: %s: %w", name, breakpad.ErrNoModule)
	}
	// Breakpad keeps, of overlapping FUNCs, the first in the file.
	s.funcs = breakpad.FirstWins(ix.funcs)
	// Most writers sort PUBLIC records by address, which the sort finds
	// at once; Windows dump_syms writes them in its own order (1,576 in
	// kernel32.sym, a third out of place), which a stable radix sort
	// orders in a fifth of the time of the stable merge sort.
	radix.SortStable(s.publics, func(p *symPublic) uint64 { return p.addr })
	s.publics = slices.CompactFunc(s.publics, func(a, b symPublic) bool { return a.addr == b.addr })
	sortNames(s.files)
	sortNames(s.origins)
	s.stack = stack.Stack(data)
	s.skipped += s.stack.Skipped()
	return s, nil
}

// symIndexer fills a SymbolFile's tables from the records of the index
// pass, in file order.
type symIndexer struct {
	s      *SymbolFile
	stack  *cficache.StackLines
	module bool      // the MODULE record, which must come first, was seen
	cur    int       // index in funcs of the FUNC whose body follows, or -1
	funcs  []symFunc // in file order
}

// add adds one record; it reports false when the first record is not a
// MODULE record.
func (ix *symIndexer) add(rec *breakpad.Record) bool {
	s := ix.s
	// The record's text lies in data: its offset is where the two end.
	off := uint32(cap(s.data) - cap(rec.Text))
	if !ix.module {
		if rec.Kind != breakpad.KindModule {
			return false
		}
		ix.module = true
		s.os = string(rec.Module.OS)
		s.arch = unwind.ArchFromName(breakpad.SentryArch(string(rec.Module.Arch)))
		s.id, _ = debugid.Parse(string(rec.Module.ID))
		return true
	}
	switch rec.Kind {
	case breakpad.KindFile:
		s.files = append(s.files, nameRef{rec.File.Index, s.span(rec.File.Name)})
	case breakpad.KindInlineOrigin:
		s.origins = append(s.origins, nameRef{rec.InlineOrigin.Index, s.span(rec.InlineOrigin.Name)})
	case breakpad.KindFunc:
		ix.closeFunc(off)
		f := &rec.Func
		ix.stack.Func(f.Address, f.Size, f.ParamSize)
		if f.Size == 0 || f.Address+f.Size-1 < f.Address {
			return true
		}
		ix.cur = len(ix.funcs)
		ix.funcs = append(ix.funcs, symFunc{addr: f.Address, end: f.Address + f.Size, name: s.span(f.Name),
			off: off, bodyEnd: uint32(len(s.data)), seq: uint32(len(ix.funcs))})
	case breakpad.KindPublic:
		ix.closeFunc(off)
		if rec.Public.Address != 0 {
			s.publics = append(s.publics, symPublic{rec.Public.Address, s.span(rec.Public.Name)})
		}
	}
	return true
}

// closeFunc ends the body of the current FUNC at off.
func (ix *symIndexer) closeFunc(off uint32) {
	if ix.cur >= 0 {
		ix.funcs[ix.cur].bodyEnd = off
		ix.cur = -1
	}
}

// moduleArch is the architecture the MODULE record of a symbol file
// names (its first record, which the index pass requires), or the zero
// Arch. It reads the file a line at a time until a record parses: a reader
// over the whole file would first look for a '\r' through all of it.
func moduleArch(data []byte) unwind.Arch {
	for len(data) > 0 {
		line := data
		if n := bytes.IndexAny(data, "\r\n"); n >= 0 {
			line, data = data[:n], data[n+1:]
		} else {
			data = nil
		}
		if len(line) == 0 {
			continue
		}
		rd := breakpad.NewBytesReader(line)
		if !rd.Next() {
			continue // malformed: skipped, as the index pass skips it
		}
		if rd.Record().Kind != breakpad.KindModule {
			return 0
		}
		return unwind.ArchFromName(breakpad.SentryArch(string(rd.Record().Module.Arch)))
	}
	return 0
}

// recordCounts counts the records filterRecords keeps, by kind.
type recordCounts struct{ files, origins, funcs, publics int }

// filterRecords finds the records of a symbol file that name things (not
// line, INLINE or STACK records), and hands every line to stack: it
// returns the runs of adjacent such
// lines, as [start, end) offsets in data, and how many records of each
// kind they hold. Lines end at "\n", "\r\n" or a lone "\r", as Breakpad
// splits them; the empty lines a run may span are ones a reader skips.
func filterRecords(data []byte, stack *cficache.StackLines) (runs [][2]int, counts recordCounts) {
	cr := bytes.IndexByte(data, '\r') >= 0
	run := -1
	for off := 0; off < len(data); {
		n := bytes.IndexByte(data[off:], '\n')
		if n < 0 {
			n = len(data) - off
		}
		end, next := off+n, off+n+1
		if cr {
			// Breakpad ends a line at a '\r' too; what follows it is
			// another line.
			if r := bytes.IndexByte(data[off:end], '\r'); r >= 0 {
				end, next = off+r, off+r+1
			}
		}
		if end > off {
			stack.Line(data, off, end)
			if isSkippable(data[off:end]) {
				run = -1
			} else {
				counts.count(data[off:end])
				if run >= 0 {
					runs[run][1] = end
				} else {
					run = len(runs)
					runs = append(runs, [2]int{off, end})
				}
			}
		}
		off = next
	}
	return runs, counts
}

// count adds a kept record to the counts; what is not a FILE,
// INLINE_ORIGIN, FUNC or PUBLIC record counts for nothing.
func (n *recordCounts) count(line []byte) {
	switch {
	case bytes.HasPrefix(line, []byte("FILE ")):
		n.files++
	case bytes.HasPrefix(line, []byte("INLINE_ORIGIN ")):
		n.origins++
	case bytes.HasPrefix(line, []byte("FUNC ")):
		n.funcs++
	case bytes.HasPrefix(line, []byte("PUBLIC ")):
		n.publics++
	}
}

// isSkippable reports the records the index pass leaves to others: line
// records (which start with a hex digit) and INLINE records to the lazy
// per-function parse, STACK records to package cficache.
func isSkippable(line []byte) bool {
	c := line[0]
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' {
		return true
	}
	return c == 'I' && len(line) > 7 && string(line[:7]) == "INLINE " ||
		c == 'S' && len(line) > 6 && string(line[:6]) == "STACK "
}

// span locates a name inside data.
func (s *SymbolFile) span(b []byte) [2]uint32 {
	if len(b) == 0 {
		return [2]uint32{}
	}
	return [2]uint32{uint32(cap(s.data) - cap(b)), uint32(len(b))}
}

// str views a span of the file as a string; it is valid while the file is
// open.
func (s *SymbolFile) str(sp [2]uint32) string {
	if sp[1] == 0 {
		return ""
	}
	return unsafe.String(&s.data[sp[0]], int(sp[1]))
}

// sortNames orders FILE or INLINE_ORIGIN records by index, keeping the
// first of duplicate indexes as Breakpad's map insertion does.
func sortNames(n []nameRef) {
	byIndex := func(a, b nameRef) int { return cmp.Compare(a.index, b.index) }
	// Writers number FILE and INLINE_ORIGIN records in order; checking
	// costs a fraction of the stable sort's merging.
	if !slices.IsSortedFunc(n, byIndex) {
		slices.SortStableFunc(n, byIndex)
	}
}

func (s *SymbolFile) lookupName(n []nameRef, idx int64) (string, bool) {
	i := sort.Search(len(n), func(i int) bool { return n[i].index >= idx })
	if i < len(n) && n[i].index == idx {
		return s.str(n[i].name), true
	}
	return "", false
}

// Close releases the mapping made by OpenSymbolFile.
func (s *SymbolFile) Close() error {
	if s.closer == nil {
		return nil
	}
	c := s.closer
	s.closer = nil
	return c.Close()
}

// Arch is the architecture of the MODULE record.
func (s *SymbolFile) Arch() unwind.Arch { return s.arch }

// DebugID is the MODULE record's debug identifier.
func (s *SymbolFile) DebugID() debugid.ID { return s.id }

// Corrupt reports malformed lines, which were skipped; Breakpad then
// warns of corrupt symbols.
func (s *SymbolFile) Corrupt() bool { return s.skipped > 0 }

// HasUnwind reports whether the file had usable STACK records.
func (s *SymbolFile) HasUnwind() bool { return s.stack.HasUnwind() }

// CFI implements Unwinder.
func (s *SymbolFile) CFI(addr uint64, row *unwind.Row) bool { return s.stack.Lookup(addr, row) }

// Win implements Unwinder.
func (s *SymbolFile) Win(addr uint64) (unwind.WinFrame, bool) { return s.stack.LookupWin(addr) }

// ParamSize implements Unwinder.
func (s *SymbolFile) ParamSize(addr uint64) (uint32, bool) { return s.stack.ParamSize(addr) }

// Symbolize implements Symbols with Breakpad's lookup: the FUNC holding
// addr; else the PUBLIC at or below it, unless a FUNC lies between them.
// With inlines, the line record and inlined frames are filled in too.
func (s *SymbolFile) Symbolize(addr uint64, inlines bool, out *Symbolized) bool {
	out.Function, out.FunctionBase, out.File, out.Line, out.LineBase, out.HasLineBase = "", 0, "", 0, 0, false
	out.Inlines = out.Inlines[:0]
	i := sort.Search(len(s.funcs), func(i int) bool { return s.funcs[i].addr > addr }) - 1
	if i >= 0 && addr < s.funcs[i].end {
		f := &s.funcs[i]
		out.Function, out.FunctionBase = s.str(f.name), f.addr
		if inlines {
			s.body(i).describe(s, addr, out)
		}
		return true
	}
	p := sort.Search(len(s.publics), func(k int) bool { return s.publics[k].addr > addr }) - 1
	if p >= 0 && (i < 0 || s.publics[p].addr > s.funcs[i].addr) {
		out.Function, out.FunctionBase = s.str(s.publics[p].name), s.publics[p].addr
		return true
	}
	return false
}

// body returns the parsed lines and inlines of funcs[i].
func (s *SymbolFile) body(i int) *funcBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.bodies[i]; ok {
		return b
	}
	f := &s.funcs[i]
	b := parseBody(s.data[f.off:f.bodyEnd], s.opts)
	s.bodies[i] = b
	return b
}

// funcBody is a FUNC's line records (sorted, exclusive) and the tree of
// its INLINE ranges.
type funcBody struct {
	lines   []breakpad.LineRecord
	inlines inlineTree
}

// inlineRec is one INLINE record.
type inlineRec struct {
	depth       uint32
	callLine    uint32
	hasCallFile bool
	callFile    int64
	origin      int64
}

// parseBody reads the records following a FUNC line up to the next FUNC
// or PUBLIC.
func parseBody(data []byte, opts SymbolFileOptions) *funcBody {
	b := &funcBody{}
	rd := breakpad.NewBytesReader(data)
	var lines []breakpad.LineRecord
	lastDepth := uint32(0)
	for rd.Next() {
		rec := rd.Record()
		switch rec.Kind {
		case breakpad.KindLine:
			l := rec.Line
			if l.Size == 0 || l.Address+l.Size-1 < l.Address {
				continue
			}
			lines = append(lines, l)
		case breakpad.KindInline:
			r := &rec.Inline
			if opts.BreakpadInlineOrder {
				if r.Depth > lastDepth+1 {
					continue
				}
				lastDepth = r.Depth
			}
			in := b.inlines.add(inlineRec{depth: r.Depth, callLine: r.CallLine, hasCallFile: r.HasCallFile, callFile: r.CallFile, origin: r.Origin})
			for _, rg := range r.Ranges {
				if rg.Size == 0 || rg.Address+rg.Size-1 < rg.Address {
					continue
				}
				b.inlines.store(rg.Address, rg.Address+rg.Size, in)
			}
		}
	}
	// Breakpad's RangeMap keeps the first of overlapping line records.
	b.lines = lines[:0:0]
	for _, l := range lines {
		n := len(b.lines)
		if n == 0 || l.Address >= b.lines[n-1].Address+b.lines[n-1].Size {
			b.lines = append(b.lines, l)
			continue
		}
		i := sort.Search(n, func(i int) bool { return b.lines[i].Address+b.lines[i].Size > l.Address })
		if i < n && b.lines[i].Address < l.Address+l.Size {
			continue
		}
		b.lines = slices.Insert(b.lines, i, l)
	}
	return b
}

// describe fills out's line and inline information for addr, arranging
// frames as Breakpad's resolver does: the innermost inlined frame gets the
// line record's position, each outer one the call site of the frame inside
// it, and the physical frame the call site of the outermost.
func (b *funcBody) describe(s *SymbolFile, addr uint64, out *Symbolized) {
	i := sort.Search(len(b.lines), func(i int) bool { return b.lines[i].Address+b.lines[i].Size > addr })
	if i < len(b.lines) && b.lines[i].Address <= addr {
		l := b.lines[i]
		out.File, _ = s.lookupName(s.files, l.File)
		out.Line, out.LineBase, out.HasLineBase = l.Line, l.Address, true
	}
	chain := b.inlines.chain(addr)
	if len(chain) == 0 {
		return
	}
	for _, n := range chain {
		rec := b.inlines.recs[n.rec]
		f := InlineFrame{FunctionBase: n.start, File: out.File, Line: rec.callLine}
		var ok bool
		if f.Function, ok = s.lookupName(s.origins, rec.origin); !ok {
			f.Function = "<name omitted>"
		}
		if rec.hasCallFile {
			if name, ok := s.lookupName(s.files, rec.callFile); ok {
				f.File = name
			}
		}
		out.Inlines = append(out.Inlines, f)
	}
	// Shift positions outward: each frame takes the one of the frame
	// inside it.
	file, line := out.File, out.Line
	last := out.Inlines[len(out.Inlines)-1]
	out.File, out.Line = last.File, last.Line
	for k := range out.Inlines {
		out.Inlines[k].File, file = file, out.Inlines[k].File
		out.Inlines[k].Line, line = line, out.Inlines[k].Line
	}
}

// inlineTree holds INLINE ranges nested as Breakpad's ContainedRangeMap
// nests them (equal ranges allowed): a range goes inside the range that
// contains it, adopts the ranges it contains, and is dropped when it
// partly overlaps one. Of equal ranges the deeper record goes inside.
type inlineTree struct {
	recs  []inlineRec
	roots []*inlineNode
}

type inlineNode struct {
	start, end uint64
	rec        int
	kids       []*inlineNode // sorted, disjoint
}

// maxInlineDepth bounds how deep inlined ranges nest; real chains are a
// few dozen deep at most, and a hostile file must not make storing
// quadratic or a lookup unbounded.
const maxInlineDepth = 256

func (t *inlineTree) add(r inlineRec) int {
	t.recs = append(t.recs, r)
	return len(t.recs) - 1
}

func (t *inlineTree) store(start, end uint64, rec int) {
	list := &t.roots
	depth := t.recs[rec].depth
	for level := 0; level < maxInlineDepth; level++ {
		l := *list
		i := sort.Search(len(l), func(k int) bool { return l[k].start > start })
		if i > 0 {
			c := l[i-1]
			equal := c.start == start && c.end == end
			if c.end >= end && !(equal && depth < t.recs[c.rec].depth) {
				list = &c.kids
				continue
			}
			if c.end > start {
				if c.start < start {
					return
				}
				i--
			}
		}
		j := i
		for j < len(l) && l[j].start < end {
			if l[j].end > end {
				return
			}
			j++
		}
		n := &inlineNode{start: start, end: end, rec: rec}
		n.kids = append(n.kids, l[i:j]...)
		*list = slices.Replace(l, i, j, n)
		return
	}
}

// chainLink is one inlined range holding an address.
type chainLink struct {
	start uint64
	rec   int
}

// chain returns the ranges holding addr, innermost first.
func (t *inlineTree) chain(addr uint64) []chainLink {
	var out []chainLink
	list := t.roots
	for len(out) < maxInlineDepth {
		i := sort.Search(len(list), func(k int) bool { return list[k].start > addr }) - 1
		if i < 0 || addr >= list[i].end {
			break
		}
		n := list[i]
		out = append(out, chainLink{n.start, n.rec})
		list = n.kids
	}
	slices.Reverse(out)
	return out
}

// unsafeString views b as a string without copying; b must not change
// while the string is in use.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
