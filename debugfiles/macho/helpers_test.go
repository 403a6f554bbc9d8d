package macho

import (
	"bytes"
	"compress/zlib"
	stddwarf "debug/dwarf"
	"encoding/binary"
	"errors"
	"testing"
)

// subprograms maps the name of every subprogram with a low_pc to it.
func subprograms(t *testing.T, d *stddwarf.Data) map[string]uint64 {
	t.Helper()
	out := make(map[string]uint64)
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatalf("reading DWARF: %v", err)
		}
		if e == nil {
			return out
		}
		if e.Tag != stddwarf.TagSubprogram {
			continue
		}
		name, _ := e.Val(stddwarf.AttrName).(string)
		if origin, ok := e.Val(stddwarf.AttrAbstractOrigin).(stddwarf.Offset); ok && name == "" {
			or := d.Reader()
			or.Seek(origin)
			if oe, err := or.Next(); err == nil && oe != nil {
				name, _ = oe.Val(stddwarf.AttrName).(string)
			}
		}
		lo, ok := e.Val(stddwarf.AttrLowpc).(uint64)
		if name != "" && ok {
			out[name] = lo
		}
	}
}

func zlibBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compressSection appends a compressed copy of a 64-bit little-endian
// image's __DWARF section to the file and points the section header, renamed
// to __zdebug_*, at it.
func compressSection(raw []byte, name string) ([]byte, error) {
	var key [32]byte
	copy(key[:], name)
	copy(key[16:], "__DWARF")
	i := bytes.Index(raw, key[:])
	if i < 0 {
		return nil, errors.New("section header not found")
	}
	hdr := raw[i : i+80]
	size := binary.LittleEndian.Uint64(hdr[40:])
	off := binary.LittleEndian.Uint32(hdr[48:])
	var z bytes.Buffer
	z.WriteString("ZLIB")
	binary.Write(&z, binary.BigEndian, size)
	w := zlib.NewWriter(&z)
	w.Write(raw[off : uint64(off)+size])
	w.Close()

	out := append([]byte(nil), raw...)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	newOff := len(out)
	out = append(out, z.Bytes()...)
	hdr = out[i : i+80]
	var zname [16]byte
	copy(zname[:], "__z"+name[2:])
	copy(hdr[:16], zname[:])
	binary.LittleEndian.PutUint64(hdr[40:], uint64(z.Len()))
	binary.LittleEndian.PutUint32(hdr[48:], uint32(newOff))
	return out, nil
}
