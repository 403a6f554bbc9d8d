package macho

import (
	"errors"
	"fmt"
	"io"
)

// FormatError reports input that is not a well-formed Mach-O file. Errors
// returned by this package wrap it with the "macho:" prefix and the file
// name.
type FormatError struct {
	// Off is the offset of the offending record within the file (for a fat
	// file: within the whole file, not the slice).
	Off int64
	// Msg says what is wrong.
	Msg string
}

// Error formats the message with the offset.
func (e *FormatError) Error() string {
	return fmt.Sprintf("%s at offset %#x", e.Msg, e.Off)
}

// chunk bounds a single allocation when reading from a plain io.ReaderAt, so
// that a size taken from a header cannot allocate more than the data that is
// actually there.
const chunk = 10 << 20

// source is a bounded view of one Mach-O image (a thin file or one slice of a
// fat file). When the input is memory-backed (a mapped file) data holds all
// of it and reads are slices of it; otherwise they are copies.
type source struct {
	r    io.ReaderAt
	size int64
	// base is the offset of the view within the file, for error messages.
	base int64
	data []byte
}

// byteser is implemented by memory-backed readers such as mmapfile.File.
type byteser interface{ Bytes() []byte }

func newSource(r io.ReaderAt, size int64) source {
	s := source{r: r, size: size}
	if b, ok := r.(byteser); ok {
		if d := b.Bytes(); int64(len(d)) >= size {
			s.data = d[:size]
		}
	}
	return s
}

// sub is the view of [off, off+n) of s; the caller has checked the bounds.
func (s source) sub(off, n int64) source {
	v := source{r: io.NewSectionReader(s.r, off, n), size: n, base: s.base + off}
	if s.data != nil {
		v.data = s.data[off : off+n]
	}
	return v
}

// inBounds reports whether [off, off+n) lies inside the view.
func (s source) inBounds(off, n uint64) bool {
	size := uint64(s.size)
	return off <= size && n <= size-off
}

// errTruncated reports a range that extends past the end of the input.
var errTruncated = errors.New("extends past the end of the file")

// bytes returns [off, off+n) of the view: a slice of the mapping when the
// input is memory-backed (callers must not modify it), else a fresh copy read
// in bounded chunks.
func (s source) bytes(off, n uint64) ([]byte, error) {
	if !s.inBounds(off, n) {
		return nil, &FormatError{Off: s.base + int64(min(off, uint64(s.size))), Msg: fmt.Sprintf("range of %d bytes %v", n, errTruncated)}
	}
	if s.data != nil {
		return s.data[off : off+n : off+n], nil
	}
	var buf []byte
	for n > 0 {
		c := min(n, chunk)
		start := len(buf)
		buf = append(buf, make([]byte, c)...)
		// A ReaderAt may return io.EOF along with a full read at the end.
		if k, err := s.r.ReadAt(buf[start:], int64(off)); k < len(buf)-start {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("macho: reading %d bytes at %#x: %w", c, s.base+int64(off), err)
		}
		off += c
		n -= c
	}
	return buf, nil
}
