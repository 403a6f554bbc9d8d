package elf

import (
	"bytes"
	stdelf "debug/elf"
	"fmt"
	"sync"
)

// relocWidths maps the absolute relocation types that DWARF sections of
// relocatable files use to the width they write, per machine. Other types
// (TLS offsets, RISC-V ADD/SUB pairs) are left alone, as debug/elf does.
var relocWidths = sync.OnceValue(func() map[stdelf.Machine]map[uint32]int {
	return map[stdelf.Machine]map[uint32]int{
		stdelf.EM_X86_64:  {uint32(stdelf.R_X86_64_64): 8, uint32(stdelf.R_X86_64_32): 4, uint32(stdelf.R_X86_64_32S): 4},
		stdelf.EM_386:     {uint32(stdelf.R_386_32): 4},
		stdelf.EM_AARCH64: {uint32(stdelf.R_AARCH64_ABS64): 8, uint32(stdelf.R_AARCH64_ABS32): 4},
		stdelf.EM_ARM:     {uint32(stdelf.R_ARM_ABS32): 4},
		stdelf.EM_PPC64:   {uint32(stdelf.R_PPC64_ADDR64): 8, uint32(stdelf.R_PPC64_ADDR32): 4},
		stdelf.EM_PPC:     {uint32(stdelf.R_PPC_ADDR32): 4},
		stdelf.EM_RISCV:   {uint32(stdelf.R_RISCV_64): 8, uint32(stdelf.R_RISCV_32): 4},
		stdelf.EM_S390:    {uint32(stdelf.R_390_64): 8, uint32(stdelf.R_390_32): 4},
	}
})

// relocate applies to data, the contents of section idx of a relocatable
// file, the relocations of every SHT_REL and SHT_RELA section that targets
// it. Symbol values are section offsets in such files, so the result holds
// addresses in the same space as the symbol table. data is copied before
// it is changed.
func (o *Object) relocate(idx int, data []byte) ([]byte, error) {
	widths, known := relocWidths()[o.f.Machine]
	copied := false
	for _, r := range o.f.Sections {
		if (r.Type != stdelf.SHT_REL && r.Type != stdelf.SHT_RELA) || int(r.Info) != idx || !hasContents(r) {
			continue
		}
		if !known {
			return nil, fmt.Errorf("elf: relocations for %v are not supported", o.f.Machine)
		}
		syms, err := o.relocSymbols()
		if err != nil {
			return nil, err
		}
		rel, err := o.sectionData(r)
		if err != nil {
			return nil, err
		}
		if !copied {
			data, copied = bytes.Clone(data), true
		}
		o.applyRelocs(data, rel, r.Type == stdelf.SHT_RELA, syms, widths)
	}
	return data, nil
}

// relocSymbols returns the value of each symbol table entry by index (0 for
// the null symbol and for symbols relocations may not refer to).
func (o *Object) relocSymbols() ([]uint64, error) {
	syms, err := o.f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("elf: symbols for relocations: %w", err)
	}
	vals := make([]uint64, len(syms)+1)
	for i, s := range syms {
		if s.Section != stdelf.SHN_UNDEF && s.Section < stdelf.SHN_LORESERVE {
			vals[i+1] = s.Value
		}
	}
	return vals, nil
}

// applyRelocs applies the entries of one relocation section; entries that
// point outside data or at unknown symbols are skipped.
func (o *Object) applyRelocs(data, rel []byte, rela bool, syms []uint64, widths map[uint32]int) {
	bo := o.f.ByteOrder
	is64 := o.f.Class == stdelf.ELFCLASS64
	entSize := map[[2]bool]int{{true, true}: 24, {true, false}: 16, {false, true}: 12, {false, false}: 8}[[2]bool{is64, rela}]
	for ; len(rel) >= entSize; rel = rel[entSize:] {
		var off, sym, addend uint64
		var typ uint32
		if is64 {
			info := bo.Uint64(rel[8:])
			off, sym, typ = bo.Uint64(rel), info>>32, uint32(info)
			if rela {
				addend = bo.Uint64(rel[16:])
			}
		} else {
			info := bo.Uint32(rel[4:])
			off, sym, typ = uint64(bo.Uint32(rel)), uint64(info>>8), info&0xff
			if rela {
				addend = uint64(int64(int32(bo.Uint32(rel[8:]))))
			}
		}
		w, ok := widths[typ]
		if !ok || sym == 0 || sym >= uint64(len(syms)) || off > uint64(len(data)) || uint64(w) > uint64(len(data))-off {
			continue
		}
		dst := data[off : off+uint64(w)]
		if !rela {
			if w == 8 {
				addend = bo.Uint64(dst)
			} else {
				addend = uint64(bo.Uint32(dst))
			}
		}
		v := syms[sym] + addend
		if w == 8 {
			bo.PutUint64(dst, v)
		} else {
			bo.PutUint32(dst, uint32(v))
		}
	}
}
