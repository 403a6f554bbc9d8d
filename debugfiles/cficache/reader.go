package cficache

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/internal/mmapfile"
)

// Cache is an opened cficache. Opening checks the header and the bounds
// of every section; lookups read the bytes directly, bounds-checked, so a
// Cache costs a fixed amount of heap whatever its size, and a file
// damaged past its header can give wrong answers but never a panic or a
// loop. A Cache is safe for concurrent lookups.
type Cache struct {
	data   []byte
	closer io.Closer

	arch unwind.Arch
	id   debugid.ID

	cfi, rules, win, winData, params []byte
}

// Open maps a cficache file and checks its header. The Cache keeps the
// mapping until Close.
func Open(path string) (*Cache, error) {
	f, err := mmapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cficache: %w", err)
	}
	c, err := New(f.Bytes())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	c.closer = f
	return c, nil
}

// checkHeader checks the header at the start of b for a file of size bytes
// and returns the debug id it records.
func checkHeader(b []byte, size int64) (debugid.ID, error) {
	var id debugid.ID
	if len(b) < headerSize {
		return id, corrupt(0, "%d bytes, shorter than the %d-byte header", len(b), headerSize)
	}
	if string(b[offMagic:offMagic+8]) != magic {
		return id, corrupt(offMagic, "bad magic %q", b[offMagic:offMagic+8])
	}
	if v := binary.LittleEndian.Uint32(b[offVersion:]); v != Version {
		return id, fmt.Errorf("%w: version %d, this reader reads %d", ErrVersion, v, Version)
	}
	if h := binary.LittleEndian.Uint32(b[offHeaderSize:]); h != headerSize {
		return id, corrupt(offHeaderSize, "header size %d, want %d", h, headerSize)
	}
	if n := binary.LittleEndian.Uint32(b[offFileSize:]); int64(n) != size {
		return id, corrupt(offFileSize, "file size %d recorded, %d present", n, size)
	}
	copy(id.GUID[:], b[offGUID:offGUID+16])
	id.Age = binary.LittleEndian.Uint32(b[offAge:])
	return id, nil
}

// ReadDebugID returns the debug id recorded in the header of the cficache
// of size bytes that r holds, reading the header alone: what indexing a
// directory of caches needs, without mapping each file. The sections are
// not checked; New and Verify do that.
func ReadDebugID(r io.ReaderAt, size int64) (debugid.ID, error) {
	var h [headerSize]byte
	if size < headerSize {
		return debugid.ID{}, corrupt(0, "%d bytes, shorter than the %d-byte header", size, headerSize)
	}
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return debugid.ID{}, fmt.Errorf("cficache: read header: %w", err)
	}
	return checkHeader(h[:], size)
}

// New reads a cficache held in b, which must stay unchanged while the
// Cache (or any frame data it returned) is in use. It checks the header
// and the bounds of every section, not the checksum (see Verify).
func New(b []byte) (*Cache, error) {
	id, err := checkHeader(b, int64(len(b)))
	if err != nil {
		return nil, err
	}
	c := &Cache{data: b, arch: unwind.Arch(b[offArch]), id: id}
	sec := func(field int, elem uint64) ([]byte, error) {
		off := uint64(binary.LittleEndian.Uint32(b[field:]))
		n := uint64(binary.LittleEndian.Uint32(b[field+4:])) * elem
		if off < headerSize || off > uint64(len(b)) || n > uint64(len(b))-off {
			return nil, corrupt(int64(field), "section at %#x of %d bytes outside the %d-byte file", off, n, len(b))
		}
		return b[off : off+n : off+n], nil
	}
	if c.cfi, err = sec(offCFI, indexRecord); err != nil {
		return nil, err
	}
	if c.rules, err = sec(offRules, 1); err != nil {
		return nil, err
	}
	if c.win, err = sec(offWin, indexRecord); err != nil {
		return nil, err
	}
	if c.winData, err = sec(offWinData, 1); err != nil {
		return nil, err
	}
	if c.params, err = sec(offParams, indexRecord); err != nil {
		return nil, err
	}
	return c, nil
}

// Verify checks the header's CRC-32C against the whole file. Open does not
// (its cost would grow with the file); callers run it once on files that
// come from elsewhere.
func (c *Cache) Verify() error {
	if want, got := binary.LittleEndian.Uint32(c.data[offChecksum:]), checksum(c.data); want != got {
		return corrupt(offChecksum, "checksum %#08x, computed %#08x", want, got)
	}
	return nil
}

// Close releases the mapping made by Open; it is a no-op otherwise.
func (c *Cache) Close() error {
	if c.closer == nil {
		return nil
	}
	cl := c.closer
	c.closer = nil
	return cl.Close()
}

// Arch is the architecture the register numbers refer to.
func (c *Cache) Arch() unwind.Arch { return c.arch }

// DebugID identifies the object the cache was built from.
func (c *Cache) DebugID() debugid.ID { return c.id }

// Size is the size of the cache in bytes.
func (c *Cache) Size() int { return len(c.data) }

// find returns the reference of the index entry covering addr.
func find(idx []byte, addr uint64) (uint32, bool) {
	if addr > 0xffffffff {
		return 0, false
	}
	a := uint32(addr)
	n := len(idx) / indexRecord
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if binary.LittleEndian.Uint32(idx[m*indexRecord:]) <= a {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, false
	}
	ref := binary.LittleEndian.Uint32(idx[(lo-1)*indexRecord+4:])
	if ref == none {
		return 0, false
	}
	return ref, true
}

// bounds returns the range of the index entry covering addr.
func bounds(idx []byte, addr uint64) (start, end uint64) {
	a := uint32(addr)
	n := len(idx) / indexRecord
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if binary.LittleEndian.Uint32(idx[m*indexRecord:]) <= a {
			lo = m + 1
		} else {
			hi = m
		}
	}
	start = uint64(binary.LittleEndian.Uint32(idx[(lo-1)*indexRecord:]))
	end = 1 << 32
	if lo < n {
		end = uint64(binary.LittleEndian.Uint32(idx[lo*indexRecord:]))
	}
	return start, end
}

// Lookup fills row with the unwind rules at addr (relative to the
// object's load address) and reports whether the cache has any. row.Regs'
// storage is reused, so with enough capacity (a few dozen rules) the
// lookup allocates nothing; expressions alias the cache's bytes. Start and
// End are set to the range the rules hold for (adjacent ranges with the
// same rules are one range).
func (c *Cache) Lookup(addr uint64, row *unwind.Row) bool {
	ref, ok := find(c.cfi, addr)
	if !ok || uint64(ref) >= uint64(len(c.rules)) {
		return false
	}
	if !decodeRow(c.rules[ref:], row) {
		return false
	}
	row.Start, row.End = bounds(c.cfi, addr)
	row.Entry = unwind.Range{Start: row.Start, End: row.End}
	return true
}

// LookupWin returns the Windows x86 frame data (STACK WIN FrameData or
// FPO) covering addr. The program string aliases the cache's bytes.
func (c *Cache) LookupWin(addr uint64) (unwind.WinFrame, bool) {
	var w unwind.WinFrame
	ref, ok := find(c.win, addr)
	if !ok || uint64(ref) >= uint64(len(c.winData)) {
		return w, false
	}
	if !decodeWin(c.winData[ref:], &w) {
		return unwind.WinFrame{}, false
	}
	return w, true
}

// ParamSize returns the size of the stack parameters of the function
// covering addr, as an x86 Breakpad symbol file's FUNC record gives it.
func (c *Cache) ParamSize(addr uint64) (uint32, bool) {
	return find(c.params, addr)
}

// Counts reports how many index entries each section holds (gap entries
// included), for statistics.
func (c *Cache) Counts() (rows, win, params int) {
	return len(c.cfi) / indexRecord, len(c.win) / indexRecord, len(c.params) / indexRecord
}
