package minidump

import (
	"encoding/binary"
	"unicode/utf16"
	"unsafe"
)

// decoder reads little-endian fields from an in-memory structure. The first
// failure is latched: later reads return zero values, so decoding code reads
// fields in a straight line and checks err once at the end.
type decoder struct {
	what string // structure name for errors
	base int64  // file offset of b[0]
	b    []byte
	off  int
	err  error
}

func newDecoder(what string, base int64, b []byte) decoder {
	return decoder{what: what, base: base, b: b}
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = formatErr(d.what, d.base+int64(d.off), "%s", msg)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail("truncated")
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) skip(n int) { d.take(n) }

func (d *decoder) remaining() int {
	if d.err != nil {
		return 0
	}
	return len(d.b) - d.off
}

func (d *decoder) u8() uint8 {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) u16() uint16 {
	p := d.take(2)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(p)
}

func (d *decoder) u32() uint32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (d *decoder) u64() uint64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

func (d *decoder) location() Location {
	return Location{DataSize: d.u32(), RVA: d.u32()}
}

func (d *decoder) guid() GUID {
	var g GUID
	g.Data1 = d.u32()
	g.Data2 = d.u16()
	g.Data3 = d.u16()
	copy(g.Data4[:], d.take(8))
	return g
}

// cstring returns the bytes before the first NUL in p (all of p if none).
func cstring(p []byte) string {
	for i, c := range p {
		if c == 0 {
			return string(p[:i])
		}
	}
	return string(p)
}

// utf16String decodes little-endian UTF-16 bytes, stopping at a NUL unit.
// Unpaired surrogates become U+FFFD, as they do in Breakpad's conversion.
// Module paths are almost always ASCII, which takes a copy-free fast path.
func utf16String(p []byte) string {
	n := len(p) / 2
	ascii := true
	for i := 0; i < n; i++ {
		lo, hi := p[2*i], p[2*i+1]
		if lo == 0 && hi == 0 {
			n = i
			break
		}
		if hi != 0 || lo >= 0x80 {
			ascii = false
		}
	}
	if ascii {
		b := make([]byte, n)
		for i := range b {
			b[i] = p[2*i]
		}
		return unsafeString(b)
	}
	u := make([]uint16, n)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(p[2*i:])
	}
	return string(utf16.Decode(u))
}

// unsafeString turns a buffer nobody else holds into a string without a copy.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
