package unwind

import (
	"strconv"
	"strings"
	"sync"
)

// Arch is an architecture whose register numbering the rules use.
type Arch uint8

// Architectures with unwind support.
const (
	ArchUnknown Arch = iota
	ArchAMD64
	ArchX86
	ArchARM64
	ArchARM
)

// archInfo describes one architecture: its name, pointer size, stack
// pointer and default return address column.
type archInfo struct {
	name    string
	ptrSize int
	sp, ra  Reg
}

var archs = [...]archInfo{
	ArchUnknown: {name: "unknown", ptrSize: 8},
	ArchAMD64:   {name: "x86_64", ptrSize: 8, sp: 7, ra: 16},
	ArchX86:     {name: "x86", ptrSize: 4, sp: 4, ra: 8},
	ArchARM64:   {name: "arm64", ptrSize: 8, sp: 31, ra: 30},
	ArchARM:     {name: "arm", ptrSize: 4, sp: 13, ra: 14},
}

// regNames are the DWARF register names of each architecture, indexed by
// DWARF number. They are made on first use rather than at start-up, which
// every command of the binary pays for.
//
// The DWARF numbers are those of the psABIs: System V AMD64 §3.6.2, the
// i386 System V ABI, and ARM's "DWARF for the Arm 64-bit Architecture" and
// "DWARF for the Arm Architecture". Breakpad's names are the ones its
// dump_syms writes and its stack walkers look up: "$"-prefixed on x86 and
// amd64, bare on arm and arm64.
var regNames = sync.OnceValue(func() [len(archs)][]string {
	return [len(archs)][]string{
		ArchAMD64: append([]string{
			"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
			"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
		}, append(numbered("xmm", 0, 16), append(numbered("st", 0, 8), append(numbered("mm", 0, 8),
			"rflags", "es", "cs", "ss", "ds", "fs", "gs", "", "", "fs.base", "gs.base", "", "", "tr", "ldtr", "mxcsr", "fcw", "fsw")...)...)...),
		ArchX86: append([]string{"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags", "trapno"},
			append(numbered("st", 0, 8), append([]string{"", ""}, append(numbered("xmm", 0, 8), append(numbered("mm", 0, 8),
				"fcw", "fsw", "mxcsr", "es", "cs", "ss", "ds", "fs", "gs", "", "", "tr", "ldtr")...)...)...)...),
		ArchARM64: append(append(numbered("x", 0, 31), "sp", "pc", "elr_mode", "ra_sign_state"),
			append(make([]string, 64-35), numbered("v", 0, 32)...)...),
		ArchARM: append(append(numbered("r", 0, 13), "sp", "lr", "pc"),
			append(make([]string, 64-16), append(numbered("s", 0, 32), append(make([]string, 256-96), numbered("d", 0, 32)...)...)...)...),
	}
})

func numbered(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(from+i)
	}
	return out
}

// ArchFromName maps an architecture in Sentry's spelling ("x86_64",
// "arm64e", "armv7", "x86", "i386", ...) to an Arch.
func ArchFromName(name string) Arch {
	switch {
	case name == "x86_64" || name == "amd64" || name == "x86_64h":
		return ArchAMD64
	case name == "x86" || name == "i386" || name == "i686":
		return ArchX86
	case strings.HasPrefix(name, "arm64") || name == "aarch64":
		return ArchARM64
	case strings.HasPrefix(name, "arm"):
		return ArchARM
	}
	return ArchUnknown
}

// String is the architecture in Sentry's spelling.
func (a Arch) String() string { return a.info().name }

// dwarf is the architecture's DWARF register names.
func (a Arch) dwarf() []string {
	if int(a) < len(archs) {
		return regNames()[a]
	}
	return nil
}

func (a Arch) info() *archInfo {
	if int(a) < len(archs) {
		return &archs[a]
	}
	return &archs[ArchUnknown]
}

// PointerSize is the size of an address in bytes.
func (a Arch) PointerSize() int { return a.info().ptrSize }

// SP is the stack pointer's register number.
func (a Arch) SP() Reg { return a.info().sp }

// RA is the default return address column (the CIE may name another).
func (a Arch) RA() Reg { return a.info().ra }

// RegName names a register in the DWARF/LLVM spelling ("rsp", "x29",
// "lr"); registers without a name are "reg<N>".
func (a Arch) RegName(r Reg) string {
	if n := a.dwarf(); int(r) < len(n) && n[r] != "" {
		return n[r]
	}
	return "reg" + strconv.Itoa(int(r))
}

// BreakpadName names a register as Breakpad's symbol files do ("$rsp",
// "$eip", "x29", "sp", "lr"); registers Breakpad does not name are
// "unnamed_register<N>", as its dump_syms writes them.
func (a Arch) BreakpadName(r Reg) string {
	n := a.dwarf()
	if int(r) >= len(n) || n[r] == "" {
		return "unnamed_register" + strconv.Itoa(int(r))
	}
	if a == ArchAMD64 || a == ArchX86 {
		return "$" + n[r]
	}
	return n[r]
}

// ParseBreakpadName finds the register a Breakpad symbol file names. It
// accepts the names with and without "$" (older and newer dump_syms differ
// on arm and arm64) and the DWARF aliases "fp" (x29, r11), "lr" (x30) and
// "pc".
func (a Arch) ParseBreakpadName(name string) (Reg, bool) {
	n := strings.TrimPrefix(name, "$")
	if n == "" {
		return 0, false
	}
	if rest, ok := strings.CutPrefix(n, "unnamed_register"); ok {
		v, err := strconv.ParseUint(rest, 10, 16)
		return Reg(v), err == nil
	}
	for r, s := range a.dwarf() {
		if s == n {
			return Reg(r), true
		}
	}
	switch a {
	case ArchARM64:
		switch n {
		case "fp":
			return 29, true
		case "lr":
			return 30, true
		case "x31":
			return 31, true
		}
	case ArchARM:
		switch n {
		case "fp":
			return 11, true
		case "ip":
			return 12, true
		case "r13":
			return 13, true
		case "r14":
			return 14, true
		case "r15":
			return 15, true
		}
	}
	return 0, false
}
