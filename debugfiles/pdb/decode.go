package pdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// decoder reads little-endian fields from one structure held in memory. The
// first failure is latched in err: later reads return zero values, so
// decoders read their fields in a straight line and check err once.
type decoder struct {
	data []byte
	pos  int
	// where, stream and base locate data[0] for error messages.
	where  string
	stream int
	base   int64
	err    error
}

func newDecoder(where string, stream int, base int64, data []byte) decoder {
	return decoder{data: data, where: where, stream: stream, base: base}
}

// fail latches the first error and exhausts the decoder.
func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &FormatError{Where: d.where, Stream: d.stream, Offset: d.base + int64(d.pos), Msg: fmt.Sprintf(format, args...)}
	}
	d.pos = len(d.data)
}

// left is the number of unread bytes.
func (d *decoder) left() int { return len(d.data) - d.pos }

func (d *decoder) need(n int) bool {
	if n < 0 || d.left() < n {
		d.fail("unexpected end of data (need %d bytes, have %d)", n, d.left())
		return false
	}
	return true
}

func (d *decoder) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	v := d.data[d.pos]
	d.pos++
	return v
}

func (d *decoder) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := binary.LittleEndian.Uint16(d.data[d.pos:])
	d.pos += 2
	return v
}

func (d *decoder) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.data[d.pos:])
	d.pos += 4
	return v
}

func (d *decoder) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.data[d.pos:])
	d.pos += 8
	return v
}

// bytes returns the next n bytes without copying.
func (d *decoder) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	b := d.data[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return b
}

func (d *decoder) skip(n int) { d.bytes(n) }

// cstring returns the bytes up to the next NUL (not copied) and consumes
// the NUL. A string running to the end of the data without a NUL is taken
// whole rather than failing the record: the name is the last field of the
// records that have one.
func (d *decoder) cstring() []byte {
	if d.err != nil {
		return nil
	}
	rest := d.data[d.pos:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		d.pos = len(d.data)
		return rest
	}
	d.pos += i + 1
	return rest[:i]
}

// pstring reads a length-prefixed string, the name form of the "_ST"
// symbol records of old toolsets.
func (d *decoder) pstring() []byte {
	n := int(d.u8())
	if n > d.left() {
		n = d.left()
	}
	return d.bytes(n)
}

// align skips to the next multiple of n (a power of two) relative to the
// start of data.
func (d *decoder) align(n int) {
	if r := d.pos & (n - 1); r != 0 {
		pad := n - r
		if pad > d.left() {
			pad = d.left()
		}
		d.pos += pad
	}
}

// numeric reads a CodeView numeric leaf (a value below 0x8000 stored
// directly, or an LF_* leaf tag followed by the value) as used for the
// sizes of classes and unions before their names.
func (d *decoder) numeric() uint64 {
	tag := d.u16()
	if tag < 0x8000 {
		return uint64(tag)
	}
	switch tag {
	case lfChar:
		return uint64(int8(d.u8()))
	case lfShort:
		return uint64(int16(d.u16()))
	case lfUShort:
		return uint64(d.u16())
	case lfLong:
		return uint64(int32(d.u32()))
	case lfULong:
		return uint64(d.u32())
	case lfQuadword, lfUQuadword:
		return d.u64()
	}
	d.fail("unsupported numeric leaf %#x", tag)
	return 0
}
