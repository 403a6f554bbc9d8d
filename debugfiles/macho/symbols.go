package macho

import (
	"bytes"
	"cmp"
	"iter"
	"slices"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
)

// nlist n_type bits (<mach-o/nlist.h>).
const (
	nStab = 0xe0
	nType = 0x0e
	nExt  = 0x01
	nSect = 0xe
)

// swiftHiddenPrefix marks symbol names hidden by bitcode builds; they keep
// their underscores.
const swiftHiddenPrefix = "__hidden#"

// Symbols yields the functions of the nlist symbol table sorted by address,
// one per address, relative to LoadAddress. Only defined symbols (N_SECT, not
// debugger N_STAB entries) in code sections (sections with the
// S_ATTR_PURE_INSTRUCTIONS or S_ATTR_SOME_INSTRUCTIONS attribute), inside
// their section and at or above the load address are kept; this drops
// __mh_execute_header, which the linker ties to __text at the image start. Where several names share an address, an
// external symbol wins over a local one, then the first in the table. Each
// symbol's size runs to the next symbol in the same section, or to the end of
// the section. A symbol table that does not fit the file yields nothing.
func (o *Object) Symbols() iter.Seq[debugfiles.Symbol] {
	o.symOnce.Do(func() { o.syms = o.readSymbols() })
	return func(yield func(debugfiles.Symbol) bool) {
		for _, s := range o.syms {
			if !yield(s) {
				return
			}
		}
	}
}

// rawSymbol is a symbol of the table before deduplication.
type rawSymbol struct {
	addr uint64
	sect int // index into o.sections
	rank int // lower wins at equal addresses
	idx  int // position in the table
	name string
}

func (o *Object) readSymbols() []debugfiles.Symbol {
	if !o.hasSymtab || o.symtab.nsyms == 0 {
		return nil
	}
	st := o.symtab
	entSize := uint64(12)
	if o.is64 {
		entSize = 16
	}
	table, err := o.src.bytes(uint64(st.symoff), uint64(st.nsyms)*entSize)
	if err != nil {
		return nil
	}
	strtab, err := o.src.bytes(uint64(st.stroff), uint64(st.strsize))
	if err != nil {
		return nil
	}
	code := make([]bool, len(o.sections))
	for i, s := range o.sections {
		code[i] = s.flags&(sAttrPureInstr|sAttrSomeInstr) != 0
	}

	var raw []rawSymbol
	for i := range uint64(st.nsyms) {
		e := table[i*entSize : (i+1)*entSize]
		strx := o.bo.Uint32(e)
		typ, sect := e[4], int(e[5])
		var value uint64
		if o.is64 {
			value = o.bo.Uint64(e[8:])
		} else {
			value = uint64(o.bo.Uint32(e[8:]))
		}
		if typ&nStab != 0 || typ&nType != nSect || sect == 0 || sect > len(o.sections) || !code[sect-1] {
			continue
		}
		if s := o.sections[sect-1]; value < o.loadAddr || value < s.addr || value-s.addr >= s.size || uint64(strx) >= uint64(len(strtab)) {
			continue
		}
		name := strtab[strx:]
		if n := bytes.IndexByte(name, 0); n >= 0 {
			name = name[:n]
		}
		if len(name) == 0 {
			continue
		}
		rank := 1
		if typ&nExt != 0 {
			rank = 0
		} else if bytes.HasPrefix(name, []byte("ltmp")) {
			// Assembler temporaries that mark section starts in object files.
			rank = 2
		}
		raw = append(raw, rawSymbol{addr: value, sect: sect - 1, rank: rank, idx: int(i), name: string(name)})
	}
	slices.SortFunc(raw, func(a, b rawSymbol) int {
		return cmp.Or(cmp.Compare(a.addr, b.addr), cmp.Compare(a.rank, b.rank), cmp.Compare(a.idx, b.idx))
	})
	raw = slices.CompactFunc(raw, func(a, b rawSymbol) bool { return a.addr == b.addr })

	out := make([]debugfiles.Symbol, len(raw))
	for i, r := range raw {
		s := o.sections[r.sect]
		end := r.addr + (s.size - (r.addr - s.addr)) // the section's end, without overflow
		if i+1 < len(raw) && raw[i+1].sect == r.sect && raw[i+1].addr < end {
			end = raw[i+1].addr
		}
		out[i] = debugfiles.Symbol{Name: trimUnderscore(r.name), Address: r.addr - o.loadAddr, Size: end - r.addr}
	}
	return out
}

// trimUnderscore removes the underscore the Mach-O C ABI puts before every
// name.
func trimUnderscore(name string) string {
	if strings.HasPrefix(name, "_") && !strings.HasPrefix(name, swiftHiddenPrefix) {
		return name[1:]
	}
	return name
}
