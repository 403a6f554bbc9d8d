package dwarf

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

// walkInputs are ELF files with several units: the test binary itself
// when it keeps its DWARF (Go emits a unit per package) and the C fixtures
// when they are present.
func walkInputs(t *testing.T) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files := []string{self}
	home, _ := os.UserHomeDir()
	for _, pat := range []string{"elf-x86_64-gcc-O2-large-*/large", "elf-x86_64-clang-O2-[0-9a-f]*/demo", "elf-x86_64-gcc-O0-dwarf4-[0-9a-f]*/demo"} {
		m, _ := filepath.Glob(filepath.Join(home, ".cache/cairn/fixtures", pat))
		files = append(files, m...)
	}
	return files
}

// eachDWARF calls f with each of files that has DWARF, and its sections.
func eachDWARF(t *testing.T, files []string, f func(file string, s *Sections)) {
	t.Helper()
	for _, file := range files {
		if s := elfDWARF(t, file); len(s.Info) > 0 {
			f(file, s)
		}
	}
}

// eachSession calls f with each of files that has DWARF, its sections
// and a session of them.
func eachSession(t *testing.T, files []string, f func(file string, s *Sections, sess *Session)) {
	t.Helper()
	eachDWARF(t, files, func(file string, s *Sections) {
		sess, err := NewSessionFromSections(s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		f(file, s, sess)
	})
}

// elfDWARF reads the DWARF sections of an ELF file.
func elfDWARF(t testing.TB, file string) *Sections {
	t.Helper()
	f, err := elf.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := new(Sections)
	for _, sec := range f.Sections {
		if sec.Type == elf.SHT_NOBITS {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			continue
		}
		s.Add(sec.Name, data)
	}
	return s
}

// walkWith walks the main source of s, in parallel batches of batchBytes
// or serially when batchBytes is 0.
func walkWith(t testing.TB, s *Sections, batchBytes int) (*builder, []*unitInfo, bool) {
	t.Helper()
	be, headers := unitsOf(t, s)
	bl := newBuilder(Options{}, s.size())
	bl.sources = append(bl.sources, &source{sec: s, be: be, abbrevs: map[abbrevKey]*abbrevTable{}})
	if batchBytes == 0 {
		var out []*unitInfo
		for i := range headers {
			if walked(&headers[i]) {
				u, err := bl.walkUnit(0, &headers[i], nil)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, u)
			}
		}
		return bl, out, true
	}
	out, ok := bl.walkParallel(0, headers, batchBytes)
	return bl, out, ok
}

// unitsOf returns the byte order of the main .debug_info of s and its
// unit headers.
func unitsOf(t testing.TB, s *Sections) (bool, []unitHeader) {
	t.Helper()
	be, err := sniffBigEndian(s.Info)
	if err != nil {
		t.Fatal(err)
	}
	headers, err := unitHeaders(s.Info, be)
	if err != nil {
		t.Fatal(err)
	}
	return be, headers
}

// TestWalkParallelMatchesSerial checks that the parallel walk records what
// the serial walk does, down to indexes and the budget left, whatever the
// batch size.
func TestWalkParallelMatchesSerial(t *testing.T) {
	if emitWorkers() < 2 {
		t.Skip("one core: the walk is serial")
	}
	eachDWARF(t, walkInputs(t), func(file string, s *Sections) { checkWalkParallel(t, file, s) })
}

// checkWalkParallel checks that the parallel walk of s records what the
// serial walk does, whatever the batch size.
func checkWalkParallel(t *testing.T, file string, s *Sections) {
	t.Helper()
	want, wantUnits, _ := walkWith(t, s, 0)
	t.Logf("%s: %d units, %d nodes", file, len(wantUnits), len(want.nodes))
	for _, batch := range []int{1, 4 << 10, 64 << 10} {
		got, gotUnits, ok := walkWith(t, s, batch)
		if !ok {
			if len(wantUnits) > 1 && batch < len(s.Info)/2 {
				t.Errorf("%s, batches of %d: parallel walk did not apply", file, batch)
			}
			continue
		}
		if !reflect.DeepEqual(got.entries, want.entries) || !reflect.DeepEqual(got.nodes, want.nodes) ||
			!reflect.DeepEqual(got.ranges, want.ranges) || !reflect.DeepEqual(gotUnits, wantUnits) ||
			!reflect.DeepEqual(got.units, want.units) {
			t.Errorf("%s, batches of %d: records differ from the serial walk", file, batch)
		}
		if got.bud.left != want.bud.left {
			t.Errorf("%s, batches of %d: budget left %d, serial %d", file, batch, got.bud.left, want.bud.left)
		}
	}
}

// TestWalkParallelSharedAbbrevs checks the parallel walk of units that
// share one abbreviation table, which the shards read through one cache:
// Go's linker writes one table for all of a program's units. The walk
// must record what the serial walk does and spend the same budget, the
// table read once.
func TestWalkParallelSharedAbbrevs(t *testing.T) {
	if emitWorkers() < 2 {
		t.Skip("one core: the walk is serial")
	}
	bin := goHello(t)
	s := elfDWARF(t, bin)
	be, _ := sniffBigEndian(s.Info)
	headers, err := unitHeaders(s.Info, be)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[uint64]bool{}
	for _, h := range headers {
		tables[h.abbrevOff] = true
	}
	if len(headers) < 10 || len(tables) != 1 {
		t.Fatalf("%d units with %d abbreviation tables; want many units sharing one", len(headers), len(tables))
	}
	checkWalkParallel(t, bin, s)
}

// goHello builds a Go program that prints hello, with its DWARF: many
// units, sharing one abbreviation table, and thousands of functions.
func goHello(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestWalkParallelUndoesOnError checks that a parallel walk meeting a
// corrupt unit leaves the builder as it found it, so the serial walk that
// follows reports the error it always did.
func TestWalkParallelUndoesOnError(t *testing.T) {
	if emitWorkers() < 2 {
		t.Skip("one core: the walk is serial")
	}
	var s *Sections
	var headers []unitHeader
	var be bool
	for _, file := range walkInputs(t) {
		s = elfDWARF(t, file)
		be, _ = sniffBigEndian(s.Info)
		if headers, _ = unitHeaders(s.Info, be); len(headers) >= 4 {
			break
		}
	}
	if len(headers) < 4 {
		t.Skip("no input with several units")
	}
	// Corrupt the first DIE of a unit in the middle with an abbreviation
	// code no table holds.
	info := append([]byte(nil), s.Info...)
	h := headers[len(headers)/2]
	copy(info[h.dieOff:], []byte{0xff, 0xff, 0xff, 0x7f})
	s.Info = info

	bl := newBuilder(Options{}, s.size())
	bl.sources = append(bl.sources, &source{sec: s, be: be, abbrevs: map[abbrevKey]*abbrevTable{}})
	left := bl.bud.left
	if _, ok := bl.walkParallel(0, headers, 4<<10); ok {
		t.Fatal("parallel walk of a corrupt unit succeeded")
	}
	if len(bl.entries)+len(bl.nodes)+len(bl.ranges)+len(bl.units) != 0 || bl.bud.left != left || len(bl.sources[0].abbrevs) != 0 {
		t.Errorf("builder not restored: %d entries, %d nodes, %d ranges, %d units, budget %d of %d",
			len(bl.entries), len(bl.nodes), len(bl.ranges), len(bl.units), bl.bud.left, left)
	}
	_, err := bl.readSource(0, nil)
	if err == nil {
		t.Fatal("readSource of a corrupt unit succeeded")
	}

	// The error is the one of a walk on one core.
	prev := runtime.GOMAXPROCS(1)
	serial := newBuilder(Options{}, s.size())
	serial.sources = append(serial.sources, &source{sec: s, be: be, abbrevs: map[abbrevKey]*abbrevTable{}})
	_, want := serial.readSource(0, nil)
	runtime.GOMAXPROCS(prev)
	if want == nil || err.Error() != want.Error() {
		t.Errorf("error %v, serial walk %v", err, want)
	}
}

// benchDWARF returns the DWARF sections of the ELF file CAIRN_BENCH_OBJECT
// names (a real library, say), else of the bench fixture (set
// CAIRN_FIXTURES_BENCH=1 once it is built).
func benchDWARF(b *testing.B) *Sections {
	home, _ := os.UserHomeDir()
	m, _ := filepath.Glob(filepath.Join(home, ".cache/cairn/fixtures/elf-x86_64-gcc-O2-bench-*/bench"))
	if p := os.Getenv("CAIRN_BENCH_OBJECT"); p != "" {
		m = []string{p}
	} else if os.Getenv("CAIRN_FIXTURES_BENCH") == "" || len(m) == 0 {
		b.Skip("set CAIRN_FIXTURES_BENCH=1 with the bench fixture built, or CAIRN_BENCH_OBJECT to an ELF file")
	}
	return elfDWARF(b, m[0])
}

// BenchmarkParseAbbrevs parses the abbreviation table of every unit, as
// the walk does (compilers write one per unit).
func BenchmarkParseAbbrevs(b *testing.B) {
	s := benchDWARF(b)
	be, headers := unitsOf(b, s)
	slab := &abbrevSlab{}
	b.ReportAllocs()
	for b.Loop() {
		slab.reset()
		for i := range headers {
			h := &headers[i]
			if _, err := parseAbbrevs(s.Abbrev, h.abbrevOff, be, h.addrSize, h.is64, h.version, &budget{left: 1 << 40}, slab); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkWalk walks the units of benchDWARF's file serially and in
// parallel.
func BenchmarkWalk(b *testing.B) {
	s := benchDWARF(b)
	for _, bc := range []struct {
		name  string
		batch int
	}{{"serial", 0}, {"parallel", walkBatchBytes}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				walkWith(b, s, bc.batch)
			}
		})
	}
}

// TestWalkParallelBudget checks that a walk running out of budget fails as
// the serial walk does, whichever unit meets the end of the budget.
func TestWalkParallelBudget(t *testing.T) {
	if emitWorkers() < 2 {
		t.Skip("one core: the walk is serial")
	}
	home, _ := os.UserHomeDir()
	m, _ := filepath.Glob(filepath.Join(home, ".cache/cairn/fixtures/elf-x86_64-gcc-O2-large-*/large"))
	if len(m) == 0 {
		t.Skip("no large fixture")
	}
	s := elfDWARF(t, m[0])
	be, err := sniffBigEndian(s.Info)
	if err != nil {
		t.Fatal(err)
	}
	read := func(budget int64) (int64, error) {
		bl := newBuilder(Options{}, s.size())
		bl.bud.left = budget
		bl.sources = append(bl.sources, &source{sec: s, be: be, abbrevs: map[abbrevKey]*abbrevTable{}})
		_, err := bl.readSource(0, nil)
		return bl.bud.left, err
	}
	prev := runtime.GOMAXPROCS(1)
	full, err := read(1 << 40)
	runtime.GOMAXPROCS(prev)
	if err != nil {
		t.Fatal(err)
	}
	need := 1<<40 - full
	for _, budget := range []int64{need / 10, need / 2, need - 1, need, need + 1} {
		got, gotErr := read(budget)
		prev := runtime.GOMAXPROCS(1)
		want, wantErr := read(budget)
		runtime.GOMAXPROCS(prev)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || (wantErr == nil && got != want) {
			t.Errorf("budget %d of %d: %v, left %d; serial walk %v, left %d", budget, need, gotErr, got, wantErr, want)
		}
	}
}

// TestCUnitSkipsStructures checks that the walk keeps no entry for a C
// unit's structures and unions, whose subtrees it skips (with DW_AT_sibling
// and without), and keeps them in a C++ unit, where they name the methods
// inside.
func TestCUnitSkipsStructures(t *testing.T) {
	const (
		aCU = iota + 1
		aStruct
		aUnion
		aMember
		aFunc
		tagMember = 0x0d
		langCxx   = 0x04
	)
	ab := abbrevTableBytes(
		abbrevSpec{aCU, tagCompileUnit, true, [][2]uint64{{atName, formString}, {atLanguage, formData1}}},
		abbrevSpec{aStruct, tagStructType, true, [][2]uint64{{atName, formString}, {atSibling, formRef4}}},
		abbrevSpec{aUnion, tagUnionType, true, [][2]uint64{{atName, formString}}},
		abbrevSpec{aMember, tagMember, false, [][2]uint64{{atName, formString}}},
		abbrevSpec{aFunc, tagSubprogram, false, [][2]uint64{{atName, formString}, {atDeclaration, formFlagPresent}}},
	)
	build := func(lang uint8) []byte {
		x := &w{}
		x.u16(4).u32(0).u8(8) // version, abbrev offset, address size
		x.uleb(aCU).str("a.c").u8(lang)
		// struct s { int a; }, whose sibling is the union after it
		// (references count from the unit's start, before its 4-byte
		// length), then union u { int b; }, which has none, then f.
		sib := len(x.b) + 4 + 1 + len("s\x00") + 4 + 1 + len("a\x00") + 1
		x.uleb(aStruct).str("s").u32(uint32(sib))
		x.uleb(aMember).str("a")
		x.uleb(0) // end struct
		if len(x.b)+4 != sib {
			t.Fatalf("layout: sibling at %d, union at %d", sib, len(x.b)+4)
		}
		x.uleb(aUnion).str("u")
		x.uleb(aMember).str("b")
		x.uleb(0) // end union
		x.uleb(aFunc).str("f")
		x.uleb(0) // end CU
		return unit(x.b)
	}
	for _, tc := range []struct {
		lang uint8
		want []uint16
	}{
		{langC11, []uint16{tagSubprogram}},
		{langC89, []uint16{tagSubprogram}},
		{langCxx, []uint16{tagStructType, tagUnionType, tagSubprogram}},
	} {
		bl, _, _ := walkWith(t, &Sections{Info: build(tc.lang), Abbrev: ab}, 0)
		var got []uint16
		for _, e := range bl.entries {
			got = append(got, e.tag)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("language %#x: entries with tags %#x, want %#x", tc.lang, got, tc.want)
		}
	}
}

// BenchmarkLineTables reads the line table of every unit of benchDWARF's
// file, into rows kept from one table to the next.
func BenchmarkLineTables(b *testing.B) {
	s := benchDWARF(b)
	_, units, _ := walkWith(b, s, 0)
	var buf []lineRow
	b.ReportAllocs()
	for b.Loop() {
		for _, u := range units {
			if u == nil || !u.hasStmt {
				continue
			}
			t, err := parseLineTableInto(u.lineSec, u.stmtList, u.addrSize, &budget{left: 1 << 40}, buf)
			if err != nil {
				b.Fatal(err)
			}
			buf = t.buf
		}
	}
}
