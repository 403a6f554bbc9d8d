package macho

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"
	"sort"

	"github.com/cairn-dev/cairn/debugfiles/dwarf/cfi"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// Compact unwind (__TEXT,__unwind_info) is Apple's format, documented only
// by <mach-o/compact_unwind_encoding.h>: a two-level table mapping each
// function to a 32-bit encoding that says how to unwind it after its
// prologue — a frame-pointer frame with saved registers, a frameless frame
// of a fixed size, or "see this FDE in __eh_frame".

// Encoding bits shared by every architecture.
const (
	cuIsNotFunctionStart = 0x80000000
	cuHasLSDA            = 0x40000000
	cuPersonalityMask    = 0x30000000
	cuModeMask           = 0x0f000000
	cuDWARFOffsetMask    = 0x00ffffff
)

// Second-level page kinds.
const (
	cuPageRegular    = 2
	cuPageCompressed = 3
)

// CompactEntry is one function of a compact unwind table.
type CompactEntry struct {
	// Start and End delimit the function, relative to the load address.
	Start, End uint64
	// Encoding is the 32-bit compact encoding.
	Encoding uint32
	// LSDA is the function's language-specific data area (relative to the
	// load address), 0 when it has none.
	LSDA uint64
	// Personality is the address (relative to the load address) of the
	// GOT slot holding the personality routine, 0 when it has none.
	Personality uint64
}

// CompactTable is a decoded __unwind_info section. It implements
// unwind.Table: each function with an encoding gets one row (compact
// unwind describes the body of a function, after its prologue); functions
// whose encoding defers to DWARF get the rows of their __eh_frame FDE.
type CompactTable struct {
	arch    unwind.Arch
	entries []CompactEntry
	eh      *cfi.Table
	code    func(addr uint64, n int) []byte
}

var _ unwind.Table = (*CompactTable)(nil)

// compactHeader is unwind_info_section_header.
type compactHeader struct {
	version, commonOff, commonCount, persOff, persCount, indexOff, indexCount uint32
}

// ParseCompactUnwind decodes an __unwind_info section. eh is the table of
// the image's __eh_frame, for DWARF-mode functions (nil when it has none);
// code returns n bytes of code at an address relative to the load address,
// or nil (x86_64 frameless functions with large stacks keep the stack size
// in their own instructions). Counts and offsets are checked against the
// section, so hostile input costs no more than its size.
func ParseCompactUnwind(arch unwind.Arch, data []byte, eh *cfi.Table, code func(addr uint64, n int) []byte) (*CompactTable, error) {
	if arch != unwind.ArchAMD64 && arch != unwind.ArchARM64 {
		return nil, fmt.Errorf("macho: compact unwind: %w for %s", unwind.ErrNoUnwind, arch)
	}
	bo := binary.LittleEndian
	if len(data) < 28 {
		return nil, &FormatError{Msg: "compact unwind: truncated header"}
	}
	h := compactHeader{bo.Uint32(data), bo.Uint32(data[4:]), bo.Uint32(data[8:]), bo.Uint32(data[12:]), bo.Uint32(data[16:]), bo.Uint32(data[20:]), bo.Uint32(data[24:])}
	if h.version != 1 {
		return nil, &FormatError{Msg: fmt.Sprintf("compact unwind: version %d", h.version)}
	}
	in := func(off, count, size uint32) bool {
		return uint64(off)+uint64(count)*uint64(size) <= uint64(len(data))
	}
	if !in(h.commonOff, h.commonCount, 4) || !in(h.persOff, h.persCount, 4) || !in(h.indexOff, h.indexCount, 12) {
		return nil, &FormatError{Msg: "compact unwind: arrays past the end of the section"}
	}
	common := func(i uint32) uint32 { return bo.Uint32(data[h.commonOff+4*i:]) }
	t := &CompactTable{arch: arch, eh: eh, code: code}
	type lsda struct{ fn, lsda uint32 }
	var lsdas []lsda
	var end uint32
	for i := range h.indexCount {
		e := data[h.indexOff+12*i:]
		fn, page, lsdaOff := bo.Uint32(e), bo.Uint32(e[4:]), bo.Uint32(e[8:])
		if i+1 < h.indexCount {
			// LSDA entries of this index entry run to the next one's.
			next := bo.Uint32(data[h.indexOff+12*(i+1)+8:])
			if next >= lsdaOff && in(lsdaOff, (next-lsdaOff)/8, 8) {
				for o := lsdaOff; o+8 <= next; o += 8 {
					lsdas = append(lsdas, lsda{bo.Uint32(data[o:]), bo.Uint32(data[o+4:])})
				}
			}
		}
		if page == 0 {
			// The sentinel: the end of the last function.
			end = fn
			break
		}
		if !in(page, 1, 12) {
			return nil, &FormatError{Msg: fmt.Sprintf("compact unwind: second-level page %#x past the end of the section", page)}
		}
		p := data[page:]
		kind := bo.Uint32(p)
		entOff, entCount := uint32(bo.Uint16(p[4:])), uint32(bo.Uint16(p[6:]))
		switch kind {
		case cuPageRegular:
			if !in(page+entOff, entCount, 8) {
				return nil, &FormatError{Msg: fmt.Sprintf("compact unwind: regular page %#x past the end of the section", page)}
			}
			for k := range entCount {
				ent := data[page+entOff+8*k:]
				t.entries = append(t.entries, CompactEntry{Start: uint64(bo.Uint32(ent)), Encoding: bo.Uint32(ent[4:])})
			}
		case cuPageCompressed:
			encOff, encCount := uint32(bo.Uint16(p[8:])), uint32(bo.Uint16(p[10:]))
			if !in(page+entOff, entCount, 4) || !in(page+encOff, encCount, 4) {
				return nil, &FormatError{Msg: fmt.Sprintf("compact unwind: compressed page %#x past the end of the section", page)}
			}
			for k := range entCount {
				v := bo.Uint32(data[page+entOff+4*k:])
				idx := v >> 24
				var enc uint32
				switch {
				case idx < h.commonCount:
					enc = common(idx)
				case idx-h.commonCount < encCount:
					enc = bo.Uint32(data[page+encOff+4*(idx-h.commonCount):])
				default:
					return nil, &FormatError{Msg: fmt.Sprintf("compact unwind: encoding index %d out of range in page %#x", idx, page)}
				}
				t.entries = append(t.entries, CompactEntry{Start: uint64(fn) + uint64(v&0x00ffffff), Encoding: enc})
			}
		default:
			return nil, &FormatError{Msg: fmt.Sprintf("compact unwind: page %#x of kind %d", page, kind)}
		}
	}
	slices.SortStableFunc(t.entries, func(a, b CompactEntry) int { return cmp.Compare(a.Start, b.Start) })
	slices.SortFunc(lsdas, func(a, b lsda) int { return cmp.Compare(a.fn, b.fn) })
	for i := range t.entries {
		e := &t.entries[i]
		e.End = uint64(end)
		if i+1 < len(t.entries) {
			e.End = t.entries[i+1].Start
		}
		if e.End < e.Start {
			e.End = e.Start
		}
		if e.Encoding&cuHasLSDA != 0 {
			if k, ok := slices.BinarySearchFunc(lsdas, uint32(e.Start), func(l lsda, fn uint32) int { return cmp.Compare(l.fn, fn) }); ok {
				e.LSDA = uint64(lsdas[k].lsda)
			}
		}
		if p := (e.Encoding & cuPersonalityMask) >> 28; p != 0 && p <= h.persCount {
			e.Personality = uint64(bo.Uint32(data[h.persOff+4*(p-1):]))
		}
	}
	return t, nil
}

// Arch is the architecture of the encodings.
func (t *CompactTable) Arch() unwind.Arch { return t.arch }

// Entries returns every function of the table in address order. The slice
// must not be modified.
func (t *CompactTable) Entries() []CompactEntry { return t.entries }

// Rows yields the rows of every function with unwind information, in
// address order. Functions with encoding 0 (no information) are skipped.
func (t *CompactTable) Rows() iter.Seq2[unwind.Row, error] {
	return func(yield func(unwind.Row, error) bool) {
		var regs []unwind.RegRule
		for i := range t.entries {
			e := &t.entries[i]
			if e.End <= e.Start || e.Encoding&cuModeMask == 0 {
				continue
			}
			if t.isDWARF(e.Encoding) {
				for row, err := range t.dwarfRows(e) {
					if !yield(row, err) {
						return
					}
				}
				continue
			}
			row, err := t.decode(e, regs[:0])
			regs = row.Regs
			if !yield(row, err) {
				return
			}
		}
	}
}

// Lookup returns the row of the function covering addr.
func (t *CompactTable) Lookup(addr uint64) (unwind.Row, bool, error) {
	i := sort.Search(len(t.entries), func(i int) bool { return t.entries[i].Start > addr })
	if i == 0 {
		return unwind.Row{}, false, nil
	}
	e := &t.entries[i-1]
	if addr >= e.End || e.Encoding&cuModeMask == 0 {
		return unwind.Row{}, false, nil
	}
	if t.isDWARF(e.Encoding) {
		if t.eh == nil {
			return unwind.Row{}, false, fmt.Errorf("macho: compact unwind: function at %#x defers to __eh_frame, which the image lacks", e.Start)
		}
		f, err := t.eh.FDEAt(uint64(e.Encoding & cuDWARFOffsetMask))
		if err != nil {
			return unwind.Row{}, false, fmt.Errorf("macho: compact unwind: function at %#x: %w", e.Start, err)
		}
		return t.eh.LookupFDE(f, addr)
	}
	row, err := t.decode(e, nil)
	if err != nil {
		return unwind.Row{}, false, err
	}
	return row, true, nil
}

// dwarfRows yields the rows of the FDE a DWARF-mode function names.
func (t *CompactTable) dwarfRows(e *CompactEntry) iter.Seq2[unwind.Row, error] {
	return func(yield func(unwind.Row, error) bool) {
		entry := unwind.Row{Entry: unwind.Range{Start: e.Start, End: e.End}}
		if t.eh == nil {
			yield(entry, fmt.Errorf("macho: compact unwind: function at %#x defers to __eh_frame, which the image lacks", e.Start))
			return
		}
		f, err := t.eh.FDEAt(uint64(e.Encoding & cuDWARFOffsetMask))
		if err != nil {
			yield(entry, fmt.Errorf("macho: compact unwind: function at %#x: %w", e.Start, err))
			return
		}
		for row, err := range t.eh.FDERows(f) {
			if !yield(row, err) {
				return
			}
		}
	}
}

func (t *CompactTable) isDWARF(enc uint32) bool {
	switch t.arch {
	case unwind.ArchAMD64:
		return enc&cuModeMask == x64ModeDWARF
	case unwind.ArchARM64:
		return enc&cuModeMask == arm64ModeDWARF
	}
	return false
}

// decode turns a non-DWARF encoding into its row, appending register
// rules to regs.
func (t *CompactTable) decode(e *CompactEntry, regs []unwind.RegRule) (unwind.Row, error) {
	row := unwind.Row{Start: e.Start, End: e.End, Entry: unwind.Range{Start: e.Start, End: e.End}, RA: t.arch.RA(), Regs: regs}
	var err error
	switch t.arch {
	case unwind.ArchAMD64:
		err = t.decodeX64(e, &row)
	case unwind.ArchARM64:
		err = decodeARM64(e, &row)
	}
	if err != nil {
		return unwind.Row{Entry: row.Entry}, err
	}
	slices.SortFunc(row.Regs, func(a, b unwind.RegRule) int { return cmp.Compare(a.Reg, b.Reg) })
	return row, nil
}

// saved is a register saved at CFA+off.
func saved(reg unwind.Reg, off int64) unwind.RegRule {
	return unwind.RegRule{Reg: reg, Rule: unwind.Rule{Kind: unwind.RuleOffset, Offset: off}}
}
