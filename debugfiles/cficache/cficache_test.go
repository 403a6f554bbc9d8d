package cficache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/dwarf/cfi"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/pe"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// build writes and reopens the cficache of a builder.
func build(t testing.TB, b *Builder) *Cache {
	t.Helper()
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	c, err := New(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(); err != nil {
		t.Fatal(err)
	}
	return c
}

// sameRow compares a cache row with a table row normalized as the builder
// normalizes it.
func sameRow(arch unwind.Arch, want *unwind.Row, got *unwind.Row) bool {
	n, ok := normalize(arch, want, nil)
	if !ok {
		return false
	}
	if !n.CFA.Equal(got.CFA) || n.RA != got.RA || n.Flags != got.Flags || len(n.Regs) != len(got.Regs) {
		return false
	}
	for i := range n.Regs {
		if n.Regs[i].Reg != got.Regs[i].Reg || !n.Regs[i].Rule.Equal(got.Regs[i].Rule) {
			return false
		}
	}
	return true
}

// TestTablesRoundTrip builds the cficache of ELF and Mach-O fixtures (DWARF
// CFI in .eh_frame and .debug_frame, compact unwind, arm64 pointer
// authentication) and checks that it answers exactly what the tables
// answer, normalized (DWARF expressions as postfix), at the start of every
// row and at random addresses inside rows.
func TestTablesRoundTrip(t *testing.T) {
	for _, name := range []string{
		"elf-x86_64-gcc-O2", "elf-x86_64-clang-O2", "elf-x86_64-gcc-O0", "elf-aarch64-gcc-O2",
		"elf-aarch64-gcc-O2-pac", "elf-aarch64-clang-O2", "macho:x86_64", "macho:arm64",
	} {
		t.Run(name, func(t *testing.T) {
			var path string
			if arch, ok := strings.CutPrefix(name, "macho:"); ok {
				path = machoUnwindBinary(t, arch)
			} else {
				path = fixtures.Get(t, name)
			}
			a, err := loader.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			for _, obj := range a.Objects {
				tables, err := unwind.Tables(obj)
				if err != nil {
					t.Fatal(err)
				}
				b, err := Build(obj)
				if err != nil {
					t.Fatal(err)
				}
				c := build(t, b)
				arch := unwind.ArchFromName(obj.Arch())
				if c.Arch() != arch || c.DebugID() != obj.DebugID() {
					t.Errorf("header: %v %v, want %v %v", c.Arch(), c.DebugID(), arch, obj.DebugID())
				}
				rng := rand.New(rand.NewPCG(1, 2))
				var checked, bad, got int
				var row unwind.Row
				for _, tb := range tables {
					for r, err := range tb.Rows() {
						if err != nil {
							continue
						}
						for _, addr := range []uint64{r.Start, r.Start + rng.Uint64N(max(r.End-r.Start, 1))} {
							want, ok, err := unwind.Lookup(tables, addr)
							if err != nil || !ok {
								continue
							}
							if _, expressible := normalize(arch, &want, nil); !expressible {
								if c.Lookup(addr, &row) {
									t.Errorf("%#x: cache has a row where the CFA cannot be expressed", addr)
								}
								continue
							}
							checked++
							if !c.Lookup(addr, &row) {
								bad++
								if bad < 5 {
									t.Errorf("%#x: no row in the cache", addr)
								}
								continue
							}
							if !sameRow(arch, &want, &row) {
								bad++
								if bad < 5 {
									t.Errorf("%#x: cache %+v, table %+v", addr, row, want)
								}
								continue
							}
							got++
						}
					}
				}
				st := b.Stats()
				t.Logf("%s %s: %d/%d lookups agree; %d rows, %d rule sets, %d bytes, %d unexpressible, %d malformed",
					obj.Arch(), obj.DebugID(), got, checked, st.Rows, st.RuleSets, c.Size(), st.Unexpressible, st.Malformed)
				if checked == 0 {
					t.Error("nothing checked")
				}
			}
		})
	}
}

// machoSource has functions of every shape compact unwind encodes: a
// leaf, small and large frameless frames, saved registers, and a dynamic
// alloca, for which compact unwind defers to __eh_frame.
const machoSource = `int g(int);
__attribute__((noinline)) int leaf(int x) { return x * 3; }
__attribute__((noinline)) int small(int a) { volatile int arr[8]; for (int i = 0; i < 8; i++) arr[i] = a + i; return arr[a & 7]; }
__attribute__((noinline)) int big(int a) { volatile char arr[5000]; for (int i = 0; i < 5000; i++) arr[i] = a + i; return arr[a % 5000]; }
__attribute__((noinline)) int calls(int a, int b, int c, int d, int e) { int x = g(a), y = g(b), z = g(c), w = g(d), v = g(e); return g(x + y) + g(z + w) + v + x * y * z; }
__attribute__((noinline)) int dyn(int n) { volatile char *p = __builtin_alloca(n); p[0] = 1; return g(p[n / 2]); }
int g(int x) { return x + 1; }
int main(void) { return small(1) + big(2) + calls(1, 2, 3, 4, 5) + dyn(10) + leaf(3); }
`

// machoUnwindBinary builds machoSource into a Mach-O executable with
// compact unwind information (clang-14 and ld64.lld-14).
func machoUnwindBinary(t *testing.T, arch string) string {
	t.Helper()
	for _, tool := range []string{"clang-14", "ld64.lld-14"} {
		if _, err := exec.LookPath(tool); err != nil {
			testtools.Missing(t, tool, "apt-get install clang-14 lld-14")
		}
	}
	dir := t.TempDir()
	src, obj, bin := filepath.Join(dir, "u.c"), filepath.Join(dir, "u.o"), filepath.Join(dir, "u")
	if err := os.WriteFile(src, []byte(machoSource), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"clang-14", "--target=" + arch + "-apple-macos11", "-O2", "-fno-stack-protector", "-funwind-tables", "-c", src, "-o", obj},
		{"ld64.lld-14", "-arch", arch, "-platform_version", "macos", "11.0", "11.0", "-e", "_main", "-o", bin, obj},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin
}

// TestPEAgainstDWARF checks the rows made from x64 unwind codes against an
// independent description of the same functions: MinGW's gcc writes both
// .pdata/.xdata and DWARF .debug_frame. At the start of every function and
// at the end of its prolog both must give the same CFA (as rsp plus an
// offset, where neither uses a frame pointer), the return address at
// CFA-8, and the same save slots for the registers both describe.
// Addresses inside epilogs are not compared: unwind codes do not describe
// them (Windows recognizes epilogs by their instructions).
func TestPEAgainstDWARF(t *testing.T) {
	path := fixtures.Get(t, "pe-x86_64-mingw-O2")
	o, err := pe.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	data, _, err := o.Section(".debug_frame")
	if err != nil {
		t.Skip("fixture has no .debug_frame")
	}
	df, err := cfi.New(cfi.Section{Kind: cfi.DebugFrame, Data: data}, cfi.Options{Arch: unwind.ArchAMD64, AddressSize: 8, Bias: o.LoadAddress()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	c := build(t, b)
	ut, err := o.UnwindTable()
	if err != nil {
		t.Fatal(err)
	}
	var row unwind.Row
	var compared, agree int
	for _, rf := range ut.Functions() {
		chain, err := o.X64UnwindChain(rf)
		if err != nil || len(chain) == 0 {
			continue
		}
		for _, addr := range []uint64{uint64(rf.Begin), uint64(rf.Begin) + uint64(chain[0].PrologSize)} {
			want, ok, err := df.Lookup(addr)
			if err != nil || !ok || addr >= uint64(rf.End) {
				continue
			}
			if !c.Lookup(addr, &row) {
				t.Errorf("%#x: no row", addr)
				continue
			}
			if want.CFA.Kind != unwind.RuleRegOffset || want.CFA.Reg != 7 || row.CFA.Reg != 7 {
				continue // a frame pointer on either side: formulations differ
			}
			compared++
			ok = want.CFA.Equal(row.CFA) && row.Rule(16).Equal(unwind.Rule{Kind: unwind.RuleOffset, Offset: -8})
			for _, rr := range want.Regs {
				if rr.Reg == 16 || rr.Rule.Kind != unwind.RuleOffset {
					continue
				}
				if got := row.Rule(rr.Reg); got.Kind != unwind.RuleUnspecified && !got.Equal(rr.Rule) {
					ok = false
				}
			}
			if !ok {
				t.Errorf("%#x: unwind codes give %+v, DWARF %+v", addr, row, want)
				continue
			}
			agree++
		}
	}
	t.Logf("%d/%d function starts and prolog ends agree with .debug_frame", agree, compared)
	if compared == 0 {
		t.Error("nothing compared")
	}
}

// symFile builds a cficache from symbol file text.
func symFile(t *testing.T, arch unwind.Arch, text string) *Cache {
	t.Helper()
	b := NewBuilder(Info{Arch: arch})
	b.AddSymbolFile([]byte(text))
	return build(t, b)
}

// TestBreakpadSemantics pins the STACK record rules of Breakpad's
// processor that a plain reading of the format would get wrong.
func TestBreakpadSemantics(t *testing.T) {
	c := symFile(t, unwind.ArchAMD64, `MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 a
STACK CFI 1008 .cfa: $rsp 99 +
STACK CFI INIT 1000 20 .cfa: $rsp 8 + .ra: .cfa -8 + ^
STACK CFI 1004 .cfa: $rsp 16 + $rbx: .cfa -16 + ^
STACK CFI INIT 1010 20 .cfa: $rsp 32 + .ra: .cfa -8 + ^
STACK CFI INIT 2000 10 .cfa: $rsp 8 +
STACK CFI INIT 3000 10 .cfa: $rsp 8 + .ra: .cfa -8 + ^
STACK CFI 3004 .cfa: $rsp 24 +
STACK CFI 3004 .cfa: $rsp 40 +
`)
	var row unwind.Row
	check := func(addr uint64, cfaOff int64, hasRBX bool) {
		t.Helper()
		if !c.Lookup(addr, &row) {
			t.Fatalf("%#x: no row", addr)
		}
		if row.CFA.Kind != unwind.RuleRegOffset || row.CFA.Reg != 7 || row.CFA.Offset != cfaOff {
			t.Errorf("%#x: CFA %+v, want rsp%+d", addr, row.CFA, cfaOff)
		}
		if got := row.Rule(3).Kind == unwind.RuleOffset; got != hasRBX {
			t.Errorf("%#x: rbx rule %v, want %v", addr, got, hasRBX)
		}
	}
	check(0x1000, 8, false)
	check(0x1004, 16, true)
	// A delta before any INIT still applies to the INIT holding it.
	check(0x1008, 99, true)
	check(0x101f, 99, true)
	// The overlapping INIT at 0x1010 was refused; the first one owns the
	// range, and nothing covers what only the second one described.
	if c.Lookup(0x1025, &row) {
		t.Error("0x1025: the refused INIT record was kept")
	}
	// No .ra: Breakpad cannot unwind there.
	if c.Lookup(0x2000, &row) {
		t.Error("0x2000: row without a return address rule")
	}
	// Of two deltas at one address, the later wins.
	check(0x3004, 40, false)

	w := symFile(t, unwind.ArchX86, `MODULE windows x86 0123456789ABCDEF0123456789ABCDEF1 a.pdb
FUNC 100 100 8 f
FUNC 180 100 c overlapping
STACK WIN 0 100 100 0 0 4 0 0 0 0 1
STACK WIN 4 110 20 0 0 4 8 0 0 1 $T0 $esp =
STACK WIN 4 110 20 0 0 4 8 0 0 1 equal range dropped
STACK WIN 4 118 4 0 0 4 8 0 0 1 inner
STACK WIN 4 120 20 0 0 4 8 0 0 1 partial overlap dropped
STACK WIN 2 300 10 0 0 4 8 0 0 1 never looked up
`)
	for _, tc := range []struct {
		addr    uint64
		typ     uint8
		program string
		ok      bool
	}{
		{0x100, 0, "", true},
		{0x110, 4, "$T0 $esp =", true},
		{0x118, 4, "inner", true},
		{0x11c, 4, "$T0 $esp =", true},
		{0x12f, 4, "$T0 $esp =", true},
		{0x130, 0, "", true},
		{0x300, 0, "", false},
	} {
		wf, ok := w.LookupWin(tc.addr)
		if ok != tc.ok || ok && (wf.Type != tc.typ || wf.Program != tc.program) {
			t.Errorf("%#x: %+v %v, want type %d %q", tc.addr, wf, ok, tc.typ, tc.program)
		}
	}
	if p, ok := w.ParamSize(0x1ff); !ok || p != 8 {
		t.Errorf("param size at 0x1ff: %d %v, want 8 (the overlapping FUNC is refused)", p, ok)
	}
	if _, ok := w.ParamSize(0x200); ok {
		t.Error("param size at 0x200: the overlapping FUNC was kept")
	}
}

// TestNestedFlatten checks the nesting rules of Breakpad's
// ContainedRangeMap on frame data.
func TestNestedFlatten(t *testing.T) {
	recs := []rangeRef{
		{0x10, 0x20, 10}, // adopted by the next
		{0x00, 0x40, 11},
		{0x12, 0x14, 12}, // inside the first
		{0x18, 0x28, 13}, // partial overlap with the first: refused
		{0x10, 0x20, 14}, // equal to the first: refused
		{0x50, 0x60, 15}, // a cluster of its own
		{0x70, 0x80, 16}, // the next cluster reuses the first's nodes
		{0x72, 0x74, 17},
	}
	got := nestedFlatten(recs)
	want := []rangeRef{{0x00, 0x10, 11}, {0x10, 0x12, 10}, {0x12, 0x14, 12}, {0x14, 0x20, 10}, {0x20, 0x40, 11},
		{0x50, 0x60, 15}, {0x70, 0x72, 16}, {0x72, 0x74, 17}, {0x74, 0x80, 16}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// TestLookupAllocatesNothing checks the zero-allocation promise.
func TestLookupAllocatesNothing(t *testing.T) {
	c := symFile(t, unwind.ArchAMD64, `MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 a
STACK CFI INIT 1000 20 .cfa: $rsp 8 + .ra: .cfa -8 + ^ $rbx: $rsp 3 * ^
`)
	row := unwind.Row{Regs: make([]unwind.RegRule, 0, 32)}
	if n := testing.AllocsPerRun(100, func() { c.Lookup(0x1004, &row) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { c.LookupWin(0x1004); c.ParamSize(0x1004) }); n != 0 {
		t.Errorf("LookupWin allocates %v times", n)
	}
}

// TestOpenRejects checks the validation at open.
func TestOpenRejects(t *testing.T) {
	b := NewBuilder(Info{Arch: unwind.ArchAMD64, DebugID: debugid.ID{GUID: [16]byte{1, 2, 3}, Age: 4}})
	b.AddSymbolFile([]byte("MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 a\nSTACK CFI INIT 1000 20 .cfa: $rsp 8 + .ra: .cfa -8 + ^\n"))
	good, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func([]byte)) []byte { b := bytes.Clone(good); f(b); return b }
	for name, data := range map[string][]byte{
		"short":     good[:10],
		"magic":     mutate(func(b []byte) { b[0] = 'X' }),
		"size":      good[:len(good)-1],
		"section":   mutate(func(b []byte) { b[offRules] = 0xff; b[offRules+1] = 0xff }),
		"headersz":  mutate(func(b []byte) { b[offHeaderSize] = 1 }),
		"truncated": append(bytes.Clone(good), 0),
	} {
		if _, err := New(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	v := mutate(func(b []byte) { b[offVersion] = 99 })
	if _, err := New(v); !errors.Is(err, ErrVersion) {
		t.Errorf("version: %v, want ErrVersion", err)
	}
	bad := mutate(func(b []byte) { b[len(b)-1] ^= 0xff })
	c, err := New(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("checksum: %v, want ErrCorrupt", err)
	}
	// The header alone gives the debug id, and rejects what New rejects
	// in the header.
	if id, err := ReadDebugID(bytes.NewReader(good), int64(len(good))); err != nil || id != mustNew(t, good).DebugID() || id.IsZero() {
		t.Errorf("ReadDebugID = %v, %v", id, err)
	}
	for name, data := range map[string][]byte{"short": good[:10], "magic": mutate(func(b []byte) { b[0] = 'X' }), "size": good[:len(good)-1]} {
		if _, err := ReadDebugID(bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadDebugID %s: %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := ReadDebugID(bytes.NewReader(v), int64(len(v))); !errors.Is(err, ErrVersion) {
		t.Errorf("ReadDebugID version: %v, want ErrVersion", err)
	}
}

func mustNew(t *testing.T, b []byte) *Cache {
	t.Helper()
	c, err := New(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWriteObject converts a Breakpad symbol file through Write and the
// generic Build path.
func TestWriteObject(t *testing.T) {
	text := "MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 a\nSTACK CFI INIT 1000 20 .cfa: $rsp 8 + .ra: .cfa -8 + ^\n"
	o, err := breakpad.NewObject(bytes.NewReader([]byte(text)), int64(len(text)), "a.sym")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := Write(&buf, debugfiles.Object(o))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 2 || st.RuleSets != 1 {
		t.Errorf("stats %+v", st)
	}
	c, err := New(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var row unwind.Row
	if !c.Lookup(0x1010, &row) || row.Start != 0x1000 || row.End != 0x1020 {
		t.Errorf("lookup: %+v", row)
	}
}

// TestSymbolStackMatchesCache checks, on every symbol file of the peer
// fixtures, that the lookups answered straight from a symbol file
// (SymbolStack) equal those of the cficache built from it, at the start
// of every row and every frame data range.
func TestSymbolStackMatchesCache(t *testing.T) {
	peers := testtools.PeersDir(t)
	files, _ := filepath.Glob(filepath.Join(peers, "*", "symbols", "*", "*", "*.sym"))
	more, _ := filepath.Glob(filepath.Join(peers, "*", "symbols", "*", "*", "*", "*.sym"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no symbol files")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			line, _, _ := strings.Cut(string(data), "\n")
			f := strings.Fields(line)
			if len(f) < 3 {
				t.Fatalf("bad MODULE line %q", line)
			}
			arch := unwind.ArchFromName(breakpad.SentryArch(f[2]))
			st := NewSymbolStack(arch, data)
			b := NewBuilder(Info{Arch: arch})
			b.AddSymbolFile(data)
			c := build(t, b)
			var a, r unwind.Row
			n := 0
			for i := 0; i+indexRecord <= len(c.cfi); i += indexRecord {
				addr := uint64(binary.LittleEndian.Uint32(c.cfi[i:]))
				for _, x := range []uint64{addr, addr + 1} {
					okA, okR := st.Lookup(x, &a), c.Lookup(x, &r)
					// Ranges may differ: the cache merges adjacent ranges
					// with the same rules.
					if okA != okR || okA && (r.Start > a.Start || r.End < a.End || !sameRow(arch, &a, &r)) {
						t.Fatalf("%#x: stack %v %+v, cache %v %+v", x, okA, a, okR, r)
					}
					n++
				}
			}
			for i := 0; i+indexRecord <= len(c.win); i += indexRecord {
				addr := uint64(binary.LittleEndian.Uint32(c.win[i:]))
				wa, okA := st.LookupWin(addr)
				wr, okR := c.LookupWin(addr)
				if okA != okR || wa != wr {
					t.Fatalf("%#x: stack %v %+v, cache %v %+v", addr, okA, wa, okR, wr)
				}
				pa, okA := st.ParamSize(addr)
				pr, okR := c.ParamSize(addr)
				if okA != okR || pa != pr {
					t.Fatalf("%#x: param size %d %v, cache %d %v", addr, pa, okA, pr, okR)
				}
				n++
			}
			// The records read one by one (copied, not parsed in place)
			// give the same cache.
			o, err := breakpad.NewObject(bytes.NewReader(data), int64(len(data)), path)
			if err != nil {
				t.Fatal(err)
			}
			fromRecords, err := Build(o)
			if err != nil {
				t.Fatal(err)
			}
			var x, y bytes.Buffer
			if _, err := fromRecords.WriteTo(&x); err != nil {
				t.Fatal(err)
			}
			b = NewBuilder(InfoOf(o))
			b.AddSymbolFile(data)
			if _, err := b.WriteTo(&y); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(x.Bytes(), y.Bytes()) {
				t.Errorf("the cache built from records (%d bytes) differs from the one built in place (%d bytes)", x.Len(), y.Len())
			}
			t.Logf("%d lookups agree", n)
		})
	}
}
