package pe

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
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
	// Kept only when some entry reaches past the start of the next one
	// (LLVM places the chained part of a function inside the primary
	// entry's range): groups are the indexes of the first entry of each
	// group of entries that overlap one another, in order, and owners
	// the pieces of the address space each entry owns, the innermost
	// (unwind.Innermost), made by the first Lookup. Lookups search them
	// rather than walk back over the entries, which is linear in the
	// entries for one that encloses every other one.
	groups     []uint32
	ownersOnce sync.Once
	owners     []unwind.Span
}

// newUnwindTable sorts funcs by Begin and indexes them for lookups.
func newUnwindTable(machine uint16, funcs []RuntimeFunction) *UnwindTable {
	t := &UnwindTable{machine: machine, funcs: funcs}
	// Linkers sort the table; a table out of order is sorted here so that
	// Lookup can search it.
	if !slices.IsSortedFunc(t.funcs, compareBegin) {
		slices.SortStableFunc(t.funcs, compareBegin)
	}
	overlap := false
	for i := 1; i < len(funcs) && !overlap; i++ {
		overlap = funcs[i-1].End > funcs[i].Begin
	}
	if !overlap {
		return t
	}
	end := uint32(0)
	for i, rf := range funcs {
		if i == 0 || end <= rf.Begin {
			t.groups = append(t.groups, uint32(i))
		}
		end = max(end, rf.End)
	}
	return t
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
	funcs := make([]RuntimeFunction, 0, n)
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
		funcs = append(funcs, rf)
	}
	return newUnwindTable(o.machine, funcs), nil
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
	if t.groups != nil {
		t.ownersOnce.Do(func() {
			spans := make([]unwind.Span, len(t.funcs))
			for i, rf := range t.funcs {
				spans[i] = unwind.Span{Start: uint64(rf.Begin), End: uint64(rf.End), Item: i}
			}
			t.owners = unwind.Innermost(spans)
		})
		if i, ok := unwind.Owner(t.owners, uint64(rva)); ok {
			return t.funcs[i], true
		}
		return RuntimeFunction{}, false
	}
	i := sort.Search(len(t.funcs), func(i int) bool { return t.funcs[i].Begin > rva })
	if i > 0 && rva < t.funcs[i-1].End {
		return t.funcs[i-1], true
	}
	return RuntimeFunction{}, false
}

// group returns the index of the first entry of the group of overlapping
// entries holding entry i, and the index past its last; (i, i+1) when
// no entries overlap.
func (t *UnwindTable) group(i int) (first, end int) {
	if t.groups == nil {
		return i, i + 1
	}
	g := sort.Search(len(t.groups), func(g int) bool { return int(t.groups[g]) > i }) - 1
	first, end = int(t.groups[g]), len(t.funcs)
	if g+1 < len(t.groups) {
		end = int(t.groups[g+1])
	}
	return first, end
}
