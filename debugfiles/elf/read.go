package elf

import (
	"bytes"
	"compress/zlib"
	stdelf "debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
)

const (
	// maxSectionSize caps the decompressed size of one section.
	maxSectionSize = 2 << 30
	// maxExpansion caps the decompressed size of a section relative to its
	// compressed size. Deflate cannot exceed about 1032:1; real zstd debug
	// sections stay far below this.
	maxExpansion = 4096
	// minExpansionCap lets tiny compressed sections decompress to at least
	// this much regardless of maxExpansion.
	minExpansionCap = 1 << 20
	// readChunk is the largest allocation made ahead of data actually read
	// from a decompressor.
	readChunk = 8 << 20
	// zstdMinWindow is the window always allowed to a zstd frame: encoders
	// may declare a window larger than the content.
	zstdMinWindow = 8 << 20
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
	return fmt.Sprintf("elf: %s at offset %#x", e.Msg, e.Off)
}

// ErrNoSection reports that a section is absent or has no contents in the
// file (SHT_NOBITS).
var ErrNoSection = errors.New("elf: section not found")

// ErrTooLarge reports a section or embedded file whose decompressed size
// exceeds the limits this package applies to hostile input.
var ErrTooLarge = errors.New("elf: decompressed data too large")

// bytesReader is implemented by readers that hold the whole file in memory
// (a memory-mapped file); reads from them are zero-copy.
type bytesReader interface {
	Bytes() []byte
}

// readAt returns n bytes at off, checked against the file size. When the
// file is held in memory the result aliases it and must not be modified.
func (o *Object) readAt(off, n uint64) ([]byte, error) {
	size := uint64(o.size)
	if off > size || n > size-off {
		return nil, &FormatError{int64(min(off, 1<<63-1)), fmt.Sprintf("%d bytes past the end of the file", n)}
	}
	if o.data != nil {
		return o.data[off : off+n : off+n], nil
	}
	buf := make([]byte, n)
	if _, err := o.r.ReadAt(buf, int64(off)); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, fmt.Errorf("elf: reading %d bytes at %#x: %w", n, off, err)
	}
	return buf, nil
}

// findSection returns the first section called name whose contents are in
// the file. For a ".debug_*" name the legacy ".zdebug_*" spelling is tried as
// well.
func (o *Object) findSection(name string) *stdelf.Section {
	for _, s := range o.f.Sections {
		if s.Name == name && hasContents(s) {
			return s
		}
	}
	if rest, ok := strings.CutPrefix(name, ".debug_"); ok {
		return o.findSection(".zdebug_" + rest)
	}
	return nil
}

// hasContents reports whether a section has bytes in the file. Offset 0 is
// the ELF header; no real section starts there (Sentry skips these too).
func hasContents(s *stdelf.Section) bool {
	return s.Type != stdelf.SHT_NOBITS && s.Type != stdelf.SHT_NULL && s.Offset != 0 && s.FileSize != 0
}

// sectionData returns the contents of s, decompressed when it is stored
// compressed (SHF_COMPRESSED or a legacy .zdebug section with a "ZLIB"
// header). Uncompressed contents alias a memory-mapped file.
func (o *Object) sectionData(s *stdelf.Section) ([]byte, error) {
	raw, err := o.readAt(s.Offset, s.FileSize)
	if err != nil {
		return nil, fmt.Errorf("elf: section %s: %w", s.Name, err)
	}
	kind, size, payload, err := compression(s, raw, o.f.Class, o.f.ByteOrder)
	if err != nil {
		return nil, fmt.Errorf("elf: section %s: %w", s.Name, err)
	}
	if kind == 0 {
		return raw, nil
	}
	out, err := decompress(kind, payload, size)
	if err != nil {
		return nil, fmt.Errorf("elf: section %s: %w", s.Name, err)
	}
	return out, nil
}

// compression decodes the compression header of a section's raw contents:
// the algorithm (0 when stored plainly), the declared uncompressed size and
// the compressed payload.
func compression(s *stdelf.Section, raw []byte, class stdelf.Class, bo binary.ByteOrder) (stdelf.CompressionType, uint64, []byte, error) {
	if s.Flags&stdelf.SHF_COMPRESSED != 0 {
		var kind stdelf.CompressionType
		var size uint64
		switch class {
		case stdelf.ELFCLASS32:
			if len(raw) < 12 {
				return 0, 0, nil, &FormatError{int64(s.Offset), "truncated compression header"}
			}
			kind, size, raw = stdelf.CompressionType(bo.Uint32(raw)), uint64(bo.Uint32(raw[4:])), raw[12:]
		default:
			if len(raw) < 24 {
				return 0, 0, nil, &FormatError{int64(s.Offset), "truncated compression header"}
			}
			kind, size, raw = stdelf.CompressionType(bo.Uint32(raw)), bo.Uint64(raw[8:]), raw[24:]
		}
		if kind == 0 {
			// Not "stored plainly": the header would be read as contents.
			return 0, 0, nil, &FormatError{int64(s.Offset), "SHF_COMPRESSED with compression type 0"}
		}
		return kind, size, raw, nil
	}
	if strings.HasPrefix(s.Name, ".zdebug") && len(raw) >= 12 && string(raw[:4]) == "ZLIB" {
		return stdelf.COMPRESS_ZLIB, binary.BigEndian.Uint64(raw[4:12]), raw[12:], nil
	}
	return 0, 0, nil, nil
}

// decompressLimit is the largest output accepted for n compressed bytes.
func decompressLimit(n int) uint64 {
	return min(max(uint64(n)*maxExpansion, minExpansionCap), maxSectionSize)
}

// decompress inflates payload, which must decode to exactly size bytes.
func decompress(kind stdelf.CompressionType, payload []byte, size uint64) ([]byte, error) {
	if size > decompressLimit(len(payload)) {
		return nil, fmt.Errorf("%w: %d bytes declared for %d compressed", ErrTooLarge, size, len(payload))
	}
	var rd io.Reader
	switch kind {
	case stdelf.COMPRESS_ZLIB:
		zr, err := zlib.NewReader(bytes.NewReader(payload))
		if err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		defer zr.Close()
		rd = zr
	case stdelf.COMPRESS_ZSTD:
		zr, err := zstd.NewReader(bytes.NewReader(payload),
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(max(size, zstdMinWindow)),
			zstd.WithDecoderMaxWindow(min(max(size, zstdMinWindow), zstd.MaxWindowSize)))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, fmt.Errorf("unknown compression type %d", kind)
	}
	out, err := readFull(rd, size)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", kind, err)
	}
	return out, nil
}

// readFull reads exactly size bytes from r, growing the buffer only as data
// arrives so that a declared size alone never drives an allocation.
func readFull(r io.Reader, size uint64) ([]byte, error) {
	buf := make([]byte, 0, min(size, readChunk))
	for uint64(len(buf)) < size {
		if len(buf) == cap(buf) {
			grow := min(size-uint64(len(buf)), max(uint64(len(buf)), readChunk))
			buf = append(buf, make([]byte, grow)...)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(uint64(cap(buf)), size)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if uint64(len(buf)) != size {
		return nil, fmt.Errorf("decompressed %d bytes, header declares %d", len(buf), size)
	}
	// Read to the end so that the decompressor verifies its checksum.
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		if n > 0 {
			return nil, fmt.Errorf("decompressed data longer than the %d bytes declared", size)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
