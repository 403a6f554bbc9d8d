package stackwalk

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/minidump/minidumptest"
)

// Processor architectures and platforms of the synthetic dumps.
const (
	cpuX86    = 0
	cpuARM    = 5
	cpuAMD64  = 9
	cpuARM64  = 12
	osWindows = 2
	osLinux   = 0x8201
)

// synthModule is a module of a synthetic dump, with its symbol file text
// ("" for none).
type synthModule struct {
	base uint64
	size uint32
	name string
	sym  string
}

// synthDump describes a one-thread dump.
type synthDump struct {
	cpu       uint16
	platform  uint32
	stackBase uint64
	stack     []byte
	context   []byte
	modules   []synthModule
}

// mapModules serves debug information by module code file.
type mapModules map[string]Debug

func (p mapModules) Find(_ context.Context, m *Module) Debug { return p[m.CodeFile] }

// walkSynth builds the dump and walks it with the modules' symbol files.
func walkSynth(t testing.TB, d synthDump, opts Options) *Thread {
	t.Helper()
	b := minidumptest.New()
	b.SystemInfo(d.cpu, d.platform, 10, 0, 1, "")
	b.Thread(1, d.stackBase, d.stack, d.context)
	p := mapModules{}
	for i, m := range d.modules {
		var guid [16]byte
		guid[0] = byte(i + 1)
		b.Module(m.base, m.size, 0x5000, m.name, minidumptest.CodeViewRSDS(guid, 1, m.name+".pdb"))
		if m.sym != "" {
			sf, err := NewSymbolFile([]byte(m.sym), m.name, SymbolFileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p[m.name] = Debug{Symbols: sf, Unwinder: sf}
		}
	}
	r, err := Process(context.Background(), b.Bytes(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Threads) != 1 {
		t.Fatalf("%d threads", len(r.Threads))
	}
	return &r.Threads[0]
}

// words lays out a stack of little-endian words.
func words(size int, vals ...uint64) []byte {
	out := make([]byte, 0, len(vals)*size)
	for _, v := range vals {
		if size == 4 {
			out = binary.LittleEndian.AppendUint32(out, uint32(v))
		} else {
			out = binary.LittleEndian.AppendUint64(out, v)
		}
	}
	return out
}

// describe renders frames for failure messages.
func describe(th *Thread) string {
	var b strings.Builder
	for i := range th.Frames {
		f := &th.Frames[i]
		fmt.Fprintf(&b, "\n  %d %s pc=%#x sp=%#x %s", i, f.Trust, f.ReturnAddress(), f.Context.SP(), f.Function)
	}
	return b.String()
}

type wantFrame struct {
	pc    uint64
	trust Trust
	fn    string
}

func checkFrames(t *testing.T, th *Thread, want []wantFrame) {
	t.Helper()
	if len(th.Frames) != len(want) {
		t.Fatalf("%d frames, want %d:%s", len(th.Frames), len(want), describe(th))
	}
	for i, w := range want {
		f := &th.Frames[i]
		if f.ReturnAddress() != w.pc || f.Trust != w.trust || f.Function != w.fn {
			t.Errorf("frame %d: pc %#x %s %q, want %#x %s %q%s", i, f.ReturnAddress(), f.Trust, f.Function, w.pc, w.trust, w.fn, describe(th))
		}
	}
}

const stackBase = 0x7fff0000

// TestAMD64Strategies walks CFI (with a callee-saved register recovered),
// then the frame pointer where a function has no CFI, and stops at a null
// return address.
func TestAMD64Strategies(t *testing.T) {
	S := uint64(stackBase)
	stack := make([]byte, 0x100)
	put := func(off int, v uint64) { binary.LittleEndian.PutUint64(stack[off:], v) }
	put(0x00, 0x402010) // leaf's return address into middle
	put(0x08, 0x1234)   // rbx saved by middle
	put(0x10, 0x403020) // middle's return address into outer
	put(0x40, S+0x60)   // outer's frame record: saved rbp
	put(0x48, 0x403050) // and return address
	put(0x60, S+0x80)   // the next record
	put(0x68, 0)        // ends the chain
	sym := `MODULE Linux x86_64 0100000000000000000000000000000000 app
FUNC 1000 100 0 leaf
FUNC 2000 100 0 middle
FUNC 3000 100 0 outer
STACK CFI INIT 1000 100 .cfa: $rsp 8 + .ra: .cfa -8 + ^
STACK CFI INIT 2000 100 .cfa: $rsp 16 + .ra: .cfa -8 + ^ $rbx: .cfa -16 + ^
`
	var regs [17]uint64 // rax rcx rdx rbx rsp rbp rsi rdi r8-r15 rip
	regs[3], regs[4], regs[5], regs[16] = 0x99, S, S+0x40, 0x401010
	th := walkSynth(t, synthDump{cpu: cpuAMD64, platform: osLinux, stackBase: S, stack: stack,
		context: minidumptest.AMD64Context(0x10003f, regs), modules: []synthModule{{0x400000, 0x10000, "app", sym}}}, Options{})
	checkFrames(t, th, []wantFrame{
		{0x401010, TrustContext, "leaf"},
		{0x402010, TrustCFI, "middle"},
		{0x403020, TrustCFI, "outer"},
		{0x403050, TrustFP, "outer"},
	})
	if v, ok := th.Frames[2].Context.Get(3); !ok || v != 0x1234 {
		t.Errorf("rbx of frame 2: %#x %v, want 0x1234 from the CFI rule", v, ok)
	}
	if v, ok := th.Frames[1].Context.Get(3); !ok || v != 0x99 {
		t.Errorf("rbx of frame 1: %#x %v, want the callee's (callee-saved, no rule)", v, ok)
	}
	if th.Frames[1].Instruction != 0x40200f {
		t.Errorf("caller instruction %#x, want the return address minus one", th.Frames[1].Instruction)
	}
}

// TestAMD64ScanAndWindowsLeaf: without unwind information a Linux walk
// scans; on Windows the context frame is first taken for a leaf function
// whose return address is on top of the stack.
func TestAMD64ScanAndWindowsLeaf(t *testing.T) {
	S := uint64(stackBase)
	var regs [17]uint64
	regs[4], regs[5], regs[16] = S, 3, 0x401010 // rbp odd: no frame pointer
	stack := words(8, 7, 0x402005, 0, 0)
	mods := []synthModule{{0x400000, 0x10000, "app", ""}}
	th := walkSynth(t, synthDump{cpu: cpuAMD64, platform: osLinux, stackBase: S, stack: stack,
		context: minidumptest.AMD64Context(0x10003f, regs), modules: mods}, Options{})
	checkFrames(t, th, []wantFrame{{0x401010, TrustContext, ""}, {0x402005, TrustScan, ""}})
	th = walkSynth(t, synthDump{cpu: cpuAMD64, platform: osWindows, stackBase: S, stack: stack,
		context: minidumptest.AMD64Context(0x10003f, regs), modules: mods}, Options{})
	checkFrames(t, th, []wantFrame{{0x401010, TrustContext, ""}, {0x402005, TrustLeaf, ""}})
}

// TestARM64FramePointerPAC follows the frame record chain with return
// addresses signed by pointer authentication: the codes in the upper bits
// are stripped, in the context's lr and in every saved lr.
func TestARM64FramePointerPAC(t *testing.T) {
	S := uint64(stackBase)
	stack := make([]byte, 0x60)
	put := func(off int, v uint64) { binary.LittleEndian.PutUint64(stack[off:], v) }
	put(0x10, S+0x30)                // frame record of frame 1: caller fp
	put(0x18, 0x002a_0000_0040_3030) // signed return address
	put(0x30, 0)
	put(0x38, 0)
	var x [33]uint64
	x[29], x[30], x[31], x[32] = S+0x10, 0x0071_0000_0040_2020, S, 0x401010
	th := walkSynth(t, synthDump{cpu: cpuARM64, platform: osLinux, stackBase: S, stack: stack,
		context: minidumptest.ARM64Context(0x400007, 0, x, 0, 0), modules: []synthModule{{0x400000, 0x10000, "app", ""}}}, Options{})
	checkFrames(t, th, []wantFrame{
		{0x401010, TrustContext, ""},
		{0x402020, TrustFP, ""},
		{0x403030, TrustFP, ""},
	})
	if th.Frames[1].Instruction != 0x40201c {
		t.Errorf("caller instruction %#x, want the return address minus 4", th.Frames[1].Instruction)
	}
}

// signedUnwinder answers every address with one row.
type signedUnwinder struct{ row unwind.Row }

func (u signedUnwinder) CFI(addr uint64, row *unwind.Row) bool {
	regs := append(row.Regs[:0], u.row.Regs...)
	*row = u.row
	row.Regs = regs
	return true
}
func (signedUnwinder) Win(uint64) (unwind.WinFrame, bool) { return unwind.WinFrame{}, false }
func (signedUnwinder) ParamSize(uint64) (uint32, bool)    { return 0, false }

// TestARM64CFISigned unwinds with a row whose return address is signed
// (DW_CFA_AARCH64_negate_ra_state): the recovered address is stripped.
func TestARM64CFISigned(t *testing.T) {
	S := uint64(stackBase)
	stack := words(8, 0, 0x0055_0000_0040_2020, 0, 0)
	var x [33]uint64
	x[31], x[32] = S, 0x401010
	b := minidumptest.New()
	b.SystemInfo(cpuARM64, osLinux, 10, 0, 1, "")
	b.Thread(1, S, stack, minidumptest.ARM64Context(0x400007, 0, x, 0, 0))
	b.Module(0x400000, 0x10000, 0, "app", nil)
	u := signedUnwinder{unwind.Row{RA: 30, Flags: unwind.FlagRASigned,
		CFA:  unwind.Rule{Kind: unwind.RuleRegOffset, Reg: 31, Offset: 16},
		Regs: []unwind.RegRule{{Reg: 30, Rule: unwind.Rule{Kind: unwind.RuleOffset, Offset: -8}}}}}
	r, err := Process(context.Background(), b.Bytes(), mapModules{"app": {Unwinder: u}}, Options{MaxFrames: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkFrames(t, &r.Threads[0], []wantFrame{{0x401010, TrustContext, ""}, {0x402020, TrustCFI, ""}})
}

// TestARMCFI walks 32-bit ARM with STACK CFI, keeping r4–r11.
func TestARMCFI(t *testing.T) {
	S := uint64(stackBase)
	stack := words(4, 0x11, 0x402021, 0, 0, 0, 0)
	sym := `MODULE Linux arm 0100000000000000000000000000000000 app
FUNC 1000 100 0 f
FUNC 2000 100 0 g
STACK CFI INIT 1000 100 .cfa: sp 8 + .ra: .cfa -4 + ^ r7: .cfa -8 + ^
`
	var r [16]uint32
	r[7], r[8], r[13], r[15] = 5, 6, uint32(S), 0x401010
	th := walkSynth(t, synthDump{cpu: cpuARM, platform: osLinux, stackBase: S, stack: stack,
		context: minidumptest.ARMContext(0x40000002, 0, r), modules: []synthModule{{0x400000, 0x10000, "app", sym}}}, Options{MaxFrames: 2})
	checkFrames(t, th, []wantFrame{{0x401010, TrustContext, "f"}, {0x402021, TrustCFI, "g"}})
	c := &th.Frames[1].Context
	if v, _ := c.Get(7); v != 0x11 {
		t.Errorf("r7 = %#x, want 0x11 from the rule", v)
	}
	if v, _ := c.Get(8); v != 6 {
		t.Errorf("r8 = %#x, want the callee's 6", v)
	}
	if th.Frames[1].Instruction != 0x40201f {
		t.Errorf("caller instruction %#x, want the return address minus 2", th.Frames[1].Instruction)
	}
}

// TestX86FrameData walks a STACK WIN program, then the ebp chain.
func TestX86FrameData(t *testing.T) {
	S := uint64(stackBase)
	stack := make([]byte, 0x60)
	put := func(off int, v uint32) { binary.LittleEndian.PutUint32(stack[off:], v) }
	put(0x10, uint32(S)+0x30) // saved ebp
	put(0x14, 0x402010)       // return address
	put(0x30, uint32(S)+0x50)
	put(0x34, 0x403010)
	sym := `MODULE windows x86 0100000000000000000000000000000000 app.pdb
FUNC 1000 100 4 f
FUNC 2000 100 8 g
FUNC 3000 100 0 h
STACK WIN 4 1000 100 0 0 4 0 8 0 1 $T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =
`
	// edi esi ebx edx ecx eax ebp eip esp
	regs := [9]uint32{0, 0, 0, 0, 0, 0, uint32(S) + 0x10, 0x401010, uint32(S)}
	th := walkSynth(t, synthDump{cpu: cpuX86, platform: osWindows, stackBase: S, stack: stack,
		context: minidumptest.X86Context(0x1003f, regs), modules: []synthModule{{0x400000, 0x10000, "app", sym}}}, Options{MaxFrames: 3})
	checkFrames(t, th, []wantFrame{
		{0x401010, TrustContext, "f"},
		{0x402010, TrustCFI, "g"},
		{0x403010, TrustFP, "h"},
	})
}

// TestHostileStacks: loops, huge and absent stacks end within bounds.
func TestHostileStacks(t *testing.T) {
	S := uint64(stackBase)
	mods := []synthModule{{0x400000, 0x10000, "app", ""}}
	var regs [17]uint64
	regs[4], regs[5], regs[16] = S, S, 0x401010

	t.Run("frame pointer loop", func(t *testing.T) {
		// rbp points at itself: the chain would loop; the walk must not.
		stack := words(8, S, 0x402000, S, 0x402000)
		th := walkSynth(t, synthDump{cpu: cpuAMD64, platform: osLinux, stackBase: S, stack: stack,
			context: minidumptest.AMD64Context(0x10003f, regs), modules: mods}, Options{})
		for i := 2; i < len(th.Frames); i++ {
			if th.Frames[i].Context.SP() <= th.Frames[i-1].Context.SP() {
				t.Fatalf("stack pointer did not grow:%s", describe(th))
			}
		}
	})
	t.Run("huge stack of return addresses", func(t *testing.T) {
		// 8 MiB of words that all look like return addresses: every scan
		// succeeds, so only the frame limit ends the walk.
		n := 1 << 20
		stack := make([]byte, 8*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint64(stack[8*i:], 0x402000)
		}
		regs := regs
		regs[5] = 1
		start := time.Now()
		th := walkSynth(t, synthDump{cpu: cpuAMD64, platform: osLinux, stackBase: S, stack: stack,
			context: minidumptest.AMD64Context(0x10003f, regs), modules: mods}, Options{})
		if len(th.Frames) != DefaultMaxFrames || !th.Truncated {
			t.Errorf("%d frames (truncated %v), want the limit %d", len(th.Frames), th.Truncated, DefaultMaxFrames)
		}
		t.Logf("%d frames in %v", len(th.Frames), time.Since(start))
	})
	t.Run("scanned frame limit", func(t *testing.T) {
		stack := make([]byte, 8*4096)
		for i := range 4096 {
			binary.LittleEndian.PutUint64(stack[8*i:], 0x402000)
		}
		regs := regs
		regs[5] = 1
		th := walkSynth(t, synthDump{cpu: cpuAMD64, platform: osLinux, stackBase: S, stack: stack,
			context: minidumptest.AMD64Context(0x10003f, regs), modules: mods}, Options{MaxScanned: 10})
		if len(th.Frames) != 11 {
			t.Errorf("%d frames, want the context frame and 10 scanned", len(th.Frames))
		}
	})
	t.Run("no stack", func(t *testing.T) {
		th := walkSynth(t, synthDump{cpu: cpuAMD64, platform: osLinux, stackBase: S, stack: nil,
			context: minidumptest.AMD64Context(0x10003f, regs), modules: mods}, Options{})
		if len(th.Frames) != 1 {
			t.Errorf("%d frames, want the context frame only", len(th.Frames))
		}
	})
	t.Run("stack at the top of the address space", func(t *testing.T) {
		top := uint64(1<<64 - 16)
		regs := regs
		regs[4], regs[5] = top, top
		th := walkSynth(t, synthDump{cpu: cpuAMD64, platform: osLinux, stackBase: top, stack: words(8, 0x402000, 0x402000),
			context: minidumptest.AMD64Context(0x10003f, regs), modules: mods}, Options{})
		if len(th.Frames) > 3 {
			t.Errorf("%d frames:%s", len(th.Frames), describe(th))
		}
	})
	t.Run("x86 stack above 4 GiB", func(t *testing.T) {
		regs := [9]uint32{0, 0, 0, 0, 0, 0, 0x10, 0x401010, 0}
		th := walkSynth(t, synthDump{cpu: cpuX86, platform: osWindows, stackBase: 0xfffffff0, stack: make([]byte, 64),
			context: minidumptest.X86Context(0x1003f, regs), modules: mods}, Options{})
		if len(th.Frames) != 1 {
			t.Errorf("%d frames, want only the context frame", len(th.Frames))
		}
	})
}
