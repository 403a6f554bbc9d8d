package minidump

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// crashGolden is what a Breakpad minidump_dump listing says about the
// exception and the system.
type crashGolden struct {
	code, flags   uint32
	address       uint64
	params        []uint64
	platform      PlatformID
	arch          ProcessorArch
	hasException  bool
	hasSystemInfo bool
}

var crashGoldenParamKey = regexp.MustCompile(`^exception_record\.exception_information\[\s*(\d+)\]$`)

// parseCrashGolden reads the MDException and MDRawSystemInfo blocks of a
// minidump_dump listing. Blocks start with an unindented header line and
// hold "  key = value" lines.
func parseCrashGolden(t *testing.T, path string) crashGolden {
	t.Helper()
	text, err := os.ReadFile(path) // whole file: memory hexdumps make multi-megabyte lines
	if err != nil {
		t.Fatal(err)
	}
	var g crashGolden
	block := ""
	fields := map[string]map[string]string{}
	for line := range strings.Lines(string(text)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			block = ""
			continue
		}
		if !strings.HasPrefix(line, " ") {
			block = strings.TrimSpace(line)
			if _, seen := fields[block]; seen {
				block = "" // keep the first block of a kind
			} else {
				fields[block] = map[string]string{}
			}
			continue
		}
		if block == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		fields[block][strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	num := func(block, key string) uint64 {
		t.Helper()
		s, ok := fields[block][key]
		if !ok {
			t.Fatalf("%s: %s has no %s", path, block, key)
		}
		s, _, _ = strings.Cut(s, " ") // "0x9 (x86-64)"
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("%s: %s.%s: %v", path, block, key, err)
		}
		return v
	}
	if ex, ok := fields["MDException"]; ok {
		g.hasException = true
		g.code = uint32(num("MDException", "exception_record.exception_code"))
		g.flags = uint32(num("MDException", "exception_record.exception_flags"))
		g.address = num("MDException", "exception_record.exception_address")
		n := min(num("MDException", "exception_record.number_parameters"), 15)
		g.params = make([]uint64, n)
		got := 0
		for k, v := range ex {
			m := crashGoldenParamKey.FindStringSubmatch(k)
			if m == nil {
				continue
			}
			i, _ := strconv.Atoi(m[1])
			if uint64(i) >= n {
				continue
			}
			p, err := strconv.ParseUint(v, 0, 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, k, err)
			}
			g.params[i] = p
			got++
		}
		if uint64(got) != n {
			t.Fatalf("%s: number_parameters = %d but %d exception_information lines", path, n, got)
		}
	}
	if _, ok := fields["MDRawSystemInfo"]; ok {
		g.hasSystemInfo = true
		g.platform = PlatformID(num("MDRawSystemInfo", "platform_id"))
		g.arch = ProcessorArch(num("MDRawSystemInfo", "processor_architecture"))
	}
	return g
}

// goldenCrashLine returns reason and address from the "Crash|reason|address|thread"
// line of a minidump_stackwalk -m output. The reason is cut from the right
// because Breakpad's Solaris names contain '|'.
func goldenCrashLine(t *testing.T, path string) (reason, addr string, ok bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		rest, found := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "Crash|")
		if !found {
			continue
		}
		i := strings.LastIndexByte(rest, '|')
		if i < 0 {
			t.Fatalf("%s: malformed crash line %q", path, line)
		}
		rest = rest[:i]
		j := strings.LastIndexByte(rest, '|')
		if j < 0 {
			t.Fatalf("%s: malformed crash line %q", path, line)
		}
		return rest[:j], rest[j+1:], true
	}
	return "", "", false
}

// TestCrashReasonGolden compares CrashReason and CrashAddress with what
// Breakpad's minidump_stackwalk printed for every golden dump that has an
// exception stream.
func TestCrashReasonGolden(t *testing.T) {
	dir := filepath.Join(peersDir(t), "golden", "breakpad")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CAIRN_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s missing (CAIRN_REQUIRE_PEERS=1): %v", dir, err)
		}
		t.Skipf("../shared/fixtures/peers/golden/breakpad not present (%v); skipping Breakpad golden comparison", err)
	}
	dumps, err := filepath.Glob(filepath.Join(dir, "*.dump.txt"))
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, dump := range dumps {
		name := strings.TrimSuffix(filepath.Base(dump), ".dump.txt")
		g := parseCrashGolden(t, dump)
		if !g.hasException {
			continue
		}
		reason, addr, ok := goldenCrashLine(t, filepath.Join(dir, name+".machine.txt"))
		if !ok {
			t.Logf("%s: no Crash line in machine output; skipped", name)
			continue
		}
		if !g.hasSystemInfo {
			// Breakpad leaves the numeric form when it cannot tell the OS;
			// PlatformUnix is not one of the platforms CrashReason decodes.
			g.platform, g.arch = PlatformUnix, ArchUnknown
		}
		compared++
		t.Run(name, func(t *testing.T) {
			got := CrashReason(g.platform, g.arch, g.code, g.flags, g.params)
			if got != reason {
				t.Errorf("CrashReason(%v, %v, %#x, %#x, %#x) = %q, Breakpad says %q",
					g.platform, g.arch, g.code, g.flags, g.params, got, reason)
			}
			gotAddr := fmt.Sprintf("%#x", CrashAddress(g.platform, g.arch, g.code, g.address, g.params))
			if gotAddr != addr {
				t.Errorf("CrashAddress(%v, %v, %#x, %#x, %#x) = %s, Breakpad says %s",
					g.platform, g.arch, g.code, g.address, g.params, gotAddr, addr)
			}
		})
	}
	if compared == 0 {
		t.Fatalf("no golden dump with an exception found in %s", dir)
	}
	t.Logf("compared %d golden dumps", compared)
}

// TestCrashReasonTable covers codes the goldens do not exercise. Expectations
// come from reading Breakpad's MinidumpProcessor::GetCrashReason.
func TestCrashReasonTable(t *testing.T) {
	const (
		win   = PlatformWin32NT
		linux = PlatformLinux
		mac   = PlatformMacOS
	)
	tests := []struct {
		platform PlatformID
		arch     ProcessorArch
		code     uint32
		flags    uint32
		params   []uint64
		want     string
	}{
		// Windows access violations: params[0] is the access kind.
		{win, ArchAMD64, 0xc0000005, 0, nil, "EXCEPTION_ACCESS_VIOLATION"},
		{win, ArchAMD64, 0xc0000005, 0, []uint64{2, 0x10}, "EXCEPTION_ACCESS_VIOLATION"},
		{win, ArchX86, 0xc0000005, 0, []uint64{8}, "EXCEPTION_ACCESS_VIOLATION_EXEC"},
		{PlatformWin32Windows, ArchX86, 0xc0000005, 0, []uint64{1, 0}, "EXCEPTION_ACCESS_VIOLATION_WRITE"},
		// In-page errors add the NTSTATUS of the failed I/O when present.
		{win, ArchAMD64, 0xc0000006, 0, nil, "EXCEPTION_IN_PAGE_ERROR"},
		{win, ArchAMD64, 0xc0000006, 0, []uint64{1, 0x1000}, "EXCEPTION_IN_PAGE_ERROR_WRITE"},
		{win, ArchAMD64, 0xc0000006, 0, []uint64{0, 0x1000, 0xc000009c}, "EXCEPTION_IN_PAGE_ERROR_READ / STATUS_DEVICE_DATA_ERROR"},
		{win, ArchAMD64, 0xc0000006, 0, []uint64{8, 0x1000, 0xc000000e}, "EXCEPTION_IN_PAGE_ERROR_EXEC / STATUS_NO_SUCH_DEVICE"},
		{win, ArchAMD64, 0xc0000006, 0, []uint64{5, 0x1000, 0xc0000185}, "EXCEPTION_IN_PAGE_ERROR / STATUS_IO_DEVICE_ERROR"},
		{win, ArchAMD64, 0xc0000006, 0, []uint64{0, 0x1000, 0xdeadbeef}, "EXCEPTION_IN_PAGE_ERROR_READ / 0xdeadbeef"},
		// __fastfail subcodes; 0 (legacy /GS) and unassigned ones stay generic.
		{win, ArchAMD64, 0xc0000409, 0, nil, "EXCEPTION_STACK_BUFFER_OVERRUN"},
		{win, ArchAMD64, 0xc0000409, 0, []uint64{0}, "EXCEPTION_STACK_BUFFER_OVERRUN"},
		{win, ArchAMD64, 0xc0000409, 0, []uint64{2}, "FAST_FAIL_STACK_COOKIE_CHECK_FAILURE"},
		{win, ArchAMD64, 0xc0000409, 0, []uint64{15}, "EXCEPTION_STACK_BUFFER_OVERRUN"},
		{win, ArchAMD64, 0xc0000409, 0, []uint64{54}, "FAST_FAIL_UNHANDLED_LSS_EXCEPTON"},
		{win, ArchAMD64, 0xc0000409, 0, []uint64{70}, "FAST_FAIL_INVALID_FLS_DATA"},
		{win, ArchAMD64, 0xc0000409, 0, []uint64{71}, "EXCEPTION_STACK_BUFFER_OVERRUN"},
		{win, ArchAMD64, 0xc0000374, 1, nil, "EXCEPTION_HEAP_CORRUPTION"},
		{win, ArchX86, 0x80000003, 0, nil, "EXCEPTION_BREAKPOINT"},
		{win, ArchX86, 0xc0000094, 0, nil, "EXCEPTION_INT_DIVIDE_BY_ZERO"},
		{win, ArchX86, 0xc000008c, 0, nil, "EXCEPTION_BOUNDS_EXCEEDED"},
		{win, ArchAMD64, 0xe06d7363, 1, []uint64{0x19930520}, "Unhandled C++ Exception"},
		{win, ArchAMD64, 0xe0000008, 0, nil, "Out of Memory"},
		{win, ArchARM64, 0x0517a7ed, 0, nil, "Simulated Exception"},
		// The exception code itself is never looked up in the NTSTATUS table.
		{win, ArchAMD64, 0xc0000001, 1, nil, "0xc0000001 / 0x00000001"},
		// Windows CE and Win32s are not decoded at all.
		{PlatformWin32CE, ArchARM, 0xc0000005, 0, []uint64{0, 0}, "0xc0000005 / 0x00000000"},

		// Linux and Android signals; the si_code is in flags.
		{linux, ArchAMD64, 11, 1, nil, "SIGSEGV /SEGV_MAPERR"},
		{linux, ArchAMD64, 11, 2, nil, "SIGSEGV /SEGV_ACCERR"},
		{linux, ArchAMD64, 11, 4, nil, "SIGSEGV /SEGV_PKUERR"},
		{linux, ArchAMD64, 11, 0x80, nil, "SIGSEGV /0x00000080"}, // SI_KERNEL
		{PlatformAndroid, ArchARM64, 7, 2, nil, "SIGBUS / BUS_ADRERR"},
		{PlatformAndroid, ArchARM, 7, 5, nil, "SIGBUS / BUS_MCEERR_AO"},
		{linux, ArchX86, 8, 1, nil, "SIGFPE / FPE_INTDIV"},
		{linux, ArchX86, 8, 8, nil, "SIGFPE / FPE_FLTSUB"},
		{linux, ArchARM64, 4, 1, nil, "SIGILL / ILL_ILLOPC"},
		{linux, ArchARM64, 4, 0xfffffffa, nil, "SIGILL / 0xfffffffa"}, // SI_TKILL
		{linux, ArchAMD64, 5, 0x80, nil, "SIGTRAP"},
		{PlatformAndroid, ArchARM64, 6, 0xfffffffa, nil, "SIGABRT"},
		{linux, ArchAMD64, 31, 1, nil, "SIGSYS"},
		{linux, ArchAMD64, 16, 0, nil, "SIGSTKFLT"},
		{linux, ArchAMD64, 0xffffffff, 0, nil, "DUMP_REQUESTED"},
		{linux, ArchAMD64, 0, 0, nil, "0x00000000 / 0x00000000"},
		{linux, ArchAMD64, 34, 0, nil, "0x00000022 / 0x00000000"}, // real-time signals are not named

		// macOS and iOS: Mach exception in code, its first code in flags.
		{mac, ArchAMD64, 1, 2, nil, "EXC_BAD_ACCESS / KERN_PROTECTION_FAILURE"},
		{mac, ArchAMD64, 1, 50, nil, "EXC_BAD_ACCESS / KERN_CODESIGN_ERROR"},
		{mac, ArchAMD64, 1, 13, nil, "EXC_BAD_ACCESS / EXC_I386_GPFLT"},
		{mac, ArchARM64Old, 1, 13, nil, "EXC_BAD_ACCESS / 0x0000000d"},
		{mac, ArchARM64Old, 1, 0x101, nil, "EXC_BAD_ACCESS / EXC_ARM_DA_ALIGN"},
		{PlatformIOS, ArchARM, 1, 0x102, nil, "EXC_BAD_ACCESS / EXC_ARM_DA_DEBUG"},
		{PlatformIOS, ArchARM64Old, 1, 1, nil, "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS"},
		// Breakpad only treats its own ARM64 value as ARM; 12 gets numbers.
		{mac, ArchARM64, 1, 0x101, nil, "EXC_BAD_ACCESS / 0x00000101"},
		{mac, ArchARM64, 1, 1, nil, "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS"},
		{mac, ArchPPC, 1, 0x103, nil, "EXC_BAD_ACCESS / EXC_PPC_UNALIGNED"},
		{mac, ArchARM64Old, 2, 1, nil, "EXC_BAD_INSTRUCTION / EXC_ARM_UNDEFINED"},
		{mac, ArchARM64, 2, 1, nil, "EXC_BAD_INSTRUCTION / 0x00000001"},
		{mac, ArchX86, 2, 17, nil, "EXC_BAD_INSTRUCTION / EXC_I386_ALIGNFLT"},
		{mac, ArchAMD64, 3, 1, nil, "EXC_ARITHMETIC / EXC_I386_DIV"},
		{mac, ArchARM64Old, 3, 1, nil, "EXC_ARITHMETIC / 0x00000001"},
		{mac, ArchPPC, 3, 3, nil, "EXC_ARITHMETIC / EXC_FLT_INEXACT"},
		{mac, ArchAMD64, 4, 1, nil, "EXC_EMULATION / 0x00000001"},
		{mac, ArchARM64, 5, 0x10002, nil, "EXC_SOFTWARE / SIGABRT"},
		{mac, ArchAMD64, 5, 0xdeadc0de, nil, "EXC_SOFTWARE / UNCAUGHT_NS_EXCEPTION"},
		{mac, ArchAMD64, 5, 1, nil, "EXC_SOFTWARE / EXC_PPC_TRAP"},
		{mac, ArchARM64Old, 6, 1, nil, "EXC_BREAKPOINT / EXC_ARM_BREAKPOINT"},
		{mac, ArchARM64, 6, 1, nil, "EXC_BREAKPOINT / 0x00000001"},
		{mac, ArchAMD64, 6, 2, nil, "EXC_BREAKPOINT / EXC_I386_BPT"},
		{mac, ArchAMD64, 7, 3, nil, "EXC_SYSCALL / 0x00000003"},
		{mac, ArchARM64, 10, 0, nil, "0x0000000a / 0x00000000"}, // EXC_CRASH is not named
		{mac, ArchARM64, 11, 0x23000000, nil, "EXC_RESOURCE / 0x23000000"},
		{mac, ArchARM64, 12, 0x20000001, nil, "EXC_GUARD / 0x20000001"},
		{mac, ArchARM64, 0x43507378, 0, nil, "Simulated Exception"},
		{PlatformIOS, ArchARM64, 0x43506e78, 0, nil, "Uncaught NSException"},

		// Solaris, PS3, Fuchsia.
		{PlatformSolaris, ArchSPARC, 6, 0, nil, "SIGIOT | SIGABRT"},
		{PlatformSolaris, ArchX86, 22, 0, nil, "SIGPOLL | SIGIO"},
		{PlatformSolaris, ArchX86, 40, 0, nil, "SIGJVM2"},
		{PlatformSolaris, ArchX86, 41, 0, nil, "0x00000029 / 0x00000000"},
		{PlatformPS3, ArchPPC64, 0, 0, nil, "UNKNOWN"},
		{PlatformPS3, ArchPPC64, 20, 0, nil, "COPRO_HALTINSTR_UNKNOWN"},
		{PlatformPS3, ArchPPC64, 23, 0, nil, "0x00000017 / 0x00000000"},
		{PlatformFuchsia, ArchARM64, 0x108, 0, nil, "FATAL_PAGE_FAULT / 0x00000000"},
		{PlatformFuchsia, ArchAMD64, 0x8308, 5, nil, "PROCESS_STARTING / 0x00000005"},
		{PlatformFuchsia, ArchAMD64, 0x9, 5, nil, "0x00000009 / 0x00000005"},

		// Platforms Breakpad does not decode.
		{PlatformUnix, ArchAMD64, 11, 1, nil, "0x0000000b / 0x00000001"},
		{PlatformNaCl, ArchX86, 11, 1, nil, "0x0000000b / 0x00000001"},
	}
	for _, tc := range tests {
		got := CrashReason(tc.platform, tc.arch, tc.code, tc.flags, tc.params)
		if got != tc.want {
			t.Errorf("CrashReason(%v, %v, %#x, %#x, %#x) = %q, want %q",
				tc.platform, tc.arch, tc.code, tc.flags, tc.params, got, tc.want)
		}
	}
}

// TestCrashReasonNTStatusTable checks the table Breakpad's NTStatusToString
// is built from: complete (2115 codes), sorted for binary search, no
// duplicates.
func TestCrashReasonNTStatusTable(t *testing.T) {
	if n := len(ntstatusNames); n != 2115 {
		t.Errorf("ntstatusNames has %d entries, Breakpad has 2115", n)
	}
	if !slices.IsSortedFunc(ntstatusNames, func(a, b ntstatusEntry) int { return cmp.Compare(a.code, b.code) }) {
		t.Error("ntstatusNames is not sorted by code")
	}
	for i := 1; i < len(ntstatusNames); i++ {
		if ntstatusNames[i].code == ntstatusNames[i-1].code {
			t.Errorf("duplicate NTSTATUS %#x", ntstatusNames[i].code)
		}
	}
	for code, want := range map[uint32]string{
		0xc0000001: "STATUS_UNSUCCESSFUL",
		0xc0000005: "STATUS_ACCESS_VIOLATION",
		0xc0010001: "DBG_NO_STATE_CHANGE",
		0xc0e7000b: "STATUS_SPACES_NOT_ENOUGH_DRIVES",
		0xc0000000: "0xc0000000",
		0x00000000: "0x00000000",
		0xffffffff: "0xffffffff",
	} {
		if got := ntstatusName(code); got != want {
			t.Errorf("ntstatusName(%#x) = %q, want %q", code, got, want)
		}
	}
}

// TestCrashAddress checks the address rules beyond the goldens.
func TestCrashAddress(t *testing.T) {
	tests := []struct {
		platform PlatformID
		arch     ProcessorArch
		code     uint32
		addr     uint64
		params   []uint64
		want     uint64
	}{
		{PlatformWin32NT, ArchAMD64, 0xc0000005, 0x7ff600001000, []uint64{0, 0x1234}, 0x1234},
		{PlatformWin32NT, ArchAMD64, 0xc0000006, 0x7ff600001000, []uint64{0, 0x5678, 0xc000009c}, 0x5678},
		// Only one parameter: the exception address stays.
		{PlatformWin32NT, ArchAMD64, 0xc0000005, 0x7ff600001000, []uint64{0}, 0x7ff600001000},
		// Other codes and other platforms ignore params.
		{PlatformWin32NT, ArchAMD64, 0xc0000409, 0x7ff600001000, []uint64{7, 0x1234}, 0x7ff600001000},
		{PlatformLinux, ArchAMD64, 0xc0000005, 0x401000, []uint64{0, 0x1234}, 0x401000},
		// 32-bit CPUs are truncated, including the parameter.
		{PlatformWin32NT, ArchX86, 0xc0000005, 0x401000, []uint64{1, 0xffffffff00000045}, 0x45},
		{PlatformLinux, ArchARM, 11, 0xdeadbeef00001000, nil, 0x1000},
		{PlatformLinux, ArchARM64, 11, 0xdeadbeef00001000, nil, 0xdeadbeef00001000},
		{PlatformMacOS, ArchARM64Old, 1, 0xffffffff80000042, nil, 0xffffffff80000042},
	}
	for _, tc := range tests {
		if got := CrashAddress(tc.platform, tc.arch, tc.code, tc.addr, tc.params); got != tc.want {
			t.Errorf("CrashAddress(%v, %v, %#x, %#x, %#x) = %#x, want %#x",
				tc.platform, tc.arch, tc.code, tc.addr, tc.params, got, tc.want)
		}
	}
}
