package debugfiles

import (
	"cmp"
	"slices"
)

// Frame is one frame of a symbolicated address; an inline chain is
// innermost first.
type Frame struct {
	// Function is the function's name as the debug information records
	// it (see Function.Name); "" when the debug information has lines but
	// no function there.
	Function string
	// File and Line are the source position: for the innermost frame the
	// line row at the address, for each outer frame the call site of the
	// frame inside it.
	File FileInfo
	Line uint32
	// Address is the start of the function (of the part of it, or of the
	// inlined range, containing the address).
	Address uint64
	// Inlined is set for every frame inlined into the next one.
	Inlined bool
}

// Index answers address lookups over function trees. It keeps the top-level
// functions as sorted, disjoint address ranges; inline chains are found by
// descending into the child range containing the address.
type Index struct {
	segs []segment
}

// segment is an address range owned by one top-level function.
type segment struct {
	start, end uint64
	fn         *Function
}

// NewIndex builds a sorted index over functions. It consumes the trees:
// inlinees and lines are sorted by address in place, and the index keeps
// references to them.
//
// Where top-level functions overlap (identical code folded by the linker,
// or corrupt input), the function starting later owns its range and an
// enclosing one resumes after it; of two functions with the same range,
// the later one in fns wins.
func NewIndex(fns []*Function) *Index {
	ix := &Index{}
	type span struct {
		start, end uint64
		fn         *Function
		order      int
	}
	spans := make([]span, 0, len(fns))
	for i, f := range fns {
		if f == nil {
			continue
		}
		prepare(f)
		if f.Size > 0 && f.Address+f.Size > f.Address {
			spans = append(spans, span{f.Address, f.Address + f.Size, f, i})
		}
	}
	slices.SortFunc(spans, func(a, b span) int {
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		if c := cmp.Compare(b.end, a.end); c != 0 {
			return c // enclosing first
		}
		return cmp.Compare(a.order, b.order)
	})

	// Sweep: a stack of open spans, the innermost (latest started) on top,
	// owning the addresses from pos on.
	segs := make([]segment, 0, len(spans))
	add := func(start, end uint64, f *Function) {
		if start >= end {
			return
		}
		if n := len(segs); n > 0 && segs[n-1].fn == f && segs[n-1].end == start {
			segs[n-1].end = end
			return
		}
		segs = append(segs, segment{start, end, f})
	}
	var stack []span
	var pos uint64
	closeUntil := func(limit uint64, all bool) {
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if !all && top.end > limit {
				break
			}
			add(max(pos, top.start), top.end, top.fn)
			pos = max(pos, top.end)
			stack = stack[:len(stack)-1]
		}
	}
	for _, s := range spans {
		closeUntil(s.start, false)
		if n := len(stack); n > 0 {
			top := stack[n-1]
			add(max(pos, top.start), s.start, top.fn)
		}
		pos = s.start
		stack = append(stack, s)
	}
	closeUntil(0, true)
	ix.segs = slices.Clip(segs)
	return ix
}

// prepare sorts the inlinees and lines of a tree by address.
func prepare(root *Function) {
	stack := []*Function{root}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !slices.IsSortedFunc(f.Inlinees, byAddress) {
			slices.SortStableFunc(f.Inlinees, byAddress)
		}
		if !linesSorted(f.Lines) {
			slices.SortStableFunc(f.Lines, func(a, b LineInfo) int { return cmp.Compare(a.Address, b.Address) })
		}
		for _, c := range f.Inlinees {
			if c != nil {
				stack = append(stack, c)
			}
		}
	}
}

// byAddress orders functions by address, nil entries last.
func byAddress(a, b *Function) int {
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

// linesSorted checks the order of lines without copying them, which a
// comparison function taking LineInfo values would do.
func linesSorted(lines []LineInfo) bool {
	for i := 1; i < len(lines); i++ {
		if lines[i].Address < lines[i-1].Address {
			return false
		}
	}
	return true
}

// Len is the number of disjoint address ranges the index holds.
func (ix *Index) Len() int { return len(ix.segs) }

// Lookup returns the frames at addr (load-relative), innermost first, or
// nil when no function covers addr.
func (ix *Index) Lookup(addr uint64) []Frame {
	return ix.AppendLookup(nil, addr)
}

// maxChain bounds the inline depth Lookup follows; corrupt trees cannot make
// it loop, and real chains are far shorter.
const maxChain = 256

// AppendLookup appends the frames at addr to dst, innermost first, and
// returns the extended slice; with a dst of enough capacity it does not
// allocate.
func (ix *Index) AppendLookup(dst []Frame, addr uint64) []Frame {
	segs := ix.segs
	// Binary search for the last segment starting at or before addr,
	// written out: sort.Search's closure costs a third of a lookup.
	lo, hi := 0, len(segs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if segs[m].start <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i := lo - 1
	if i < 0 || addr >= segs[i].end {
		return dst
	}
	var buf [32]*Function
	chain := append(buf[:0], segs[i].fn)
	for f := segs[i].fn; len(chain) < maxChain; {
		c := findChild(f.Inlinees, addr)
		if c == nil {
			break
		}
		chain = append(chain, c)
		f = c
	}

	// The innermost frame takes its line from the line rows; the lines of
	// an inlinee cover its whole range, but fall back to the callers' in
	// case a producer left them out.
	last := len(chain) - 1
	fr := Frame{Function: chain[last].Name, Address: chain[last].Address, Inlined: last > 0}
	for k := last; k >= 0; k-- {
		if l, ok := findLine(chain[k].Lines, addr); ok {
			fr.File, fr.Line = l.File, l.Line
			break
		}
	}
	dst = append(dst, fr)
	for k := last - 1; k >= 0; k-- {
		callee := chain[k+1]
		dst = append(dst, Frame{
			Function: chain[k].Name,
			File:     callee.CallFile,
			Line:     callee.CallLine,
			Address:  chain[k].Address,
			Inlined:  k > 0,
		})
	}
	return dst
}

// findChild returns the inlinee of a sorted list containing addr.
func findChild(fns []*Function, addr uint64) *Function {
	lo, hi := 0, len(fns)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if f := fns[m]; f != nil && f.Address <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return nil
	}
	if c := fns[lo-1]; addr < c.Address+c.Size {
		return c
	}
	return nil
}

// findLine returns the line covering addr in sorted lines. A line of Size 0
// extends to the next line.
func findLine(lines []LineInfo, addr uint64) (*LineInfo, bool) {
	lo, hi := 0, len(lines)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if lines[m].Address <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return nil, false
	}
	l := &lines[lo-1]
	if l.Size == 0 {
		return l, true // up to the next line, which starts past addr
	}
	return l, addr < l.Address+l.Size
}
