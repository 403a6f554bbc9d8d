package cficache

import (
	"fmt"
	"io"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// InfoOf reads an object's identity.
func InfoOf(obj debugfiles.Object) Info {
	return Info{Arch: unwind.ArchFromName(obj.Arch()), DebugID: obj.DebugID()}
}

// Build collects the unwind information of any object Cairn reads: a
// Breakpad symbol file's STACK CFI and STACK WIN records (with Breakpad's
// processor's semantics), and the tables of every object implementing
// unwind.Source (ELF and Mach-O DWARF CFI, Mach-O compact unwind, PE
// exception tables, PDB frame data, a binary paired with its debug file,
// in the order the object prefers them). An object without unwind
// information yields an empty Builder.
func Build(obj debugfiles.Object) (*Builder, error) {
	b := NewBuilder(InfoOf(obj))
	switch o := obj.(type) {
	case *breakpad.Object:
		rd := o.Reader()
		for rd.Next() {
			b.AddSymbolRecord(rd.Record())
		}
		if err := rd.Err(); err != nil {
			return nil, fmt.Errorf("cficache: %s: %w", obj.Name(), err)
		}
		b.stats.Malformed += rd.Skipped()
	default:
		tables, err := unwind.Tables(obj)
		if err != nil {
			return nil, fmt.Errorf("cficache: %s: %w", obj.Name(), err)
		}
		b.AddTables(tables)
	}
	return b, nil
}

// Write builds the cficache of obj (see Build) and writes it to w.
func Write(w io.Writer, obj debugfiles.Object) (Stats, error) {
	b, err := Build(obj)
	if err != nil {
		return Stats{}, err
	}
	if _, err := b.WriteTo(w); err != nil {
		return b.Stats(), err
	}
	return b.Stats(), nil
}
