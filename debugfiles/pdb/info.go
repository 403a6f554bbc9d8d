package pdb

import (
	"fmt"
	"math/bits"
	"sort"
)

// Fixed stream indexes of an MSF 7.0 PDB.
const (
	streamOldDirectory = 0
	streamInfo         = 1
	streamTPI          = 2
	streamDBI          = 3
	streamIPI          = 4
)

// PDB info stream versions and feature codes (LLVM's PDB documentation,
// "The PDB Info Stream").
const (
	infoVersionVC70   = 20000404
	featureVC110      = 20091201
	featureVC140      = 20140508
	featureNoTypeMrg  = 0x4D544F4E
	featureMinimalDbg = 0x494E494D
)

// Info is the PDB info stream (stream 1): the identity of the PDB and the
// map from names to the streams that have names ("/names", "/LinkInfo",
// "/src/headerblock", "srcsrv", ...).
type Info struct {
	Version uint32
	// Signature is a time stamp of the write that created the file.
	Signature uint32
	// Age counts the writes to the file; the DBI stream's age is the one
	// the image refers to (see Object.DebugID).
	Age uint32
	// GUID is stored as on disk: Data1–Data3 little-endian.
	GUID [16]byte
	// NamedStreams maps stream names to stream indexes.
	NamedStreams map[string]uint32
	// Features are the feature codes that follow the named stream map.
	Features []uint32
}

// StreamNames lists the named streams sorted by name.
func (in *Info) StreamNames() []string {
	names := make([]string, 0, len(in.NamedStreams))
	for n := range in.NamedStreams {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// HasIPI reports whether the feature codes announce an IPI stream; writers
// from VC 2012 on record VC110 or VC140.
func (in *Info) HasIPI() bool {
	for _, f := range in.Features {
		if f == featureVC110 || f == featureVC140 {
			return true
		}
	}
	return false
}

// parseInfo decodes the PDB info stream.
func parseInfo(data []byte) (*Info, error) {
	d := newDecoder("info", streamInfo, 0, data)
	in := &Info{NamedStreams: map[string]uint32{}}
	in.Version = d.u32()
	in.Signature = d.u32()
	in.Age = d.u32()
	copy(in.GUID[:], d.bytes(16))
	if d.err != nil {
		return nil, d.err
	}
	if d.left() == 0 {
		return in, nil // very old writers stop after the header
	}
	// The named stream map: a buffer of NUL-terminated names, then a hash
	// table of (name offset, stream index) with present and deleted bit
	// vectors.
	strLen := d.u32()
	names := d.bytes(int(strLen))
	size := d.u32()
	capacity := d.u32()
	present := bitVector(&d)
	bitVector(&d) // deleted entries are not read
	if d.err != nil {
		return nil, d.err
	}
	if uint64(size) > uint64(d.left()/8) || size > capacity {
		return nil, &FormatError{Where: "info", Stream: streamInfo, Offset: int64(d.pos), Msg: fmt.Sprintf("named stream map of %d entries (capacity %d)", size, capacity)}
	}
	count := 0
	for w, word := range present {
		for word != 0 {
			bit := bits.TrailingZeros32(word)
			word &^= 1 << bit
			if uint64(w*32+bit) >= uint64(capacity) {
				continue
			}
			key, val := d.u32(), d.u32()
			if d.err != nil {
				return nil, d.err
			}
			count++
			if key < uint32(len(names)) {
				in.NamedStreams[cstringAt(names, key)] = val
			}
		}
	}
	if count != int(size) {
		return nil, &FormatError{Where: "info", Stream: streamInfo, Offset: int64(d.pos), Msg: fmt.Sprintf("named stream map has %d present entries, header says %d", count, size)}
	}
	d.u32() // niMac: the number of names, unused
	for d.err == nil && d.left() >= 4 {
		in.Features = append(in.Features, d.u32())
	}
	return in, nil
}

// bitVector reads a word count and that many 32-bit words, the count
// bounded by the data left.
func bitVector(d *decoder) []uint32 {
	n := d.u32()
	if uint64(n) > uint64(d.left()/4) {
		d.fail("bit vector of %d words", n)
		return nil
	}
	v := make([]uint32, n)
	for i := range v {
		v[i] = d.u32()
	}
	return v
}

// cstringAt returns the NUL-terminated string at off in buf (copied).
func cstringAt(buf []byte, off uint32) string {
	if off >= uint32(len(buf)) {
		return ""
	}
	b := buf[off:]
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
