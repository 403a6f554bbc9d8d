package stackwalk

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/minidump/minidumptest"
)

// fuzzSyms are symbol files with CFI of every kind the walkers evaluate:
// register plus offset, dereferences, postfix arithmetic, frame data
// programs with .raSearch.
var fuzzSyms = map[uint16]string{
	cpuAMD64: `MODULE Linux x86_64 0100000000000000000000000000000000 app
FUNC 1000 100 0 a
FUNC 2000 100 0 b
STACK CFI INIT 1000 100 .cfa: $rsp 8 + .ra: .cfa -8 + ^
STACK CFI 1010 .cfa: $rbp 16 + $rbp: .cfa -16 + ^ .ra: .cfa 8 - ^
STACK CFI INIT 2000 100 .cfa: $rsp $rax + .ra: .cfa -8 + ^ $rbx: $rsp 4 * ^
`,
	cpuX86: `MODULE windows x86 0100000000000000000000000000000000 app.pdb
FUNC 1000 100 4 a
FUNC 2000 100 8 b
STACK WIN 4 1000 100 4 0 8 4 10 0 1 $T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = $ebp $T0 12 - ^ =
STACK WIN 0 2000 80 4 0 8 4 10 0 0 1
STACK WIN 4 2080 80 4 0 8 4 10 0 1 $T1 $ebp 8 @ = $eip $T1 4 + ^ = $esp $T1 8 + = $ebp $T1 ^ =
STACK CFI INIT 3000 100 .cfa: $esp 4 + .ra: .cfa -4 + ^
`,
	cpuARM64: `MODULE Linux arm64 0100000000000000000000000000000000 app
FUNC 1000 100 0 a
STACK CFI INIT 1000 100 .cfa: sp 0 + .ra: x30
STACK CFI 1008 .cfa: x29 16 + x29: .cfa -16 + ^ .ra: .cfa -8 + ^
`,
	cpuARM: `MODULE Linux arm 0100000000000000000000000000000000 app
FUNC 1000 100 0 a
STACK CFI INIT 1000 100 .cfa: sp 8 + .ra: .cfa -4 + ^ r11: .cfa -8 + ^
`,
}

// FuzzUnwind walks a thread of each architecture whose stack and
// registers are the fuzzer's, with CFI, frame data, frame pointers and
// scanning all in play. Walks must end within the frame limit, every
// caller's stack pointer must lie above its callee's (equal only for the
// first unwind), and nothing may panic.
func FuzzUnwind(f *testing.F) {
	f.Add(uint8(0), []byte{0x10, 0x20, 0x40, 0, 0, 0, 0, 0, 0x08, 0, 0, 0, 0, 0, 0, 0}, uint64(0x401010), uint64(0x8), uint64(0x10))
	f.Add(uint8(1), words(4, 0x402010, 0x7fff0010, 0x401000, 0x402000), uint64(0x401004), uint64(0x7fff0008), uint64(0x402090))
	f.Add(uint8(2), words(8, 0x7fff0020, 0x402000, 0x00ff00000401020, 0), uint64(0x401008), uint64(0x7fff0000), uint64(0x4010f0))
	f.Add(uint8(3), words(4, 0x402001, 0x7fff0000, 0x401001), uint64(0x401004), uint64(0x7fff0000), uint64(0))
	f.Fuzz(func(t *testing.T, which uint8, stack []byte, pc, sp, aux uint64) {
		cpus := []uint16{cpuAMD64, cpuX86, cpuARM64, cpuARM}
		cpu := cpus[int(which)%len(cpus)]
		base := uint64(0x7fff0000)
		var ctx []byte
		switch cpu {
		case cpuAMD64:
			var r [17]uint64
			r[0], r[4], r[5], r[16] = aux, base+sp%0x100, aux, pc
			ctx = minidumptest.AMD64Context(0x10003f, r)
		case cpuX86:
			r := [9]uint32{0, 0, uint32(aux), 0, 0, 0, uint32(aux), uint32(pc), uint32(base + sp%0x100)}
			ctx = minidumptest.X86Context(0x1003f, r)
		case cpuARM64:
			var x [33]uint64
			x[29], x[30], x[31], x[32] = base+aux%0x100, aux, base+sp%0x100, pc
			ctx = minidumptest.ARM64Context(0x400007, 0, x, 0, 0)
		case cpuARM:
			var r [16]uint32
			r[11], r[13], r[14], r[15] = uint32(base+aux%0x100), uint32(base+sp%0x100), uint32(aux), uint32(pc)
			ctx = minidumptest.ARMContext(0x40000002, 0, r)
		}
		platform := uint32(osLinux)
		if which&0x10 != 0 {
			platform = osWindows
		}
		th := walkSynth(t, synthDump{cpu: cpu, platform: platform, stackBase: base, stack: stack, context: ctx,
			modules: []synthModule{{0x400000, 0x10000, "app", fuzzSyms[cpu]}, {0x500000, 0x1000, "lib", ""}}}, Options{MaxFrames: 256})
		if len(th.Frames) > 256 {
			t.Fatalf("%d frames beyond the limit", len(th.Frames))
		}
		var last *Frame
		for i := range th.Frames {
			fr := &th.Frames[i]
			if fr.Inlined() {
				continue
			}
			if last != nil {
				if fr.Context.SP() < last.Context.SP() || (fr.Context.SP() == last.Context.SP() && last.Trust != TrustContext) {
					t.Fatalf("frame %d: sp %#x after %#x%s", i, fr.Context.SP(), last.Context.SP(), describe(th))
				}
				if fr.Context.PC() < 1<<12 {
					t.Fatalf("frame %d: pc %#x below 4 KiB", i, fr.Context.PC())
				}
			}
			last = fr
		}
	})
}

// FuzzProcess processes arbitrary bytes as a dump, seeded with the peer
// dumps (including rust-minidump's invalid ones): errors are fine, panics
// and unbounded walks are not.
func FuzzProcess(f *testing.F) {
	if dir := filepath.Join(testtools.RepoRoot(), "..", "shared", "fixtures", "peers"); dirExists(dir) {
		// Small dumps only: the fuzzer minimizes every input it finds
		// interesting, which takes long on large ones.
		for _, p := range []string{"breakpad/minidump2.dmp", "breakpad/linux_overflow.dmp",
			"rust-minidump/invalid-range.dmp", "rust-minidump/invalid-record-count.dmp"} {
			if data, err := os.ReadFile(filepath.Join(dir, p)); err == nil {
				f.Add(data)
			}
		}
	}
	b := minidumptest.New()
	b.SystemInfo(cpuAMD64, osLinux, 1, 0, 0, "")
	var r [17]uint64
	r[4], r[16] = 0x7fff0000, 0x401000
	b.Thread(1, 0x7fff0000, words(8, 0x401000, 0x401000), minidumptest.AMD64Context(0x10003f, r))
	b.Module(0x400000, 0x1000, 0, "app", nil)
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Process(context.Background(), data, nil, Options{MaxFrames: 512})
		if err != nil || res == nil {
			return
		}
		for _, th := range res.Threads {
			if len(th.Frames) > 512 {
				t.Fatalf("%d frames", len(th.Frames))
			}
		}
	})
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// FuzzSymbolFile reads arbitrary symbol files and symbolizes addresses
// in them, inlined frames included: malformed records must be skipped,
// never panic, and inline chains stay bounded.
func FuzzSymbolFile(f *testing.F) {
	f.Add([]byte(`MODULE Linux x86_64 0100000000000000000000000000000000 app
FILE 0 a.c
INLINE_ORIGIN 0 inl
FUNC 1000 100 0 f
1000 10 3 0
INLINE 0 5 0 0 1000 20
INLINE 1 6 0 0 1004 8
INLINE 1 7 0 0 1004 8
PUBLIC 2000 0 p
STACK CFI INIT 1000 100 .cfa: $rsp 8 + .ra: .cfa -8 + ^
`))
	for _, p := range fuzzSyms {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := NewSymbolFile(data, "fuzz", SymbolFileOptions{})
		if err != nil {
			return
		}
		var out Symbolized
		var row unwind.Row
		for _, addr := range []uint64{0, 0x1000, 0x1004, 0x1010, 0x1fff, 0x2000, 0x2080, 1 << 40} {
			s.Symbolize(addr, true, &out)
			if len(out.Inlines) > maxInlineDepth {
				t.Fatalf("%d inlined frames", len(out.Inlines))
			}
			s.CFI(addr, &row)
			s.Win(addr)
			s.ParamSize(addr)
		}
	})
}
