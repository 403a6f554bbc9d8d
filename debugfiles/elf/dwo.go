package elf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles/dwarf"
)

// DWARF 5 unit types that carry a DWO id in their header.
const (
	dwUTSkeleton     = 0x04
	dwUTSplitCompile = 0x05
)

// dwoResolver finds the split-DWARF data of the skeleton units of one
// binary: in BINARY.dwp beside it, else in the .dwo files the skeletons
// name. It is safe for concurrent use.
type dwoResolver struct {
	binPath string

	mu        sync.Mutex
	dwpLoaded bool
	dwp       *dwarf.Package
}

func newDWOResolver(binPath string) *dwoResolver {
	return &dwoResolver{binPath: binPath}
}

// resolve implements dwarf.Options.ResolveDWOSections.
func (r *dwoResolver) resolve(name, compDir string, id uint64) (*dwarf.Sections, error) {
	if p := r.pkg(); p != nil {
		if s, err := p.Resolve(name, compDir, id); err == nil {
			return s, nil
		}
	}
	for _, cand := range dwoCandidates(r.binPath, name, compDir) {
		if _, err := os.Stat(cand); err != nil {
			continue
		}
		if s, err := loadDWO(cand, id); err == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w: %s (id %#016x)", dwarf.ErrNoDWO, name, id)
}

// pkg opens BINARY.dwp the first time it is needed; nil when there is none
// or it is unreadable.
func (r *dwoResolver) pkg() *dwarf.Package {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dwpLoaded {
		r.dwpLoaded = true
		path := r.binPath + ".dwp"
		if _, err := os.Stat(path); err == nil {
			if s, _, err := readSplitSections(path); err == nil {
				r.dwp, _ = dwarf.NewPackage(s)
			}
		}
	}
	return r.dwp
}

// dwoCandidates lists where a .dwo file may be, in the order gdb looks: the
// name itself when absolute, under the compilation directory, and beside
// the binary (with and without the name's directories).
func dwoCandidates(binPath, name, compDir string) []string {
	if name == "" {
		return nil
	}
	binDir := filepath.Dir(binPath)
	var out []string
	add := func(p string) {
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	if filepath.IsAbs(name) {
		add(name)
	} else {
		if compDir != "" {
			add(filepath.Join(compDir, name))
		}
		add(filepath.Join(binDir, name))
	}
	add(filepath.Join(binDir, filepath.Base(name)))
	return out
}

// readSplitSections opens a .dwo or .dwp file and copies its DWARF
// sections to the heap (the file is closed before the session reads them).
func readSplitSections(path string) (*dwarf.Sections, binary.ByteOrder, error) {
	o, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer o.Close()
	s, err := o.dwarfSections(true)
	if err != nil {
		return nil, nil, err
	}
	if len(s.Info) == 0 {
		return nil, nil, fmt.Errorf("elf: %s: no .debug_info.dwo", path)
	}
	return s, o.f.ByteOrder, nil
}

// loadDWO reads a .dwo file whose split compile unit has the given DWO id
// (0 accepts any).
func loadDWO(path string, id uint64) (*dwarf.Sections, error) {
	s, bo, err := readSplitSections(path)
	if err != nil {
		return nil, err
	}
	if id != 0 && !hasDWOID(s.Info, bo, id) {
		return nil, fmt.Errorf("elf: %s: no split unit with DWO id %#016x", path, id)
	}
	return s, nil
}

// unitHeader is the part of a DWARF unit header split DWARF needs.
type unitHeader struct {
	version  uint16
	unitType uint8
	dwoID    uint64
	// next is the offset of the following unit.
	next uint64
}

// readUnitHeader decodes the unit header at the start of b.
func readUnitHeader(b []byte, bo binary.ByteOrder) (unitHeader, bool) {
	var h unitHeader
	if len(b) < 4 {
		return h, false
	}
	length, p, offSize := uint64(bo.Uint32(b)), uint64(4), uint64(4)
	if length == 0xffffffff {
		if len(b) < 12 {
			return h, false
		}
		length, p, offSize = bo.Uint64(b[4:]), 12, 8
	} else if length >= 0xfffffff0 {
		return h, false
	}
	if length > uint64(len(b))-p || length < 2 {
		return h, false
	}
	h.next = p + length
	h.version = bo.Uint16(b[p:])
	if h.version >= 5 {
		// version, unit_type, address_size, debug_abbrev_offset, DWO id.
		if 2+2+offSize+8 > length {
			return h, false
		}
		h.unitType = b[p+2]
		if h.unitType == dwUTSkeleton || h.unitType == dwUTSplitCompile {
			h.dwoID = bo.Uint64(b[p+4+offSize:])
		}
	}
	return h, true
}

// hasDWOID reports whether info holds a split compile unit with the given
// DWO id. DWARF 4 units keep the id in an attribute (DW_AT_GNU_dwo_id) that
// is not checked here: they are accepted.
func hasDWOID(info []byte, bo binary.ByteOrder, id uint64) bool {
	for len(info) > 0 {
		h, ok := readUnitHeader(info, bo)
		if !ok {
			return false
		}
		if h.version < 5 || (h.unitType == dwUTSplitCompile && h.dwoID == id) {
			return true
		}
		info = info[h.next:]
	}
	return false
}

// cloneSections copies every section of s to the heap.
func cloneSections(s *dwarf.Sections) {
	for _, p := range []*[]byte{&s.Info, &s.Abbrev, &s.Str, &s.StrOffsets, &s.LineStr, &s.Line, &s.Addr, &s.Ranges, &s.RngLists, &s.CUIndex} {
		*p = bytes.Clone(*p)
	}
}
