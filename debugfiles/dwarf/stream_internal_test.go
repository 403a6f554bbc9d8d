package dwarf

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// describeTree renders a compact function, its rows and its inlinees.
func describeTree(cf *CompactFunction) string {
	var b strings.Builder
	var walk func(f *debugfiles.Function, depth int)
	walk = func(f *debugfiles.Function, depth int) {
		fmt.Fprintf(&b, "%d:%#x+%#x %q %s %v:%d;", depth, f.Address, f.Size, f.Name, f.CompDir, f.CallFile, f.CallLine)
		for _, c := range f.Inlinees {
			walk(c, depth+1)
		}
	}
	walk(cf.Function, 0)
	fmt.Fprintf(&b, " rows=%v files=%v", compactLines(cf), cf.Files)
	return b.String()
}

// wholeProgramTrees is namedTrees of the whole-program walk's functions,
// what the streaming walk is held to.
func wholeProgramTrees(t *testing.T, sess *Session) []string {
	t.Helper()
	return namedTrees(t, func(yield func(*CompactFunction) bool) error {
		for cf, err := range sess.TransientCompactFunctions() {
			if err != nil {
				return err
			}
			yield(cf)
		}
		return nil
	})
}

// namedTrees collects the functions with a name that seq yields.
func namedTrees(t *testing.T, seq func(yield func(*CompactFunction) bool) error) []string {
	t.Helper()
	var out []string
	err := seq(func(cf *CompactFunction) bool {
		if cf.Name != "" {
			out = append(out, describeTree(cf))
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStreamMatchesTransient checks that the streaming iteration yields
// the functions with names TransientCompactFunctions yields, in the same
// order, whatever the size of its batches: one unit at a time, the
// default, and one batch for the whole program. The test binary's own
// DWARF refers across units (DW_FORM_ref_addr), which keeps every
// segment's entries; the C fixtures refer within units only.
func TestStreamMatchesTransient(t *testing.T) {
	eachSession(t, walkInputs(t), func(file string, s *Sections, sess *Session) {
		want := wholeProgramTrees(t, sess)
		t.Logf("%s: %d named functions", file, len(want))
		for _, batch := range []int{1, streamBatchBytes, len(s.Info)} {
			got := namedTrees(t, func(yield func(*CompactFunction) bool) error {
				return sess.stream(batch, false, yield)
			})
			if !slices.Equal(got, want) {
				t.Errorf("%s, batches of %d: %d functions, TransientCompactFunctions %d", file, batch, len(got), len(want))
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("first difference at %d:\n got %s\nwant %s", i, got[i], want[i])
					}
				}
			}
		}
		// The consumer may stop at any point.
		n := 0
		for _, err := range sess.TransientSubprograms() {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == len(want)/2 {
				break
			}
		}
	})
}

// TestStreamGapsMatchTransient checks that the streaming iteration with
// gaps, clipped by a GapClipper, yields every function
// TransientCompactFunctions yields: the named ones in the same order, and
// the same nameless ones made of the code no function covers (the
// clipper's come after the rest), whatever the size of the batches. With
// batches of one unit, the gaps of a unit are what none of its own
// functions covers, and the clipper takes the program's part of them.
func TestStreamGapsMatchTransient(t *testing.T) {
	eachSession(t, walkInputs(t), func(file string, s *Sections, sess *Session) {
		checkStreamGaps(t, file, sess, []int{1, streamBatchBytes, len(s.Info)})
	})
}

// checkStreamGaps is TestStreamGapsMatchTransient for one session and the
// given sizes of batches.
func checkStreamGaps(t *testing.T, file string, sess *Session, batches []int) {
	t.Helper()
	var wantNamed, wantGaps []string
	for cf, err := range sess.TransientCompactFunctions() {
		if err != nil {
			t.Fatal(err)
		}
		if cf.Gap && (cf.Name != "" || len(cf.Inlinees) > 0) {
			t.Fatalf("%s: a gap with a name or inlinees: %s", file, describeTree(cf))
		}
		if cf.Gap {
			wantGaps = append(wantGaps, describeTree(cf))
		} else {
			wantNamed = append(wantNamed, describeTree(cf))
		}
	}
	slices.Sort(wantGaps)
	t.Logf("%s: %d functions, %d gaps", file, len(wantNamed), len(wantGaps))
	for _, batch := range batches {
		var clip GapClipper
		var named, gaps []string
		held := 0
		err := sess.stream(batch, true, func(cf *CompactFunction) bool {
			if clip.Note(cf) {
				named = append(named, describeTree(cf))
			} else {
				held++
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		for cf := range clip.Gaps() {
			gaps = append(gaps, describeTree(cf))
		}
		slices.Sort(gaps)
		if !slices.Equal(named, wantNamed) {
			t.Errorf("%s, batches of %d: %d functions, TransientCompactFunctions %d", file, batch, len(named), len(wantNamed))
		}
		if !slices.Equal(gaps, wantGaps) {
			t.Errorf("%s, batches of %d: %d gaps clipped from %d, TransientCompactFunctions %d", file, batch, len(gaps), held, len(wantGaps))
			for i := range min(len(gaps), len(wantGaps)) {
				if gaps[i] != wantGaps[i] {
					t.Fatalf("first difference at %d:\n got %s\nwant %s", i, gaps[i], wantGaps[i])
				}
			}
		}
	}
}

// TestStreamGapsChoice checks when TransientSubprogramsAndGaps reads
// batch by batch: from streamMinInfo of .debug_info on, and not when DIEs
// refer across units (TestStreamCrossUnitReferences), and that it yields
// TransientCompactFunctions' functions either way.
func TestStreamGapsChoice(t *testing.T) {
	defer func(n int) { streamMinInfo = n }(streamMinInfo)
	eachSession(t, walkInputs(t)[1:], func(file string, s *Sections, sess *Session) {
		want := namedTrees(t, func(yield func(*CompactFunction) bool) error {
			for cf, err := range sess.TransientCompactFunctions() {
				if err != nil {
					return err
				}
				yield(cf)
			}
			return nil
		})
		for _, min := range []int{len(s.Info) + 1, len(s.Info)} {
			streamMinInfo = min
			released := 0 // parts of .debug_info
			info := s.Info
			s.Release = func(b []byte) {
				if len(b) > 0 && len(info) > 0 {
					at := uintptr(unsafe.Pointer(&b[0])) - uintptr(unsafe.Pointer(&info[0]))
					if at < uintptr(len(info)) {
						released++
					}
				}
			}
			got := namedTrees(t, func(yield func(*CompactFunction) bool) error {
				var clip GapClipper
				for cf, err := range sess.TransientSubprogramsAndGaps() {
					if err != nil {
						return err
					}
					if clip.Note(cf) {
						yield(cf)
					}
				}
				return nil
			})
			s.Release = nil
			if !slices.Equal(got, want) {
				t.Errorf("%s, from %d bytes: %d functions, TransientCompactFunctions %d", file, min, len(got), len(want))
			}
			// A streaming session releases .debug_info once its headers
			// are read and again segment by segment; the whole-program
			// walk releases it at most once.
			if streamed := released > 1; streamed != (min <= len(s.Info)) {
				t.Errorf("%s, .debug_info %d bytes, from %d: streamed %v", file, len(s.Info), min, streamed)
			}
		}
	})
}

// TestGapClipper checks the clipping of gaps by functions noted before and
// after them: the parts left, their rows in both forms, and the functions
// passed through.
func TestGapClipper(t *testing.T) {
	const load = 0x1000
	files := []debugfiles.FileInfo{{Name: "a.s"}}
	table := []TableRow{{0x1100, 0, 1}, {0x1140, 0, 2}, {0x1180, NoFile, 0}, {0x11a0, 0, 3}, {0x11f0, 0, 4}}
	rows := []LineRow{{0x100, 0x40, 0, 1}, {0x140, 0x40, 0, 2}, {0x1a0, 0x50, 0, 3}, {0x1f0, 0x10, 0, 4}}
	fn := func(addr, size uint64, gap bool) *CompactFunction {
		cf := &CompactFunction{Function: &debugfiles.Function{Address: addr, Size: size, Name: "f"}, Load: load, Files: files, Gap: gap}
		if gap {
			cf.Name = ""
		}
		return cf
	}
	var clip GapClipper
	gapTable, gapRows := fn(0x100, 0x100, true), fn(0x100, 0x100, true)
	gapTable.Table = table
	gapRows.Rows, gapRows.Load = rows, 0
	for i, cf := range []*CompactFunction{fn(0x150, 0x10, false), gapTable, gapRows, fn(0x1c0, 0x80, false), fn(0, 0, false), nil} {
		if got, want := clip.Note(cf), cf == nil || !cf.Gap; got != want {
			t.Errorf("Note(#%d) = %v, want %v", i, got, want)
		}
	}
	// The gaps' storage is the session's: Gaps must not read it again.
	clear(table)
	clear(rows)
	var got []string
	for cf := range clip.Gaps() {
		got = append(got, fmt.Sprintf("%#x+%#x %v", cf.Address, cf.Size, compactLines(cf)))
	}
	want := []string{
		"0x100+0x50 [{256 64 0 1} {320 16 0 2}]",
		"0x160+0x60 [{352 32 0 2} {416 32 0 3}]",
		"0x100+0x50 [{256 64 0 1} {320 16 0 2}]",
		"0x160+0x60 [{352 32 0 2} {416 32 0 3}]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Gaps:\n got %q\nwant %q", got, want)
	}
}

// TestGapClipperRandom checks GapClipper against its definition on random
// functions and gaps, overlapping in every way, with rows in both forms:
// at every address of a gap, the clipped gaps hold it exactly when no
// function covers it, once per gap holding it, with the row the gap's own
// rows give it.
func TestGapClipperRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const span = 200
	for iter := range 500 {
		var clip GapClipper
		var fns [][2]uint64
		type gapCase struct {
			lo, hi uint64
			table  bool
			rows   []LineRow // the rows the gap answers with, relative
		}
		var gaps []gapCase
		load := uint64(rng.IntN(2)) * 0x1000
		for range 1 + rng.IntN(12) {
			lo := uint64(rng.IntN(span))
			hi := lo + uint64(rng.IntN(40))
			if rng.IntN(2) == 0 {
				clip.Note(&CompactFunction{Function: &debugfiles.Function{Address: lo, Size: hi - lo, Name: "f"}})
				fns = append(fns, [2]uint64{lo, hi})
				continue
			}
			g := gapCase{lo: lo, hi: hi, table: rng.IntN(2) == 0}
			cf := &CompactFunction{Function: &debugfiles.Function{Address: lo, Size: hi - lo}, Gap: true, Load: load}
			// Rows: a table from a little before the gap, or rows
			// within it.
			a := lo - min(lo, uint64(rng.IntN(4)))
			for a < hi+2 {
				next := a + 1 + uint64(rng.IntN(8))
				file := uint32(rng.IntN(2))
				if rng.IntN(6) == 0 {
					file = NoFile
				}
				line := uint32(1 + rng.IntN(50))
				if g.table {
					cf.Table = append(cf.Table, TableRow{Address: a + load, File: file, Line: line})
				} else if file != NoFile && next > a {
					cf.Rows = append(cf.Rows, LineRow{Address: a, Size: next - a, File: file, Line: line})
				}
				a = next
			}
			if g.table {
				cf.Table = clipTable(cf.Table, lo+load, hi+load)
			}
			g.rows = compactLines(cf)
			if !g.table {
				g.rows = clipRows(g.rows, lo, hi)
			}
			if clip.Note(cf) {
				t.Fatalf("case %d: Note passed a gap through", iter)
			}
			// The session's storage is reused: Gaps must not read it.
			clear(cf.Table)
			clear(cf.Rows)
			gaps = append(gaps, g)
		}
		covered := func(a uint64) bool {
			for _, f := range fns {
				if a >= f[0] && a < f[1] {
					return true
				}
			}
			return false
		}
		rowAt := func(rows []LineRow, a uint64) string {
			for _, r := range rows {
				if a >= r.Address && a < r.Address+r.Size {
					return fmt.Sprint(r.File, ":", r.Line)
				}
			}
			return "-"
		}
		// The parts of each gap come in the gaps' order, each gap's in
		// address order, and a part ends where the gap or the
		// uncovered code does.
		var want, got []string
		for _, g := range gaps {
			for a := g.lo; a < g.hi; a++ {
				if !covered(a) {
					w := fmt.Sprintf("%#x %s", a, rowAt(g.rows, a))
					if a == g.lo || covered(a-1) {
						w += " starts"
					}
					want = append(want, w)
				}
			}
		}
		for cf := range clip.Gaps() {
			if !cf.Gap || cf.Name != "" || cf.Size == 0 {
				t.Fatalf("case %d: a part %+v", iter, cf)
			}
			rows := compactLines(cf)
			for a := cf.Address; a < cf.Address+cf.Size; a++ {
				w := fmt.Sprintf("%#x %s", a, rowAt(rows, a))
				if a == cf.Address {
					w += " starts"
				}
				got = append(got, w)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("case %d: functions %v\n got %q\nwant %q", iter, fns, got, want)
		}
	}
}

// TestStreamReleasesSegments checks that a streaming session hands all of
// .debug_info and of the range lists to Sections.Release, nothing outside
// the sections, and, once the whole of .debug_info after reading the unit
// headers, .debug_info in unit order (each part overlapping the one
// before, whose last page it may share), each segment once some of the
// functions read from it have been yielded (the C fixtures have functions
// in every unit).
func TestStreamReleasesSegments(t *testing.T) {
	for _, file := range walkInputs(t)[1:] {
		s := elfDWARF(t, file)
		if len(s.Info) == 0 || strings.Contains(file, "split") || strings.Contains(file, "dwp") {
			continue // skeleton units: the functions come from the .dwo files
		}
		type part struct {
			sec    string
			lo, hi int
		}
		var released []part
		yielded, infoEnd, headers := 0, 0, true
		var mu sync.Mutex // the walk releases line programs beside the emission
		s.Release = func(b []byte) {
			mu.Lock()
			defer mu.Unlock()
			if len(b) == 0 {
				return
			}
			for _, sec := range []struct {
				name string
				data []byte
			}{{"info", s.Info}, {"rnglists", s.RngLists}, {"ranges", s.Ranges}, {"abbrev", s.Abbrev}, {"addr", s.Addr}, {"str_offsets", s.StrOffsets}, {"line", s.Line}} {
				if len(sec.data) == 0 {
					continue
				}
				lo := int(uintptr(unsafe.Pointer(&b[0])) - uintptr(unsafe.Pointer(&sec.data[0])))
				if lo < 0 || lo+len(b) > len(sec.data) {
					continue
				}
				if sec.name == "info" && headers {
					// The pages the unit headers faulted in, before the
					// walk.
					if lo != 0 || len(b) != len(s.Info) || yielded > 0 {
						t.Errorf("%s: first release of .debug_info from %#x to %#x after %d functions", file, lo, lo+len(b), yielded)
					}
					headers = false
					return
				}
				released = append(released, part{sec.name, lo, lo + len(b)})
				if sec.name == "info" {
					if lo > infoEnd || lo+len(b) <= infoEnd {
						t.Errorf("%s: .debug_info released from %#x to %#x after up to %#x", file, lo, lo+len(b), infoEnd)
					}
					if yielded == 0 {
						t.Errorf("%s: .debug_info released up to %#x before any function was yielded", file, lo+len(b))
					}
					infoEnd, yielded = lo+len(b), 0
				}
				return
			}
			t.Errorf("%s: released %d bytes outside the sections", file, len(b))
		}
		sess, err := NewSessionFromSections(s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = sess.stream(1, false, func(*CompactFunction) bool {
			yielded++
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		covered := func(name string, size int) bool {
			var ps []part
			for _, p := range released {
				if p.sec == name {
					ps = append(ps, p)
				}
			}
			slices.SortFunc(ps, func(a, b part) int { return a.lo - b.lo })
			end := 0
			for _, p := range ps {
				if p.lo > end {
					return false
				}
				end = max(end, p.hi)
			}
			return end >= size
		}
		if !covered("info", len(s.Info)) {
			t.Errorf("%s: .debug_info not all released", file)
		}
		if len(s.RngLists) > 0 && !covered("rnglists", len(s.RngLists)) {
			t.Errorf("%s: .debug_rnglists not all released", file)
		}
		if len(s.Ranges) > 0 && !covered("ranges", len(s.Ranges)) {
			t.Errorf("%s: .debug_ranges not all released", file)
		}
	}
}

// TestStreamCrossUnitReferences checks the streaming iteration on programs
// whose DIEs refer across units (DW_FORM_ref_addr): gcc's link-time
// optimisation, whose units refer to the abstract functions of others, and
// Go. Their segments keep the entries of the ones before, and wait for the
// units they refer to.
func TestStreamCrossUnitReferences(t *testing.T) {
	for _, v := range []struct {
		name    string
		tool    string
		install string
		cmd     func(dir string) *exec.Cmd
	}{
		{"gcc-lto", "gcc", "apt-get install -y gcc", func(dir string) *exec.Cmd {
			c := exec.Command("gcc", "-O2", "-g", "-flto", "-o", filepath.Join(dir, "bin"), "cprog.c", "cutil.c")
			c.Dir = "testdata/src"
			return c
		}},
		{"go", "go", "https://go.dev/dl/", func(dir string) *exec.Cmd {
			c := exec.Command("go", "build", "-o", filepath.Join(dir, "bin"), ".")
			c.Dir = "testdata/src/goprog"
			c.Env = append(os.Environ(), "GO111MODULE=off", "GOFLAGS=")
			return c
		}},
	} {
		t.Run(v.name, func(t *testing.T) {
			if _, err := exec.LookPath(v.tool); err != nil {
				testtools.Missing(t, v.tool, v.install)
			}
			dir := t.TempDir()
			if out, err := v.cmd(dir).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			s := elfDWARF(t, filepath.Join(dir, "bin"))
			be, headers := unitsOf(t, s)
			crossing := false
			for i := range headers {
				left := len(s.Abbrev)
				crossing = crossing || scanReferBack(s.Abbrev, headers[i].abbrevOff, be, &left)
			}
			if !crossing {
				t.Skip("no reference across units: nothing to check here")
			}
			sess, err := NewSessionFromSections(s, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := wholeProgramTrees(t, sess)
			got := namedTrees(t, func(yield func(*CompactFunction) bool) error {
				return sess.stream(1, false, yield)
			})
			t.Logf("%d units, %d named functions", len(headers), len(want))
			if !slices.Equal(got, want) {
				t.Errorf("%d functions, TransientCompactFunctions %d", len(got), len(want))
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("first difference at %d:\n got %s\nwant %s", i, got[i], want[i])
					}
				}
			}
			// With gaps, such a program is read whole, unless the tests
			// ask for it batch by batch.
			if err := sess.stream(1, true, func(*CompactFunction) bool { return true }); err != errCrossUnit {
				t.Errorf("streaming with gaps: %v, want %v", err, errCrossUnit)
			}
			gapsAcrossUnits = true
			defer func() { gapsAcrossUnits = false }()
			checkStreamGaps(t, v.name, sess, []int{1, streamBatchBytes})
		})
	}
}

// TestScanReferBack checks which abbreviation tables make a streaming
// session keep the entries of every segment: those whose names may resolve
// through a reference out of their unit, and those it cannot read.
func TestScanReferBack(t *testing.T) {
	sub := func(attr, form uint64) abbrevSpec {
		return abbrevSpec{code: 2, tag: tagSubprogram, attrs: [][2]uint64{{atName, formStrp}, {attr, form}}}
	}
	cu := abbrevSpec{code: 1, tag: tagCompileUnit, children: true, attrs: [][2]uint64{{atName, formString}}}
	// DW_AT_decl_file (0x3a) with an implicit constant, then a reference.
	implicit := (&w{}).uleb(1).uleb(tagSubprogram).u8(0).
		uleb(0x3a).uleb(formImplicitConst).sleb(-3).
		uleb(atAbstractOrigin).uleb(formRef4).uleb(0).uleb(0).uleb(0).b
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"unit-relative references", abbrevTableBytes(cu, sub(atAbstractOrigin, formRef4), abbrevSpec{code: 3, tag: tagSubprogram, attrs: [][2]uint64{{atSpecification, formRef2}}}), false},
		{"no references", abbrevTableBytes(cu), false},
		{"DW_FORM_ref_addr", abbrevTableBytes(cu, sub(atAbstractOrigin, formRefAddr)), true},
		{"DW_FORM_ref_udata", abbrevTableBytes(cu, sub(atSpecification, formRefUdata)), true},
		{"DW_FORM_ref8", abbrevTableBytes(cu, sub(atAbstractOrigin, formRef8)), true},
		{"DW_FORM_indirect", abbrevTableBytes(cu, sub(atSpecification, formIndirect)), true},
		{"other attributes", abbrevTableBytes(cu, sub(0x49, formRefAddr)), false}, // DW_AT_type
		{"implicit constant", implicit, false},
		{"truncated", abbrevTableBytes(cu, sub(atAbstractOrigin, formRef4))[:5], true},
	}
	for _, tt := range tests {
		left := 1 << 20
		if got := scanReferBack(tt.data, 0, false, &left); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	// A table read past the bytes left answers yes.
	data := abbrevTableBytes(cu, sub(atAbstractOrigin, formRef4))
	left := 3
	if !scanReferBack(data, 0, false, &left) {
		t.Error("a scan out of bytes answered no")
	}
}

// TestStreamReportsWalkErrors checks that a unit the walk cannot read ends
// the streaming iteration with the error the whole-program walk reports,
// after functions of the units before it.
func TestStreamReportsWalkErrors(t *testing.T) {
	s := largeFixtureDWARF(t)
	headers, err := unitHeaders(s.Info, false)
	if err != nil || len(headers) < 4 {
		t.Fatalf("%d units, %v", len(headers), err)
	}
	info := append([]byte(nil), s.Info...)
	copy(info[headers[len(headers)/2].dieOff:], []byte{0xff, 0xff, 0xff, 0x7f})
	s.Info = info
	sess, want := wholeProgramError(t, s)
	n := 0
	err = sess.stream(1, false, func(*CompactFunction) bool { n++; return true })
	if want == nil || err == nil || err.Error() != want.Error() {
		t.Errorf("error %v, whole-program walk %v", err, want)
	}
	if n == 0 {
		t.Error("no function of the units before the corrupt one was yielded")
	}
}

// TestStreamReportsLineErrors checks that a line table that cannot be read
// ends the streaming iteration with the error the whole-program walk
// reports, whichever goroutine reads it: in batches of one unit, each
// segment's first table is read while its batch is walked ahead
// (readFirstLines), in one batch by the emission's workers.
func TestStreamReportsLineErrors(t *testing.T) {
	s := largeFixtureDWARF(t)
	// The line tables follow one another; the version of the middle one
	// becomes one no producer writes.
	var tables []int
	for off := 0; off+6 <= len(s.Line); {
		tables = append(tables, off)
		n := int(uint32(s.Line[off]) | uint32(s.Line[off+1])<<8 | uint32(s.Line[off+2])<<16 | uint32(s.Line[off+3])<<24)
		if n == 0 || n >= 0xfffffff0 {
			t.Fatalf("line table at %#x: length %#x", off, n)
		}
		off += 4 + n
	}
	if len(tables) < 4 {
		t.Fatalf("%d line tables", len(tables))
	}
	line := append([]byte(nil), s.Line...)
	bad := tables[len(tables)/2]
	line[bad+4], line[bad+5] = 99, 0
	s.Line = line
	sess, want := wholeProgramError(t, s)
	if want == nil {
		t.Fatal("the whole-program walk read a line table of version 99")
	}
	for _, batch := range []int{1, len(s.Info)} {
		n := 0
		err := sess.stream(batch, false, func(*CompactFunction) bool { n++; return true })
		if err == nil || err.Error() != want.Error() {
			t.Errorf("batches of %d: error %v, whole-program walk %v", batch, err, want)
		}
		if batch == 1 && n == 0 {
			t.Error("no function of the units before the corrupt table was yielded")
		}
	}
}

// largeFixtureDWARF returns the DWARF sections of the generated large
// fixture, skipping the test when it has not been built.
func largeFixtureDWARF(t *testing.T) *Sections {
	t.Helper()
	home, _ := os.UserHomeDir()
	m, _ := filepath.Glob(filepath.Join(home, ".cache/cairn/fixtures/elf-x86_64-gcc-O2-large-*/large"))
	if len(m) == 0 {
		t.Skip("no large fixture")
	}
	return elfDWARF(t, m[0])
}

// wholeProgramError returns a session over s and the last error its
// whole-program walk reports, the one a streaming walk is held to.
func wholeProgramError(t *testing.T, s *Sections) (*Session, error) {
	t.Helper()
	sess, err := NewSessionFromSections(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want error
	for _, err := range sess.TransientCompactFunctions() {
		if err != nil {
			want = err
		}
	}
	return sess, want
}
