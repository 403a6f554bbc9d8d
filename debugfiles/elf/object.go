package elf

import (
	stdelf "debug/elf"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/internal/mmapfile"
)

// textHashSize is how much of .text Sentry and Breakpad hash into a debug id
// when a file has no build id.
const textHashSize = 4096

// Object is one ELF file seen through the debugfiles view. Its identity
// (kind, arch, ids, features, load address, debug link) is decoded when it is
// opened; symbols and debug information are read on demand. An Object is
// safe for concurrent use; slices it returns must not be modified and, for
// an Object from Open, are valid only until Close.
type Object struct {
	f    *stdelf.File
	r    io.ReaderAt
	size int64
	// data is the whole file when it is held in memory (memory-mapped).
	data   []byte
	closer io.Closer
	// releasing counts the releases of parts of data still running
	// (releaser.inflight).
	releasing sync.WaitGroup
	// path is the file system path of an Object from Open; only such objects
	// look for split DWARF files beside themselves.
	path string
	name string

	kind      debugfiles.Kind
	arch      string
	buildID   []byte
	debugID   debugid.ID
	loadAddr  uint64
	features  debugfiles.Features
	link      debugLink
	soname    string
	debugData *stdelf.Section
	// nested is set for the ELF file embedded in .gnu_debugdata, which is
	// not searched for a .gnu_debugdata of its own.
	nested bool

	symOnce sync.Once
	syms    []symbol
	symErr  error
}

var _ debugfiles.Object = (*Object)(nil)

// Open memory-maps the ELF file at path and reads its headers. Close releases
// the mapping.
func Open(path string) (*Object, error) {
	m, err := mmapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("elf: %w", err)
	}
	o, err := newObject(m, int64(m.Len()), path, false)
	if err != nil {
		m.Close()
		return nil, err
	}
	o.closer = m
	o.path = path
	return o, nil
}

// NewObject reads an ELF file of the given size from r; name is what Name
// reports. The Object does no file system I/O of its own: split DWARF files
// are not looked for (see Open). Close does not close r.
func NewObject(r io.ReaderAt, size int64, name string) (*Object, error) {
	return newObject(r, size, name, false)
}

func newObject(r io.ReaderAt, size int64, name string, nested bool) (*Object, error) {
	if size < 0 {
		return nil, fmt.Errorf("elf: %s: negative size", name)
	}
	sr := io.NewSectionReader(r, 0, size)
	f, err := stdelf.NewFile(sr)
	if err != nil {
		return nil, fmt.Errorf("elf: %s: %w", name, err)
	}
	o := &Object{f: f, r: sr, size: size, name: name, nested: nested}
	if b, ok := r.(bytesReader); ok && int64(len(b.Bytes())) == size {
		o.data = b.Bytes()
	}
	o.arch = archName(f, o.headerFlags())
	o.loadAddr = loadAddress(f)
	o.buildID = o.findBuildID()
	o.debugID = o.computeDebugID()
	o.kind = o.computeKind()
	o.link = o.readDebugLink()
	o.soname = o.readSoname()
	if !nested {
		o.debugData = o.findSection(".gnu_debugdata")
	}
	o.features = o.computeFeatures()
	return o, nil
}

// Close releases the file mapping of an Object from Open.
func (o *Object) Close() error {
	if o.closer == nil {
		return nil
	}
	c := o.closer
	o.closer = nil
	// A page released after the unmapping would be another mapping's.
	o.releasing.Wait()
	o.data = nil
	return c.Close()
}

// Format is FormatELF.
func (o *Object) Format() debugfiles.Format { return debugfiles.FormatELF }

// Kind classifies the file: ET_REL is relocatable, ET_CORE a dump, a file
// whose .text is SHT_NOBITS a debug companion, ET_EXEC and ET_DYN with
// PT_INTERP or DF_1_PIE executables, other ET_DYN files libraries.
func (o *Object) Kind() debugfiles.Kind { return o.kind }

// Arch is the architecture in Sentry's spelling, "unknown" for machines
// Cairn does not name.
func (o *Object) Arch() string { return o.arch }

// DebugID is derived from the build id, or from a hash of .text when there is
// none (see the package documentation).
func (o *Object) DebugID() debugid.ID { return o.debugID }

// CodeID is the build id in lowercase hex, or "" when there is none.
func (o *Object) CodeID() string {
	if len(o.buildID) == 0 {
		return ""
	}
	return debugid.CodeIDFromBytes(o.buildID)
}

// BuildID is the GNU build id, or nil. The slice must not be modified.
func (o *Object) BuildID() []byte { return o.buildID }

// Name is the name the object was opened with, or its DT_SONAME when that
// was empty.
func (o *Object) Name() string {
	if o.name == "" {
		return o.soname
	}
	return o.name
}

// DebugFile is the file name recorded in .gnu_debuglink, or "".
func (o *Object) DebugFile() string { return o.link.name }

// DebugLink returns the file name and CRC-32 recorded in .gnu_debuglink; ok
// is false when the section is absent or malformed.
func (o *Object) DebugLink() (name string, crc uint32, ok bool) {
	return o.link.name, o.link.crc, o.link.ok
}

// Features says what the file contributes: a symbol table (.symtab, the
// dynamic symbol table or .gnu_debugdata), debug information (.debug_info
// with contents, which includes split-DWARF skeletons) and unwind
// information (.eh_frame or .debug_frame with contents).
func (o *Object) Features() debugfiles.Features { return o.features }

// LoadAddress is the p_vaddr of the first PT_LOAD program header, or 0.
func (o *Object) LoadAddress() uint64 { return o.loadAddr }

// headerFlags reads e_flags, which debug/elf does not decode.
func (o *Object) headerFlags() uint32 {
	off := uint64(36)
	if o.f.Class == stdelf.ELFCLASS64 {
		off = 48
	}
	b, err := o.readAt(off, 4)
	if err != nil {
		return 0
	}
	return o.f.ByteOrder.Uint32(b)
}

// loadAddress is the first PT_LOAD's p_vaddr; ELF requires PT_LOAD headers
// in ascending address order.
func loadAddress(f *stdelf.File) uint64 {
	for _, p := range f.Progs {
		if p.Type == stdelf.PT_LOAD {
			return p.Vaddr
		}
	}
	return 0
}

// computeKind applies the rules documented on Kind.
func (o *Object) computeKind() debugfiles.Kind {
	switch o.f.Type {
	case stdelf.ET_REL:
		return debugfiles.KindRelocatable
	case stdelf.ET_CORE:
		return debugfiles.KindDump
	case stdelf.ET_EXEC, stdelf.ET_DYN:
	default:
		return debugfiles.KindNone
	}
	if s := o.f.Section(".text"); s != nil && s.Type == stdelf.SHT_NOBITS {
		return debugfiles.KindDebug
	}
	if o.f.Type == stdelf.ET_EXEC {
		return debugfiles.KindExecutable
	}
	for _, p := range o.f.Progs {
		if p.Type == stdelf.PT_INTERP {
			return debugfiles.KindExecutable
		}
	}
	if flags, err := o.dynValues(stdelf.DT_FLAGS_1); err == nil {
		for _, v := range flags {
			if stdelf.DynFlag1(v)&stdelf.DF_1_PIE != 0 {
				return debugfiles.KindExecutable
			}
		}
	}
	return debugfiles.KindLibrary
}

// dynValues reads the values of a tag from the .dynamic section.
func (o *Object) dynValues(tag stdelf.DynTag) ([]uint64, error) {
	s := o.f.SectionByType(stdelf.SHT_DYNAMIC)
	if s == nil || !hasContents(s) || s.Flags&stdelf.SHF_COMPRESSED != 0 {
		return nil, ErrNoSection
	}
	d, err := o.readAt(s.Offset, s.FileSize)
	if err != nil {
		return nil, err
	}
	bo := o.f.ByteOrder
	var vals []uint64
	for len(d) > 0 {
		var t, v uint64
		if o.f.Class == stdelf.ELFCLASS64 {
			if len(d) < 16 {
				break
			}
			t, v, d = bo.Uint64(d), bo.Uint64(d[8:]), d[16:]
		} else {
			if len(d) < 8 {
				break
			}
			t, v, d = uint64(bo.Uint32(d)), uint64(bo.Uint32(d[4:])), d[8:]
		}
		if stdelf.DynTag(t) == stdelf.DT_NULL {
			break
		}
		if stdelf.DynTag(t) == tag {
			vals = append(vals, v)
		}
	}
	return vals, nil
}

// readSoname returns DT_SONAME from the dynamic string table, or "".
func (o *Object) readSoname() string {
	vals, err := o.dynValues(stdelf.DT_SONAME)
	if err != nil || len(vals) == 0 {
		return ""
	}
	s := o.f.SectionByType(stdelf.SHT_DYNAMIC)
	if int(s.Link) >= len(o.f.Sections) {
		return ""
	}
	str := o.f.Sections[s.Link]
	if !hasContents(str) || str.Flags&stdelf.SHF_COMPRESSED != 0 || vals[0] >= str.FileSize {
		return ""
	}
	b, err := o.readAt(str.Offset+vals[0], min(str.FileSize-vals[0], 4096))
	if err != nil {
		return ""
	}
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return ""
}

// computeFeatures applies the rules documented on Features.
func (o *Object) computeFeatures() debugfiles.Features {
	var f debugfiles.Features
	for _, s := range o.f.Sections {
		if (s.Type == stdelf.SHT_SYMTAB || s.Type == stdelf.SHT_DYNSYM) && hasContents(s) && s.Entsize != 0 && s.FileSize/s.Entsize >= 2 {
			f |= debugfiles.FeatureSymtab
		}
	}
	if o.debugData != nil {
		f |= debugfiles.FeatureSymtab
	}
	if o.findSection(".debug_info") != nil {
		f |= debugfiles.FeatureDebug
	}
	if o.findSection(".eh_frame") != nil || o.findSection(".debug_frame") != nil {
		f |= debugfiles.FeatureUnwind
	}
	return f
}

// BuildIDPath is the path of the separate debug file in the build-id
// layout, relative to a debug directory: ".build-id/ab/cdef….debug". It is ""
// when the file has no build id of at least two bytes.
func (o *Object) BuildIDPath() string {
	if len(o.buildID) < 2 {
		return ""
	}
	h := debugid.CodeIDFromBytes(o.buildID)
	return filepath.Join(".build-id", h[:2], h[2:]+".debug")
}
