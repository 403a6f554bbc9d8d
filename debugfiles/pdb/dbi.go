package pdb

import (
	"fmt"
	"strings"
)

// dbiHeaderSize is the size of the DBI stream header.
const dbiHeaderSize = 64

// Optional debug header slots: stream indexes of the image's debug data the
// linker copied into the PDB.
const (
	dbgFPO = iota
	dbgException
	dbgFixup
	dbgOmapToSrc
	dbgOmapFromSrc
	dbgSectionHdr
	dbgTokenRIDMap
	dbgXdata
	dbgPdata
	dbgNewFPO
	dbgSectionHdrOrig
	numDbgStreams
)

// Section contribution substream versions.
const (
	secContribVer60 = 0xeffe0000 + 19970605
	secContribV2    = 0xeffe0000 + 20140516
)

// noStream marks an absent stream in 16-bit stream index fields.
const noStream = 0xffff

// dbi is the decoded DBI stream (stream 3) header and the substreams read
// when the PDB is opened; section contributions and the section map are
// decoded on request.
type dbi struct {
	age          uint32
	globalStream uint16
	publicStream uint16
	symStream    uint16
	buildNumber  uint16
	flags        uint16
	machine      uint16
	modules      []Module
	// Raw substreams decoded on request (aliasing the stream data).
	secContrib []byte
	secMap     []byte
	fileInfo   []byte
	// dbgStreams holds the optional debug header's stream indexes,
	// noStream where absent.
	dbgStreams [numDbgStreams]uint16
	// offsets of the substreams in the stream, for error positions.
	secContribOff, secMapOff int64
}

// Module is one compiland of the DBI module list: an object file or an
// archive member, or the linker's own "* Linker *" module.
type Module struct {
	// Name is the module name (the object file, or "* Linker *"); ObjFile
	// is the object or archive it came from.
	Name    string
	ObjFile string
	// Stream is the module's symbol stream, or -1 when it has none.
	Stream int
	// SymBytes, C11Bytes and C13Bytes size the parts of the module stream:
	// the symbols (with their 4-byte signature), old-style and C13 lines.
	SymBytes uint32
	C11Bytes uint32
	C13Bytes uint32
	// SourceFiles is the number of source files the module lists.
	SourceFiles uint16
	Flags       uint16
	// Contribution is the module's first section contribution.
	Contribution SectionContribution
}

// SectionContribution is a range of an image section that one module
// contributed.
type SectionContribution struct {
	Section         uint16
	Offset          uint32
	Size            uint32
	Characteristics uint32
	Module          uint16
	DataCRC         uint32
	RelocCRC        uint32
}

// SectionMapEntry is an entry of the DBI section map, describing a logical
// segment of the image.
type SectionMapEntry struct {
	Flags       uint16
	Overlay     uint16
	Group       uint16
	Frame       uint16
	SectionName uint16
	ClassName   uint16
	Offset      uint32
	Length      uint32
}

// parseDBI decodes the DBI header, the module list and the optional debug
// header; every substream size is checked against the stream.
func parseDBI(data []byte) (*dbi, error) {
	d := newDecoder("dbi", streamDBI, 0, data)
	sig := int32(d.u32())
	version := d.u32()
	x := &dbi{}
	x.age = d.u32()
	x.globalStream = d.u16()
	x.buildNumber = d.u16()
	x.publicStream = d.u16()
	d.u16() // PDB DLL version
	x.symStream = d.u16()
	d.u16() // PDB DLL rebuild
	var sizes [6]int32
	for i := range 5 {
		sizes[i] = int32(d.u32())
	}
	d.u32() // MFC type server index
	optSize := int32(d.u32())
	ecSize := int32(d.u32())
	x.flags = d.u16()
	x.machine = d.u16()
	d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if sig != -1 {
		return nil, &FormatError{Where: "dbi", Stream: streamDBI, Msg: fmt.Sprintf("signature %#x, version %d: only the new DBI format is read", uint32(sig), version)}
	}
	sizes[5] = ecSize
	// Substreams in file order: modules, section contributions, section
	// map, file info, type server map, EC, then the optional debug header.
	order := []int32{sizes[0], sizes[1], sizes[2], sizes[3], sizes[4], ecSize, optSize}
	var subs [7][]byte
	var offs [7]int64
	for i, n := range order {
		if n < 0 || int(n) > d.left() {
			return nil, &FormatError{Where: "dbi", Stream: streamDBI, Offset: int64(d.pos), Msg: fmt.Sprintf("substream %d of %d bytes, %d left", i, n, d.left())}
		}
		offs[i] = int64(d.pos)
		subs[i] = d.bytes(int(n))
	}
	mods, err := parseModules(subs[0])
	if err != nil {
		return nil, err
	}
	x.modules = mods
	x.secContrib, x.secContribOff = subs[1], offs[1]
	x.secMap, x.secMapOff = subs[2], offs[2]
	x.fileInfo = subs[3]
	for i := range x.dbgStreams {
		x.dbgStreams[i] = noStream
	}
	od := newDecoder("dbi optional debug header", streamDBI, offs[6], subs[6])
	for i := 0; i < numDbgStreams && od.left() >= 2; i++ {
		x.dbgStreams[i] = od.u16()
	}
	return x, nil
}

// moduleHeaderSize is the fixed part of a module info entry.
const moduleHeaderSize = 64

// parseModules decodes the module info substream.
func parseModules(data []byte) ([]Module, error) {
	d := newDecoder("dbi module info", streamDBI, dbiHeaderSize, data)
	// Every entry takes at least its header and two NULs.
	mods := make([]Module, 0, len(data)/(moduleHeaderSize+2))
	for d.left() >= moduleHeaderSize && d.err == nil {
		var m Module
		d.u32() // unused
		m.Contribution = decodeContribution(&d, false)
		m.Flags = d.u16()
		m.Stream = int(d.u16())
		if m.Stream == noStream {
			m.Stream = -1
		}
		m.SymBytes = d.u32()
		m.C11Bytes = d.u32()
		m.C13Bytes = d.u32()
		m.SourceFiles = d.u16()
		d.u16()
		d.u32()
		d.u32() // source file name index
		d.u32() // PDB file path name index
		m.Name = string(d.cstring())
		m.ObjFile = string(d.cstring())
		d.align(4)
		if d.err != nil {
			break
		}
		mods = append(mods, m)
	}
	if d.err != nil {
		return nil, fmt.Errorf("module %d: %w", len(mods), d.err)
	}
	return mods, nil
}

// decodeContribution reads one section contribution entry (the V2 form
// adds the COFF section index).
func decodeContribution(d *decoder, v2 bool) SectionContribution {
	var c SectionContribution
	c.Section = d.u16()
	d.u16()
	c.Offset = d.u32()
	c.Size = d.u32()
	c.Characteristics = d.u32()
	c.Module = d.u16()
	d.u16()
	c.DataCRC = d.u32()
	c.RelocCRC = d.u32()
	if v2 {
		d.u32()
	}
	return c
}

// sectionContributions decodes the section contribution substream.
func (x *dbi) sectionContributions() ([]SectionContribution, error) {
	if len(x.secContrib) == 0 {
		return nil, nil
	}
	d := newDecoder("dbi section contributions", streamDBI, x.secContribOff, x.secContrib)
	ver := d.u32()
	entry := 28
	switch ver {
	case secContribVer60:
	case secContribV2:
		entry = 32
	default:
		return nil, &FormatError{Where: "dbi section contributions", Stream: streamDBI, Offset: x.secContribOff, Msg: fmt.Sprintf("unknown version %#x", ver)}
	}
	out := make([]SectionContribution, 0, d.left()/entry)
	for d.left() >= entry {
		out = append(out, decodeContribution(&d, ver == secContribV2))
	}
	return out, d.err
}

// sectionMap decodes the section map substream.
func (x *dbi) sectionMap() ([]SectionMapEntry, error) {
	if len(x.secMap) == 0 {
		return nil, nil
	}
	d := newDecoder("dbi section map", streamDBI, x.secMapOff, x.secMap)
	count := d.u16()
	d.u16() // logical segment count
	if int(count) > d.left()/20 {
		return nil, &FormatError{Where: "dbi section map", Stream: streamDBI, Offset: x.secMapOff, Msg: fmt.Sprintf("%d entries in %d bytes", count, d.left())}
	}
	out := make([]SectionMapEntry, count)
	for i := range out {
		e := &out[i]
		e.Flags, e.Overlay, e.Group, e.Frame = d.u16(), d.u16(), d.u16(), d.u16()
		e.SectionName, e.ClassName = d.u16(), d.u16()
		e.Offset, e.Length = d.u32(), d.u32()
	}
	return out, d.err
}

// isLinkerModule reports the module the linker adds for its own symbols.
func isLinkerModule(m *Module) bool { return strings.EqualFold(m.Name, "* Linker *") }
