package pe

import (
	stdpe "debug/pe"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/internal/mmapfile"
)

// Machine types of the COFF file header that Cairn names.
const (
	MachineI386  = stdpe.IMAGE_FILE_MACHINE_I386
	MachineAMD64 = stdpe.IMAGE_FILE_MACHINE_AMD64
	MachineARM64 = stdpe.IMAGE_FILE_MACHINE_ARM64
	MachineARM   = stdpe.IMAGE_FILE_MACHINE_ARM
	MachineARMNT = stdpe.IMAGE_FILE_MACHINE_ARMNT
	MachineThumb = stdpe.IMAGE_FILE_MACHINE_THUMB
)

// Data directory indexes this package reads.
const (
	dirExport    = 0
	dirException = 3
	dirDebug     = 6
)

// Object is one PE image (PE32 or PE32+) seen through the debugfiles view.
// Its identity (kind, arch, ids, features, load address, PDB name) is
// decoded when it is opened; exports, symbols, unwind tables and DWARF are
// read on demand. An Object is safe for concurrent use; slices it returns
// must not be modified and, for an Object from Open, are valid only until
// Close.
type Object struct {
	f    *stdpe.File
	r    io.ReaderAt
	size int64
	// data is the whole file when it is held in memory (memory-mapped).
	data   []byte
	closer io.Closer
	name   string

	machine       uint16
	imageBase     uint64
	sizeOfImage   uint32
	sizeOfHeaders uint32
	timestamp     uint32
	kind          debugfiles.Kind
	stub          bool
	debugDir      []DebugDirectoryEntry
	cv            CodeView
	cvOK          bool
	debugID       debugid.ID
	features      debugfiles.Features

	expOnce sync.Once
	exports []Export
	dllName string
	expErr  error

	symOnce sync.Once
	syms    []symbol

	unwindOnce sync.Once
	unwind     *UnwindTable
	unwindErr  error
}

var _ debugfiles.Object = (*Object)(nil)

// Open memory-maps the PE image at path and reads its headers. Close
// releases the mapping.
func Open(path string) (*Object, error) {
	m, err := mmapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pe: %w", err)
	}
	o, err := NewObject(m, int64(m.Len()), path)
	if err != nil {
		m.Close()
		return nil, err
	}
	o.closer = m
	return o, nil
}

// NewObject reads a PE image of the given size from r; name is what Name
// reports (the DLL name of the export directory when empty). Close does not
// close r.
func NewObject(r io.ReaderAt, size int64, name string) (*Object, error) {
	if size < 0 {
		return nil, fmt.Errorf("pe: %s: negative size", name)
	}
	sr := io.NewSectionReader(r, 0, size)
	f, err := stdpe.NewFile(sr)
	if err != nil {
		return nil, fmt.Errorf("pe: %s: %w", name, err)
	}
	o := &Object{f: f, r: sr, size: size, name: name, machine: f.Machine, timestamp: f.TimeDateStamp}
	if b, ok := r.(bytesReader); ok && int64(len(b.Bytes())) == size {
		o.data = b.Bytes()
	}
	switch h := f.OptionalHeader.(type) {
	case *stdpe.OptionalHeader32:
		o.imageBase, o.sizeOfImage, o.sizeOfHeaders = uint64(h.ImageBase), h.SizeOfImage, h.SizeOfHeaders
	case *stdpe.OptionalHeader64:
		o.imageBase, o.sizeOfImage, o.sizeOfHeaders = h.ImageBase, h.SizeOfImage, h.SizeOfHeaders
	default:
		// An object file (.obj) has no optional header: it is COFF, not
		// an image, and carries nothing this package reads.
		return nil, fmt.Errorf("%s: %w", name, ErrNotImage)
	}
	o.stub = isStub(f)
	o.kind = o.computeKind()
	o.debugDir, o.cv, o.cvOK = o.readDebugDirectory()
	o.debugID = o.computeDebugID()
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
	o.data = nil
	return c.Close()
}

// isStub recognises packer stubs as Sentry does: an empty .pdata next to a
// ".stub*" section. Their exception tables point into code that is not in
// the file, so they are not used for unwinding.
func isStub(f *stdpe.File) bool {
	emptyPdata, stubSection := false, false
	for _, s := range f.Sections {
		emptyPdata = emptyPdata || s.Name == ".pdata" && s.Size == 0
		stubSection = stubSection || strings.HasPrefix(s.Name, ".stub")
	}
	return emptyPdata && stubSection
}

// Format is FormatPE.
func (o *Object) Format() debugfiles.Format { return debugfiles.FormatPE }

// Kind is KindLibrary for a DLL (IMAGE_FILE_DLL), KindNone for a packer
// stub and KindExecutable otherwise.
func (o *Object) Kind() debugfiles.Kind { return o.kind }

func (o *Object) computeKind() debugfiles.Kind {
	switch {
	case o.f.Characteristics&stdpe.IMAGE_FILE_DLL != 0:
		return debugfiles.KindLibrary
	case o.stub:
		return debugfiles.KindNone
	}
	return debugfiles.KindExecutable
}

// Machine is the COFF header's machine type (MachineAMD64, ...).
func (o *Object) Machine() uint16 { return o.machine }

// Arch names the machine in Sentry's spelling: "x86", "x86_64", "arm64",
// "arm" (IMAGE_FILE_MACHINE_ARM, and the Thumb-2 machines ARMNT and THUMB
// that Windows on ARM32 uses), "ppc", else "unknown".
func (o *Object) Arch() string {
	switch o.machine {
	case MachineI386:
		return "x86"
	case MachineAMD64:
		return "x86_64"
	case MachineARM64:
		return "arm64"
	case MachineARM, MachineARMNT, MachineThumb:
		return "arm"
	case stdpe.IMAGE_FILE_MACHINE_POWERPC, stdpe.IMAGE_FILE_MACHINE_POWERPCFP:
		return "ppc"
	}
	return "unknown"
}

// DebugID identifies the PDB the image was linked with (see CodeView), or
// is the nil id when the image has no CodeView record.
func (o *Object) DebugID() debugid.ID { return o.debugID }

// CodeID is Sentry's code id of the image: the COFF header's TimeDateStamp
// as eight hex digits followed by SizeOfImage in hex, lowercase
// ("5f3c8e2a1b000"). Symbol servers index images by it.
func (o *Object) CodeID() string {
	return fmt.Sprintf("%08x%x", o.timestamp, o.sizeOfImage)
}

// Name is the name the object was opened with, or the DLL name its export
// directory records when that was empty.
func (o *Object) Name() string {
	if o.name == "" {
		o.readExports()
		return o.dllName
	}
	return o.name
}

// DebugFile is the PDB path of the CodeView record, "" without one.
func (o *Object) DebugFile() string { return o.cv.Path }

// Features says what the image contributes: a symbol table when it has
// exports or carries a COFF symbol table with functions (MinGW images),
// debug information when it carries DWARF (a .debug_info section
// with contents, as MinGW toolchains write), unwind information when its
// exception directory is not empty (x64 and ARM64 .pdata) and it is not a
// packer stub.
func (o *Object) Features() debugfiles.Features { return o.features }

func (o *Object) computeFeatures() debugfiles.Features {
	var f debugfiles.Features
	if exports, _ := o.Exports(); len(exports) > 0 || o.hasCOFFFunctions() {
		f |= debugfiles.FeatureSymtab
	}
	if s := o.section(".debug_info"); s != nil {
		f |= debugfiles.FeatureDebug
	}
	if d := dataDirectory(o.f, dirException); d.Size > 0 && d.VirtualAddress != 0 && !o.stub {
		f |= debugfiles.FeatureUnwind
	}
	return f
}

// LoadAddress is the image base of the optional header; every address the
// Object reports is an RVA, relative to it.
func (o *Object) LoadAddress() uint64 { return o.imageBase }

// SizeOfImage is the size of the image in memory (optional header).
func (o *Object) SizeOfImage() uint32 { return o.sizeOfImage }

// TimeDateStamp is the COFF header's link time stamp (a hash for
// reproducible builds).
func (o *Object) TimeDateStamp() uint32 { return o.timestamp }

// Is64 reports a PE32+ image.
func (o *Object) Is64() bool {
	_, ok := o.f.OptionalHeader.(*stdpe.OptionalHeader64)
	return ok
}

// section returns the first section called name that has contents in the
// file. Long names ("/4") are already resolved through the COFF string
// table by debug/pe.
func (o *Object) section(name string) *stdpe.Section {
	for _, s := range o.f.Sections {
		if s.Name == name && s.Size > 0 && s.Offset != 0 {
			return s
		}
	}
	return nil
}

// ErrNotImage reports a COFF file without an optional header: an object
// file (.obj), not an image.
var ErrNotImage = errors.New("pe: COFF object, not an image")

// ErrNoSection reports that a section is absent or has no contents.
var ErrNoSection = errors.New("pe: section not found")

// Section returns the contents of the named section, up to its virtual size
// (the raw data is padded to the file alignment), and its RVA. The contents
// must not be modified; for an Object from Open they alias the mapping and
// are valid until Close.
func (o *Object) Section(name string) ([]byte, uint32, error) {
	s := o.section(name)
	if s == nil {
		return nil, 0, fmt.Errorf("%w: %s", ErrNoSection, name)
	}
	n := s.Size
	if s.VirtualSize != 0 && s.VirtualSize < n {
		n = s.VirtualSize
	}
	b, err := o.readAt(uint64(s.Offset), uint64(n))
	if err != nil {
		return nil, 0, fmt.Errorf("pe: section %s: %w", name, err)
	}
	return b, s.VirtualAddress, nil
}
