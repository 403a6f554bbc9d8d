package symcache

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
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

// Options tune the layout of a written symcache. The zero value is the
// default and what Write is normally given.
type Options struct {
	// PageEntries is the average number of range entries per page of the
	// address directory the writer aims at: fewer make lookups decode
	// less and the file larger. 0 means 16.
	PageEntries int
}

// Builder turns function trees into a symcache. Add consumes one
// top-level function at a time and keeps only its flattened ranges, so the
// caller can let each tree go as soon as Add returns; WriteTo resolves
// overlaps between functions and writes the file.
//
// The symcache answers every lookup exactly as debugfiles.NewIndex over the
// same functions answers it (AppendLookup), including its handling of
// overlapping functions, overlapping inlinees, lines of size 0 and inline
// chains deeper than 256.
type Builder struct {
	info Info
	opts Options

	funcIDs   map[string]uint32
	funcNames []string

	fileInfos map[debugfiles.FileInfo]uint32
	lastFile  debugfiles.FileInfo // the last fileID argument and answer:
	lastID    uint32              // neighbouring rows share files
	filePaths map[string]uint32
	paths     []string // file id i+1 is paths[i]; id 0 is the empty path

	nodes   []node
	spans   []span
	entries []entry
	order   int

	pieces  []piece
	scratch [maxChain + 1][]piece
}

// node is one frame level: a top-level function (part) or one inlined
// range. parent and callFile hold id+1, 0 meaning none.
type node struct {
	fn       uint32
	addr     uint64
	parent   uint32
	callFile uint32
	callLine uint32
}

// span is the address range of one top-level function and its flattened
// entries, entries[lo:hi].
type span struct {
	start, end uint64
	order      int
	lo, hi     int
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

// piece is an entry under construction: line nil means no line row of the
// chain below covers the piece yet.
type piece struct {
	start uint64
	node  uint32
	line  *debugfiles.LineInfo
}

// NewBuilder starts a symcache for an object.
func NewBuilder(info Info, opts Options) *Builder {
	return &Builder{
		info:      info,
		opts:      opts,
		funcIDs:   map[string]uint32{},
		fileInfos: map[debugfiles.FileInfo]uint32{},
		filePaths: map[string]uint32{"": 0},
	}
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
	prepare(f)
	if f.Size == 0 || f.Address+f.Size <= f.Address {
		return
	}
	b.pieces = b.flatten(f, 0, f.Address, f.End(), 1, b.pieces[:0])
	lo := len(b.entries)
	for _, p := range b.pieces {
		e := entry{start: p.start, node: p.node}
		if p.line != nil {
			e.file, e.line = b.fileID(p.line.File), p.line.Line
		}
		if n := len(b.entries); n > lo {
			if last := b.entries[n-1]; last.node == e.node && last.file == e.file && last.line == e.line {
				continue
			}
		}
		b.entries = append(b.entries, e)
	}
	b.spans = append(b.spans, span{start: f.Address, end: f.End(), order: order, lo: lo, hi: len(b.entries)})
	// Drop references into the tree (line pointers) so it can be freed.
	clear(b.pieces)
}

// prepare sorts the inlinees and lines of a tree by address, stably and
// with nil inlinees last, exactly as debugfiles.NewIndex does, so that ties
// resolve the same way.
func prepare(root *debugfiles.Function) {
	stack := []*debugfiles.Function{root}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !slices.IsSortedFunc(f.Inlinees, byAddress) {
			slices.SortStableFunc(f.Inlinees, byAddress)
		}
		if !linesSorted(f.Lines) {
			slices.SortStableFunc(f.Lines, func(a, b debugfiles.LineInfo) int { return cmp.Compare(a.Address, b.Address) })
		}
		for _, c := range f.Inlinees {
			if c != nil {
				stack = append(stack, c)
			}
		}
	}
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
	if len(n.Lines) == 0 {
		return out
	}
	open := false
	for _, p := range out[mark:] {
		if p.line == nil {
			open = true
			break
		}
	}
	if !open {
		return out
	}
	sc := append(b.scratch[depth][:0], out[mark:]...)
	out = out[:mark]
	for i, p := range sc {
		if p.line != nil {
			out = append(out, p)
			continue
		}
		end := hi
		if i+1 < len(sc) {
			end = sc[i+1].start
		}
		out = splitByLines(n.Lines, p, end, out)
	}
	b.scratch[depth] = sc[:0]
	return out
}

// splitByLines resolves the open piece p, which ends at end, with sorted
// lines, as the reference's line search answers: the last line starting
// at or before an address covers it if its size is 0 or the address lies
// before its end.
func splitByLines(lines []debugfiles.LineInfo, p piece, end uint64, out []piece) []piece {
	cur := p.start
	lo, hi := 0, len(lines)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if lines[m].Address <= cur {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i := lo - 1
	for cur < end {
		next := end
		if i+1 < len(lines) && lines[i+1].Address < next {
			next = lines[i+1].Address
		}
		switch {
		case i < 0:
			out = appendPiece(out, piece{start: cur, node: p.node})
			cur = next
		case lines[i].Size == 0:
			out = appendPiece(out, piece{start: cur, node: p.node, line: &lines[i]})
			cur = next
		default:
			l := &lines[i]
			if e := l.Address + l.Size; e > cur {
				// A wrapped end is below l.Address <= cur: never here.
				out = appendPiece(out, piece{start: cur, node: p.node, line: l})
				cur = min(e, next)
			} else {
				out = appendPiece(out, piece{start: cur, node: p.node})
				cur = next
			}
		}
		for i+1 < len(lines) && lines[i+1].Address <= cur {
			i++
		}
	}
	return out
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
	nd := node{fn: b.funcID(n.Name), addr: n.Address, parent: parent}
	if !top {
		nd.callFile, nd.callLine = b.fileID(n.CallFile), n.CallLine
	}
	b.nodes = append(b.nodes, nd)
	return uint32(len(b.nodes))
}

func (b *Builder) funcID(name string) uint32 {
	if id, ok := b.funcIDs[name]; ok {
		return id
	}
	id := uint32(len(b.funcNames))
	b.funcIDs[name] = id
	b.funcNames = append(b.funcNames, name)
	return id
}

// fileID interns a file by its joined path (id+1; 0 is the empty path).
// FileInfo values are cached first, so the path is joined once per
// distinct FileInfo rather than once per line row.
func (b *Builder) fileID(fi debugfiles.FileInfo) uint32 {
	if fi == b.lastFile && b.lastID != 0 {
		return b.lastID
	}
	if id, ok := b.fileInfos[fi]; ok {
		b.lastFile, b.lastID = fi, id
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
	return id
}

// resolve applies debugfiles.NewIndex's ownership rules to the spans and
// returns the final entries in address order, gaps as entries of node 0,
// and the end of the last one.
//
// Where spans overlap, the one starting later owns its range and an
// enclosing one resumes after it; of two spans with the same range the one
// added later wins.
func (b *Builder) resolve() ([]entry, uint64) {
	spans := b.spans
	slices.SortFunc(spans, func(x, y span) int {
		if c := cmp.Compare(x.start, y.start); c != 0 {
			return c
		}
		if c := cmp.Compare(y.end, x.end); c != 0 {
			return c
		}
		return cmp.Compare(x.order, y.order)
	})
	out := make([]entry, 0, len(b.entries)+len(spans))
	var last uint64 // end of what out covers
	emit := func(s, e uint64, sp *span) {
		if s >= e {
			return
		}
		if len(out) > 0 && s > last {
			out = appendEntry(out, entry{start: last}) // a gap
		}
		ents := b.entries[sp.lo:sp.hi]
		// The entry covering s: the last one starting at or before it.
		k, _ := slices.BinarySearchFunc(ents, s, func(x entry, t uint64) int { return cmp.Compare(x.start, t) })
		if k == len(ents) || ents[k].start > s {
			k = max(k-1, 0)
		}
		first := ents[k]
		first.start = s
		out = appendEntry(out, first)
		for _, x := range ents[k+1:] {
			if x.start >= e {
				break
			}
			out = appendEntry(out, x)
		}
		last = e
	}
	var stack []*span
	var pos uint64
	closeUntil := func(limit uint64, all bool) {
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if !all && top.end > limit {
				break
			}
			emit(max(pos, top.start), top.end, top)
			pos = max(pos, top.end)
			stack = stack[:len(stack)-1]
		}
	}
	for i := range spans {
		s := &spans[i]
		closeUntil(s.start, false)
		if n := len(stack); n > 0 {
			top := stack[n-1]
			emit(max(pos, top.start), s.start, top)
		}
		pos = s.start
		stack = append(stack, s)
	}
	closeUntil(0, true)
	return out, last
}

// appendEntry appends e unless it repeats the last entry's answer.
func appendEntry(out []entry, e entry) []entry {
	if n := len(out); n > 0 && out[n-1].node == e.node && out[n-1].file == e.file && out[n-1].line == e.line {
		return out
	}
	return append(out, e)
}

// errTooLarge reports a symcache past the format's 32-bit offsets.
func errTooLarge(what string, n int) error {
	return fmt.Errorf("symcache: %s too large for the format (%d)", what, n)
}
