package cfi

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// asm builds call frame sections by hand.
type asm struct{ b []byte }

func (a *asm) u8(v ...byte)  { a.b = append(a.b, v...) }
func (a *asm) u16(v uint16)  { a.b = binary.LittleEndian.AppendUint16(a.b, v) }
func (a *asm) u32(v uint32)  { a.b = binary.LittleEndian.AppendUint32(a.b, v) }
func (a *asm) u64(v uint64)  { a.b = binary.LittleEndian.AppendUint64(a.b, v) }
func (a *asm) str(s string)  { a.b = append(append(a.b, s...), 0) }
func (a *asm) uleb(v uint64) { a.b = binary.AppendUvarint(a.b, v) }
func (a *asm) sleb(v int64) {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			a.b = append(a.b, c)
			return
		}
		a.b = append(a.b, c|0x80)
	}
}

// entry appends a 32-bit-length entry whose body body writes; it returns
// the entry's offset.
func (a *asm) entry(body func()) int {
	off := len(a.b)
	a.u32(0)
	body()
	for (len(a.b)-off)%4 != 0 {
		a.u8(cfaNop)
	}
	binary.LittleEndian.PutUint32(a.b[off:], uint32(len(a.b)-off-4))
	return off
}

// rowsOf renders every row of a table, one per line.
func rowsOf(t *testing.T, tb unwind.Table) string {
	t.Helper()
	var lines []string
	for row, err := range tb.Rows() {
		if err != nil {
			lines = append(lines, "error: "+err.Error())
			continue
		}
		lines = append(lines, rowLine(tb.Arch(), &row))
	}
	return strings.Join(lines, "\n")
}

func rowLine(arch unwind.Arch, r *unwind.Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%x-%x cfa=%s", r.Start, r.End, r.CFA.Format(arch))
	for _, rr := range r.Regs {
		fmt.Fprintf(&b, " %s=%s", arch.RegName(rr.Reg), rr.Rule.Format(arch))
	}
	if r.Flags&unwind.FlagRASigned != 0 {
		b.WriteString(" signed")
	}
	if r.Flags&unwind.FlagSignalFrame != 0 {
		b.WriteString(" signal")
	}
	return b.String()
}

// TestEHFrameAugmentations decodes an .eh_frame with a "zPLRS" CIE using
// pc-relative, data-relative, aligned and indirect pointers, an "eh" CIE,
// and every register rule.
func TestEHFrameAugmentations(t *testing.T) {
	const secAddr = 0x10000
	var a asm
	cie := a.entry(func() {
		a.u32(0) // CIE id
		a.u8(1)
		a.str("zPLRS")
		a.uleb(1)
		a.sleb(-8)
		a.u8(16) // RA: rip
		// Augmentation data: P (indirect datarel sdata4), L (pcrel sdata4), R (pcrel sdata4).
		a.uleb(7)
		a.u8(peIndirect|peDataRel|peSData4, 0, 0, 0, 0)
		a.u8(pePCRel | peSData4)
		a.u8(pePCRel | peSData4)
		a.u8(cfaDefCFA, 7, 8, cfaOffset|16, 1)
	})
	fde := a.entry(func() {
		a.u32(uint32(len(a.b) - cie))
		// pc_begin pc-relative: the function is at 0x1000.
		a.u32(uint32(int32(0x1000 - (secAddr + len(a.b)))))
		a.u32(0x40)
		a.uleb(4)
		a.u32(uint32(int32(0x3000 - (secAddr + len(a.b))))) // LSDA
		a.u8(cfaAdvanceLoc|1, cfaDefCFAOffset, 16, cfaOffset|6, 2)
		a.u8(cfaAdvanceLoc|3, cfaDefCFARegister, 6)
		a.u8(cfaRememberState)
		a.u8(cfaAdvanceLoc1, 0x20, cfaDefCFA, 7, 8, cfaRestore|6)
		a.u8(cfaUndefined, 3, cfaSameValue, 12, cfaRegister, 13, 14)
		a.u8(cfaValOffset, 15, 2, cfaOffsetExtendedSF, 14, 0x7d) // r14 at cfa+24
		a.u8(cfaGNUArgsSize, 16, cfaGNUNegOffsetExtnd, 5, 2)
		a.u8(cfaAdvanceLoc2)
		a.u16(4)
		a.u8(cfaRestoreState)
		a.u8(cfaAdvanceLoc4)
		a.u32(4)
		a.u8(cfaExpression, 3, 2, 0x77, 0x08) // rbx at [rsp+8]
		a.u8(cfaValExpression, 12, 1, 0x30)
		a.u8(cfaDefCFAExpression, 2, 0x77, 0x10)
	})
	ehCIE := a.entry(func() {
		a.u32(0)
		a.u8(1)
		a.str("eh")
		a.u64(0x1234) // the old exception table pointer
		a.uleb(1)
		a.sleb(-8)
		a.u8(16)
		a.u8(cfaDefCFASF, 7, 0x7f) // cfa = rsp + (-1 * -8)
	})
	a.entry(func() {
		a.u32(uint32(len(a.b) - ehCIE))
		a.u64(0x2000)
		a.u64(0x10)
		a.u8(cfaDefCFAOffsetSF, 0x7e, cfaValOffsetSF, 3, 0x7f)
	})
	a.u32(0) // terminator
	a.u32(0xdeadbeef)
	tb, err := New(Section{Kind: EHFrame, Data: a.b, Addr: secAddr}, Options{Arch: unwind.ArchAMD64, DataAddr: 0x5000})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Err(); err != nil {
		t.Fatal(err)
	}
	want := `1000-1001 cfa=rsp+8 rip=[cfa-8] signal
1001-1004 cfa=rsp+16 rbp=[cfa-16] rip=[cfa-8] signal
1004-1024 cfa=rbp+16 rbp=[cfa-16] rip=[cfa-8] signal
1024-1028 cfa=rsp+8 rbx=undefined rdi=[cfa+16] r12=same r13=r14 r14=[cfa+24] r15=cfa-16 rip=[cfa-8] signal
1028-102c cfa=rbp+16 rbp=[cfa-16] rip=[cfa-8] signal
102c-1040 cfa=expr 7710 rbx=[expr 7708] rbp=[cfa-16] r12=expr 30 rip=[cfa-8] signal
2000-2010 cfa=rsp+16 rbx=cfa+8`
	if got := rowsOf(t, tb); got != want {
		t.Errorf("rows\n%s\nwant\n%s", got, want)
	}
	var fdes []*FDE
	for f, err := range tb.FDEs() {
		if err != nil {
			t.Fatal(err)
		}
		fdes = append(fdes, f)
	}
	c := fdes[0].CIE
	if fdes[0].Offset != uint64(fde) || fdes[0].LSDA != 0x3000 || !c.PersonalityIndirect || c.Personality != 0x5000 || !c.Signal || c.Augmentation != "zPLRS" {
		t.Errorf("FDE %+v CIE %+v", fdes[0], c)
	}
	row, ok, err := tb.Lookup(0x1025)
	if err != nil || !ok || rowLine(unwind.ArchAMD64, &row) != strings.Split(want, "\n")[3] {
		t.Errorf("Lookup(0x1025) = %s, %v, %v", rowLine(unwind.ArchAMD64, &row), ok, err)
	}
	if _, ok, _ := tb.Lookup(0x1040); ok {
		t.Error("Lookup past the FDE found a row")
	}
}

// TestDebugFrameVersions decodes .debug_frame CIEs of versions 1, 3 and 4
// (with its address and segment selector sizes) in 32- and 64-bit DWARF.
func TestDebugFrameVersions(t *testing.T) {
	var a asm
	v1 := a.entry(func() {
		a.u32(0xffffffff)
		a.u8(1)
		a.str("")
		a.uleb(4)
		a.sleb(-4)
		a.u8(14) // lr
		a.u8(cfaDefCFA, 13, 0)
	})
	a.entry(func() {
		a.u32(uint32(v1))
		a.u32(0x8000) // 32-bit addresses
		a.u32(0x10)
		a.u8(cfaAdvanceLoc|1, cfaDefCFAOffset, 8, cfaOffset|14, 1, cfaOffset|11, 2)
	})
	v4 := a.entry(func() {
		a.u32(0xffffffff)
		a.u8(4)
		a.str("")
		a.u8(8, 2) // address size 8, segment selector size 2
		a.uleb(4)
		a.sleb(-8)
		a.uleb(30)
		a.u8(cfaDefCFA, 31, 0)
	})
	a.entry(func() {
		a.u32(uint32(v4))
		a.u16(0) // segment selector
		a.u64(0x9000)
		a.u64(0x20)
		a.u8(cfaAdvanceLoc|1, cfaGNUWindowSave, cfaDefCFAOffset, 16, cfaOffset|29, 2, cfaOffset|30, 1)
		a.u8(cfaAdvanceLoc|5, cfaGNUWindowSave)
	})
	// A 64-bit DWARF version 3 CIE and FDE.
	off := len(a.b)
	a.u32(0xffffffff)
	body := len(a.b)
	a.u64(0)
	a.u64(^uint64(0))
	a.u8(3)
	a.str("")
	a.uleb(1)
	a.sleb(-8)
	a.uleb(16)
	a.u8(cfaDefCFA, 7, 8)
	binary.LittleEndian.PutUint64(a.b[body:], uint64(len(a.b)-body-8))
	fdeAt := len(a.b)
	a.u32(0xffffffff)
	body = len(a.b)
	a.u64(0)
	a.u64(uint64(off))
	a.u64(0xa000)
	a.u64(4)
	a.u8(cfaSetLoc)
	a.u64(0xa002)
	a.u8(cfaOffset|6, 2)
	binary.LittleEndian.PutUint64(a.b[body:], uint64(len(a.b)-body-8))
	_ = fdeAt
	for _, tc := range []struct {
		arch unwind.Arch
		size int
		want string
	}{
		{unwind.ArchARM, 4, "8000-8004 cfa=sp+0\n8004-8010 cfa=sp+8 r11=[cfa-8] lr=[cfa-4]"},
		{unwind.ArchARM64, 8, "9000-9004 cfa=sp+0\n9004-9018 cfa=sp+16 x29=[cfa-16] x30=[cfa-8] signed\n9018-9020 cfa=sp+16 x29=[cfa-16] x30=[cfa-8]"},
		{unwind.ArchAMD64, 8, "a000-a002 cfa=rsp+8\na002-a004 cfa=rsp+8 rbp=[cfa-16]"},
	} {
		tb, err := New(Section{Kind: DebugFrame, Data: a.b}, Options{Arch: tc.arch, AddressSize: tc.size})
		if err != nil {
			t.Fatal(err)
		}
		// Every FDE decodes for every table; only this architecture's
		// rows are compared.
		var got []string
		for _, l := range strings.Split(rowsOf(t, tb), "\n") {
			for _, w := range strings.Split(tc.want, "\n") {
				if strings.Fields(l)[0] == strings.Fields(w)[0] {
					got = append(got, l)
				}
			}
		}
		if strings.Join(got, "\n") != tc.want {
			t.Errorf("%s: rows\n%s\nwant\n%s\n(all: %s)", tc.arch, strings.Join(got, "\n"), tc.want, rowsOf(t, tb))
		}
	}
}

// TestEHFrameHdr looks FDEs up through the .eh_frame_hdr search table.
func TestEHFrameHdr(t *testing.T) {
	const secAddr, hdrAddr = 0x20000, 0x1f000
	var a asm
	cie := a.entry(func() {
		a.u32(0)
		a.u8(1)
		a.str("zR")
		a.uleb(1)
		a.sleb(-8)
		a.u8(16)
		a.uleb(1)
		a.u8(peUData4)
		a.u8(cfaDefCFA, 7, 8, cfaOffset|16, 1)
	})
	var fdes []int
	for i := range 3 {
		fdes = append(fdes, a.entry(func() {
			a.u32(uint32(len(a.b) - cie))
			a.u32(uint32(0x1000 * (i + 1)))
			a.u32(0x100)
			a.uleb(0)
			a.u8(cfaAdvanceLoc|byte(i+1), cfaDefCFAOffset, 16)
		}))
	}
	var h asm
	h.u8(1, pePCRel|peSData4, peUData4, peDataRel|peSData4)
	h.u32(uint32(int32(secAddr - (hdrAddr + 4))))
	h.u32(3)
	for i, off := range fdes {
		h.u32(uint32(int32(0x1000*(i+1) - hdrAddr)))
		h.u32(uint32(int32(secAddr + off - hdrAddr)))
	}
	tb, err := New(Section{Kind: EHFrame, Data: a.b, Addr: secAddr}, Options{Arch: unwind.ArchAMD64, Hdr: h.b, HdrAddr: hdrAddr})
	if err != nil {
		t.Fatal(err)
	}
	if !tb.HasSearchTable() {
		t.Fatal("search table not used")
	}
	for _, tc := range []struct {
		addr uint64
		want string
		ok   bool
	}{
		{0xfff, "", false},
		{0x1000, "1000-1001 cfa=rsp+8 rip=[cfa-8]", true},
		{0x2005, "2002-2100 cfa=rsp+16 rip=[cfa-8]", true},
		{0x30ff, "3003-3100 cfa=rsp+16 rip=[cfa-8]", true},
		{0x3100, "", false},
	} {
		row, ok, err := tb.Lookup(tc.addr)
		if err != nil || ok != tc.ok || (ok && rowLine(unwind.ArchAMD64, &row) != tc.want) {
			t.Errorf("Lookup(%#x) = %q, %v, %v; want %q", tc.addr, rowLine(unwind.ArchAMD64, &row), ok, err, tc.want)
		}
	}
	// The index without the header agrees.
	plain, _ := New(Section{Kind: EHFrame, Data: a.b, Addr: secAddr}, Options{Arch: unwind.ArchAMD64})
	for addr := uint64(0xf00); addr < 0x3200; addr += 0x11 {
		r1, ok1, _ := tb.Lookup(addr)
		r2, ok2, _ := plain.Lookup(addr)
		if ok1 != ok2 || rowLine(unwind.ArchAMD64, &r1) != rowLine(unwind.ArchAMD64, &r2) {
			t.Errorf("%#x: header %v %s, index %v %s", addr, ok1, rowLine(unwind.ArchAMD64, &r1), ok2, rowLine(unwind.ArchAMD64, &r2))
		}
	}
}

// TestMalformed feeds truncated and corrupted sections: errors, never
// panics, and well-formed FDEs around a bad one still decode.
func TestMalformed(t *testing.T) {
	var a asm
	cie := a.entry(func() {
		a.u32(0)
		a.u8(1)
		a.str("zR")
		a.uleb(1)
		a.sleb(-8)
		a.u8(16)
		a.uleb(1)
		a.u8(peUData4)
		a.u8(cfaDefCFA, 7, 8)
	})
	for i, prog := range [][]byte{
		{cfaAdvanceLoc | 1, cfaRestoreState},           // restore without remember
		{0x3f},                                         // unknown opcode
		{cfaAdvanceLoc | 1, cfaGNUWindowSave},          // arm64-only on amd64
		{cfaAdvanceLoc | 2, cfaDefCFAOffset, 16},       // fine
		{cfaOffsetExtended, 0xff, 0xff, 0xff, 0x7f, 1}, // register too large
	} {
		a.entry(func() {
			a.u32(uint32(len(a.b) - cie))
			a.u32(uint32(0x1000 * (i + 1)))
			a.u32(0x10)
			a.uleb(0)
			a.u8(prog...)
		})
	}
	tb, _ := New(Section{Kind: EHFrame, Data: a.b}, Options{Arch: unwind.ArchAMD64})
	got := rowsOf(t, tb)
	if strings.Count(got, "error:") != 4 || !strings.Contains(got, "4002-4010 cfa=rsp+16") {
		t.Errorf("rows\n%s", got)
	}
	for n := range a.b {
		for _, kind := range []Kind{EHFrame, DebugFrame} {
			tb, _ := New(Section{Kind: kind, Data: a.b[:n]}, Options{Arch: unwind.ArchARM64})
			for range tb.Rows() {
			}
			tb.Lookup(0x1000)
		}
	}
	// remember_state is bounded.
	var deep asm
	c2 := deep.entry(func() {
		deep.u32(0)
		deep.u8(1)
		deep.str("")
		deep.uleb(1)
		deep.sleb(-8)
		deep.u8(16)
	})
	deep.entry(func() {
		deep.u32(uint32(len(deep.b) - c2))
		deep.u64(0x1000)
		deep.u64(0x10)
		for range 1000 {
			deep.u8(cfaRememberState)
		}
	})
	tb, _ = New(Section{Kind: EHFrame, Data: deep.b}, Options{Arch: unwind.ArchAMD64})
	if got := rowsOf(t, tb); !strings.Contains(got, "nested too deeply") {
		t.Errorf("deep remember_state: %s", got)
	}
}

func FuzzCFI(f *testing.F) {
	var a asm
	cie := a.entry(func() {
		a.u32(0)
		a.u8(1)
		a.str("zPLR")
		a.uleb(1)
		a.sleb(-8)
		a.u8(16)
		a.uleb(7)
		a.u8(peIndirect|pePCRel|peSData4, 0, 0, 0, 0, pePCRel|peSData4, pePCRel|peSData4)
		a.u8(cfaDefCFA, 7, 8, cfaOffset|16, 1)
	})
	a.entry(func() {
		a.u32(uint32(len(a.b) - cie))
		a.u32(0x100)
		a.u32(0x40)
		a.uleb(4)
		a.u32(0)
		a.u8(cfaAdvanceLoc|1, cfaDefCFAOffset, 16, cfaOffset|6, 2, cfaRememberState, cfaAdvanceLoc|3, cfaDefCFAExpression, 1, 0x30, cfaRestoreState)
	})
	f.Add(a.b, uint8(0))
	f.Add(a.b, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		kind := EHFrame
		if mode&1 != 0 {
			kind = DebugFrame
		}
		arch := []unwind.Arch{unwind.ArchAMD64, unwind.ArchX86, unwind.ArchARM64, unwind.ArchARM}[mode>>1&3]
		opts := Options{Arch: arch}
		if mode&8 != 0 && len(data) > 16 {
			opts.Hdr = data[:16]
		}
		tb, err := New(Section{Kind: kind, Data: data, Addr: 0x1000}, opts)
		if err != nil {
			return
		}
		n := 0
		for row, err := range tb.Rows() {
			if err == nil && row.End <= row.Start {
				t.Fatalf("empty row %+v", row)
			}
			if n++; n > 4*len(data)+16 {
				t.Fatalf("%d rows from %d bytes", n, len(data))
			}
		}
		tb.Lookup(0x100)
		tb.Lookup(0x1100)
	})
}
