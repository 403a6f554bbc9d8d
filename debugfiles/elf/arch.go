package elf

import stdelf "debug/elf"

// MIPS e_flags ABI values that mark 64-bit code in a 32-bit container (as
// Sentry checks them).
const (
	efMIPSABIO64     = 0x00002000
	efMIPSABIEABI64  = 0x00004000
	efMIPSABI64Flags = efMIPSABIO64 | efMIPSABIEABI64
)

// archName names the machine of f in Sentry's spelling; flags is e_flags.
func archName(f *stdelf.File, flags uint32) string {
	is64 := f.Class == stdelf.ELFCLASS64
	switch f.Machine {
	case stdelf.EM_386:
		return "x86"
	case stdelf.EM_X86_64:
		return "x86_64"
	case stdelf.EM_ARM:
		return "arm"
	case stdelf.EM_AARCH64:
		return "arm64"
	case stdelf.EM_PPC:
		return "ppc"
	case stdelf.EM_PPC64:
		return "ppc64"
	case stdelf.EM_MIPS, stdelf.EM_MIPS_RS3_LE:
		if is64 || flags&efMIPSABI64Flags != 0 {
			return "mips64"
		}
		return "mips"
	case stdelf.EM_RISCV:
		if is64 {
			return "riscv64"
		}
		return "riscv32"
	case stdelf.EM_S390:
		if is64 {
			return "s390x"
		}
		return "s390"
	}
	return "unknown"
}
