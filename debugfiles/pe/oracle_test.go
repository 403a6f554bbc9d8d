package pe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// The oracle tests compare what this package decodes from every PE fixture
// with llvm-readobj-14 (--file-headers, --coff-debug-directory,
// --coff-exports, --unwind) and llvm-objdump-14 (--section-headers), which
// share no code with it. Our values are rendered in llvm-readobj's own
// notation and compared line by line.

// peFixtures lists the PE fixtures a full run builds.
func peFixtures() []string {
	var out []string
	for _, n := range fixtures.Default() {
		if strings.HasPrefix(n, "pe-") {
			out = append(out, n)
		}
	}
	return out
}

// llvmTool runs an LLVM tool and returns its stdout.
func llvmTool(t testing.TB, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(args[0]); err != nil {
		testtools.Missing(t, args[0], "apt-get install -y --no-install-recommends llvm-14")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

func openFixture(t testing.TB, name string) *Object {
	t.Helper()
	o, err := Open(fixtures.Get(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

var trailingAddr = regexp.MustCompile(`^(\w+): .*?\(?(0x[0-9A-F]+)\)?$`)

// readobjLines flattens llvm-readobj output into "Key: value" lines
// without the structural braces, with symbol names dropped from address
// fields ("main +0x4 (0x140001004)" becomes "0x140001004") and runs of
// spaces collapsed.
func readobjLines(out string) []string {
	var lines []string
	for l := range strings.Lines(out) {
		l = strings.Join(strings.Fields(l), " ")
		switch {
		case l == "Chained {":
			l = "Chained" // keeps the chained entry's addresses apart
		case l == "", l == "}", l == "]", strings.HasSuffix(l, " {"), strings.HasSuffix(l, " ["):
			continue
		}
		for _, key := range []string{"StartAddress", "EndAddress", "UnwindInfoAddress", "Handler", "Function", "ExceptionRecord", "Routine"} {
			if strings.HasPrefix(l, key+": ") {
				if m := trailingAddr.FindStringSubmatch(l); m != nil {
					l = m[1] + ": " + m[2]
				}
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// unwindBlocks splits flattened --unwind output into one block per
// RuntimeFunction.
func unwindBlocks(lines []string) [][]string {
	var blocks [][]string
	for i, l := range lines {
		chained := i > 0 && lines[i-1] == "Chained"
		if strings.HasPrefix(l, "StartAddress: ") && !chained || strings.HasPrefix(l, "Function: ") {
			blocks = append(blocks, nil)
		}
		if len(blocks) > 0 {
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], l)
		}
	}
	return blocks
}

func TestHeadersAgainstReadobj(t *testing.T) {
	for _, name := range peFixtures() {
		t.Run(name, func(t *testing.T) {
			o := openFixture(t, name)
			out := llvmTool(t, "llvm-readobj-14", "--file-headers", fixtures.Get(t, name))
			field := func(key string) uint64 {
				m := regexp.MustCompile(`\n\s*` + key + `: .*?\(?0x([0-9A-F]+)\)?\n`).FindStringSubmatch(out)
				if m == nil {
					t.Fatalf("llvm-readobj shows no %s", key)
				}
				v, _ := strconv.ParseUint(m[1], 16, 64)
				return v
			}
			if got, want := uint64(o.Machine()), field("Machine"); got != want {
				t.Errorf("machine %#x, llvm-readobj %#x", got, want)
			}
			if got, want := uint64(o.TimeDateStamp()), field("TimeDateStamp"); got != want {
				t.Errorf("time stamp %#x, llvm-readobj %#x", got, want)
			}
			if got, want := o.LoadAddress(), field("ImageBase"); got != want {
				t.Errorf("image base %#x, llvm-readobj %#x", got, want)
			}
			size, _ := strconv.ParseUint(regexp.MustCompile(`SizeOfImage: (\d+)`).FindStringSubmatch(out)[1], 10, 32)
			if uint64(o.SizeOfImage()) != size {
				t.Errorf("SizeOfImage %d, llvm-readobj %d", o.SizeOfImage(), size)
			}
			if want := fmt.Sprintf("%08x%x", field("TimeDateStamp"), size); o.CodeID() != want {
				t.Errorf("code id %s, want %s", o.CodeID(), want)
			}
			dll := strings.Contains(out, "IMAGE_FILE_DLL ")
			if (o.Kind() == debugfiles.KindLibrary) != dll || o.Kind() == debugfiles.KindNone {
				t.Errorf("kind %s, IMAGE_FILE_DLL %v", o.Kind(), dll)
			}
			if o.Is64() != strings.Contains(out, "Magic: 0x20B") {
				t.Errorf("Is64 %v", o.Is64())
			}
		})
	}
}

func TestDebugDirectoryAgainstReadobj(t *testing.T) {
	entryRE := regexp.MustCompile(`(?s)DebugEntry \{(.*?)\n  \}`)
	for _, name := range peFixtures() {
		t.Run(name, func(t *testing.T) {
			o := openFixture(t, name)
			out := llvmTool(t, "llvm-readobj-14", "--coff-debug-directory", fixtures.Get(t, name))
			var want []string
			for _, m := range entryRE.FindAllStringSubmatch(out, -1) {
				want = append(want, strings.Join(readobjLines(m[1]), "\n"))
			}
			var got []string
			for _, e := range o.DebugDirectory() {
				got = append(got, strings.Join(readobjLines(renderDebugEntry(o, e)), "\n"))
			}
			if !slices.Equal(got, want) {
				t.Errorf("debug directory\n  ours:\n%s\n  llvm-readobj:\n%s", strings.Join(got, "\n--\n"), strings.Join(want, "\n--\n"))
			}
			cv, ok := o.CodeView()
			if !ok || cv.Format != "RSDS" || o.DebugID().IsZero() || o.DebugID().Age != cv.Age {
				t.Errorf("CodeView %+v, debug id %s", cv, o.DebugID())
			}
			if o.DebugFile() != cv.Path {
				t.Errorf("DebugFile %q, CodeView path %q", o.DebugFile(), cv.Path)
			}
		})
	}
}

// renderDebugEntry writes a debug directory entry as llvm-readobj does.
func renderDebugEntry(o *Object, e DebugDirectoryEntry) string {
	types := map[uint32]string{DebugTypeCodeView: "CodeView", DebugTypeRepro: "Repro"}
	lines := []string{
		fmt.Sprintf("Characteristics: 0x%X", e.Characteristics),
		fmt.Sprintf("TimeDateStamp: %s (0x%X)", stampText(e.TimeDateStamp), e.TimeDateStamp),
		fmt.Sprintf("MajorVersion: 0x%X", e.MajorVersion),
		fmt.Sprintf("MinorVersion: 0x%X", e.MinorVersion),
		fmt.Sprintf("Type: %s (0x%X)", types[e.Type], e.Type),
		fmt.Sprintf("SizeOfData: 0x%X", e.SizeOfData),
		fmt.Sprintf("AddressOfRawData: 0x%X", e.AddressOfRawData),
		fmt.Sprintf("PointerToRawData: 0x%X", e.PointerToRawData),
	}
	if cv, ok := o.CodeView(); ok && e == cv.Entry {
		var g []string
		for _, b := range cv.GUID {
			g = append(g, fmt.Sprintf("%02X", b))
		}
		lines = append(lines, "PDBSignature: 0x53445352", "PDBGUID: ("+strings.Join(g, " ")+")",
			fmt.Sprintf("PDBAge: %d", cv.Age), "PDBFileName: "+cv.Path)
	}
	return strings.Join(lines, "\n")
}

// stampText formats a COFF time stamp as llvm-readobj does (UTC).
func stampText(ts uint32) string {
	return time.Unix(int64(ts), 0).UTC().Format("2006-01-02 15:04:05")
}

func TestExportsAgainstReadobj(t *testing.T) {
	for _, name := range peFixtures() {
		t.Run(name, func(t *testing.T) {
			o := openFixture(t, name)
			out := llvmTool(t, "llvm-readobj-14", "--coff-exports", fixtures.Get(t, name))
			var want []string
			re := regexp.MustCompile(`Ordinal: (\d+)\n\s*Name: (.*)\n\s*RVA: 0x([0-9A-F]+)`)
			for _, m := range re.FindAllStringSubmatch(out, -1) {
				if m[3] == "0" {
					continue // an empty slot (lld starts at ordinal 0)
				}
				want = append(want, fmt.Sprintf("%s %s %s", m[1], m[2], m[3]))
			}
			exports, err := o.Exports()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range exports {
				got = append(got, fmt.Sprintf("%d %s %X", e.Ordinal, e.Name, e.RVA))
			}
			if len(want) < 4 || !slices.Equal(got, want) {
				t.Errorf("exports\n  ours         %q\n  llvm-readobj %q", got, want)
			}
			if name == "pe-x86_64-clang-O2-dll" {
				if o.DLLName() != "demo.dll" {
					t.Errorf("DLL name %q", o.DLLName())
				}
				i := slices.IndexFunc(exports, func(e Export) bool { return e.Name == "cairn_forwarded" })
				if i < 0 || exports[i].Forwarder != "other.cairn_target" {
					t.Errorf("no forwarder export cairn_forwarded -> other.cairn_target: %+v", exports)
				}
			}
			// Symbols are the named exports with code.
			var syms, named []string
			for s := range o.Symbols() {
				syms = append(syms, s.Name)
			}
			for _, e := range exports {
				if e.Forwarder == "" && e.Name != "" {
					named = append(named, e.Name)
				}
			}
			if o.Features()&debugfiles.FeatureDebug == 0 && !slices.Equal(slices.Sorted(slices.Values(syms)), slices.Sorted(slices.Values(named))) {
				t.Errorf("Symbols %q, exports with code %q", syms, named)
			}
		})
	}
}

// TestSectionsAgainstObjdump compares Section with llvm-objdump's section
// headers: names (long MinGW names resolved through the string table),
// addresses and sizes.
func TestSectionsAgainstObjdump(t *testing.T) {
	re := regexp.MustCompile(`(?m)^\s*\d+ (\S+)\s+([0-9a-f]+) ([0-9a-f]+)`)
	for _, name := range peFixtures() {
		t.Run(name, func(t *testing.T) {
			o := openFixture(t, name)
			out := llvmTool(t, "llvm-objdump-14", "--section-headers", fixtures.Get(t, name))
			n := 0
			for _, m := range re.FindAllStringSubmatch(out, -1) {
				size, _ := strconv.ParseUint(m[2], 16, 64)
				vma, _ := strconv.ParseUint(m[3], 16, 64)
				data, rva, err := o.Section(m[1])
				if size == 0 || m[1] == ".bss" {
					continue
				}
				n++
				if err != nil {
					t.Errorf("%s: %v", m[1], err)
					continue
				}
				if uint64(rva)+o.LoadAddress() != vma || uint64(len(data)) != size {
					t.Errorf("%s: RVA %#x, %d bytes; llvm-objdump %#x, %d bytes", m[1], rva, len(data), vma, size)
				}
			}
			if n < 3 {
				t.Errorf("only %d sections compared:\n%s", n, out)
			}
		})
	}
}

func TestUnwindAgainstReadobj(t *testing.T) {
	for _, name := range peFixtures() {
		t.Run(name, func(t *testing.T) {
			o := openFixture(t, name)
			want := unwindBlocks(readobjLines(llvmTool(t, "llvm-readobj-14", "--unwind", fixtures.Get(t, name))))
			table, err := o.UnwindTable()
			if o.Machine() == MachineI386 {
				if err == nil || len(want) != 0 || o.Features()&debugfiles.FeatureUnwind != 0 {
					t.Errorf("x86 image: unwind table %v, llvm-readobj shows %d functions", err, len(want))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fns := table.Functions()
			if len(fns) != len(want) {
				t.Fatalf("%d runtime functions, llvm-readobj %d", len(fns), len(want))
			}
			kinds := map[string]int{}
			for i, rf := range fns {
				var got []string
				if o.Machine() == MachineAMD64 {
					got = renderX64(t, o, rf, kinds)
				} else {
					got = renderARM64(t, o, rf, kinds)
				}
				for j, l := range got {
					got[j] = strings.Join(strings.Fields(l), " ")
				}
				if !slices.Equal(got, want[i]) {
					t.Errorf("runtime function %d\n  ours:\n    %s\n  llvm-readobj:\n    %s", i, strings.Join(got, "\n    "), strings.Join(want[i], "\n    "))
					if t.Failed() && i > 5 {
						break
					}
				}
				if got, ok := table.Lookup(rf.Begin); !ok || got != rf {
					t.Errorf("Lookup(%#x) = %+v, %v", rf.Begin, got, ok)
				}
				if rf.End > rf.Begin {
					if got, ok := table.Lookup(rf.End - 1); !ok || got != rf {
						t.Errorf("Lookup(%#x) = %+v, %v", rf.End-1, got, ok)
					}
				}
			}
			t.Logf("%d runtime functions agree; %v", len(fns), kinds)
		})
	}
}

// renderX64 writes an x64 entry as llvm-readobj's flattened lines.
func renderX64(t *testing.T, o *Object, rf RuntimeFunction, kinds map[string]int) []string {
	base := o.LoadAddress()
	lines := []string{
		fmt.Sprintf("StartAddress: 0x%X", base+uint64(rf.Begin)),
		fmt.Sprintf("EndAddress: 0x%X", base+uint64(rf.End)),
		fmt.Sprintf("UnwindInfoAddress: 0x%X", base+uint64(rf.UnwindData)),
	}
	ui, err := o.X64UnwindInfo(rf)
	if err != nil {
		t.Errorf("%#x: %v", rf.Begin, err)
		return lines
	}
	lines = append(lines, fmt.Sprintf("Version: %d", ui.Version), fmt.Sprintf("Flags [ (0x%X)", ui.Flags))
	for _, f := range []struct {
		bit  uint8
		name string
	}{{UnwFlagChainInfo, "ChainInfo"}, {UnwFlagEHandler, "ExceptionHandler"}, {UnwFlagUHandler, "TerminateHandler"}} {
		if ui.Flags&f.bit != 0 {
			lines = append(lines, fmt.Sprintf("%s (0x%X)", f.name, f.bit))
			kinds["flag "+f.name]++
		}
	}
	lines = append(lines, fmt.Sprintf("PrologSize: %d", ui.PrologSize))
	if ui.FrameRegister == 0 {
		lines = append(lines, "FrameRegister: -", "FrameOffset: -")
	} else {
		lines = append(lines, "FrameRegister: "+X64Register[ui.FrameRegister]+fmt.Sprintf(" (0x%X)", ui.FrameRegister), fmt.Sprintf("FrameOffset: 0x%X", ui.FrameOffset/16))
	}
	slots := 0
	for _, c := range ui.Codes {
		slots += int(c.Slots)
	}
	lines = append(lines, fmt.Sprintf("UnwindCodeCount: %d", slots))
	for _, c := range ui.Codes {
		kinds[c.Op.String()]++
		l := fmt.Sprintf("0x%02X: %s", c.PrologOffset, c.Op)
		switch c.Op {
		case UWOPPushNonvol:
			l += " reg=" + X64Register[c.Info]
		case UWOPAllocLarge, UWOPAllocSmall:
			l += fmt.Sprintf(" size=%d", c.Value)
		case UWOPSetFPReg:
			l += fmt.Sprintf(" reg=%s, offset=0x%X", X64Register[ui.FrameRegister], ui.FrameOffset)
		case UWOPSaveNonvol, UWOPSaveNonvolFar:
			l += fmt.Sprintf(" reg=%s, offset=0x%X", X64Register[c.Info], c.Value)
		case UWOPSaveXMM128, UWOPSaveXMM128Far:
			l += fmt.Sprintf(" reg=XMM%d, offset=0x%X", c.Info, c.Value)
		case UWOPPushMachFrame:
			l += " errcode=" + map[bool]string{false: "no", true: "yes"}[c.Info != 0]
		}
		lines = append(lines, l)
	}
	if ui.Chained != nil {
		lines = append(lines, "Chained",
			fmt.Sprintf("StartAddress: 0x%X", base+uint64(ui.Chained.Begin)),
			fmt.Sprintf("EndAddress: 0x%X", base+uint64(ui.Chained.End)),
			fmt.Sprintf("UnwindInfoAddress: 0x%X", base+uint64(ui.Chained.UnwindData)))
		chain, err := o.X64UnwindChain(rf)
		if err != nil || len(chain) != 2 {
			t.Errorf("%#x: chain of %d, %v", rf.Begin, len(chain), err)
		}
	}
	if ui.Flags&(UnwFlagEHandler|UnwFlagUHandler) != 0 && ui.Flags&UnwFlagChainInfo == 0 {
		lines = append(lines, fmt.Sprintf("Handler: 0x%X", base+uint64(ui.Handler)))
		data, err := o.readRVA(ui.HandlerData, 8)
		if err != nil {
			t.Errorf("%#x: handler data: %v", rf.Begin, err)
		} else if binary.LittleEndian.Uint32(data) == 0x43524e31 {
			kinds["handler data of unwind.S"]++
		}
	}
	return lines
}

// renderARM64 writes an ARM64 entry as llvm-readobj's flattened lines.
func renderARM64(t *testing.T, o *Object, rf RuntimeFunction, kinds map[string]int) []string {
	base := o.LoadAddress()
	lines := []string{fmt.Sprintf("Function: 0x%X", base+uint64(rf.Begin))}
	ui, err := o.ARM64UnwindInfo(rf)
	if err != nil {
		t.Errorf("%#x: %v", rf.Begin, err)
		return lines
	}
	if rf.End-rf.Begin != ui.FunctionLength {
		t.Errorf("%#x: table end %#x, function length %d", rf.Begin, rf.End, ui.FunctionLength)
	}
	yesNo := map[bool]string{false: "No", true: "Yes"}
	if ui.Flag != ARM64FlagUnpacked {
		kinds["packed"]++
		lines = append(lines,
			"Fragment: "+yesNo[ui.Flag == ARM64FlagPackedFragment],
			fmt.Sprintf("FunctionLength: %d", ui.FunctionLength),
			fmt.Sprintf("RegF: %d", ui.RegF), fmt.Sprintf("RegI: %d", ui.RegI),
			"HomedParameters: "+yesNo[ui.H], fmt.Sprintf("CR: %d", ui.CR), fmt.Sprintf("FrameSize: %d", ui.FrameSize))
		for _, op := range ui.Prolog {
			lines = append(lines, packedText(op))
		}
		return lines
	}
	kinds["unpacked"]++
	lines = append(lines, fmt.Sprintf("ExceptionRecord: 0x%X", base+uint64(ui.XDataRVA)),
		fmt.Sprintf("FunctionLength: %d", ui.FunctionLength), fmt.Sprintf("Version: %d", ui.Version),
		"ExceptionData: "+yesNo[ui.X], "EpiloguePacked: "+yesNo[ui.E])
	if ui.E {
		lines = append(lines, fmt.Sprintf("EpilogueOffset: %d", ui.EpilogIndex))
	} else {
		lines = append(lines, fmt.Sprintf("EpilogueScopes: %d", len(ui.Epilogs)))
	}
	lines = append(lines, fmt.Sprintf("ByteCodeLength: %d", len(ui.Codes)))
	for _, op := range ui.Prolog {
		lines = append(lines, codeText(op, true))
		kinds[op.Op.String()]++
	}
	if ui.E && ui.EpilogIndex != 0 {
		ops, err := decodeARM64Ops(ui.Codes, int(ui.EpilogIndex))
		if err != nil {
			t.Error(err)
		}
		for _, op := range ops {
			lines = append(lines, codeText(op, false))
		}
	}
	for _, s := range ui.Epilogs {
		kinds["epilog scope"]++
		lines = append(lines, fmt.Sprintf("StartOffset: %d", s.Start/4), fmt.Sprintf("EpilogueStartIndex: %d", s.StartIndex))
		for _, op := range s.Ops {
			lines = append(lines, codeText(op, false))
		}
	}
	if ui.X {
		kinds["handler"]++
		param, err := o.readRVA(ui.HandlerData, 4)
		if err != nil {
			t.Errorf("%#x: handler data: %v", rf.Begin, err)
			return lines
		}
		lines = append(lines, fmt.Sprintf("Routine: 0x%X", base+uint64(ui.Handler)), fmt.Sprintf("Parameter: 0x%X", binary.LittleEndian.Uint32(param)))
	}
	return lines
}

// codeText writes an unwind code as llvm-readobj 14 prints it: its bytes
// and the prolog (or epilog) instruction it stands for.
func codeText(op ARM64UnwindOp, prolog bool) string {
	hex := ""
	for _, b := range op.Code[:op.Len] {
		hex += fmt.Sprintf("%02x", b)
	}
	pick := func(p, e string) string {
		if prolog {
			return p
		}
		return e
	}
	var s string
	switch op.Op {
	case ARM64AllocS, ARM64AllocM, ARM64AllocL:
		s = fmt.Sprintf("%s sp, #%d", pick("sub", "add"), op.Size)
	case ARM64SaveR19R20X, ARM64SaveFPLRX, ARM64SaveRegPX:
		r := fmt.Sprintf("x%d, x%d", op.Reg, op.Reg+1)
		s = pick(fmt.Sprintf("stp %s, [sp, #-%d]!", r, op.Offset), fmt.Sprintf("ldp %s, [sp], #%d", r, op.Offset))
	case ARM64SaveFPLR, ARM64SaveRegP:
		s = fmt.Sprintf("%s x%d, x%d, [sp, #%d]", pick("stp", "ldp"), op.Reg, op.Reg+1, op.Offset)
	case ARM64SaveReg:
		s = fmt.Sprintf("%s x%d, [sp, #%d]", pick("str", "ldr"), op.Reg, op.Offset)
	case ARM64SaveRegX:
		s = pick(fmt.Sprintf("str x%d, [sp, #-%d]!", op.Reg, op.Offset), fmt.Sprintf("ldr x%d, [sp], #%d", op.Reg, op.Offset))
	case ARM64SaveLRPair:
		s = fmt.Sprintf("%s x%d, lr, [sp, #%d]", pick("stp", "ldp"), op.Reg, op.Offset)
	case ARM64SaveFRegP:
		s = fmt.Sprintf("%s d%d, d%d, [sp, #%d]", pick("stp", "ldp"), op.Reg, op.Reg+1, op.Offset)
	case ARM64SaveFRegPX:
		s = pick(fmt.Sprintf("stp d%d, d%d, [sp, #-%d]!", op.Reg, op.Reg+1, op.Offset), fmt.Sprintf("ldp d%d, d%d, [sp], #%d", op.Reg, op.Reg+1, op.Offset))
	case ARM64SaveFReg:
		s = fmt.Sprintf("%s d%d, [sp, #%d]", pick("str", "ldr"), op.Reg, op.Offset)
	case ARM64SaveFRegX:
		s = pick(fmt.Sprintf("str d%d, [sp, #-%d]!", op.Reg, op.Offset), fmt.Sprintf("ldr d%d, [sp], #%d", op.Reg, op.Offset))
	case ARM64SetFP:
		s = pick("mov fp, sp", "mov sp, fp")
	case ARM64AddFP:
		s = pick(fmt.Sprintf("add fp, sp, #%d", op.Size), fmt.Sprintf("sub sp, fp, #%d", op.Size))
	case ARM64Nop:
		s = "nop"
	case ARM64End:
		s = "end"
	case ARM64EndC:
		s = "end_c"
	case ARM64SaveNext:
		s = pick("save next", "restore next")
	case ARM64TrapFrame:
		s = "trap frame"
	case ARM64MachineFrame:
		s = "machine frame"
	case ARM64Context:
		s = "context"
	case ARM64ClearUnwoundToCall:
		s = "clear unwound to call"
	case ARM64PACSignLR:
		s = pick("pacibsp", "autibsp")
	default:
		s = op.Op.String()
	}
	return "0x" + hex + " ; " + s
}

// packedText writes an operation of a packed entry's canonical prolog as
// llvm-readobj 14 prints it.
func packedText(op ARM64UnwindOp) string {
	switch op.Op {
	case ARM64SetFP:
		return "mov x29, sp"
	case ARM64SaveFPLRX:
		return fmt.Sprintf("stp x29, lr, [sp, #-%d]!", op.Offset)
	case ARM64SaveFPLR:
		return fmt.Sprintf("stp x29, lr, [sp, #%d]", op.Offset)
	case ARM64AllocS, ARM64AllocM, ARM64AllocL:
		return fmt.Sprintf("sub sp, sp, #%d", op.Size)
	case ARM64SaveRegP:
		return fmt.Sprintf("stp x%d, x%d, [sp, #%d]", op.Reg, op.Reg+1, op.Offset)
	case ARM64SaveRegPX:
		return fmt.Sprintf("stp x%d, x%d, [sp, #-%d]!", op.Reg, op.Reg+1, op.Offset)
	case ARM64SaveFReg:
		return fmt.Sprintf("str d%d, [sp, #%d]", op.Reg, op.Offset)
	case ARM64SaveFRegP:
		return fmt.Sprintf("stp d%d, d%d, [sp, #%d]", op.Reg, op.Reg+1, op.Offset)
	case ARM64SaveFRegPX:
		return fmt.Sprintf("stp d%d, d%d, [sp, #-%d]!", op.Reg, op.Reg+1, op.Offset)
	case ARM64SaveReg, ARM64SaveRegX:
		reg := fmt.Sprintf("x%d", op.Reg)
		if op.Reg == 30 {
			reg = "lr"
		}
		if op.Op == ARM64SaveRegX {
			return fmt.Sprintf("str %s, [sp, #-%d]!", reg, op.Offset)
		}
		return fmt.Sprintf("str %s, [sp, #%d]", reg, op.Offset)
	case ARM64SaveLRPair:
		return fmt.Sprintf("stp x%d, lr, [sp, #%d]", op.Reg, op.Offset)
	case ARM64PACSignLR:
		return "pacibsp"
	case ARM64End:
		return "end"
	}
	return op.Op.String()
}
