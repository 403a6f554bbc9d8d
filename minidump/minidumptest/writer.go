// Package minidumptest builds synthetic minidumps for tests: a dump with
// exactly the streams, threads, modules, memory and register contexts a test
// needs, laid out as real writers lay them out.
//
// It does not import package minidump, so that package's own tests can use it.
package minidumptest

import (
	"encoding/binary"
	"unicode/utf16"
)

// Stream types written by the builder's typed helpers.
const (
	ThreadListStream     = 3
	ModuleListStream     = 4
	MemoryListStream     = 5
	ExceptionStream      = 6
	SystemInfoStream     = 7
	Memory64ListStream   = 9
	MiscInfoStream       = 15
	ThreadNameListStream = 24
)

// Builder accumulates streams and writes a minidump. The zero value is not
// usable; call New.
type Builder struct {
	buf      []byte // header placeholder followed by data blobs
	dir      []dirEntry
	threads  []byte
	nThreads uint32
	modules  []byte
	nModules uint32
	memory   []byte
	nMemory  uint32
	mem64    [][2]uint64 // base, size
	mem64Dat [][]byte
	names    []byte
	nNames   uint32
	// Timestamp is written into the header.
	Timestamp uint32
	// PadLists inserts the 4 bytes of alignment padding some writers put
	// after the count of thread, module and memory lists.
	PadLists bool
}

type dirEntry struct{ typ, size, rva uint32 }

// New returns a builder whose dump starts with a 32-byte header.
func New() *Builder { return &Builder{buf: make([]byte, 32)} }

// blob appends data (4-byte aligned) and returns its RVA.
func (b *Builder) blob(data []byte) uint32 {
	for len(b.buf)%4 != 0 {
		b.buf = append(b.buf, 0)
	}
	rva := uint32(len(b.buf))
	b.buf = append(b.buf, data...)
	return rva
}

// Blob appends arbitrary bytes and returns their RVA, for tests that build
// their own structures.
func (b *Builder) Blob(data []byte) uint32 { return b.blob(data) }

// String appends a MINIDUMP_STRING (UTF-16LE with a length prefix and a
// terminating NUL) and returns its RVA.
func (b *Builder) String(s string) uint32 {
	u := utf16.Encode([]rune(s))
	p := le32(nil, uint32(2*len(u)))
	for _, c := range u {
		p = binary.LittleEndian.AppendUint16(p, c)
	}
	return b.blob(append(p, 0, 0))
}

// Stream adds a stream of the given type holding data and returns the RVA
// of the stream's bytes.
func (b *Builder) Stream(typ uint32, data []byte) uint32 {
	rva := b.blob(data)
	b.dir = append(b.dir, dirEntry{typ, uint32(len(data)), rva})
	return rva
}

// SystemInfo adds a SystemInfo stream with a fixed processor level (6),
// revision (0x1234), four processors and product type 1.
func (b *Builder) SystemInfo(arch uint16, platform uint32, major, minor, build uint32, csd string) {
	b.SystemInfoEx(SystemInfoData{
		Arch: arch, Level: 6, Revision: 0x1234, Processors: 4, ProductType: 1,
		Major: major, Minor: minor, Build: build, Platform: platform, CSD: csd,
	})
}

// SystemInfoData is every field of MINIDUMP_SYSTEM_INFO a writer fills.
type SystemInfoData struct {
	Arch, Level, Revision uint16
	Processors            uint8
	ProductType           uint8
	Major, Minor, Build   uint32
	Platform              uint32
	// CSD is the service pack string (Windows) or the uname line (Linux);
	// "" writes no string.
	CSD string
	// CPU is the 24-byte CPU_INFORMATION union: x86 vendor id, version and
	// feature words, or two 64-bit processor feature words.
	CPU [24]byte
}

// SystemInfoEx adds a SystemInfo stream with every field given.
func (b *Builder) SystemInfoEx(s SystemInfoData) {
	csdRVA := uint32(0)
	if s.CSD != "" {
		csdRVA = b.String(s.CSD)
	}
	p := le16(nil, s.Arch)
	p = le16(p, s.Level)
	p = le16(p, s.Revision)
	p = append(p, s.Processors, s.ProductType)
	p = le32(p, s.Major)
	p = le32(p, s.Minor)
	p = le32(p, s.Build)
	p = le32(p, s.Platform)
	p = le32(p, csdRVA)
	p = append(p, make([]byte, 4)...) // suite mask, reserved
	p = append(p, s.CPU[:]...)
	b.Stream(SystemInfoStream, p)
}

// Thread adds a thread with its stack memory (also listed in the memory
// list, as writers do) and its raw register context. Its TEB is 0x7ffd0000.
func (b *Builder) Thread(id uint32, stackBase uint64, stack, context []byte) {
	b.ThreadTEB(id, 0x7ffd0000, stackBase, stack, context)
}

// ThreadTEB is Thread with the thread environment block address given;
// Linux writers leave it 0.
func (b *Builder) ThreadTEB(id uint32, teb, stackBase uint64, stack, context []byte) {
	stackRVA := b.blob(stack)
	ctxRVA := b.blob(context)
	b.addMemoryDescriptor(stackBase, uint32(len(stack)), stackRVA)
	p := le32(nil, id)
	p = le32(p, 0)
	p = le32(p, 0)
	p = le32(p, 0)
	p = le64(p, teb)
	p = le64(p, stackBase)
	p = le32(p, uint32(len(stack)))
	p = le32(p, stackRVA)
	p = le32(p, uint32(len(context)))
	p = le32(p, ctxRVA)
	b.threads = append(b.threads, p...)
	b.nThreads++
}

// ThreadName adds an entry to the thread name list.
func (b *Builder) ThreadName(id uint32, name string) {
	rva := b.String(name)
	p := le32(nil, id)
	b.names = append(b.names, le64(p, uint64(rva))...)
	b.nNames++
}

// Module adds a module with file version 1.2.3.4; cv is its CodeView record
// (see CodeViewRSDS and CodeViewELF) or nil.
func (b *Builder) Module(base uint64, size uint32, timestamp uint32, name string, cv []byte) {
	b.ModuleEx(ModuleData{Base: base, Size: size, Timestamp: timestamp, Name: name, CodeView: cv, Version: []uint16{1, 2, 3, 4}})
}

// ModuleData describes one MINIDUMP_MODULE for ModuleEx.
type ModuleData struct {
	Base      uint64
	Size      uint32
	Checksum  uint32
	Timestamp uint32
	Name      string
	// CodeView is the module's CodeView record, or nil.
	CodeView []byte
	// Version is the file version a.b.c.d for VS_FIXEDFILEINFO; nil leaves
	// that structure zero, as Linux writers do (ELF files carry no version).
	Version []uint16
}

// ModuleEx adds a module with every field given.
func (b *Builder) ModuleEx(m ModuleData) {
	nameRVA := b.String(m.Name)
	cv := m.CodeView
	var cvRVA uint32
	if cv != nil {
		cvRVA = b.blob(cv)
	}
	p := le64(nil, m.Base)
	p = le32(p, m.Size)
	p = le32(p, m.Checksum)
	p = le32(p, m.Timestamp)
	p = le32(p, nameRVA)
	if v := m.Version; len(v) == 4 {
		p = le32(p, 0xfeef04bd)
		p = le32(p, 0x10000)
		p = le32(p, uint32(v[0])<<16|uint32(v[1]))
		p = le32(p, uint32(v[2])<<16|uint32(v[3]))
		p = append(p, make([]byte, 52-16)...)
	} else {
		p = append(p, make([]byte, 52)...)
	}
	p = le32(p, uint32(len(cv)))
	p = le32(p, cvRVA)
	p = append(p, make([]byte, 8+16)...) // misc record, reserved
	b.modules = append(b.modules, p...)
	b.nModules++
}

// Memory adds a region to the memory list.
func (b *Builder) Memory(base uint64, data []byte) {
	b.addMemoryDescriptor(base, uint32(len(data)), b.blob(data))
}

func (b *Builder) addMemoryDescriptor(base uint64, size, rva uint32) {
	p := le64(nil, base)
	p = le32(p, size)
	b.memory = append(le32(p, rva), b.memory...)
	b.nMemory++
}

// Memory64 adds a region to the Memory64List (full-memory dumps).
func (b *Builder) Memory64(base uint64, data []byte) {
	b.mem64 = append(b.mem64, [2]uint64{base, uint64(len(data))})
	b.mem64Dat = append(b.mem64Dat, data)
}

// Exception adds the Exception stream with the crashing thread's context.
func (b *Builder) Exception(threadID, code, flags uint32, addr uint64, params []uint64, context []byte) {
	ctxRVA := b.blob(context)
	p := le32(nil, threadID)
	p = le32(p, 0)
	p = le32(p, code)
	p = le32(p, flags)
	p = le64(p, 0)
	p = le64(p, addr)
	p = le32(p, uint32(len(params)))
	p = le32(p, 0)
	for i := 0; i < 15; i++ {
		var v uint64
		if i < len(params) {
			v = params[i]
		}
		p = le64(p, v)
	}
	p = le32(p, uint32(len(context)))
	p = le32(p, ctxRVA)
	b.Stream(ExceptionStream, p)
}

func (b *Builder) list(typ uint32, count uint32, entries []byte) {
	p := le32(nil, count)
	if b.PadLists {
		p = le32(p, 0)
	}
	b.Stream(typ, append(p, entries...))
}

// Bytes lays out the pending lists, the directory and the header, and
// returns the dump. The builder must not be used afterwards.
func (b *Builder) Bytes() []byte {
	if b.nThreads > 0 {
		b.list(ThreadListStream, b.nThreads, b.threads)
	}
	if b.nModules > 0 {
		b.list(ModuleListStream, b.nModules, b.modules)
	}
	if b.nMemory > 0 {
		b.list(MemoryListStream, b.nMemory, b.memory)
	}
	if b.nNames > 0 {
		b.Stream(ThreadNameListStream, append(le32(nil, b.nNames), b.names...))
	}
	if len(b.mem64) > 0 {
		// The descriptors go first; the data follows them back to back.
		descSize := 16 + 16*len(b.mem64)
		for len(b.buf)%4 != 0 {
			b.buf = append(b.buf, 0)
		}
		base := uint64(len(b.buf) + descSize)
		p := le64(nil, uint64(len(b.mem64)))
		p = le64(p, base)
		for _, r := range b.mem64 {
			p = le64(p, r[0])
			p = le64(p, r[1])
		}
		b.Stream(Memory64ListStream, p)
		for _, d := range b.mem64Dat {
			b.buf = append(b.buf, d...)
		}
	}
	dirRVA := b.blob(nil)
	for _, e := range b.dir {
		b.buf = le32(b.buf, e.typ)
		b.buf = le32(b.buf, e.size)
		b.buf = le32(b.buf, e.rva)
	}
	h := le32(nil, 0x504d444d)
	h = le32(h, 0xa793)
	h = le32(h, uint32(len(b.dir)))
	h = le32(h, dirRVA)
	h = le32(h, 0)
	h = le32(h, b.Timestamp)
	h = le64(h, 0)
	copy(b.buf, h)
	return b.buf
}

// CodeViewRSDS builds a PDB 7.0 CodeView record.
func CodeViewRSDS(guid [16]byte, age uint32, pdb string) []byte {
	p := le32(nil, 0x53445352)
	p = append(p, guid[:]...)
	p = le32(p, age)
	return append(append(p, pdb...), 0)
}

// CodeViewELF builds Breakpad's ELF build-id CodeView record.
func CodeViewELF(buildID []byte) []byte {
	return append(le32(nil, 0x4270454c), buildID...)
}

func le16(p []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(p, v) }
func le32(p []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(p, v) }
func le64(p []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(p, v) }
