package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/cficache"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/debugfiles/pe"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/minidump/minidumptest"
	"github.com/cairn-dev/cairn/symbolicator/stackwalk"
)

// peFixture returns the paths of a PE fixture's image and PDB ("" when it
// has none).
func peFixture(t *testing.T, name string) (img, pdbPath string) {
	t.Helper()
	r, _ := fixtures.Lookup(name)
	dir := fixtures.GetDir(t, name)
	img = filepath.Join(dir, r.Outputs[0])
	if len(r.Outputs) > 1 {
		pdbPath = filepath.Join(dir, r.Outputs[1])
	}
	return img, pdbPath
}

// symCache builds the cficache of symbol file text, as the stack walker
// reads a .sym file.
func symCache(t *testing.T, arch unwind.Arch, text string) *cficache.Cache {
	t.Helper()
	b := cficache.NewBuilder(cficache.Info{Arch: arch})
	b.AddSymbolFile([]byte(text))
	return cacheOf(t, b)
}

func cacheOf(t *testing.T, b *cficache.Builder) *cficache.Cache {
	t.Helper()
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	c, err := cficache.New(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cacheBytes builds the cficache of an object.
func cacheBytes(t *testing.T, obj debugfiles.Object) []byte {
	t.Helper()
	b, err := cficache.Build(obj)
	if err != nil {
		t.Fatal(err)
	}
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// objectCache builds the cficache of an object.
func objectCache(t *testing.T, obj debugfiles.Object) *cficache.Cache {
	t.Helper()
	b, err := cficache.Build(obj)
	if err != nil {
		t.Fatal(err)
	}
	return cacheOf(t, b)
}

// sameRules compares two rows' CFA, return address and register rules. A
// register whose rule is itself (".ra: x30", which a symbol file spells
// out for a return address still in its register) has no rule.
func sameRules(a, b *unwind.Row) bool {
	ra, rb := ownRules(a.Regs), ownRules(b.Regs)
	if !a.CFA.Equal(b.CFA) || a.RA != b.RA || len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if ra[i].Reg != rb[i].Reg || !ra[i].Rule.Equal(rb[i].Rule) {
			return false
		}
	}
	return true
}

// ownRules drops the rules that keep a register's value.
func ownRules(regs []unwind.RegRule) []unwind.RegRule {
	var out []unwind.RegRule
	for _, r := range regs {
		if r.Rule.Kind == unwind.RuleSameValue || r.Rule.Kind == unwind.RuleRegister && r.Rule.Reg == r.Reg {
			continue
		}
		out = append(out, r)
	}
	return out
}

// TestDumpSymsStackCFIFromPE is the STACK CFI round trip of PE images: the
// cficache built from the image directly and the one built from the
// STACK CFI records dump-syms writes for it give the same rules (CFA,
// return address, saved registers) at every address of every exception
// table entry. dump-syms of the PDB, which finds the image beside it,
// writes the same records.
func TestDumpSymsStackCFIFromPE(t *testing.T) {
	for _, name := range []string{"pe-x86_64-clang-O2", "pe-x86_64-clang-O0", "pe-x86_64-clang-O2-dll",
		"pe-x86_64-mingw-O2", "pe-x86_64-mingw-clang-O2", "pe-aarch64-clang-O2"} {
		t.Run(name, func(t *testing.T) {
			img, pdbPath := peFixture(t, name)
			out, err := run(t, "dump-syms", img)
			if err != nil {
				t.Fatal(err)
			}
			o, err := pe.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			arch := unwind.ArchFromName(o.Arch())
			direct := objectCache(t, o)
			fromSym := symCache(t, arch, out)
			if rows, _, _ := direct.Counts(); rows == 0 {
				if o.Machine() == pe.MachineARM64 {
					t.Skip("no ARM64 rows from the image")
				}
				t.Fatal("no rows from the image")
			}
			if !strings.Contains(out, "\nSTACK CFI INIT ") {
				t.Fatal("dump-syms wrote no STACK CFI INIT record")
			}
			ut, err := o.UnwindTable()
			if err != nil {
				t.Fatal(err)
			}
			var a, b unwind.Row
			checked := 0
			for _, rf := range ut.Functions() {
				for addr := uint64(rf.Begin); addr < uint64(rf.End); addr++ {
					okA, okB := direct.Lookup(addr, &a), fromSym.Lookup(addr, &b)
					if okA != okB {
						t.Fatalf("%#x: row from the image: %v, from the .sym: %v", addr, okA, okB)
					}
					if okA && !sameRules(&a, &b) {
						t.Fatalf("%#x: image %+v, .sym %+v", addr, a, b)
					}
					if okA {
						checked++
					}
				}
			}
			if checked == 0 {
				t.Fatal("no address checked")
			}
			t.Logf("%d addresses agree", checked)
			if pdbPath != "" {
				// Paired with its PDB, which has no x64 or ARM64 unwind
				// information, the image gives the same cache.
				a, err := loader.Open(img)
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				paired, err := a.WithDebugFile(a.Objects[0], nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := paired.(*loader.Companion); !ok {
					t.Fatalf("image not paired with its PDB: %T", paired)
				}
				if !bytes.Equal(cacheBytes(t, paired), cacheBytes(t, o)) {
					t.Error("the cficache of the image paired with its PDB differs from the image's")
				}
				fromPDB, err := run(t, "dump-syms", pdbPath)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := stackLines(fromPDB), stackLines(out); got != want {
					t.Errorf("dump-syms of the PDB writes other STACK records than dump-syms of the image")
				}
			}
		})
	}
}

// stackLines returns the STACK records of a symbol file.
func stackLines(sym string) string {
	var b strings.Builder
	for _, l := range strings.Split(sym, "\n") {
		if strings.HasPrefix(l, "STACK ") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// reFPO is a record of llvm-pdbutil's "New FPO Data" table: RVA, code,
// locals, params, max stack, prolog, saved registers, three flags and the
// program.
var reFPO = regexp.MustCompile(`(?m)^([0-9A-F]{8}) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+(?:true|false) \|\s+(?:true|false) \|\s+(?:true|false) \| (.*?)\s*$`)

// TestDumpSymsStackWin checks the STACK WIN records of an x86 image and
// its PDB against llvm-pdbutil: every FrameData record it prints is a
// STACK WIN line with the same fields, in hexadecimal (a repeat of the
// record before it excepted, as dump_syms leaves those out). The cficache
// built from the symbol file gives the same frame data as the one built
// from the PDB, from the image paired with its PDB, and from the PDB
// alone, at every address the records cover.
func TestDumpSymsStackWin(t *testing.T) {
	if _, err := exec.LookPath("llvm-pdbutil-14"); err != nil {
		testtools.Missing(t, "llvm-pdbutil-14", "apt-get install -y --no-install-recommends llvm-14")
	}
	img, pdbPath := peFixture(t, "pe-i686-clang-O2")
	out, err := run(t, "dump-syms", img)
	if err != nil {
		t.Fatal(err)
	}
	fromPDB, err := run(t, "dump-syms", pdbPath)
	if err != nil {
		t.Fatal(err)
	}
	if stackLines(out) != stackLines(fromPDB) {
		t.Error("dump-syms of the image and of the PDB write different STACK records")
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "STACK WIN ") {
			lines[l] = true
		}
	}
	dump, err := exec.Command("llvm-pdbutil-14", "dump", "--fpo", pdbPath).Output()
	if err != nil {
		t.Fatal(err)
	}
	hex := func(dec string) string {
		n, _ := strconv.ParseUint(dec, 10, 32)
		return strconv.FormatUint(n, 16)
	}
	var lo, hi uint64 = 1<<64 - 1, 0
	records, prev := 0, ""
	for _, m := range reFPO.FindAllStringSubmatch(string(dump), -1) {
		rva, _ := strconv.ParseUint(m[1], 16, 32)
		key := m[1] + " " + m[2] + " " + m[6]
		if key == prev {
			continue
		}
		prev = key
		code, _ := strconv.ParseUint(m[2], 10, 32)
		lo, hi = min(lo, rva), max(hi, rva+code)
		last := "1 " + strings.TrimSpace(m[8])
		if strings.TrimSpace(m[8]) == "" {
			last = "0 0"
		}
		want := fmt.Sprintf("STACK WIN 4 %x %s %s 0 %s %s %s %s %s", rva, hex(m[2]), hex(m[6]), hex(m[4]), hex(m[7]), hex(m[3]), hex(m[5]), last)
		if !lines[want] {
			t.Errorf("no STACK WIN line for llvm-pdbutil's record: %s", want)
		}
		records++
	}
	if records == 0 {
		t.Fatal("llvm-pdbutil shows no frame data")
	}
	if len(lines) != records {
		t.Errorf("%d STACK WIN lines, llvm-pdbutil %d records", len(lines), records)
	}

	fromSym := symCache(t, unwind.ArchX86, out)
	a, err := loader.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	paired, err := a.WithDebugFile(a.Objects[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := paired.(*loader.Companion); !ok {
		t.Fatalf("image not paired with its PDB: %T", paired)
	}
	p, err := loader.Open(pdbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, src := range []struct {
		name string
		obj  debugfiles.Object
	}{{"companion", paired}, {"pdb", p.Objects[0]}} {
		c := objectCache(t, src.obj)
		for addr := lo; addr < hi; addr++ {
			w1, ok1 := c.LookupWin(addr)
			w2, ok2 := fromSym.LookupWin(addr)
			if ok1 != ok2 || w1 != w2 {
				t.Fatalf("%s: %#x: %+v %v, from the .sym %+v %v", src.name, addr, w1, ok1, w2, ok2)
			}
		}
	}
	t.Logf("%d records; frame data agree over [%#x, %#x)", records, lo, hi)
}

// TestStackwalkFrameDataDirectory walks a synthetic Windows x86 crash in
// the i686 fixture with the fixture's directory of raw files (image and
// PDB) as the symbol path: the unwind information is the PDB's frame
// data, and the caller is found through the record's program, the return
// address at esp plus the record's locals and saved registers.
func TestStackwalkFrameDataDirectory(t *testing.T) {
	img, pdbPath := peFixture(t, "pe-i686-clang-O2")
	o, err := pe.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	p, err := pdb.Open(pdbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tables, err := p.UnwindTables()
	if err != nil || len(tables) != 1 {
		t.Fatalf("%d tables, %v", len(tables), err)
	}
	// A body record with a frame, the innermost at its start, and
	// another record's code to return into.
	var callee, caller unwind.Row
	for r, err := range tables[0].Rows() {
		if err != nil {
			t.Fatal(err)
		}
		in, ok, _ := tables[0].Lookup(r.Start)
		switch {
		case callee.Win == nil && ok && in.Win == r.Win && r.Win.Type == 4 && r.Win.PrologSize == 0 &&
			r.Win.LocalSize+r.Win.SavedRegisterSize > 0 && strings.Contains(r.Win.Program, ".raSearch"):
			callee = r
		case caller.Win == nil && r.End-r.Start > 16 && r.Win.PrologSize > 0:
			caller = r
		}
	}
	if callee.Win == nil || caller.Win == nil {
		t.Fatal("fixture has no suitable frame data records")
	}
	base := o.LoadAddress()
	eip := base + callee.Start
	const sp = 0x10000
	ret := base + caller.Start + 8
	at := callee.Win.LocalSize + callee.Win.SavedRegisterSize
	stack := make([]byte, 0x400)
	binary.LittleEndian.PutUint32(stack[at:], uint32(ret))

	id := o.DebugID()
	var guid [16]byte
	guid[0], guid[1], guid[2], guid[3] = id.GUID[3], id.GUID[2], id.GUID[1], id.GUID[0]
	guid[4], guid[5], guid[6], guid[7] = id.GUID[5], id.GUID[4], id.GUID[7], id.GUID[6]
	copy(guid[8:], id.GUID[8:])
	const cpuX86, osWindows = 0, 2
	d := minidumptest.New()
	d.SystemInfo(cpuX86, osWindows, 10, 0, 19041, "")
	var regs [9]uint32
	regs[7], regs[8] = uint32(eip), sp
	d.Thread(1, sp, stack, minidumptest.X86Context(0x1003f, regs))
	d.Module(base, o.SizeOfImage(), o.TimeDateStamp(), `C:\build\demo.exe`, minidumptest.CodeViewRSDS(guid, id.Age, `C:\build\demo.pdb`))
	paths := &stackwalk.SymbolPaths{Paths: []string{filepath.Dir(img)}}
	defer paths.Close()
	r, err := stackwalk.Process(context.Background(), d.Bytes(), paths, stackwalk.Options{MaxFrames: 2})
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Status(r.Modules[0]); st == nil || st.UnwindStatus != stackwalk.StatusFound {
		t.Fatalf("module status %+v", st)
	}
	frames := r.Threads[0].Frames
	if len(frames) < 2 {
		t.Fatalf("%d frames", len(frames))
	}
	f := &frames[len(frames)-1]
	if f.Trust != stackwalk.TrustCFI || f.Context.PC() != ret || f.Context.SP() != sp+uint64(at)+4 {
		t.Errorf("caller %s pc %#x sp %#x, want cfi %#x %#x", f.Trust, f.Context.PC(), f.Context.SP(), ret, sp+uint64(at)+4)
	}
}
