package pe

import (
	"bytes"
	"encoding/binary"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
)

// Debug directory entry types this package interprets.
const (
	// DebugTypeCodeView is IMAGE_DEBUG_TYPE_CODEVIEW: a CodeView record
	// naming the PDB.
	DebugTypeCodeView = 2
	// DebugTypeRepro is IMAGE_DEBUG_TYPE_REPRO, written by reproducible
	// links (/Brepro).
	DebugTypeRepro = 16
)

// debugEntrySize is the size of IMAGE_DEBUG_DIRECTORY.
const debugEntrySize = 28

// maxDebugEntries bounds the debug directory; real images have a handful.
const maxDebugEntries = 1024

// ppdbMinorVersion marks a CodeView entry of an image whose PDB is a
// Portable PDB (.NET): the entry's TimeDateStamp takes the place of the age.
const ppdbMinorVersion = 0x504d

// DebugDirectoryEntry is one IMAGE_DEBUG_DIRECTORY record.
type DebugDirectoryEntry struct {
	Characteristics  uint32
	TimeDateStamp    uint32
	MajorVersion     uint16
	MinorVersion     uint16
	Type             uint32
	SizeOfData       uint32
	AddressOfRawData uint32
	PointerToRawData uint32
}

// CodeView is the CodeView record of a debug directory: PDB 7.0 ("RSDS",
// a GUID) or PDB 2.0 ("NB10", a 32-bit signature).
type CodeView struct {
	// Format is "RSDS" or "NB10".
	Format string
	// GUID is the PDB's GUID as stored (Data1–Data3 little-endian); zero
	// for NB10.
	GUID [16]byte
	// Signature is the NB10 signature (a time stamp); zero for RSDS.
	Signature uint32
	Age       uint32
	// Path is the PDB path the linker wrote.
	Path string
	// Entry is the debug directory entry holding the record.
	Entry DebugDirectoryEntry
}

// DebugDirectory returns the entries of the debug directory, in order.
func (o *Object) DebugDirectory() []DebugDirectoryEntry { return o.debugDir }

// CodeView returns the first CodeView record of the debug directory.
func (o *Object) CodeView() (CodeView, bool) { return o.cv, o.cvOK }

// readDebugDirectory decodes the debug directory and its first readable
// CodeView record. A malformed directory yields what was read before it.
func (o *Object) readDebugDirectory() ([]DebugDirectoryEntry, CodeView, bool) {
	d := dataDirectory(o.f, dirDebug)
	if d.VirtualAddress == 0 || d.Size < debugEntrySize {
		return nil, CodeView{}, false
	}
	n := min(d.Size/debugEntrySize, maxDebugEntries)
	raw, err := o.readRVAUpTo(d.VirtualAddress, uint64(n)*debugEntrySize)
	if err != nil {
		return nil, CodeView{}, false
	}
	var entries []DebugDirectoryEntry
	var cv CodeView
	found := false
	for len(raw) >= debugEntrySize {
		b := buf{b: raw[:debugEntrySize]}
		e := DebugDirectoryEntry{
			Characteristics: b.u32(), TimeDateStamp: b.u32(), MajorVersion: b.u16(), MinorVersion: b.u16(),
			Type: b.u32(), SizeOfData: b.u32(), AddressOfRawData: b.u32(), PointerToRawData: b.u32(),
		}
		raw = raw[debugEntrySize:]
		entries = append(entries, e)
		if e.Type == DebugTypeCodeView && !found {
			if c, ok := o.readCodeView(e); ok {
				cv, found = c, true
			}
		}
	}
	return entries, cv, found
}

// maxCodeView bounds a CodeView record: a header and a path.
const maxCodeView = 24 + 4096

// readCodeView decodes the record an entry points at: by file offset
// (PointerToRawData) as the loader-independent readers do, else by RVA.
func (o *Object) readCodeView(e DebugDirectoryEntry) (CodeView, bool) {
	n := uint64(min(e.SizeOfData, maxCodeView))
	var raw []byte
	var err error
	if off := uint64(e.PointerToRawData); off != 0 {
		if off >= uint64(o.size) {
			return CodeView{}, false
		}
		raw, err = o.readAt(off, min(n, uint64(o.size)-off))
	} else {
		raw, err = o.readRVAUpTo(e.AddressOfRawData, n)
	}
	if err != nil || len(raw) < 4 {
		return CodeView{}, false
	}
	cv := CodeView{Format: string(raw[:4]), Entry: e}
	var path []byte
	switch cv.Format {
	case "RSDS":
		if len(raw) < 24 {
			return CodeView{}, false
		}
		copy(cv.GUID[:], raw[4:20])
		cv.Age = binary.LittleEndian.Uint32(raw[20:])
		path = raw[24:]
	case "NB10":
		if len(raw) < 16 {
			return CodeView{}, false
		}
		// raw[4:8] is an offset that is always zero.
		cv.Signature = binary.LittleEndian.Uint32(raw[8:])
		cv.Age = binary.LittleEndian.Uint32(raw[12:])
		path = raw[16:]
	default:
		return CodeView{}, false
	}
	if i := bytes.IndexByte(path, 0); i >= 0 {
		path = path[:i]
	}
	cv.Path = string(path)
	return cv, true
}

// computeDebugID derives the debug id from the CodeView record: the RSDS
// GUID and age; for a Portable PDB entry the entry's time stamp replaces
// the age, as Sentry does; for NB10 the signature fills the first four
// bytes of the GUID (the rest zero), with the record's age.
func (o *Object) computeDebugID() debugid.ID {
	if !o.cvOK {
		return debugid.ID{}
	}
	switch o.cv.Format {
	case "RSDS":
		age := o.cv.Age
		if o.cv.Entry.MinorVersion == ppdbMinorVersion {
			age = o.cv.Entry.TimeDateStamp
		}
		return debugid.FromGUID(o.cv.GUID, age)
	case "NB10":
		var id debugid.ID
		binary.BigEndian.PutUint32(id.GUID[:4], o.cv.Signature)
		id.Age = o.cv.Age
		return id
	}
	return debugid.ID{}
}
