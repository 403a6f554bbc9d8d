package minidump

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/minidump/minidumptest"
)

// syntheticDump is a dump built by minidumptest with the values a test
// expects to read back.
type syntheticDump struct {
	name     string
	dump     []byte
	arch     ProcessorArch
	pc, sp   uint64
	regs     map[string]uint64 // registers to check by name
	validity map[string]bool   // register validity to check
}

func seq33(start uint64) (x [33]uint64) {
	for i := range x {
		x[i] = start + uint64(i)*0x1111
	}
	return x
}

// syntheticDumps covers what the peer dumps lack: ARM and ARM64 contexts in
// both layouts, Memory64 lists, padded lists, thread names.
func syntheticDumps() []syntheticDump {
	var out []syntheticDump
	stack := bytes.Repeat([]byte{0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4}, 64)
	guid := [16]byte{0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8}

	{ // arm64, current layout, Linux, ELF build id, padded lists.
		x := seq33(0x1000)
		x[31], x[32] = 0x7ffff000, 0x5555_1234
		b := minidumptest.New()
		b.PadLists = true
		b.SystemInfo(12, 0x8201, 6, 1, 0, "#1 SMP PREEMPT")
		ctx := minidumptest.ARM64Context(minidumptest.ContextARM64|0x7, 0x60000000, x, 0x11, 0x22)
		b.Thread(42, 0x7ffff000, stack, ctx)
		b.ThreadName(42, "render")
		b.Module(0x5555_0000, 0x10000, 0, "/usr/bin/game", minidumptest.CodeViewELF([]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}))
		b.Exception(42, 11, 1, 0x5555_1234, nil, ctx)
		out = append(out, syntheticDump{name: "arm64-linux", dump: b.Bytes(), arch: ArchARM64, pc: 0x5555_1234, sp: 0x7ffff000,
			regs:     map[string]uint64{"x0": 0x1000, "x28": 0x1000 + 28*0x1111, "fp": 0x1000 + 29*0x1111, "lr": 0x1000 + 30*0x1111, "cpsr": 0x60000000, "fpcr": 0x11, "fpsr": 0x22},
			validity: map[string]bool{"x0": true, "pc": true, "fpsr": true}})
	}
	{ // arm64, Breakpad's old layout, macOS.
		x := seq33(0x2000)
		x[31], x[32] = 0x16fdff000, 0x1_0000_4000
		b := minidumptest.New()
		b.SystemInfo(0x8003, 0x8101, 13, 0, 0, "22A380")
		ctx := minidumptest.ARM64OldContext(minidumptest.ContextARM64Old|0x2, 0x80000000, x, 0x33, 0x44)
		b.Thread(7, 0x16fdff000, stack, ctx)
		b.Module(0x1_0000_0000, 0x8000, 0, "/Applications/Game.app/Contents/MacOS/Game", minidumptest.CodeViewRSDS(guid, 0, "Game"))
		out = append(out, syntheticDump{name: "arm64-old-macos", dump: b.Bytes(), arch: ArchARM64, pc: 0x1_0000_4000, sp: 0x16fdff000,
			regs:     map[string]uint64{"x1": 0x2000 + 0x1111, "cpsr": 0x80000000, "fpsr": 0x33, "fpcr": 0x44},
			validity: map[string]bool{"x1": true, "pc": true, "fpsr": true}})
	}
	{ // 32-bit ARM, Android.
		var r [16]uint32
		for i := range r {
			r[i] = uint32(0x100 + i)
		}
		r[13], r[15] = 0xbeff0000, 0x4000_1000
		b := minidumptest.New()
		b.SystemInfo(5, 0x8203, 4, 19, 0, "Android 13")
		ctx := minidumptest.ARMContext(minidumptest.ContextARM|0x2, 0x10, r)
		b.Thread(1000, 0xbeff0000, stack, ctx)
		b.Module(0x4000_0000, 0x20000, 0, "libgame.so", minidumptest.CodeViewELF([]byte{1, 2, 3, 4, 5, 6, 7, 8}))
		b.Exception(1000, 6, 0, 0x4000_1000, nil, ctx)
		out = append(out, syntheticDump{name: "arm-android", dump: b.Bytes(), arch: ArchARM, pc: 0x4000_1000, sp: 0xbeff0000,
			regs:     map[string]uint64{"r0": 0x100, "r11": 0x10b, "lr": 0x10e, "cpsr": 0x10},
			validity: map[string]bool{"r0": true, "fpscr": false}})
	}
	{ // amd64 Windows full-memory dump: Memory64List, no MemoryList.
		var regs [17]uint64
		for i := range regs {
			regs[i] = 0x10 * uint64(i+1)
		}
		regs[4], regs[16] = 0x12_0000, 0x1_4000_1000 // rsp, rip
		b := minidumptest.New()
		b.SystemInfo(9, 2, 10, 0, 19045, "")
		ctx := minidumptest.AMD64Context(minidumptest.ContextAMD64|0x1f, regs)
		// Thread stack described only by the Memory64 list (full dumps).
		b.Memory64(0x12_0000, stack)
		b.Memory64(0x1_4000_0000, bytes.Repeat([]byte{0xcc}, 0x2000))
		b.Module(0x1_4000_0000, 0x2000, 0x5f000000, `C:\game\game.exe`, minidumptest.CodeViewRSDS(guid, 3, `C:\game\game.pdb`))
		b.Exception(1, 0xc0000005, 0, 0x1_4000_1000, []uint64{0, 0x10}, ctx)
		out = append(out, syntheticDump{name: "amd64-windows-memory64", dump: b.Bytes(), arch: ArchAMD64, pc: 0x1_4000_1000, sp: 0x12_0000,
			regs:     map[string]uint64{"rax": 0x10, "r15": 0x100},
			validity: map[string]bool{"rax": true, "dr0": true}})
	}
	{ // x86 Linux with a normal memory list.
		b := minidumptest.New()
		b.SystemInfo(0, 0x8201, 5, 10, 0, "")
		ctx := minidumptest.X86Context(minidumptest.ContextX86|0x7, [9]uint32{1, 2, 3, 4, 5, 6, 0xbf000100, 0x0804_8100, 0xbf000000})
		b.Thread(99, 0xbf000000, stack, ctx)
		b.Exception(99, 8, 1, 0x0804_8100, nil, ctx)
		out = append(out, syntheticDump{name: "x86-linux", dump: b.Bytes(), arch: ArchX86, pc: 0x0804_8100, sp: 0xbf000000,
			regs:     map[string]uint64{"edi": 1, "eax": 6, "ebp": 0xbf000100},
			validity: map[string]bool{"eax": true, "dr0": false}})
	}
	return out
}

func TestSynthetic(t *testing.T) {
	for _, s := range syntheticDumps() {
		t.Run(s.name, func(t *testing.T) {
			f, err := FromBytes(s.dump)
			if err != nil {
				t.Fatal(err)
			}
			si, err := f.SystemInfo()
			if err != nil {
				t.Fatal(err)
			}
			exc, excErr := f.Exception()
			var ctx Context
			if excErr == nil {
				ctx, err = f.ExceptionContext(exc, si)
			} else {
				threads, terr := f.Threads()
				if terr != nil || len(threads) == 0 {
					t.Fatalf("no exception (%v) and no threads (%v)", excErr, terr)
				}
				ctx, err = f.ThreadContext(&threads[0], si)
			}
			if err != nil {
				t.Fatal(err)
			}
			if ctx.CPU() != s.arch || ctx.PC() != s.pc || ctx.SP() != s.sp {
				t.Errorf("cpu %v pc %#x sp %#x, want %v %#x %#x", ctx.CPU(), ctx.PC(), ctx.SP(), s.arch, s.pc, s.sp)
			}
			for name, want := range s.regs {
				r, ok := RegisterValue(ctx, name)
				if !ok || r.Value != want {
					t.Errorf("%s = %#x (found %v), want %#x", name, r.Value, ok, want)
				}
			}
			for name, want := range s.validity {
				if r, _ := RegisterValue(ctx, name); r.Valid != want {
					t.Errorf("%s valid = %v, want %v", name, r.Valid, want)
				}
			}
			// The stack pointer's memory is readable through the index.
			mem, err := f.Memory()
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := mem.ReadUint32(s.sp); !ok || v != 0xddccbbaa {
				t.Errorf("memory at sp: %#x %v", v, ok)
			}
			c := f.ReadAll()
			if len(c.Problems) > 0 {
				t.Errorf("problems: %v", c.Problems)
			}
		})
	}
}

// TestSyntheticAgainstBreakpad runs Breakpad's minidump_dump on each
// synthetic dump and compares what it printed with what Cairn reads: an
// independent check of the writer, the ARM and ARM64 context layouts and the
// identifiers, which no peer dump covers.
func TestSyntheticAgainstBreakpad(t *testing.T) {
	tool := breakpadTool(t, "minidump_dump")
	dir := t.TempDir()
	for _, s := range syntheticDumps() {
		t.Run(s.name, func(t *testing.T) {
			path := filepath.Join(dir, s.name+".dmp")
			if err := os.WriteFile(path, s.dump, 0o644); err != nil {
				t.Fatal(err)
			}
			out, _ := exec.Command(tool, path).Output() // exits 1 on streams it does not know
			golden := filepath.Join(dir, s.name+".dump.txt")
			if err := os.WriteFile(golden, out, 0o644); err != nil {
				t.Fatal(err)
			}
			d := compareWithGolden(t, path, parseGoldenDump(t, golden))
			if len(d.list) > 0 {
				t.Errorf("%d difference(s) from Breakpad:\n  %v", len(d.list), d.list)
			}
			if d.checks < 20 {
				t.Errorf("only %d values compared; minidump_dump printed:\n%s", d.checks, out)
			}
		})
	}
}

// breakpadTool finds a Breakpad processor tool (see testtools.BreakpadTool).
func breakpadTool(t testing.TB, name string) string {
	t.Helper()
	return testtools.BreakpadTool(t, name)
}
