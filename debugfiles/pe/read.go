package pe

import (
	stdpe "debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// FormatError reports malformed input at a file offset.
type FormatError struct {
	// Off is the file offset the problem was found at.
	Off int64
	// Msg describes the problem.
	Msg string
}

// Error describes the problem and where it is.
func (e *FormatError) Error() string {
	return fmt.Sprintf("pe: %s at offset %#x", e.Msg, e.Off)
}

// ErrNotMapped reports an RVA that no section (nor the headers) of the
// image holds in the file.
var ErrNotMapped = errors.New("pe: address not backed by the file")

// ErrNoUnwind reports an image without an exception table, or an entry of
// it whose unwind information is for another architecture.
var ErrNoUnwind = errors.New("pe: no unwind information")

// maxRead caps a single read driven by a size from the file: the largest
// table this package reads at once (an exception directory of a very large
// image is a few MB).
const maxRead = 1 << 28

// bytesReader is implemented by readers that hold the whole file in memory
// (a memory-mapped file); reads from them are zero-copy.
type bytesReader interface {
	Bytes() []byte
}

// readAt returns n bytes at file offset off, checked against the file size.
// When the file is held in memory the result aliases it and must not be
// modified.
func (o *Object) readAt(off, n uint64) ([]byte, error) {
	size := uint64(o.size)
	if off > size || n > size-off {
		return nil, &FormatError{int64(min(off, 1<<63-1)), fmt.Sprintf("%d bytes past the end of the file", n)}
	}
	if n > maxRead {
		return nil, &FormatError{int64(off), fmt.Sprintf("%d-byte read is too large", n)}
	}
	if o.data != nil {
		return o.data[off : off+n : off+n], nil
	}
	buf := make([]byte, n)
	if _, err := o.r.ReadAt(buf, int64(off)); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, fmt.Errorf("pe: reading %d bytes at %#x: %w", n, off, err)
	}
	return buf, nil
}

// rvaOffset translates an RVA to the file offset holding it and returns how
// many bytes from there the file holds for the same section (or the
// headers). Bytes a section has in memory beyond its raw data are zeros the
// loader supplies; they are not in the file and not counted.
func (o *Object) rvaOffset(rva uint32) (off uint64, avail uint64, err error) {
	for _, s := range o.f.Sections {
		vs := s.VirtualSize
		if vs == 0 {
			vs = s.Size
		}
		if rva < s.VirtualAddress || uint64(rva) >= uint64(s.VirtualAddress)+uint64(vs) {
			continue
		}
		delta := rva - s.VirtualAddress
		if delta >= s.Size || s.Offset == 0 {
			return 0, 0, fmt.Errorf("%w: RVA %#x lies in the uninitialized part of %s", ErrNotMapped, rva, s.Name)
		}
		return uint64(s.Offset) + uint64(delta), uint64(min(s.Size, vs) - delta), nil
	}
	if rva < o.sizeOfHeaders {
		return uint64(rva), uint64(o.sizeOfHeaders - rva), nil
	}
	return 0, 0, fmt.Errorf("%w: RVA %#x", ErrNotMapped, rva)
}

// readRVA reads n bytes at an RVA; they must lie in one section's raw data.
func (o *Object) readRVA(rva uint32, n uint64) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	off, avail, err := o.rvaOffset(rva)
	if err != nil {
		return nil, err
	}
	if n > avail {
		return nil, &FormatError{int64(off), fmt.Sprintf("%d bytes at RVA %#x run past the end of their section", n, rva)}
	}
	return o.readAt(off, n)
}

// readRVAUpTo reads at most n bytes at an RVA, fewer when its section's raw
// data ends first.
func (o *Object) readRVAUpTo(rva uint32, n uint64) ([]byte, error) {
	off, avail, err := o.rvaOffset(rva)
	if err != nil {
		return nil, err
	}
	return o.readAt(off, min(n, avail))
}

// cstring returns the NUL-terminated string at an RVA, at most max bytes.
func (o *Object) cstring(rva uint32, max uint64) (string, error) {
	b, err := o.readRVAUpTo(rva, max)
	if err != nil {
		return "", err
	}
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), nil
		}
	}
	return "", fmt.Errorf("pe: unterminated string at RVA %#x", rva)
}

// buf decodes little-endian fields from a byte slice. The first read past
// the end latches an error; later reads return zero, so that a decoder
// reads a record in a straight line and checks err once.
type buf struct {
	b   []byte
	off int
	err error
	// base is the file offset of b[0], for error positions.
	base int64
}

func (b *buf) fail(n int) {
	if b.err == nil {
		b.err = &FormatError{b.base + int64(b.off), fmt.Sprintf("record truncated: %d bytes needed, %d left", n, len(b.b)-b.off)}
	}
	b.off = len(b.b)
}

func (b *buf) bytes(n int) []byte {
	if n < 0 || n > len(b.b)-b.off {
		b.fail(n)
		return nil
	}
	s := b.b[b.off : b.off+n]
	b.off += n
	return s
}

func (b *buf) u8() uint8 {
	s := b.bytes(1)
	if s == nil {
		return 0
	}
	return s[0]
}

func (b *buf) u16() uint16 {
	s := b.bytes(2)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(s)
}

func (b *buf) u32() uint32 {
	s := b.bytes(4)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(s)
}

// dataDirectory returns entry i of the optional header's data directories,
// or a zero entry when the header has fewer.
func dataDirectory(f *stdpe.File, i int) stdpe.DataDirectory {
	switch h := f.OptionalHeader.(type) {
	case *stdpe.OptionalHeader32:
		if uint32(i) < h.NumberOfRvaAndSizes && i < len(h.DataDirectory) {
			return h.DataDirectory[i]
		}
	case *stdpe.OptionalHeader64:
		if uint32(i) < h.NumberOfRvaAndSizes && i < len(h.DataDirectory) {
			return h.DataDirectory[i]
		}
	}
	return stdpe.DataDirectory{}
}
