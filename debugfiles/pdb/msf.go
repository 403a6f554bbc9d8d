package pdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// msfMagic starts every MSF 7.0 file ("big MSF"); the older
// "Microsoft C/C++ program database 2.00" format is not read.
const msfMagic = "Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00"

// superblockSize is the size of the MSF superblock: the magic, five
// 32-bit fields and the block map address.
const superblockSize = len(msfMagic) + 6*4

// nilStreamSize marks a stream the directory lists but that has no data.
const nilStreamSize = 0xffffffff

// msf is the multi-stream container: a file of fixed-size blocks, and a
// directory listing for each stream its size and its blocks in order.
// Nothing but the superblock and the directory is read when it is opened.
type msf struct {
	r io.ReaderAt
	// data is the whole file when it is held in memory (memory-mapped);
	// reads from it need not copy.
	data []byte
	// mapped is set when data is a file mapping whose pages may be
	// released after use (an Object from Open).
	mapped    bool
	size      int64
	blockSize uint32
	numBlocks uint32
	streams   []stream
}

// stream is one MSF stream: a size and the blocks holding it. Reads go
// to the blocks they need only.
type stream struct {
	m      *msf
	index  int
	size   uint32
	blocks []uint32
	// isNil marks a stream listed with size 0xffffffff.
	isNil bool
}

// bytesReader is implemented by readers holding the whole file in memory
// (a memory-mapped file).
type bytesReader interface {
	Bytes() []byte
}

// validBlockSize lists the block sizes MSF 7.0 writers use: 4096 is usual,
// 512–2048 come from old toolsets and 8192 or more from PDBs over 4 GiB.
func validBlockSize(n uint32) bool {
	switch n {
	case 512, 1024, 2048, 4096, 8192, 16384, 32768:
		return true
	}
	return false
}

// openMSF reads the superblock and the stream directory of an MSF file of
// the given size.
func openMSF(r io.ReaderAt, size int64) (*msf, error) {
	m := &msf{r: r, size: size}
	if b, ok := r.(bytesReader); ok && int64(len(b.Bytes())) == size {
		m.data = b.Bytes()
	}
	var hdr [superblockSize]byte
	if size < int64(superblockSize) {
		return nil, ErrNotPDB
	}
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("pdb: superblock: %w", err)
	}
	if string(hdr[:len(msfMagic)]) != msfMagic {
		return nil, ErrNotPDB
	}
	d := newDecoder("superblock", -1, int64(len(msfMagic)), hdr[len(msfMagic):])
	m.blockSize = d.u32()
	d.u32() // free block map block: free space is not our concern
	m.numBlocks = d.u32()
	dirBytes := d.u32()
	d.u32() // unknown
	blockMapAddr := d.u32()
	if !validBlockSize(m.blockSize) {
		return nil, fmt.Errorf("pdb: %w", formatErr("superblock", 32, "invalid block size %d", m.blockSize))
	}
	bs := int64(m.blockSize)
	// Some writers leave the last block short; any block must start inside
	// the file.
	maxBlocks := (size + bs - 1) / bs
	if int64(m.numBlocks) > maxBlocks || m.numBlocks == 0 {
		return nil, fmt.Errorf("pdb: %w", formatErr("superblock", 40, "%d blocks of %d bytes in a file of %d bytes", m.numBlocks, bs, size))
	}
	if int64(dirBytes) > size || dirBytes < 4 {
		return nil, fmt.Errorf("pdb: %w", formatErr("superblock", 44, "directory size %d in a file of %d bytes", dirBytes, size))
	}
	nDirBlocks := (int64(dirBytes) + bs - 1) / bs
	if blockMapAddr >= m.numBlocks {
		return nil, fmt.Errorf("pdb: %w", formatErr("superblock", 52, "block map address %d past %d blocks", blockMapAddr, m.numBlocks))
	}
	// The block map lists the directory's blocks; it starts at its block
	// and may run on into the following ones.
	mapOff := int64(blockMapAddr) * bs
	if mapOff+nDirBlocks*4 > size {
		return nil, fmt.Errorf("pdb: %w", formatErr("superblock", 52, "directory block map runs past the end of the file"))
	}
	mapBytes := make([]byte, nDirBlocks*4)
	if _, err := r.ReadAt(mapBytes, mapOff); err != nil {
		return nil, fmt.Errorf("pdb: directory block map: %w", err)
	}
	dirBlocks := make([]uint32, nDirBlocks)
	for i := range dirBlocks {
		dirBlocks[i] = binary.LittleEndian.Uint32(mapBytes[4*i:])
	}
	dir := &stream{m: m, index: -1, size: dirBytes, blocks: dirBlocks}
	if err := dir.check(); err != nil {
		return nil, fmt.Errorf("pdb: directory: %w", err)
	}
	dirData, err := dir.read(0, dirBytes)
	if err != nil {
		return nil, fmt.Errorf("pdb: directory: %w", err)
	}
	if err := m.parseDirectory(dirData); err != nil {
		return nil, fmt.Errorf("pdb: directory: %w", err)
	}
	return m, nil
}

// parseDirectory decodes the stream count, the stream sizes and every
// stream's block list. The block lists are checked against the directory's
// size before anything is allocated for them.
func (m *msf) parseDirectory(data []byte) error {
	d := newDecoder("directory", -1, 0, data)
	n := d.u32()
	if uint64(n) > uint64(d.left()/4) {
		return formatErr("directory", 0, "%d streams in a directory of %d bytes", n, len(data))
	}
	sizes := make([]uint32, n)
	var total uint64
	bs := uint64(m.blockSize)
	for i := range sizes {
		sizes[i] = d.u32()
		if sizes[i] != nilStreamSize {
			total += (uint64(sizes[i]) + bs - 1) / bs
		}
	}
	if d.err != nil {
		return d.err
	}
	if total > uint64(d.left()/4) {
		return formatErr("directory", int64(d.pos), "streams need %d blocks, the directory lists at most %d", total, d.left()/4)
	}
	all := make([]uint32, total)
	for i := range all {
		all[i] = d.u32()
	}
	m.streams = make([]stream, n)
	for i, sz := range sizes {
		s := &m.streams[i]
		s.m, s.index = m, i
		if sz == nilStreamSize {
			s.isNil = true
			continue
		}
		k := int((uint64(sz) + bs - 1) / bs)
		s.size, s.blocks, all = sz, all[:k:k], all[k:]
		if err := s.check(); err != nil {
			return err
		}
	}
	return d.err
}

// check verifies that every block of the stream lies in the file.
func (s *stream) check() error {
	for _, b := range s.blocks {
		if b >= s.m.numBlocks || int64(b)*int64(s.m.blockSize) >= s.m.size {
			return &FormatError{Where: "directory", Stream: s.index, Msg: fmt.Sprintf("block %d out of range (%d blocks)", b, s.m.numBlocks)}
		}
	}
	if uint64(len(s.blocks))*uint64(s.m.blockSize) < uint64(s.size) {
		return &FormatError{Where: "directory", Stream: s.index, Msg: "fewer blocks than the stream size needs"}
	}
	// Blocks of a valid file are distinct, so no stream is larger than
	// the file; a directory naming one block many times must not make
	// a reader allocate more than the file holds.
	if int64(s.size) > s.m.size {
		return &FormatError{Where: "directory", Stream: s.index, Msg: fmt.Sprintf("stream of %d bytes in a file of %d bytes", s.size, s.m.size)}
	}
	return nil
}

// stream returns stream i, or ErrNoStream when it is absent or nil.
func (m *msf) stream(i int) (*stream, error) {
	if i < 0 || i >= len(m.streams) || m.streams[i].isNil {
		return nil, fmt.Errorf("%w: %d", ErrNoStream, i)
	}
	return &m.streams[i], nil
}

// hasStream reports whether stream i exists and has data.
func (m *msf) hasStream(i int) bool {
	s, err := m.stream(i)
	return err == nil && s.size > 0
}

// errShort reports a read past a stream's end.
var errShort = errors.New("read past the end of the stream")

// errClosed reports a read from an Object that was closed.
var errClosed = errors.New("pdb: object closed")

// read returns n bytes of the stream at off. When the bytes lie in
// consecutive blocks of a file held in memory the result aliases it;
// otherwise it is a copy. n is bounded by the stream size, itself bounded
// by the file.
func (s *stream) read(off, n uint32) ([]byte, error) {
	if uint64(off)+uint64(n) > uint64(s.size) {
		return nil, &FormatError{Where: "stream", Stream: s.index, Offset: int64(off), Msg: fmt.Sprintf("%v (%d bytes of %d)", errShort, n, s.size)}
	}
	if n == 0 {
		return nil, nil
	}
	if s.m.r == nil {
		return nil, errClosed
	}
	bs := s.m.blockSize
	first := off / bs
	if s.m.data != nil {
		last := (off + n - 1) / bs
		contiguous := true
		for i := first; i < last; i++ {
			if s.blocks[i+1] != s.blocks[i]+1 {
				contiguous = false
				break
			}
		}
		if contiguous {
			start := int64(s.blocks[first])*int64(bs) + int64(off%bs)
			if end := start + int64(n); end <= int64(len(s.m.data)) {
				return s.m.data[start:end:end], nil
			}
		}
	}
	buf := make([]byte, n)
	if err := s.readInto(buf, off); err != nil {
		return nil, err
	}
	return buf, nil
}

// readInto fills p from the stream at off, block by block.
func (s *stream) readInto(p []byte, off uint32) error {
	if uint64(off)+uint64(len(p)) > uint64(s.size) {
		return &FormatError{Where: "stream", Stream: s.index, Offset: int64(off), Msg: errShort.Error()}
	}
	if s.m.r == nil {
		return errClosed
	}
	bs := s.m.blockSize
	for len(p) > 0 {
		bi, bo := off/bs, off%bs
		n := min(uint32(len(p)), bs-bo)
		fo := int64(s.blocks[bi])*int64(bs) + int64(bo)
		if s.m.data != nil {
			if fo+int64(n) > int64(len(s.m.data)) {
				return &FormatError{Where: "stream", Stream: s.index, Offset: int64(off), Msg: "block runs past the end of the file"}
			}
			copy(p[:n], s.m.data[fo:])
		} else if _, err := s.m.r.ReadAt(p[:n], fo); err != nil {
			if errors.Is(err, io.EOF) {
				return &FormatError{Where: "stream", Stream: s.index, Offset: int64(off), Msg: "block runs past the end of the file"}
			}
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// readVia fills p from the stream at off as readInto does, but reads the
// file through r rather than the mapping.
func (s *stream) readVia(r io.ReaderAt, p []byte, off uint32) error {
	if uint64(off)+uint64(len(p)) > uint64(s.size) {
		return &FormatError{Where: "stream", Stream: s.index, Offset: int64(off), Msg: errShort.Error()}
	}
	bs := s.m.blockSize
	for len(p) > 0 {
		bi, bo := off/bs, off%bs
		n := min(uint32(len(p)), bs-bo)
		fo := int64(s.blocks[bi])*int64(bs) + int64(bo)
		// Consecutive blocks make one read.
		for n < uint32(len(p)) && s.blocks[bi+1] == s.blocks[bi]+1 {
			bi++
			n = min(uint32(len(p)), n+bs)
		}
		if _, err := r.ReadAt(p[:n], fo); err != nil {
			if errors.Is(err, io.EOF) {
				return &FormatError{Where: "stream", Stream: s.index, Offset: int64(off), Msg: "block runs past the end of the file"}
			}
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// release drops the pages of the stream's blocks from the process's
// resident set when the file is mapped: a module stream is read once, and
// keeping the pages of all of them would make the resident set of indexing
// a PDB as large as the PDB.
func (s *stream) release() { s.advise(releasePages) }

// releaseRange is release for the stream's bytes [start, end) only: the
// pages of its blocks that lie wholly inside.
func (s *stream) releaseRange(start, end uint32) {
	m := s.m
	if !m.mapped || m.data == nil || end <= start {
		return
	}
	bs := s.m.blockSize
	page := uint32(os.Getpagesize())
	end = min(end, s.size)
	for start < end {
		bi, bo := start/bs, start%bs
		n := min(end-start, bs-bo)
		fo := int64(s.blocks[bi])*int64(bs) + int64(bo)
		lo := (fo + int64(page) - 1) / int64(page) * int64(page)
		hi := min(fo+int64(n), int64(len(m.data))) / int64(page) * int64(page)
		// Consecutive blocks make one call.
		for start+n < end && bi+1 < uint32(len(s.blocks)) && s.blocks[bi+1] == s.blocks[bi]+1 {
			k := min(end-start-n, bs)
			n += k
			bi++
			hi = min(int64(s.blocks[bi])*int64(bs)+int64(k), int64(len(m.data))) / int64(page) * int64(page)
		}
		if lo < hi {
			releasePages(m.data[lo:hi])
		}
		start += n
	}
}

// adviseRandom marks the pages of the stream's blocks as read in no
// order when the file is mapped (see adviseRandom): reading scattered
// records then keeps resident only the pages they lie in.
func (s *stream) adviseRandom() { s.advise(adviseRandom) }

// advise calls fn on the runs of whole pages of the stream's blocks, when
// the file is mapped.
func (s *stream) advise(fn func([]byte)) {
	m := s.m
	if !m.mapped || m.data == nil || len(s.blocks) == 0 {
		return
	}
	page := int64(os.Getpagesize())
	bs := int64(m.blockSize)
	flush := func(start, end int64) {
		start = (start + page - 1) / page * page
		end = min(end, int64(len(m.data))) / page * page
		if start < end {
			fn(m.data[start:end])
		}
	}
	runStart := int64(s.blocks[0]) * bs
	runEnd := runStart + bs
	for _, b := range s.blocks[1:] {
		if off := int64(b) * bs; off == runEnd {
			runEnd += bs
			continue
		} else {
			flush(runStart, runEnd)
			runStart, runEnd = off, off+bs
		}
	}
	flush(runStart, runEnd)
}

// all reads the whole stream.
func (s *stream) all() ([]byte, error) { return s.read(0, s.size) }
