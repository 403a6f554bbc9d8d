package dwarf

import "fmt"

// Section identifiers of a .debug_cu_index (DWARF 5 section 7.3.5.3; the
// GNU version 2 format differs from RNGLISTS on).
const (
	sectInfo       = 1
	sectAbbrev     = 3
	sectLine       = 4
	sectStrOffsets = 6
	sectRngLists5  = 8 // DWARF 5 only; 8 is DW_SECT_MACRO in version 2
)

// Package is a .dwp split-DWARF package: the .dwo data of many units in
// shared sections, with a .debug_cu_index locating each unit's
// contributions by DWO id.
type Package struct {
	sec     *Sections
	version uint32
	cols    []uint32
	offs    []uint32 // unit rows × columns
	sizes   []uint32
	rows    map[uint64]uint32 // DWO id → row
}

// NewPackage reads the unit index of a .dwp package's sections.
func NewPackage(s *Sections) (*Package, error) {
	if s == nil || len(s.CUIndex) == 0 {
		return nil, fmt.Errorf("dwarf: package has no .debug_cu_index")
	}
	// The version says the byte order: 2 (a 4-byte field) or 5 (2 bytes
	// and 2 of padding) read little-endian, or their big-endian forms.
	var be bool
	if v := s.CUIndex; len(v) >= 4 && v[0] == 0 && (v[1] == 5 || v[3] == 2) {
		be = true
	}
	b := makeBuf(".debug_cu_index", s.CUIndex, 0, be)
	p := &Package{sec: s}
	p.version = b.u32()
	if be && p.version == 5<<16 {
		p.version = 5
	}
	ncols, nunits, nslots := b.u32(), b.u32(), b.u32()
	if b.err != nil {
		return nil, fmt.Errorf("dwarf: package: %w", b.err)
	}
	if p.version != 2 && p.version != 5 {
		return nil, fmt.Errorf("dwarf: package: unsupported unit index version %d", p.version)
	}
	need := 16 + 12*uint64(nslots) + 4*uint64(ncols) + 8*uint64(nunits)*uint64(ncols)
	if need > uint64(len(s.CUIndex)) {
		return nil, fmt.Errorf("dwarf: package: unit index needs %d bytes, has %d", need, len(s.CUIndex))
	}
	ids := make([]uint64, nslots)
	for i := range ids {
		ids[i] = b.u64()
	}
	p.rows = make(map[uint64]uint32, min(nunits, nslots))
	for i := range ids {
		row := b.u32()
		if row == 0 {
			continue
		}
		if row > nunits {
			return nil, fmt.Errorf("dwarf: package: slot %d names unit %d of %d", i, row, nunits)
		}
		p.rows[ids[i]] = row - 1
	}
	p.cols = make([]uint32, ncols)
	for i := range p.cols {
		p.cols[i] = b.u32()
	}
	p.offs = make([]uint32, uint64(nunits)*uint64(ncols))
	for i := range p.offs {
		p.offs[i] = b.u32()
	}
	p.sizes = make([]uint32, len(p.offs))
	for i := range p.sizes {
		p.sizes[i] = b.u32()
	}
	if b.err != nil {
		return nil, fmt.Errorf("dwarf: package: %w", b.err)
	}
	return p, nil
}

// Units is the number of units the package indexes.
func (p *Package) Units() int { return len(p.rows) }

// Resolve returns the sections of the unit with DWO id id, each cut to the
// unit's contribution (the string section is shared whole). It has the
// signature of Options.ResolveDWOSections; name and compDir are not needed
// to search a package. An unknown id yields ErrNoDWO.
func (p *Package) Resolve(name, compDir string, id uint64) (*Sections, error) {
	row, ok := p.rows[id]
	if !ok || id == 0 {
		return nil, ErrNoDWO
	}
	out := &Sections{Str: p.sec.Str, pkg: p}
	n := uint64(len(p.cols))
	for c, col := range p.cols {
		var src []byte
		var dst *[]byte
		switch {
		case col == sectInfo:
			src, dst = p.sec.Info, &out.Info
		case col == sectAbbrev:
			src, dst = p.sec.Abbrev, &out.Abbrev
		case col == sectLine:
			src, dst = p.sec.Line, &out.Line
		case col == sectStrOffsets:
			src, dst = p.sec.StrOffsets, &out.StrOffsets
		case col == sectRngLists5 && p.version == 5:
			src, dst = p.sec.RngLists, &out.RngLists
		default:
			continue
		}
		off := uint64(p.offs[uint64(row)*n+uint64(c)])
		size := uint64(p.sizes[uint64(row)*n+uint64(c)])
		if off+size > uint64(len(src)) {
			return nil, fmt.Errorf("dwarf: package: unit %#x: contribution %d+%d past section end %d", id, off, size, len(src))
		}
		*dst = src[off : off+size : off+size]
	}
	if len(out.Info) == 0 {
		return nil, fmt.Errorf("dwarf: package: unit %#x has no .debug_info contribution", id)
	}
	return out, nil
}
