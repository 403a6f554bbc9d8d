package pdb

import (
	"bytes"
	"fmt"
)

// stringTableMagic starts the "/names" stream.
const stringTableMagic = 0xEFFEEFFE

// stringTable is the "/names" stream: the buffer of NUL-terminated strings
// (source file names, among others) that C13 file checksums refer to by
// offset. The hash buckets that follow the buffer are not needed to read
// names by offset.
type stringTable struct {
	buf []byte
	// cache holds the strings resolved so far: a name is copied out of
	// the buffer once and shared by every line that refers to it.
	cache map[uint32]string
}

func parseStringTable(data []byte, index int) (*stringTable, error) {
	d := newDecoder("/names", index, 0, data)
	magic := d.u32()
	ver := d.u32()
	n := d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if magic != stringTableMagic {
		return nil, &FormatError{Where: "/names", Stream: index, Msg: fmt.Sprintf("bad signature %#x", magic)}
	}
	if ver != 1 && ver != 2 {
		return nil, &FormatError{Where: "/names", Stream: index, Offset: 4, Msg: fmt.Sprintf("unknown hash version %d", ver)}
	}
	buf := d.bytes(int(n))
	if d.err != nil {
		return nil, d.err
	}
	return &stringTable{buf: buf, cache: map[uint32]string{}}, nil
}

// get returns the string at off, or "" when off is outside the buffer.
func (t *stringTable) get(off uint32) string {
	if t == nil || off >= uint32(len(t.buf)) {
		return ""
	}
	if s, ok := t.cache[off]; ok {
		return s
	}
	b := t.buf[off:]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	s := string(b)
	t.cache[off] = s
	return s
}
