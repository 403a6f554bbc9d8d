package symcache

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"unsafe"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/internal/mmapfile"
)

// Cache is an opened symcache. Opening reads and checks the header only;
// every lookup reads the bytes directly, bounds-checked, so a Cache costs
// a fixed amount of heap whatever its size. A Cache is safe for concurrent
// lookups.
type Cache struct {
	data   []byte
	closer io.Closer

	loadAddress uint64
	id          debugid.ID
	arch        string
	format      debugfiles.Format
	shift       uint8
	widths      [numCols]uint8  // in bits
	colOff      [numCols]uint64 // bit offset within a node row or a site row
	masks       [numCols]uint64
	nodeWidth   uint64 // bits of the widest node row the header allows
	nodeDirW    uint64 // bits of a node directory entry
	nodeOffW    uint64 // bits of its offset
	nodeOffMask uint64
	siteWidth   uint64
	dirWidth    uint8
	block       uint64   // bits of a directory block
	dirFirstW   uint8    // bits of a directory block's first offset
	dirNodeW    uint8    // bits of a directory block's node
	dirFileW    uint8    // bits of a directory block's file
	dirLineW    uint8    // bits of a directory block's line
	dirHead     uint64   // bits of a directory block before its page fields
	strWidth    uint64   // bits of a string offset in the file and function tables
	refWidth    uint64   // bits of a string reference: offset and length
	funcWidth   uint64   // bits of a function row
	lenMask     uint64   // of a string length
	topWidths   [3]uint8 // function, address, first site
	firstOff    uint64   // bit offset of a site row's first site
	firstMask   uint64   // of a site row's first site
	flagOff     uint64   // bit offset of a site row's exception flag
	flagMask    uint64   // of the flag: 0 when the table has none
	langMask    uint64   // mask of a function row's language, after its name
	homeOff     uint64   // bit offset of a function row's file
	baseOff     uint64   // bit offset of a function row's line base
	baseW       uint8    // bits of a function row's line base
	baseShift   uint8    // of the line base
	baseMask    uint64
	topWidth    uint64 // bits of a top-level row
	topBaseW    uint64 // bits of a top-level block's base address
	topBaseMask uint64
	topBlockW   uint64 // bits of a top-level block: its base and topBlock rows
	topMasks    [3]uint64
	strMask     uint64 // of a string offset
	codeBits    [numAlphabets]uint8
	// dirNarrow is set when a directory block's first offset and node
	// fit one load, its file and line another, and two page fields a
	// third.
	dirNarrow bool
	// refNarrow is set when a function row, and a string reference of a
	// file row, fit one load.
	refNarrow bool
	// rowsNarrow is set when every row a lookup reads fits one load, as
	// in practice: then Lookup takes its fast path.
	rowsNarrow   bool
	dirFirstMask uint64
	dirNodeMask  uint64
	dirFileMask  uint64
	dirLineMask  uint64
	dirFieldMask uint64

	strs, files, funcs, sites, nodes, nodeDir, top, abs, regions, dir, codes, stream, exceptions []byte
	// tables are the decode tables of the stream's alphabets, views of
	// codes (noCode for an alphabet without one).
	tables [numAlphabets]*[tableSize]byte

	absWidth                                                                              int
	nfiles, nfuncs, nsites, nnodes, ntop, nabs, nregions, ngroups, npages, nentries, nexc uint32
}

// Frame is one frame of a lookup; an inline chain is innermost first, as
// debugfiles.Index returns it.
//
// The strings are views of the Cache's bytes (the mapping, for a Cache from
// Open): they are valid until Close, and a caller that keeps a frame longer
// must copy them (strings.Clone).
type Frame struct {
	// Function is the function's raw name, as the debug information
	// records it (mangled when it has a linkage name); "" when the debug
	// information has code there but no function.
	Function string
	// FunctionIndex identifies the function in this cache, so that a
	// caller can cache per-function work such as demangling; NoFunction
	// for code without a function.
	FunctionIndex uint32
	// Lang is the function's language, LangUnknown when not known.
	Lang Language
	// Inlined is set for every frame inlined into the next one.
	Inlined bool
	// Line is the source line: for the innermost frame the line row at the
	// address, for each outer frame the call site of the frame inside it;
	// 0 when unknown.
	Line uint32
	// Address is the start of the function (of the part of it, or of the
	// inlined range, containing the address), relative to the load address.
	Address uint64
	// FileDir and FileName are the source file, split after the last path
	// separator: FileDir+FileName is the path debugfiles.FileInfo.Path
	// joins (compilation directory, include directory and name).
	FileDir, FileName string
}

// Path is the source file's full path; it allocates when both parts are
// non-empty.
func (f *Frame) Path() string {
	if f.FileDir == "" {
		return f.FileName
	}
	if f.FileName == "" {
		return f.FileDir
	}
	return f.FileDir + f.FileName
}

// Open maps a symcache file and checks its header. The Cache keeps the
// mapping until Close.
func Open(path string) (*Cache, error) {
	f, err := mmapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("symcache: %w", err)
	}
	c, err := New(f.Bytes())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	c.closer = f
	return c, nil
}

// FromReaderAt reads a symcache of size bytes from r into memory. Only
// the header is read before the size it declares is checked against size.
func FromReaderAt(r io.ReaderAt, size int64) (*Cache, error) {
	if size < headerSize {
		return nil, corrupt(0, "%d bytes, shorter than the header", size)
	}
	var h [headerSize]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, fmt.Errorf("symcache: read header: %w", err)
	}
	if _, err := parseHeader(h[:], size); err != nil {
		return nil, err
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(r, 0, size), data); err != nil {
		return nil, fmt.Errorf("symcache: read: %w", err)
	}
	return New(data)
}

// ReadDebugID returns the debug id recorded in the header of the symcache
// of size bytes that r holds, reading the header alone: what indexing a
// directory of caches needs, without mapping each file. The sections are
// not checked; New and Verify do that.
func ReadDebugID(r io.ReaderAt, size int64) (debugid.ID, error) {
	if size < headerSize {
		return debugid.ID{}, corrupt(0, "%d bytes, shorter than the header", size)
	}
	var h [headerSize]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return debugid.ID{}, fmt.Errorf("symcache: read header: %w", err)
	}
	c, err := parseHeader(h[:], size)
	if err != nil {
		return debugid.ID{}, err
	}
	return c.id, nil
}

// New reads a symcache held in b, which must stay unchanged while the
// Cache (or any frame it returned) is in use. It checks the header and the
// bounds of every section, not the checksum (see Verify).
func New(b []byte) (*Cache, error) {
	c, err := parseHeader(b, int64(len(b)))
	if err != nil {
		return nil, err
	}
	c.data = b
	// sec returns the section whose offset and count are at offField,
	// of count+extra records of elemBits bits each.
	sec := func(offField int, elemBits uint64, extra uint64) ([]byte, uint32, error) {
		off := uint64(binary.LittleEndian.Uint32(b[offField:]))
		n := binary.LittleEndian.Uint32(b[offField+4:])
		size := bitBytes(uint64(n)+extra, elemBits)
		if off < headerSize || off > uint64(len(b)) || size > uint64(len(b))-off {
			return nil, 0, corrupt(int64(offField), "section at %#x of %d bytes outside the file (%d bytes)", off, size, len(b))
		}
		return b[off : off+size : off+size], n, nil
	}
	if c.strs, _, err = sec(offStrings, 8, 0); err != nil {
		return nil, err
	}
	c.strWidth = strBits(uint64(binary.LittleEndian.Uint32(b[offStrings+4:])))
	c.strMask = 1<<c.strWidth - 1
	lw := uint64(b[offLenWidth])
	if lw > 32 {
		return nil, corrupt(offLenWidth, "string length width %d", lw)
	}
	c.lenMask = 1<<lw - 1
	c.refWidth = c.strWidth + lw
	if c.files, c.nfiles, err = sec(offFiles, 2*c.refWidth, 0); err != nil {
		return nil, err
	}
	langW := uint64(b[offLangWidth])
	if langW > langBits {
		return nil, corrupt(offLangWidth, "language width %d", langW)
	}
	c.langMask = 1<<langW - 1
	c.homeOff = c.refWidth + langW
	c.baseOff = c.homeOff + uint64(c.widths[colCallFile])
	c.funcWidth = c.baseOff + uint64(c.baseW)
	c.refNarrow = c.funcWidth <= 56
	c.rowsNarrow = c.refNarrow && c.nodeWidth <= 56 && c.siteWidth <= 56 && c.topWidth <= 56 && c.topBaseW <= 56
	if c.funcs, c.nfuncs, err = sec(offFuncs, c.funcWidth, 0); err != nil {
		return nil, err
	}
	if c.sites, c.nsites, err = sec(offSites, c.siteWidth, 0); err != nil {
		return nil, err
	}
	if c.nodes, c.nnodes, err = sec(offNodes, 0, 0); err != nil {
		return nil, err
	}
	// The node table's length is in the header, its rows being of each
	// block's width; the directory has an entry per block.
	{
		off := uint64(binary.LittleEndian.Uint32(b[offNodes:]))
		n := uint64(binary.LittleEndian.Uint32(b[offNodeBytes:]))
		if n > uint64(len(b))-off {
			return nil, corrupt(offNodeBytes, "node table at %#x of %d bytes outside the file (%d bytes)", off, n, len(b))
		}
		c.nodes = b[off : off+n : off+n]
		c.nodeOffW = uint64(bits.Len64(8 * n))
		c.nodeOffMask = 1<<c.nodeOffW - 1
		c.nodeDirW = c.nodeOffW + nodeDirFields
		blocks := (uint64(c.nnodes) + nodeBlock - 1) / nodeBlock
		off, size := uint64(binary.LittleEndian.Uint32(b[offNodeDir:])), bitBytes(blocks, c.nodeDirW)
		if off < headerSize || off > uint64(len(b)) || size > uint64(len(b))-off {
			return nil, corrupt(offNodeDir, "node directory at %#x of %d bytes outside the file (%d bytes)", off, size, len(b))
		}
		c.nodeDir = b[off : off+size : off+size]
	}
	// The top-level table has a base per block of rows before them.
	{
		off := uint64(binary.LittleEndian.Uint32(b[offTop:]))
		c.ntop = binary.LittleEndian.Uint32(b[offTop+4:])
		n := uint64(c.ntop)
		size := bitBytes(1, (n+topBlock-1)/topBlock*c.topBaseW+n*c.topWidth)
		if off < headerSize || off > uint64(len(b)) || size > uint64(len(b))-off {
			return nil, corrupt(offTop, "top-level table at %#x of %d bytes outside the file (%d bytes)", off, size, len(b))
		}
		c.top = b[off : off+size : off+size]
	}
	if c.abs, c.nabs, err = sec(offAbs, 8*uint64(c.absWidth), 0); err != nil {
		return nil, err
	}
	if c.regions, c.nregions, err = sec(offRegions, 8*regionRecord, 0); err != nil {
		return nil, err
	}
	// The directory has a block per group of pages, the last one
	// holding the end of the stream (page npages). A block's first
	// offset is sized by the stream, its node by the node table, its
	// file and line by the header.
	c.dirFirstW = uint8(bits.Len64(8 * uint64(binary.LittleEndian.Uint32(b[offStream+4:]))))
	c.dirNodeW = uint8(bits.Len32(c.nnodes))
	c.dirHead = uint64(c.dirFirstW) + uint64(c.dirNodeW) + uint64(c.dirFileW) + uint64(c.dirLineW)
	c.block = c.dirHead + groupPages*uint64(c.dirWidth)
	c.dirNarrow = c.dirFirstW+c.dirNodeW <= 56 && c.dirFileW+c.dirLineW <= 56 && 2*c.dirWidth <= 56
	c.dirFirstMask, c.dirNodeMask, c.dirFieldMask = 1<<c.dirFirstW-1, 1<<c.dirNodeW-1, 1<<c.dirWidth-1
	c.dirFileMask, c.dirLineMask = 1<<c.dirFileW-1, 1<<c.dirLineW-1
	c.npages = binary.LittleEndian.Uint32(b[offDir+4:])
	c.ngroups = c.npages/groupPages + 1
	off, size := uint64(binary.LittleEndian.Uint32(b[offDir:])), bitBytes(uint64(c.ngroups), c.block)
	if off < headerSize || off > uint64(len(b)) || size > uint64(len(b))-off {
		return nil, corrupt(offDir, "directory at %#x of %d bytes outside the file (%d bytes)", off, size, len(b))
	}
	c.dir = b[off : off+size : off+size]
	if c.codes, _, err = sec(offCodes, 8, 0); err != nil {
		return nil, err
	}
	var tables uint64
	for i, cb := range c.codeBits {
		n := tableBytes(cb)
		if uint64(len(c.codes)) < tables+n {
			return nil, corrupt(offCodes, "decode tables of %d bytes, too short", len(c.codes))
		}
		c.tables[i] = &noCode
		if n > 0 {
			c.tables[i] = (*[tableSize]byte)(c.codes[tables : tables+n])
		}
		tables += n
	}
	if tables != uint64(len(c.codes)) {
		return nil, corrupt(offCodes, "decode tables of %d bytes, want %d", len(c.codes), tables)
	}
	if c.stream, _, err = sec(offStream, 8, 0); err != nil {
		return nil, err
	}
	if c.exceptions, c.nexc, err = sec(offExceptions, 8*exceptionRecord, 0); err != nil {
		return nil, err
	}
	return c, nil
}

// parseHeader checks the fixed header of a file of size bytes and reads
// its scalar fields.
func parseHeader(b []byte, size int64) (*Cache, error) {
	if len(b) < len(magic) || !bytes.Equal(b[:len(magic)], []byte(magic)) {
		return nil, corrupt(0, "not a symcache (bad magic)")
	}
	if len(b) < offVersion+4 {
		return nil, corrupt(0, "%d bytes, shorter than the header", len(b))
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[offVersion:]); v != Version {
		return nil, fmt.Errorf("%w: file has version %d, this build reads version %d", ErrVersion, v, Version)
	}
	if len(b) < headerSize {
		return nil, corrupt(0, "%d bytes, shorter than the header", len(b))
	}
	if hs := le.Uint32(b[offHeaderSize:]); hs != headerSize {
		return nil, corrupt(offHeaderSize, "header size %d, want %d", hs, headerSize)
	}
	if fs := le.Uint32(b[offFileSize:]); int64(fs) != size {
		return nil, corrupt(offFileSize, "file has %d bytes, its header says %d (truncated?)", size, fs)
	}
	c := &Cache{
		loadAddress: le.Uint64(b[offLoadAddress:]),
		format:      debugfiles.Format(b[offFormat]),
		shift:       b[offPageShift],
		nentries:    le.Uint32(b[offEntries:]),
	}
	copy(c.id.GUID[:], b[offGUID:offGUID+16])
	c.id.Age = le.Uint32(b[offAge:])
	arch := b[offArch : offArch+archLen]
	if i := bytes.IndexByte(arch, 0); i >= 0 {
		arch = arch[:i]
	}
	c.arch = string(arch)
	if c.shift > 63 {
		return nil, corrupt(offPageShift, "page shift %d", c.shift)
	}
	if c.absWidth = int(b[offAbsWidth]); c.absWidth > 8 {
		return nil, corrupt(offAbsWidth, "address width %d", c.absWidth)
	}
	if c.dirWidth = b[offDirWidth]; c.dirWidth > 32 {
		return nil, corrupt(offDirWidth, "page offset width %d", c.dirWidth)
	}
	if c.dirFileW = b[offGroupWidths]; c.dirFileW > 32 {
		return nil, corrupt(offGroupWidths, "directory file width %d", c.dirFileW)
	}
	if c.dirLineW = b[offGroupWidths+1]; c.dirLineW > 32 {
		return nil, corrupt(offGroupWidths+1, "directory line width %d", c.dirLineW)
	}
	if c.topBaseW = uint64(b[offTopBase]); c.topBaseW > 64 {
		return nil, corrupt(offTopBase, "top-level base width %d", c.topBaseW)
	}
	c.topBaseMask = 1<<c.topBaseW - 1
	for i, limit := range [3]uint8{maxColBits, 64, maxColBits} {
		if c.topWidths[i] = b[offTopWidths+i]; c.topWidths[i] > limit {
			return nil, corrupt(int64(offTopWidths+i), "top-level column width %d", c.topWidths[i])
		}
		c.topWidth += uint64(c.topWidths[i])
		c.topMasks[i] = 1<<c.topWidths[i] - 1
	}
	for i := range c.codeBits {
		if c.codeBits[i] = b[offCodeBits+i]; c.codeBits[i] != 0 && c.codeBits[i] != maxCodeLen {
			return nil, corrupt(int64(offCodeBits+i), "decode table of %d index bits", c.codeBits[i])
		}
	}
	flagW := b[offFlagWidth]
	if flagW > 1 {
		return nil, corrupt(offFlagWidth, "site flag width %d", flagW)
	}
	c.flagMask = 1<<flagW - 1
	if c.baseW = b[offLineBase]; c.baseW > 32 {
		return nil, corrupt(offLineBase, "line base width %d", c.baseW)
	}
	c.baseMask = 1<<c.baseW - 1
	if c.baseShift = b[offLineBase+1]; c.baseShift > 32 {
		return nil, corrupt(offLineBase+1, "line base shift %d", c.baseShift)
	}
	for i := range c.widths {
		w := b[offWidths+i]
		if w > maxColBits {
			return nil, corrupt(int64(offWidths+i), "column width %d bits", w)
		}
		c.widths[i] = w
		c.masks[i] = 1<<w - 1
		switch {
		case i < numNodeCols:
			c.colOff[i] = c.nodeWidth
			c.nodeWidth += uint64(w)
		case i == colCallFile:
			// A column of the function table; the site row's flag
			// is where it was.
			c.flagOff = c.siteWidth
			c.siteWidth += uint64(flagW)
		default:
			c.colOff[i] = c.siteWidth
			c.siteWidth += uint64(w)
		}
	}
	c.topBlockW = c.topBaseW + topBlock*c.topWidth
	c.firstOff = c.siteWidth
	c.firstMask = 1<<c.topWidths[2] - 1
	c.siteWidth += uint64(c.topWidths[2])
	return c, nil
}

// Verify checks the CRC-32C checksum the header carries over the whole
// file. Open does not, so that opening stays independent of the size; run
// it once on files that arrive from elsewhere.
func (c *Cache) Verify() error {
	b := c.data
	crc := crc32.Update(0, castagnoli, b[:offChecksum])
	crc = crc32.Update(crc, castagnoli, b[offChecksum+4:])
	if want := binary.LittleEndian.Uint32(b[offChecksum:]); crc != want {
		return corrupt(offChecksum, "checksum %08x, computed %08x", want, crc)
	}
	return nil
}

// VerifyFile checks the checksum of the symcache file at path as Verify
// does, reading it in blocks instead of mapping it: a mapped file stays
// resident once read, which for a file just written doubles what the
// writer's process holds. The blocks are small, as memory a process
// touches first costs a page fault a page: with a buffer of 1 MB, `cairn
// symcache info` of the bench fixture's symcache took 23.8 ms against
// 18.8 ms (medians of 30 alternated runs on the machines measured).
func VerifyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("symcache: %w", err)
	}
	defer f.Close()
	buf := make([]byte, verifyBlock)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("symcache: read %s: %w", path, err)
	}
	if n < headerSize {
		return corrupt(0, "%d bytes, shorter than the header", n)
	}
	want := binary.LittleEndian.Uint32(buf[offChecksum:])
	crc := crc32.Update(0, castagnoli, buf[:offChecksum])
	crc = crc32.Update(crc, castagnoli, buf[offChecksum+4:n])
	for {
		n, err := f.Read(buf)
		crc = crc32.Update(crc, castagnoli, buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("symcache: read %s: %w", path, err)
		}
	}
	if crc != want {
		return corrupt(offChecksum, "checksum %08x, computed %08x", want, crc)
	}
	return nil
}

// verifyBlock is the size of the blocks VerifyFile reads.
const verifyBlock = 64 << 10

// Close releases the mapping of a Cache from Open; frames returned before
// must not be used afterwards.
func (c *Cache) Close() error {
	if c.closer == nil {
		return nil
	}
	err := c.closer.Close()
	c.closer = nil
	return err
}

// DebugID is the debug id of the object the cache was built from.
func (c *Cache) DebugID() debugid.ID { return c.id }

// Arch is the object's architecture in Sentry's spelling.
func (c *Cache) Arch() string { return c.arch }

// LoadAddress is the object's preferred load address; lookups take
// addresses relative to it.
func (c *Cache) LoadAddress() uint64 { return c.loadAddress }

// Format is the container format the debug information came from.
func (c *Cache) Format() debugfiles.Format { return c.format }

// Stats counts what a cache holds (SPEC.md names the tables).
type Stats struct {
	// Size is the file size in bytes.
	Size int
	// Files, Functions, Sites and Nodes are the table lengths.
	Files, Functions, Sites, Nodes int
	// Regions and Pages describe the address directory.
	Regions, Pages int
	// Entries is the number of address ranges in the range stream.
	Entries int
	// StringBytes, DirBytes and RangeBytes are section sizes in bytes.
	StringBytes, DirBytes, RangeBytes int
	// PageSize is the span of address space one page covers.
	PageSize uint64
}

// Stats reports the cache's table sizes.
func (c *Cache) Stats() Stats {
	return Stats{
		Size: len(c.data), Files: int(c.nfiles), Functions: int(c.nfuncs), Sites: int(c.nsites), Nodes: int(c.nnodes),
		Regions: int(c.nregions), Pages: int(c.npages), Entries: int(c.nentries),
		StringBytes: len(c.strs), DirBytes: len(c.dir), RangeBytes: len(c.stream),
		PageSize: 1 << c.shift,
	}
}

// NumFunctions is the size of the function table; FunctionIndex values are
// below it.
func (c *Cache) NumFunctions() int { return int(c.nfuncs) }

// Lookup appends the frames at addr (relative to the load address) to dst,
// innermost first, and returns the extended slice; nothing is appended
// when no function covers addr. It does not allocate when dst has room
// for 16 more frames; otherwise it grows dst once to that room, so a
// caller that reuses the slice allocates once. On a corrupt file it may
// answer wrongly but never panics or loops.
func (c *Cache) Lookup(addr uint64, dst []Frame) []Frame {
	if cap(dst)-len(dst) < fastChain {
		dst = slices.Grow(dst, fastChain)
	}
	if !c.rowsNarrow {
		return c.lookupAny(addr, dst)
	}
	node, file, line, at, run, ok := c.find(addr)
	if !ok {
		return dst
	}
	if node == 0 {
		return c.nameless(dst, file, line, at, run)
	}
	// The chain, innermost first, in dst's room. Until the second pass
	// resolves them, a frame holds its node's site and address columns,
	// and in Line whether the node has a parent column (is not
	// top-level). Only the fields without pointers are written here:
	// appending a whole Frame would zero it, storing its pointers through
	// the write barrier's check.
	//
	// Neither pass calls anything, not even on paths not taken: the
	// compiler spills what is live across a call where it is computed,
	// whichever path the call is on. Each row is one load (rowsNarrow),
	// and a top-level block's base another; the room was made above; a
	// deeper chain, a flagged site or an absolute address starts over in
	// lookupAny. With calls to the row readers here, and appends, a
	// lookup ran 5% more instructions and took 1.04 times as long
	// (BENCHMARKS.md, "In-process lookup").
	first := len(dst)
	out := dst[first : first+fastChain]
	nodes := c.nodes
	n, wide := 0, false
	for ; node != 0 && n < fastChain; n++ {
		if node-1 >= c.nnodes {
			break
		}
		i := uint64(node - 1)
		base, rw, wp, ws := c.blockFields(load56(c.nodeDir, c.nodeDirEntry(i)))
		if rw > 56 {
			wide = true // only in a corrupt file: the header's widths are narrow
			break
		}
		b := load56(nodes, base+i&(nodeBlock-1)*rw)
		back, site, code := b&(1<<wp-1), b>>wp&(1<<ws-1), b>>((wp+ws)&63)&(1<<((rw-wp-ws)&63)-1)
		if back == 0 {
			code = site | code<<ws // a top-level node's row of the top-level table
		}
		parent := uint32(0)
		if back != 0 && back < uint64(node) {
			parent = node - uint32(back)
		}
		inlined := uint32(0)
		if back != 0 {
			inlined = 1
		}
		f := &out[n]
		f.FunctionIndex, f.Address, f.Line, f.Inlined = uint32(site), code, inlined, parent != 0
		node = parent
	}
	if wide || node != 0 && n == fastChain {
		return c.lookupAny(addr, dst)
	}
	if n == 0 {
		return dst
	}
	out = out[:n]
	// From the outermost frame inwards: the top-level row tells where
	// the sites of its chains begin, and a frame's address is what the
	// addresses of the calls inlined into it are relative to. A site
	// gives its frame's function and the file and line of the frame
	// outside.
	var (
		sites   uint64
		sitesOK bool
		outer   uint64
		home    uint64 // the file of the calls of the frame just outside
		base    uint64 // the base of their lines
		slow    bool
	)
	for i := n - 1; i >= 0; i-- {
		f := &out[i]
		site, code := uint64(f.FunctionIndex), f.Address
		fn, at := ^uint32(0), uint64(0)
		if f.Line == 0 {
			sitesOK = false
			if t := code; t < uint64(c.ntop) {
				// The row, and the base address of its block,
				// which the row's address is the difference from.
				blk := t >> topBlockShift * c.topBlockW
				fn, at, sites = c.topFields(load56(c.top, blk+c.topBaseW+t&(topBlock-1)*c.topWidth))
				at += load56(c.top, blk) & c.topBaseMask
				sitesOK = true
			}
		} else {
			if s := sites + site; sitesOK && s < uint64(c.nsites) {
				v, flag, cl, next := c.siteFields(load56(c.sites, s*c.siteWidth))
				fn, sites = uint32(v), next
				// A flagged site's call file and line are an
				// exception, which lookupAny reads.
				slow = slow || flag != 0
				o := &out[i+1]
				o.Line = uint32(base + cl)
				if id := uint32(home); id-1 < c.nfiles { // id 0 wraps around; c.file, written out
					pos := uint64(id-1) * 2 * c.refWidth
					o.FileDir, o.FileName = c.str(load56(c.files, pos)), c.str(load56(c.files, pos+c.refWidth))
				}
			} else {
				sitesOK = false
			}
			switch {
			case code&1 != 0:
				// An address in the table of absolute addresses
				// (an inlined range before its caller's start, as
				// code moved to a cold section has): rare, and
				// lookupAny reads it, so that this loop calls
				// nothing.
				slow = true
			case i+1 < n:
				at = outer + code>>1
			default:
				at = code >> 1 // chain cut short in a corrupt file
			}
			if slow {
				break
			}
		}
		f.Line = 0
		f.FunctionIndex, f.Address, outer = fn, at, at
		f.Function, f.Lang = "", LangUnknown
		f.FileDir, f.FileName = "", "" // the frame inside sets them, if any
		home, base = 0, 0
		if fn < c.nfuncs {
			b := load56(c.funcs, uint64(fn)*c.funcWidth)
			f.Function, f.Lang = c.str(b), Language(b>>(c.refWidth&63)&c.langMask)
			home = b >> (c.homeOff & 63) & c.masks[colCallFile]
			base = b >> (c.baseOff & 63) & c.baseMask << (c.baseShift & 63)
		}
	}
	if slow {
		return c.lookupAny(addr, dst)
	}
	out[0].Line = line
	if file-1 < c.nfiles { // file 0 wraps around; c.file, written out: the call took 1% more time
		pos := uint64(file-1) * 2 * c.refWidth
		out[0].FileDir, out[0].FileName = c.str(load56(c.files, pos)), c.str(load56(c.files, pos+c.refWidth))
	}
	return dst[:first+n]
}

// fastChain is the room Lookup makes in dst: chains are rarely deeper
// (the bench fixture's are 1–4 frames), and a deeper one goes through
// lookupAny.
const fastChain = 16

// lookupAny is Lookup for what its fast path leaves: rows too wide for one
// load, chains deeper than fastChain, and frames whose address is in the
// table of absolute addresses. It reads the rows through the functions
// that take any width.
func (c *Cache) lookupAny(addr uint64, dst []Frame) []Frame {
	node, file, line, at, run, ok := c.find(addr)
	if !ok {
		return dst
	}
	if node == 0 {
		return c.nameless(dst, file, line, at, run)
	}
	first := len(dst)
	for depth := 0; node != 0 && depth < maxChain; depth++ {
		if node-1 >= c.nnodes {
			break
		}
		site, code, back := c.nodeRow(node)
		parent := uint32(0)
		if back != 0 && back < uint64(node) {
			parent = node - uint32(back)
		}
		f := Frame{FunctionIndex: uint32(site), Address: code, Inlined: parent != 0}
		if back != 0 {
			f.Line = 1 // not top-level, as in Lookup
		}
		dst = append(dst, f)
		node = parent
	}
	out := dst[first:]
	var (
		sites   uint64
		sitesOK bool
		outer   uint64
	)
	for i := len(out) - 1; i >= 0; i-- {
		f := &out[i]
		site, code := uint64(f.FunctionIndex), f.Address
		fn, at := ^uint32(0), uint64(0)
		if f.Line == 0 {
			fn, at, sites, sitesOK = c.topRow(code)
		} else {
			if s := sites + site; sitesOK && s < uint64(c.nsites) {
				var v, flag, cl uint64
				v, flag, cl, sites = c.siteRow(s)
				fn = uint32(v)
				o := &out[i+1]
				file, base := c.home(o.FunctionIndex)
				line := base + uint32(cl)
				if flag != 0 {
					file, line = c.exception(s)
				}
				o.Line = line
				o.FileDir, o.FileName = c.file(file)
			} else {
				sitesOK = false
			}
			switch {
			case code&1 != 0:
				at = c.absAddr(code >> 1)
			case i+1 < len(out):
				at = outer + code>>1
			default:
				at = code >> 1 // chain cut short in a corrupt file
			}
		}
		f.Line = 0
		f.FunctionIndex, f.Address, outer = fn, at, at
		f.Function, f.Lang = c.function(fn)
		f.FileDir, f.FileName = "", ""
	}
	if len(out) > 0 {
		out[0].Line = line
		out[0].FileDir, out[0].FileName = c.file(file)
	}
	return dst
}

// nameless appends to dst the frame of nameless code, an entry of node 0
// with a file or a line starting at at (nothing for a gap, which has
// neither): the debug information has line rows there but no function.
// Its address is where the run of such entries holding it begins, as the
// writer puts them (assembly.nameless): run, when find saw the run begin,
// else found by looking back.
func (c *Cache) nameless(dst []Frame, file, line uint32, at, run uint64) []Frame {
	if file == 0 && line == 0 {
		return dst
	}
	if run == 0 {
		run = c.namelessStart(at)
	}
	f := Frame{FunctionIndex: NoFunction, Line: line, Address: run}
	f.FileDir, f.FileName = c.file(file)
	return append(dst, f)
}

// namelessStart returns where the run of nameless code holding the entry
// that starts at at begins: such code is padding between functions, of one
// entry or two.
func (c *Cache) namelessStart(at uint64) uint64 {
	return c.lookBack(at, func(n, f, l uint32) bool { return n == 0 && (f != 0 || l != 0) })
}

// lookBack returns where the run of entries that same accepts, ending with
// the one that starts at at, begins: it looks back entry by entry, a
// decoding of a page each, at most maxRunPages times, so that a corrupt
// file cannot make it loop long.
func (c *Cache) lookBack(at uint64, same func(node, file, line uint32) bool) uint64 {
	for range maxRunPages {
		if at == 0 {
			break
		}
		n, f, l, prev, _, ok := c.find(at - 1)
		if !ok || !same(n, f, l) || prev >= at {
			break
		}
		at = prev
	}
	return at
}

// NoFunction is the FunctionIndex of a frame of nameless code.
const NoFunction = ^uint32(0)

// nodeDirEntry is the bit position in the node directory of the entry of
// the block holding row i of the node table.
func (c *Cache) nodeDirEntry(i uint64) uint64 { return i >> nodeBlockShift * c.nodeDirW }

// blockFields splits a node directory entry read in one load: the bit
// offset of the block's first row, its row width, and the widths of its
// parent and site columns (the address column takes the rest). It inlines,
// as siteFields does.
func (c *Cache) blockFields(d uint64) (base, rw, wp, ws uint64) {
	ow := c.nodeOffW & 63
	return d & c.nodeOffMask, d >> ow & (1<<rowWidthBits - 1), d >> (ow + rowWidthBits) & (1<<colWidthBits - 1),
		d >> (ow + rowWidthBits + colWidthBits) & (1<<colWidthBits - 1)
}

// nodeRow reads the row of node id (1 ≤ id ≤ nnodes): its site and
// address columns and its parent distance; for a top-level node (back 0)
// code is its row of the top-level table.
func (c *Cache) nodeRow(id uint32) (site, code, back uint64) {
	i := uint64(id - 1)
	base, rw, wp, ws := c.blockFields(load56(c.nodeDir, c.nodeDirEntry(i)))
	wa := (rw - wp - ws) & 63 // what a damaged entry's widths leave, at most 63
	pos := base + i&(nodeBlock-1)*rw
	back, site, code = loadBits(c.nodes, pos, uint(wp)), loadBits(c.nodes, pos+wp, uint(ws)), loadBits(c.nodes, pos+wp+ws, uint(wa))
	if back == 0 {
		code = site | code<<ws
	}
	return site, code, back
}

// siteRow reads site s: function, exception flag, call line and the
// first site of the calls inlined into its function; with one load when
// the row is narrow enough, as it is in practice.
func (c *Cache) siteRow(s uint64) (fn, flag, line, first uint64) {
	pos := s * c.siteWidth
	if c.siteWidth <= 56 {
		return c.siteFields(load56(c.sites, pos))
	}
	fn, flag, line = c.siteCols(pos)
	return fn, flag, line, loadBits(c.sites, pos+c.firstOff, uint(c.topWidths[2]))
}

// home returns the file (id+1) of the calls inlined into function fn,
// the call file of its sites but those flagged, and the base of their
// call lines; nothing for a function past the table.
func (c *Cache) home(fn uint32) (file, base uint32) {
	if fn >= c.nfuncs {
		return 0, 0
	}
	pos := uint64(fn) * c.funcWidth
	file = uint32(loadBits(c.funcs, pos+c.homeOff, uint(c.widths[colCallFile])))
	base = uint32(loadBits(c.funcs, pos+c.baseOff, uint(c.baseW))) << (c.baseShift & 63)
	return file, base
}

// exception returns the call file and line of flagged site s, found by
// binary search among the exceptions; none when it has none, which only a
// damaged file lacks.
func (c *Cache) exception(s uint64) (file, line uint32) {
	le := binary.LittleEndian
	lo, hi := 0, int(c.nexc)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if uint64(le.Uint32(c.exceptions[m*exceptionRecord:])) < s {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == int(c.nexc) {
		return 0, 0
	}
	r := c.exceptions[lo*exceptionRecord:]
	if uint64(le.Uint32(r)) != s {
		return 0, 0
	}
	return le.Uint32(r[4:]), le.Uint32(r[8:])
}

// topRow reads row t of the top-level table: a function, an address and
// where the sites of the calls inlined into the function begin; ok is
// false for a row past the table.
func (c *Cache) topRow(t uint64) (fn uint32, at, first uint64, ok bool) {
	if t >= uint64(c.ntop) {
		return ^uint32(0), 0, 0, false
	}
	blk := t >> topBlockShift * c.topBlockW
	base := loadWide(c.top, blk, uint(c.topBaseW))
	pos := blk + c.topBaseW + t&(topBlock-1)*c.topWidth
	if c.topWidth <= 56 {
		fn, at, first = c.topFields(load56(c.top, pos))
		return fn, base + at, first, true
	}
	w := c.topWidths
	fn = uint32(loadBits(c.top, pos, uint(w[0])))
	pos += uint64(w[0])
	return fn, base + loadWide(c.top, pos, uint(w[1])), loadBits(c.top, pos+uint64(w[1]), uint(w[2])), true
}

// siteFields splits a site row read in one load: function, exception
// flag, call line and the first site of the calls inlined into its
// function. Lookup calls it in a loop that must call nothing: it inlines.
func (c *Cache) siteFields(b uint64) (fn, flag, line, first uint64) {
	off, m := &c.colOff, &c.masks
	return b >> (off[colFunc] & 63) & m[colFunc], b >> (c.flagOff & 63) & c.flagMask,
		b >> (off[colCallLine] & 63) & m[colCallLine], b >> (c.firstOff & 63) & c.firstMask
}

// topFields splits a top-level row read in one load: function, address
// and first site. It inlines, as siteFields does.
func (c *Cache) topFields(b uint64) (fn uint32, at, first uint64) {
	w, m := &c.topWidths, &c.topMasks
	return uint32(b & m[0]), b >> (w[0] & 63) & m[1], b >> ((w[0] + w[1]) & 63) & m[2]
}

// absAddr reads entry i of the absolute address table.
func (c *Cache) absAddr(i uint64) uint64 {
	if i >= uint64(c.nabs) {
		return 0
	}
	b := c.abs[int(i)*c.absWidth:]
	var v uint64
	for k := c.absWidth - 1; k >= 0; k-- {
		v = v<<8 | uint64(b[k])
	}
	return v
}

// siteCols reads the function, exception flag and call line of the site
// row at bit pos: with one load when they fit one, else column by column.
func (c *Cache) siteCols(pos uint64) (uint64, uint64, uint64) {
	lo, lw := c.colOff[colCallLine], uint(c.widths[colCallLine])
	if lo+uint64(lw) <= 56 {
		b := load56(c.sites, pos)
		return b >> (c.colOff[colFunc] & 63) & c.masks[colFunc], b >> (c.flagOff & 63) & c.flagMask, b >> (lo & 63) & c.masks[colCallLine]
	}
	return loadBits(c.sites, pos+c.colOff[colFunc], uint(c.widths[colFunc])), loadBits(c.sites, pos+c.flagOff, uint(bits.Len64(c.flagMask))),
		loadBits(c.sites, pos+lo, lw)
}

// function returns a function's name and language.
func (c *Cache) function(i uint32) (string, Language) {
	if i >= c.nfuncs {
		return "", LangUnknown
	}
	pos := uint64(i) * c.funcWidth
	return c.strAt(c.funcs, pos), Language(load56(c.funcs, pos+c.refWidth) & c.langMask)
}

// FunctionName returns the raw name of function i (a Frame's
// FunctionIndex).
func (c *Cache) FunctionName(i uint32) string {
	name, _ := c.function(i)
	return name
}

// file returns the directory and name of file id+1 (0: none).
func (c *Cache) file(id uint32) (string, string) {
	if id-1 >= c.nfiles { // id 0 wraps around
		return "", ""
	}
	w := c.refWidth
	pos := uint64(id-1) * 2 * w
	if c.refNarrow { // as in practice: one load each, and str inlines where strAt is a call
		return c.str(load56(c.files, pos)), c.str(load56(c.files, pos+w))
	}
	return c.strAt(c.files, pos), c.strAt(c.files, pos+w)
}

// str returns a view of the string that ref, a string reference (offset,
// then length, in its low bits), names in the string table; "" when it
// lies past the table. Lookup reads no byte of the table: a name's bytes
// are read by who prints it.
func (c *Cache) str(ref uint64) string {
	off, n := ref&c.strMask, ref>>(c.strWidth&63)&c.lenMask
	if n == 0 || off+n > uint64(len(c.strs)) {
		return ""
	}
	return unsafe.String(&c.strs[off], int(n))
}

// strAt is str for the reference at bit pos of table, in two loads when
// it is too wide for one.
func (c *Cache) strAt(table []byte, pos uint64) string {
	if c.refWidth <= 56 {
		return c.str(load56(table, pos))
	}
	w := c.strWidth
	return c.str(loadBits(table, pos, uint(w)) | loadBits(table, pos+w, 32)<<(w&63))
}

// find decodes the entry covering addr: the innermost node, file and line
// (ids+1, 0 meaning none), where the entry starts (the page's start for a
// page's first entry, which repeats the entry covering it), and run, the
// same start when the entry is one the page shows its node's run to begin
// at (its node changed there), else 0.
func (c *Cache) find(addr uint64) (node, file, line uint32, at, run uint64, ok bool) {
	regs := c.regions
	lo, hi := 0, int(c.nregions)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if binary.LittleEndian.Uint64(regs[m*regionRecord:]) <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, 0, 0, 0, 0, false
	}
	r := regs[(lo-1)*regionRecord:]
	start, end := binary.LittleEndian.Uint64(r), binary.LittleEndian.Uint64(r[8:])
	if addr >= end {
		return 0, 0, 0, 0, 0, false
	}
	off := addr - start
	sh := c.shift & 63 // at most 63 (parseHeader); the mask spares the shift's overflow code
	page := uint64(binary.LittleEndian.Uint32(r[16:])) + off>>sh
	if page >= uint64(c.npages) {
		return 0, 0, 0, 0, 0, false
	}
	pos, stop, from, ff, fl, ok := c.pageSpan(page)
	if !ok {
		return 0, 0, 0, 0, 0, false
	}
	// The block of the group's node, and its directory entry, are read
	// now, though the decoding does not use them: the rows the chain
	// reads next are mostly there (a group's ~30 nodes take a line or
	// two), and their cache misses then overlap the decoding instead of
	// following it. KeepAlive keeps the loads, which nothing else uses.
	// Lookups took 0.95–0.97 of the time (BENCHMARKS.md, "In-process
	// lookup"), and 1.05 without it in version 6.
	if i := uint64(from - 1); i < uint64(c.nnodes) { // from 0 wraps around
		base, _, _, _ := c.blockFields(load56(c.nodeDir, c.nodeDirEntry(i)))
		if i = base >> 3; i < uint64(len(c.nodes)) { // its block
			runtime.KeepAlive(c.nodes[i])
		}
		if i += 64; i < uint64(len(c.nodes)) {
			runtime.KeepAlive(c.nodes[i])
		}
	}
	ps := start + off>>sh<<sh
	node, file, line, at, changed, cont := c.decode(pos, stop, from, ff, fl, ps, addr)
	if !cont {
		if changed && at > ps { // not the page's first entry, which may go on from before
			run = at
		}
		return node, file, line, at, run, true
	}
	// The entry at addr goes on into the next page, which starts with
	// it: its first entry, decoded alone, has its node, file and line.
	next := ps + 1<<sh
	if pos, stop, from, ff, fl, ok = c.pageSpan(page + 1); !ok {
		return 0, 0, 0, 0, 0, false
	}
	node, file, line, _, _, _ = c.decode(pos, stop, from, ff, fl, next, next)
	return node, file, line, at, 0, true
}

// RunStart returns where the run of addresses that answer as addr does
// (the same innermost frame, file and line) begins: the lowest address of
// the range entry holding addr, found across pages. For a symcache of a
// Breakpad symbol file this is the start of the line record holding addr,
// from which Breakpad counts a frame's offset. ok is false where Lookup
// answers no frame: no function covers addr, and no line row does (a
// nameless frame's run has a start). It decodes a page per page the run
// spans, so it is meant for a few addresses per request (stack frames),
// not for every lookup.
func (c *Cache) RunStart(addr uint64) (start uint64, ok bool) {
	node, file, line, at, _, ok := c.find(addr)
	if !ok || node == 0 && file == 0 && line == 0 {
		return 0, false
	}
	return c.lookBack(at, func(n, f, l uint32) bool { return n == node && f == file && l == line }), true
}

// maxRunPages bounds the steps lookBack takes back, so that a corrupt file
// cannot make it loop long.
const maxRunPages = 1 << 12

// pageSpan returns the bits [pos, stop) of page k in the stream and the
// node, file and line the decoding of its group's pages starts from; ok
// is false past the directory. The page's end is the next page's start,
// in the same block but for the last page of a group, which ends where
// the next group's first page starts: at that group's first offset (the
// guess for a group's first page) plus its field 0.
//
// When the fields are narrow enough, as they are in practice, the
// block's first offset and node come in one load, its file and line in
// another, and the fields of the page and of the next one in a third. It
// calls nothing, not even on paths not taken: the compiler spills what is
// live across a call where it is computed, whichever path the call is on.
func (c *Cache) pageSpan(k uint64) (pos, stop uint64, node, file, line uint32, ok bool) {
	g, j := k/groupPages, k%groupPages
	ng := uint64(c.ngroups)
	if g >= ng {
		return 0, 0, 0, 0, 0, false
	}
	end := 8 * uint64(len(c.stream))
	dir, bp := c.dir, g*c.block
	fw, nw, dw := uint(c.dirFirstW), uint(c.dirNodeW), uint(c.dirWidth)
	sp, fields := bp+uint64(fw+nw), bp+c.dirHead // the file and line; the fields
	fm, dm := c.dirFirstMask, c.dirFieldMask
	var first, zj, zn uint64
	if c.dirNarrow {
		h := load56(dir, bp)
		first, node = h&fm, uint32(h>>(fw&63)&c.dirNodeMask)
		s := load56(dir, sp)
		file, line = uint32(s&c.dirFileMask), uint32(s>>(c.dirFileW&63)&c.dirLineMask)
		f := load56(dir, fields+uint64(j)*uint64(dw))
		zj, zn = f&dm, f>>(dw&63)&dm
	} else {
		first, node = load56(dir, bp)&fm, uint32(load56(dir, bp+uint64(fw))&c.dirNodeMask)
		file = uint32(load56(dir, sp) & c.dirFileMask)
		line = uint32(load56(dir, sp+uint64(c.dirFileW)) & c.dirLineMask)
		zj, zn = load56(dir, fields+j*uint64(dw))&dm, load56(dir, fields+(j+1)*uint64(dw))&dm
	}
	next := end
	if g+1 < ng {
		next = load56(dir, bp+c.block) & fm
	}
	pos, stop = pageGuess(first, next, j)+unzigzag64(zj), end
	switch {
	case j+1 < groupPages:
		stop = pageGuess(first, next, j+1) + unzigzag64(zn)
	case g+1 < ng:
		stop = next + unzigzag64(load56(dir, bp+c.block+c.dirHead)&dm)
	}
	return pos, min(stop, end), node, file, line, true
}

// unzigzag64 inverts zigzag64.
func unzigzag64(v uint64) uint64 { return uint64(int64(v>>1) ^ -int64(v&1)) }

// decode decodes the entries of a page from bit pos to bit stop, the
// page starting at address at (at or before addr) and its decoding from
// node, file and line (its group's), and returns the state at addr and
// where its entry starts: entries are decoded while the next one starts
// at or before addr. changed tells that the entry's node is not the one
// before's (after the page's first entry). cont is set when that entry is a continuation, whose
// node, file and line are the next page's first entry's (the state
// returned is the entry's before it). File and line are coded against the
// model's prediction (recall.go).
//
// A page holds two streams: tags and node differences from pos forwards,
// files and lines from stop backwards; the page's entries are over where
// they meet. Each stream is a chain of codes, every code's position
// depending on the one before: apart, the two chains run side by side,
// and the tags, which alone decide where the decoding stops, are no
// longer behind the lines of the entries before them.
//
// The bit readers are spelled out here, their state in local variables,
// so that it stays in registers: this loop is most of a lookup's time.
func (c *Cache) decode(pos, stop uint64, node, file, line uint32, at, addr uint64) (_, _, _ uint32, _ uint64, changed, cont bool) {
	var (
		rem  = addr - at // from the current entry's start to addr
		m    model
		p    = c.stream
		fpos = stop // the field stream's bits are below fpos
		tabs = &c.tables
		ctx  = alphaTagFirst
		// The slots of node in m.nodes and of file in m.files; -1
		// while the memory holds none. Keeping them spares a search
		// an entry: lookups took 0.94–0.95 of the time (BENCHMARKS.md).
		// The file memory starts with the group's file, in slot 0.
		cur, fcur = -1, 0
		top       = node // the page's highest node so far
	)
	m.files.add(file, 0, line) // groupStart.state
	for pos < fpos && fpos <= stop {
		// The tag stream: the tag, a long delta's value, and the node's
		// difference.
		w := load56(p, pos)
		e := tableEntry(tabs[ctx], w)
		n := uint(e & 15)
		if n == 0 {
			break
		}
		w, pos = w>>n, pos+uint64(n)
		ts := e >> 4
		delta := uint64(ts >> 2)
		if delta == escapeDelta {
			// A long delta: a value of its own alphabet follows.
			e := tableEntry(tabs[alphaDelta], w)
			n := uint(e & 15)
			if n == 0 {
				break
			}
			pos += uint64(n)
			v, n, ok := symValue(e >> 4)
			if !ok {
				break
			}
			// loadWide, written out so that the loop calls nothing
			// (see pageSpan).
			x := load56(p, pos)
			if n > 56 {
				x = x&(1<<32-1) | load56(p, pos+32)<<32
			}
			delta = escapeDelta + (v | x&(1<<(n&63)-1))
			pos += uint64(n)
			w = load56(p, pos)
		}
		// A page's first entry, the one read in context
		// alphaTagFirst, starts at the page start whatever its delta.
		first := ctx == alphaTagFirst
		if !first {
			if delta > rem {
				break
			}
			rem -= delta
		}
		if pos >= fpos {
			// A continuation (state.encodeNext): the streams meet
			// after its tag, and the next page's first entry says
			// what it holds.
			return node, file, line, addr - rem, false, true
		}
		ctx = alphaTag + int(ts&3)
		predFile, predLine, hit := file, line, true
		if ts&tagNodeFlag != 0 {
			e := tableEntry(tabs[alphaNode+int(ts>>1&1)], w) // ts>>1&1: tagFileFlag as 0 or 1
			n := uint(e & 15)
			if n == 0 {
				break
			}
			// The value without a branch on whether it has extra
			// bits, which a third of node differences have: the
			// branch mispredicted, which cost more than the table's
			// load. 40 of w's bits are left, more than a 32-bit
			// value's extra bits.
			vs := &valueSyms[e>>4&0xff]
			x := uint(vs.extra)
			d := vs.base | w>>n&(1<<(x&63)-1)
			pos += uint64(n + x)
			next := node + uint32(unzigzag(d-1))
			switch d {
			case 0: // the node after the page's highest (state.encode)
				next = top + 1
			case 1: // node 0
				next = 0
			}
			top = max(top, next)
			// m.nodes.switchTo, written out so that the loop calls
			// nothing (see pageSpan), and with the current node's
			// slot kept rather than searched for. An add takes the
			// oldest slot, which may be next's.
			hit = false
			i := m.nodes.find(next)
			if i >= 0 && next != 0 { // node 0 predicts nothing (recall.switchTo)
				predFile, predLine, hit = m.nodes.file[i], m.nodes.line[i], true
			}
			if cur >= 0 {
				m.nodes.file[cur&(recallSize-1)], m.nodes.line[cur&(recallSize-1)] = file, line
			} else {
				k := m.nodes.add(node, file, line)
				switch {
				case next == node:
					i = k
				case i == k:
					i = -1
				}
			}
			cur = i
			node = next
		}
		// The field stream, read from the most significant bit of f: a
		// file and a line, codes and extra bits. The load is
		// unconditional: whether the bits left would do changes from
		// entry to entry, and mispredicting it costs more than the load.
		f, avail := loadBack(p, fpos), uint(56)
		newFile := predFile
		if ts&tagFileFlag != 0 {
			e := tableEntry(tabs[alphaFile], f>>56)
			n := uint(e & 15)
			if n == 0 {
				break
			}
			f, avail, fpos = f<<n, avail-n, fpos-uint64(n)
			v := uint64(e >> 4)
			if v >= directValues {
				x, n, ok := symValue(e >> 4)
				if !ok || n > 56 {
					break
				}
				if n > avail {
					f, avail = loadBack(p, fpos), 56
				}
				v = x | f>>(64-n)
				f, avail, fpos = f<<n, avail-n, fpos-uint64(n)
				if avail < maxCodeLen {
					f, avail = loadBack(p, fpos), 56
				}
			}
			newFile = uint32(v)
		}
		// m.lineBase, then m.files.put below, written out, with the
		// file's slot found once, and not searched for when the file
		// is the current one, whose slot is kept.
		fi := fcur
		if newFile != file {
			fi = m.files.find(newFile)
		}
		base, how := predLine, basePredicted
		if !hit || newFile != predFile {
			base, how = 0, baseNone
			if fi >= 0 {
				base, how = m.files.line[fi], baseFile
			}
		}
		file = newFile
		e = tableEntry(tabs[lineAlphabet(ts, how, first)], f>>56)
		n = uint(e & 15)
		if n == 0 {
			return node, file, base, addr - rem, ts&tagNodeFlag != 0, false
		}
		f, avail, fpos = f<<n, avail-n, fpos-uint64(n)
		// The value without a branch on whether it has extra bits
		// (most lines have, many not), as the node's. A file's value
		// so written was slower (BENCHMARKS.md).
		vs := &valueSyms[e>>4&0xff]
		if x := uint(vs.extra); x > avail {
			f = loadBack(p, fpos)
		}
		d := vs.base + f>>1>>((63-vs.extra)&63) // no bits for extra 0
		fpos -= uint64(vs.extra)
		line = base + uint32(unzigzag(d))
		if fi >= 0 {
			m.files.line[fi&(recallSize-1)] = line
		} else {
			fi = m.files.add(file, 0, line)
		}
		fcur = fi
	}
	return node, file, line, addr - rem, (ctx-alphaTag)&tagNodeFlag != 0, false
}

// tableSize is the size in bytes of a decode table.
const tableSize = 2 << maxCodeLen

// noCode is the decode table of an alphabet without symbols: no code
// matches.
var noCode [tableSize]byte

// tableEntry returns the entry of a decode table for the next bits w of
// the stream.
func tableEntry(t *[tableSize]byte, w uint64) uint32 {
	i := 2 * (w & (1<<maxCodeLen - 1))
	return uint32(binary.LittleEndian.Uint16(t[i : i+2]))
}
