package symoracle

import (
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"fmt"
	"os"
	"slices"
)

// symbol is one function symbol of an object's symbol table.
type symbol struct {
	name       string
	start, end uint64 // end == start: size unknown
}

// SymbolTable reads the function symbols of an ELF, Mach-O or PE file with
// the standard library (not Cairn's readers) and returns a SymtabName
// function for Options: it accepts a name when a symbol of that name
// covers the absolute address. ELF symbols of size 0, and Mach-O and COFF
// symbols (which have no size) cover the addresses up to the next symbol.
//
// For a fat Mach-O file, arch ("x86_64", "arm64") picks the slice; it is
// ignored otherwise.
func SymbolTable(file, arch string) (func(name string, addr uint64) bool, error) {
	syms, err := readSymbols(file, arch)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(syms, func(a, b symbol) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	byName := map[string][]int{}
	for i, s := range syms {
		byName[s.name] = append(byName[s.name], i)
	}
	return func(name string, addr uint64) bool {
		for _, i := range byName[name] {
			s := syms[i]
			end := s.end
			if end == s.start {
				end = ^uint64(0)
				for j := i + 1; j < len(syms); j++ {
					if syms[j].start > s.start {
						end = syms[j].start
						break
					}
				}
			}
			if s.start <= addr && addr < end {
				return true
			}
		}
		return false
	}, nil
}

func readSymbols(file, arch string) ([]symbol, error) {
	if f, err := elf.Open(file); err == nil {
		defer f.Close()
		var out []symbol
		for _, read := range []func() ([]elf.Symbol, error){f.Symbols, f.DynamicSymbols} {
			syms, _ := read()
			for _, s := range syms {
				if s.Section == elf.SHN_UNDEF || s.Value == 0 {
					continue
				}
				switch elf.ST_TYPE(s.Info) {
				case elf.STT_FUNC, elf.STT_GNU_IFUNC, elf.STT_NOTYPE:
					out = append(out, symbol{name: s.Name, start: s.Value, end: s.Value + s.Size})
				}
			}
		}
		return out, nil
	}
	if ff, err := macho.OpenFat(file); err == nil {
		defer ff.Close()
		for _, a := range ff.Arches {
			if (arch == "x86_64" && a.Cpu == macho.CpuAmd64) || (arch == "arm64" && a.Cpu == macho.CpuArm64) {
				return machoSymbols(a.File), nil
			}
		}
		return nil, fmt.Errorf("symoracle: %s has no %s slice", file, arch)
	}
	if f, err := macho.Open(file); err == nil {
		defer f.Close()
		return machoSymbols(f), nil
	}
	if f, err := pe.Open(file); err == nil {
		defer f.Close()
		return peSymbols(f), nil
	}
	if _, err := os.Stat(file); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("symoracle: %s is neither ELF, Mach-O nor PE", file)
}

// peSymbols reads the COFF symbol table of a PE image (mingw's images
// keep one; Microsoft's linkers write none), at absolute addresses: the
// image base plus the section's address plus the value. COFF symbols have
// no size. Every symbol defined in a code section counts but the
// sections' own.
func peSymbols(f *pe.File) []symbol {
	var base uint64
	switch h := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		base = h.ImageBase
	case *pe.OptionalHeader32:
		base = uint64(h.ImageBase)
	}
	const codeSection = 0x20 // IMAGE_SCN_CNT_CODE
	var out []symbol
	for _, s := range f.Symbols {
		if s.SectionNumber <= 0 || int(s.SectionNumber) > len(f.Sections) {
			continue
		}
		sec := f.Sections[s.SectionNumber-1]
		if sec.Characteristics&codeSection == 0 || s.Name == sec.Name {
			continue
		}
		a := base + uint64(sec.VirtualAddress) + uint64(s.Value)
		out = append(out, symbol{name: s.Name, start: a, end: a})
	}
	return out
}

func machoSymbols(f *macho.File) []symbol {
	var out []symbol
	if f.Symtab != nil {
		for _, s := range f.Symtab.Syms {
			// N_SECT, not a debugging (stab) entry.
			if s.Type&0xe0 != 0 || s.Type&0x0e != 0x0e || s.Value == 0 {
				continue
			}
			out = append(out, symbol{name: s.Name, start: s.Value, end: s.Value})
			// llvm-symbolizer prints C names without Mach-O's
			// leading underscore.
			if len(s.Name) > 1 && s.Name[0] == '_' {
				out = append(out, symbol{name: s.Name[1:], start: s.Value, end: s.Value})
			}
		}
	}
	return out
}
