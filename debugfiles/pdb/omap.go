package pdb

import (
	"cmp"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles"
)

// translateFunction moves a function tree built in source addresses to
// final image addresses through the OMAP. Code a post-link optimizer moved
// apart splits a function into several, each with the lines and inlinees
// that landed in it; code it removed disappears.
func (m *addressMap) translateFunction(f *debugfiles.Function) []*debugfiles.Function {
	spans := m.translateRange(f.Address, f.End(), nil)
	if len(spans) == 0 {
		return nil
	}
	pieces := make([]*debugfiles.Function, len(spans))
	for i, s := range spans {
		c := *f
		c.Address, c.Size = s.start, s.end-s.start
		c.Lines, c.Inlinees = nil, nil
		pieces[i] = &c
	}
	slices.SortFunc(pieces, func(a, b *debugfiles.Function) int { return cmp.Compare(a.Address, b.Address) })
	var buf []span
	for _, l := range f.Lines {
		end := l.Address + l.Size
		buf = m.translateRange(l.Address, end, buf)
		for _, s := range buf {
			if p := containing(pieces, s.start); p != nil {
				nl := l
				nl.Address, nl.Size = s.start, min(s.end, p.End())-s.start
				p.Lines = append(p.Lines, nl)
			}
		}
	}
	for _, c := range f.Inlinees {
		for _, cp := range m.translateFunction(c) {
			if p := containing(pieces, cp.Address); p != nil {
				p.Inlinees = append(p.Inlinees, cp)
			}
		}
	}
	for _, p := range pieces {
		slices.SortStableFunc(p.Lines, func(a, b debugfiles.LineInfo) int { return cmp.Compare(a.Address, b.Address) })
		slices.SortStableFunc(p.Inlinees, func(a, b *debugfiles.Function) int { return cmp.Compare(a.Address, b.Address) })
	}
	return pieces
}

// containing returns the function of sorted, disjoint fns containing addr.
func containing(fns []*debugfiles.Function, addr uint64) *debugfiles.Function {
	i, _ := slices.BinarySearchFunc(fns, addr, func(f *debugfiles.Function, a uint64) int { return cmp.Compare(f.Address, a+1) })
	if i == 0 {
		return nil
	}
	if f := fns[i-1]; addr < f.End() {
		return f
	}
	return nil
}
