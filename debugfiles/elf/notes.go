package elf

import (
	stdelf "debug/elf"
	"encoding/binary"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
)

const (
	// ntGNUBuildID is the note type of a GNU build id.
	ntGNUBuildID = 3
	// maxNoteSize caps how much of a note segment or section is read.
	maxNoteSize = 1 << 20
)

// findBuildID returns the descriptor of the first NT_GNU_BUILD_ID note in a
// PT_NOTE segment, else in the .note.gnu.build-id section, or nil.
func (o *Object) findBuildID() []byte {
	for _, p := range o.f.Progs {
		if p.Type != stdelf.PT_NOTE || p.Filesz == 0 || p.Filesz > maxNoteSize {
			continue
		}
		b, err := o.readAt(p.Off, p.Filesz)
		if err != nil {
			continue
		}
		if id, ok := findNote(b, o.f.ByteOrder, p.Align, ntGNUBuildID); ok {
			return id
		}
	}
	for _, s := range o.f.Sections {
		if s.Name != ".note.gnu.build-id" || s.Type != stdelf.SHT_NOTE || !hasContents(s) || s.FileSize > maxNoteSize {
			continue
		}
		b, err := o.readAt(s.Offset, s.FileSize)
		if err != nil {
			continue
		}
		if id, ok := findNote(b, o.f.ByteOrder, s.Addralign, ntGNUBuildID); ok {
			return id
		}
	}
	return nil
}

// findNote returns the descriptor of the first note of type typ in b, a
// sequence of notes whose fields are padded to align (4, or 8 for notes of
// 8-byte aligned segments). An empty descriptor counts as absent, as in
// Breakpad; a malformed note ends the search.
func findNote(b []byte, bo binary.ByteOrder, align uint64, typ uint32) ([]byte, bool) {
	if align != 8 {
		align = 4
	}
	pad := func(n uint64) uint64 { return (n + align - 1) &^ (align - 1) }
	for uint64(len(b)) >= 12 {
		namesz, descsz, t := uint64(bo.Uint32(b)), uint64(bo.Uint32(b[4:])), bo.Uint32(b[8:])
		descOff := 12 + pad(namesz)
		if descOff > uint64(len(b)) || descsz > uint64(len(b))-descOff {
			return nil, false
		}
		if t == typ {
			if descsz == 0 {
				return nil, false
			}
			return b[descOff : descOff+descsz : descOff+descsz], true
		}
		next := descOff + pad(descsz)
		if next > uint64(len(b)) {
			return nil, false
		}
		b = b[next:]
	}
	return nil, false
}

// computeDebugID derives the debug id from the build id, else from the first
// page of .text, else returns the nil id.
func (o *Object) computeDebugID() debugid.ID {
	if len(o.buildID) > 0 {
		return o.idFromBytes(o.buildID)
	}
	for _, s := range o.f.Sections {
		if s.Name != ".text" || !hasContents(s) {
			continue
		}
		b, err := o.readAt(s.Offset, min(s.FileSize, textHashSize))
		if err != nil {
			return debugid.ID{}
		}
		var h [16]byte
		for i, c := range b {
			h[i%16] ^= c
		}
		return o.idFromBytes(h[:])
	}
	return debugid.ID{}
}

// idFromBytes turns identifier bytes into a debug id: little-endian files
// byte-swap the first three GUID fields, big-endian files keep file order.
func (o *Object) idFromBytes(b []byte) debugid.ID {
	if o.f.Data == stdelf.ELFDATA2LSB {
		return debugid.FromBuildID(b)
	}
	var u [16]byte
	copy(u[:], b)
	return debugid.FromUUID(u)
}
