package symcache

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
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
	widths      [numCols]uint8
	colOff      [numCols]int // within a node row or a site row
	masks       [numCols]uint64
	nodeWidth   int
	siteWidth   int

	strs, files, funcs, sites, nodes, abs, regions, dir, stream []byte

	absWidth                                                         int
	nfiles, nfuncs, nsites, nnodes, nabs, nregions, npages, nentries uint32
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
	// caller can cache per-function work such as demangling.
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

// New reads a symcache held in b, which must stay unchanged while the
// Cache (or any frame it returned) is in use. It checks the header and the
// bounds of every section, not the checksum (see Verify).
func New(b []byte) (*Cache, error) {
	c, err := parseHeader(b, int64(len(b)))
	if err != nil {
		return nil, err
	}
	c.data = b
	sec := func(offField int, elem uint64, extra uint64) ([]byte, uint32, error) {
		off := uint64(binary.LittleEndian.Uint32(b[offField:]))
		n := binary.LittleEndian.Uint32(b[offField+4:])
		size := (uint64(n) + extra) * elem
		if off < headerSize || off > uint64(len(b)) || size > uint64(len(b))-off {
			return nil, 0, corrupt(int64(offField), "section at %#x of %d bytes outside the file (%d bytes)", off, size, len(b))
		}
		return b[off : off+size : off+size], n, nil
	}
	if c.strs, _, err = sec(offStrings, 1, 0); err != nil {
		return nil, err
	}
	if c.files, c.nfiles, err = sec(offFiles, fileRecord, 0); err != nil {
		return nil, err
	}
	if c.funcs, c.nfuncs, err = sec(offFuncs, funcRecord, 0); err != nil {
		return nil, err
	}
	if c.sites, c.nsites, err = sec(offSites, uint64(c.siteWidth), 0); err != nil {
		return nil, err
	}
	if c.nodes, c.nnodes, err = sec(offNodes, uint64(c.nodeWidth), 0); err != nil {
		return nil, err
	}
	if c.abs, c.nabs, err = sec(offAbs, uint64(c.absWidth), 0); err != nil {
		return nil, err
	}
	if c.regions, c.nregions, err = sec(offRegions, regionRecord, 0); err != nil {
		return nil, err
	}
	if c.dir, c.npages, err = sec(offDir, 4, 1); err != nil {
		return nil, err
	}
	if c.stream, _, err = sec(offStream, 1, 0); err != nil {
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
	for i := range c.widths {
		w := b[offWidths+i]
		if w > 8 {
			return nil, corrupt(int64(offWidths+i), "node column width %d", w)
		}
		c.widths[i] = w
		c.masks[i] = ^uint64(0) >> (64 - 8*uint(w))
		if w == 0 {
			c.masks[i] = 0
		}
		if i < numNodeCols {
			c.colOff[i] = c.nodeWidth
			c.nodeWidth += int(w)
		} else {
			c.colOff[i] = c.siteWidth
			c.siteWidth += int(w)
		}
	}
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
// writer's process holds.
func VerifyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("symcache: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
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
// when no function covers addr. With a dst of enough capacity it does not
// allocate. On a corrupt file it may answer wrongly but never panics or
// loops.
func (c *Cache) Lookup(addr uint64, dst []Frame) []Frame {
	node, file, line, ok := c.find(addr)
	if !ok || node == 0 {
		return dst
	}
	callFile, callLine := file, line
	first := len(dst)
	for depth := 0; node != 0 && depth < maxChain; depth++ {
		if node-1 >= c.nnodes {
			break
		}
		row := c.nodes[int(node-1)*c.nodeWidth:]
		st := uint32(c.col(row, colSite))
		back := c.col(row, colParent)
		parent := uint32(0)
		if back != 0 && back < uint64(node) {
			parent = node - uint32(back)
		}
		fr := Frame{
			Address: c.col(row, colAddr), // resolved below
			Line:    callLine,
			Inlined: parent != 0,
		}
		fr.FileDir, fr.FileName = c.file(callFile)
		callFile, callLine = 0, 0
		if st < c.nsites {
			srow := c.sites[int(st)*c.siteWidth:]
			fr.FunctionIndex = uint32(c.col(srow, colFunc))
			callFile, callLine = uint32(c.col(srow, colCallFile)), uint32(c.col(srow, colCallLine))
		} else {
			fr.FunctionIndex = ^uint32(0)
		}
		fr.Function, fr.Lang = c.function(fr.FunctionIndex)
		dst = append(dst, fr)
		node = parent
	}
	// Addresses: absolute ones from the table, the others relative to the
	// frame outside, so resolved from the outermost frame inwards.
	for i := len(dst) - 1; i >= first; i-- {
		v := dst[i].Address
		switch {
		case v&1 != 0:
			dst[i].Address = c.absAddr(v >> 1)
		case i+1 < len(dst):
			dst[i].Address = dst[i+1].Address + v>>1
		default:
			dst[i].Address = v >> 1 // chain cut short in a corrupt file
		}
	}
	return dst
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

// col reads column i of a node or site row: one unaligned 64-bit load
// and a mask where eight bytes remain in the table, else byte by byte.
func (c *Cache) col(row []byte, i int) uint64 {
	b := row[c.colOff[i]:]
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b) & c.masks[i]
	}
	switch c.widths[i] {
	case 0:
		return 0
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 3:
		return uint64(binary.LittleEndian.Uint16(b)) | uint64(b[2])<<16
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	var v uint64
	for k := int(c.widths[i]) - 1; k >= 0; k-- {
		v = v<<8 | uint64(b[k])
	}
	return v
}

// function returns a function's name and language.
func (c *Cache) function(i uint32) (string, Language) {
	if i >= c.nfuncs {
		return "", LangUnknown
	}
	r := c.funcs[int(i)*funcRecord:]
	return c.str(binary.LittleEndian.Uint32(r)), Language(r[4])
}

// FunctionName returns the raw name of function i (a Frame's
// FunctionIndex).
func (c *Cache) FunctionName(i uint32) string {
	name, _ := c.function(i)
	return name
}

// file returns the directory and name of file id+1 (0: none).
func (c *Cache) file(id uint32) (string, string) {
	if id == 0 || id-1 >= c.nfiles {
		return "", ""
	}
	r := c.files[int(id-1)*fileRecord:]
	return c.str(binary.LittleEndian.Uint32(r)), c.str(binary.LittleEndian.Uint32(r[4:]))
}

// str returns a view of the string at offset off of the string table.
func (c *Cache) str(off uint32) string {
	if uint64(off) >= uint64(len(c.strs)) {
		return ""
	}
	b := c.strs[off:]
	n, k := uvarint(b, 0)
	if k <= 0 || n == 0 || n > uint64(len(b)-k) {
		return ""
	}
	return unsafe.String(&b[k], int(n))
}

// find decodes the entry covering addr: the innermost node, file and line
// (ids+1, 0 meaning none).
func (c *Cache) find(addr uint64) (node, file, line uint32, ok bool) {
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
		return 0, 0, 0, false
	}
	r := regs[(lo-1)*regionRecord:]
	start, end := binary.LittleEndian.Uint64(r), binary.LittleEndian.Uint64(r[8:])
	if addr >= end {
		return 0, 0, 0, false
	}
	off := addr - start
	page := uint64(binary.LittleEndian.Uint32(r[16:])) + off>>c.shift
	if page >= uint64(c.npages) {
		return 0, 0, 0, false
	}
	s := binary.LittleEndian.Uint32(c.dir[page*4:])
	e := binary.LittleEndian.Uint32(c.dir[page*4+4:])
	if s >= e || uint64(e) > uint64(len(c.stream)) {
		return 0, 0, 0, false
	}
	p := c.stream[s:e]
	pos := start + off>>c.shift<<c.shift

	// The first entry starts at the page; each later one at a delta.
	// File and line are coded against the model's prediction (recall.go).
	var m model
	tag := p[0]
	i := 1
	for {
		predFile, predLine, hit := file, line, true
		if tag&tagNode != 0 {
			d, k := varint(p, i)
			if k < 0 {
				break
			}
			next := node + uint32(d)
			predFile, predLine, hit = m.nodes.switchTo(node, file, line, next)
			node = next
			i = k
		}
		newFile := predFile
		if tag&tagFile != 0 {
			f, k := uvarint(p, i)
			if k < 0 {
				break
			}
			newFile = uint32(f)
			i = k
		}
		base := m.lineBase(newFile, predFile, hit, predLine, line)
		file = newFile
		switch tag >> tagLineShift {
		case lineSame:
			line = base
		case lineNext:
			line = base + 1
		case lineDelta:
			d, k := varint(p, i)
			if k < 0 {
				return node, file, base, true
			}
			line = base + uint32(d)
			i = k
		case lineZero:
			line = 0
		}
		m.files.put(file, line)
		if i >= len(p) {
			break
		}
		tag = p[i]
		i++
		delta := uint64(tag & tagDeltaMask)
		if delta == 0 {
			d, k := uvarint(p, i)
			if k < 0 {
				break
			}
			delta, i = d, k
		}
		if pos+delta > addr || pos+delta < pos {
			break
		}
		pos += delta
	}
	return node, file, line, true
}

// uvarint decodes an unsigned LEB128 value at p[i:], returning the value
// and the index after it, or -1 when it is truncated or longer than ten
// bytes.
func uvarint(p []byte, i int) (uint64, int) {
	if i < len(p) && p[i] < 0x80 {
		return uint64(p[i]), i + 1
	}
	var v uint64
	for shift := 0; shift < 70; shift += 7 {
		if i >= len(p) {
			return 0, -1
		}
		b := p[i]
		i++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, i
		}
	}
	return 0, -1
}

// varint decodes a zigzag-encoded signed value (encoding/binary's Varint
// form).
func varint(p []byte, i int) (int64, int) {
	u, k := uvarint(p, i)
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x, k
}
