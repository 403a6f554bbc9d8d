package pdb

import (
	"bytes"
	"sort"
)

// Section characteristics that mark code.
const (
	scnCntCode    = 0x00000020
	scnMemExecute = 0x20000000
)

// SectionHeader is an image section header as the linker copied it into the
// PDB (IMAGE_SECTION_HEADER).
type SectionHeader struct {
	Name            string
	VirtualSize     uint32
	VirtualAddress  uint32
	SizeOfRawData   uint32
	PointerToRaw    uint32
	Characteristics uint32
}

// Executable reports whether the section holds code.
func (s *SectionHeader) Executable() bool {
	return s.Characteristics&(scnCntCode|scnMemExecute) != 0
}

// sectionHeaderSize is the size of IMAGE_SECTION_HEADER.
const sectionHeaderSize = 40

// parseSectionHeaders decodes a section header stream.
func parseSectionHeaders(data []byte, index int) ([]SectionHeader, error) {
	d := newDecoder("section headers", index, 0, data)
	out := make([]SectionHeader, 0, len(data)/sectionHeaderSize)
	for d.left() >= sectionHeaderSize {
		var s SectionHeader
		name := d.bytes(8)
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		s.Name = string(name)
		s.VirtualSize = d.u32()
		s.VirtualAddress = d.u32()
		s.SizeOfRawData = d.u32()
		s.PointerToRaw = d.u32()
		d.u32() // relocations
		d.u32() // line numbers
		d.u16()
		d.u16()
		s.Characteristics = d.u32()
		out = append(out, s)
	}
	return out, d.err
}

// omapEntry maps an address range starting at from to one starting at to;
// to == 0 marks addresses that were removed.
type omapEntry struct{ from, to uint32 }

// parseOMAP decodes an OMAP stream: pairs sorted by from. Unsorted tables
// are sorted, as their lookups need.
func parseOMAP(data []byte, index int) ([]omapEntry, error) {
	d := newDecoder("omap", index, 0, data)
	out := make([]omapEntry, 0, len(data)/8)
	for d.left() >= 8 {
		out = append(out, omapEntry{d.u32(), d.u32()})
	}
	if !sort.SliceIsSorted(out, func(i, j int) bool { return out[i].from < out[j].from }) {
		sort.SliceStable(out, func(i, j int) bool { return out[i].from < out[j].from })
	}
	return out, d.err
}

// addressMap turns the segment:offset addresses of symbols and lines into
// image RVAs. Without OMAP, segment n is section header n-1 of the image.
// A PDB whose image was rewritten after linking (by a post-link optimizer)
// carries the original section headers and an OMAP from the original
// ("source") addresses to the final ones: the section headers then locate
// addresses in the original layout and the OMAP moves them.
type addressMap struct {
	sections []SectionHeader
	omap     []omapEntry // from source addresses; nil without OMAP
}

// srcRVA is the address of seg:off before OMAP translation.
func (m *addressMap) srcRVA(seg uint16, off uint32) (uint32, bool) {
	if seg == 0 || int(seg) > len(m.sections) {
		return 0, false
	}
	va := m.sections[seg-1].VirtualAddress
	r := va + off
	if r < va {
		return 0, false
	}
	return r, true
}

// rva is the final image address of seg:off, or false when the address
// is unknown or was removed by a post-link optimizer.
func (m *addressMap) rva(seg uint16, off uint32) (uint32, bool) {
	r, ok := m.srcRVA(seg, off)
	if !ok {
		return 0, false
	}
	return m.translate(r)
}

// translate applies the OMAP to a source address.
func (m *addressMap) translate(r uint32) (uint32, bool) {
	if m.omap == nil {
		return r, true
	}
	i := sort.Search(len(m.omap), func(i int) bool { return m.omap[i].from > r }) - 1
	if i < 0 || m.omap[i].to == 0 {
		return 0, false
	}
	return m.omap[i].to + (r - m.omap[i].from), true
}

// span is a half-open address range.
type span struct{ start, end uint64 }

// translateRange maps the source range [start, end) to the final ranges it
// became, in source order, adjacent pieces merged.
func (m *addressMap) translateRange(start, end uint64, dst []span) []span {
	dst = dst[:0]
	if end <= start {
		return dst
	}
	if m.omap == nil {
		return append(dst, span{start, end})
	}
	i := sort.Search(len(m.omap), func(i int) bool { return uint64(m.omap[i].from) > start }) - 1
	if i < 0 {
		i = 0
	}
	for ; i < len(m.omap); i++ {
		e := m.omap[i]
		lo := uint64(e.from)
		if lo >= end {
			break
		}
		hi := end
		if i+1 < len(m.omap) {
			hi = min(hi, uint64(m.omap[i+1].from))
		}
		lo = max(lo, start)
		if lo >= hi || e.to == 0 {
			continue
		}
		t0 := uint64(e.to) + (lo - uint64(e.from))
		t1 := t0 + (hi - lo)
		if n := len(dst); n > 0 && dst[n-1].end == t0 {
			dst[n-1].end = t1
			continue
		}
		dst = append(dst, span{t0, t1})
	}
	return dst
}
