package cfi

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// Kind is the flavour of a call frame section.
type Kind uint8

// Section kinds.
const (
	// EHFrame is .eh_frame (and Mach-O __eh_frame): CIE id 0, CIE pointers
	// relative to the FDE, GCC's pointer encodings.
	EHFrame Kind = iota + 1
	// DebugFrame is .debug_frame: CIE id all ones, CIE pointers are section
	// offsets, addresses are plain target addresses.
	DebugFrame
)

func (k Kind) String() string {
	if k == DebugFrame {
		return ".debug_frame"
	}
	return ".eh_frame"
}

// CIE is a Common Information Entry: what the FDEs that refer to it share.
type CIE struct {
	// Offset is the CIE's offset in its section.
	Offset uint64
	// Version is 1, 3 or 4.
	Version uint8
	// Augmentation is the augmentation string ("zR", "zPLR", "eh", "").
	Augmentation string
	// AddressSize and SegmentSize are from a version 4 CIE, else the
	// table's address size and 0.
	AddressSize, SegmentSize uint8
	CodeAlign                uint64
	DataAlign                int64
	// RA is the return address column.
	RA unwind.Reg
	// FDEEncoding, LSDAEncoding are the "R" and "L" pointer encodings
	// (0xff when absent).
	FDEEncoding, LSDAEncoding uint8
	// Personality is the personality routine's address (or, when
	// PersonalityIndirect, the address of a pointer to it); 0 without "P".
	Personality         uint64
	PersonalityIndirect bool
	// Signal is set by augmentation "S": the FDEs describe signal frames.
	Signal bool
	// BKey is set by augmentation "B": arm64 return addresses are signed
	// with the B key.
	BKey bool

	// usable is false for a CIE whose augmentation cannot be decoded.
	usable       bool
	hasAugData   bool
	instructions []byte
	// off is the section offset of instructions[0], for error positions.
	insOff uint64
}

// FDE is a Frame Description Entry: the unwind program of one range of
// code.
type FDE struct {
	// Offset is the FDE's offset in its section.
	Offset uint64
	// Start and End delimit the code, as addresses in the file (before the
	// table's bias is subtracted).
	Start, End uint64
	// LSDA is the language-specific data area address, 0 when absent.
	LSDA uint64
	CIE  *CIE

	instructions []byte
	insOff       uint64
}

// entryHeader is the length and id of a CIE or FDE.
type entryHeader struct {
	off uint64
	// body is the offset of the id field; end is the offset past the entry.
	body, end int
	is64      bool
	// id is the CIE id or CIE pointer as stored.
	id uint64
	// terminator marks the zero-length entry ending .eh_frame.
	terminator bool
}

// header reads the entry header at off.
func (t *Table) header(off uint64) (entryHeader, error) {
	r := t.reader(0, len(t.sec.Data))
	if off > uint64(len(t.sec.Data)) {
		return entryHeader{}, t.errAt(off, "entry offset past the end of the section")
	}
	r.pos = int(off)
	h := entryHeader{off: off}
	length := uint64(r.u32())
	if length == 0xffffffff {
		h.is64 = true
		length = r.u64()
	}
	if r.err != nil {
		return h, r.err
	}
	if length == 0 {
		h.terminator = t.sec.Kind == EHFrame
		h.body, h.end = r.pos, r.pos
		return h, nil
	}
	if length > uint64(r.left()) {
		return h, t.errAt(off, fmt.Sprintf("entry length %#x past the end of the section", length))
	}
	h.body = r.pos
	h.end = r.pos + int(length)
	r.end = h.end
	if h.is64 {
		h.id = r.u64()
	} else {
		h.id = uint64(r.u32())
	}
	return h, r.err
}

// isCIE reports whether an entry is a CIE.
func (t *Table) isCIE(h entryHeader) bool {
	if t.sec.Kind == EHFrame {
		return h.id == 0
	}
	if h.is64 {
		return h.id == ^uint64(0)
	}
	return h.id == 0xffffffff
}

// cieOffset is the section offset of the CIE an FDE refers to.
func (t *Table) cieOffset(h entryHeader) (uint64, bool) {
	if t.sec.Kind == EHFrame {
		// Relative to the CIE pointer field itself.
		if h.id > uint64(h.body) {
			return 0, false
		}
		return uint64(h.body) - h.id, true
	}
	return h.id, true
}

func (t *Table) errAt(off uint64, msg string) error {
	return &FormatError{Section: t.name(), Offset: off, Msg: msg}
}

func (t *Table) reader(pos, end int) *reader {
	return &reader{data: t.sec.Data, pos: pos, end: end, name: t.name(), bo: t.opts.ByteOrder}
}

// parseCIE decodes the CIE at off.
func (t *Table) parseCIE(off uint64) (*CIE, error) {
	h, err := t.header(off)
	if err != nil {
		return nil, err
	}
	if h.terminator || h.end == h.body || !t.isCIE(h) {
		return nil, t.errAt(off, "no CIE at this offset")
	}
	idSize := 4
	if h.is64 {
		idSize = 8
	}
	r := t.reader(h.body+idSize, h.end)
	c := &CIE{Offset: off, FDEEncoding: peAbsptr, LSDAEncoding: peOmit, usable: true, AddressSize: uint8(t.opts.AddressSize)}
	c.Version = r.u8()
	switch {
	case c.Version == 1 || c.Version == 3:
	case c.Version == 4 && t.sec.Kind == DebugFrame:
	default:
		if r.err == nil {
			return nil, t.errAt(off, fmt.Sprintf("CIE version %d", c.Version))
		}
	}
	c.Augmentation = r.cstring()
	aug := c.Augmentation
	if strings.HasPrefix(aug, "eh") {
		// Old GCC: the address of the exception table follows the string.
		r.addr(t.opts.AddressSize)
		aug = aug[2:]
	}
	if c.Version >= 4 {
		c.AddressSize, c.SegmentSize = r.u8(), r.u8()
		if r.err == nil && (c.AddressSize != 2 && c.AddressSize != 4 && c.AddressSize != 8 || c.SegmentSize > 8) {
			return nil, t.errAt(off, fmt.Sprintf("CIE address size %d, segment selector size %d", c.AddressSize, c.SegmentSize))
		}
	}
	c.CodeAlign = r.uleb()
	c.DataAlign = r.sleb()
	var ra uint64
	if c.Version == 1 {
		ra = uint64(r.u8())
	} else {
		ra = r.uleb()
	}
	if ra > maxReg {
		return nil, t.errAt(off, fmt.Sprintf("return address register %d", ra))
	}
	c.RA = unwind.Reg(ra)
	if strings.HasPrefix(aug, "z") {
		c.hasAugData = true
		n := r.uleb()
		if r.err == nil && n > uint64(r.left()) {
			return nil, t.errAt(off, "augmentation data past the end of the CIE")
		}
		augEnd := r.pos + int(n)
		ar := t.reader(r.pos, augEnd)
	letters:
		for _, ch := range aug[1:] {
			switch ch {
			case 'L':
				c.LSDAEncoding = ar.u8()
				if !validEncoding(c.LSDAEncoding) {
					ar.fail(fmt.Sprintf("LSDA encoding %#x", c.LSDAEncoding))
				}
			case 'P':
				enc := ar.u8()
				if !validEncoding(enc) {
					ar.fail(fmt.Sprintf("personality encoding %#x", enc))
				}
				c.Personality, c.PersonalityIndirect = ar.pointer(enc, int(c.AddressSize), t.bases(0))
			case 'R':
				c.FDEEncoding = ar.u8()
				if !validEncoding(c.FDEEncoding) || c.FDEEncoding == peOmit {
					ar.fail(fmt.Sprintf("FDE encoding %#x", c.FDEEncoding))
				}
			case 'S':
				c.Signal = true
			case 'B':
				c.BKey = true
			case 'G':
			default:
				// The data of letters we do not know is skipped with
				// the rest of the block.
				break letters
			}
		}
		if ar.err != nil {
			return nil, ar.err
		}
		r.pos = augEnd
	} else if aug != "" {
		c.usable = false
	}
	if r.err != nil {
		return nil, r.err
	}
	c.insOff = uint64(r.pos)
	c.instructions = t.sec.Data[r.pos:h.end:h.end]
	return c, nil
}

// maxReg is the largest register number accepted; DWARF numbers of every
// architecture fit well below it.
const maxReg = 0xffff

// bases returns the pointer bases for values read from the section.
func (t *Table) bases(function uint64) *pointerBases {
	return &pointerBases{section: t.sec.Addr, text: t.opts.TextAddr, data: t.opts.DataAddr, function: function}
}

// parseFDE decodes the FDE at off; cie returns the CIE at an offset (a
// cache or a fresh parse).
func (t *Table) parseFDE(off uint64, cie func(uint64) (*CIE, error)) (*FDE, error) {
	h, err := t.header(off)
	if err != nil {
		return nil, err
	}
	if h.terminator || h.end == h.body || t.isCIE(h) {
		return nil, t.errAt(off, "no FDE at this offset")
	}
	coff, ok := t.cieOffset(h)
	if !ok {
		return nil, t.errAt(off, "CIE pointer before the start of the section")
	}
	c, err := cie(coff)
	if err != nil {
		return nil, err
	}
	if !c.usable {
		return nil, t.errAt(off, fmt.Sprintf("CIE augmentation %q is not understood", c.Augmentation))
	}
	idSize := 4
	if h.is64 {
		idSize = 8
	}
	r := t.reader(h.body+idSize, h.end)
	f := &FDE{Offset: off, CIE: c}
	if t.sec.Kind == DebugFrame {
		r.bytes(uint64(c.SegmentSize))
		f.Start = r.addr(int(c.AddressSize))
		f.End = f.Start + r.addr(int(c.AddressSize))
	} else {
		var ind bool
		f.Start, ind = r.pointer(c.FDEEncoding, int(c.AddressSize), t.bases(0))
		if ind && r.err == nil {
			return nil, t.errAt(off, "indirect FDE start address")
		}
		size, _ := r.pointer(c.FDEEncoding&0x0f, int(c.AddressSize), t.bases(0))
		f.End = f.Start + size
	}
	if c.AddressSize == 4 {
		f.End = uint64(uint32(f.End))
	}
	if r.err == nil && f.End < f.Start {
		return nil, t.errAt(off, "FDE address range wraps around")
	}
	if c.hasAugData {
		n := r.uleb()
		if r.err == nil && n > uint64(r.left()) {
			return nil, t.errAt(off, "augmentation data past the end of the FDE")
		}
		augEnd := r.pos + int(n)
		if c.LSDAEncoding != peOmit && n > 0 {
			ar := t.reader(r.pos, augEnd)
			f.LSDA, _ = ar.pointer(c.LSDAEncoding, int(c.AddressSize), t.bases(f.Start))
			if ar.err != nil {
				return nil, ar.err
			}
		}
		r.pos = augEnd
	}
	if r.err != nil {
		return nil, r.err
	}
	f.insOff = uint64(r.pos)
	f.instructions = t.sec.Data[r.pos:h.end:h.end]
	return f, nil
}

// byteOrder defaults to little-endian.
func byteOrder(bo binary.ByteOrder) binary.ByteOrder {
	if bo == nil {
		return binary.LittleEndian
	}
	return bo
}
