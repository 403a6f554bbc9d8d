package pe

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// TestTableRowsAndLookup checks, on every PE fixture with an exception
// table, that Rows yields disjoint rows in address order, each inside its
// entry, and that Lookup, which decodes only the entries around the
// address, answers at every address of every entry the row Rows yields
// for it.
func TestTableRowsAndLookup(t *testing.T) {
	for _, name := range peFixtures() {
		t.Run(name, func(t *testing.T) {
			o := openFixture(t, name)
			tables, err := o.UnwindTables()
			if err != nil {
				t.Fatal(err)
			}
			if len(tables) == 0 {
				if o.Machine() == MachineAMD64 || o.Machine() == MachineARM64 {
					t.Fatal("no table")
				}
				return
			}
			tb := tables[0]
			var rows []unwind.Row
			malformed := 0
			for r, err := range tb.Rows() {
				if err != nil {
					malformed++
					continue
				}
				if n := len(rows); n > 0 && r.Start < rows[n-1].End {
					t.Fatalf("row %#x-%#x overlaps or precedes %#x-%#x", r.Start, r.End, rows[n-1].Start, rows[n-1].End)
				}
				if r.Start >= r.End || r.Start < r.Entry.Start || r.End > r.Entry.End {
					t.Fatalf("row %#x-%#x outside its entry %#x-%#x", r.Start, r.End, r.Entry.Start, r.Entry.End)
				}
				rows = append(rows, r.Clone())
			}
			if len(rows) == 0 {
				t.Fatalf("no rows (%d malformed entries)", malformed)
			}
			ut, err := o.UnwindTable()
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, rf := range ut.Functions() {
				for addr := uint64(rf.Begin); addr < uint64(rf.End); addr++ {
					got, ok, _ := tb.Lookup(addr)
					k := findRow(rows, addr)
					if ok != (k >= 0) {
						t.Fatalf("%#x: Lookup found a row: %v, Rows: %v", addr, ok, k >= 0)
					}
					if !ok {
						continue
					}
					want := rows[k]
					if got.Start != want.Start || got.End != want.End || got.Entry != want.Entry || !got.CFA.Equal(want.CFA) ||
						got.RA != want.RA || got.Flags != want.Flags || !slices.EqualFunc(got.Regs, want.Regs, func(a, b unwind.RegRule) bool {
						return a.Reg == b.Reg && a.Rule.Equal(b.Rule)
					}) {
						t.Fatalf("%#x: Lookup %+v, Rows %+v", addr, got, want)
					}
					checked++
				}
			}
			t.Logf("%d rows, %d malformed entries, %d addresses agree", len(rows), malformed, checked)
		})
	}
}

// TestTableNested checks Rows and Lookup on entries that nest, with a
// decoder standing in for the unwind codes: each entry has a 2-byte
// prolog row and a body row whose CFA offset names the entry, and one
// entry cannot be decoded.
func TestTableNested(t *testing.T) {
	funcs := []RuntimeFunction{
		{Begin: 0x100, End: 0x200, UnwindData: 1}, // outer
		{Begin: 0x150, End: 0x160, UnwindData: 2}, // nested in outer
		{Begin: 0x180, End: 0x190, UnwindData: 3}, // nested, undecodable
		{Begin: 0x300, End: 0x310, UnwindData: 4}, // alone
	}
	ut := newUnwindTable(MachineAMD64, funcs)
	decode := func(rf RuntimeFunction, rows []unwind.Row) ([]unwind.Row, error) {
		if rf.UnwindData == 3 {
			return rows, errors.New("bad unwind info")
		}
		e := entryRange(rf)
		cfa := func(k int64) unwind.Rule { return unwind.Rule{Kind: unwind.RuleRegOffset, Reg: 7, Offset: k} }
		return append(rows,
			unwind.Row{Start: e.Start, End: e.Start + 2, Entry: e, RA: 16, CFA: cfa(8)},
			unwind.Row{Start: e.Start + 2, End: e.End, Entry: e, RA: 16, CFA: cfa(int64(rf.UnwindData) * 16)}), nil
	}
	tb := &Table{ut: ut, arch: unwind.ArchAMD64, rows: decode}
	type piece struct {
		start, end uint64
		cfa        int64
	}
	var got []piece
	errs := 0
	for r, err := range tb.Rows() {
		if err != nil {
			errs++
			if r.Entry != (unwind.Range{Start: 0x180, End: 0x190}) {
				t.Errorf("error names entry %+v", r.Entry)
			}
			continue
		}
		got = append(got, piece{r.Start, r.End, r.CFA.Offset})
	}
	want := []piece{
		{0x100, 0x102, 8}, {0x102, 0x150, 16}, {0x150, 0x152, 8}, {0x152, 0x160, 32}, {0x160, 0x200, 16},
		{0x300, 0x302, 8}, {0x302, 0x310, 64},
	}
	if errs != 1 || !slices.Equal(got, want) {
		t.Fatalf("rows %x (%d errors), want %x", got, errs, want)
	}
	for _, tc := range []struct {
		addr   uint64
		cfa    int64 // 0: no row
		hasErr bool
	}{
		{0xff, 0, false}, {0x100, 8, false}, {0x151, 8, false}, {0x15f, 32, false}, {0x160, 16, false},
		{0x185, 16, false}, {0x1ff, 16, false}, {0x200, 0, false}, {0x301, 8, false}, {0x30f, 64, false},
	} {
		r, ok, err := tb.Lookup(tc.addr)
		if (err != nil) != tc.hasErr || ok != (tc.cfa != 0) || ok && r.CFA.Offset != tc.cfa {
			t.Errorf("%#x: %+v %v %v, want CFA offset %d", tc.addr, r.CFA, ok, err, tc.cfa)
		}
	}
}

// TestTableLookupDecodesGroupOnce checks that lookups in a group of
// overlapping entries decode the group once, not once a lookup: a corrupt
// image whose entries all overlap made every lookup decode the whole
// exception table, and the fuzz target's lookups allocated 73 MB for an
// image of 176 KB. The rows Lookup returns stay the caller's.
func TestTableLookupDecodesGroupOnce(t *testing.T) {
	const inner = 1000
	funcs := []RuntimeFunction{{Begin: 0x1000, End: 0x1000 + 0x10*(inner+1), UnwindData: 1}}
	for k := 1; k <= inner; k++ {
		b := uint32(0x1000 + 0x10*k)
		funcs = append(funcs, RuntimeFunction{Begin: b, End: b + 8, UnwindData: uint32(k + 1)})
	}
	ut := newUnwindTable(MachineAMD64, funcs)
	var decoded atomic.Int64
	decode := func(rf RuntimeFunction, rows []unwind.Row) ([]unwind.Row, error) {
		decoded.Add(1)
		e := entryRange(rf)
		return append(rows, unwind.Row{Start: e.Start, End: e.End, Entry: e, RA: 16,
			CFA:  unwind.Rule{Kind: unwind.RuleRegOffset, Reg: 7, Offset: int64(rf.UnwindData) * 8},
			Regs: []unwind.RegRule{{Reg: 3, Rule: unwind.Rule{Kind: unwind.RuleOffset, Offset: -16}}}}), nil
	}
	tb := &Table{ut: ut, arch: unwind.ArchAMD64, rows: decode}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for k := 1; k <= inner; k++ {
				addr := uint64(funcs[k].Begin)
				r, ok, err := tb.Lookup(addr)
				if !ok || err != nil || r.CFA.Offset != int64(k+1)*8 || len(r.Regs) != 1 {
					t.Errorf("%#x: %+v %v %v", addr, r, ok, err)
					return
				}
				r.Regs[0].Reg = 99
				if r, _, _ := tb.Lookup(uint64(funcs[k].End)); r.CFA.Offset != 8 {
					t.Errorf("%#x: CFA offset %d, want the outer entry's 8", funcs[k].End, r.CFA.Offset)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := decoded.Load(); n != inner+1 {
		t.Errorf("%d entries decoded for 4×%d lookups in a group of %d entries", n, 2*inner, inner+1)
	}
	if r, _, _ := tb.Lookup(uint64(funcs[1].Begin)); r.Regs[0].Reg != 3 {
		t.Errorf("a caller's change to a row's registers reached the table: register %d", r.Regs[0].Reg)
	}
}

// TestUnwindTableLookupInnermost compares UnwindTable.Lookup, on random
// tables of overlapping, nested and empty entries, with its definition:
// of the entries covering the address, the one starting last, and of
// those starting together the later in the table. It also checks that
// the groups of overlapping entries that Table resolves together are
// what they say.
func TestUnwindTableLookupInnermost(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		funcs := make([]RuntimeFunction, 1+r.IntN(10))
		for k := range funcs {
			b := uint32(r.IntN(64))
			funcs[k] = RuntimeFunction{Begin: b, End: b + uint32(r.IntN(24)) - 2, UnwindData: uint32(k)}
		}
		ut := newUnwindTable(MachineAMD64, funcs)
		for rva := uint32(0); rva < 100; rva++ {
			var want RuntimeFunction
			found := false
			for _, rf := range ut.funcs {
				if rf.Begin <= rva && rva < rf.End {
					want, found = rf, true
				}
			}
			if got, ok := ut.Lookup(rva); ok != found || got != want {
				t.Fatalf("%+v: Lookup(%d) = %+v %v, want %+v %v", ut.funcs, rva, got, ok, want, found)
			}
		}
		for i := range ut.funcs {
			first, end := ut.group(i)
			reach := ut.funcs[first].End
			for k := first + 1; k < end; k++ {
				if ut.funcs[k].Begin >= reach {
					t.Fatalf("%+v: group %d–%d of %d breaks at %d", ut.funcs, first, end, i, k)
				}
				reach = max(reach, ut.funcs[k].End)
			}
			if first > i || i >= end || end < len(ut.funcs) && ut.funcs[end].Begin < reach {
				t.Fatalf("%+v: group %d–%d of %d", ut.funcs, first, end, i)
			}
		}
	}
}
