package pe

import (
	"cmp"
	stdpe "debug/pe"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/symoracle"
)

// coffSymtab reads every symbol of the COFF symbol table that lies in an
// executable section, with the standard library's debug/pe: functions, and
// also the labels and data symbols assembler files leave in .text
// (".l_start", "__DTOR_LIST__"), which llvm-symbolizer names addresses
// after too. A symbol covers the addresses up to the next one.
func coffSymtab(path string) (func(name string, addr uint64) bool, error) {
	f, err := stdpe.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	base := f.OptionalHeader.(*stdpe.OptionalHeader64).ImageBase
	type sym struct {
		name string
		addr uint64
	}
	var syms []sym
	for i := 0; i < len(f.COFFSymbols); i++ {
		s := f.COFFSymbols[i]
		if s.SectionNumber > 0 && int(s.SectionNumber) <= len(f.Sections) {
			sec := f.Sections[s.SectionNumber-1]
			if sec.Characteristics&stdpe.IMAGE_SCN_MEM_EXECUTE != 0 {
				if name, err := s.FullName(f.StringTable); err == nil && name != sec.Name {
					syms = append(syms, sym{name, base + uint64(sec.VirtualAddress) + uint64(s.Value)})
				}
			}
		}
		i += int(s.NumberOfAuxSymbols)
	}
	slices.SortStableFunc(syms, func(a, b sym) int { return cmp.Compare(a.addr, b.addr) })
	return func(name string, addr uint64) bool {
		for i, s := range syms {
			if s.name != name || s.addr > addr {
				continue
			}
			j := i + 1
			for j < len(syms) && syms[j].addr == s.addr {
				j++
			}
			if j == len(syms) || addr < syms[j].addr {
				return true
			}
		}
		return false
	}, nil
}

// TestMinGWDWARFAgainstLLVMSymbolizer symbolicates 10,000 random .text
// addresses of the MinGW fixture, whose DWARF lives in the image under long
// section names, through DebugSession and debugfiles.Index, and compares
// every inline chain with llvm-symbolizer-14 (function, file, line of each
// frame). llvm-symbolizer names the outermost frame after the COFF symbol
// covering the address where one exists; such names are accepted when the
// symbol table (read by the fixtures package with debug/pe) agrees.
func TestMinGWDWARFAgainstLLVMSymbolizer(t *testing.T) {
	path := fixtures.Get(t, "pe-x86_64-mingw-O2")
	o, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Features()&debugfiles.FeatureDebug == 0 {
		t.Fatal("no debug feature")
	}
	fns := symoracle.ObjectFunctions(t, o)
	ix := debugfiles.NewIndex(fns)

	addrs, err := fixtures.RandomTextAddrs(path, 10000, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := symoracle.Symbolize(t, path, addrs)
	symtab, err := coffSymtab(path)
	if err != nil {
		t.Fatal(err)
	}
	base := o.LoadAddress()
	res := symoracle.Compare(addrs, want, func(a uint64) []debugfiles.Frame { return ix.Lookup(a - base) },
		symoracle.Options{SymtabName: symtab})
	t.Logf("%d functions; %s", len(fns), res)
	if res.Pct() < 99.5 {
		t.Errorf("agreement %.3f%% < 99.5%%; %q", res.Pct(), res.Unexplained())
	}
}
