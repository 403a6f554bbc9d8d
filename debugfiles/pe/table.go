package pe

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

var _ unwind.Source = (*Object)(nil)

// UnwindTables returns the image's exception table as one unwind.Table
// (see Table) for x64 and ARM64 images. Other machines (x86 unwinds
// through the frame data of its PDB) and images without an exception
// directory have no tables.
func (o *Object) UnwindTables() ([]unwind.Table, error) {
	var rows rowsFunc
	arch := unwind.ArchUnknown
	switch o.machine {
	case MachineAMD64:
		rows, arch = o.X64Rows, unwind.ArchAMD64
	case MachineARM64:
		rows, arch = o.ARM64Rows, unwind.ArchARM64
	default:
		return nil, nil
	}
	ut, err := o.UnwindTable()
	if errors.Is(err, ErrNoUnwind) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pe: %s: %w", o.name, err)
	}
	return []unwind.Table{&Table{ut: ut, arch: arch, rows: rows}}, nil
}

// rowsFunc appends the rows of one exception table entry.
type rowsFunc func(rf RuntimeFunction, rows []unwind.Row) ([]unwind.Row, error)

// Table is an image's exception table (.pdata/.xdata) as an unwind.Table.
// Row addresses are RVAs. The rows of an entry are decoded when they are
// asked for: Rows decodes each entry once, Lookup only the entry holding
// the address (where entries overlap, the group of entries overlapping
// one another around it).
//
// Entries may nest (LLVM places the chained part of a function inside the
// primary entry's range): where rows of several entries overlap, the row
// starting last owns the addresses they share, and the rows it cuts are
// yielded in pieces around it, each piece keeping its entry's Entry. Rows
// and Lookup agree on every address. A Table is safe for concurrent use.
type Table struct {
	ut   *UnwindTable
	arch unwind.Arch
	rows rowsFunc
	// groups holds the groups of overlapping entries Lookup resolved,
	// by the index of their first entry: a group is decoded whole for
	// any address in it, and a corrupt image whose entries all overlap
	// would otherwise have every lookup decode the whole table again.
	// They hold what Rows would yield for them, no more than the
	// exception table's entries decode to.
	mu     sync.Mutex
	groups map[int]*resolvedGroup
}

// resolvedGroup is a group of overlapping entries resolved (cluster): its
// rows, and the entries whose rows could not be decoded.
type resolvedGroup struct {
	rows []unwind.Row
	errs []entryError
}

var _ unwind.Table = (*Table)(nil)

// Arch is amd64 or arm64.
func (t *Table) Arch() unwind.Arch { return t.arch }

// entryRange is the Entry of an exception table entry's rows.
func entryRange(rf RuntimeFunction) unwind.Range {
	return unwind.Range{Start: uint64(rf.Begin), End: uint64(rf.End)}
}

// Rows yields every entry's rows in address order; an entry whose unwind
// information cannot be read yields one error naming its range.
func (t *Table) Rows() iter.Seq2[unwind.Row, error] {
	return func(yield func(unwind.Row, error) bool) {
		funcs := t.ut.funcs
		var buf []unwind.Row
		for i := 0; i < len(funcs); {
			_, j := t.ut.group(i)
			if j == i+1 {
				var err error
				buf, err = t.rows(funcs[i], buf[:0])
				if err != nil {
					if !yield(unwind.Row{Entry: entryRange(funcs[i])}, err) {
						return
					}
				} else {
					for _, r := range buf {
						if !yield(r, nil) {
							return
						}
					}
				}
				i = j
				continue
			}
			g := t.cluster(funcs[i:j])
			for _, e := range g.errs {
				if !yield(unwind.Row{Entry: entryRange(e.rf)}, e.err) {
					return
				}
			}
			for _, r := range g.rows {
				if !yield(r, nil) {
					return
				}
			}
			i = j
		}
	}
}

// Lookup returns the row covering the RVA addr.
func (t *Table) Lookup(addr uint64) (unwind.Row, bool, error) {
	if addr > 1<<32-1 {
		return unwind.Row{}, false, nil
	}
	rf, ok := t.ut.Lookup(uint32(addr))
	if !ok {
		return unwind.Row{}, false, nil
	}
	if t.ut.groups == nil {
		rows, err := t.rows(rf, nil)
		if err != nil {
			return unwind.Row{Entry: entryRange(rf)}, false, err
		}
		if k := findRow(rows, addr); k >= 0 {
			return rows[k], true, nil
		}
		return unwind.Row{}, false, nil
	}
	// Entries overlap somewhere: resolve the group of entries around
	// addr as Rows does.
	funcs := t.ut.funcs
	g := t.group(t.ut.group(sort.Search(len(funcs), func(i int) bool { return funcs[i].Begin > uint32(addr) }) - 1))
	if k := findRow(g.rows, addr); k >= 0 {
		row := g.rows[k]
		// The caller owns the row's registers, as when the rows are
		// decoded for it.
		row.Regs = slices.Clone(row.Regs)
		return row, true, nil
	}
	for _, e := range g.errs {
		if e.rf == rf {
			return unwind.Row{Entry: entryRange(rf)}, false, e.err
		}
	}
	return unwind.Row{}, false, nil
}

// group returns the group of overlapping entries i to j-1 (the bounds
// UnwindTable.group gives), resolved, and keeps it for the next lookups
// when it holds more than one entry.
func (t *Table) group(i, j int) *resolvedGroup {
	if j == i+1 {
		g := t.cluster(t.ut.funcs[i:j])
		return &g
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if g := t.groups[i]; g != nil {
		return g
	}
	resolved := t.cluster(t.ut.funcs[i:j])
	g := &resolved
	if t.groups == nil {
		t.groups = make(map[int]*resolvedGroup)
	}
	t.groups[i] = g
	return g
}

// findRow returns the index of the row of sorted, disjoint rows that
// covers addr, or -1.
func findRow(rows []unwind.Row, addr uint64) int {
	k := sort.Search(len(rows), func(k int) bool { return rows[k].End > addr })
	if k < len(rows) && rows[k].Start <= addr {
		return k
	}
	return -1
}

// entryError is an entry whose rows could not be decoded.
type entryError struct {
	rf  RuntimeFunction
	err error
}

// cluster decodes the rows of overlapping entries and resolves their
// overlaps (see unwind.Innermost).
func (t *Table) cluster(funcs []RuntimeFunction) resolvedGroup {
	var (
		all  []unwind.Row
		errs []entryError
	)
	for _, rf := range funcs {
		n := len(all)
		var err error
		all, err = t.rows(rf, all)
		if err != nil {
			all = all[:n]
			errs = append(errs, entryError{rf, err})
		}
	}
	spans := make([]unwind.Span, len(all))
	for k, r := range all {
		spans[k] = unwind.Span{Start: r.Start, End: r.End, Item: k}
	}
	spans = unwind.Innermost(spans)
	out := make([]unwind.Row, len(spans))
	for k, s := range spans {
		out[k] = all[s.Item]
		out[k].Start, out[k].End = s.Start, s.End
	}
	return resolvedGroup{out, errs}
}
