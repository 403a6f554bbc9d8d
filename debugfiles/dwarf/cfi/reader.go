package cfi

import (
	"encoding/binary"
	"fmt"
)

// FormatError reports malformed call frame information: the section, the
// offset within it where decoding failed, and what was wrong.
type FormatError struct {
	Section string
	Offset  uint64
	Msg     string
}

// Error formats the error as "cfi: section+offset: message".
func (e *FormatError) Error() string {
	return fmt.Sprintf("cfi: %s+%#x: %s", e.Section, e.Offset, e.Msg)
}

// reader decodes a section. The first failure is latched in err and later
// reads return zero values, so decoders read fields in a straight line and
// check err once.
type reader struct {
	data []byte
	pos  int
	// end bounds reads within data (an entry's end), at most len(data).
	end  int
	name string
	bo   binary.ByteOrder
	err  error
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = &FormatError{Section: r.name, Offset: uint64(r.pos), Msg: msg}
	}
	r.pos = r.end
}

func (r *reader) left() int { return r.end - r.pos }

func (r *reader) bytes(n uint64) []byte {
	if n > uint64(r.left()) {
		r.fail("unexpected end of data")
		return nil
	}
	b := r.data[r.pos : r.pos+int(n) : r.pos+int(n)]
	r.pos += int(n)
	return b
}

func (r *reader) u8() uint8 {
	if r.pos >= r.end {
		r.fail("unexpected end of data")
		return 0
	}
	v := r.data[r.pos]
	r.pos++
	return v
}

func (r *reader) u16() uint16 {
	b := r.bytes(2)
	if b == nil {
		return 0
	}
	return r.bo.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return r.bo.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return r.bo.Uint64(b)
}

// addr reads an unsigned value of size bytes (1, 2, 4 or 8).
func (r *reader) addr(size int) uint64 {
	switch size {
	case 1:
		return uint64(r.u8())
	case 2:
		return uint64(r.u16())
	case 4:
		return uint64(r.u32())
	case 8:
		return r.u64()
	}
	r.fail(fmt.Sprintf("address size %d", size))
	return 0
}

// uleb reads an unsigned LEB128 number; bits past 64 are dropped.
func (r *reader) uleb() uint64 {
	var v uint64
	var shift uint
	for r.pos < r.end {
		c := r.data[r.pos]
		r.pos++
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("unterminated LEB128 number")
	return 0
}

// sleb reads a signed LEB128 number.
func (r *reader) sleb() int64 {
	var v int64
	var shift uint
	for r.pos < r.end {
		c := r.data[r.pos]
		r.pos++
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
	r.fail("unterminated LEB128 number")
	return 0
}

// cstring reads a NUL-terminated string.
func (r *reader) cstring() string {
	for i := r.pos; i < r.end; i++ {
		if r.data[i] == 0 {
			s := string(r.data[r.pos:i])
			r.pos = i + 1
			return s
		}
	}
	r.fail("unterminated string")
	return ""
}

// Pointer encodings (DW_EH_PE_*) of .eh_frame and .eh_frame_hdr: the low
// nibble is the format, the next three bits how the value is applied, and
// the top bit marks an indirect pointer.
const (
	peAbsptr  = 0x00
	peULEB128 = 0x01
	peUData2  = 0x02
	peUData4  = 0x03
	peUData8  = 0x04
	peSLEB128 = 0x09
	peSData2  = 0x0a
	peSData4  = 0x0b
	peSData8  = 0x0c

	pePCRel   = 0x10
	peTextRel = 0x20
	peDataRel = 0x30
	peFuncRel = 0x40
	peAligned = 0x50

	peIndirect = 0x80
	peOmit     = 0xff
)

// pointerBases are the bases the application bits of an encoding refer to.
type pointerBases struct {
	// section is the address of data[0], for pcrel values.
	section uint64
	text    uint64
	data    uint64
	// function is the start of the current function, for funcrel values.
	function uint64
}

// pointer reads a value encoded with enc. indirect reports the indirect
// bit: the result is then the address of the pointer, not the pointer.
func (r *reader) pointer(enc uint8, addrSize int, b *pointerBases) (v uint64, indirect bool) {
	if enc == peOmit {
		return 0, false
	}
	at := b.section + uint64(r.pos)
	if enc&0x70 == peAligned {
		if addrSize <= 0 {
			r.fail("aligned pointer without an address size")
			return 0, false
		}
		pad := (uint64(addrSize) - at%uint64(addrSize)) % uint64(addrSize)
		r.bytes(pad)
		at += pad
	}
	switch enc & 0x0f {
	case peAbsptr:
		v = r.addr(addrSize)
	case peULEB128:
		v = r.uleb()
	case peUData2:
		v = uint64(r.u16())
	case peUData4:
		v = uint64(r.u32())
	case peUData8:
		v = r.u64()
	case peSLEB128:
		v = uint64(r.sleb())
	case peSData2:
		v = uint64(int64(int16(r.u16())))
	case peSData4:
		v = uint64(int64(int32(r.u32())))
	case peSData8:
		v = r.u64()
	default:
		r.fail(fmt.Sprintf("pointer encoding %#x", enc))
		return 0, false
	}
	switch enc & 0x70 {
	case peAbsptr, peAligned:
	case pePCRel:
		v += at
	case peTextRel:
		v += b.text
	case peDataRel:
		v += b.data
	case peFuncRel:
		v += b.function
	default:
		r.fail(fmt.Sprintf("pointer encoding %#x", enc))
		return 0, false
	}
	if addrSize == 4 {
		v = uint64(uint32(v))
	}
	return v, enc&peIndirect != 0
}

// validEncoding reports whether enc is a pointer encoding this package
// decodes.
func validEncoding(enc uint8) bool {
	if enc == peOmit {
		return true
	}
	switch enc & 0x0f {
	case peAbsptr, peULEB128, peUData2, peUData4, peUData8, peSLEB128, peSData2, peSData4, peSData8:
	default:
		return false
	}
	return enc&0x70 <= peAligned
}
