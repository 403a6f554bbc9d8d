package breakpad

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"sort"

	"github.com/cairn-dev/cairn/debugfiles"
)

// nameOmitted is what Breakpad's resolver names an inlined frame whose
// INLINE_ORIGIN is missing.
const nameOmitted = "<name omitted>"

// Session reads a symbol file's FUNC records as debugfiles.Functions.
//
// The tree it builds is the one Breakpad's resolver (BasicSourceLineResolver)
// builds, so that a symbolizer walking it reports the frames
// minidump_stackwalk reports:
//
//   - Functions are yielded in file order. Breakpad keeps the first of
//     overlapping FUNCs, so a consumer should let an earlier function win
//     over a later one that overlaps it. FUNCs of size 0, or whose end
//     overflows, are left out (Breakpad cannot store them).
//   - Lines holds the FUNC's line records sorted by address, without
//     records of size 0; of overlapping records the lower one is kept.
//     Line records give the innermost source location, so for an address
//     inside inlined code they name the inlined function's file and line.
//   - Each INLINE range becomes one inlinee Function (an INLINE record with
//     several ranges yields several Functions with the same name and call
//     site), placed by range containment as Breakpad's ContainedRangeMap
//     places it: inside the innermost inlinee whose range contains it,
//     otherwise at the top level of its FUNC, adopting the inlinees it
//     contains; a range that partly overlaps another is dropped. Of two
//     equal ranges the deeper record nests inside the other (Breakpad nests
//     the later one; in files written depth first that is the deeper one).
//     Inlinees are sorted by address.
//   - An inlinee's Lines are the FUNC's line records that overlap its range
//     (unclipped, so that a line's start is the same as Breakpad's
//     source_line_base). CallFile/CallLine are the INLINE record's call
//     site; the name is the INLINE_ORIGIN's, or "<name omitted>" when the
//     origin is missing, as Breakpad names it.
//
// One Breakpad behaviour is optional (SessionOptions.BreakpadInlineOrder):
// Breakpad drops an INLINE record whose depth is more than one below the
// previous record's, assuming records come depth first. Mozilla's dump_syms
// sorts a FUNC's INLINE records by address instead, and Breakpad then loses
// thousands of them (2002 of 9898 in the peers' crash-client.sym) and
// reports an inlined callee's file:line under its caller's name;
// rust-minidump keeps them. By default they are kept.
//
// Frames for an address are then: for the innermost inlinee containing it,
// the inlinee's name with the line record's file:line; for each enclosing
// inlinee and finally the FUNC, that level's name with the call site of the
// inlinee just inside it. CallFile is empty when the INLINE record has no
// call file (the older form) or names an unknown one; Breakpad then repeats
// the file of the innermost line record, and a symbolizer matching it
// should do the same.
type Session struct {
	o    *Object
	opts SessionOptions
}

// SessionOptions selects Breakpad behaviours a Session does not mirror by
// default.
type SessionOptions struct {
	// BreakpadInlineOrder drops INLINE records that skip a depth relative
	// to the record before them, exactly as Breakpad's resolver does, for
	// output identical to minidump_stackwalk's on files whose INLINE
	// records are not written depth first.
	BreakpadInlineOrder bool
}

// Session returns a debug session with non-default options.
func (o *Object) Session(opts SessionOptions) *Session { return &Session{o: o, opts: opts} }

var _ debugfiles.DebugSession = (*Session)(nil)

// Close does nothing; the object owns the file.
func (s *Session) Close() error { return nil }

// Functions yields each FUNC with its lines and inlinees, in file order
// (see Session). A file without FUNC records yields its PUBLIC records as
// functions without lines, each extending to the next PUBLIC; the last has
// Size 0, for Breakpad lets it run to the end of the module.
func (s *Session) Functions() iter.Seq2[*debugfiles.Function, error] {
	if !s.o.hasFuncs {
		return s.publicFunctions()
	}
	return func(yield func(*debugfiles.Function, error) bool) {
		b := funcBuilder{o: s.o, strictOrder: s.opts.BreakpadInlineOrder, depth: map[*debugfiles.Function]uint32{}}
		rd := s.o.Reader()
		for rd.Next() {
			rec := rd.Record()
			switch rec.Kind {
			case KindFunc:
				if f := b.finish(); f != nil && !yield(f, nil) {
					return
				}
				b.start(&rec.Func)
			case KindLine:
				b.line(&rec.Line)
			case KindInline:
				b.inline(&rec.Inline)
			case KindPublic:
				if f := b.finish(); f != nil && !yield(f, nil) {
					return
				}
			}
		}
		if err := rd.Err(); err != nil {
			yield(nil, fmt.Errorf("breakpad: %s: %w", s.o.name, err))
			return
		}
		if f := b.finish(); f != nil {
			yield(f, nil)
		}
	}
}

// publicFunctions yields PUBLIC records as functions for files that have no
// FUNC records.
func (s *Session) publicFunctions() iter.Seq2[*debugfiles.Function, error] {
	return func(yield func(*debugfiles.Function, error) bool) {
		var syms []debugfiles.Symbol
		for sym := range s.o.Symbols() {
			if len(syms) > 0 && syms[len(syms)-1].Address == sym.Address {
				continue // Breakpad keeps the first PUBLIC at an address
			}
			syms = append(syms, sym)
		}
		for i, sym := range syms {
			f := &debugfiles.Function{Address: sym.Address, Name: sym.Name}
			if i+1 < len(syms) {
				f.Size = syms[i+1].Address - sym.Address
			}
			if !yield(f, nil) {
				return
			}
		}
	}
}

// funcBuilder assembles one FUNC and what follows it.
type funcBuilder struct {
	o           *Object
	fn          *debugfiles.Function
	strictOrder bool
	lastDepth   uint32
	// depth holds the INLINE depth of each inlinee of fn, to order equal
	// ranges.
	depth map[*debugfiles.Function]uint32
	// lines collects fn's lines; finish copies them out at their final
	// size, so growing this buffer costs nothing per function.
	lines []debugfiles.LineInfo
	// slab hands out inlinee Functions in blocks, one allocation for many
	// (the peers' largest file has 68k inlinees).
	slab []debugfiles.Function
}

func (b *funcBuilder) newFunction() *debugfiles.Function {
	if len(b.slab) == 0 {
		b.slab = make([]debugfiles.Function, 256)
	}
	f := &b.slab[0]
	b.slab = b.slab[1:]
	return f
}

func (b *funcBuilder) start(r *FuncRecord) {
	b.fn, b.lastDepth, b.lines = nil, 0, b.lines[:0]
	clear(b.depth)
	if r.Size == 0 || r.Address+r.Size < r.Address {
		return
	}
	b.fn = &debugfiles.Function{Address: r.Address, Size: r.Size, Name: string(r.Name)}
}

func (b *funcBuilder) line(r *LineRecord) {
	if b.fn == nil || r.Size == 0 || r.Address+r.Size < r.Address {
		return
	}
	name, _ := b.o.files.get(r.File)
	b.lines = append(b.lines, debugfiles.LineInfo{
		Address: r.Address, Size: r.Size, Line: r.Line, File: debugfiles.FileInfo{Name: name},
	})
}

func (b *funcBuilder) inline(r *InlineRecord) {
	if b.fn == nil {
		return
	}
	if b.strictOrder {
		if r.Depth > b.lastDepth+1 {
			return
		}
		b.lastDepth = r.Depth
	}
	name, ok := b.o.origins.get(r.Origin)
	if !ok {
		name = nameOmitted
	}
	var call debugfiles.FileInfo
	if r.HasCallFile {
		call.Name, _ = b.o.files.get(r.CallFile)
	}
	for _, rg := range r.Ranges {
		if rg.Size == 0 || rg.Address+rg.Size < rg.Address {
			continue
		}
		f := b.newFunction()
		*f = debugfiles.Function{Address: rg.Address, Size: rg.Size, Name: name, CallFile: call, CallLine: r.CallLine}
		if b.insert(&b.fn.Inlinees, f, r.Depth) {
			b.depth[f] = r.Depth
		}
	}
}

// insert stores f in the tree under list the way Breakpad's
// ContainedRangeMap stores a range: into the child that contains it, else
// as a new child that adopts the children it contains; a partial overlap
// with a child fails. An equal child takes f inside it unless f is the
// shallower record, which then takes the child inside. list stays sorted by
// address and its entries never overlap.
func (b *funcBuilder) insert(list *[]*debugfiles.Function, f *debugfiles.Function, depth uint32) bool {
	for {
		l := *list
		start, end := f.Address, f.End()
		i := sort.Search(len(l), func(k int) bool { return l[k].Address > start })
		if i > 0 {
			c := l[i-1]
			equal := c.Address == start && c.End() == end
			if c.End() >= end && !(equal && depth < b.depth[c]) {
				list = &c.Inlinees
				continue
			}
			if c.End() > start {
				if c.Address < start {
					return false
				}
				i-- // same start, no longer than f: f adopts it
			}
		}
		j := i
		for j < len(l) && l[j].Address < end {
			if l[j].End() > end {
				return false
			}
			j++
		}
		if j > i {
			f.Inlinees = append(f.Inlinees, l[i:j]...)
		}
		*list = slices.Replace(l, i, j, f)
		return true
	}
}

// finish completes the current function and returns it, or nil.
func (b *funcBuilder) finish() *debugfiles.Function {
	f := b.fn
	b.fn = nil
	if f == nil {
		return nil
	}
	if len(b.lines) > 0 {
		f.Lines = normalizeLines(slices.Clone(b.lines))
	}
	assignInlineeLines(f.Inlinees, f.Lines)
	return f
}

// normalizeLines sorts line records by address and drops overlapping ones.
// Breakpad stores lines in a RangeMap that refuses a range overlapping one
// stored before; for lines in address order (every dump_syms output) that
// keeps the lower of two overlapping records, as this does.
func normalizeLines(lines []debugfiles.LineInfo) []debugfiles.LineInfo {
	ok := true
	for i := 1; i < len(lines); i++ {
		if lines[i].Address < lines[i-1].Address+lines[i-1].Size {
			ok = false
			break
		}
	}
	if ok {
		return lines
	}
	slices.SortStableFunc(lines, func(a, b debugfiles.LineInfo) int { return cmp.Compare(a.Address, b.Address) })
	out := lines[:1]
	for _, l := range lines[1:] {
		last := &out[len(out)-1]
		if l.Address < last.Address+last.Size {
			continue
		}
		out = append(out, l)
	}
	return out
}

// assignInlineeLines gives each inlinee the lines overlapping its range, as
// a capacity-limited subslice of the function's sorted lines.
func assignInlineeLines(inlinees []*debugfiles.Function, lines []debugfiles.LineInfo) {
	for _, f := range inlinees {
		lo := sort.Search(len(lines), func(k int) bool { return lines[k].Address+lines[k].Size > f.Address })
		hi := lo + sort.Search(len(lines)-lo, func(k int) bool { return lines[lo+k].Address >= f.End() })
		if hi > lo {
			f.Lines = lines[lo:hi:hi]
		}
		assignInlineeLines(f.Inlinees, lines)
	}
}
