package pe

import (
	"bufio"
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// arm64Want is an expected row in compact form: [Start, End) from the
// function's start, the CFA register and offset, the saved registers as
// "reg:offset" and whether the return address is signed.
type arm64Want struct {
	start, end uint64
	cfaReg     unwind.Reg
	cfaOff     int64
	regs       string
	signed     bool
}

func (w arm64Want) String() string {
	s := fmt.Sprintf("[%d,%d) cfa=r%d%+d {%s}", w.start, w.end, w.cfaReg, w.cfaOff, w.regs)
	if w.signed {
		s += " signed"
	}
	return s
}

// arm64RowText renders a row like arm64Want, relative to begin.
func arm64RowText(r unwind.Row, begin uint64) string {
	var regs []string
	for _, rr := range r.Regs {
		regs = append(regs, fmt.Sprintf("%d:%d", rr.Reg, rr.Rule.Offset))
	}
	return arm64Want{r.Start - begin, r.End - begin, r.CFA.Reg, r.CFA.Offset, strings.Join(regs, " "), r.Flags&unwind.FlagRASigned != 0}.String()
}

// checkARM64RowsInvariants checks the contract of ARM64Rows on the rows of
// one function [begin, end): ascending, disjoint and covering rows with
// the function as Entry, each with an sp- or x29-based CFA, lr as return
// address and sorted, distinct, CFA-relative register rules in a slice of
// its own, neighbours differing in their rules.
func checkARM64RowsInvariants(t testing.TB, rows []unwind.Row, begin, end uint64) {
	t.Helper()
	if len(rows) > int(end-begin+3)/4 {
		t.Fatalf("%d rows for %d bytes", len(rows), end-begin)
	}
	pos := begin
	backing := map[*unwind.RegRule]int{}
	for i, r := range rows {
		if r.Start != pos || r.End <= r.Start || r.Entry != (unwind.Range{Start: begin, End: end}) {
			t.Fatalf("row %d [%#x,%#x) entry %v: want start %#x in [%#x,%#x)", i, r.Start, r.End, r.Entry, pos, begin, end)
		}
		pos = r.End
		if r.CFA.Kind != unwind.RuleRegOffset || (r.CFA.Reg != arm64DwarfSP && r.CFA.Reg != arm64DwarfFP) || r.RA != arm64DwarfLR {
			t.Fatalf("row %d: CFA %+v, RA %d", i, r.CFA, r.RA)
		}
		for j, rr := range r.Regs {
			if rr.Rule.Kind != unwind.RuleOffset || (j > 0 && r.Regs[j-1].Reg >= rr.Reg) {
				t.Fatalf("row %d: rules %+v", i, r.Regs)
			}
		}
		if cap(r.Regs) > 0 {
			p := &r.Regs[:1][0]
			if j, ok := backing[p]; ok {
				t.Fatalf("rows %d and %d share their rules", j, i)
			}
			backing[p] = i
		}
		if prev := rows[max(i-1, 0)]; i > 0 && prev.CFA.Equal(r.CFA) && prev.Flags == r.Flags &&
			slices.EqualFunc(prev.Regs, r.Regs, func(a, b unwind.RegRule) bool { return a.Reg == b.Reg && a.Rule.Equal(b.Rule) }) {
			t.Fatalf("rows %d and %d have the same rules", i-1, i)
		}
	}
	if len(rows) > 0 && pos != end {
		t.Fatalf("rows end at %#x, function at %#x", pos, end)
	}
}

// arm64Words encodes little-endian words.
func arm64Words(ws ...uint32) []byte {
	var b []byte
	for _, w := range ws {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

// arm64Record assembles an .xdata record: function length in bytes, epilog
// scopes as {offset in bytes, code index}, and the code bytes (padded to
// words with nops).
func arm64Record(length uint32, scopes [][2]uint32, codes ...byte) []byte {
	for len(codes)%4 != 0 {
		codes = append(codes, 0xe3)
	}
	b := arm64Words(length/4 | uint32(len(scopes))<<22 | uint32(len(codes)/4)<<27)
	for _, s := range scopes {
		b = binary.LittleEndian.AppendUint32(b, s[0]/4|s[1]<<22)
	}
	return append(b, codes...)
}

// TestARM64RowsDocumented checks the rows of the examples in Microsoft's
// "ARM64 exception handling" (packed and unpacked, with their .xdata
// words) and of hand-made records for chained fragments, return-address
// signing and malformed epilog scopes. Expected rows are worked out from
// the instructions the examples list, not from the codes.
func TestARM64RowsDocumented(t *testing.T) {
	pack := func(flag, length, regF, regI, h, cr, frame uint32) uint32 {
		return flag | length/4<<2 | regF<<13 | regI<<16 | h<<20 | cr<<21 | frame/16<<23
	}
	const sp, fp = arm64DwarfSP, arm64DwarfFP
	tests := []struct {
		name      string
		packed    uint32 // packed data, or 0 for xdata
		xdata     []byte
		want      []arm64Want
		malformed int
	}{
		{
			// Example 1: str x19,[sp,#-0x10]!; sub sp,sp,#0x810;
			// stp fp,lr,[sp]; mov fp,sp; ...; the packed epilog
			// ldp fp,lr,[sp]; add sp,sp,#0x810; ldr x19,[sp],#16; ret.
			name: "example 1, frame-chained, packed", packed: 0x416101ed,
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 8, sp, 16, "19:-16", false},
				{8, 12, sp, 2080, "19:-16", false},
				{12, 16, sp, 2080, "19:-16 29:-2080 30:-2072", false},
				{16, 476, fp, 2080, "19:-16 29:-2080 30:-2072", false},
				{476, 480, sp, 2080, "19:-16 29:-2080 30:-2072", false},
				{480, 484, sp, 2080, "19:-16", false},
				{484, 488, sp, 16, "19:-16", false},
				{488, 492, sp, 0, "", false},
			},
		},
		{
			// Example 2: stp x19,x20,[sp,#-0x10]!; stp fp,lr,[sp,#-0x90]!;
			// mov fp,sp; ... mov sp,fp; ldp fp,lr,[sp],#0x90;
			// ldp x19,x20,[sp],#0x10; ret. The words are the
			// document's; its scope word puts the epilog at byte 224
			// with its codes at index 4 (the document's comment says
			// 0: the record repeats the prolog's codes).
			name: "example 2, frame-chained, mirrored", xdata: arm64Words(0x1040003d, 0x1000038, 0xe42291e1, 0xe42291e1),
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 8, sp, 16, "19:-16 20:-8", false},
				{8, 12, sp, 160, "19:-16 20:-8 29:-160 30:-152", false},
				{12, 228, fp, 160, "19:-16 20:-8 29:-160 30:-152", false},
				{228, 232, sp, 160, "19:-16 20:-8 29:-160 30:-152", false},
				{232, 236, sp, 16, "19:-16 20:-8", false},
				{236, 240, sp, 0, "", false},
				{240, 244, fp, 160, "19:-16 20:-8 29:-160 30:-152", false},
			},
		},
		{
			// Example 3: sub sp,sp,#0x50; stp x19,lr,[sp]; four
			// homing stp (nop codes); ... ldp x19,lr,[sp];
			// add sp,sp,#0x50; ret.
			name:  "example 3, variadic unchained",
			xdata: arm64Words(0x18400012, 0x200000f, 0xe3e3e3e3, 0xe40500d6, 0xe40500d6),
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 8, sp, 80, "", false},
				{8, 64, sp, 80, "19:-80 30:-72", false},
				{64, 68, sp, 80, "", false},
				{68, 72, sp, 0, "", false},
			},
		},
		{
			// Region 2 of the fragments section: no prolog (end_c
			// first), the parent's prolog phantom, one epilog.
			name:  "epilog-only fragment",
			xdata: arm64Record(32, [][2]uint32{{16, 1}}, 0xe5, 0xe1, 0xc8, 0x1e, 0x9f, 0xe4),
			want: []arm64Want{
				{0, 20, fp, 256, "19:-16 20:-8 29:-256 30:-248", false},
				{20, 24, sp, 256, "19:-16 20:-8 29:-256 30:-248", false},
				{24, 28, sp, 256, "29:-256 30:-248", false},
				{28, 32, sp, 0, "", false},
			},
		},
		{
			// Shrink-wrapping region 2: stp x21,x22,[sp,#224] in the
			// parent's frame, then ldp x21,x22 ending the fragment
			// (an epilog closed by end_c: no return follows).
			name:  "shrink-wrapped fragment",
			xdata: arm64Record(16, [][2]uint32{{12, 0}}, 0xc8, 0x9c, 0xe5, 0xe1, 0xc8, 0x1e, 0x9f, 0xe4),
			want: []arm64Want{
				{0, 4, fp, 256, "19:-16 20:-8 29:-256 30:-248", false},
				{4, 16, fp, 256, "19:-16 20:-8 21:-32 22:-24 29:-256 30:-248", false},
			},
		},
		{
			// pacibsp; stp x19,x20,[sp,#-16]!; stp fp,lr,[sp,#-48]!;
			// mov fp,sp; ... ldp fp,lr,[sp],#48; ldp x19,x20,[sp],#16;
			// autibsp; ret.
			name: "packed with pacibsp", packed: pack(1, 64, 0, 2, 0, 2, 64),
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 8, sp, 0, "", true},
				{8, 12, sp, 16, "19:-16 20:-8", true},
				{12, 16, sp, 64, "19:-16 20:-8 29:-64 30:-56", true},
				{16, 48, fp, 64, "19:-16 20:-8 29:-64 30:-56", true},
				{48, 52, sp, 64, "19:-16 20:-8 29:-64 30:-56", true},
				{52, 56, sp, 16, "19:-16 20:-8", true},
				{56, 60, sp, 0, "", true},
				{60, 64, sp, 0, "", false},
			},
		},
		{
			// RegF 2, RegI 2, CR 1: stp x19,x20,[sp,#-48]!;
			// str lr,[sp,#16]; stp d8,d9,[sp,#24]; str d10,[sp,#40].
			name: "packed fp registers and lr", packed: pack(1, 64, 2, 2, 0, 1, 48),
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 8, sp, 48, "19:-48 20:-40", false},
				{8, 12, sp, 48, "19:-48 20:-40 30:-32", false},
				{12, 16, sp, 48, "19:-48 20:-40 30:-32 72:-24 73:-16", false},
				{16, 48, sp, 48, "19:-48 20:-40 30:-32 72:-24 73:-16 74:-8", false},
				{48, 52, sp, 48, "19:-48 20:-40 30:-32 72:-24 73:-16", false},
				{52, 56, sp, 48, "19:-48 20:-40 30:-32", false},
				{56, 60, sp, 48, "19:-48 20:-40", false},
				{60, 64, sp, 0, "", false},
			},
		},
		{
			// RegI 1 with CR 1 merges x19 and lr into one pre-indexed
			// pair: stp x19,lr,[sp,#-16]!.
			name: "packed x19 and lr pair", packed: pack(1, 16, 0, 1, 0, 1, 16),
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 12, sp, 16, "19:-16 30:-8", false},
				{12, 16, sp, 0, "", false},
			},
		},
		{
			// Homed parameters: stp x19,x20,[sp,#-80]!; four stores of
			// x0–x7 that restore nothing; sub sp,sp,#16. The epilog
			// has no counterpart of the stores: add sp,sp,#16;
			// ldp x19,x20,[sp],#80; ret.
			name: "packed homed parameters", packed: pack(1, 40, 0, 2, 1, 0, 96),
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 24, sp, 80, "19:-80 20:-72", false},
				{24, 32, sp, 96, "19:-80 20:-72", false},
				{32, 36, sp, 80, "19:-80 20:-72", false},
				{36, 40, sp, 0, "", false},
			},
		},
		{
			name: "packed fragment without prolog", packed: pack(2, 64, 0, 2, 0, 3, 64),
			want: []arm64Want{{0, 64, fp, 64, "19:-16 20:-8 29:-64 30:-56", false}},
		},
		{
			// save_next twice after save_regp_x: stp x19,x20,[sp,#-96]!;
			// stp x21,x22,[sp,#16]; stp x23,x24,[sp,#32]. E: one
			// epilog ending the function whose codes are the prolog's.
			name:  "save_next with a packed epilog",
			xdata: append(arm64Words(40/4|1<<21|0<<22|2<<27), 0xe6, 0xe6, 0xcc, 0x0b, 0xe4, 0xe3, 0xe3, 0xe3),
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 8, sp, 96, "19:-96 20:-88", false},
				{8, 12, sp, 96, "19:-96 20:-88 21:-80 22:-72", false},
				{12, 28, sp, 96, "19:-96 20:-88 21:-80 22:-72 23:-64 24:-56", false},
				{28, 32, sp, 96, "19:-96 20:-88 21:-80 22:-72", false},
				{32, 36, sp, 96, "19:-96 20:-88", false},
				{36, 40, sp, 0, "", false},
			},
		},
		{
			// Three allocations announced by a function of two
			// instructions: the prolog is cut at the function's end.
			name:  "prolog longer than the function",
			xdata: arm64Record(8, nil, 0x02, 0x02, 0x02, 0xe4),
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 8, sp, 32, "", false},
			},
			malformed: 1,
		},
		{
			// Packed data whose epilog (four instructions and the
			// return) does not fit after its prolog.
			name: "packed epilog overlapping the prolog", packed: pack(1, 16, 0, 4, 0, 0, 32),
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 8, sp, 32, "19:-32 20:-24", false},
				{8, 16, sp, 32, "19:-32 20:-24 21:-16 22:-8", false},
			},
			malformed: 1,
		},
		{
			// The epilog scope's index is inside a two-byte code, and
			// a second scope overlaps the prolog: the body's row stays.
			name:  "malformed epilog scopes",
			xdata: arm64Record(32, [][2]uint32{{4, 0}, {20, 1}}, 0xc8, 0x02, 0x02, 0xe4),
			want: []arm64Want{
				{0, 4, sp, 0, "", false},
				{4, 8, sp, 32, "", false},
				{8, 32, sp, 32, "19:-16 20:-8", false},
			},
			malformed: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ui *ARM64UnwindInfo
			if tc.packed != 0 {
				ui = decodeARM64Packed(tc.packed)
			} else {
				var err error
				if ui, err = decodeARM64XData(tc.xdata, 0); err != nil {
					t.Fatal(err)
				}
			}
			const begin = 0x1000
			end := begin + ui.FunctionLength
			rows, malformed, err := arm64FunctionRows(ui, begin, end, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkARM64RowsInvariants(t, rows, begin, uint64(end))
			var got, want []string
			for _, r := range rows {
				got = append(got, arm64RowText(r, begin))
			}
			for _, w := range tc.want {
				want = append(want, w.String())
			}
			if !slices.Equal(got, want) {
				t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if malformed != tc.malformed {
				t.Errorf("malformed %d, want %d", malformed, tc.malformed)
			}
		})
	}
}

// TestARM64RowsErrors checks the functions that yield an error: custom
// stacks and reserved codes, and codes that save registers that do not
// exist.
func TestARM64RowsErrors(t *testing.T) {
	tests := []struct {
		name   string
		codes  []byte
		custom bool
	}{
		{"trap frame", []byte{0xe8, 0xe4}, true},
		{"machine frame", []byte{0xe9, 0xe4}, true},
		{"context", []byte{0xea, 0xe4}, true},
		{"EC context", []byte{0xeb, 0xe4}, true},
		{"clear unwound to call", []byte{0xec, 0xe4}, true},
		{"reserved", []byte{0xf0, 0xe4}, true},
		{"pre-indexed save_any_reg", []byte{0xe7, 0x28, 0x01, 0xe4}, true},
		{"custom stack after the body's codes", []byte{0x02, 0xe9, 0xe4}, true},
		{"save_reg of x31", []byte{0xd3, 0x00, 0xe4}, false},
		{"save_next past d15", []byte{0xe6, 0xe6, 0xe6, 0xe6, 0xd8, 0xc0, 0xe4}, false},
		{"set_fp twice", []byte{0xe1, 0xe1, 0xe4}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ui, err := decodeARM64XData(arm64Record(64, nil, tc.codes...), 0)
			if err != nil {
				t.Fatal(err)
			}
			rows, _, err := arm64FunctionRows(ui, 0x1000, 0x1040, []unwind.Row{{}})
			if err == nil {
				t.Fatalf("no error; rows %v", rows)
			}
			if errors.Is(err, ErrARM64CustomStack) != tc.custom {
				t.Errorf("error %v: custom stack %v, want %v", err, errors.Is(err, ErrARM64CustomStack), tc.custom)
			}
			if len(rows) != 1 {
				t.Errorf("%d rows after an error, want the 1 passed in", len(rows))
			}
		})
	}
}

// aarch64PEFixtures lists the aarch64 PE fixtures.
func aarch64PEFixtures() []string {
	var out []string
	for _, n := range fixtures.Names() {
		if strings.HasPrefix(n, "pe-aarch64-") {
			out = append(out, n)
		}
	}
	return out
}

// TestARM64RowsAgainstDisassembly compares the rows of every function of
// every aarch64 PE fixture, and of testdata/arm64rows.c built at -O0 to
// -O3, with an independent simulation of the function's instructions as
// llvm-objdump-14 disassembles them (see simulateARM64): at every
// instruction address, the CFA (from sp or x29), every saved register's
// slot and the return-address signing state must agree. Functions whose
// codes are custom stacks (unwind.S's unwind_a64_trap) yield
// ErrARM64CustomStack and are counted, not compared. Instructions the
// simulation cannot place (reached by no path it follows, or by paths
// disagreeing on sp, x29 or the saves) are counted apart and may be at
// most 5% of the compared ones; there are none in these images.
//
// There is no disagreement to explain: clang-14's prologs and epilogs
// match their codes one instruction per code, packed epilogs end the
// function, and each epilog's last instruction (ret, or b for a tail
// call) sees the frame fully undone. clang-14 emits no pacibsp for
// Windows, so signing is checked by TestARM64RowsDocumented only.
func TestARM64RowsAgainstDisassembly(t *testing.T) {
	names := aarch64PEFixtures()
	if len(names) == 0 {
		t.Fatal("no aarch64 PE fixture")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			compareARM64Image(t, fixtures.Get(t, name))
		})
	}
	for _, opt := range []string{"O0", "O1", "O2", "Os", "O3"} {
		t.Run("arm64rows-"+opt, func(t *testing.T) {
			compareARM64Image(t, buildARM64Rows(t, opt))
		})
	}
}

// buildARM64Rows builds testdata/arm64rows.c at opt into a temporary
// directory and returns the image's path.
func buildARM64Rows(t *testing.T, opt string) string {
	t.Helper()
	for _, tool := range []string{"clang-14", "lld-link-14"} {
		if _, err := exec.LookPath(tool); err != nil {
			testtools.Missing(t, tool, "apt-get install -y --no-install-recommends clang-14 lld-14")
		}
	}
	dir := t.TempDir()
	obj, exe := filepath.Join(dir, "arm64rows.o"), filepath.Join(dir, "arm64rows.exe")
	for _, args := range [][]string{
		{"clang-14", "--target=aarch64-pc-windows-msvc", "-" + opt, "-ffreestanding", "-funwind-tables", "-fno-stack-protector",
			"-mno-stack-arg-probe", "-c", filepath.Join("testdata", "arm64rows.c"), "-o", obj},
		{"lld-link-14", "/nodefaultlib", "/entry:entry", "/subsystem:console", "/out:" + exe, obj},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return exe
}

// compareARM64Image runs the comparison of TestARM64RowsAgainstDisassembly
// on one image.
func compareARM64Image(t *testing.T, path string) {
	if _, err := exec.LookPath("llvm-objdump-14"); err != nil {
		testtools.Missing(t, "llvm-objdump-14", "apt-get install -y --no-install-recommends llvm-14")
	}
	out, err := exec.Command("llvm-objdump-14", "-d", "--no-show-raw-insn", path).Output()
	if err != nil {
		t.Fatalf("llvm-objdump-14: %v", err)
	}
	insns := parseARM64Objdump(string(out))
	// The image base from the standard library's reader, so that
	// addresses do not depend on this package.
	sf, err := pe.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	base := sf.OptionalHeader.(*pe.OptionalHeader64).ImageBase
	sf.Close()

	o, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	table, err := o.UnwindTable()
	if err != nil {
		t.Fatal(err)
	}
	var (
		compared, agreed, unplaced, custom, malformedAll, packed int
		classes                                                  = map[string]int{}
		examples                                                 = map[string]string{}
	)
	for _, rf := range table.Functions() {
		if rf.UnwindData&3 != ARM64FlagUnpacked {
			packed++
		}
		rows, malformed, err := o.arm64Rows(rf, nil)
		if errors.Is(err, ErrARM64CustomStack) {
			custom++
			continue
		}
		if err != nil {
			t.Errorf("%#x: %v", rf.Begin, err)
			continue
		}
		malformedAll += malformed
		checkARM64RowsInvariants(t, rows, uint64(rf.Begin), uint64(rf.End))
		states := simulateARM64(insns, base+uint64(rf.Begin), base+uint64(rf.End))
		for a := uint64(rf.Begin); a < uint64(rf.End); a += 4 {
			st, ok := states[base+a]
			if !ok || st.conflict {
				unplaced++
				continue
			}
			i := sort.Search(len(rows), func(i int) bool { return rows[i].End > a })
			compared++
			class := compareARM64Row(&rows[i], st)
			if class == "" {
				agreed++
				continue
			}
			classes[class]++
			if _, ok := examples[class]; !ok {
				examples[class] = fmt.Sprintf("function %#x at %#x (%s): row %s", base+uint64(rf.Begin), base+a, insns[base+a].text, arm64RowText(rows[i], uint64(rf.Begin)))
			}
		}
	}
	t.Logf("%d functions (%d packed), %d custom-stack functions skipped, %d malformed scopes; %d/%d instructions agree (%.2f%%), %d not placed by the simulation",
		len(table.Functions()), packed, custom, malformedAll, agreed, compared, 100*float64(agreed)/float64(max(compared, 1)), unplaced)
	for c, n := range classes {
		t.Errorf("%d instructions disagree (%s), e.g. %s", n, c, examples[c])
	}
	if compared == 0 || malformedAll != 0 || unplaced*20 > compared {
		t.Errorf("compared %d instructions, %d malformed scopes, %d unplaced", compared, malformedAll, unplaced)
	}
}

// compareARM64Row returns "" when row agrees with the simulated state, or
// the class of the disagreement.
func compareARM64Row(row *unwind.Row, st *arm64SimState) string {
	switch {
	case row.CFA.Reg == arm64DwarfSP && (st.sp.kind != arm64ValCFA || -st.sp.v != row.CFA.Offset):
		return "CFA from sp"
	case row.CFA.Reg == arm64DwarfFP && (st.x[29].kind != arm64ValCFA || -st.x[29].v != row.CFA.Offset):
		return "CFA from x29"
	case (row.Flags&unwind.FlagRASigned != 0) != st.signed:
		return "return address signing"
	}
	n := 0
	for r := range st.has {
		if st.has[r] {
			n++
			if got := row.Rule(unwind.Reg(r)); got.Kind != unwind.RuleOffset || got.Offset != st.saved[r] {
				return fmt.Sprintf("slot of register %d", r)
			}
		}
	}
	if n != len(row.Regs) {
		return "register rules without a save"
	}
	return ""
}

// arm64Insn is one disassembled instruction.
type arm64Insn struct {
	mnemonic string
	ops      []string // operands split at top-level commas
	text     string
}

var arm64ObjdumpLine = regexp.MustCompile(`^\s*([0-9a-f]+):\s+(\S+)\s*(.*?)\s*(?://.*)?$`)

// parseARM64Objdump reads llvm-objdump -d --no-show-raw-insn output into
// instructions by address.
func parseARM64Objdump(out string) map[uint64]arm64Insn {
	insns := map[uint64]arm64Insn{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := arm64ObjdumpLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		addr, err := strconv.ParseUint(m[1], 16, 64)
		if err != nil {
			continue
		}
		operands := m[3]
		if i := strings.Index(operands, " <"); i >= 0 {
			operands = operands[:i] // the symbol of a branch target
		}
		insns[addr] = arm64Insn{mnemonic: m[2], ops: splitARM64Operands(operands), text: strings.TrimSpace(m[2] + " " + operands)}
	}
	return insns
}

// splitARM64Operands splits "x19, x20, [sp, #16]!" into "x19", "x20" and
// "[sp, #16]!": at the commas outside brackets, trimming spaces.
func splitARM64Operands(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}

// arm64Val is what the simulation knows of a register's value: nothing,
// an address relative to the CFA (sp at the function's entry), or a
// constant.
type arm64Val struct {
	kind uint8
	v    int64
}

const (
	arm64ValUnknown = iota
	arm64ValCFA
	arm64ValConst
)

// arm64SimState is what the simulation knows at an instruction boundary:
// sp and x0–x30 as arm64Val (x29 is the frame pointer when it is
// CFA-relative), the CFA offsets of the callee-saved registers stored and
// not yet reloaded, and lr's signing.
type arm64SimState struct {
	sp       arm64Val
	x        [31]arm64Val
	has      [arm64DwarfRegs]bool
	saved    [arm64DwarfRegs]int64
	signed   bool
	conflict bool // predecessors disagree: the state is unknown
}

// join merges st into old, the state already reaching an instruction:
// registers other than sp and x29 known differently on the two paths
// become unknown; any other difference is a conflict. It reports whether
// old changed.
func (old *arm64SimState) join(st arm64SimState) bool {
	if old.conflict {
		return false
	}
	a, b := *old, st
	a.x, b.x = [31]arm64Val{}, [31]arm64Val{}
	a.x[29], b.x[29] = old.x[29], st.x[29]
	if a != b {
		old.conflict = true
		return true
	}
	changed := false
	for i := range old.x {
		if old.x[i] != st.x[i] && old.x[i].kind != arm64ValUnknown {
			old.x[i], changed = arm64Val{}, true
		}
	}
	return changed
}

// arm64RegSize is the size in bytes of a register operand.
func arm64RegSize(s string) int64 {
	switch {
	case strings.HasPrefix(s, "q"):
		return 16
	case strings.HasPrefix(s, "w"), strings.HasPrefix(s, "s"):
		return 4
	}
	return 8
}

// arm64SimReg maps a register operand to its DWARF number and slot size
// when it is callee-saved (x19–x30, d8–d15 and the q registers holding
// them).
func arm64SimReg(s string) (r unwind.Reg, size int64, ok bool) {
	switch s {
	case "fp":
		return 29, 8, true
	case "lr":
		return 30, 8, true
	}
	if len(s) < 2 {
		return 0, 0, false
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil {
		return 0, 0, false
	}
	switch {
	case s[0] == 'x' && n >= 19 && n <= 30:
		return unwind.Reg(n), 8, true
	case s[0] == 'd' && n >= 8 && n <= 15:
		return arm64DwarfV0 + unwind.Reg(n), 8, true
	case s[0] == 'q' && n >= 8 && n <= 15:
		return arm64DwarfV0 + unwind.Reg(n), 16, true
	}
	return 0, 0, false
}

// arm64GPR returns the number of a general register operand (x0–x30,
// w0–w30, fp, lr).
func arm64GPR(s string) (int, bool) {
	switch s {
	case "fp":
		return 29, true
	case "lr":
		return 30, true
	}
	if len(s) < 2 || (s[0] != 'x' && s[0] != 'w') {
		return 0, false
	}
	n, err := strconv.Atoi(s[1:])
	return n, err == nil && n <= 30
}

var (
	arm64MemSP   = regexp.MustCompile(`^\[sp(?:, #(-?\d+))?\](!?)$`)
	arm64ImmRe   = regexp.MustCompile(`^#(-?(?:0x)?[0-9a-f]+)$`)
	arm64ShiftRe = regexp.MustCompile(`^(?:lsl|uxtx) #(\d+)$`)
)

func arm64Imm(s string) (int64, bool) {
	m := arm64ImmRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseInt(m[1], 0, 64)
	return v, err == nil
}

// operandValue evaluates the last operands of an add or sub: "#N",
// "#N, lsl #12", or a register with an optional shift ("x15, lsl #4").
func (st *arm64SimState) operandValue(ops []string) (int64, bool) {
	if len(ops) == 0 || len(ops) > 2 {
		return 0, false
	}
	shift := int64(0)
	if len(ops) == 2 {
		m := arm64ShiftRe.FindStringSubmatch(ops[1])
		if m == nil {
			return 0, false
		}
		shift, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if v, ok := arm64Imm(ops[0]); ok {
		return v << shift, true
	}
	if n, ok := arm64GPR(ops[0]); ok && ops[0][0] == 'x' && st.x[n].kind == arm64ValConst {
		return st.x[n].v << shift, true
	}
	return 0, false
}

// read returns the value of sp or of a general register operand.
func (st *arm64SimState) read(s string) arm64Val {
	if s == "sp" {
		return st.sp
	}
	if n, ok := arm64GPR(s); ok && s[0] != 'w' {
		return st.x[n]
	}
	return arm64Val{}
}

// write sets sp or a general register operand (a w register clears the
// upper half, so its value is unknown unless it is a constant).
func (st *arm64SimState) write(s string, v arm64Val) {
	if s == "sp" || s == "wsp" {
		if v.kind != arm64ValCFA {
			v = arm64Val{}
		}
		st.sp = v
		return
	}
	if n, ok := arm64GPR(s); ok {
		if s[0] == 'w' && v.kind != arm64ValConst {
			v = arm64Val{}
		}
		st.x[n] = v
	}
}

// stepARM64 applies one instruction to st: moves and additions of sp and
// the registers holding sp-relative addresses or constants, stores and
// reloads of callee-saved registers at sp-relative slots, and
// pacibsp/autibsp. Any other instruction writing a register makes it
// unknown.
func stepARM64(st arm64SimState, in arm64Insn) arm64SimState {
	ops := in.ops
	dst := ""
	if len(ops) > 0 {
		dst = ops[0]
	}
	// access applies a store or load of regs at mem (an sp-relative
	// address, pre-indexed with "!"), with post the post-index
	// immediate or "": a store records the first save of each
	// callee-saved register, a load from a register's slot undoes it.
	access := func(regs []string, mem, post string, isStore bool) {
		if !isStore {
			for _, rs := range regs {
				st.write(rs, arm64Val{})
			}
		}
		m := arm64MemSP.FindStringSubmatch(mem)
		if m == nil {
			return
		}
		if st.sp.kind != arm64ValCFA {
			if m[2] == "!" || post != "" {
				st.sp = arm64Val{}
			}
			return
		}
		off := int64(0)
		if m[1] != "" {
			off, _ = strconv.ParseInt(m[1], 10, 64)
		}
		if m[2] == "!" {
			st.sp.v += off
			off = 0
		}
		at := st.sp.v + off
		for _, rs := range regs {
			r, size, ok := arm64SimReg(rs)
			switch {
			case ok && isStore && !st.has[r]:
				st.has[r], st.saved[r] = true, at
			case ok && !isStore && st.has[r] && st.saved[r] == at:
				st.has[r] = false
			}
			if !ok {
				size = arm64RegSize(rs)
			}
			at += size
		}
		if post != "" {
			if v, ok := arm64Imm(post); ok {
				st.sp.v += v
			} else {
				st.sp = arm64Val{}
			}
		}
	}
	switch m := in.mnemonic; {
	case m == "pacibsp":
		st.signed = true
	case m == "autibsp":
		st.signed = false
	case m == "stp" || m == "ldp" || m == "str" || m == "ldr":
		n := 1
		if strings.HasSuffix(m, "p") {
			n = 2
		}
		if len(ops) < n+1 || len(ops) > n+2 {
			break
		}
		post := ""
		if len(ops) == n+2 {
			post = ops[n+1]
		}
		access(ops[:n], ops[n], post, strings.HasPrefix(m, "st"))
	case (m == "add" || m == "sub") && len(ops) >= 3:
		src := st.read(ops[1])
		v, ok := st.operandValue(ops[2:])
		if m == "sub" {
			v = -v
		}
		if ok && src.kind != arm64ValUnknown {
			st.write(dst, arm64Val{src.kind, src.v + v})
		} else {
			st.write(dst, arm64Val{})
		}
	case (m == "mov" || m == "movz") && len(ops) == 2:
		if v, ok := arm64Imm(ops[1]); ok {
			st.write(dst, arm64Val{arm64ValConst, v})
		} else {
			st.write(dst, st.read(ops[1]))
		}
	default:
		if strings.HasPrefix(m, "st") || strings.HasPrefix(m, "b") && !strings.HasPrefix(m, "bi") ||
			slices.Contains([]string{"cbz", "cbnz", "tbz", "tbnz", "cmp", "cmn", "tst", "ret", "prfm", "nop", "brk"}, m) {
			break // stores, branches and comparisons write no register named first
		}
		if strings.HasPrefix(m, "ld") && len(ops) >= 3 && !strings.HasPrefix(ops[1], "[") {
			st.write(ops[1], arm64Val{}) // the second register of a pair load
		}
		st.write(dst, arm64Val{})
	}
	return st
}

// simulateARM64 simulates the function [begin, end) along its control
// flow from its entry, where sp is the CFA and nothing is saved: branches
// within the function are followed, returns, traps and branches out of it
// (tail calls) end a path, calls fall through. States meeting at an
// instruction are joined (arm64SimState.join). Instructions reached only
// through an indirect branch (a jump table) start from the state at that
// branch.
func simulateARM64(insns map[uint64]arm64Insn, begin, end uint64) map[uint64]*arm64SimState {
	states := map[uint64]*arm64SimState{}
	var work []uint64
	reach := func(a uint64, st arm64SimState) {
		if a < begin || a >= end {
			return
		}
		if old, ok := states[a]; ok {
			if old.join(st) {
				work = append(work, a)
			}
			return
		}
		s := st
		states[a] = &s
		work = append(work, a)
	}
	reach(begin, arm64SimState{sp: arm64Val{kind: arm64ValCFA}})
	var indirect *arm64SimState
	for {
		for len(work) > 0 {
			a := work[len(work)-1]
			work = work[:len(work)-1]
			in, ok := insns[a]
			if !ok {
				continue
			}
			cur := states[a]
			next := stepARM64(*cur, in)
			next.conflict = cur.conflict
			target := func(s string) (uint64, bool) {
				v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
				return v, err == nil
			}
			m := in.mnemonic
			switch {
			case m == "ret" || m == "brk" || m == "udf" || m == "hlt":
			case m == "br":
				indirect = &next
			case m == "b" && len(in.ops) == 1:
				if t, ok := target(in.ops[0]); ok {
					reach(t, next)
				}
			case strings.HasPrefix(m, "b.") || m == "cbz" || m == "cbnz" || m == "tbz" || m == "tbnz":
				if t, ok := target(in.ops[len(in.ops)-1]); ok {
					reach(t, next)
				}
				reach(a+4, next)
			default:
				reach(a+4, next)
			}
		}
		if indirect == nil {
			break
		}
		// Seed the first instruction not reached with the state at
		// the indirect branch.
		seeded := false
		for a := begin; a < end; a += 4 {
			if _, ok := states[a]; !ok {
				reach(a, *indirect)
				seeded = true
				break
			}
		}
		if !seeded {
			break
		}
	}
	return states
}

// BenchmarkARM64Rows lays out the rows of every function of the aarch64
// PE fixture, as a Table's Rows does once per image.
func BenchmarkARM64Rows(b *testing.B) {
	o, err := Open(fixtures.Get(b, "pe-aarch64-clang-O2"))
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	table, err := o.UnwindTable()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var rows []unwind.Row
	for b.Loop() {
		for _, rf := range table.Functions() {
			rows, _ = o.ARM64Rows(rf, rows[:0])
		}
	}
}

// FuzzARM64Rows feeds .xdata records and packed words to the row layout:
// no panic, no error but for the documented kinds, rows within the
// contract and bounded by the function's instruction count. Seeds are the
// .xdata records of the aarch64 PE fixtures (when the toolchain is
// installed) and Microsoft's examples.
func FuzzARM64Rows(f *testing.F) {
	f.Add(arm64Words(0x1040003d, 0x1000038, 0xe42291e1, 0xe42291e1), uint32(0x416101ed))
	f.Add(arm64Words(0x18400012, 0x200000f, 0xe3e3e3e3, 0xe40500d6, 0xe40500d6), uint32(0x4160003e))
	f.Add(arm64Record(32, [][2]uint32{{16, 1}}, 0xe5, 0xe1, 0xc8, 0x1e, 0x9f, 0xe4), uint32(2))
	for _, name := range aarch64PEFixtures() {
		p, err := fixtures.Build(f.Context(), name)
		if err != nil {
			continue
		}
		o, err := Open(p)
		if err != nil {
			continue
		}
		if table, err := o.UnwindTable(); err == nil {
			for _, rf := range table.Functions() {
				if rf.UnwindData&3 != ARM64FlagUnpacked {
					f.Add([]byte(nil), rf.UnwindData)
					continue
				}
				hdr, err := o.readRVAUpTo(rf.UnwindData, 8)
				if err != nil {
					continue
				}
				if raw, err := o.readRVA(rf.UnwindData, uint64(xdataSize(hdr))); err == nil {
					f.Add(bytes.Clone(raw), uint32(0))
				}
			}
		}
		o.Close()
	}
	f.Fuzz(func(t *testing.T, raw []byte, packed uint32) {
		var infos []*ARM64UnwindInfo
		if ui, err := decodeARM64XData(raw, 0); err == nil {
			infos = append(infos, ui)
		}
		if flag := packed & 3; flag == ARM64FlagPacked || flag == ARM64FlagPackedFragment {
			infos = append(infos, decodeARM64Packed(packed))
		}
		for _, ui := range infos {
			const begin = 0x10000
			end := begin + ui.FunctionLength
			rows, _, err := arm64FunctionRows(ui, begin, end, nil)
			if err != nil {
				if len(rows) != 0 {
					t.Fatalf("%d rows with error %v", len(rows), err)
				}
				continue
			}
			checkARM64RowsInvariants(t, rows, begin, uint64(end))
		}
	})
}
