package macho

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	gomacho "github.com/blacktop/go-macho"
	"github.com/blacktop/go-macho/types"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/internal/mmapfile"
)

// Magic numbers of thin Mach-O files (<mach-o/loader.h>) and fat headers
// (<mach-o/fat.h>).
const (
	magic32    = 0xfeedface
	magic64    = 0xfeedfacf
	magicFat   = 0xcafebabe
	magicFat64 = 0xcafebabf
)

// File types of the Mach-O header.
const (
	mhObject     = 0x1
	mhExecute    = 0x2
	mhFVMLib     = 0x3
	mhCore       = 0x4
	mhPreload    = 0x5
	mhDylib      = 0x6
	mhDylinker   = 0x7
	mhBundle     = 0x8
	mhDSYM       = 0xa
	mhKextBundle = 0xb
)

// maxFatArches bounds the architecture count of a fat header; real files
// hold a handful, and the limit keeps a forged count from driving work.
const maxFatArches = 256

// Object is one Mach-O image: a thin file or one architecture of a fat file.
// It implements debugfiles.Object. Its methods are safe for concurrent use;
// byte slices it returns stay valid until Close.
type Object struct {
	name      string
	src       source
	bo        binary.ByteOrder
	is64      bool
	cpu, sub  uint32
	filetype  uint32
	uuid      [16]byte
	hasUUID   bool
	loadAddr  uint64
	sections  []section
	symtab    symtabCmd
	hasSymtab bool
	features  debugfiles.Features

	symOnce sync.Once
	syms    []debugfiles.Symbol

	owner     *sharedCloser
	closeOnce sync.Once
}

var _ debugfiles.Object = (*Object)(nil)

// section is a section header with its file range resolved.
type section struct {
	seg, name string
	addr      uint64
	size      uint64
	off       uint64
	flags     uint32
	// present is false when the section has no place in the file: zero-fill
	// sections and the data-less headers (offset 0) dsymutil leaves in dSYMs.
	present bool
}

// Section types and attributes of the flags field.
const (
	sectionTypeMask      = 0xff
	sZerofill            = 0x1
	sGBZerofill          = 0xc
	sThreadLocalZerofill = 0x12
	sAttrPureInstr       = 0x80000000
	sAttrSomeInstr       = 0x00000400
)

// symtabCmd is LC_SYMTAB.
type symtabCmd struct {
	symoff, nsyms, stroff, strsize uint32
}

// sharedCloser closes an underlying file when the last object over it is
// closed.
type sharedCloser struct {
	mu   sync.Mutex
	refs int
	c    io.Closer
}

func (s *sharedCloser) release() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs--
	if s.refs > 0 || s.c == nil {
		return nil
	}
	c := s.c
	s.c = nil
	return c.Close()
}

// Open opens a Mach-O file, thin or fat, and returns one Object per
// architecture. A directory is read as a dSYM bundle: every file in its
// Contents/Resources/DWARF folder is opened, in name order. The file is
// memory-mapped; it is unmapped when every returned Object is closed.
func Open(path string) ([]*Object, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("macho: %w", err)
	}
	if !st.IsDir() {
		return openFile(path)
	}
	files, err := BundleFiles(path)
	if err != nil {
		return nil, err
	}
	var all []*Object
	for _, f := range files {
		objs, err := openFile(f)
		if err != nil {
			for _, o := range all {
				o.Close()
			}
			return nil, err
		}
		all = append(all, objs...)
	}
	return all, nil
}

// ErrNotBundle reports a directory that is not a dSYM bundle.
var ErrNotBundle = errors.New("macho: directory is not a dSYM bundle (no Contents/Resources/DWARF files)")

// BundleFiles lists the DWARF files of a dSYM bundle: the regular files in
// its Contents/Resources/DWARF folder, sorted by name. Hidden files (such as
// .DS_Store) are skipped.
func BundleFiles(dir string) ([]string, error) {
	dwarfDir := filepath.Join(dir, "Contents", "Resources", "DWARF")
	entries, err := os.ReadDir(dwarfDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotBundle, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("macho: %w", err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dwarfDir, e.Name())
		st, err := os.Stat(p) // follows symbolic links
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		files = append(files, p)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotBundle, dir)
	}
	slices.Sort(files)
	return files, nil
}

func openFile(path string) ([]*Object, error) {
	mf, err := mmapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("macho: %w", err)
	}
	objs, err := NewObjects(mf, int64(mf.Len()), path)
	if err != nil {
		mf.Close()
		return nil, err
	}
	owner := &sharedCloser{refs: len(objs), c: mf}
	for _, o := range objs {
		o.owner = owner
	}
	return objs, nil
}

// NewObjects reads the Mach-O file of the given size in r, thin or fat, and
// returns one Object per architecture, in the order of the fat header. name
// is reported by Object.Name. r must stay readable while the objects are in
// use; when r has a Bytes() []byte method (a memory-mapped file), section
// contents are returned as slices of it instead of copies. Input that is no
// Mach-O file yields an error wrapping debugfiles.ErrUnknownFormat.
func NewObjects(r io.ReaderAt, size int64, name string) ([]*Object, error) {
	if size < 0 {
		return nil, fmt.Errorf("macho: %s: negative size", name)
	}
	src := newSource(r, size)
	head, err := src.bytes(0, min(8, uint64(size)))
	if err != nil {
		return nil, fmt.Errorf("macho: %s: %w", name, err)
	}
	if len(head) < 4 {
		return nil, fmt.Errorf("macho: %s: %w", name, debugfiles.ErrUnknownFormat)
	}
	switch m := binary.BigEndian.Uint32(head); {
	case m == magicFat || m == magicFat64:
		return newFat(src, name, m == magicFat64)
	case isThinMagic(head):
		o, err := newObject(src, name)
		if err != nil {
			return nil, fmt.Errorf("macho: %s: %w", name, err)
		}
		return []*Object{o}, nil
	}
	return nil, fmt.Errorf("macho: %s: %w", name, debugfiles.ErrUnknownFormat)
}

func isThinMagic(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	be, le := binary.BigEndian.Uint32(b), binary.LittleEndian.Uint32(b)
	return be == magic32 || be == magic64 || le == magic32 || le == magic64
}

// newFat reads a fat header (always big-endian) and the image of every
// architecture it lists.
func newFat(src source, name string, is64 bool) ([]*Object, error) {
	hdr, err := src.bytes(0, 8)
	if err != nil {
		return nil, fmt.Errorf("macho: %s: %w", name, err)
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	entSize := uint64(20)
	if is64 {
		entSize = 32
	}
	if n == 0 || n > maxFatArches || !src.inBounds(8, uint64(n)*entSize) {
		// Java class files share the 0xcafebabe magic; their version
		// number lands in the count.
		return nil, fmt.Errorf("macho: %s: %w: fat header with %d architectures", name, debugfiles.ErrUnknownFormat, n)
	}
	table, err := src.bytes(8, uint64(n)*entSize)
	if err != nil {
		return nil, fmt.Errorf("macho: %s: %w", name, err)
	}
	objs := make([]*Object, 0, n)
	for i := range uint64(n) {
		e := table[i*entSize:]
		var off, sz uint64
		if is64 {
			off, sz = binary.BigEndian.Uint64(e[8:]), binary.BigEndian.Uint64(e[16:])
		} else {
			off, sz = uint64(binary.BigEndian.Uint32(e[8:])), uint64(binary.BigEndian.Uint32(e[12:]))
		}
		entOff := int64(8 + i*entSize)
		// A slice outside the file or without a Mach-O magic means this is
		// no fat Mach-O file (or a broken one): both errors are reported.
		if !src.inBounds(off, sz) {
			return nil, fmt.Errorf("macho: %s: %w: %w", name, debugfiles.ErrUnknownFormat, &FormatError{Off: entOff, Msg: fmt.Sprintf("architecture %d at %#x+%#x outside the file", i, off, sz)})
		}
		slice := src.sub(int64(off), int64(sz))
		head, err := slice.bytes(0, min(4, sz))
		if err != nil || !isThinMagic(head) {
			return nil, fmt.Errorf("macho: %s: %w: %w", name, debugfiles.ErrUnknownFormat, &FormatError{Off: entOff, Msg: fmt.Sprintf("architecture %d at %#x is not a Mach-O image", i, off)})
		}
		o, err := newObject(slice, name)
		if err != nil {
			return nil, fmt.Errorf("macho: %s: architecture %d: %w", name, i, err)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// loadIncluding are the load commands go-macho is asked to decode.
var loadIncluding = []types.LoadCmd{types.LC_SEGMENT, types.LC_SEGMENT_64, types.LC_UUID}

// newObject reads one thin image.
func newObject(src source, name string) (*Object, error) {
	lc, err := scanLoadCommands(src)
	if err != nil {
		return nil, err
	}
	f, err := gomacho.NewFile(src.r, gomacho.FileConfig{LoadIncluding: loadIncluding})
	if err != nil {
		return nil, fmt.Errorf("go-macho: %w", err)
	}
	o := &Object{
		name:     name,
		src:      src,
		bo:       f.ByteOrder,
		is64:     f.Magic == types.Magic64,
		cpu:      uint32(f.CPU),
		sub:      uint32(f.SubCPU),
		filetype: uint32(f.Type),
	}
	if u := f.UUID(); u != nil {
		o.uuid, o.hasUUID = u.UUID, true
	}
	segs := f.Segments()
	for _, s := range segs {
		if s.Name == "__TEXT" {
			o.loadAddr = s.Addr
			break
		}
	}
	o.sections = make([]section, len(f.Sections))
	for i, sh := range f.Sections {
		o.sections[i] = o.resolveSection(i, sh, segs)
	}
	o.symtab, o.hasSymtab = lc.symtab, lc.hasSymtab
	o.features = o.computeFeatures()
	return o, nil
}

// loadCommands is what scanLoadCommands learns before go-macho runs.
type loadCommands struct {
	bo        binary.ByteOrder
	symtab    symtabCmd
	hasSymtab bool
}

// Load commands scanLoadCommands looks into.
const (
	lcSegment   = 0x1
	lcSymtab    = 0x2
	lcSegment64 = 0x19
)

// scanLoadCommands validates what go-macho reads before it reads it, and
// finds LC_SYMTAB. The header and every load command must lie inside the
// image, and so must the relocation entries of every section: go-macho reads
// and keeps them all, so forged counts that overlap could otherwise make it
// allocate many times the size of the file. The relocations of all sections
// together may not exceed the file either (real ones never overlap).
func scanLoadCommands(src source) (loadCommands, error) {
	var lc loadCommands
	hdr, err := src.bytes(0, 28)
	if err != nil {
		return lc, &FormatError{Off: src.base, Msg: "truncated Mach-O header"}
	}
	lc.bo = binary.LittleEndian
	if binary.BigEndian.Uint32(hdr)&^1 == magic32 {
		lc.bo = binary.BigEndian
	}
	bo := lc.bo
	hsize := uint64(28)
	if bo.Uint32(hdr)&1 == 1 {
		hsize = 32
	}
	ncmds, sizecmds := bo.Uint32(hdr[16:]), bo.Uint32(hdr[20:])
	if !src.inBounds(hsize, uint64(sizecmds)) || uint64(ncmds)*8 > uint64(sizecmds) {
		return lc, &FormatError{Off: src.base + 16, Msg: fmt.Sprintf("%d load commands of %d bytes do not fit the file", ncmds, sizecmds)}
	}
	cmds, err := src.bytes(hsize, uint64(sizecmds))
	if err != nil {
		return lc, err
	}
	off := hsize
	var relocBytes uint64
	for range ncmds {
		at := src.base + int64(off)
		if len(cmds) < 8 {
			return lc, &FormatError{Off: at, Msg: "truncated load command"}
		}
		cmd, size := bo.Uint32(cmds), bo.Uint32(cmds[4:])
		if size < 8 || uint64(size) > uint64(len(cmds)) {
			return lc, &FormatError{Off: at, Msg: fmt.Sprintf("load command size %d", size)}
		}
		body := cmds[:size]
		switch cmd {
		case lcSymtab:
			if lc.hasSymtab {
				break
			}
			if size < 24 {
				return lc, &FormatError{Off: at, Msg: "short LC_SYMTAB"}
			}
			lc.symtab = symtabCmd{
				symoff:  bo.Uint32(body[8:]),
				nsyms:   bo.Uint32(body[12:]),
				stroff:  bo.Uint32(body[16:]),
				strsize: bo.Uint32(body[20:]),
			}
			lc.hasSymtab = true
		case lcSegment, lcSegment64:
			// segment_command(_64) and section(_64) sizes, and where nsects,
			// reloff and nreloc sit in them.
			segSize, nsectAt, secSize, relAt := 56, 48, 68, 48
			if cmd == lcSegment64 {
				segSize, nsectAt, secSize, relAt = 72, 64, 80, 56
			}
			if len(body) < segSize {
				return lc, &FormatError{Off: at, Msg: "short segment command"}
			}
			nsects := uint64(bo.Uint32(body[nsectAt:]))
			if nsects*uint64(secSize) > uint64(len(body)-segSize) {
				return lc, &FormatError{Off: at, Msg: fmt.Sprintf("%d sections do not fit their segment command", nsects)}
			}
			for i := range nsects {
				sh := body[uint64(segSize)+i*uint64(secSize):]
				reloff, nreloc := uint64(bo.Uint32(sh[relAt:])), uint64(bo.Uint32(sh[relAt+4:]))
				relocBytes += nreloc * 8
				if nreloc != 0 && (!src.inBounds(reloff, nreloc*8) || relocBytes > uint64(src.size)) {
					return lc, &FormatError{Off: at, Msg: fmt.Sprintf("%d relocations at %#x do not fit the file", nreloc, reloff)}
				}
			}
		}
		cmds = cmds[size:]
		off += uint64(size)
	}
	return lc, nil
}

// resolveSection records a section header and where its bytes are.
func (o *Object) resolveSection(i int, sh *types.Section, segs gomacho.Segments) section {
	s := section{seg: sh.Seg, name: sh.Name, addr: sh.Addr, size: sh.Size, off: uint64(sh.Offset), flags: uint32(sh.Flags)}
	// The 32-bit offset field overflows past 4 GiB: recompute it from the
	// 64-bit segment offset when the truncated field agrees.
	for _, seg := range segs {
		if uint32(i) < seg.Firstsect || uint32(i)-seg.Firstsect >= seg.Nsect {
			continue
		}
		if sh.Addr >= seg.Addr {
			if c := seg.Offset + (sh.Addr - seg.Addr); c >= seg.Offset && c != s.off && uint32(c) == sh.Offset && o.src.inBounds(c, s.size) {
				s.off = c
			}
		}
		break
	}
	switch s.flags & sectionTypeMask {
	case sZerofill, sGBZerofill, sThreadLocalZerofill:
	default:
		// An empty section with an offset is present (and, as in Sentry,
		// counts for the features).
		s.present = s.off != 0 && o.src.inBounds(s.off, s.size)
	}
	return s
}

// computeFeatures decides the features as Sentry does: a symbol table,
// __debug_info, and any of __eh_frame, __unwind_info or __debug_frame with
// bytes in the file.
func (o *Object) computeFeatures() debugfiles.Features {
	var f debugfiles.Features
	if o.hasSymtab && o.symtab.nsyms > 0 {
		f |= debugfiles.FeatureSymtab
	}
	if o.findSection("__DWARF", "__debug_info") != nil || o.findSection("__DWARF", "__zdebug_info") != nil {
		f |= debugfiles.FeatureDebug
	}
	if o.findSection("__TEXT", "__eh_frame") != nil || o.findSection("__TEXT", "__unwind_info") != nil ||
		o.findSection("__DWARF", "__debug_frame") != nil || o.findSection("__DWARF", "__zdebug_frame") != nil {
		f |= debugfiles.FeatureUnwind
	}
	return f
}

// findSection is the first section of that name in that segment which has
// bytes in the file, or nil.
func (o *Object) findSection(seg, name string) *section {
	for i := range o.sections {
		s := &o.sections[i]
		if s.present && s.seg == seg && s.name == name {
			return s
		}
	}
	return nil
}

// Format is debugfiles.FormatMachO.
func (o *Object) Format() debugfiles.Format { return debugfiles.FormatMachO }

// Kind classifies the image by its header file type: MH_EXECUTE (and
// MH_PRELOAD, MH_DYLINKER) are executables, MH_DYLIB, MH_BUNDLE, MH_FVMLIB
// and MH_KEXT_BUNDLE libraries, MH_DSYM a debug companion, MH_OBJECT
// relocatable, MH_CORE a dump; other types are KindNone.
func (o *Object) Kind() debugfiles.Kind {
	switch o.filetype {
	case mhObject:
		return debugfiles.KindRelocatable
	case mhExecute, mhPreload, mhDylinker:
		return debugfiles.KindExecutable
	case mhDylib, mhBundle, mhFVMLib, mhKextBundle:
		return debugfiles.KindLibrary
	case mhDSYM:
		return debugfiles.KindDebug
	case mhCore:
		return debugfiles.KindDump
	}
	return debugfiles.KindNone
}

// Arch is the architecture in Sentry's spelling ("x86_64", "arm64e",
// "armv7k", ...), from the CPU type and subtype of the image's own header.
func (o *Object) Arch() string { return archName(o.cpu, o.sub) }

// DebugID is the LC_UUID with age 0, or the nil id without LC_UUID.
func (o *Object) DebugID() debugid.ID {
	if !o.hasUUID {
		return debugid.ID{}
	}
	return debugid.FromUUID(o.uuid)
}

// CodeID is the LC_UUID in lowercase hex without dashes, or "" without
// LC_UUID.
func (o *Object) CodeID() string {
	if !o.hasUUID {
		return ""
	}
	return debugid.CodeIDFromBytes(o.uuid[:])
}

// UUID returns the LC_UUID and whether the image has one.
func (o *Object) UUID() ([16]byte, bool) { return o.uuid, o.hasUUID }

// Name is the name the object was opened with: the path given to Open (for
// a dSYM bundle, the path of the DWARF file inside it) or the name given to
// NewObjects.
func (o *Object) Name() string { return o.name }

// DebugFile is "": Mach-O images do not name their dSYM.
func (o *Object) DebugFile() string { return "" }

// Features reports the symbol table, DWARF (__debug_info) and unwind
// information (__eh_frame, __unwind_info, __debug_frame) that have bytes in
// the file.
func (o *Object) Features() debugfiles.Features { return o.features }

// LoadAddress is the vmaddr of the __TEXT segment, or 0 when there is none
// (object files).
func (o *Object) LoadAddress() uint64 { return o.loadAddr }

// Section returns the bytes of a section, such as ("__TEXT",
// "__unwind_info") or ("__TEXT", "__eh_frame"), and its address relative to
// LoadAddress. ok is false when the section is missing or has no bytes in
// the file (zero-fill, or stripped by dsymutil). The bytes must not be
// modified; they stay valid until Close.
func (o *Object) Section(segment, name string) (data []byte, addr uint64, ok bool) {
	s := o.findSection(segment, name)
	if s == nil {
		return nil, 0, false
	}
	b, err := o.src.bytes(s.off, s.size)
	if err != nil {
		return nil, 0, false
	}
	return b, s.addr - o.loadAddr, true
}

// Close releases the object; the underlying file opened by Open is unmapped
// when the last object over it is closed. Objects from NewObjects hold
// nothing to release. Close is idempotent.
func (o *Object) Close() error {
	var err error
	o.closeOnce.Do(func() { err = o.owner.release() })
	return err
}
