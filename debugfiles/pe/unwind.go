package pe

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
)

// RuntimeFunction is one entry of the exception table (.pdata): the code
// range of a function, or of a part of it, and where its unwind information
// is. All addresses are RVAs.
type RuntimeFunction struct {
	// Begin is the first address of the range.
	Begin uint32
	// End is the address past the range. x64 entries store it; ARM64
	// entries store a length, in the packed form or in the .xdata record,
	// from which End is computed (End == Begin when the record cannot be
	// read).
	End uint32
	// UnwindData is the entry's second (x64: third) word as stored: on
	// x64 the RVA of the UNWIND_INFO; on ARM64 the RVA of the .xdata
	// record when its low two bits (the Flag) are 0, else packed unwind
	// data.
	UnwindData uint32
}

// UnwindTable is the exception table of an image, sorted by address. It is
// built once per Object (UnwindTable) and then looked up without
// allocating.
type UnwindTable struct {
	machine uint16
	funcs   []RuntimeFunction
	// maxEnd[i] is the largest End of funcs[:i+1], kept only when some
	// entry reaches past the start of the next one (LLVM places the
	// chained part of a function inside the primary entry's range).
	maxEnd []uint32
}

// maxRuntimeFunctions bounds the exception table: 2^24 entries of 12 bytes
// is 192 MiB of .pdata, beyond any real image.
const maxRuntimeFunctions = 1 << 24

// UnwindTable reads the exception directory: x64 RUNTIME_FUNCTION entries
// (12 bytes) or ARM64 .pdata entries (8 bytes). Other machines (x86 unwinds
// through frame data in the PDB) and images without an exception directory
// yield ErrNoUnwind.
func (o *Object) UnwindTable() (*UnwindTable, error) {
	o.unwindOnce.Do(func() { o.unwind, o.unwindErr = o.readUnwindTable() })
	return o.unwind, o.unwindErr
}

func (o *Object) readUnwindTable() (*UnwindTable, error) {
	d := dataDirectory(o.f, dirException)
	if d.VirtualAddress == 0 || d.Size == 0 || o.stub {
		return nil, ErrNoUnwind
	}
	entry := uint32(0)
	switch o.machine {
	case MachineAMD64:
		entry = 12
	case MachineARM64:
		entry = 8
	default:
		return nil, fmt.Errorf("%w: exception table of machine %#x", ErrNoUnwind, o.machine)
	}
	n := min(d.Size/entry, maxRuntimeFunctions)
	raw, err := o.readRVA(d.VirtualAddress, uint64(n)*uint64(entry))
	if err != nil {
		return nil, fmt.Errorf("pe: exception table: %w", err)
	}
	t := &UnwindTable{machine: o.machine, funcs: make([]RuntimeFunction, 0, n)}
	for i := range n {
		e := raw[i*entry:]
		rf := RuntimeFunction{Begin: binary.LittleEndian.Uint32(e)}
		if entry == 12 {
			rf.End = binary.LittleEndian.Uint32(e[4:])
			rf.UnwindData = binary.LittleEndian.Uint32(e[8:])
		} else {
			rf.UnwindData = binary.LittleEndian.Uint32(e[4:])
			rf.End = rf.Begin + o.arm64FunctionLength(rf.UnwindData)
			if rf.End < rf.Begin {
				rf.End = rf.Begin
			}
		}
		if rf.Begin == 0 && rf.End == 0 && rf.UnwindData == 0 {
			continue // padding at the end of the table
		}
		t.funcs = append(t.funcs, rf)
	}
	// Linkers sort the table; a table out of order is sorted here so that
	// Lookup can search it.
	if !slices.IsSortedFunc(t.funcs, compareBegin) {
		slices.SortStableFunc(t.funcs, compareBegin)
	}
	for i := 1; i < len(t.funcs); i++ {
		if t.funcs[i-1].End > t.funcs[i].Begin {
			t.maxEnd = make([]uint32, len(t.funcs))
			break
		}
	}
	if t.maxEnd != nil {
		m := uint32(0)
		for i, rf := range t.funcs {
			m = max(m, rf.End)
			t.maxEnd[i] = m
		}
	}
	return t, nil
}

func compareBegin(a, b RuntimeFunction) int { return cmp.Compare(a.Begin, b.Begin) }

// Machine is the image's machine type, which says how to decode entries.
func (t *UnwindTable) Machine() uint16 { return t.machine }

// Functions returns every entry sorted by Begin. The slice must not be
// modified.
func (t *UnwindTable) Functions() []RuntimeFunction { return t.funcs }

// Lookup finds the entry whose range holds rva; of nested entries, the
// innermost (the one starting last).
func (t *UnwindTable) Lookup(rva uint32) (RuntimeFunction, bool) {
	i := sort.Search(len(t.funcs), func(i int) bool { return t.funcs[i].Begin > rva })
	for j := i - 1; j >= 0; j-- {
		if rva < t.funcs[j].End {
			return t.funcs[j], true
		}
		if t.maxEnd == nil || t.maxEnd[j] <= rva {
			break // no entry before j reaches rva
		}
	}
	return RuntimeFunction{}, false
}
