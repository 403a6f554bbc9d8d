package minidump

import (
	"fmt"
	"io"
	"time"

	"github.com/cairn-dev/cairn/internal/mmapfile"
)

// Signature is "MDMP" read as a little-endian uint32.
const Signature = 0x504d444d

// headerVersion is the low 16 bits of Header.Version in every minidump.
const headerVersion = 0xa793

// Location is a MINIDUMP_LOCATION_DESCRIPTOR: a byte range of the file.
type Location struct {
	DataSize uint32
	RVA      uint32
}

// GUID is a Windows GUID as stored on disk (Data1–Data3 little-endian).
type GUID struct {
	Data1 uint32
	Data2 uint16
	Data3 uint16
	Data4 [8]byte
}

// String formats the GUID in the lowercase dashed form.
func (g GUID) String() string {
	b := make([]byte, 0, 36)
	b = appendHex(b, uint64(g.Data1), 8, lowerHex)
	b = append(b, '-')
	b = appendHex(b, uint64(g.Data2), 4, lowerHex)
	b = append(b, '-')
	b = appendHex(b, uint64(g.Data3), 4, lowerHex)
	b = append(b, '-')
	for i, c := range g.Data4 {
		if i == 2 {
			b = append(b, '-')
		}
		b = appendHex(b, uint64(c), 2, lowerHex)
	}
	return unsafeString(b)
}

// MarshalText implements encoding.TextMarshaler with the dashed form.
func (g GUID) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// breakpadHex formats the GUID as Breakpad's 32 uppercase hex digits.
func (g GUID) breakpadHex(b []byte) []byte {
	b = appendHex(b, uint64(g.Data1), 8, upperHex)
	b = appendHex(b, uint64(g.Data2), 4, upperHex)
	b = appendHex(b, uint64(g.Data3), 4, upperHex)
	for _, c := range g.Data4 {
		b = appendHex(b, uint64(c), 2, upperHex)
	}
	return b
}

const (
	lowerHex = "0123456789abcdef"
	upperHex = "0123456789ABCDEF"
)

// appendHex appends v as exactly width hex digits.
func appendHex(b []byte, v uint64, width int, digits string) []byte {
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(4*uint(i)))&0xf])
	}
	return b
}

// appendHexMin appends v in hex without leading zeros (like %x).
func appendHexMin(b []byte, v uint64, digits string) []byte {
	w := 1
	for x := v >> 4; x != 0; x >>= 4 {
		w++
	}
	return appendHex(b, v, w, digits)
}

// Header is MINIDUMP_HEADER.
type Header struct {
	Signature          uint32
	Version            uint32
	StreamCount        uint32
	StreamDirectoryRVA uint32
	Checksum           uint32
	TimeDateStamp      uint32
	Flags              uint64
}

// Time is when the dump was written.
func (h Header) Time() time.Time { return time.Unix(int64(h.TimeDateStamp), 0).UTC() }

// DirectoryEntry is MINIDUMP_DIRECTORY: one stream's type and place.
type DirectoryEntry struct {
	Type     StreamType
	Location Location
}

// File is an open minidump. Streams are decoded on request by the accessor
// methods; a File is safe for concurrent use by readers.
type File struct {
	r    io.ReaderAt
	data []byte // the whole file when it is memory-resident (mmap or bytes)
	size int64

	Header    Header
	Directory []DirectoryEntry
	// Warnings lists problems that did not stop the dump from opening:
	// duplicate streams, streams pointing outside the file.
	Warnings []string

	streams map[StreamType]int // first directory index of each type
	closer  io.Closer
}

// Open maps the named file and parses its header and directory.
func Open(path string) (*File, error) {
	m, err := mmapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("minidump: %w", err)
	}
	f, err := FromBytes(m.Bytes())
	if err != nil {
		m.Close()
		return nil, err
	}
	f.closer = m
	return f, nil
}

// FromBytes parses a dump held in memory; b must not change while f is used.
func FromBytes(b []byte) (*File, error) {
	f := &File{data: b, size: int64(len(b))}
	if err := f.init(); err != nil {
		return nil, err
	}
	return f, nil
}

// NewFile parses a dump read through r, which holds size bytes.
func NewFile(r io.ReaderAt, size int64) (*File, error) {
	if b, ok := r.(interface{ Bytes() []byte }); ok && int64(len(b.Bytes())) == size {
		return FromBytes(b.Bytes())
	}
	f := &File{r: r, size: size}
	if err := f.init(); err != nil {
		return nil, err
	}
	return f, nil
}

// Close releases the mapping made by Open; it is a no-op otherwise.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	return c.Close()
}

// Size is the size of the dump in bytes.
func (f *File) Size() int64 { return f.size }

const headerSize = 32

func (f *File) init() error {
	b, err := f.bytes("header", 0, headerSize)
	if err != nil {
		return err
	}
	d := newDecoder("header", 0, b)
	h := Header{
		Signature: d.u32(), Version: d.u32(), StreamCount: d.u32(), StreamDirectoryRVA: d.u32(),
		Checksum: d.u32(), TimeDateStamp: d.u32(), Flags: d.u64(),
	}
	if h.Signature != Signature {
		if h.Signature == 0x4d444d50 {
			return formatErr("header", 0, "big-endian minidumps are not supported")
		}
		return formatErr("header", 0, "not a minidump: signature %#08x, want %#08x (\"MDMP\")", h.Signature, Signature)
	}
	if h.Version&0xffff != headerVersion {
		return formatErr("header", 4, "unknown version %#x", h.Version)
	}
	f.Header = h
	const entrySize = 12
	if uint64(h.StreamCount)*entrySize > uint64(f.size) {
		return formatErr("directory", int64(h.StreamDirectoryRVA), "%d streams do not fit in a %d-byte file", h.StreamCount, f.size)
	}
	b, err = f.bytes("directory", int64(h.StreamDirectoryRVA), uint64(h.StreamCount)*entrySize)
	if err != nil {
		return err
	}
	d = newDecoder("directory", int64(h.StreamDirectoryRVA), b)
	f.Directory = make([]DirectoryEntry, h.StreamCount)
	f.streams = make(map[StreamType]int, h.StreamCount)
	for i := range f.Directory {
		e := DirectoryEntry{Type: StreamType(d.u32()), Location: d.location()}
		f.Directory[i] = e
		if e.Type == UnusedStream {
			continue
		}
		if uint64(e.Location.RVA)+uint64(e.Location.DataSize) > uint64(f.size) {
			f.Warnings = append(f.Warnings, fmt.Sprintf("stream %d (%s) at %#x+%d extends past the end of the %d-byte file",
				i, e.Type, e.Location.RVA, e.Location.DataSize, f.size))
		}
		if j, dup := f.streams[e.Type]; dup {
			f.Warnings = append(f.Warnings, fmt.Sprintf("stream %d duplicates %s of stream %d; using the first", i, e.Type, j))
			continue
		}
		f.streams[e.Type] = i
	}
	return d.err
}

// bytes returns n bytes at file offset off. For memory-resident files it is
// a subslice (no copy); otherwise it reads into a buffer whose size the file
// size has already bounded.
func (f *File) bytes(what string, off int64, n uint64) ([]byte, error) {
	if off < 0 || uint64(off) > uint64(f.size) || n > uint64(f.size)-uint64(off) {
		return nil, formatErr(what, off, "%d bytes at %#x lie outside the %d-byte file", n, off, f.size)
	}
	if n == 0 {
		return []byte{}, nil
	}
	if f.data != nil {
		return f.data[off : off+int64(n) : off+int64(n)], nil
	}
	p := make([]byte, n)
	if _, err := f.r.ReadAt(p, off); err != nil {
		return nil, fmt.Errorf("minidump: reading %s at %#x: %w", what, off, err)
	}
	return p, nil
}

// locationBytes returns the bytes a location descriptor points at.
func (f *File) locationBytes(what string, l Location) ([]byte, error) {
	return f.bytes(what, int64(l.RVA), uint64(l.DataSize))
}

// Stream returns the directory entry of the first stream of type t.
func (f *File) Stream(t StreamType) (DirectoryEntry, bool) {
	i, ok := f.streams[t]
	if !ok {
		return DirectoryEntry{}, false
	}
	return f.Directory[i], true
}

// StreamData returns the raw bytes of the first stream of type t, or an error
// wrapping ErrNoStream when there is none.
func (f *File) StreamData(t StreamType) ([]byte, error) {
	e, ok := f.Stream(t)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoStream, t)
	}
	return f.locationBytes(t.String(), e.Location)
}

// stream returns a decoder over the first stream of type t.
func (f *File) stream(t StreamType) (decoder, error) {
	e, ok := f.Stream(t)
	if !ok {
		return decoder{}, fmt.Errorf("%w: %s", ErrNoStream, t)
	}
	b, err := f.locationBytes(t.String(), e.Location)
	if err != nil {
		return decoder{}, err
	}
	return newDecoder(t.String(), int64(e.Location.RVA), b), nil
}

// String reads a MINIDUMP_STRING (a length-prefixed UTF-16LE string) at rva.
func (f *File) String(rva uint32) (string, error) {
	b, err := f.bytes("string", int64(rva), 4)
	if err != nil {
		return "", err
	}
	n := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	if n%2 != 0 {
		return "", formatErr("string", int64(rva), "odd UTF-16 byte length %d", n)
	}
	b, err = f.bytes("string", int64(rva)+4, uint64(n))
	if err != nil {
		return "", err
	}
	return utf16String(b), nil
}
