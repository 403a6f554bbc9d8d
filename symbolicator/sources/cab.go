package sources

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Microsoft symbol servers store files compressed as single-file cabinets
// under names ending in "_" (crash.pd_, crash.ex_). The cabinet format
// ([MS-CAB]) is a header (CFHEADER), folder records (CFFOLDER), file records
// (CFFILE) and, per folder, data blocks (CFDATA). A folder's blocks
// concatenate into one uncompressed stream in which each file is a byte
// range. With MSZIP compression every block is "CK" followed by a raw
// DEFLATE stream of at most 32 KiB output whose back-references may reach
// into the previous block's output, so each block is inflated with the
// previous block's output as its preset dictionary.
//
// Only stored and MSZIP folders are read; Quantum and LZX folders report
// ErrCABCompression. Block checksums are not verified: the download is
// already integrity-checked by its transport and a bad block fails to inflate.

// cabMagic starts every cabinet.
var cabMagic = []byte("MSCF")

// ErrCABCompression reports a cabinet folder compressed with a method other
// than none or MSZIP.
var ErrCABCompression = errors.New("sources: cabinet compression method not supported")

// CABFormatError reports a malformed cabinet at a byte offset.
type CABFormatError struct {
	Off int64
	Msg string
}

// Error implements error.
func (e *CABFormatError) Error() string {
	return fmt.Sprintf("sources: cabinet: %s at offset %#x", e.Msg, e.Off)
}

const (
	cabFlagPrev    = 0x1
	cabFlagNext    = 0x2
	cabFlagReserve = 0x4

	cabCompNone  = 0
	cabCompMSZIP = 1

	// mszipBlock is the most a CFDATA block may expand to.
	mszipBlock = 32 * 1024
	// cabMaxFolders and cabMaxFiles bound the records read from a header
	// so a hostile count cannot drive allocations.
	cabMaxFolders = 1 << 12
	cabMaxFiles   = 1 << 16
)

// CABFile is one file record of a cabinet.
type CABFile struct {
	Name   string
	Size   uint32
	Offset uint32 // in its folder's uncompressed stream
	Folder uint16
}

type cabFolder struct {
	dataOff  int64
	blocks   uint16
	compress uint16
}

// CABReader reads a cabinet from an io.ReaderAt.
type CABReader struct {
	r       io.ReaderAt
	size    int64
	folders []cabFolder
	Files   []CABFile
	dataRes int // per-CFDATA reserved bytes
}

// cabBuf reads little-endian fields from a ReaderAt, latching the first
// error so the header can be parsed in a straight line.
type cabBuf struct {
	r    io.ReaderAt
	size int64
	off  int64
	err  error
	tmp  [8]byte
}

func (b *cabBuf) bytes(n int) []byte {
	if b.err != nil {
		return b.tmp[:n]
	}
	if b.off+int64(n) > b.size {
		b.err = &CABFormatError{b.off, "truncated"}
		return b.tmp[:n]
	}
	if _, err := b.r.ReadAt(b.tmp[:n], b.off); err != nil {
		b.err = &CABFormatError{b.off, "read: " + err.Error()}
	}
	b.off += int64(n)
	return b.tmp[:n]
}

func (b *cabBuf) u8() uint8   { return b.bytes(1)[0] }
func (b *cabBuf) u16() uint16 { return binary.LittleEndian.Uint16(b.bytes(2)) }
func (b *cabBuf) u32() uint32 { return binary.LittleEndian.Uint32(b.bytes(4)) }
func (b *cabBuf) skip(n int64) {
	if b.err == nil && b.off+n > b.size {
		b.err = &CABFormatError{b.off, "truncated"}
	}
	b.off += n
}

// cstring reads a NUL-terminated string of at most 256 bytes (the format's
// limit on names).
func (b *cabBuf) cstring() string {
	var out []byte
	for i := 0; i < 257 && b.err == nil; i++ {
		c := b.u8()
		if c == 0 {
			return string(out)
		}
		out = append(out, c)
	}
	if b.err == nil {
		b.err = &CABFormatError{b.off, "name too long"}
	}
	return ""
}

// NewCABReader parses the cabinet's header, folder and file records.
func NewCABReader(r io.ReaderAt, size int64) (*CABReader, error) {
	b := &cabBuf{r: r, size: size}
	if !bytes.Equal(b.bytes(4), cabMagic) {
		if b.err != nil {
			return nil, b.err
		}
		return nil, &CABFormatError{0, "bad signature"}
	}
	b.skip(4) // reserved1
	b.u32()   // cbCabinet
	b.skip(4) // reserved2
	coffFiles := b.u32()
	b.skip(4) // reserved3
	b.skip(2) // version
	nFolders := b.u16()
	nFiles := b.u16()
	flags := b.u16()
	b.skip(4) // setID, iCabinet
	var folderRes, dataRes int
	if flags&cabFlagReserve != 0 {
		headerRes := b.u16()
		folderRes = int(b.u8())
		dataRes = int(b.u8())
		b.skip(int64(headerRes))
	}
	if flags&cabFlagPrev != 0 {
		b.cstring()
		b.cstring()
	}
	if flags&cabFlagNext != 0 {
		b.cstring()
		b.cstring()
	}
	if b.err != nil {
		return nil, b.err
	}
	if nFolders > cabMaxFolders || int64(nFolders)*8 > size {
		return nil, &CABFormatError{b.off, "too many folders"}
	}
	c := &CABReader{r: r, size: size, dataRes: dataRes}
	for range nFolders {
		var f cabFolder
		f.dataOff = int64(b.u32())
		f.blocks = b.u16()
		f.compress = b.u16()
		b.skip(int64(folderRes))
		c.folders = append(c.folders, f)
	}
	if b.err != nil {
		return nil, b.err
	}
	b.off = int64(coffFiles)
	if int64(nFiles)*16 > size {
		return nil, &CABFormatError{b.off, "too many files"}
	}
	for range min(int(nFiles), cabMaxFiles) {
		var f CABFile
		f.Size = b.u32()
		f.Offset = b.u32()
		f.Folder = b.u16()
		b.skip(6) // date, time, attribs
		f.Name = b.cstring()
		if b.err != nil {
			return nil, b.err
		}
		c.Files = append(c.Files, f)
	}
	return c, nil
}

// Extract writes file i to w, decompressing its folder up to the end of the
// file.
func (c *CABReader) Extract(i int, w io.Writer) error {
	if i < 0 || i >= len(c.Files) {
		return fmt.Errorf("sources: cabinet: no file %d", i)
	}
	f := c.Files[i]
	// Folder indices 0xFFFD-0xFFFF mean "continued from/to another
	// cabinet", which a single-file symbol store cabinet never uses.
	if int(f.Folder) >= len(c.folders) {
		return &CABFormatError{0, fmt.Sprintf("file %q in missing folder %d", f.Name, f.Folder)}
	}
	folder := c.folders[f.Folder]
	switch folder.compress & 0xf {
	case cabCompNone, cabCompMSZIP:
	default:
		return fmt.Errorf("%w (type %d)", ErrCABCompression, folder.compress&0xf)
	}
	start, end := int64(f.Offset), int64(f.Offset)+int64(f.Size)
	var pos int64 // uncompressed offset of the current block
	b := &cabBuf{r: c.r, size: c.size, off: folder.dataOff}
	var dict []byte
	in := make([]byte, 0, mszipBlock+mszipBlock/8)
	out := make([]byte, mszipBlock)
	var zr io.ReadCloser
	for blk := 0; blk < int(folder.blocks) && pos < end; blk++ {
		b.u32() // csum
		cbData := int(b.u16())
		cbUncomp := int(b.u16())
		b.skip(int64(c.dataRes))
		if b.err != nil {
			return b.err
		}
		if cbUncomp > mszipBlock || cbData > cap(in) {
			return &CABFormatError{b.off, "oversized data block"}
		}
		// Empty blocks never occur in real cabinets; refusing them keeps
		// a hostile block count from costing work without output.
		if cbUncomp == 0 {
			return &CABFormatError{b.off, "empty data block"}
		}
		if b.off+int64(cbData) > c.size {
			return &CABFormatError{b.off, "truncated data block"}
		}
		in = in[:cbData]
		if _, err := c.r.ReadAt(in, b.off); err != nil {
			return fmt.Errorf("sources: cabinet: read block %d: %w", blk, err)
		}
		blockOff := b.off
		b.off += int64(cbData)
		var plain []byte
		if folder.compress&0xf == cabCompNone {
			if cbData != cbUncomp {
				return &CABFormatError{blockOff, "stored block size mismatch"}
			}
			plain = in
		} else {
			if cbData < 2 || in[0] != 'C' || in[1] != 'K' {
				return &CABFormatError{blockOff, "missing MSZIP signature"}
			}
			// One inflater is reset per block rather than allocated.
			if zr == nil {
				zr = flate.NewReaderDict(bytes.NewReader(in[2:]), dict)
			} else if err := zr.(flate.Resetter).Reset(bytes.NewReader(in[2:]), dict); err != nil {
				return fmt.Errorf("sources: cabinet: %w", err)
			}
			n, err := io.ReadFull(zr, out[:cbUncomp])
			if err != nil {
				return &CABFormatError{blockOff, fmt.Sprintf("MSZIP block %d: %v (%d of %d bytes)", blk, err, n, cbUncomp)}
			}
			plain = out[:cbUncomp]
			// The next block may refer back into this one.
			dict = append(dict[:0], plain...)
		}
		lo, hi := max(start-pos, 0), min(end-pos, int64(len(plain)))
		if lo < hi {
			if _, err := w.Write(plain[lo:hi]); err != nil {
				return fmt.Errorf("sources: cabinet: write: %w", err)
			}
		}
		pos += int64(len(plain))
	}
	if pos < end {
		return &CABFormatError{b.off, fmt.Sprintf("folder ends before file %q does", f.Name)}
	}
	return nil
}
