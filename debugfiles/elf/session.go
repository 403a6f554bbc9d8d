package elf

import (
	stdelf "debug/elf"
	"fmt"
	"iter"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
)

// DebugSession opens the DWARF information of a file with debug information
// (FeatureDebug) as a dwarf.Session, with addresses relative to
// LoadAddress. The sections are handed to the session decompressed, and for
// a relocatable file (ET_REL) with its relocations applied, to be read by
// the dwarf package's own decoder (debug/dwarf is not used: it loops
// forever on some corrupt units). For an Object from Open the sections
// that need neither alias the file mapping, so the session must be closed
// before the Object.
//
// Split DWARF units of an Object from Open are resolved from PATH.dwp beside
// the file, then from the .dwo file each skeleton names: absolute, under its
// DW_AT_comp_dir, or beside the file (the .dwo's unit must carry the
// skeleton's DWO id). An Object from NewObject resolves none.
//
// A file without debug information yields a session whose functions are the
// symbol table, without lines; a symbol without a size extends to the next
// symbol or the end of its section.
func (o *Object) DebugSession() (debugfiles.DebugSession, error) {
	if o.features&debugfiles.FeatureDebug == 0 {
		syms, _ := o.symbols()
		return &symbolSession{syms: syms}, nil
	}
	opts := dwarf.Options{LoadAddress: o.loadAddr, ResolveDWOSections: noDWO}
	if o.path != "" {
		opts.ResolveDWOSections = newDWOResolver(o.path).resolve
	}
	sec, err := o.dwarfSections(false)
	if err != nil {
		return nil, err
	}
	if o.data != nil && o.closer != nil {
		// A file mapped by Open: pages the session is done with can
		// leave memory (Sections.Release).
		r := newReleaser(o.data, releaseBatch)
		r.inflight = &o.releasing
		sec.Release = r.release
	}
	s, err := dwarf.NewSessionFromSections(sec, opts)
	if err != nil {
		return nil, fmt.Errorf("elf: %s: %w", o.name, err)
	}
	return s, nil
}

// noDWO resolves no split DWARF unit.
func noDWO(string, string, uint64) (*dwarf.Sections, error) { return nil, dwarf.ErrNoDWO }

// dwarfSections reads the DWARF sections the dwarf package decodes,
// decompressed; with split set it reads the ".dwo" sections of a .dwo or
// .dwp file instead and copies them to the heap.
func (o *Object) dwarfSections(split bool) (*dwarf.Sections, error) {
	sec := &dwarf.Sections{}
	for i, s := range o.f.Sections {
		if !hasContents(s) || !strings.HasPrefix(s.Name, ".debug_") && !strings.HasPrefix(s.Name, ".zdebug_") {
			continue
		}
		if strings.HasSuffix(s.Name, ".dwo") != split && s.Name != ".debug_cu_index" {
			continue
		}
		b, err := o.sectionData(s)
		if err != nil {
			return nil, err
		}
		if o.f.Type == stdelf.ET_REL && !split {
			if b, err = o.relocate(i, b); err != nil {
				return nil, err
			}
		}
		sec.Add(s.Name, b)
	}
	if split {
		cloneSections(sec)
	}
	return sec, nil
}

// Section returns the contents of the named section, decompressed when it
// is stored compressed, and its address (sh_addr, not relative to
// LoadAddress). For a ".debug_*" name the legacy ".zdebug_*" section is
// found too. It returns an error wrapping ErrNoSection when the section is
// absent or SHT_NOBITS (as .eh_frame is in a separate debug file). The
// contents must not be modified; for an Object from Open they may alias the
// mapping and are valid until Close.
func (o *Object) Section(name string) ([]byte, uint64, error) {
	s := o.findSection(name)
	if s == nil {
		return nil, 0, fmt.Errorf("%w: %s", ErrNoSection, name)
	}
	b, err := o.sectionData(s)
	if err != nil {
		return nil, 0, err
	}
	return b, s.Addr, nil
}

// symbolSession presents a symbol table as functions without lines.
type symbolSession struct {
	syms []symbol
}

// Functions yields one function per symbol.
func (s *symbolSession) Functions() iter.Seq2[*debugfiles.Function, error] {
	return func(yield func(*debugfiles.Function, error) bool) {
		for i, sym := range s.syms {
			size := sym.Size
			if size == 0 {
				switch {
				case i+1 < len(s.syms) && (sym.sectionEnd == 0 || s.syms[i+1].Address < sym.sectionEnd):
					size = s.syms[i+1].Address - sym.Address
				case sym.sectionEnd > sym.Address:
					size = sym.sectionEnd - sym.Address
				}
			}
			fn := &debugfiles.Function{Address: sym.Address, Size: size, Name: sym.Name}
			if !yield(fn, nil) {
				return
			}
		}
	}
}

// Close releases nothing; the symbols belong to the Object.
func (s *symbolSession) Close() error { return nil }
