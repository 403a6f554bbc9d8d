package pdb

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// rowText renders a frame table row for comparison.
func rowText(r unwind.Row) string {
	w := r.Win
	return fmt.Sprintf("%d %x-%x p%d e%d par%d s%d l%d m%d %q bp=%v", w.Type, r.Start, r.End, w.PrologSize, w.EpilogSize,
		w.ParamSize, w.SavedRegisterSize, w.LocalSize, w.MaxStackSize, w.Program, w.AllocatesBasePointer)
}

// TestFrameTable pins the conversions of Breakpad's dump_syms: FPO sizes
// from dwords to bytes, the FPO frame type kept, repeats left out, the
// FrameData stream before the FPO stream at equal addresses, programs
// without trailing blanks, and the OMAP splitting of a record whose prolog
// and body moved apart.
func TestFrameTable(t *testing.T) {
	fd := []FrameData{
		{RVA: 0x1000, CodeSize: 0x20, LocalSize: 8, ParamsSize: 4, MaxStackSize: 0, Program: "$T0 .raSearch = $eip $T0 ^ = ", PrologSize: 3, SavedRegsSize: 4},
		{RVA: 0x1000, CodeSize: 0x20, LocalSize: 99, ParamsSize: 99, PrologSize: 3}, // a repeat: left out
		{RVA: 0x1001, CodeSize: 0x1f, PrologSize: 2},                                // no program
		{RVA: 0x1100, CodeSize: 0}, // empty: left out
	}
	fpo := []FPOData{
		{Start: 0x1000, Size: 0x10, Locals: 2, Params: 3, Prolog: 5, Regs: 2, UseBP: true, Frame: 0},
		{Start: 0x2000, Size: 0x10, Frame: 3},
	}
	tests := []struct {
		name string
		am   *addressMap
		want []string
	}{
		{"identity", &addressMap{}, []string{
			`4 1000-1020 p3 e0 par4 s4 l8 m0 "$T0 .raSearch = $eip $T0 ^ =" bp=false`,
			`0 1000-1010 p5 e0 par12 s8 l8 m0 "" bp=true`,
			`4 1001-1020 p2 e0 par0 s0 l0 m0 "" bp=false`,
			`3 2000-2010 p0 e0 par0 s0 l0 m0 "" bp=false`,
		}},
		{"omap", &addressMap{omap: []omapEntry{
			// The prologs at 0x1000 stay; the bodies from 0x1003 move
			// to 0x5003; 0x2000 is removed.
			{0x1000, 0x1000}, {0x1003, 0x5003}, {0x1100, 0}, {0x2000, 0}, {0x3000, 0x3000},
		}}, []string{
			`4 1000-1003 p3 e0 par4 s4 l8 m0 "$T0 .raSearch = $eip $T0 ^ =" bp=false`,
			`0 1000-1003 p3 e0 par12 s8 l8 m0 "" bp=true`,
			`4 1001-1003 p2 e0 par0 s0 l0 m0 "" bp=false`,
			`4 5003-5020 p0 e0 par4 s4 l8 m0 "$T0 .raSearch = $eip $T0 ^ =" bp=false`,
			`4 5003-5020 p0 e0 par0 s0 l0 m0 "" bp=false`,
			// The FPO record's 5-byte prolog split: each piece is a
			// record whose prolog is the piece, then the body.
			`0 5003-5005 p2 e0 par12 s8 l8 m0 "" bp=true`,
			`0 5005-5010 p0 e0 par12 s8 l8 m0 "" bp=true`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFrameTable(tc.am, fd, fpo)
			var got []string
			for r, err := range ft.Rows() {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, rowText(r))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("rows:\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestFrameTableLookup checks Lookup's choices: FrameData before FPO, the
// innermost of nested records, the first of equal ones, and no answer for
// frame types the processor never looks up.
func TestFrameTableLookup(t *testing.T) {
	fd := []FrameData{
		{RVA: 0x1000, CodeSize: 0x40, Program: "outer"},
		{RVA: 0x1010, CodeSize: 0x10, Program: "inner"},
		{RVA: 0x1010, CodeSize: 0x08, Program: "innermost"},
		{RVA: 0x1010, CodeSize: 0x08, Program: "repeat", PrologSize: 1},
	}
	fpo := []FPOData{{Start: 0x0f00, Size: 0x200, Frame: 0}, {Start: 0x3000, Size: 0x10, Frame: 1}}
	ft := newFrameTable(&addressMap{}, fd, fpo)
	for _, tc := range []struct {
		addr uint64
		want string // the program, "fpo", or "" for no row
	}{
		{0x0eff, ""}, {0x0f00, "fpo"}, {0x1000, "outer"}, {0x100f, "outer"}, {0x1010, "innermost"},
		{0x1017, "innermost"}, {0x1018, "inner"}, {0x1020, "outer"}, {0x103f, "outer"}, {0x1040, "fpo"},
		{0x10ff, "fpo"}, {0x1100, ""}, {0x3000, ""},
	} {
		r, ok, err := ft.Lookup(tc.addr)
		got := ""
		switch {
		case err != nil:
			t.Fatal(err)
		case ok && r.Win.Type == 0:
			got = "fpo"
		case ok:
			got = r.Win.Program
		}
		if got != tc.want {
			t.Errorf("%#x: %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// FuzzFrameTable feeds arbitrary records and OMAP entries to the frame
// table: sizes that wrap, prologs longer than their code, unsorted and
// overlapping records. Rows must lie inside their entries and Lookup must
// answer with a record covering the address.
func FuzzFrameTable(f *testing.F) {
	f.Add([]byte("\x00\x10\x00\x00\x20\x00\x00\x00\x03\x00\x04\x00\x01\x10\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00"), false)
	f.Add([]byte("\xf0\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x50\x00\x00"), true)
	f.Fuzz(func(t *testing.T, data []byte, withOMAP bool) {
		u32 := func(i int) uint32 {
			var v uint32
			for k := range 4 {
				if i+k < len(data) {
					v |= uint32(data[i+k]) << (8 * k)
				}
			}
			return v
		}
		var fd []FrameData
		var fpo []FPOData
		for i := 0; i+12 <= len(data) && len(fd) < 64; i += 12 {
			fd = append(fd, FrameData{RVA: u32(i), CodeSize: u32(i + 4), PrologSize: uint16(u32(i + 8)), LocalSize: u32(i + 10)})
			fpo = append(fpo, FPOData{Start: u32(i + 2), Size: u32(i + 6), Prolog: uint8(u32(i + 9)), Frame: uint8(u32(i+10)) & 3})
		}
		am := &addressMap{}
		if withOMAP {
			for i := 0; i+8 <= len(data) && len(am.omap) < 64; i += 8 {
				am.omap = append(am.omap, omapEntry{u32(i), u32(i + 4)})
			}
			slices.SortFunc(am.omap, func(a, b omapEntry) int { return int(int64(a.from) - int64(b.from)) })
		}
		ft := newFrameTable(am, fd, fpo)
		for r, err := range ft.Rows() {
			if err != nil || r.Win == nil || r.Start >= r.End || r.Entry.Start != r.Start || r.Entry.End != r.End {
				t.Fatalf("row %+v, %v", r, err)
			}
			for _, addr := range []uint64{r.Start - 1, r.Start, r.End - 1, r.End} {
				got, ok, err := ft.Lookup(addr)
				if err != nil || ok && (addr < got.Start || addr >= got.End) {
					t.Fatalf("%#x: %+v %v %v", addr, got, ok, err)
				}
				if want := innermostRecord(ft, addr); ok != (want != nil) || ok && got.Win != want.win {
					t.Fatalf("%#x: %+v %v, want %+v", addr, got, ok, want)
				}
			}
		}
	})
}

// innermostRecord is what FrameTable.Lookup answers by definition: of the
// FrameData records covering addr, else of the FPO ones, the last in the
// table's order of records, found by looking at every one.
func innermostRecord(ft *FrameTable, addr uint64) *frameRec {
	for _, i := range [...]int{1, 0} {
		for k := len(ft.recs[i]) - 1; k >= 0; k-- {
			if r := &ft.recs[i][k]; r.start <= addr && addr < r.end {
				return r
			}
		}
	}
	return nil
}
