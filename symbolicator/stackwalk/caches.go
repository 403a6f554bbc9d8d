package stackwalk

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/cficache"
	"github.com/cairn-dev/cairn/debugfiles/demangle"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// SymcacheSymbols answers symbol lookups from a symcache. Names are
// demangled (once per function) as Breakpad's dump_syms writes them, so
// frames read the same whether they come from a .sym file or a cache; a
// frame's line base is the start of its line record (Cache.RunStart), from
// which Breakpad counts offsets.
type SymcacheSymbols struct {
	c         *symcache.Cache
	frames    []symcache.Frame
	demangled map[uint32]string
}

// NewSymcacheSymbols wraps an opened symcache.
func NewSymcacheSymbols(c *symcache.Cache) *SymcacheSymbols {
	return &SymcacheSymbols{c: c, demangled: map[uint32]string{}}
}

var _ Symbols = (*SymcacheSymbols)(nil)

// Symbolize implements Symbols.
func (s *SymcacheSymbols) Symbolize(addr uint64, inlines bool, out *Symbolized) bool {
	out.Function, out.FunctionBase, out.File, out.Line, out.LineBase, out.HasLineBase = "", 0, "", 0, 0, false
	out.Inlines = out.Inlines[:0]
	s.frames = s.c.Lookup(addr, s.frames[:0])
	n := len(s.frames)
	if n == 0 {
		return false
	}
	outer := &s.frames[n-1]
	out.Function, out.FunctionBase = s.name(outer), outer.Address
	if !inlines {
		return true
	}
	out.File, out.Line = outer.Path(), outer.Line
	if out.File != "" {
		out.LineBase, out.HasLineBase = s.c.RunStart(addr)
	}
	for i := range s.frames[:n-1] {
		f := &s.frames[i]
		out.Inlines = append(out.Inlines, InlineFrame{Function: s.name(f), FunctionBase: f.Address, File: f.Path(), Line: f.Line})
	}
	return true
}

// name is a frame's function name, demangled.
func (s *SymcacheSymbols) name(f *symcache.Frame) string {
	if !demangle.IsMangled(f.Function) {
		return f.Function
	}
	if d, ok := s.demangled[f.FunctionIndex]; ok {
		return d
	}
	d := demangle.Demangle(f.Function, demangle.Full)
	s.demangled[f.FunctionIndex] = d
	return d
}

// CacheUnwinder answers unwind lookups from a cficache.
type CacheUnwinder struct{ C *cficache.Cache }

var _ Unwinder = CacheUnwinder{}

// CFI implements Unwinder.
func (u CacheUnwinder) CFI(addr uint64, row *unwind.Row) bool { return u.C.Lookup(addr, row) }

// Win implements Unwinder.
func (u CacheUnwinder) Win(addr uint64) (unwind.WinFrame, bool) { return u.C.LookupWin(addr) }

// ParamSize implements Unwinder.
func (u CacheUnwinder) ParamSize(addr uint64) (uint32, bool) { return u.C.ParamSize(addr) }

// WriteSymbolFileSymcache writes the symcache of a Breakpad symbol file
// so that it answers as Breakpad's resolver does (and as SymbolFile
// does): of overlapping FUNC records the first wins, and PUBLIC records
// name the addresses no FUNC covers, each from its address up to the next
// FUNC or PUBLIC (the last one to the end of the 32-bit module space).
// symcache.Write alone would drop the PUBLICs of a file that has FUNCs.
func WriteSymbolFileSymcache(w io.Writer, obj *breakpad.Object, opts SymbolFileOptions) error {
	b := symcache.NewBuilder(symcache.InfoOf(obj), symcache.Options{})
	var kept []rangeU64
	sess := obj.Session(breakpad.SessionOptions{BreakpadInlineOrder: opts.BreakpadInlineOrder})
	err := b.AddAll(func(yield func(*debugfiles.Function, error) bool) {
		for f, err := range sess.Functions() {
			if err != nil {
				yield(nil, err)
				return
			}
			if overlapsKept(&kept, f.Address, f.End()) {
				continue
			}
			if !yield(f, nil) {
				return
			}
		}
	})
	if err != nil {
		return fmt.Errorf("stackwalk: %s: %w", obj.Name(), err)
	}
	// Symbol starts, to bound each PUBLIC.
	var starts []uint64
	for _, r := range kept {
		starts = append(starts, r.start)
	}
	type public struct {
		addr uint64
		name string
	}
	var pubs []public
	rd := obj.Reader()
	for rd.Next() {
		if rec := rd.Record(); rec.Kind == breakpad.KindPublic && rec.Public.Address != 0 {
			pubs = append(pubs, public{rec.Public.Address, string(rec.Public.Name)})
		}
	}
	slices.SortStableFunc(pubs, func(a, b public) int { return cmp.Compare(a.addr, b.addr) })
	pubs = slices.CompactFunc(pubs, func(a, b public) bool { return a.addr == b.addr })
	for _, p := range pubs {
		starts = append(starts, p.addr)
	}
	slices.Sort(starts)
	for _, p := range pubs {
		if coveredBy(kept, p.addr) {
			continue // inside a FUNC, which wins
		}
		end := uint64(1 << 32)
		if i, _ := slices.BinarySearch(starts, p.addr+1); i < len(starts) {
			end = starts[i]
		}
		if end <= p.addr {
			continue
		}
		b.Add(&debugfiles.Function{Address: p.addr, Size: end - p.addr, Name: p.name})
	}
	_, err = b.WriteTo(w)
	return err
}

type rangeU64 struct{ start, end uint64 }

// overlapsKept reports whether [start, end) overlaps a kept range, and
// keeps it otherwise (Breakpad's RangeMap: the first range wins).
func overlapsKept(kept *[]rangeU64, start, end uint64) bool {
	k := *kept
	i := sort.Search(len(k), func(i int) bool { return k[i].end > start })
	if i < len(k) && k[i].start < end {
		return true
	}
	*kept = slices.Insert(k, i, rangeU64{start, end})
	return false
}

func coveredBy(kept []rangeU64, addr uint64) bool {
	i := sort.Search(len(kept), func(i int) bool { return kept[i].end > addr })
	return i < len(kept) && kept[i].start <= addr
}
