package elf

import (
	"cmp"
	stdelf "debug/elf"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/cairn-dev/cairn/debugfiles"
)

// symbol is a function symbol with the end of the section holding it, both
// relative to the load address; the end bounds a symbol without a size.
type symbol struct {
	debugfiles.Symbol
	sectionEnd uint64
}

// Symbols yields the function symbols sorted by address: .symtab, or
// .dynsym when there is no .symtab, plus the .symtab of .gnu_debugdata.
// Only STT_FUNC and STT_GNU_IFUNC symbols with a non-zero value at or above
// the load address in an executable section are kept; of several symbols at
// one address the first in table order wins. Addresses are relative to
// LoadAddress. A table that cannot be read yields nothing; SymbolTable
// reports the error.
func (o *Object) Symbols() iter.Seq[debugfiles.Symbol] {
	syms, _ := o.symbols()
	return func(yield func(debugfiles.Symbol) bool) {
		for _, s := range syms {
			if !yield(s.Symbol) {
				return
			}
		}
	}
}

// SymbolTable returns what Symbols yields, with the first error met while
// reading the tables (the symbols read before it are still returned).
func (o *Object) SymbolTable() ([]debugfiles.Symbol, error) {
	syms, err := o.symbols()
	out := make([]debugfiles.Symbol, len(syms))
	for i, s := range syms {
		out[i] = s.Symbol
	}
	return out, err
}

func (o *Object) symbols() ([]symbol, error) {
	o.symOnce.Do(func() { o.syms, o.symErr = o.readSymbols() })
	return o.syms, o.symErr
}

func (o *Object) readSymbols() ([]symbol, error) {
	var errs []error
	syms, err := o.f.Symbols()
	if errors.Is(err, stdelf.ErrNoSymbols) {
		syms, err = o.f.DynamicSymbols()
		if errors.Is(err, stdelf.ErrNoSymbols) {
			err = nil
		}
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("elf: %s: symbols: %w", o.name, err))
	}
	out := o.functionSymbols(nil, o.f, syms)
	if o.debugData != nil {
		inner, err := o.miniDebugInfo()
		if err == nil {
			isyms, err2 := inner.f.Symbols()
			if err2 != nil && !errors.Is(err2, stdelf.ErrNoSymbols) {
				err = err2
			}
			out = o.functionSymbols(out, inner.f, isyms)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("elf: %s: .gnu_debugdata: %w", o.name, err))
		}
	}
	slices.SortStableFunc(out, func(a, b symbol) int { return cmp.Compare(a.Address, b.Address) })
	out = slices.CompactFunc(out, func(a, b symbol) bool { return a.Address == b.Address })
	return slices.Clip(out), errors.Join(errs...)
}

// functionSymbols appends the function symbols of syms, whose section
// indexes refer to f, to out. A local symbol's file is the name of the
// last STT_FILE entry before it: the linker copies each object's local
// symbols after the entry naming its source.
func (o *Object) functionSymbols(out []symbol, f *stdelf.File, syms []stdelf.Symbol) []symbol {
	file := ""
	for _, s := range syms {
		switch stdelf.ST_TYPE(s.Info) {
		case stdelf.STT_FUNC, stdelf.STT_GNU_IFUNC:
		case stdelf.STT_FILE:
			file = s.Name
			continue
		default:
			continue
		}
		if s.Value == 0 || s.Section == stdelf.SHN_UNDEF || s.Section >= stdelf.SHN_LORESERVE || int(s.Section) >= len(f.Sections) {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Flags&stdelf.SHF_EXECINSTR == 0 {
			continue
		}
		addr := s.Value
		if f.Machine == stdelf.EM_ARM {
			addr &^= 1 // Thumb bit
		}
		if addr < o.loadAddr {
			continue
		}
		end := uint64(0)
		if secEnd := sec.Addr + sec.Size; secEnd > addr && sec.Addr <= addr {
			end = secEnd - o.loadAddr
		}
		sym := debugfiles.Symbol{Name: s.Name, Address: addr - o.loadAddr, Size: s.Size}
		if stdelf.ST_BIND(s.Info) == stdelf.STB_LOCAL {
			sym.File = file
		}
		out = append(out, symbol{Symbol: sym, sectionEnd: end})
	}
	return out
}
