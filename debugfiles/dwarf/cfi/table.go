package cfi

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"
	"sort"
	"sync"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// Section is a call frame section as it is in the file.
type Section struct {
	Kind Kind
	Data []byte
	// Addr is the address of Data[0] in the address space of the code the
	// section describes (pc-relative pointers are resolved against it).
	// .debug_frame holds absolute addresses and needs none.
	Addr uint64
}

// Options describe the object a section belongs to.
type Options struct {
	Arch unwind.Arch
	// ByteOrder of the target; nil means little-endian.
	ByteOrder binary.ByteOrder
	// AddressSize is the size of a target address, 4 or 8; 0 means the
	// architecture's pointer size.
	AddressSize int
	// Bias is subtracted from every code address the table reports, so
	// that rows are relative to the object's load address.
	Bias uint64
	// TextAddr and DataAddr are the bases of DW_EH_PE_textrel and
	// DW_EH_PE_datarel pointers (the .text section and, on x86, the GOT).
	TextAddr, DataAddr uint64
	// Hdr is the .eh_frame_hdr section and HdrAddr its address. When it
	// holds a search table, Lookup uses it instead of indexing the whole
	// .eh_frame.
	Hdr     []byte
	HdrAddr uint64
}

// Table is the call frame information of one section. It implements
// unwind.Table. The section is indexed on first use; Lookup through an
// .eh_frame_hdr search table needs no index. A Table is safe for
// concurrent use.
type Table struct {
	sec  Section
	opts Options
	hdr  *hdrTable

	once     sync.Once
	index    []indexEntry
	cies     map[uint64]*CIE
	indexErr error
}

var _ unwind.Table = (*Table)(nil)

// indexEntry locates one FDE. Addresses are before the bias.
type indexEntry struct {
	start, end uint64
	off        uint64
}

// New returns the table of a section. It fails only on options it cannot
// work with; malformed entries are reported as they are reached.
func New(sec Section, opts Options) (*Table, error) {
	opts.ByteOrder = byteOrder(opts.ByteOrder)
	if opts.AddressSize == 0 {
		opts.AddressSize = opts.Arch.PointerSize()
	}
	if opts.AddressSize != 4 && opts.AddressSize != 8 {
		return nil, fmt.Errorf("cfi: address size %d", opts.AddressSize)
	}
	if sec.Kind != EHFrame && sec.Kind != DebugFrame {
		return nil, fmt.Errorf("cfi: unknown section kind %d", sec.Kind)
	}
	t := &Table{sec: sec, opts: opts}
	if sec.Kind == EHFrame && len(opts.Hdr) > 0 {
		// A malformed header only costs the fast path.
		t.hdr, _ = parseHdr(opts.Hdr, opts.HdrAddr, t)
	}
	return t, nil
}

func (t *Table) name() string { return t.sec.Kind.String() }

// Arch is the architecture of the register numbers.
func (t *Table) Arch() unwind.Arch { return t.opts.Arch }

// Kind is the kind of section the table reads.
func (t *Table) Kind() Kind { return t.sec.Kind }

// HasSearchTable reports whether Lookup uses an .eh_frame_hdr search table.
func (t *Table) HasSearchTable() bool { return t.hdr != nil }

// build indexes every FDE of the section: one pass over the entry headers,
// decoding CIEs once. Entries that cannot be decoded are skipped; the
// first such error is kept for Err.
func (t *Table) build() {
	t.once.Do(func() {
		t.cies = map[uint64]*CIE{}
		var firstErr error
		note := func(err error) {
			if firstErr == nil {
				firstErr = err
			}
		}
		cie := func(off uint64) (*CIE, error) {
			if c, ok := t.cies[off]; ok {
				return c, nil
			}
			c, err := t.parseCIE(off)
			if err != nil {
				return nil, err
			}
			t.cies[off] = c
			return c, nil
		}
		for off := uint64(0); off < uint64(len(t.sec.Data)); {
			h, err := t.header(off)
			if err != nil {
				note(err)
				break
			}
			if h.terminator {
				break
			}
			next := uint64(h.end)
			if h.end == h.body {
				off = next
				continue
			}
			if !t.isCIE(h) {
				f, err := t.parseFDE(off, cie)
				switch {
				case err != nil:
					note(err)
				case f.End > f.Start:
					t.index = append(t.index, indexEntry{start: f.Start, end: f.End, off: off})
				}
			}
			off = next
		}
		slices.SortStableFunc(t.index, func(a, b indexEntry) int {
			return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.off, b.off))
		})
		t.indexErr = firstErr
	})
}

// Err is the first malformed entry met while indexing the section, or nil.
// Such entries are left out of Rows, FDEs and Lookup.
func (t *Table) Err() error {
	t.build()
	return t.indexErr
}

// Len is the number of FDEs with code.
func (t *Table) Len() int {
	t.build()
	return len(t.index)
}

// cachedCIE returns a CIE from the index's cache, or parses it.
func (t *Table) cachedCIE(off uint64) (*CIE, error) {
	if c, ok := t.cies[off]; ok {
		return c, nil
	}
	return t.parseCIE(off)
}

// FDEs yields every FDE with code, in address order.
func (t *Table) FDEs() iter.Seq2[*FDE, error] {
	return func(yield func(*FDE, error) bool) {
		t.build()
		for _, e := range t.index {
			f, err := t.parseFDE(e.off, t.cachedCIE)
			if !yield(f, err) || err != nil {
				return
			}
		}
	}
}

// FDEAt decodes the FDE at a section offset (Mach-O compact unwind refers
// to FDEs this way).
func (t *Table) FDEAt(off uint64) (*FDE, error) {
	return t.parseFDE(off, t.parseCIE)
}

// Rows yields the rows of every FDE, in address order. The Regs slice of a
// row is reused for the next one. An FDE whose program is malformed yields
// its rows up to the error, then the error with a Row carrying only Entry;
// iteration goes on with the next FDE.
func (t *Table) Rows() iter.Seq2[unwind.Row, error] {
	return func(yield func(unwind.Row, error) bool) {
		t.build()
		var m machine
		for _, e := range t.index {
			entry := unwind.Row{Entry: unwind.Range{Start: e.start - t.opts.Bias, End: e.end - t.opts.Bias}}
			f, err := t.parseFDE(e.off, t.cachedCIE)
			if err != nil {
				if !yield(entry, fmt.Errorf("cfi: FDE at %#x: %w", e.off, err)) {
					return
				}
				continue
			}
			stopped := false
			err = m.run(t, f, func(row *unwind.Row) bool {
				if !yield(*row, nil) {
					stopped = true
					return false
				}
				return true
			})
			if stopped {
				return
			}
			if err != nil && !yield(entry, fmt.Errorf("cfi: FDE at %#x: %w", e.off, err)) {
				return
			}
		}
	}
}

// FDERows yields the rows of one FDE; the Regs slice is reused.
func (t *Table) FDERows(f *FDE) iter.Seq2[unwind.Row, error] {
	return func(yield func(unwind.Row, error) bool) {
		var m machine
		stopped := false
		err := m.run(t, f, func(row *unwind.Row) bool {
			if !yield(*row, nil) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil && !stopped {
			yield(unwind.Row{}, fmt.Errorf("cfi: FDE at %#x: %w", f.Offset, err))
		}
	}
}

// Lookup returns the row covering addr (relative to the load address).
func (t *Table) Lookup(addr uint64) (unwind.Row, bool, error) {
	abs := addr + t.opts.Bias
	var f *FDE
	if t.hdr != nil {
		off, ok := t.hdr.find(abs)
		if !ok {
			return unwind.Row{}, false, nil
		}
		var err error
		if f, err = t.parseFDE(off, t.parseCIE); err != nil {
			return unwind.Row{}, false, fmt.Errorf("cfi: FDE at %#x: %w", off, err)
		}
		if abs < f.Start || abs >= f.End {
			return unwind.Row{}, false, nil
		}
	} else {
		t.build()
		i := sort.Search(len(t.index), func(i int) bool { return t.index[i].start > abs })
		// Overlapping FDEs are rare; look back a little for one that
		// covers the address.
		for k := i - 1; k >= 0 && k >= i-8; k-- {
			if e := t.index[k]; abs >= e.start && abs < e.end {
				var err error
				if f, err = t.parseFDE(e.off, t.cachedCIE); err != nil {
					return unwind.Row{}, false, fmt.Errorf("cfi: FDE at %#x: %w", e.off, err)
				}
				break
			}
		}
		if f == nil {
			return unwind.Row{}, false, nil
		}
	}
	return t.LookupFDE(f, addr)
}

// LookupFDE returns the row of f covering addr (relative to the load
// address).
func (t *Table) LookupFDE(f *FDE, addr uint64) (unwind.Row, bool, error) {
	var m machine
	var out unwind.Row
	found := false
	err := m.run(t, f, func(row *unwind.Row) bool {
		if addr >= row.Start && addr < row.End {
			out, found = row.Clone(), true
			return false
		}
		return addr >= row.End
	})
	if err != nil && !found {
		return unwind.Row{}, false, fmt.Errorf("cfi: FDE at %#x: %w", f.Offset, err)
	}
	return out, found, nil
}
