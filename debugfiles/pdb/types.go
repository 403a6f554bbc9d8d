package pdb

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// tpiHeaderSize is the size of the TPI/IPI stream header.
const tpiHeaderSize = 56

// firstTypeIndex is the first index of a type record; smaller indexes name
// built-in (simple) types.
const firstTypeIndex = 0x1000

// sparseStep is how many records apart the entries of an index built by
// scanning a type stream lie: a lookup reads at most this many record
// headers.
const sparseStep = 32

// maxHashStep is the largest number of records between two entries of a
// hash stream's index that is used: writers put one about every 8 KiB of
// records, and a sparser (hostile) index would make every lookup walk far.
const maxHashStep = 4096

// typeStream reads records of the TPI (types) or IPI (ids) stream by index.
// Only the records asked for are read: an index of record offsets every so
// many records, taken from the stream's hash stream or built by one scan
// of the record headers, bounds the walk to a record.
type typeStream struct {
	s        *stream
	where    string
	begin    uint32
	end      uint32
	recStart uint32
	recEnd   uint32
	hashIdx  uint16
	idxOff   int32
	idxLen   uint32
	m        *msf

	indexed bool
	idx     []tiOffset
	idxErr  error
	// gaps holds, for each stretch between two index entries that a lookup
	// has visited, the offsets of all its records: the stretch is read and
	// walked once, later lookups in it are direct.
	gaps  [][]uint32
	names map[uint32]string
}

// tiOffset locates the record of type index ti at stream offset off.
type tiOffset struct{ ti, off uint32 }

// openTypeStream decodes a TPI or IPI header; the records are read on
// demand.
func openTypeStream(m *msf, index int, where string) (*typeStream, error) {
	s, err := m.stream(index)
	if err != nil {
		return nil, err
	}
	hdr, err := s.read(0, min(tpiHeaderSize, s.size))
	if err != nil {
		return nil, err
	}
	d := newDecoder(where, index, 0, hdr)
	d.u32() // version
	t := &typeStream{s: s, where: where, m: m, names: map[uint32]string{}}
	t.recStart = d.u32()
	t.begin = d.u32()
	t.end = d.u32()
	recBytes := d.u32()
	t.hashIdx = d.u16()
	d.u16() // aux hash stream
	d.u32() // hash key size
	d.u32() // buckets
	d.u32()
	d.u32() // hash values
	t.idxOff = int32(d.u32())
	t.idxLen = d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if t.recStart < tpiHeaderSize || uint64(t.recStart)+uint64(recBytes) > uint64(s.size) {
		return nil, &FormatError{Where: where, Stream: index, Offset: 4, Msg: fmt.Sprintf("header of %d bytes and %d bytes of records in a stream of %d bytes", t.recStart, recBytes, s.size)}
	}
	t.recEnd = t.recStart + recBytes
	// Every record takes at least 4 bytes.
	if t.end < t.begin || uint64(t.end-t.begin) > uint64(recBytes/4) {
		return nil, &FormatError{Where: where, Stream: index, Offset: 8, Msg: fmt.Sprintf("type indexes %#x-%#x for %d bytes of records", t.begin, t.end, recBytes)}
	}
	return t, nil
}

// forget empties the caches of names and record offsets; the index of
// every sparseStep-th record is kept.
func (t *typeStream) forget() {
	clear(t.names)
	clear(t.gaps)
}

// buildIndex prepares the record index, from the hash stream's index
// offset buffer when it is valid, else by scanning the record headers.
func (t *typeStream) buildIndex() error {
	if t.indexed {
		return t.idxErr
	}
	t.indexed = true
	if idx, ok := t.hashIndex(); ok {
		t.idx = idx
		return nil
	}
	t.idx, t.idxErr = t.scanIndex()
	return t.idxErr
}

// hashIndex reads the (type index, offset) pairs of the hash stream.
func (t *typeStream) hashIndex() ([]tiOffset, bool) {
	hs, err := t.m.stream(int(t.hashIdx))
	if t.hashIdx == noStream || err != nil || t.idxOff < 0 || t.idxLen%8 != 0 || uint64(uint32(t.idxOff))+uint64(t.idxLen) > uint64(hs.size) {
		return nil, false
	}
	b, err := hs.read(uint32(t.idxOff), t.idxLen)
	if err != nil {
		return nil, false
	}
	idx := make([]tiOffset, 0, len(b)/8+1)
	idx = append(idx, tiOffset{t.begin, t.recStart})
	for i := 0; i+8 <= len(b); i += 8 {
		e := tiOffset{binary.LittleEndian.Uint32(b[i:]), binary.LittleEndian.Uint32(b[i+4:])}
		if uint64(e.off)+uint64(t.recStart) >= uint64(t.recEnd) || e.ti < t.begin || e.ti >= t.end {
			return nil, false
		}
		e.off += t.recStart
		last := idx[len(idx)-1]
		if e.ti == last.ti && e.off == last.off {
			continue
		}
		if e.ti <= last.ti || e.off <= last.off || e.off-last.off < 4*(e.ti-last.ti) || e.ti-last.ti > maxHashStep {
			return nil, false
		}
		idx = append(idx, e)
	}
	if t.end-idx[len(idx)-1].ti > maxHashStep {
		return nil, false
	}
	return idx, true
}

// scanIndex walks every record header once, keeping every sparseStep-th
// offset.
func (t *typeStream) scanIndex() ([]tiOffset, error) {
	n := t.end - t.begin
	idx := make([]tiOffset, 0, n/sparseStep+1)
	off := t.recStart
	var hdr [2]byte
	for ti := t.begin; ti < t.end; ti++ {
		if (ti-t.begin)%sparseStep == 0 {
			idx = append(idx, tiOffset{ti, off})
		}
		if off+2 > t.recEnd {
			return nil, &FormatError{Where: t.where, Stream: t.s.index, Offset: int64(off), Msg: fmt.Sprintf("record %#x past the end of the records", ti)}
		}
		if err := t.s.readInto(hdr[:], off); err != nil {
			return nil, err
		}
		off += 2 + uint32(binary.LittleEndian.Uint16(hdr[:]))
	}
	return idx, nil
}

// record returns the kind and the contents (after the kind) of record ti.
func (t *typeStream) record(ti uint32) (uint16, []byte, error) {
	if ti < t.begin || ti >= t.end {
		return 0, nil, &FormatError{Where: t.where, Stream: t.s.index, Msg: fmt.Sprintf("type index %#x outside %#x-%#x", ti, t.begin, t.end)}
	}
	if err := t.buildIndex(); err != nil {
		return 0, nil, err
	}
	g := sort.Search(len(t.idx), func(i int) bool { return t.idx[i].ti > ti }) - 1
	if g < 0 {
		g = 0
	}
	if t.gaps == nil {
		t.gaps = make([][]uint32, len(t.idx))
	}
	if t.gaps[g] == nil {
		offs, err := t.walkGap(g)
		if err != nil {
			return 0, nil, err
		}
		t.gaps[g] = offs
	}
	k := ti - t.idx[g].ti
	if k >= uint32(len(t.gaps[g])) {
		return 0, nil, &FormatError{Where: t.where, Stream: t.s.index, Offset: int64(t.idx[g].off), Msg: fmt.Sprintf("record %#x not found", ti)}
	}
	off := t.gaps[g][k]
	var hdr [2]byte
	if err := t.s.readInto(hdr[:], off); err != nil {
		return 0, nil, err
	}
	n := uint32(binary.LittleEndian.Uint16(hdr[:]))
	if n < 2 || uint64(off)+2+uint64(n) > uint64(t.recEnd) {
		return 0, nil, &FormatError{Where: t.where, Stream: t.s.index, Offset: int64(off), Msg: fmt.Sprintf("record %#x of %d bytes", ti, n)}
	}
	b, err := t.s.read(off+2, n)
	if err != nil {
		return 0, nil, err
	}
	return binary.LittleEndian.Uint16(b), b[2:], nil
}

// walkGap reads the records from index entry g to the next (or to the end
// of the records) and returns their offsets.
func (t *typeStream) walkGap(g int) ([]uint32, error) {
	start, first := t.idx[g].off, t.idx[g].ti
	end, last := t.recEnd, t.end
	if g+1 < len(t.idx) {
		end, last = t.idx[g+1].off, t.idx[g+1].ti
	}
	if end < start || end > t.recEnd {
		return nil, &FormatError{Where: t.where, Stream: t.s.index, Offset: int64(start), Msg: "index entries out of order"}
	}
	data, err := t.s.read(start, end-start)
	if err != nil {
		return nil, err
	}
	offs := make([]uint32, 0, min(uint64(last-first), uint64(len(data)/4)))
	pos := 0
	for ti := first; ti < last; ti++ {
		if pos+4 > len(data) {
			return nil, &FormatError{Where: t.where, Stream: t.s.index, Offset: int64(start) + int64(pos), Msg: fmt.Sprintf("record %#x past the end of its stretch", ti)}
		}
		offs = append(offs, start+uint32(pos))
		pos += 2 + int(binary.LittleEndian.Uint16(data[pos:]))
	}
	return offs, nil
}

// idName returns the name an IPI id record gives a function or scope:
// LF_FUNC_ID qualified by its parent scope (an LF_STRING_ID naming the
// namespace), LF_MFUNC_ID qualified by its class type's name from tpi, the
// string of an LF_STRING_ID. Names are "" for records that cannot be read.
func (t *typeStream) idName(id uint32, tpi *typeStream) string {
	if s, ok := t.names[id]; ok {
		return s
	}
	s := t.idNameUncached(id, tpi, true)
	t.names[id] = s
	return s
}

func (t *typeStream) idNameUncached(id uint32, tpi *typeStream, qualify bool) string {
	kind, b, err := t.record(id)
	if err != nil {
		return ""
	}
	d := newDecoder(t.where, t.s.index, 0, b)
	switch kind {
	case lfFuncID:
		scope := d.u32()
		d.u32() // function type
		name := string(d.cstring())
		if qualify && scope != 0 {
			if p := t.idNameUncached(scope, tpi, false); p != "" {
				return p + "::" + name
			}
		}
		return name
	case lfMFuncID:
		class := d.u32()
		d.u32()
		name := string(d.cstring())
		if qualify && tpi != nil {
			if p := tpi.typeName(class); p != "" {
				return p + "::" + name
			}
		}
		return name
	case lfStringID:
		d.u32() // substring list
		return string(d.cstring())
	}
	return ""
}

// typeName returns the name of a class, structure, interface, union or
// enum record, "" for other records.
func (t *typeStream) typeName(ti uint32) string {
	if ti < firstTypeIndex {
		return ""
	}
	if s, ok := t.names[ti]; ok {
		return s
	}
	kind, b, err := t.record(ti)
	name := ""
	if err == nil {
		d := newDecoder(t.where, t.s.index, 0, b)
		switch kind {
		case lfClass, lfStructure, lfInterface:
			d.skip(2 + 2 + 4 + 4 + 4)
			d.numeric()
			name = string(d.cstring())
		case lfUnion:
			d.skip(2 + 2 + 4)
			d.numeric()
			name = string(d.cstring())
		case lfEnum:
			d.skip(2 + 2 + 4 + 4)
			name = string(d.cstring())
		}
		if d.err != nil {
			name = ""
		}
	}
	t.names[ti] = name
	return name
}
