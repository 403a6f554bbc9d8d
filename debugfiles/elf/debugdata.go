package elf

import (
	"bytes"
	stdelf "debug/elf"
	"encoding/binary"
	"fmt"

	"github.com/ulikunitz/xz"
)

const (
	// maxDebugDataExpansion caps the size of the ELF file embedded in
	// .gnu_debugdata relative to the compressed section.
	maxDebugDataExpansion = 64
	// maxDebugDataSize is the hard limit on the embedded file.
	maxDebugDataSize = 256 << 20
	// maxXZDict caps the LZMA2 dictionary a block may declare; the decoder
	// allocates it up front. xz -9 uses 64 MiB.
	maxXZDict = 64 << 20
)

// miniDebugInfo decompresses .gnu_debugdata (an xz stream holding an ELF
// file with a .symtab, the MiniDebugInfo convention) and opens it.
func (o *Object) miniDebugInfo() (*Object, error) {
	s := o.debugData
	if s.Flags&stdelf.SHF_COMPRESSED != 0 {
		return nil, &FormatError{int64(s.Offset), ".gnu_debugdata is SHF_COMPRESSED"}
	}
	raw, err := o.readAt(s.Offset, s.FileSize)
	if err != nil {
		return nil, err
	}
	data, err := decodeXZ(raw)
	if err != nil {
		return nil, fmt.Errorf("elf: .gnu_debugdata at %#x: %w", s.Offset, err)
	}
	inner, err := newObject(bytes.NewReader(data), int64(len(data)), o.name+"(.gnu_debugdata)", true)
	if err != nil {
		return nil, err
	}
	inner.data = data
	return inner, nil
}

// decodeXZ decompresses a single xz stream of at most
// maxDebugDataExpansion times its size and maxDebugDataSize bytes.
func decodeXZ(raw []byte) ([]byte, error) {
	limit := min(uint64(len(raw))*maxDebugDataExpansion, maxDebugDataSize)
	size, err := checkXZ(raw, limit)
	if err != nil {
		return nil, err
	}
	zr, err := xz.ReaderConfig{SingleStream: true}.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	data, err := readFull(zr, size)
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	return data, nil
}

// checkXZ validates the layout of a single xz stream before it is decoded:
// every block header is where the index says, every LZMA2 dictionary is at
// most maxXZDict and the total uncompressed size, which it returns, is at
// most limit. The decoder would otherwise allocate whatever the headers
// declare.
func checkXZ(b []byte, limit uint64) (uint64, error) {
	const headerLen, footerLen = 12, 12
	if len(b) < headerLen+footerLen || !bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0}) {
		return 0, fmt.Errorf("not an xz stream")
	}
	// Stream padding: zero bytes in multiples of four.
	for len(b) >= headerLen+footerLen+4 && binary.LittleEndian.Uint32(b[len(b)-4:]) == 0 {
		b = b[:len(b)-4]
	}
	foot := b[len(b)-footerLen:]
	if string(foot[10:]) != "YZ" || foot[8] != b[6] || foot[9] != b[7] {
		return 0, fmt.Errorf("xz: bad stream footer")
	}
	indexLen := (uint64(binary.LittleEndian.Uint32(foot[4:])) + 1) * 4
	end := uint64(len(b) - footerLen)
	if indexLen > end-headerLen {
		return 0, fmt.Errorf("xz: index size out of range")
	}
	indexOff := end - indexLen
	idx := b[indexOff:end]
	if idx[0] != 0 {
		return 0, fmt.Errorf("xz: no index")
	}
	p := 1
	records, ok := uvarint(idx, &p)
	if !ok || records > uint64(len(idx)) {
		return 0, fmt.Errorf("xz: bad index")
	}
	off, total := uint64(headerLen), uint64(0)
	for range records {
		unpadded, ok1 := uvarint(idx, &p)
		uncompressed, ok2 := uvarint(idx, &p)
		if !ok1 || !ok2 || unpadded == 0 {
			return 0, fmt.Errorf("xz: bad index record")
		}
		if uncompressed > limit-total {
			return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
		}
		total += uncompressed
		if off >= indexOff || unpadded > indexOff-off {
			return 0, fmt.Errorf("xz: block past the index")
		}
		if err := checkXZBlockHeader(b[off:indexOff]); err != nil {
			return 0, err
		}
		off += (unpadded + 3) &^ 3
	}
	if off != indexOff {
		return 0, fmt.Errorf("xz: blocks do not end at the index")
	}
	return total, nil
}

// checkXZBlockHeader checks the LZMA2 dictionary sizes in a block header.
func checkXZBlockHeader(b []byte) error {
	if len(b) < 2 || b[0] == 0 {
		return fmt.Errorf("xz: bad block header")
	}
	n := (int(b[0]) + 1) * 4
	if n > len(b) {
		return fmt.Errorf("xz: block header past the index")
	}
	h := b[:n]
	flags := h[1]
	p := 2
	if flags&0x40 != 0 {
		if _, ok := uvarint(h, &p); !ok {
			return fmt.Errorf("xz: bad block header")
		}
	}
	if flags&0x80 != 0 {
		if _, ok := uvarint(h, &p); !ok {
			return fmt.Errorf("xz: bad block header")
		}
	}
	for range int(flags&3) + 1 {
		id, ok1 := uvarint(h, &p)
		size, ok2 := uvarint(h, &p)
		if !ok1 || !ok2 || size > uint64(len(h)-p) {
			return fmt.Errorf("xz: bad filter flags")
		}
		props := h[p : p+int(size)]
		p += int(size)
		if id == 0x21 { // LZMA2
			if len(props) != 1 || props[0] > 40 {
				return fmt.Errorf("xz: bad LZMA2 properties")
			}
			d := props[0]
			dict := uint64(2|d&1) << (d/2 + 11)
			if d == 40 || dict > maxXZDict {
				return fmt.Errorf("%w: LZMA2 dictionary of %d bytes", ErrTooLarge, dict)
			}
		}
	}
	return nil
}

// uvarint reads an xz multibyte integer (at most 9 bytes) at *p.
func uvarint(b []byte, p *int) (uint64, bool) {
	var v uint64
	for i := 0; i < 9; i++ {
		if *p >= len(b) {
			return 0, false
		}
		c := b[*p]
		*p++
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, true
		}
	}
	return 0, false
}
