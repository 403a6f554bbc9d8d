package macho

import "sync"

// CPU types and subtypes of <mach/machine.h>.
const (
	cpuArch64    = 0x01000000
	cpuArch64_32 = 0x02000000

	cpuX86      = 7
	cpuX86_64   = cpuX86 | cpuArch64
	cpuARM      = 12
	cpuARM64    = cpuARM | cpuArch64
	cpuARM64_32 = cpuARM | cpuArch64_32
	cpuPPC      = 18
	cpuPPC64    = cpuPPC | cpuArch64

	// subtypeMask removes the capability bits (the top byte, e.g.
	// CPU_SUBTYPE_PTRAUTH_ABI on arm64e) from a subtype.
	subtypeMask = 0x00ffffff
)

type cpuKey struct{ cpu, sub uint32 }

// archNames maps (cputype, cpusubtype) to Sentry's architecture names; the
// "_unknown" families below catch the other subtypes of a known CPU type.
var archNames = sync.OnceValue(func() map[cpuKey]string {
	return map[cpuKey]string{
		{cpuX86, 3}:      "x86",     // CPU_SUBTYPE_I386_ALL
		{cpuX86_64, 3}:   "x86_64",  // CPU_SUBTYPE_X86_64_ALL
		{cpuX86_64, 8}:   "x86_64h", // CPU_SUBTYPE_X86_64_H
		{cpuARM64, 0}:    "arm64",
		{cpuARM64, 1}:    "arm64v8",
		{cpuARM64, 2}:    "arm64e",
		{cpuARM64_32, 0}: "arm64_32",
		{cpuARM64_32, 1}: "arm64_32_v8",
		{cpuARM, 0}:      "arm",
		{cpuARM, 7}:      "armv5", // CPU_SUBTYPE_ARM_V5TEJ
		{cpuARM, 6}:      "armv6",
		{cpuARM, 14}:     "armv6m",
		{cpuARM, 9}:      "armv7",
		{cpuARM, 10}:     "armv7f",
		{cpuARM, 11}:     "armv7s",
		{cpuARM, 12}:     "armv7k",
		{cpuARM, 15}:     "armv7m",
		{cpuARM, 16}:     "armv7em",
		{cpuPPC, 0}:      "ppc",
		{cpuPPC64, 0}:    "ppc64",
	}
})

var unknownSubtype = sync.OnceValue(func() map[uint32]string {
	return map[uint32]string{
		cpuX86:      "x86_unknown",
		cpuX86_64:   "x86_64_unknown",
		cpuARM64:    "arm64_unknown",
		cpuARM64_32: "arm64_32_unknown",
		cpuARM:      "arm_unknown",
	}
})

// archName is the architecture of a Mach-O header in Sentry's spelling, or
// "unknown".
func archName(cpu, subtype uint32) string {
	if n, ok := archNames()[cpuKey{cpu, subtype & subtypeMask}]; ok {
		return n
	}
	if n, ok := unknownSubtype()[cpu]; ok {
		return n
	}
	return "unknown"
}
