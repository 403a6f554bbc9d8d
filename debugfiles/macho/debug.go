package macho

import (
	"bytes"
	"compress/zlib"
	stddwarf "debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/dwarf"
)

// ErrNoDWARF reports an image without a __DWARF,__debug_info section.
var ErrNoDWARF = errors.New("macho: no DWARF debug information")

// dwarfSectionNames maps the Mach-O names of DWARF sections (the "__debug_" or
// compressed "__zdebug_" form, cut to the 16 bytes a section name holds) to
// the DWARF name without its leading dot.
var dwarfSectionNames = sync.OnceValue(func() map[string]dwarfSection {
	m := make(map[string]dwarfSection)
	for _, n := range []string{
		"debug_abbrev", "debug_aranges", "debug_frame", "debug_info", "debug_line",
		"debug_pubnames", "debug_ranges", "debug_str", "debug_types",
		"debug_addr", "debug_line_str", "debug_str_offsets", "debug_rnglists", "debug_loclists",
	} {
		m[cut16("__"+n)] = dwarfSection{name: n}
		m[cut16("__z"+n)] = dwarfSection{name: n, compressed: true}
	}
	return m
})

type dwarfSection struct {
	name       string
	compressed bool
}

func cut16(s string) string { return s[:min(len(s), 16)] }

// DWARF builds a standard library DWARF reader over the image's __DWARF
// sections (DWARF 2–5; DWARF 5's .debug_addr, .debug_line_str,
// .debug_str_offsets, .debug_rnglists and .debug_loclists are added with
// AddSection, DWARF 4 type units with AddTypes). Compressed __zdebug_
// sections are inflated. Addresses in the data are absolute; subtract
// LoadAddress. The returned data may alias the mapped file and must not be
// used after Close. Without __debug_info it returns ErrNoDWARF.
func (o *Object) DWARF() (*stddwarf.Data, error) {
	secs, types, err := o.dwarfSections()
	if err != nil {
		return nil, err
	}
	d, err := stddwarf.New(secs["debug_abbrev"], secs["debug_aranges"], secs["debug_frame"],
		secs["debug_info"], secs["debug_line"], secs["debug_pubnames"], secs["debug_ranges"], secs["debug_str"])
	if err != nil {
		return nil, fmt.Errorf("macho: %s: %w", o.name, err)
	}
	for _, n := range []string{"debug_addr", "debug_line_str", "debug_str_offsets", "debug_rnglists", "debug_loclists"} {
		if b := secs[n]; b != nil {
			if err := d.AddSection("."+n, b); err != nil {
				return nil, fmt.Errorf("macho: %s: %s: %w", o.name, n, err)
			}
		}
	}
	for i, b := range types {
		if err := d.AddTypes(fmt.Sprintf("types-%d", i), b); err != nil {
			return nil, fmt.Errorf("macho: %s: debug_types: %w", o.name, err)
		}
	}
	return d, nil
}

// inflate decompresses a __zdebug_ section: "ZLIB", the uncompressed size as
// a big-endian uint64, then a zlib stream. The output grows with the data
// actually inflated, never beyond the declared size, so a forged size cannot
// drive the allocation.
func inflate(b []byte) ([]byte, error) {
	if len(b) < 12 || !strings.HasPrefix(string(b[:4]), "ZLIB") {
		return nil, errors.New("compressed section without ZLIB header")
	}
	size := binary.BigEndian.Uint64(b[4:12])
	zr, err := zlib.NewReader(bytes.NewReader(b[12:]))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var out bytes.Buffer
	out.Grow(int(min(size, uint64(len(b))*4, chunk)))
	n, err := io.Copy(&out, io.LimitReader(zr, int64(min(size, 1<<62))+1))
	if err != nil {
		return nil, err
	}
	if uint64(n) != size {
		return nil, fmt.Errorf("compressed section inflates to %d bytes, header says %d", n, size)
	}
	return out.Bytes(), nil
}

// dwarfSections reads the __DWARF sections, decompressing __zdebug ones,
// keyed by their DWARF names ("debug_info"); type-unit sections are
// returned apart because there may be several.
func (o *Object) dwarfSections() (map[string][]byte, [][]byte, error) {
	secs := make(map[string][]byte)
	var types [][]byte
	for i := range o.sections {
		s := &o.sections[i]
		if !s.present || s.seg != "__DWARF" {
			continue
		}
		ds, ok := dwarfSectionNames()[s.name]
		if !ok {
			continue
		}
		if _, dup := secs[ds.name]; dup && ds.name != "debug_types" {
			continue
		}
		b, err := o.src.bytes(s.off, s.size)
		if err != nil {
			return nil, nil, fmt.Errorf("macho: %s: section %s: %w", o.name, s.name, err)
		}
		if ds.compressed {
			if b, err = inflate(b); err != nil {
				return nil, nil, fmt.Errorf("macho: %s: section %s: %w", o.name, s.name, err)
			}
		}
		if ds.name == "debug_types" {
			types = append(types, b)
			continue
		}
		secs[ds.name] = b
	}
	if secs["debug_info"] == nil {
		return nil, nil, ErrNoDWARF
	}
	return secs, types, nil
}

// DebugSession opens the DWARF information with Cairn's bounded DWARF
// decoder (dwarf.NewSessionFromSections), addresses
// relative to LoadAddress. Without DWARF it returns a session yielding the
// symbol table as functions without lines.
func (o *Object) DebugSession() (debugfiles.DebugSession, error) {
	if o.features&debugfiles.FeatureDebug == 0 {
		return &symbolSession{o: o}, nil
	}
	secs, _, err := o.dwarfSections()
	if err != nil {
		return nil, err
	}
	var ds dwarf.Sections
	for name, b := range secs {
		ds.Add("."+name, b)
	}
	s, err := dwarf.NewSessionFromSections(&ds, dwarf.Options{LoadAddress: o.loadAddr})
	if err != nil {
		return nil, fmt.Errorf("macho: %s: %w", o.name, err)
	}
	return s, nil
}

// symbolSession is the debug session of an image without DWARF: each symbol
// is a function without lines.
type symbolSession struct{ o *Object }

func (s *symbolSession) Functions() iter.Seq2[*debugfiles.Function, error] {
	return func(yield func(*debugfiles.Function, error) bool) {
		for sym := range s.o.Symbols() {
			if !yield(&debugfiles.Function{Address: sym.Address, Size: sym.Size, Name: sym.Name}, nil) {
				return
			}
		}
	}
}

func (s *symbolSession) Close() error { return nil }
