package symcache

import (
	"cmp"
	"slices"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles"
)

// addrRange is an address range [start, end).
type addrRange struct{ start, end uint64 }

// maxSymbolGap bounds the size given to a symbol whose table records
// none: it reaches the next symbol, but not across a huge hole.
const maxSymbolGap = 1 << 20

// readSymbols starts reading obj's symbols and returns the function that
// returns them, which may be called more than once, and the function that
// waits until no goroutine reads them, for the caller's return. Where obj
// allows it (debugfiles.SymbolsBeside), they are read on a goroutine of
// their own while the debug information is: in libpython's build the
// symbol table took ~1.4 ms after the reading, on the goroutine that does
// most of it (BENCHMARKS.md); otherwise they are read when first asked for.
func readSymbols(obj debugfiles.Object) (symbols func() []debugfiles.Symbol, wait func()) {
	collect := func() []debugfiles.Symbol {
		var syms []debugfiles.Symbol
		for sym := range obj.Symbols() {
			syms = append(syms, sym)
		}
		return syms
	}
	if !debugfiles.SymbolsBesideSession(obj) {
		return sync.OnceValue(collect), func() {}
	}
	done := make(chan []debugfiles.Symbol, 1)
	go func() { done <- collect() }()
	symbols = sync.OnceValue(func() []debugfiles.Symbol { return <-done })
	return symbols, func() { symbols() }
}

// fillFromSymbols adds, as functions without lines, the parts of an
// object's symbols (syms, in address order) that no debug function covers
// (Options.FillFromSymbols).
// A symbol whose table names its source file gets that file, with line 0.
func fillFromSymbols(b *Builder, syms []debugfiles.Symbol, covered []addrRange) {
	slices.SortFunc(covered, func(a, b addrRange) int { return cmp.Compare(a.start, b.start) })
	merged := covered[:0]
	for _, r := range covered {
		if n := len(merged); n > 0 && r.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, r.end)
			continue
		}
		merged = append(merged, r)
	}
	for i, sym := range syms {
		end := sym.Address + sym.Size
		if sym.Size == 0 {
			if i+1 >= len(syms) || syms[i+1].Address <= sym.Address || syms[i+1].Address-sym.Address > maxSymbolGap {
				continue
			}
			end = syms[i+1].Address
		}
		if end <= sym.Address || sym.Name == "" {
			continue
		}
		// Walk the covered ranges overlapping [sym.Address, end).
		pos := sym.Address
		k, _ := slices.BinarySearchFunc(merged, pos, func(r addrRange, a uint64) int { return cmp.Compare(r.end, a+1) })
		for ; pos < end; k++ {
			next := end
			if k < len(merged) && merged[k].start < end {
				next = max(merged[k].start, pos)
			}
			if next > pos {
				f := &debugfiles.Function{Address: pos, Size: next - pos, Name: sym.Name}
				if sym.File != "" {
					// A file without a line, as llvm-symbolizer gives it.
					f.Lines = []debugfiles.LineInfo{{Address: pos, Size: next - pos, File: debugfiles.FileInfo{Name: sym.File}}}
				}
				b.Add(f)
			}
			if k >= len(merged) || merged[k].start >= end {
				break
			}
			pos = max(pos, merged[k].end)
		}
	}
}
