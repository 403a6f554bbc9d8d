package minidump

import (
	"fmt"
	"sync"
)

// ProcessorArch is MINIDUMP_SYSTEM_INFO.ProcessorArchitecture.
type ProcessorArch uint16

// Processor architectures (Windows values plus Breakpad's additions).
const (
	ArchX86      ProcessorArch = 0
	ArchMIPS     ProcessorArch = 1
	ArchAlpha    ProcessorArch = 2
	ArchPPC      ProcessorArch = 3
	ArchSHX      ProcessorArch = 4
	ArchARM      ProcessorArch = 5
	ArchIA64     ProcessorArch = 6
	ArchAlpha64  ProcessorArch = 7
	ArchMSIL     ProcessorArch = 8
	ArchAMD64    ProcessorArch = 9
	ArchX86Win64 ProcessorArch = 10
	ArchARM64    ProcessorArch = 12 // PROCESSOR_ARCHITECTURE_ARM64 (Windows, Crashpad)
	ArchSPARC    ProcessorArch = 0x8001
	ArchPPC64    ProcessorArch = 0x8002
	ArchARM64Old ProcessorArch = 0x8003 // Breakpad's value before Windows defined one
	ArchMIPS64   ProcessorArch = 0x8004
	ArchRISCV    ProcessorArch = 0x8005
	ArchRISCV64  ProcessorArch = 0x8006
	ArchUnknown  ProcessorArch = 0xffff
)

var archNames = sync.OnceValue(func() map[ProcessorArch]string {
	return map[ProcessorArch]string{
		ArchX86: "x86", ArchMIPS: "mips", ArchAlpha: "alpha", ArchPPC: "ppc", ArchSHX: "shx",
		ArchARM: "arm", ArchIA64: "ia64", ArchAlpha64: "alpha64", ArchMSIL: "msil", ArchAMD64: "amd64",
		ArchX86Win64: "x86-win64", ArchARM64: "arm64", ArchSPARC: "sparc", ArchPPC64: "ppc64",
		ArchARM64Old: "arm64", ArchMIPS64: "mips64", ArchRISCV: "riscv", ArchRISCV64: "riscv64",
		ArchUnknown: "unknown",
	}
})

// String gives the architecture as Breakpad's stackwalker names CPUs
// ("x86", "amd64", "arm", "arm64", ...).
func (a ProcessorArch) String() string {
	if n, ok := archNames()[a]; ok {
		return n
	}
	return fmt.Sprintf("arch(%#x)", uint16(a))
}

// PlatformID is MINIDUMP_SYSTEM_INFO.PlatformId: the operating system.
type PlatformID uint32

// Platforms (Windows values plus Breakpad's 0x8xxx additions).
const (
	PlatformWin32S       PlatformID = 0
	PlatformWin32Windows PlatformID = 1
	PlatformWin32NT      PlatformID = 2
	PlatformWin32CE      PlatformID = 3
	PlatformUnix         PlatformID = 0x8000
	PlatformMacOS        PlatformID = 0x8101
	PlatformIOS          PlatformID = 0x8102
	PlatformLinux        PlatformID = 0x8201
	PlatformSolaris      PlatformID = 0x8202
	PlatformAndroid      PlatformID = 0x8203
	PlatformPS3          PlatformID = 0x8204
	PlatformNaCl         PlatformID = 0x8205
	PlatformFuchsia      PlatformID = 0x8206
)

var platformNames = sync.OnceValue(func() map[PlatformID]string {
	return map[PlatformID]string{
		PlatformWin32S: "Windows 3.1", PlatformWin32Windows: "Windows 9x", PlatformWin32NT: "Windows NT",
		PlatformWin32CE: "Windows CE", PlatformUnix: "Unix", PlatformMacOS: "Mac OS X", PlatformIOS: "iOS",
		PlatformLinux: "Linux", PlatformSolaris: "Solaris", PlatformAndroid: "Android", PlatformPS3: "PS3",
		PlatformNaCl: "NaCl", PlatformFuchsia: "Fuchsia",
	}
})

// String names the platform as Breakpad's stackwalker prints it.
func (p PlatformID) String() string {
	if n, ok := platformNames()[p]; ok {
		return n
	}
	return fmt.Sprintf("platform(%#x)", uint32(p))
}

// IsWindows reports whether the platform is a Windows variant.
func (p PlatformID) IsWindows() bool { return p <= PlatformWin32CE }

// SystemInfo is MINIDUMP_SYSTEM_INFO with its service-pack (CSD) string.
type SystemInfo struct {
	ProcessorArch      ProcessorArch `json:"processor_arch"`
	ProcessorLevel     uint16        `json:"processor_level"`
	ProcessorRevision  uint16        `json:"processor_revision"`
	NumberOfProcessors uint8         `json:"number_of_processors"`
	ProductType        uint8         `json:"product_type"`
	MajorVersion       uint32        `json:"major_version"`
	MinorVersion       uint32        `json:"minor_version"`
	BuildNumber        uint32        `json:"build_number"`
	PlatformID         PlatformID    `json:"platform_id"`
	CSDVersionRVA      uint32        `json:"csd_version_rva"`
	SuiteMask          uint16        `json:"suite_mask"`
	Reserved2          uint16        `json:"reserved2"`
	// CPU is the 24-byte CPU_INFORMATION union; X86CPU and OtherCPU read it.
	CPU [24]byte `json:"cpu"`
	// CSDVersion is the service pack on Windows and the kernel version
	// string on Linux and macOS.
	CSDVersion string `json:"csd_version"`
}

// X86CPUInfo is the x86 arm of the CPU_INFORMATION union.
type X86CPUInfo struct {
	VendorID               [3]uint32 `json:"vendor_id"`
	VersionInformation     uint32    `json:"version_information"`
	FeatureInformation     uint32    `json:"feature_information"`
	AMDExtendedCPUFeatures uint32    `json:"amd_extended_cpu_features"`
}

// X86CPU decodes the CPU union as x86 CPUID information.
func (s *SystemInfo) X86CPU() X86CPUInfo {
	d := newDecoder("cpu info", 0, s.CPU[:])
	return X86CPUInfo{
		VendorID:           [3]uint32{d.u32(), d.u32(), d.u32()},
		VersionInformation: d.u32(), FeatureInformation: d.u32(), AMDExtendedCPUFeatures: d.u32(),
	}
}

// OtherCPU decodes the CPU union as two ProcessorFeatures words.
func (s *SystemInfo) OtherCPU() [2]uint64 {
	d := newDecoder("cpu info", 0, s.CPU[:])
	return [2]uint64{d.u64(), d.u64()}
}

// CPUVendor returns the 12-character CPUID vendor string ("GenuineIntel")
// of 32-bit x86 dumps, or "" elsewhere. Breakpad reads it only there: amd64
// writers fill the union with processor feature words instead.
func (s *SystemInfo) CPUVendor() string {
	if s.ProcessorArch != ArchX86 && s.ProcessorArch != ArchX86Win64 {
		return ""
	}
	return cstring(s.CPU[:12])
}

// SystemInfo decodes the SystemInfo stream.
func (f *File) SystemInfo() (*SystemInfo, error) {
	d, err := f.stream(SystemInfoStream)
	if err != nil {
		return nil, err
	}
	s := &SystemInfo{
		ProcessorArch: ProcessorArch(d.u16()), ProcessorLevel: d.u16(), ProcessorRevision: d.u16(),
		NumberOfProcessors: d.u8(), ProductType: d.u8(),
		MajorVersion: d.u32(), MinorVersion: d.u32(), BuildNumber: d.u32(),
		PlatformID: PlatformID(d.u32()), CSDVersionRVA: d.u32(), SuiteMask: d.u16(), Reserved2: d.u16(),
	}
	copy(s.CPU[:], d.take(24))
	if d.err != nil {
		return nil, d.err
	}
	if s.CSDVersionRVA != 0 {
		if s.CSDVersion, err = f.String(s.CSDVersionRVA); err != nil {
			return s, fmt.Errorf("minidump: system info: csd version: %w", err)
		}
	}
	return s, nil
}
