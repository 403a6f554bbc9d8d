package macho

import (
	"bufio"
	"encoding/binary"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/dwarf/cfi"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

// unwindBinary is a test image with compact unwind information and the
// object file it was linked from (whose __eh_frame describes every
// function, for comparison).
type unwindBinary struct {
	name, path, object string
}

// buildUnwindBinaries compiles testdata/unwind.c for x86_64 and arm64,
// with and without frame pointers, and testdata/unwind_eh.cpp into an
// arm64 dylib (personality and LSDA).
func buildUnwindBinaries(t *testing.T) []unwindBinary {
	t.Helper()
	requireTools(t)
	dir := t.TempDir()
	var out []unwindBinary
	run := func(args ...string) {
		t.Helper()
		if b, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	src, _ := filepath.Abs("testdata/unwind.c")
	for _, arch := range []string{"x86_64", "arm64"} {
		for _, fp := range []string{"", "-fomit-frame-pointer"} {
			name := arch + fp
			obj := filepath.Join(dir, name+".o")
			bin := filepath.Join(dir, name)
			args := []string{"clang-14", "--target=" + arch + "-apple-macos11", "-O2", "-fno-stack-protector", "-funwind-tables", "-c", src, "-o", obj}
			if fp != "" {
				args = append(args, fp)
			}
			run(args...)
			run("ld64.lld-14", "-arch", arch, "-platform_version", "macos", "11.0", "11.0", "-e", "_main", "-o", bin, obj)
			out = append(out, unwindBinary{name, bin, obj})
		}
	}
	eh, _ := filepath.Abs("testdata/unwind_eh.cpp")
	obj, lib := filepath.Join(dir, "eh.o"), filepath.Join(dir, "eh.dylib")
	run("clang++-14", "--target=arm64-apple-macos11", "-O2", "-nostdinc++", "-c", eh, "-o", obj)
	run("ld64.lld-14", "-arch", "arm64", "-platform_version", "macos", "11.0", "11.0", "-dylib", "-undefined", "dynamic_lookup", "-o", lib, obj)
	return append(out, unwindBinary{"arm64-eh-dylib", lib, obj})
}

func compactOf(t *testing.T, path string) (*Object, *CompactTable, []unwind.Table) {
	t.Helper()
	objs, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objs[0].Close() })
	tables, err := objs[0].UnwindTables()
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if c, ok := tb.(*CompactTable); ok {
			return objs[0], c, tables
		}
	}
	t.Fatalf("%s: no compact unwind table", path)
	return nil, nil, nil
}

var (
	objdumpEntry = regexp.MustCompile(`^\s+\[\d+\]: function offset=0x([0-9a-f]+), encoding(?:\[\d+\])?=0x([0-9a-f]+)`)
	objdumpLSDA  = regexp.MustCompile(`^\s+\[\d+\]: function offset=0x([0-9a-f]+), LSDA offset=0x([0-9a-f]+)`)
	objdumpPers  = regexp.MustCompile(`^\s+personality\[\d+\]: 0x([0-9a-f]+)`)
)

// TestCompactUnwindAgainstObjdump compares every function offset,
// encoding, LSDA and personality with llvm-objdump --unwind-info.
func TestCompactUnwindAgainstObjdump(t *testing.T) {
	for _, b := range buildUnwindBinaries(t) {
		t.Run(b.name, func(t *testing.T) {
			out, err := exec.Command("llvm-objdump-14", "--unwind-info", b.path).Output()
			if err != nil {
				t.Fatal(err)
			}
			type ent struct{ fn, enc uint64 }
			var want []ent
			lsda := map[uint64]uint64{}
			var pers []uint64
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			inSecond := false
			for sc.Scan() {
				l := sc.Text()
				if strings.Contains(l, "Second level indices") {
					inSecond = true
				}
				if m := objdumpEntry.FindStringSubmatch(l); m != nil && inSecond {
					fn, _ := strconv.ParseUint(m[1], 16, 64)
					enc, _ := strconv.ParseUint(m[2], 16, 64)
					want = append(want, ent{fn, enc})
				} else if m := objdumpLSDA.FindStringSubmatch(l); m != nil {
					fn, _ := strconv.ParseUint(m[1], 16, 64)
					v, _ := strconv.ParseUint(m[2], 16, 64)
					lsda[fn] = v
				} else if m := objdumpPers.FindStringSubmatch(l); m != nil {
					v, _ := strconv.ParseUint(m[1], 16, 64)
					pers = append(pers, v)
				}
			}
			_, c, _ := compactOf(t, b.path)
			got := c.Entries()
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d entries, llvm-objdump %d", len(got), len(want))
			}
			withLSDA := 0
			for i, w := range want {
				g := got[i]
				if g.Start != w.fn || uint64(g.Encoding) != w.enc {
					t.Errorf("entry %d: %#x %#08x, llvm-objdump %#x %#08x", i, g.Start, g.Encoding, w.fn, w.enc)
				}
				if g.LSDA != lsda[w.fn] {
					t.Errorf("entry %d: LSDA %#x, llvm-objdump %#x", i, g.LSDA, lsda[w.fn])
				}
				if g.LSDA != 0 {
					withLSDA++
				}
				if p := (g.Encoding & cuPersonalityMask) >> 28; p != 0 && (int(p) > len(pers) || g.Personality != pers[p-1]) {
					t.Errorf("entry %d: personality %#x, llvm-objdump %v", i, g.Personality, pers)
				}
			}
			t.Logf("%d functions, %d with an LSDA, %d personality routines agree with llvm-objdump", len(want), withLSDA, len(pers))
		})
	}
}

// TestCompactUnwindRows checks the rows decoded from each encoding against
// the object file's __eh_frame, which clang writes for every function: the
// row in effect over most of the function's body (after the prologue,
// before the epilogue) must have the same CFA and the same saved registers.
func TestCompactUnwindRows(t *testing.T) {
	modes := map[string]int{}
	for _, b := range buildUnwindBinaries(t) {
		t.Run(b.name, func(t *testing.T) {
			img, c, _ := compactOf(t, b.path)
			objs, err := Open(b.object)
			if err != nil {
				t.Fatal(err)
			}
			defer objs[0].Close()
			o := objs[0]
			data, addr, ok := o.Section("__TEXT", "__eh_frame")
			if !ok {
				// clang writes arm64 object files with __compact_unwind
				// only; TestCompactUnwindHandMade covers arm64 decoding.
				t.Skip("the object file has no __eh_frame to compare with")
			}
			eh, err := cfi.New(cfi.Section{Kind: cfi.EHFrame, Data: data, Addr: addr}, cfi.Options{Arch: c.Arch()})
			if err != nil {
				t.Fatal(err)
			}
			objAddr := map[string]uint64{}
			for s := range o.Symbols() {
				objAddr[s.Name] = s.Address
			}
			checked := 0
			for s := range img.Symbols() {
				oa, ok := objAddr[s.Name]
				if !ok {
					continue
				}
				row, ok, err := c.Lookup(s.Address)
				if e := entryAt(c, s.Address); err != nil && c.isDWARF(e.Encoding) && e.Encoding&cuDWARFOffsetMask == 0 {
					// ld64.lld-14 leaves the FDE offset of DWARF-mode
					// encodings 0 (the CIE); Apple's linker fills it in.
					t.Logf("%s: DWARF mode without an FDE offset (a linker bug): %v", s.Name, err)
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", s.Name, err)
				}
				if !ok {
					continue
				}
				want := bodyRow(t, eh, oa)
				if want == nil {
					continue
				}
				if g, w := rowString(c.Arch(), &row), rowString(c.Arch(), want); g != w {
					t.Errorf("%s (encoding %#08x): compact %s, __eh_frame %s", s.Name, entryAt(c, s.Address).Encoding, g, w)
				}
				modes[strconv.FormatUint(uint64(entryAt(c, s.Address).Encoding&cuModeMask>>24), 10)]++
				checked++
			}
			t.Logf("%d functions agree with the object's __eh_frame", checked)
		})
	}
	t.Logf("functions checked by mode: %v", modes)
}

func entryAt(c *CompactTable, addr uint64) CompactEntry {
	for _, e := range c.Entries() {
		if addr >= e.Start && addr < e.End {
			return e
		}
	}
	return CompactEntry{}
}

// bodyRow is the row of the FDE at start covering the most bytes.
func bodyRow(t *testing.T, eh *cfi.Table, start uint64) *unwind.Row {
	t.Helper()
	var best *unwind.Row
	for row, err := range eh.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		if row.Entry.Start != start {
			continue
		}
		if best == nil || row.End-row.Start > best.End-best.Start {
			r := row.Clone()
			best = &r
		}
	}
	return best
}

// rowString renders the CFA and the saved registers of a row; a return
// address without a rule is the same as one said to be in its register.
func rowString(arch unwind.Arch, r *unwind.Row) string {
	var b strings.Builder
	b.WriteString("cfa=" + r.CFA.Format(arch))
	for _, rr := range r.Regs {
		if rr.Rule.Kind == unwind.RuleSameValue {
			continue
		}
		b.WriteString(" " + arch.RegName(rr.Reg) + "=" + rr.Rule.Format(arch))
	}
	return b.String()
}

// TestCompactUnwindHandMade decodes a hand-made section with a regular
// page, a compressed page with page-local encodings, and encodings of each
// mode.
func TestCompactUnwindHandMade(t *testing.T) {
	le := binary.LittleEndian
	var sec []byte
	u32 := func(v uint32) { sec = le.AppendUint32(sec, v) }
	u16 := func(v uint16) { sec = le.AppendUint16(sec, v) }
	// Header: one common encoding, no personalities, three index entries.
	u32(1)
	u32(28)
	u32(1)
	u32(32)
	u32(0)
	u32(32)
	u32(3)
	u32(0x04000001) // common[0]: arm64 frame saving x19/x20
	// Index at 32: two pages and the sentinel.
	u32(0x1000)
	u32(68)
	u32(68)
	u32(0x2000)
	u32(92)
	u32(68)
	u32(0x3000)
	u32(0)
	u32(68)
	// Regular page at 68: two entries.
	u32(cuPageRegular)
	u16(8)
	u16(2)
	u32(0x1000)
	u32(0x02003000) // frameless, 3*16 bytes
	u32(0x1800)
	u32(0x04000101) // frame, x19/x20 and d8/d9
	// Compressed page at 92: entries at +12, encodings at +20.
	u32(cuPageCompressed)
	u16(12)
	u16(2)
	u16(20)
	u16(1)
	u32(0 << 24)      // 0x2000, common[0]
	u32(1<<24 | 0x80) // 0x2080, page encoding 0
	u32(0x02001000)   // frameless, 16 bytes
	c, err := ParseCompactUnwind(unwind.ArchARM64, sec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1000-1800 cfa=sp+48",
		"1800-2000 cfa=x29+16 x19=[cfa-24] x20=[cfa-32] x29=[cfa-16] x30=[cfa-8] v8=[cfa-40] v9=[cfa-48]",
		"2000-2080 cfa=x29+16 x19=[cfa-24] x20=[cfa-32] x29=[cfa-16] x30=[cfa-8]",
		"2080-3000 cfa=sp+16",
	}
	var got []string
	for row, err := range c.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strconv.FormatUint(row.Start, 16)+"-"+strconv.FormatUint(row.End, 16)+" "+rowString(unwind.ArchARM64, &row))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Truncations never panic and fail cleanly.
	for n := range sec {
		ParseCompactUnwind(unwind.ArchARM64, sec[:n], nil, nil)
	}
}

// TestPermutedRegisters checks the frameless register permutation against
// values worked out by hand from the encoding's definition.
func TestPermutedRegisters(t *testing.T) {
	for _, tc := range []struct {
		count int
		perm  uint32
		want  []int
	}{
		{1, 0, []int{1}},
		{1, 5, []int{6}},
		{2, 0, []int{1, 2}},
		{2, 5*1 + 0, []int{2, 1}},
		{3, 20*5 + 4*3 + 2, []int{6, 4, 3}},
		{6, 0, []int{1, 2, 3, 4, 5, 6}},
	} {
		got, ok := permutedRegisters(tc.count, tc.perm)
		if !ok || !equalInts(got[:tc.count], tc.want) {
			t.Errorf("permutedRegisters(%d, %d) = %v, %v; want %v", tc.count, tc.perm, got[:tc.count], ok, tc.want)
		}
	}
	if _, ok := permutedRegisters(2, 30); ok {
		t.Error("an out-of-range permutation was accepted")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzCompactUnwind(f *testing.F) {
	le := binary.LittleEndian
	var sec []byte
	for _, v := range []uint32{1, 28, 1, 32, 0, 32, 2, 0x04000001, 0x1000, 56, 56, 0x2000, 0, 56, cuPageCompressed} {
		sec = le.AppendUint32(sec, v)
	}
	sec = le.AppendUint16(sec, 12)
	sec = le.AppendUint16(sec, 1)
	sec = le.AppendUint16(sec, 16)
	sec = le.AppendUint16(sec, 0)
	sec = le.AppendUint32(sec, 0)
	f.Add(sec, true)
	f.Add(sec, false)
	f.Fuzz(func(t *testing.T, data []byte, arm bool) {
		arch := unwind.ArchAMD64
		if arm {
			arch = unwind.ArchARM64
		}
		code := func(addr uint64, n int) []byte {
			if addr%7 == 0 {
				return nil
			}
			return make([]byte, n)
		}
		c, err := ParseCompactUnwind(arch, data, nil, code)
		if err != nil {
			return
		}
		if len(c.Entries()) > len(data) {
			t.Fatalf("%d entries from %d bytes", len(c.Entries()), len(data))
		}
		for range c.Rows() {
		}
		c.Lookup(0x1000)
	})
}
