package pe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
)

// memReader is a memory-backed input, so that tests and the fuzzer also
// drive the slicing path taken for mapped files.
type memReader struct{ b []byte }

func (m memReader) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(m.b).ReadAt(p, off)
}

func (m memReader) Bytes() []byte { return m.b }

// patchedFixture returns a copy of a fixture's image with its CodeView
// record and debug directory entry rewritten by patch.
func patchedFixture(t *testing.T, name string, patch func(data []byte, e DebugDirectoryEntry, entryOff int)) *Object {
	t.Helper()
	path := fixtures.Get(t, name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	o := openFixture(t, name)
	cv, ok := o.CodeView()
	if !ok {
		t.Fatal("fixture has no CodeView record")
	}
	d := dataDirectory(o.f, dirDebug)
	off, _, err := o.rvaOffset(d.VirtualAddress)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(o.DebugDirectory(), cv.Entry)
	patch(data, cv.Entry, int(off)+i*debugEntrySize)
	p, err := NewObject(memReader{data}, int64(len(data)), "patched.exe")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNB10 rewrites the RSDS record of a fixture as a PDB 2.0 (NB10)
// record, which no toolchain here writes.
func TestNB10(t *testing.T) {
	o := patchedFixture(t, "pe-x86_64-clang-O2", func(data []byte, e DebugDirectoryEntry, _ int) {
		rec := data[e.PointerToRawData:]
		copy(rec, "NB10")
		binary.LittleEndian.PutUint32(rec[4:], 0)
		binary.LittleEndian.PutUint32(rec[8:], 0x3a5c9e21)
		binary.LittleEndian.PutUint32(rec[12:], 7)
		copy(rec[16:], "C:\\build\\old.pdb\x00")
	})
	cv, ok := o.CodeView()
	if !ok || cv.Format != "NB10" || cv.Signature != 0x3a5c9e21 || cv.Age != 7 || cv.Path != `C:\build\old.pdb` {
		t.Fatalf("CodeView %+v, %v", cv, ok)
	}
	if got, want := o.DebugID().String(), "3a5c9e21-0000-0000-0000-000000000000-7"; got != want {
		t.Errorf("debug id %s, want %s", got, want)
	}
	if o.DebugFile() != `C:\build\old.pdb` {
		t.Errorf("DebugFile %q", o.DebugFile())
	}
}

// TestPortablePDBAge marks the CodeView entry as a Portable PDB's: Sentry
// then takes the entry's time stamp as the age.
func TestPortablePDBAge(t *testing.T) {
	o := patchedFixture(t, "pe-x86_64-clang-O2", func(data []byte, e DebugDirectoryEntry, entryOff int) {
		binary.LittleEndian.PutUint32(data[entryOff+4:], 0x1234)
		binary.LittleEndian.PutUint16(data[entryOff+10:], ppdbMinorVersion)
	})
	if o.DebugID().Age != 0x1234 {
		t.Errorf("debug id %s: age is not the entry's time stamp", o.DebugID())
	}
}

// TestNoCodeView: an image whose CodeView record is unreadable has the nil
// debug id and no PDB name.
func TestNoCodeView(t *testing.T) {
	o := patchedFixture(t, "pe-x86_64-clang-O2", func(data []byte, e DebugDirectoryEntry, _ int) {
		copy(data[e.PointerToRawData:], "XXXX")
	})
	if _, ok := o.CodeView(); ok || !o.DebugID().IsZero() || o.DebugFile() != "" {
		t.Errorf("debug id %s, file %q", o.DebugID(), o.DebugFile())
	}
}

func TestX64CodesVersion2(t *testing.T) {
	slots := func(s ...uint16) []byte {
		var b []byte
		for _, v := range s {
			b = binary.LittleEndian.AppendUint16(b, v)
		}
		return b
	}
	code := func(off uint8, op X64UnwindOp, info uint8) uint16 {
		return uint16(off) | uint16(op)<<8 | uint16(info)<<12
	}
	// Two version 2 EPILOG codes with their second slots, a SPARE code
	// and the prolog's codes.
	raw := slots(
		code(5, UWOPEpilog, 1), 0x0105,
		code(0x23, UWOPEpilog, 1), 0x0123,
		code(0, UWOPSpareCode, 0), 0, 0,
		code(8, UWOPAllocLarge, 1), 0x0000, 0x0002,
		code(4, UWOPSaveXMM128, 15), 3,
		code(1, UWOPPushNonvol, 3),
	)
	codes, err := decodeX64Codes(raw, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []X64UnwindCode{
		{PrologOffset: 5, Op: UWOPEpilog, Info: 1, Value: 0x105, Slots: 2},
		{PrologOffset: 0x23, Op: UWOPEpilog, Info: 1, Value: 0x123, Slots: 2},
		{PrologOffset: 0, Op: UWOPSpareCode, Slots: 3},
		{PrologOffset: 8, Op: UWOPAllocLarge, Info: 1, Value: 0x20000, Slots: 3},
		{PrologOffset: 4, Op: UWOPSaveXMM128, Info: 15, Value: 48, Slots: 2},
		{PrologOffset: 1, Op: UWOPPushNonvol, Info: 3, Slots: 1},
	}
	if !slices.Equal(codes, want) {
		t.Errorf("codes\n  %+v\nwant\n  %+v", codes, want)
	}
	for _, bad := range [][]byte{
		slots(code(0, UWOPAllocLarge, 2), 0),    // no such ALLOC_LARGE form
		slots(code(0, UWOPSaveNonvolFar, 3), 0), // a slot short
		slots(code(0, 11, 0)),                   // no operation 11
	} {
		if _, err := decodeX64Codes(bad, 1, 0); err == nil {
			t.Errorf("%x decoded without error", bad)
		}
	}
}

func TestARM64Packed(t *testing.T) {
	pack := func(flag, length, regF, regI, h, cr, frame uint32) uint32 {
		return flag | length/4<<2 | regF<<13 | regI<<16 | h<<20 | cr<<21 | frame/16<<23
	}
	type op = ARM64UnwindOp
	tests := []struct {
		name string
		w    uint32
		want []op
	}{
		{"chained, small locals", pack(1, 64, 0, 2, 0, 3, 64), []op{
			{Op: ARM64SetFP, Reg: 29}, {Op: ARM64SaveFPLRX, Reg: 29, Offset: 48}, {Op: ARM64SaveRegPX, Reg: 19, Offset: 16}, {Op: ARM64End}}},
		{"chained with pac", pack(1, 64, 0, 2, 0, 2, 64), []op{
			{Op: ARM64SetFP, Reg: 29}, {Op: ARM64SaveFPLRX, Reg: 29, Offset: 48}, {Op: ARM64SaveRegPX, Reg: 19, Offset: 16},
			{Op: ARM64PACSignLR}, {Op: ARM64End}}},
		{"chained, large locals", pack(1, 64, 0, 0, 0, 3, 1024), []op{
			{Op: ARM64SetFP, Reg: 29}, {Op: ARM64SaveFPLR, Reg: 29}, {Op: ARM64AllocM, Size: 1024}, {Op: ARM64End}}},
		{"homed parameters only", pack(1, 40, 0, 0, 1, 0, 80), []op{
			{Op: ARM64AllocS, Size: 16}, {Op: ARM64SaveRegP, Reg: 6, Offset: 48}, {Op: ARM64SaveRegP, Reg: 4, Offset: 32},
			{Op: ARM64SaveRegP, Reg: 2, Offset: 16}, {Op: ARM64SaveRegPX, Reg: 0, Offset: 64}, {Op: ARM64End}}},
		{"fp pair first", pack(1, 32, 1, 0, 0, 0, 16), []op{{Op: ARM64SaveFRegPX, Reg: 8, Offset: 16}, {Op: ARM64End}}},
		{"three fp, two int, lr", pack(1, 32, 2, 2, 0, 1, 48), []op{
			{Op: ARM64SaveFReg, Reg: 10, Offset: 40}, {Op: ARM64SaveFRegP, Reg: 8, Offset: 24}, {Op: ARM64SaveReg, Reg: 30, Offset: 16},
			{Op: ARM64SaveRegPX, Reg: 19, Offset: 48}, {Op: ARM64End}}},
		{"odd int count", pack(1, 32, 0, 3, 0, 0, 32), []op{
			{Op: ARM64SaveReg, Reg: 21, Offset: 16}, {Op: ARM64SaveRegPX, Reg: 19, Offset: 32}, {Op: ARM64End}}},
		{"frame beyond 4080", pack(1, 32, 0, 0, 0, 0, 8176), []op{
			{Op: ARM64AllocM, Size: 4096}, {Op: ARM64AllocM, Size: 4080}, {Op: ARM64End}}},
	}
	for _, tc := range tests {
		ui := decodeARM64Packed(tc.w)
		if !slices.Equal(ui.Prolog, tc.want) {
			t.Errorf("%s: %+v\n want %+v", tc.name, ui.Prolog, tc.want)
		}
		if ui.Flag != 1 || ui.FunctionLength != (tc.w>>2&0x7ff)*4 {
			t.Errorf("%s: flag %d, length %d", tc.name, ui.Flag, ui.FunctionLength)
		}
	}
	if ui := decodeARM64Packed(pack(2, 128, 0, 2, 0, 3, 64)); ui.Flag != ARM64FlagPackedFragment || ui.FunctionLength != 128 || ui.CR != 3 || ui.RegI != 2 {
		t.Errorf("fragment: %+v", ui)
	}
}

func TestARM64XData(t *testing.T) {
	le := func(ws ...uint32) []byte {
		var b []byte
		for _, w := range ws {
			b = binary.LittleEndian.AppendUint32(b, w)
		}
		return b
	}
	// Extended header (both counts zero in the first word), one epilog
	// scope, two code words, a handler: save_any_reg x8 at sp+16,
	// pac_sign_lr, end | end_c, nop, nop.
	raw := append(le(0x40/4|1<<20, 1|2<<16, 0x30/4|5<<22), 0xe7, 0x08, 0x02, 0xfc, 0xe4, 0xe5, 0xe3, 0xe3)
	raw = append(raw, le(0x1234, 0xfeed)...)
	ui, err := decodeARM64XData(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantProlog := []ARM64Op{ARM64SaveAnyReg, ARM64PACSignLR, ARM64End}
	var got []ARM64Op
	for _, op := range ui.Prolog {
		got = append(got, op.Op)
	}
	if !slices.Equal(got, wantProlog) || ui.Prolog[0].Reg != 8 || ui.Prolog[0].Offset != 16 || ui.Prolog[0].Len != 3 {
		t.Errorf("prolog %+v", ui.Prolog)
	}
	if ui.FunctionLength != 0x40 || !ui.X || ui.E || len(ui.Epilogs) != 1 || ui.Epilogs[0].Start != 0x30 || ui.Epilogs[0].StartIndex != 5 ||
		len(ui.Epilogs[0].Ops) != 1 || ui.Epilogs[0].Ops[0].Op != ARM64EndC {
		t.Errorf("record %+v", ui)
	}
	if ui.Handler != 0x1234 || binary.LittleEndian.Uint32(raw[ui.HandlerData:]) != 0xfeed {
		t.Errorf("handler %#x, data at %d", ui.Handler, ui.HandlerData)
	}

	// E: one epilog whose codes start at index 2; alloc_s 32, end, end.
	ui, err = decodeARM64XData(append(le(0x20/4|1<<21|2<<22|1<<27), 0x02, 0xe4, 0xe4, 0xe3), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !ui.E || ui.EpilogIndex != 2 || len(ui.Epilogs) != 0 || len(ui.Prolog) != 2 || ui.Prolog[0].Size != 32 {
		t.Errorf("E record %+v", ui)
	}

	// Truncated: three code words announced, one present; an epilog
	// index past the codes; a code running past the array.
	for _, bad := range [][]byte{
		append(le(0x20/4|3<<27), 0xe4, 0xe4, 0xe4, 0xe4),
		append(le(0x20/4|1<<22|1<<27, 9<<22), 0xe4, 0xe4, 0xe4, 0xe4),
		append(le(0x20/4|1<<27), 0xe3, 0xe3, 0xe3, 0xe0),
	} {
		if _, err := decodeARM64XData(bad, 0); err == nil {
			t.Errorf("%x decoded without error", bad)
		}
	}
}

// TestTruncated opens every prefix length of a fixture at a coarse step
// and some fine ones around the headers: each either fails with an error
// or yields an Object whose lazily read parts fail with errors.
func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(fixtures.Get(t, "pe-x86_64-clang-O2"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n += 1 + n/16 {
		b := data[:n]
		o, err := NewObject(memReader{b}, int64(n), "truncated")
		if err != nil {
			continue
		}
		exerciseObject(o)
	}
}

// TestNotPE: COFF objects and non-PE data are rejected with errors.
func TestNotPE(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("MZ"), bytes.Repeat([]byte("MZ"), 64)} {
		if _, err := NewObject(memReader{b}, int64(len(b)), "x"); err == nil {
			t.Errorf("%q opened", b)
		}
	}
	_, err := NewObject(memReader{coffObject}, int64(len(coffObject)), "obj")
	if !errors.Is(err, ErrNotImage) {
		t.Errorf("COFF object: %v, want ErrNotImage", err)
	}
}

// coffObject is a COFF object file header for x64 with no sections: valid
// COFF, but not an image.
var coffObject = func() []byte {
	b := binary.LittleEndian.AppendUint16(nil, MachineAMD64)
	// debug/pe reads 96 bytes (a DOS header's worth) before it decides
	// the file has none.
	b = append(b, make([]byte, 94)...)
	return b
}()

// exerciseObject reads every part of o, as callers would.
func exerciseObject(o *Object) {
	_ = o.Kind()
	_ = o.Arch()
	_ = o.DebugID().String()
	_ = o.CodeID()
	_ = o.Name()
	_ = o.Features()
	_, _ = o.Exports()
	for range o.Symbols() {
	}
	if s, err := o.DebugSession(); err == nil {
		n := 0
		for _, err := range s.Functions() {
			if err != nil || n > 1000 {
				break
			}
			n++
		}
		s.Close()
	}
	if tables, err := o.UnwindTables(); err == nil {
		for _, tb := range tables {
			n := 0
			for r := range tb.Rows() {
				if n++; n > 1<<14 {
					break
				}
				tb.Lookup(r.Start)
			}
		}
	}
	t, err := o.UnwindTable()
	if err != nil {
		return
	}
	for i, rf := range t.Functions() {
		if i > 4096 {
			break
		}
		t.Lookup(rf.Begin)
		switch o.Machine() {
		case MachineAMD64:
			_, _ = o.X64UnwindChain(rf)
		case MachineARM64:
			_, _ = o.ARM64UnwindInfo(rf)
		}
	}
}

// TestSymbolSession: an image whose debug information is in its PDB
// yields its exports as functions without lines, each running to the next
// one or to the end of .text.
func TestSymbolSession(t *testing.T) {
	o := openFixture(t, "pe-x86_64-clang-O2")
	s, err := o.DebugSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, textRVA, err := o.Section(".text")
	if err != nil {
		t.Fatal(err)
	}
	textEnd := o.sectionEnd(textRVA)
	var names []string
	var prevEnd uint64
	for fn, err := range s.Functions() {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, fn.Name)
		if fn.Size == 0 || len(fn.Lines) != 0 || fn.Address < prevEnd || fn.End() > textEnd {
			t.Errorf("%s: [%#x, %#x), %d lines; previous end %#x, .text end %#x", fn.Name, fn.Address, fn.End(), len(fn.Lines), prevEnd, textEnd)
		}
		prevEnd = fn.End()
	}
	if prevEnd != textEnd || len(names) != 4 {
		t.Errorf("functions %q end at %#x, .text at %#x", names, prevEnd, textEnd)
	}
}
