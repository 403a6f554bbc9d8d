package dwarf

import (
	stddwarf "debug/dwarf"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
)

// w assembles little-endian DWARF by hand for tests of cases compilers do
// not produce on request: hostile counts, reference chains, odd forms.
type w struct{ b []byte }

func (x *w) u8(v uint8) *w   { x.b = append(x.b, v); return x }
func (x *w) u16(v uint16) *w { x.b = binary.LittleEndian.AppendUint16(x.b, v); return x }
func (x *w) u32(v uint32) *w { x.b = binary.LittleEndian.AppendUint32(x.b, v); return x }
func (x *w) u64(v uint64) *w { x.b = binary.LittleEndian.AppendUint64(x.b, v); return x }
func (x *w) str(s string) *w { x.b = append(append(x.b, s...), 0); return x }
func (x *w) uleb(v uint64) *w {
	for {
		c := uint8(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		x.b = append(x.b, c)
		if v == 0 {
			return x
		}
	}
}
func (x *w) sleb(v int64) *w {
	for {
		c := uint8(v & 0x7f)
		v >>= 7
		done := (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0)
		if !done {
			c |= 0x80
		}
		x.b = append(x.b, c)
		if done {
			return x
		}
	}
}

// unit wraps body in a 32-bit unit length.
func unit(body []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// abbrevs encodes an abbreviation table: per entry code, tag, children
// and attribute/form pairs.
type abbrevSpec struct {
	code, tag uint64
	children  bool
	attrs     [][2]uint64
}

func abbrevTableBytes(specs ...abbrevSpec) []byte {
	x := &w{}
	for _, s := range specs {
		x.uleb(s.code).uleb(s.tag)
		if s.children {
			x.u8(1)
		} else {
			x.u8(0)
		}
		for _, a := range s.attrs {
			x.uleb(a[0]).uleb(a[1])
		}
		x.uleb(0).uleb(0)
	}
	return x.uleb(0).b
}

// lineV4 builds a DWARF 4 line program for one file "a.c" in "dir" with
// rows (address, line) and an end address.
func lineV4(rows [][2]uint64, end uint64) []byte {
	hdr := &w{}
	hdr.u8(1).u8(1).u8(1).u8(uint8(0xfb)).u8(14).u8(13) // min_inst, max_ops, is_stmt, line_base -5, line_range, opcode_base
	hdr.b = append(hdr.b, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1)
	hdr.str("dir").u8(0)
	hdr.str("a.c").uleb(1).uleb(0).uleb(0).u8(0)
	prog := &w{}
	line := uint64(1)
	for _, r := range rows {
		prog.u8(0).uleb(9).u8(lneSetAddress).u64(r[0])
		prog.u8(lnsAdvanceLine).sleb(int64(r[1]) - int64(line))
		line = r[1]
		prog.u8(lnsCopy)
	}
	prog.u8(0).uleb(9).u8(lneSetAddress).u64(end)
	prog.u8(0).uleb(1).u8(lneEndSequence)
	body := &w{}
	body.u16(4).u32(uint32(len(hdr.b)))
	body.b = append(body.b, hdr.b...)
	body.b = append(body.b, prog.b...)
	return unit(body.b)
}

// program is a small C++-like unit:
//
//	namespace ns { struct C { void m(); }; }   // declarations
//	void ns::C::m() { inlined f() { inlined g() } }  at 0x1000..0x1100
//	inline void f(), g()                        // abstract, no code
func program(t *testing.T) *Sections {
	t.Helper()
	const (
		aCU = iota + 1
		aNS
		aStruct
		aDecl
		aDef
		aAbstract
		aInlined
		aInlinedRanges
	)
	ab := abbrevTableBytes(
		abbrevSpec{aCU, tagCompileUnit, true, [][2]uint64{{atName, formString}, {atCompDir, formString}, {atStmtList, formSecOffset}, {atLowPC, formAddr}, {atHighPC, formData4}}},
		abbrevSpec{aNS, tagNamespace, true, [][2]uint64{{atName, formString}}},
		abbrevSpec{aStruct, tagStructType, true, [][2]uint64{{atName, formString}}},
		abbrevSpec{aDecl, tagSubprogram, false, [][2]uint64{{atName, formString}, {atDeclaration, formFlagPresent}}},
		abbrevSpec{aDef, tagSubprogram, true, [][2]uint64{{atSpecification, formRef4}, {atLowPC, formAddr}, {atHighPC, formData4}}},
		abbrevSpec{aAbstract, tagSubprogram, false, [][2]uint64{{atName, formString}, {atLinkageName, formStrp}}},
		abbrevSpec{aInlined, tagInlinedSubroutine, true, [][2]uint64{{atAbstractOrigin, formRef4}, {atLowPC, formAddr}, {atHighPC, formData4}, {atCallFile, formData1}, {atCallLine, formData1}}},
		abbrevSpec{aInlinedRanges, tagInlinedSubroutine, false, [][2]uint64{{atAbstractOrigin, formRefAddr}, {atRanges, formSecOffset}, {atCallFile, formData1}, {atCallLine, formData2}}},
	)
	str := (&w{}).str("_Z1fv").str("_Z1gv").b

	// Offsets of DIEs are needed for references, so lay the unit out in
	// two passes: first with zero references, then patched.
	build := func(declOff, fOff, gOff uint32) []byte {
		x := &w{}
		x.u16(4).u32(0).u8(8) // version, abbrev offset, address size
		x.uleb(aCU).str("a.cc").str("/src").u32(0).u64(0x1000).u32(0x200)
		x.uleb(aNS).str("ns")
		x.uleb(aStruct).str("C")
		x.uleb(aDecl).str("m")
		x.uleb(0).uleb(0) // end struct, end namespace
		x.uleb(aAbstract).str("f").u32(0)
		x.uleb(aAbstract).str("g").u32(6)
		x.uleb(aDef).u32(declOff).u64(0x1000).u32(0x100)
		x.uleb(aInlined).u32(fOff).u64(0x1010).u32(0x40).u8(1).u8(7)
		x.uleb(aInlinedRanges).u32(gOff).u32(0).u8(1).u16(300)
		x.uleb(0) // end inlined f
		x.uleb(0) // end def
		x.uleb(0) // end CU
		return unit(x.b)
	}
	info := build(0, 0, 0)
	// Find the DIE offsets by scanning for their abbreviation codes at
	// the known positions: recompute by walking the layout instead.
	hdr := 4 + 2 + 4 + 1
	cu := hdr + 1 + len("a.cc\x00") + len("/src\x00") + 4 + 8 + 4
	ns := cu
	st := ns + 1 + len("ns\x00")
	decl := st + 1 + len("C\x00")
	afterDecl := decl + 1 + len("m\x00") + 2
	f := afterDecl
	g := f + 1 + len("f\x00") + 4
	info = build(uint32(decl), uint32(f), uint32(g))
	if info[decl] != aDecl || info[f] != aAbstract || info[g] != aAbstract {
		t.Fatalf("layout: %d %d %d", info[decl], info[f], info[g])
	}
	ranges := (&w{}).u64(0x20).u64(0x30).u64(0x40).u64(0x58).u64(0).u64(0).b // relative to the CU base 0x1000
	line := lineV4([][2]uint64{{0x1000, 10}, {0x1010, 20}, {0x1020, 30}, {0x1030, 31}, {0x1048, 11}}, 0x1200)
	return &Sections{Info: info, Abbrev: ab, Str: str, Line: line, Ranges: ranges}
}

func allFunctions(t *testing.T, s *Sections, opts Options) []*debugfiles.Function {
	t.Helper()
	sess, err := NewSessionFromSections(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	fns, err := sess.AllFunctions()
	if err != nil {
		t.Fatal(err)
	}
	return fns
}

func TestTreeNamesAndLines(t *testing.T) {
	fns := allFunctions(t, program(t), Options{LoadAddress: 0x100})
	var def *debugfiles.Function
	for _, f := range fns {
		if f.Name != "" {
			if def != nil {
				t.Fatalf("two named functions: %q, %q", def.Name, f.Name)
			}
			def = f
		}
	}
	if def == nil || def.Name != "ns::C::m" || def.Address != 0xf00 || def.Size != 0x100 || def.CompDir != "/src" {
		t.Fatalf("function = %+v", def)
	}
	if len(def.Inlinees) != 1 {
		t.Fatalf("inlinees = %d", len(def.Inlinees))
	}
	f := def.Inlinees[0]
	if f.Name != "_Z1fv" || f.Address != 0xf10 || f.Size != 0x40 || f.CallLine != 7 || f.CallFile.Path() != "/src/dir/a.c" {
		t.Fatalf("f = %+v", f)
	}
	// g has two ranges; the second is clipped to f's end at 0x1050.
	if len(f.Inlinees) != 2 {
		t.Fatalf("g parts = %d", len(f.Inlinees))
	}
	g0, g1 := f.Inlinees[0], f.Inlinees[1]
	if g0.Name != "_Z1gv" || g0.Address != 0xf20 || g0.Size != 0x10 || g1.Address != 0xf40 || g1.Size != 0x10 || g0.CallLine != 300 {
		t.Fatalf("g = %+v / %+v", g0, g1)
	}
	// The lines of f are a part of m's, cut at g's bounds.
	want := []struct {
		addr, size uint64
		line       uint32
	}{{0xf10, 0x10, 20}, {0xf20, 0x10, 30}, {0xf30, 0x10, 31}, {0xf40, 8, 31}, {0xf48, 8, 11}}
	if len(f.Lines) != len(want) {
		t.Fatalf("f lines = %+v", f.Lines)
	}
	for i, l := range f.Lines {
		if l.Address != want[i].addr || l.Size != want[i].size || l.Line != want[i].line || l.File.Path() != "/src/dir/a.c" {
			t.Errorf("line %d = %+v, want %+v", i, l, want[i])
		}
	}
	if got := g1.Lines; len(got) != 2 || got[0].Address != 0xf40 || got[1].Line != 11 {
		t.Errorf("g part 2 lines = %+v", got)
	}

	ix := debugfiles.NewIndex(fns)
	frames := ix.Lookup(0xf44)
	names := []string{}
	for _, fr := range frames {
		names = append(names, fr.Function)
	}
	if strings.Join(names, ",") != "_Z1gv,_Z1fv,ns::C::m" || frames[0].Line != 31 || frames[1].Line != 300 || frames[2].Line != 7 {
		t.Errorf("lookup = %+v", frames)
	}
	// Past the function, inside the unit's range: a nameless gap with the
	// line row, as llvm-symbolizer reports it.
	if fr := ix.Lookup(0x1050); len(fr) != 1 || fr[0].Function != "" || fr[0].Line != 11 {
		t.Errorf("gap lookup = %+v", fr)
	}
}

func TestLoadAddressDropsCodeBelow(t *testing.T) {
	if fns := allFunctions(t, program(t), Options{LoadAddress: 0x1001}); len(fns) != 0 {
		t.Errorf("functions below the load address: %+v", fns[0])
	}
}

func TestCorruptInput(t *testing.T) {
	good := program(t)
	cases := map[string]func(s *Sections){
		"truncated info":      func(s *Sections) { s.Info = s.Info[:len(s.Info)-5] },
		"unknown abbrev code": func(s *Sections) { s.Info[11] = 0x7f },
		"unknown form": func(s *Sections) {
			s.Abbrev = abbrevTableBytes(abbrevSpec{1, tagCompileUnit, true, [][2]uint64{{atName, 0x7e}}})
		},
		"bad version":     func(s *Sections) { s.Info[4] = 9 },
		"missing abbrev":  func(s *Sections) { s.Abbrev = nil },
		"line version":    func(s *Sections) { s.Line[4] = 1 },
		"line_range 0":    func(s *Sections) { s.Line[4+2+4+4] = 0 },
		"ranges past end": func(s *Sections) { s.Ranges = s.Ranges[:20] },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			s := *good
			s.Info = append([]byte(nil), good.Info...)
			s.Line = append([]byte(nil), good.Line...)
			mutate(&s)
			sess, err := NewSessionFromSections(&s, Options{})
			if err == nil {
				_, err = sess.AllFunctions()
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "dwarf: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// A DWARF 5 line header claiming 2^40 directories in a few bytes must fail
// before allocating for them.
func TestHostileLineCounts(t *testing.T) {
	hdr := &w{}
	hdr.u8(1).u8(1).u8(1).u8(0xfb).u8(14).u8(13)
	hdr.b = append(hdr.b, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1)
	hdr.u8(1).uleb(lnctPath).uleb(formString) // directory format
	hdr.uleb(1 << 40)                         // directory count
	hdr.str("x")
	body := &w{}
	body.u16(5).u8(8).u8(0).u32(uint32(len(hdr.b)))
	body.b = append(body.b, hdr.b...)
	sec := lineSections{line: unit(body.b)}
	allocs := testing.AllocsPerRun(1, func() {
		if _, err := parseLineTable(sec, 0, 8, newBudget(1000)); err == nil {
			t.Error("no error")
		}
	})
	if allocs > 20 {
		t.Errorf("%v allocations", allocs)
	}
}

// References that loop must end the name search, not the process.
func TestReferenceLoop(t *testing.T) {
	ab := abbrevTableBytes(
		abbrevSpec{1, tagCompileUnit, true, nil},
		abbrevSpec{2, tagSubprogram, false, [][2]uint64{{atSpecification, formRef4}, {atLowPC, formAddr}, {atHighPC, formData4}}},
	)
	x := &w{}
	x.u16(4).u32(0).u8(8)
	x.uleb(1)
	self := len(x.b) + 4
	x.uleb(2).u32(uint32(self)).u64(0x1000).u32(0x10)
	x.uleb(0)
	fns := allFunctions(t, &Sections{Info: unit(x.b), Abbrev: ab}, Options{})
	if len(fns) != 1 || fns[0].Name != "" {
		t.Fatalf("functions = %+v", fns)
	}
}

func TestDeepNestingFails(t *testing.T) {
	ab := abbrevTableBytes(
		abbrevSpec{1, tagCompileUnit, true, nil},
		abbrevSpec{2, tagLexicalBlock, true, nil},
	)
	x := &w{}
	x.u16(4).u32(0).u8(8)
	x.uleb(1)
	for range maxDepth + 10 {
		x.uleb(2)
	}
	_, err := NewSessionFromSections(&Sections{Info: unit(x.b), Abbrev: ab}, Options{})
	if err == nil {
		sess, _ := NewSessionFromSections(&Sections{Info: unit(x.b), Abbrev: ab}, Options{})
		_, err = sess.AllFunctions()
	}
	if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("err = %v", err)
	}
}

func TestSkeletonWithDataResolver(t *testing.T) {
	ab := abbrevTableBytes(abbrevSpec{1, tagCompileUnit, false, [][2]uint64{{atGNUDWOName, formString}, {atCompDir, formString}}})
	x := &w{}
	x.u16(4).u32(0).u8(8)
	x.uleb(1).str("a.dwo").str("/b")
	s := &Sections{Info: unit(x.b), Abbrev: ab}
	sess, err := NewSessionFromSections(s, Options{ResolveDWO: nil, ResolveDWOSections: func(name, dir string, id uint64) (*Sections, error) {
		if name != "a.dwo" || dir != "/b" {
			t.Errorf("resolve %q %q", name, dir)
		}
		return nil, ErrNoDWO
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.AllFunctions(); err != nil {
		t.Fatalf("missing .dwo: %v", err)
	}
	sess, _ = NewSessionFromSections(s, Options{ResolveDWO: func(string, string, uint64) (*stddwarf.Data, error) { return nil, nil }})
	if _, err := sess.AllFunctions(); !errors.Is(err, errSplitNeedsSections) {
		t.Fatalf("err = %v", err)
	}
}

func TestSectionsAdd(t *testing.T) {
	var s Sections
	for name, want := range map[string]bool{
		".debug_info.dwo": true, ".zdebug_line": true, "__debug_str_offs": true,
		".debug_cu_index": true, ".debug_frame": false, ".text": false, "__debug_rnglists": true,
	} {
		if got := s.Add(name, []byte(name)); got != want {
			t.Errorf("Add(%q) = %v", name, got)
		}
	}
	if string(s.StrOffsets) != "__debug_str_offs" || string(s.Line) != ".zdebug_line" || string(s.RngLists) != "__debug_rnglists" || string(s.Info) != ".debug_info.dwo" {
		t.Errorf("sections = %+v", s)
	}
}

func TestPackageIndex(t *testing.T) {
	// A version 5 index with one unit (id 0x77) and columns info,
	// abbrev, str_offsets.
	x := &w{}
	x.u16(5).u16(0).u32(3).u32(1).u32(2)
	x.u64(0x77).u64(0) // hash slots
	x.u32(1).u32(0)    // index slots
	x.u32(sectInfo).u32(sectAbbrev).u32(sectStrOffsets)
	x.u32(2).u32(0).u32(8) // offsets
	x.u32(5).u32(3).u32(4) // sizes
	sec := &Sections{
		Info: []byte("..infoX"), Abbrev: []byte("abc"), StrOffsets: []byte("........soff"),
		Str: []byte("shared"), CUIndex: x.b,
	}
	p, err := NewPackage(sec)
	if err != nil {
		t.Fatal(err)
	}
	u, err := p.Resolve("", "", 0x77)
	if err != nil {
		t.Fatal(err)
	}
	if string(u.Info) != "infoX" || string(u.Abbrev) != "abc" || string(u.StrOffsets) != "soff" || string(u.Str) != "shared" {
		t.Errorf("unit = %q %q %q %q", u.Info, u.Abbrev, u.StrOffsets, u.Str)
	}
	if _, err := p.Resolve("", "", 0x78); !errors.Is(err, ErrNoDWO) {
		t.Errorf("unknown id: %v", err)
	}
	bad := *sec
	bad.CUIndex = x.b[:40]
	if _, err := NewPackage(&bad); err == nil {
		t.Error("truncated index accepted")
	}
	bad.CUIndex = append([]byte(nil), x.b...)
	binary.LittleEndian.PutUint32(bad.CUIndex[16+16+8+12+12:], 100) // info size past the end
	if p, err := NewPackage(&bad); err == nil {
		if _, err := p.Resolve("", "", 0x77); err == nil {
			t.Error("contribution past the section end accepted")
		}
	}
}
