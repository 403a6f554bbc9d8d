package minidump

import (
	"fmt"
	"sort"
)

// MemoryRegion is a range of the crashed process's memory captured in the
// dump: Size bytes starting at address Base, stored at file offset Offset.
type MemoryRegion struct {
	Base   uint64 `json:"base"`
	Size   uint64 `json:"size"`
	Offset int64  `json:"offset"`
}

// End is the first address past the region.
func (r MemoryRegion) End() uint64 { return r.Base + r.Size }

// MemoryList decodes the MemoryList stream (MINIDUMP_MEMORY_LIST).
func (f *File) MemoryList() ([]MemoryDescriptor, error) {
	d, err := f.stream(MemoryListStream)
	if err != nil {
		return nil, err
	}
	n := listEntries(&d, 16)
	descs := make([]MemoryDescriptor, n)
	for i := range descs {
		descs[i] = MemoryDescriptor{StartOfMemoryRange: d.u64(), Memory: d.location()}
	}
	if d.err != nil {
		return nil, d.err
	}
	return descs, nil
}

// Memory64List decodes the Memory64List stream of full-memory dumps: the
// regions are stored back to back from one base offset.
func (f *File) Memory64List() ([]MemoryRegion, error) {
	d, err := f.stream(Memory64ListStream)
	if err != nil {
		return nil, err
	}
	count, baseRVA := d.u64(), d.u64()
	if d.err != nil {
		return nil, d.err
	}
	if count > uint64(d.remaining())/16 {
		return nil, formatErr("memory64 list", d.base, "%d ranges do not fit in %d bytes", count, d.remaining())
	}
	regions := make([]MemoryRegion, count)
	off := baseRVA
	for i := range regions {
		start, size := d.u64(), d.u64()
		regions[i] = MemoryRegion{Base: start, Size: size, Offset: int64(off)}
		if off+size < off || off+size > uint64(f.size) {
			return regions[:i], formatErr("memory64 list", d.base, "range %d (%#x+%#x) lies outside the file", i, start, size)
		}
		off += size
	}
	return regions, d.err
}

// MemoryInfo is MINIDUMP_MEMORY_INFO: the state and protection of a range of
// the process's address space.
type MemoryInfo struct {
	BaseAddress       uint64 `json:"base_address"`
	AllocationBase    uint64 `json:"allocation_base"`
	AllocationProtect uint32 `json:"allocation_protect"`
	RegionSize        uint64 `json:"region_size"`
	State             uint32 `json:"state"`
	Protect           uint32 `json:"protect"`
	Type              uint32 `json:"type"`
}

// Memory protection bits of MemoryInfo.Protect (PAGE_*).
const (
	PageNoAccess         = 0x01
	PageReadOnly         = 0x02
	PageReadWrite        = 0x04
	PageWriteCopy        = 0x08
	PageExecute          = 0x10
	PageExecuteRead      = 0x20
	PageExecuteReadWrite = 0x40
	PageExecuteWriteCopy = 0x80
	PageGuard            = 0x100
)

// Executable reports whether the range was mapped executable.
func (m MemoryInfo) Executable() bool {
	return m.Protect&(PageExecute|PageExecuteRead|PageExecuteReadWrite|PageExecuteWriteCopy) != 0
}

// MemoryInfoList decodes the MemoryInfoList stream, whose header gives its
// own header and entry sizes.
func (f *File) MemoryInfoList() ([]MemoryInfo, error) {
	d, err := f.stream(MemoryInfoListStream)
	if err != nil {
		return nil, err
	}
	hdrSize, entrySize, count := d.u32(), d.u32(), d.u64()
	if d.err != nil {
		return nil, d.err
	}
	if hdrSize < 16 || entrySize < 48 {
		return nil, formatErr("memory info list", d.base, "header size %d / entry size %d too small", hdrSize, entrySize)
	}
	d.off = 0
	d.skip(int(hdrSize))
	if count > uint64(d.remaining())/uint64(entrySize) {
		d.fail(formatCount(uint32(min(count, 1<<32-1)), int(entrySize), d.remaining()))
	}
	if d.err != nil {
		return nil, d.err
	}
	infos := make([]MemoryInfo, count)
	for i := range infos {
		e := newDecoder("memory info", d.base+int64(d.off), d.take(int(entrySize)))
		infos[i].BaseAddress, infos[i].AllocationBase = e.u64(), e.u64()
		infos[i].AllocationProtect = e.u32()
		e.skip(4)
		infos[i].RegionSize = e.u64()
		infos[i].State, infos[i].Protect, infos[i].Type = e.u32(), e.u32(), e.u32()
	}
	return infos, nil
}

// Memory answers reads of the crashed process's memory by address from the
// regions of both memory lists. Regions are sorted by address once; reads
// slice the dump (no region is copied). The zero value holds no memory.
type Memory struct {
	f       *File
	regions []MemoryRegion // sorted by Base, non-overlapping
}

// Memory builds the address index over the MemoryList and Memory64List
// streams. Overlapping regions keep the first in address order. Descriptors
// pointing outside the file are dropped and reported in the error, which
// does not prevent using the returned Memory.
func (f *File) Memory() (*Memory, error) {
	m := &Memory{f: f}
	var problems []string
	descs, err := f.MemoryList()
	if err != nil && !isNoStream(err) {
		problems = append(problems, err.Error())
	}
	for _, d := range descs {
		r := MemoryRegion{Base: d.StartOfMemoryRange, Size: uint64(d.Memory.DataSize), Offset: int64(d.Memory.RVA)}
		if uint64(r.Offset)+r.Size > uint64(f.size) || r.Base+r.Size < r.Base {
			problems = append(problems, fmt.Sprintf("memory region %#x+%#x: data outside the file", r.Base, r.Size))
			continue
		}
		m.regions = append(m.regions, r)
	}
	r64, err := f.Memory64List()
	if err != nil && !isNoStream(err) {
		problems = append(problems, err.Error())
	}
	m.regions = append(m.regions, r64...)
	sort.SliceStable(m.regions, func(i, j int) bool { return m.regions[i].Base < m.regions[j].Base })
	out := m.regions[:0]
	for _, r := range m.regions {
		if r.Size == 0 {
			continue
		}
		if n := len(out); n > 0 && r.Base < out[n-1].End() {
			problems = append(problems, fmt.Sprintf("memory region %#x+%#x overlaps %#x+%#x", r.Base, r.Size, out[n-1].Base, out[n-1].Size))
			continue
		}
		out = append(out, r)
	}
	m.regions = out
	if len(problems) > 0 {
		return m, formatErr("memory lists", 0, "%d problem(s): %s", len(problems), problems[0])
	}
	return m, nil
}

// Regions returns the indexed regions in address order.
func (m *Memory) Regions() []MemoryRegion { return m.regions }

// Region returns the region containing addr.
func (m *Memory) Region(addr uint64) (MemoryRegion, bool) {
	i := sort.Search(len(m.regions), func(i int) bool { return m.regions[i].End() > addr })
	if i < len(m.regions) && m.regions[i].Base <= addr {
		return m.regions[i], true
	}
	return MemoryRegion{}, false
}

// Bytes returns n bytes of process memory at addr. The bytes must lie within
// one region. For memory-resident dumps the result aliases the dump.
func (m *Memory) Bytes(addr, n uint64) ([]byte, error) {
	r, ok := m.Region(addr)
	if !ok || n > r.End()-addr {
		return nil, fmt.Errorf("minidump: %d bytes at %#x: %w", n, addr, ErrNoMemory)
	}
	return m.f.bytes("memory", r.Offset+int64(addr-r.Base), n)
}

// ReadUint64 reads a little-endian 64-bit word of process memory.
func (m *Memory) ReadUint64(addr uint64) (uint64, bool) {
	b, err := m.Bytes(addr, 8)
	if err != nil {
		return 0, false
	}
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56, true
}

// ReadUint32 reads a little-endian 32-bit word of process memory.
func (m *Memory) ReadUint32(addr uint64) (uint32, bool) {
	b, err := m.Bytes(addr, 4)
	if err != nil {
		return 0, false
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, true
}
