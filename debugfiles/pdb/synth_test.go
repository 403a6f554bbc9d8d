package pdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
)

// The synthetic PDB is written field by field by the test, for the record
// kinds the linkers at hand do not produce: S_GPROC32_ID, S_LPROC32_ST,
// S_THUNK32, S_SEPCODE, S_INLINESITE2, a line subsection with columns and
// two files, DEBUG_S_INLINEELINES with extra files, a globals stream.

// rec assembles CodeView records (16-bit length, 16-bit kind, body padded
// to 4 bytes).
type rec struct{ b []byte }

func (r *rec) add(kind uint16, body []byte) int {
	off := len(r.b)
	for len(body)%4 != 2 {
		body = append(body, 0)
	}
	r.b = binary.LittleEndian.AppendUint16(r.b, uint16(2+len(body)))
	r.b = binary.LittleEndian.AppendUint16(r.b, kind)
	r.b = append(r.b, body...)
	return off
}

// le builds little-endian bodies.
type le []byte

func (b le) u8(v uint8) le   { return append(b, v) }
func (b le) u16(v uint16) le { return binary.LittleEndian.AppendUint16(b, v) }
func (b le) u32(v uint32) le { return binary.LittleEndian.AppendUint32(b, v) }
func (b le) str(s string) le { return append(append(b, s...), 0) }
func (b le) raw(p []byte) le { return append(b, p...) }
func (b le) pad4() le {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

const (
	synthText   = 0x1000
	synthModule = 7
)

// synthPDB returns the synthetic PDB.
func synthPDB(t testing.TB) []byte {
	t.Helper()
	// /names: offsets 1 and 14.
	strs := le{}.u8(0).str(`C:\src\a.cpp`).str(`C:\src\b.h`)
	names := le{}.u32(stringTableMagic).u32(1).u32(uint32(len(strs))).raw(strs).u32(0).u32(2)

	// TPI: one structure. No hash stream: the index is built by a scan.
	var tpiRecs rec
	tpiRecs.add(lfStructure, le{}.u16(0).u16(0).u32(0).u32(0).u32(0).u16(8).str("ns::Widget"))
	typeStream := func(r rec, n int) []byte {
		return le{}.u32(20040203).u32(tpiHeaderSize).u32(0x1000).u32(uint32(0x1000 + n)).u32(uint32(len(r.b))).
			u16(0xffff).u16(0xffff).u32(4).u32(0).u32(0).u32(0).u32(0).u32(0).u32(0).u32(0).raw(r.b)
	}
	tpi := typeStream(tpiRecs, 1)
	var ipiRecs rec
	ipiRecs.add(lfStringID, le{}.u32(0).str("ns"))
	ipiRecs.add(lfFuncID, le{}.u32(0x1000).u32(0).str("helper"))
	ipiRecs.add(lfMFuncID, le{}.u32(0x1000).u32(0).str("method"))
	ipi := typeStream(ipiRecs, 3)

	// Module symbols.
	var syms rec
	syms.b = le{}.u32(c13Signature)
	proc := syms.add(sGProc32ID, le{}.u32(0).u32(0).u32(0).u32(0x40).u32(0).u32(0).u32(0).u32(0).u16(1).u8(0).str("outer"))
	ann1 := prog([]uint32{baChangeCodeOffset, 0x10}, []uint32{baChangeCodeLength, 0x10})
	site1 := syms.add(sInlineSite2, le{}.u32(uint32(proc)).u32(0).u32(0x1001).u32(1).raw(ann1))
	ann2 := prog([]uint32{baChangeLineOffset, encodeSigned(3)}, []uint32{baChangeCodeOffset, 0x14}, []uint32{baChangeCodeLength, 4})
	site2 := syms.add(sInlineSite, le{}.u32(uint32(site1)).u32(0).u32(0x1002).raw(ann2))
	end2 := syms.add(sInlineSiteEnd, nil)
	end1 := syms.add(sInlineSiteEnd, nil)
	syms.add(sSepCode, le{}.u32(uint32(proc)).u32(0).u32(0x10).u32(0).u32(0x80).u32(0).u16(1).u16(1))
	endp := syms.add(sProcIDEnd, nil)
	syms.add(sThunk32, le{}.u32(0).u32(0).u32(0).u32(0x50).u16(1).u16(8).u8(0).str("thunk"))
	old := syms.add(sLProc32ST, le{}.u32(0).u32(0).u32(0).u32(0x10).u32(0).u32(0).u32(0).u32(0x60).u16(1).u8(0).u8(7).raw([]byte("oldproc")))
	endOld := syms.add(sEnd, nil)
	// Patch the End fields.
	put := func(at, v int) { binary.LittleEndian.PutUint32(syms.b[at:], uint32(v)) }
	put(proc+4+4, endp)
	put(site1+4+4, end1)
	put(site2+4+4, end2)
	put(old+4+4, endOld)

	// C13 lines.
	sub := func(kind uint32, body le) le {
		return le{}.u32(kind).u32(uint32(len(body))).raw(body).pad4()
	}
	chk := le{}.u32(1).u8(0).u8(0).pad4().u32(14).u8(0).u8(0).pad4() // a.cpp at 0, b.h at 8
	row := func(b le, off, line uint32) le { return b.u32(off).u32(line | 0x80000000) }
	outer := le{}.u32(0).u16(1).u16(lineColumnsFlag).u32(0x40)
	blockA := row(row(le{}, 0x4, 10), 0x10, 12) // the first row starts after the code
	blockA = blockA.u16(1).u16(2).u16(3).u16(4)
	outer = outer.u32(0).u32(2).u32(uint32(12 + len(blockA))).raw(blockA)
	blockB := row(le{}, 0x30, 5).u16(1).u16(1)
	outer = outer.u32(8).u32(1).u32(uint32(12 + len(blockB))).raw(blockB)
	sep := le{}.u32(0x80).u16(1).u16(0).u32(0x10).u32(0).u32(1).u32(20).raw(row(le{}, 0, 20))
	oldL := le{}.u32(0x60).u16(1).u16(0).u32(0x10).u32(0).u32(1).u32(20).raw(row(le{}, 0, 30))
	inl := le{}.u32(inlineeSourceLineEx).u32(0x1001).u32(8).u32(100).u32(1).u32(0).u32(0x1002).u32(0).u32(200).u32(0)
	c13b := le{}.raw(sub(debugSFileChksms, chk)).raw(sub(debugSLines, outer)).raw(sub(debugSLines, sep)).
		raw(sub(debugSLines, oldL)).raw(sub(debugSInlineeLines, inl)).raw(sub(debugSIgnore|debugSLines, le{1, 2, 3, 4}))
	module := append(bytes.Clone(syms.b), c13b...)

	// Symbol records: two publics and a procedure reference.
	var recs rec
	pubOuter := recs.add(sPub32, le{}.u32(pubFunction).u32(0).u16(1).str("?outer@@YAXXZ"))
	pubGap := recs.add(sPub32, le{}.u32(0).u32(0xa0).u16(1).str("gap"))
	pubData := recs.add(sPub32, le{}.u32(0).u32(0).u16(2).str("data"))
	procRef := recs.add(sProcRef, le{}.u32(0).u32(uint32(proc)).u16(1).str("outer"))
	addrMap := le{}.u32(uint32(pubOuter)).u32(uint32(pubGap)).u32(uint32(pubData))
	gsi := le{}.u32(0xffffffff).u32(0xeffe0000 + 19990810).u32(0).u32(0)
	publics := le{}.u32(uint32(len(gsi))).u32(uint32(len(addrMap))).u32(0).u32(0).u16(0).u16(0).u32(0).u32(0).raw(gsi).raw(addrMap)
	globals := le{}.u32(0xffffffff).u32(0xeffe0000 + 19990810).u32(8).u32(0).u32(uint32(procRef + 1)).u32(1)

	// Section headers: .text (code) and .data.
	secs := le{}.raw([]byte(".text\x00\x00\x00")).u32(0x100).u32(synthText).u32(0x200).u32(0x400).u32(0).u32(0).u16(0).u16(0).u32(0x60000020).
		raw([]byte(".data\x00\x00\x00")).u32(0x10).u32(0x2000).u32(0x200).u32(0x600).u32(0).u32(0).u16(0).u16(0).u32(0xc0000040)

	// DBI.
	contrib := le{}.u16(1).u16(0).u32(0).u32(0x40).u32(0x60000020).u16(0).u16(0).u32(0).u32(0)
	mods := le{}.u32(0).raw(contrib).u16(0).u16(synthModule).u32(uint32(len(syms.b))).u32(0).u32(uint32(len(c13b))).
		u16(2).u16(0).u32(0).u32(0).u32(0).str("a.obj").str("a.lib").pad4()
	sc := le{}.u32(secContribVer60).raw(contrib)
	sm := le{}.u16(0).u16(0)
	opt := le{}
	for i := range numDbgStreams {
		if i == dbgSectionHdr {
			opt = opt.u16(6)
		} else {
			opt = opt.u16(noStream)
		}
	}
	dbi := le{}.u32(0xffffffff).u32(19990903).u32(3).u16(10).u16(0x8e00).u16(9).u16(0).u16(8).u16(0).
		u32(uint32(len(mods))).u32(uint32(len(sc))).u32(uint32(len(sm))).u32(0).u32(0).u32(0).u32(uint32(len(opt))).u32(0).
		u16(0).u16(machineAMD64).u32(0).raw(mods).raw(sc).raw(sm).raw(opt)

	// PDB info with /names as stream 5.
	nameBuf := le{}.str("/names")
	info := le{}.u32(infoVersionVC70).u32(0x1234).u32(2).raw([]byte("0123456789abcdef")).
		u32(uint32(len(nameBuf))).raw(nameBuf).u32(1).u32(1).u32(1).u32(1).u32(0).u32(0).u32(5).u32(0).u32(featureVC140)

	streams := [][]byte{nil, info, tpi, dbi, ipi, names, secs, module, recs.b, publics, globals}
	return writeMSF(streams, 512, true)
}

func TestSyntheticPDB(t *testing.T) {
	file := synthPDB(t)
	o, err := NewObject(bytes.NewReader(file), int64(len(file)), "synth.pdb")
	if err != nil {
		t.Fatal(err)
	}
	if id := o.DebugID(); id.Age != 3 || o.Info().Age != 2 {
		t.Errorf("debug id %s (info age %d): the DBI age must win", id, o.Info().Age)
	}
	if o.Arch() != "x86_64" || o.Features() != debugfiles.FeatureSymtab|debugfiles.FeatureDebug {
		t.Errorf("arch %s features %s", o.Arch(), o.Features())
	}
	var syms []string
	for s := range o.Symbols() {
		syms = append(syms, s.Name)
	}
	if !slices.Equal(syms, []string{"?outer@@YAXXZ", "gap"}) {
		t.Errorf("symbols %q: want the two publics in .text", syms)
	}
	gs, err := o.Globals()
	if err != nil || len(gs) != 1 || gs[0].Name != "outer" || gs[0].Kind != sProcRef || gs[0].Module != 1 {
		t.Errorf("globals %+v, %v", gs, err)
	}
	s, err := o.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	fns, err := s.AllFunctions()
	if err != nil {
		t.Fatal(err)
	}
	a, b := debugfiles.FileInfo{Name: `C:\src\a.cpp`}, debugfiles.FileInfo{Name: `C:\src\b.h`}
	line := func(addr, size uint64, f debugfiles.FileInfo, l uint32) debugfiles.LineInfo {
		return debugfiles.LineInfo{Address: synthText + addr, Size: size, File: f, Line: l}
	}
	want := []*debugfiles.Function{
		{Address: synthText, Size: 0x40, Name: "?outer@@YAXXZ",
			Lines: []debugfiles.LineInfo{line(0, 0x10, a, 10), line(0x10, 0x20, a, 12), line(0x30, 0x10, b, 5)},
			Inlinees: []*debugfiles.Function{{Address: synthText + 0x10, Size: 0x10, Name: "ns::helper", CallFile: a, CallLine: 12,
				Lines: []debugfiles.LineInfo{line(0x10, 0x10, b, 100)},
				Inlinees: []*debugfiles.Function{{Address: synthText + 0x14, Size: 4, Name: "ns::Widget::method", CallFile: b, CallLine: 100,
					Lines: []debugfiles.LineInfo{line(0x14, 4, a, 203)}}}}}},
		{Address: synthText + 0x80, Size: 0x10, Name: "?outer@@YAXXZ", Lines: []debugfiles.LineInfo{line(0x80, 0x10, a, 20)}},
		{Address: synthText + 0x50, Size: 8, Name: "thunk"},
		{Address: synthText + 0x60, Size: 0x10, Name: "oldproc", Lines: []debugfiles.LineInfo{line(0x60, 0x10, a, 30)}},
		{Address: synthText + 0x40, Size: 0x10, Name: "?outer@@YAXXZ"},
		{Address: synthText + 0x58, Size: 8, Name: "?outer@@YAXXZ"},
		{Address: synthText + 0x70, Size: 0x10, Name: "?outer@@YAXXZ"},
		{Address: synthText + 0x90, Size: 0x10, Name: "?outer@@YAXXZ"},
		{Address: synthText + 0xa0, Size: 0x60, Name: "gap"},
	}
	if len(fns) != len(want) {
		t.Fatalf("%d functions, want %d", len(fns), len(want))
	}
	for i := range want {
		if !equalFunc(fns[i], want[i]) {
			t.Errorf("function %d:\n got  %s\n want %s", i, dumpFunc(fns[i]), dumpFunc(want[i]))
		}
	}
}

func equalFunc(a, b *debugfiles.Function) bool {
	if a.Address != b.Address || a.Size != b.Size || a.Name != b.Name || a.CallFile != b.CallFile || a.CallLine != b.CallLine ||
		!slices.Equal(a.Lines, b.Lines) || len(a.Inlinees) != len(b.Inlinees) {
		return false
	}
	for i := range a.Inlinees {
		if !equalFunc(a.Inlinees[i], b.Inlinees[i]) {
			return false
		}
	}
	return true
}

func dumpFunc(f *debugfiles.Function) string {
	var buf bytes.Buffer
	var walk func(f *debugfiles.Function, depth int)
	walk = func(f *debugfiles.Function, depth int) {
		fmt.Fprintf(&buf, "\n%*s%s %#x+%#x call %s:%d", 2*depth, "", f.Name, f.Address, f.Size, f.CallFile.Name, f.CallLine)
		for _, l := range f.Lines {
			fmt.Fprintf(&buf, " [%#x+%#x %s:%d]", l.Address, l.Size, l.File.Name, l.Line)
		}
		for _, c := range f.Inlinees {
			walk(c, depth+1)
		}
	}
	walk(f, 0)
	return buf.String()
}
