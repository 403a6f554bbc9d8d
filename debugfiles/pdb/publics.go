package pdb

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// Public is an S_PUB32 record of the public symbol table: a linker symbol
// with its decorated (mangled) name.
type Public struct {
	Name    string
	Segment uint16
	Offset  uint32
	// Flags are CV_PUBSYMFLAGS: code, function, managed, MSIL.
	Flags uint32
	// RVA is the image address of the symbol; HasRVA is false when its
	// segment is unknown or a post-link optimizer removed it.
	RVA    uint64
	HasRVA bool
}

// IsCode reports whether the public's flags mark it as code or a
// function. Linkers leave the flags of assembly functions empty, so
// Object.Symbols goes by the section's characteristics instead.
func (p *Public) IsCode() bool { return p.Flags&(pubCode|pubFunction) != 0 }

// publicsHeaderSize is the fixed header of the publics stream
// (PublicsStreamHeader) before its symbol hash table.
const publicsHeaderSize = 28

// readPublics reads the public symbols through the publics stream's
// address map (offsets of the S_PUB32 records in the symbol record stream),
// touching only those records. Without a usable publics stream it scans
// the symbol record stream for S_PUB32 records.
func (o *Object) readPublics() ([]Public, error) {
	if o.dbi == nil || o.dbi.symStream == noStream {
		return nil, nil
	}
	syms, err := o.m.stream(int(o.dbi.symStream))
	if err != nil {
		return nil, nil
	}
	offs, err := o.publicOffsets()
	var pubs []Public
	if err == nil {
		pubs = make([]Public, 0, len(offs))
		var names nameBuf
		for _, off := range offs {
			kind, body, err := readRecord(syms, off)
			if err != nil {
				return nil, fmt.Errorf("pdb: publics: %w", err)
			}
			if p, name, ok := decodePublic(kind, body); ok {
				names.add(name)
				pubs = append(pubs, p)
			}
		}
		names.assign(pubs)
		if s, err := o.m.stream(int(o.dbi.publicStream)); err == nil {
			s.release()
		}
		syms.release()
	} else {
		if pubs, err = scanPublics(syms); err != nil {
			return nil, fmt.Errorf("pdb: publics: %w", err)
		}
	}
	for i := range pubs {
		p := &pubs[i]
		if r, ok := o.am.rva(p.Segment, p.Offset); ok {
			p.RVA, p.HasRVA = uint64(r), true
		}
	}
	slices.SortStableFunc(pubs, func(a, b Public) int { return cmp.Compare(a.RVA, b.RVA) })
	return pubs, nil
}

// publicOffsets reads the address map of the publics stream.
func (o *Object) publicOffsets() ([]uint32, error) {
	s, err := o.m.stream(int(o.dbi.publicStream))
	if o.dbi.publicStream == noStream || err != nil {
		return nil, ErrNoStream
	}
	hdr, err := s.read(0, min(publicsHeaderSize, s.size))
	if err != nil {
		return nil, err
	}
	d := newDecoder("publics", s.index, 0, hdr)
	symHash := d.u32()
	addrMap := d.u32()
	if d.err != nil {
		return nil, d.err
	}
	start := uint64(publicsHeaderSize) + uint64(symHash)
	if start+uint64(addrMap) > uint64(s.size) || addrMap%4 != 0 {
		return nil, &FormatError{Where: "publics", Stream: s.index, Msg: fmt.Sprintf("address map of %d bytes at %d in a stream of %d bytes", addrMap, start, s.size)}
	}
	b, err := s.read(uint32(start), addrMap)
	if err != nil {
		return nil, err
	}
	offs := make([]uint32, len(b)/4)
	for i := range offs {
		offs[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return offs, nil
}

// nameBuf collects the names of many symbols into one string, so that they
// cost one allocation rather than one each.
type nameBuf struct {
	buf  []byte
	ends []int
}

func (n *nameBuf) add(name []byte) {
	n.buf = append(n.buf, name...)
	n.ends = append(n.ends, len(n.buf))
}

// assign sets the names of pubs, in the order they were added.
func (n *nameBuf) assign(pubs []Public) {
	all := string(n.buf)
	start := 0
	for i, end := range n.ends {
		pubs[i].Name = all[start:end]
		start = end
	}
}

// readRecord reads the symbol record at off: its kind and contents.
func readRecord(s *stream, off uint32) (uint16, []byte, error) {
	var hdr [4]byte
	if err := s.readInto(hdr[:], off); err != nil {
		return 0, nil, err
	}
	n := uint32(binary.LittleEndian.Uint16(hdr[:]))
	if n < 2 {
		return 0, nil, &FormatError{Where: "symbol records", Stream: s.index, Offset: int64(off), Msg: fmt.Sprintf("record of %d bytes", n)}
	}
	b, err := s.read(off+4, n-2)
	if err != nil {
		return 0, nil, err
	}
	return binary.LittleEndian.Uint16(hdr[2:]), b, nil
}

// recordReader reads symbol records through a file rather than the
// mapping, a small window at a time: the publics' records are scattered
// over the stream, so that a read mostly serves one record, sometimes the
// next few.
type recordReader struct {
	s   *stream
	r   io.ReaderAt
	win []byte
	off uint32 // stream offset of win[0]
	big []byte // a record larger than the window
}

// recordWindow is the size of a recordReader's window: a few public
// records.
const recordWindow = 512

// record returns the kind and contents of the record at off, valid until
// the next call.
func (rr *recordReader) record(off uint32) (uint16, []byte, error) {
	hdr, err := rr.at(off, 4)
	if err != nil {
		return 0, nil, err
	}
	n := uint32(binary.LittleEndian.Uint16(hdr))
	if n < 2 {
		return 0, nil, &FormatError{Where: "symbol records", Stream: rr.s.index, Offset: int64(off), Msg: fmt.Sprintf("record of %d bytes", n)}
	}
	b, err := rr.at(off, 2+n)
	if err != nil {
		return 0, nil, err
	}
	return binary.LittleEndian.Uint16(b[2:]), b[4:], nil
}

// at returns the n bytes of the stream at off, moving the window to start
// at off when they lie outside it.
func (rr *recordReader) at(off, n uint32) ([]byte, error) {
	if uint64(off)+uint64(n) > uint64(rr.s.size) {
		return nil, &FormatError{Where: "stream", Stream: rr.s.index, Offset: int64(off), Msg: fmt.Sprintf("%v (%d bytes of %d)", errShort, n, rr.s.size)}
	}
	if off >= rr.off && uint64(off)+uint64(n) <= uint64(rr.off)+uint64(len(rr.win)) {
		return rr.win[off-rr.off : off-rr.off+n], nil
	}
	if n > recordWindow/2 {
		rr.big = append(rr.big[:0], make([]byte, n)...)
		if err := rr.s.readVia(rr.r, rr.big, off); err != nil {
			return nil, err
		}
		return rr.big, nil
	}
	start := off
	size := min(recordWindow, rr.s.size-start)
	if rr.win == nil {
		rr.win = make([]byte, recordWindow)
	}
	rr.win = rr.win[:size]
	if err := rr.s.readVia(rr.r, rr.win, start); err != nil {
		rr.win = rr.win[:0]
		return nil, err
	}
	rr.off = start
	return rr.win[off-start : off-start+n], nil
}

// decodePublic decodes an S_PUB32 (or old S_PUB32_ST) record; the name is
// returned apart, aliasing body.
func decodePublic(kind uint16, body []byte) (Public, []byte, bool) {
	if kind != sPub32 && kind != sPub32ST {
		return Public{}, nil, false
	}
	d := newDecoder("symbol records", -1, 0, body)
	var p Public
	p.Flags = d.u32()
	p.Offset = d.u32()
	p.Segment = d.u16()
	var name []byte
	if kind == sPub32 {
		name = d.cstring()
	} else {
		name = d.pstring()
	}
	return p, name, d.err == nil
}

// scanPublics walks the whole symbol record stream for S_PUB32 records.
func scanPublics(syms *stream) ([]Public, error) {
	data, err := syms.all()
	if err != nil {
		return nil, err
	}
	var pubs []Public
	var names nameBuf
	err = walkRecords(data, "symbol records", syms.index, 0, func(off int, kind uint16, body []byte) bool {
		if p, name, ok := decodePublic(kind, body); ok {
			names.add(name)
			pubs = append(pubs, p)
		}
		return true
	})
	names.assign(pubs)
	return pubs, err
}

// walkRecords calls fn for each CodeView record of data (a 16-bit length
// that counts the kind, a 16-bit kind, the contents) until fn returns false.
func walkRecords(data []byte, where string, stream int, base int64, fn func(off int, kind uint16, body []byte) bool) error {
	off := 0
	for off+4 <= len(data) {
		n := int(binary.LittleEndian.Uint16(data[off:]))
		kind := binary.LittleEndian.Uint16(data[off+2:])
		if n < 2 || off+2+n > len(data) {
			return &FormatError{Where: where, Stream: stream, Offset: base + int64(off), Msg: fmt.Sprintf("record of %d bytes with %d left", n, len(data)-off-2)}
		}
		if !fn(off, kind, data[off+4:off+2+n]) {
			return nil
		}
		off += 2 + n
	}
	return nil
}

// GlobalSymbol is a record of the global symbol table: a reference to a
// procedure in a module's stream (S_PROCREF, S_LPROCREF), global data
// (S_GDATA32, S_GTHREAD32), a constant or a user-defined type name.
type GlobalSymbol struct {
	Kind uint16
	Name string
	// Segment and Offset locate data symbols.
	Segment uint16
	Offset  uint32
	// Module (1-based, as recorded) and SymOffset locate the procedure a
	// reference points at in that module's symbol stream.
	Module    uint16
	SymOffset uint32
}

// Global symbol kinds decoded by Globals.
const (
	sConstant  = 0x1107
	sUDT       = 0x1108
	sLData32   = 0x110c
	sGData32   = 0x110d
	sLThread32 = 0x1112
	sGThread32 = 0x1113
	sDataRef   = 0x1126
)

// gsiHashHeaderSize is the header of a GSI hash table.
const gsiHashHeaderSize = 16

// Globals reads the global symbol table through the hash records of the
// globals stream. Records of kinds it does not decode are returned with
// their kind only.
func (o *Object) Globals() ([]GlobalSymbol, error) {
	if o.dbi == nil || o.dbi.globalStream == noStream || o.dbi.symStream == noStream {
		return nil, nil
	}
	gs, err := o.m.stream(int(o.dbi.globalStream))
	if err != nil {
		return nil, nil
	}
	syms, err := o.m.stream(int(o.dbi.symStream))
	if err != nil {
		return nil, nil
	}
	hdr, err := gs.read(0, min(gsiHashHeaderSize, gs.size))
	if err != nil {
		return nil, fmt.Errorf("pdb: globals: %w", err)
	}
	d := newDecoder("globals", gs.index, 0, hdr)
	sig := d.u32()
	d.u32()
	hrSize := d.u32()
	if d.err != nil || sig != 0xffffffff || uint64(hrSize)+gsiHashHeaderSize > uint64(gs.size) || hrSize%8 != 0 {
		return nil, fmt.Errorf("pdb: globals: %w", &FormatError{Where: "globals", Stream: gs.index, Msg: fmt.Sprintf("hash header: signature %#x, %d bytes of records", sig, hrSize)})
	}
	recs, err := gs.read(gsiHashHeaderSize, hrSize)
	if err != nil {
		return nil, fmt.Errorf("pdb: globals: %w", err)
	}
	out := make([]GlobalSymbol, 0, len(recs)/8)
	for i := 0; i+8 <= len(recs); i += 8 {
		off := binary.LittleEndian.Uint32(recs[i:])
		if off == 0 {
			continue
		}
		kind, body, err := readRecord(syms, off-1)
		if err != nil {
			return nil, fmt.Errorf("pdb: globals: %w", err)
		}
		out = append(out, decodeGlobal(kind, body))
	}
	return out, nil
}

// decodeGlobal decodes the fields of a global symbol record.
func decodeGlobal(kind uint16, body []byte) GlobalSymbol {
	g := GlobalSymbol{Kind: kind}
	d := newDecoder("symbol records", -1, 0, body)
	switch kind {
	case sProcRef, sLProcRef, sDataRef:
		d.u32() // checksum of the name
		g.SymOffset = d.u32()
		g.Module = d.u16()
		g.Name = string(d.cstring())
	case sGData32, sLData32, sGThread32, sLThread32:
		d.u32() // type
		g.Offset = d.u32()
		g.Segment = d.u16()
		g.Name = string(d.cstring())
	case sUDT:
		d.u32()
		g.Name = string(d.cstring())
	case sConstant:
		d.u32()
		d.numeric()
		g.Name = string(d.cstring())
	}
	if d.err != nil {
		g.Name = ""
	}
	return g
}

// pubRef is what a session keeps of a public symbol with an address: its
// RVA, where its record lies in the symbol record stream, and whether it
// names code. The name stays in the record until it is asked for: the
// names of a large PDB's publics are megabytes, each needed once.
type pubRef struct {
	rva  uint32
	rec  uint32
	code bool
}

// pubReleaseEvery is how many records are read from a mapped symbol
// record stream between releases of its pages: publics are read in no
// particular order of the stream, and the pages touched would otherwise
// stay resident. Releasing walks the whole stream, so not too often.
const pubReleaseEvery = 256

// readPublicRefs reads the publics with an address as readPublics does,
// through the address map or else by scanning the symbol record stream,
// and returns their references sorted stably by RVA, with the symbol
// record stream to read their names from (nil when there are none).
func (o *Object) readPublicRefs() ([]pubRef, *stream, error) {
	if o.dbi == nil || o.dbi.symStream == noStream {
		return nil, nil, nil
	}
	syms, err := o.m.stream(int(o.dbi.symStream))
	if err != nil {
		return nil, nil, nil
	}
	var refs []pubRef
	add := func(off uint32, kind uint16, body []byte) {
		p, _, ok := decodePublic(kind, body)
		if !ok {
			return
		}
		if r, ok := o.am.rva(p.Segment, p.Offset); ok {
			refs = append(refs, pubRef{rva: r, rec: off, code: o.isCode(&p)})
		}
	}
	offs, err := o.publicOffsets()
	if err == nil {
		refs = make([]pubRef, 0, len(offs))
		// The records lie all over the stream: read through the file
		// when there is one, else mapped pages are released as they
		// accumulate.
		if o.file == nil {
			syms.adviseRandom()
		}
		rr := &recordReader{s: syms, r: o.file}
		for i, off := range offs {
			var kind uint16
			var body []byte
			if o.file != nil {
				kind, body, err = rr.record(off)
			} else {
				kind, body, err = readRecord(syms, off)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("pdb: publics: %w", err)
			}
			add(off, kind, body)
			if o.file == nil && i%pubReleaseEvery == pubReleaseEvery-1 {
				syms.release()
			}
		}
		if s, err := o.m.stream(int(o.dbi.publicStream)); err == nil {
			s.release()
		}
	} else {
		data, err := syms.all()
		if err != nil {
			return nil, nil, fmt.Errorf("pdb: publics: %w", err)
		}
		err = walkRecords(data, "symbol records", syms.index, 0, func(off int, kind uint16, body []byte) bool {
			add(uint32(off), kind, body)
			return true
		})
		if err != nil {
			return nil, nil, fmt.Errorf("pdb: publics: %w", err)
		}
	}
	syms.release()
	slices.SortStableFunc(refs, func(a, b pubRef) int { return cmp.Compare(a.rva, b.rva) })
	return refs, syms, nil
}

// publicName reads the name of the public whose record is at off in the
// symbol record stream: through rr when it is not nil, else as other
// reads do.
func publicName(syms *stream, rr *recordReader, off uint32) (string, error) {
	var kind uint16
	var body []byte
	var err error
	if rr == nil {
		kind, body, err = readRecord(syms, off)
	} else {
		kind, body, err = rr.record(off)
	}
	if err != nil {
		return "", fmt.Errorf("pdb: publics: %w", err)
	}
	_, name, ok := decodePublic(kind, body)
	if !ok {
		return "", fmt.Errorf("pdb: publics: %w", &FormatError{Where: "symbol records", Stream: syms.index, Offset: int64(off), Msg: "not a public symbol any more"})
	}
	return string(name), nil
}
