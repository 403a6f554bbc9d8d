package pe

import (
	"fmt"
	"iter"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
)

// DebugSession opens the DWARF information of an image that carries it
// (FeatureDebug: MinGW toolchains leave .debug_* sections in the image) as
// a dwarf.Session with addresses relative to the image base. The sections
// alias the file mapping of an Object from Open, so the session must be
// closed before the Object.
//
// An image without DWARF (its debug information is in a PDB) yields a
// session whose functions are the symbol table (see Symbols), without
// lines: a symbol extends to the next one or the end of its section.
func (o *Object) DebugSession() (debugfiles.DebugSession, error) {
	if o.features&debugfiles.FeatureDebug == 0 {
		return &symbolSession{syms: o.symbols()}, nil
	}
	sec := &dwarf.Sections{}
	for _, s := range o.f.Sections {
		if !strings.HasPrefix(s.Name, ".debug_") || s.Size == 0 || s.Offset == 0 {
			continue
		}
		b, _, err := o.Section(s.Name)
		if err != nil {
			return nil, err
		}
		sec.Add(s.Name, b)
	}
	ds, err := dwarf.NewSessionFromSections(sec, dwarf.Options{LoadAddress: o.imageBase})
	if err != nil {
		return nil, fmt.Errorf("pe: %s: %w", o.name, err)
	}
	return ds, nil
}

// symbolSession presents a symbol table as functions without lines.
type symbolSession struct {
	syms []symbol
}

// Functions yields one function per symbol.
func (s *symbolSession) Functions() iter.Seq2[*debugfiles.Function, error] {
	return func(yield func(*debugfiles.Function, error) bool) {
		for i, sym := range s.syms {
			var size uint64
			switch {
			case i+1 < len(s.syms) && (sym.sectionEnd == 0 || s.syms[i+1].Address < sym.sectionEnd):
				size = s.syms[i+1].Address - sym.Address
			case sym.sectionEnd > sym.Address:
				size = sym.sectionEnd - sym.Address
			}
			if !yield(&debugfiles.Function{Address: sym.Address, Size: size, Name: sym.Name}, nil) {
				return
			}
		}
	}
}

// Close releases nothing; the symbols belong to the Object.
func (s *symbolSession) Close() error { return nil }
