package dwarf

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortRows pins sortRows on the sequence shapes line programs produce:
// rows collapse to the last one at an address, sequences are ordered by
// start, overlapping ones are dropped, and a sequence whose addresses go
// backwards is sorted with its end row kept last.
func TestSortRows(t *testing.T) {
	end := func(addr uint64) lineRow { return lineRow{Address: addr, File: noFile} }
	row := func(addr uint64, line uint32) lineRow { return lineRow{Address: addr, File: 1, Line: line} }
	tests := []struct {
		name string
		rows []lineRow
		seqs []seqSpan
		want []lineRow
	}{
		{
			name: "in order, in place",
			rows: []lineRow{row(0x10, 1), row(0x14, 2), end(0x20), row(0x20, 3), end(0x30)},
			seqs: []seqSpan{{0, 3, true}, {3, 5, true}},
			want: []lineRow{row(0x10, 1), row(0x14, 2), row(0x20, 3), end(0x30)},
		},
		{
			name: "end row at the last row's address",
			rows: []lineRow{row(0x10, 1), row(0x18, 2), end(0x18)},
			seqs: []seqSpan{{0, 3, true}},
			want: []lineRow{row(0x10, 1), end(0x18)},
		},
		{
			name: "sequences out of order",
			rows: []lineRow{row(0x40, 4), end(0x50), row(0x10, 1), end(0x20)},
			seqs: []seqSpan{{0, 2, true}, {2, 4, true}},
			want: []lineRow{row(0x10, 1), end(0x20), row(0x40, 4), end(0x50)},
		},
		{
			name: "overlapping sequence dropped",
			rows: []lineRow{row(0x10, 1), end(0x30), row(0x20, 2), end(0x40)},
			seqs: []seqSpan{{0, 2, true}, {2, 4, true}},
			want: []lineRow{row(0x10, 1), end(0x30)},
		},
		{
			name: "empty and one-row sequences dropped",
			rows: []lineRow{row(0x10, 1), end(0x10), end(0x18), row(0x20, 2), end(0x28)},
			seqs: []seqSpan{{0, 2, true}, {2, 3, true}, {3, 5, true}},
			want: []lineRow{row(0x20, 2), end(0x28)},
		},
		{
			name: "unsorted sequence",
			rows: []lineRow{row(0x10, 1), row(0x30, 3), row(0x20, 2), row(0x30, 4), end(0x28)},
			seqs: []seqSpan{{0, 5, false}},
			want: []lineRow{row(0x10, 1), row(0x20, 2), {Address: 0x30, File: noFile}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sortRows(slices.Clone(tt.rows), slices.Clone(tt.seqs))
			if !slices.Equal(got, tt.want) {
				t.Errorf("sortRows = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSearchRowsNear checks that searchRowsNear answers what searchRows
// does from any guess, on tables with repeated addresses and gaps, for
// addresses before, inside and after them.
func TestSearchRowsNear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 2000 {
		rows := make([]lineRow, rng.IntN(40))
		a := uint64(rng.IntN(5))
		for i := range rows {
			a += uint64(rng.IntN(3)) * uint64(1+rng.IntN(50))
			rows[i].Address = a
		}
		for range 20 {
			addr := uint64(rng.IntN(int(a) + 10))
			if rng.IntN(10) == 0 {
				addr = ^uint64(0)
			}
			want := searchRows(rows, addr)
			for near := -3; near <= len(rows)+3; near++ {
				if got := searchRowsNear(rows, addr, near); got != want {
					t.Fatalf("case %d: %d rows, address %#x from %d: %d, want %d", iter, len(rows), addr, near, got, want)
				}
			}
		}
	}
}
