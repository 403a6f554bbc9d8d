package dwarf

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// FormatError reports malformed DWARF data: the section, the offset within
// it where decoding failed, and what was wrong. Sessions return it wrapped
// with the package prefix and the unit it was found in.
type FormatError struct {
	Section string
	Offset  uint64
	Msg     string
}

// Error formats the error as "section+offset: message".
func (e *FormatError) Error() string {
	return fmt.Sprintf("%s+%#x: %s", e.Section, e.Offset, e.Msg)
}

// buf decodes one DWARF section. The first failure is latched in err: later
// reads return zero values, so decoders read their fields in a straight line
// and check err once, the way debug/dwarf's own buffer works.
type buf struct {
	data []byte
	pos  int
	// base is the section offset of data[0], for error positions.
	base uint64
	name string
	be   bool
	err  error
}

func makeBuf(name string, data []byte, base uint64, bigEndian bool) buf {
	return buf{data: data, base: base, name: name, be: bigEndian}
}

func (b *buf) fail(msg string) {
	if b.err == nil {
		b.err = &FormatError{Section: b.name, Offset: b.base + uint64(b.pos), Msg: msg}
	}
	b.pos = len(b.data)
}

// off is the section offset of the next byte.
func (b *buf) off() uint64 { return b.base + uint64(b.pos) }

func (b *buf) left() int { return len(b.data) - b.pos }

func (b *buf) u8() uint8 {
	if b.pos >= len(b.data) {
		b.fail("unexpected end of data")
		return 0
	}
	v := b.data[b.pos]
	b.pos++
	return v
}

func (b *buf) u16() uint16 {
	if len(b.data)-b.pos < 2 {
		b.fail("unexpected end of data")
		return 0
	}
	p := b.data[b.pos : b.pos+2]
	b.pos += 2
	if b.be {
		return binary.BigEndian.Uint16(p)
	}
	return binary.LittleEndian.Uint16(p)
}

func (b *buf) u24() uint32 {
	if len(b.data)-b.pos < 3 {
		b.fail("unexpected end of data")
		return 0
	}
	p := b.data[b.pos : b.pos+3]
	b.pos += 3
	if b.be {
		return uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
	}
	return uint32(p[2])<<16 | uint32(p[1])<<8 | uint32(p[0])
}

func (b *buf) u32() uint32 {
	if len(b.data)-b.pos < 4 {
		b.fail("unexpected end of data")
		return 0
	}
	p := b.data[b.pos : b.pos+4]
	b.pos += 4
	if b.be {
		return binary.BigEndian.Uint32(p)
	}
	return binary.LittleEndian.Uint32(p)
}

func (b *buf) u64() uint64 {
	if len(b.data)-b.pos < 8 {
		b.fail("unexpected end of data")
		return 0
	}
	p := b.data[b.pos : b.pos+8]
	b.pos += 8
	if b.be {
		return binary.BigEndian.Uint64(p)
	}
	return binary.LittleEndian.Uint64(p)
}

// uleb reads an unsigned LEB128 number. Bits past 64 are dropped; a number
// running off the end of the data is an error. A number of one byte, as
// most are (abbreviation codes, attributes and forms, small constants), is
// read without the loop, which took a quarter of the time libpython's
// abbreviation tables took to parse (2.83 -> 2.55 ms without it).
func (b *buf) uleb() uint64 {
	if p := b.pos; p < len(b.data) && b.data[p] < 0x80 {
		b.pos = p + 1
		return uint64(b.data[p])
	}
	return b.ulebLong()
}

// ulebPair reads two unsigned LEB128 numbers, an abbreviation's attribute
// and form: both take a byte but for vendor attributes.
func (b *buf) ulebPair() (uint64, uint64) {
	if p := b.pos; p+1 < len(b.data) && b.data[p]|b.data[p+1] < 0x80 {
		b.pos = p + 2
		return uint64(b.data[p]), uint64(b.data[p+1])
	}
	return b.uleb(), b.uleb()
}

// ulebLong is uleb for a number of more than one byte, or at the end of
// the data.
func (b *buf) ulebLong() uint64 {
	var v uint64
	var shift uint
	for b.pos < len(b.data) {
		c := b.data[b.pos]
		b.pos++
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			return v
		}
	}
	b.fail("unterminated LEB128 number")
	return 0
}

// sleb reads a signed LEB128 number.
func (b *buf) sleb() int64 {
	var v int64
	var shift uint
	for b.pos < len(b.data) {
		c := b.data[b.pos]
		b.pos++
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
	b.fail("unterminated LEB128 number")
	return 0
}

// skipLEB skips a LEB128 number without decoding it.
func (b *buf) skipLEB() {
	for b.pos < len(b.data) {
		c := b.data[b.pos]
		b.pos++
		if c&0x80 == 0 {
			return
		}
	}
	b.fail("unterminated LEB128 number")
}

// addr reads a target address of the given size.
func (b *buf) addr(size uint8) uint64 {
	switch size {
	case 8:
		return b.u64()
	case 4:
		return uint64(b.u32())
	case 2:
		return uint64(b.u16())
	case 1:
		return uint64(b.u8())
	}
	b.fail(fmt.Sprintf("unsupported address size %d", size))
	return 0
}

// offset reads a section offset: 8 bytes in 64-bit DWARF, else 4.
func (b *buf) offset(is64 bool) uint64 {
	if is64 {
		return b.u64()
	}
	return uint64(b.u32())
}

// unitLength reads an initial length field.
func (b *buf) unitLength() (length uint64, is64 bool) {
	l := b.u32()
	switch {
	case l == 0xffffffff:
		return b.u64(), true
	case l >= 0xfffffff0:
		b.fail(fmt.Sprintf("reserved unit length %#x", l))
		return 0, false
	}
	return uint64(l), false
}

func (b *buf) skip(n uint64) {
	if n > uint64(len(b.data)-b.pos) {
		b.fail("unexpected end of data")
		return
	}
	b.pos += int(n)
}

// cstr reads a NUL-terminated string without copying it.
func (b *buf) cstr() []byte {
	i := bytes.IndexByte(b.data[b.pos:], 0)
	if i < 0 {
		b.fail("unterminated string")
		return nil
	}
	s := b.data[b.pos : b.pos+i]
	b.pos += i + 1
	return s
}

// sub returns a buffer over the n bytes at the current position and skips
// them; an n past the end latches an error in b and returns an empty buffer.
func (b *buf) sub(name string, n uint64) buf {
	start := b.pos
	base := b.off()
	b.skip(n)
	if b.err != nil {
		return buf{name: name, be: b.be, base: base, err: b.err}
	}
	return buf{data: b.data[start:b.pos], base: base, name: name, be: b.be}
}

// at returns a buffer over data[off:]; off past the end yields a buffer
// whose first read fails.
func at(name string, data []byte, off uint64, bigEndian bool) buf {
	if off > uint64(len(data)) {
		b := buf{name: name, be: bigEndian, base: off}
		b.fail("offset past end of section")
		return b
	}
	return buf{data: data[off:], base: off, name: name, be: bigEndian}
}

// cstrAt returns the NUL-terminated string at off in a string section.
func cstrAt(data []byte, off uint64) ([]byte, bool) {
	if off >= uint64(len(data)) {
		return nil, false
	}
	i := bytes.IndexByte(data[off:], 0)
	if i < 0 {
		return nil, false
	}
	return data[off : off+uint64(i)], true
}
