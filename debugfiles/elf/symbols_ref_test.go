package elf

import (
	"cmp"
	stdelf "debug/elf"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
)

// debugELFSymbols is what SymbolTable gives, read through debug/elf's
// Symbols and DynamicSymbols, which copy every entry and name of a table:
// the reference functionSymbols, which reads the tables in place, is
// compared with. ok is false where debug/elf cannot read a table.
func debugELFSymbols(o *Object) (syms []debugfiles.Symbol, ok bool) {
	read := func(o *Object) ([]debugfiles.Symbol, bool) {
		f := o.f
		all, err := f.Symbols()
		if errors.Is(err, stdelf.ErrNoSymbols) && !o.nested {
			all, err = f.DynamicSymbols()
		}
		if errors.Is(err, stdelf.ErrNoSymbols) {
			return nil, true
		}
		if err != nil {
			return nil, false
		}
		var out []debugfiles.Symbol
		file := ""
		for _, s := range all {
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
			if f.Sections[s.Section].Flags&stdelf.SHF_EXECINSTR == 0 {
				continue
			}
			addr := s.Value
			if f.Machine == stdelf.EM_ARM {
				addr &^= 1
			}
			if addr < o.loadAddr {
				continue
			}
			sym := debugfiles.Symbol{Name: s.Name, Address: addr - o.loadAddr, Size: s.Size}
			if stdelf.ST_BIND(s.Info) == stdelf.STB_LOCAL {
				sym.File = file
			}
			out = append(out, sym)
		}
		return out, true
	}
	syms, ok = read(o)
	if o.debugData != nil {
		inner, err := o.miniDebugInfo()
		if err != nil {
			return nil, false
		}
		more, innerOK := read(inner)
		syms, ok = append(syms, more...), ok && innerOK
	}
	slices.SortStableFunc(syms, func(a, b debugfiles.Symbol) int { return cmp.Compare(a.Address, b.Address) })
	return slices.CompactFunc(syms, func(a, b debugfiles.Symbol) bool { return a.Address == b.Address }), ok
}

// checkAgainstDebugELF compares SymbolTable with debugELFSymbols where both
// read every table without an error.
func checkAgainstDebugELF(t *testing.T, o *Object) {
	t.Helper()
	want, ok := debugELFSymbols(o)
	got, err := o.SymbolTable()
	if !ok || err != nil {
		return
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		n := min(len(got), len(want))
		i := 0
		for i < n && got[i] == want[i] {
			i++
		}
		t.Fatalf("%d symbols, debug/elf %d; first difference at %d: %v against %v", len(got), len(want), i, got[i:min(i+1, len(got))], want[i:min(i+1, len(want))])
	}
}

// TestSymbolsMatchDebugELF reads every variant of the test program's
// symbols both ways.
func TestSymbolsMatchDebugELF(t *testing.T) {
	fx := fixtures(t)
	n := 0
	for _, v := range variants {
		if !fx.ok[v.name] {
			continue
		}
		o, err := Open(filepath.Join(fx.dir, v.name))
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstDebugELF(t, o)
		o.Close()
		n++
	}
	if n == 0 {
		t.Fatal("no variant was built")
	}
}
