package pe

import (
	"cmp"
	"iter"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles"
)

// symbol is a function symbol with the end of the section holding it, both
// RVAs; the end bounds a symbol without a size.
type symbol struct {
	debugfiles.Symbol
	sectionEnd uint64
}

// coffTypeFunction is a COFF symbol's type for a function
// (IMAGE_SYM_DTYPE_FUNCTION << 4).
const coffTypeFunction = 0x20

// COFF storage classes of function symbols: global and file-local.
const (
	coffClassExternal = 2
	coffClassStatic   = 3
)

// Symbols yields the image's function symbols sorted by RVA: its named
// exports (forwarders, which have no code here, are skipped) and the
// functions of its COFF symbol table, which MinGW images keep. Where both
// name one address the export's name wins. Sizes are unknown (0).
func (o *Object) Symbols() iter.Seq[debugfiles.Symbol] {
	syms := o.symbols()
	return func(yield func(debugfiles.Symbol) bool) {
		for _, s := range syms {
			if !yield(s.Symbol) {
				return
			}
		}
	}
}

func (o *Object) symbols() []symbol {
	o.symOnce.Do(func() { o.syms = o.readSymbols() })
	return o.syms
}

func (o *Object) readSymbols() []symbol {
	var out []symbol
	exports, _ := o.Exports()
	for _, e := range exports {
		if e.Name == "" || e.Forwarder != "" {
			continue
		}
		out = append(out, symbol{Symbol: debugfiles.Symbol{Name: e.Name, Address: uint64(e.RVA)}, sectionEnd: o.sectionEnd(e.RVA)})
	}
	nExports := len(out)
	syms := o.f.COFFSymbols
	for i := 0; i < len(syms); i++ {
		s := syms[i]
		aux := int(s.NumberOfAuxSymbols)
		if s.Type == coffTypeFunction && s.SectionNumber > 0 && int(s.SectionNumber) <= len(o.f.Sections) &&
			(s.StorageClass == coffClassExternal || s.StorageClass == coffClassStatic) {
			sec := o.f.Sections[s.SectionNumber-1]
			if name, err := s.FullName(o.f.StringTable); err == nil && name != "" {
				rva := uint64(sec.VirtualAddress) + uint64(s.Value)
				if rva <= 0xffffffff {
					out = append(out, symbol{Symbol: debugfiles.Symbol{Name: name, Address: rva}, sectionEnd: o.sectionEnd(uint32(rva))})
				}
			}
		}
		i += aux
	}
	// Stable sort by address keeps exports before COFF symbols at the
	// same address; Compact then keeps the first of each address.
	order := func(a, b symbol) int { return cmp.Compare(a.Address, b.Address) }
	if nExports != len(out) || !slices.IsSortedFunc(out, order) {
		slices.SortStableFunc(out, order)
	}
	return slices.CompactFunc(out, func(a, b symbol) bool { return a.Address == b.Address })
}

// hasCOFFFunctions reports whether the COFF symbol table holds a function
// symbol, without resolving names.
func (o *Object) hasCOFFFunctions() bool {
	syms := o.f.COFFSymbols
	for i := 0; i < len(syms); i += 1 + int(syms[i].NumberOfAuxSymbols) {
		if s := syms[i]; s.Type == coffTypeFunction && s.SectionNumber > 0 {
			return true
		}
	}
	return false
}

// sectionEnd is the RVA past the end of the section holding rva, or 0.
func (o *Object) sectionEnd(rva uint32) uint64 {
	for _, s := range o.f.Sections {
		vs := s.VirtualSize
		if vs == 0 {
			vs = s.Size
		}
		if rva >= s.VirtualAddress && uint64(rva) < uint64(s.VirtualAddress)+uint64(vs) {
			return uint64(s.VirtualAddress) + uint64(vs)
		}
	}
	return 0
}
