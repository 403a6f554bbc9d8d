package pdb

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

var _ unwind.Source = (*Object)(nil)

// UnwindTables returns the x86 frame data of the PDB (the FrameData and
// FPO streams) as one table of rows carrying Win (see FrameTable); a PDB
// without frame data (any non-x86 PDB) has no tables.
func (o *Object) UnwindTables() ([]unwind.Table, error) {
	fd, err := o.FrameData()
	if err != nil {
		return nil, fmt.Errorf("pdb: %s: %w", o.name, err)
	}
	fpo, err := o.FPO()
	if err != nil {
		return nil, fmt.Errorf("pdb: %s: %w", o.name, err)
	}
	t := newFrameTable(&o.am, fd, fpo)
	if len(t.recs[0])+len(t.recs[1]) == 0 {
		return nil, nil
	}
	return []unwind.Table{t}, nil
}

// FrameTable is a PDB's frame data as an unwind.Table: one row per record
// Breakpad's Windows dump_syms writes as a STACK WIN line
// (PDBSourceLineWriter::PrintFrameDataUsingPDB), with the fields it
// writes:
//
//   - FrameData records (type 4) with their sizes and program; a record
//     without a program has AllocatesBasePointer unset, as DIA reports it.
//   - FPO records with their frame type (0 FPO, 1 trap, 2 TSS, 3 standard)
//     and sizes in bytes (the stream counts parameters, locals and saved
//     registers in dwords), no maximum stack size and no program, and
//     AllocatesBasePointer from the record's "uses ebp" bit.
//   - A record identical in type, address, code size and prolog size to
//     the one before it in its stream is left out, as dump_syms leaves
//     out the repeats system PDBs are full of.
//   - Addresses are final image RVAs: through the OMAP, a record whose
//     prolog and body stayed contiguous keeps its sizes, and otherwise
//     becomes one record per piece of its prolog (with a prolog the size
//     of the piece) and per piece of its body (with no prolog).
//
// Records of code size 0, which Breakpad's processor ignores, are left
// out. Programs lose the trailing blank the linkers store: a symbol file
// line does not end in one.
//
// Rows are yielded by start address, records with equal starts in stream
// order, FrameData first. Lookup answers as Breakpad's processor does for
// properly nested records: FrameData before FPO (other frame types are
// never looked up), and within a type the innermost record covering the
// address. Where records overlap without nesting, the processor refuses
// the one it reads second while Lookup takes the one starting later.
type FrameTable struct {
	// recs are the FPO (0) and FrameData (1) records Lookup searches,
	// each sorted by start, then end descending, then stream order
	// descending, so that of the records covering an address the last
	// in this order is the innermost; owners[i] are the pieces of the
	// address space each of recs[i] owns (unwind.Innermost), which
	// Lookup searches. They are made by the first Lookup: readers of
	// Rows alone need none.
	recs       [2][]frameRec
	ownersOnce sync.Once
	owners     [2][]unwind.Span
	// rows are every record in yield order.
	rows []unwind.Row
}

var _ unwind.Table = (*FrameTable)(nil)

// frameRec is a record with its position in the streams.
type frameRec struct {
	start, end uint64
	seq        int
	win        *unwind.WinFrame
}

// newFrameTable converts the streams' records, FrameData first as DIA
// enumerates them.
func newFrameTable(am *addressMap, fd []FrameData, fpo []FPOData) *FrameTable {
	t := &FrameTable{}
	var all []frameRec
	type key struct {
		typ                 uint8
		rva, code, prologSz uint32
	}
	var last key
	first := true
	add := func(k key, w unwind.WinFrame) {
		if !first && k == last {
			return
		}
		first, last = false, k
		for _, p := range frameRanges(am, k.rva, k.code, k.prologSz) {
			if p.code == 0 {
				continue
			}
			win := w
			win.PrologSize = p.prolog
			all = append(all, frameRec{start: uint64(p.rva), end: uint64(p.rva) + uint64(p.code), seq: len(all), win: &win})
		}
	}
	for _, f := range fd {
		add(key{4, f.RVA, f.CodeSize, uint32(f.PrologSize)}, unwind.WinFrame{
			Type: 4, ParamSize: f.ParamsSize, SavedRegisterSize: uint32(f.SavedRegsSize),
			LocalSize: f.LocalSize, MaxStackSize: f.MaxStackSize,
			Program: strings.TrimRight(f.Program, " \t\r\n"),
		})
	}
	for _, f := range fpo {
		add(key{f.Frame, f.Start, f.Size, uint32(f.Prolog)}, unwind.WinFrame{
			Type: f.Frame, ParamSize: uint32(f.Params) * 4, SavedRegisterSize: uint32(f.Regs) * 4,
			LocalSize: f.Locals * 4, AllocatesBasePointer: f.UseBP,
		})
	}
	slices.SortStableFunc(all, func(a, b frameRec) int { return cmp.Compare(a.start, b.start) })
	t.rows = make([]unwind.Row, len(all))
	for k, r := range all {
		t.rows[k] = unwind.Row{Start: r.start, End: r.end, Entry: unwind.Range{Start: r.start, End: r.end}, RA: unwind.ArchX86.RA(), Win: r.win}
		switch r.win.Type {
		case 0:
			t.recs[0] = append(t.recs[0], r)
		case 4:
			t.recs[1] = append(t.recs[1], r)
		}
	}
	for i := range t.recs {
		slices.SortFunc(t.recs[i], func(a, b frameRec) int {
			return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end), cmp.Compare(b.seq, a.seq))
		})
	}
	return t
}

// frameRange is where a record's code landed in the final image.
type frameRange struct {
	rva, code, prolog uint32
}

// frameRanges maps a record's prolog and body through the OMAP as dump_syms
// does: one range when they stay contiguous, else one per piece. Without
// an OMAP the record is unchanged.
func frameRanges(am *addressMap, rva, code, prolog uint32) []frameRange {
	if am == nil || am.omap == nil {
		return []frameRange{{rva, code, prolog}}
	}
	var pro, body []span
	if prolog > 0 {
		pro = am.translateRange(uint64(rva), uint64(rva)+uint64(prolog), nil)
	}
	// The body's size wraps as dump_syms computes it when the prolog is
	// larger than the code.
	body = am.translateRange(uint64(rva)+uint64(prolog), uint64(rva)+uint64(prolog)+uint64(code-prolog), nil)
	byStart := func(a, b span) int { return cmp.Compare(a.start, b.start) }
	slices.SortFunc(pro, byStart)
	slices.SortFunc(body, byStart)
	if len(pro) == 1 && len(body) == 1 && pro[0].end == body[0].start {
		return []frameRange{{uint32(pro[0].start), uint32(body[0].end - pro[0].start), uint32(pro[0].end - pro[0].start)}}
	}
	out := make([]frameRange, 0, len(pro)+len(body))
	for _, p := range pro {
		out = append(out, frameRange{uint32(p.start), uint32(p.end - p.start), uint32(p.end - p.start)})
	}
	for _, b := range body {
		out = append(out, frameRange{uint32(b.start), uint32(b.end - b.start), 0})
	}
	return out
}

// Arch is x86, the only architecture with frame data.
func (t *FrameTable) Arch() unwind.Arch { return unwind.ArchX86 }

// Rows yields every record's row by start address. Rows of different
// records may overlap; their Win is shared and must not be modified.
func (t *FrameTable) Rows() iter.Seq2[unwind.Row, error] {
	return func(yield func(unwind.Row, error) bool) {
		for _, r := range t.rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Lookup returns the row of the FrameData record, else the FPO record,
// that covers addr most narrowly.
func (t *FrameTable) Lookup(addr uint64) (unwind.Row, bool, error) {
	t.ownersOnce.Do(func() {
		for i, recs := range t.recs {
			spans := make([]unwind.Span, len(recs))
			for k, r := range recs {
				spans[k] = unwind.Span{Start: r.start, End: r.end, Item: k}
			}
			t.owners[i] = unwind.Innermost(spans)
		}
	})
	for _, i := range [...]int{1, 0} {
		if k, ok := unwind.Owner(t.owners[i], addr); ok {
			r := t.recs[i][k]
			return unwind.Row{Start: r.start, End: r.end, Entry: unwind.Range{Start: r.start, End: r.end}, RA: unwind.ArchX86.RA(), Win: r.win}, true, nil
		}
	}
	return unwind.Row{}, false, nil
}
