package applecrash

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseFile(t testing.TB, name string) *Report {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := Parse(f, 0)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func mustTime(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700", s)
	if err != nil {
		panic(err)
	}
	return t
}

// header is the part of Report every fixture pins exactly.
type header struct {
	Format, BugType                                                      string
	IncidentID, Process, Path, Identifier, Version, ParentProcess        string
	PID                                                                  int
	CodeType, Arch, OSName, OSVersion, OSBuild, HardwareModel            string
	Time, LaunchTime                                                     time.Time
	ExceptionType, ExceptionCodes, ExceptionSubtype, Signal, Termination string
	ASI                                                                  string
	CrashedThread, Threads, Images, LEB                                  int
}

func headerOf(r *Report) header {
	return header{
		r.Format, r.BugType,
		r.IncidentID, r.Process, r.Path, r.Identifier, r.Version, r.ParentProcess,
		r.PID,
		r.CodeType, r.Arch, r.OSName, r.OSVersion, r.OSBuild, r.HardwareModel,
		r.Time, r.LaunchTime,
		r.ExceptionType, r.ExceptionCodes, r.ExceptionSubtype, r.Signal, r.TerminationReason,
		r.ApplicationSpecificInfo,
		r.CrashedThread, len(r.Threads), len(r.Images), len(r.LastExceptionBacktrace),
	}
}

// threadWant pins one thread; Frames lists a prefix of its frames.
type threadWant struct {
	Pos         int // position in Report.Threads
	Index       int
	ID          uint64
	Name, Queue string
	Crashed     bool
	NumFrames   int
	Frames      []Frame
	Registers   map[string]uint64 // subset that must match; nil: thread has no state
	NumRegs     int
}

type imageWant struct {
	Pos   int
	Image Image
}

var fileTests = []struct {
	file     string
	header   header
	threads  []threadWant
	images   []imageWant
	leb      []Frame
	metadata map[string]string
}{
	{
		file: "macos_x86_64.crash",
		header: header{
			Format: "crash", Process: "demo", PID: 4321,
			Path: "/Applications/Demo.app/Contents/MacOS/demo", Identifier: "com.example.demo",
			Version: "1.0 (1)", ParentProcess: "???",
			CodeType: "X86-64", Arch: "x86_64", OSName: "Mac OS X", OSVersion: "10.15.7", OSBuild: "19H2",
			Time:          mustTime("2020-11-03 14:22:31.123 -0800"),
			ExceptionType: "EXC_BAD_ACCESS", ExceptionCodes: "KERN_INVALID_ADDRESS at 0x0000000000000000",
			Signal: "SIGSEGV", Termination: "Namespace SIGNAL, Code 0xb",
			ASI:           "crashed on purpose\nsecond line",
			CrashedThread: 0, Threads: 3, Images: 6,
		},
		threads: []threadWant{
			{Pos: 0, Index: 0, Queue: "com.apple.main-thread", Crashed: true, NumFrames: 3, Frames: []Frame{
				{Index: 0, Module: "com.example.demo", Address: 0x10a8f3f2c, ImageOffset: 7980},
				{Index: 1, Module: "com.apple.AppKit", Address: 0x7fff22f6a2b8, ImageOffset: 1176248},
				{Index: 2, Module: "libdyld.dylib", Address: 0x7fff203c1621, Symbol: "start", SymbolOffset: 1},
			}, NumRegs: 19, Registers: map[string]uint64{
				"rax": 0, "rbx": 0x7ffee530e2c8, "rbp": 0x7ffee530e2a0, "rsp": 0x7ffee530e290,
				"r8": 8, "r15": 0xf, "rip": 0x10a8f3f2c, "rflags": 0x10246, "cr2": 0,
			}},
			{Pos: 1, Index: 1, NumFrames: 3},
			{Pos: 2, Index: 2, Name: "com.apple.NSEventThread", NumFrames: 2, Frames: []Frame{
				{Index: 0, Module: "libsystem_kernel.dylib", Address: 0x7fff20362e7e, Symbol: "mach_msg_trap", SymbolOffset: 10},
			}},
		},
		images: []imageWant{
			{0, Image{Base: 0x10a8f2000, Size: 0x4000, Name: "com.example.demo", Path: "/Applications/Demo.app/Contents/MacOS/demo",
				Version: "1.0 - 1", BundleID: "com.example.demo", UUID: "8e7a3c2b-1d4f-3a5b-9c6d-7e8f90a1b2c3", App: true}},
			{1, Image{Base: 0x7fff22e4b000, Size: 0xa29000, Name: "com.apple.AppKit",
				Path:    "/System/Library/Frameworks/AppKit.framework/Versions/C/AppKit",
				Version: "6.9 - 1894.60.100", BundleID: "com.apple.AppKit", UUID: "ab5f1b59-0e7c-3a2e-8b1d-2c3d4e5f6071"}},
			{2, Image{Base: 0x7fff203c0000, Size: 0x3c000, Name: "libdyld.dylib", Path: "/usr/lib/system/libdyld.dylib",
				Version: "832.7.1", UUID: "2f8a1b2c-3d4e-3f5a-8b6c-7d8e9fa0b1c2"}},
			{5, Image{Base: 0, Size: ^uint64(0), Name: "???", Path: "???"}},
		},
		metadata: map[string]string{
			"Responsible":                   "demo [4321]",
			"Error Code":                    "0x00000006 (no mapping for user data write)",
			"Trap Number":                   "14",
			"Code Type":                     "X86-64 (Native)",
			"System Integrity Protection":   "enabled",
			"External Modification Summary": "  Calls made by other processes targeting this process:\n    task_for_pid: 0\n    thread_create: 0\n    thread_set_state: 0",
		},
	},
	{
		file: "ios_arm64.crash",
		header: header{
			Format: "crash", IncidentID: "7D5A3F2E-1B4C-4D6E-8F90-A1B2C3D4E5F6",
			Process: "Demo", PID: 812,
			Path:       "/private/var/containers/Bundle/Application/5C1E2D3F-4A5B-4C6D-8E7F-9A0B1C2D3E4F/Demo.app/Demo",
			Identifier: "com.example.Demo", Version: "2.3 (45)", ParentProcess: "launchd",
			CodeType: "ARM-64", Arch: "arm64", OSName: "iPhone OS", OSVersion: "16.2", OSBuild: "20C65",
			HardwareModel: "iPhone14,5",
			Time:          mustTime("2023-01-02 03:04:05.678 +0100"),
			LaunchTime:    mustTime("2023-01-02 03:03:58.1234 +0100"),
			ExceptionType: "EXC_CRASH", ExceptionCodes: "0x0000000000000000, 0x0000000000000000", Signal: "SIGABRT",
			CrashedThread: 0, Threads: 3, Images: 7, LEB: 3,
		},
		threads: []threadWant{
			{Pos: 0, Index: 0, Queue: "com.apple.main-thread", Crashed: true, NumFrames: 5, Frames: []Frame{
				{Index: 0, Module: "libsystem_kernel.dylib", Address: 0x1b6d8e7c8, ImageOffset: 34760},
				{Index: 1, Module: "libsystem_pthread.dylib", Address: 0x1c7a2d3d4, ImageOffset: 5076},
				{Index: 2, Module: "libsystem_c.dylib", Address: 0x1a3f1a8e0, ImageOffset: 436448},
				{Index: 3, Module: "Demo", Address: 0x102a1c7e4, ImageOffset: 34788},
				{Index: 4, Module: "dyld", Address: 0x1c4b1edec, ImageOffset: 93676},
			}, NumRegs: 36, Registers: map[string]uint64{
				"x0": 0, "x4": 0x1c4b2f7a8, "x8": 0x54d2d1e8b4c8a0f2, "x19": 6, "x28": 0x16d3e2f10,
				"fp": 0x16d3e2e40, "lr": 0x1c7a2d3d4, "sp": 0x16d3e2e20, "pc": 0x1b6d8e7c8,
				"cpsr": 0x40001000, "far": 0x102a1c000, "esr": 0x92000006,
			}},
			{Pos: 1, Index: 1, NumFrames: 1},
			{Pos: 2, Index: 2, Name: "com.apple.uikit.eventfetch-thread", NumFrames: 2, Frames: []Frame{
				{Index: 0, Module: "libsystem_kernel.dylib", Address: 0x1b6d87b48, ImageOffset: 6984},
				{Index: 1, Module: "libsystem_kernel.dylib", Address: 0x1b6d9a0d4, ImageOffset: 82132},
			}},
		},
		images: []imageWant{
			{0, Image{Base: 0x102a14000, Size: 0xc000, Name: "Demo", Arch: "arm64",
				Path: "/private/var/containers/Bundle/Application/5C1E2D3F-4A5B-4C6D-8E7F-9A0B1C2D3E4F/Demo.app/Demo",
				UUID: "01234567-89ab-cdef-0123-456789abcdef"}},
			{1, Image{Base: 0x1b6d86000, Size: 0x38000, Name: "libsystem_kernel.dylib", Arch: "arm64e",
				Path: "/usr/lib/system/libsystem_kernel.dylib", UUID: "d3e9b2f8-5d2d-3f4a-9b8c-7d6e5f4a3b2c"}},
			{2, Image{Base: 0x1c7a2c000, Size: 0xc000, Name: "libsystem_pthread.dylib", Arch: "arm64e",
				Path: "/usr/lib/system/libsystem_pthread.dylib", UUID: "b1c2d3e4-f5a6-3b7c-8d9e-0f1a2b3c4d5e"}},
		},
		leb: []Frame{
			{Index: 0, Module: "CoreFoundation", Address: 0x1a2b3c4d0, Symbol: "__exceptionPreprocess", SymbolOffset: 164},
			{Index: 1, Module: "libobjc.A.dylib", Address: 0x19b4c8e30, Symbol: "objc_exception_throw", SymbolOffset: 60},
			{Index: 2, Module: "Demo", Address: 0x102a1c7e4, ImageOffset: 34788},
		},
		metadata: map[string]string{"CrashReporter Key": "c0ffee0123456789abcdef0123456789abcdef01", "Report Version": "104"},
	},
	{
		file: "partial_symbolicated.crash",
		header: header{
			Format: "crash", Process: "demo", PID: 5555, Path: "/Users/dev/demo", Identifier: "demo",
			Version: "???", ParentProcess: "zsh",
			CodeType: "ARM-64", Arch: "arm64", OSName: "macOS", OSVersion: "13.1", OSBuild: "22C65",
			Time:          mustTime("2023-01-02 03:04:05 +0100"),
			ExceptionType: "EXC_BAD_ACCESS", ExceptionCodes: "KERN_INVALID_ADDRESS at 0x0000000000000000",
			Signal: "SIGSEGV", Termination: "Namespace SIGNAL, Code 11 Segmentation fault: 11",
			CrashedThread: 0, Threads: 2, Images: 6,
		},
		threads: []threadWant{
			{Pos: 0, Index: 0, Queue: "com.apple.main-thread", Crashed: true, NumFrames: 5, Frames: []Frame{
				{Index: 0, Module: "demo", Address: 0x100a03f2c, Symbol: "crash_now", SymbolOffset: 12, File: "demo.c", Line: 7, Inline: true},
				{Index: 1, Module: "demo", Address: 0x100a03f2c, Symbol: "main", SymbolOffset: 44, File: "demo.c", Line: 12},
				{Index: 2, Module: "libc++abi.dylib", Address: 0x1a4f0a1b8, Symbol: "std::__terminate(void (*)())", SymbolOffset: 16},
				{Index: 3, Module: "???", Address: 0},
				{Index: 4, Module: "dyld", Address: 0x1a4d6fe50, Symbol: "start", SymbolOffset: 2544},
			}, NumRegs: 36, Registers: map[string]uint64{
				"x0": 1, "x19": 0x100a14060, "pc": 0x100a03f2c, "lr": 0x1a4d6fe50, "esr": 0x92000046, "far": 0,
			}},
			{Pos: 1, Index: 1, Name: "worker", Queue: "com.example.work", NumFrames: 2, Frames: []Frame{
				{Index: 0, Module: "libsystem_kernel.dylib", Address: 0x1a50d1d0c, ImageOffset: 7436},
				{Index: 1, Module: "Demo Helper Framework", Address: 0x100b01234, Symbol: "-[DHWorker run:]", SymbolOffset: 52,
					File: "/Users/dev/src/DHWorker.m", Line: 88},
			}},
		},
		images: []imageWant{
			{0, Image{Base: 0x100a00000, Size: 0x4000, Name: "demo", Path: "/Users/dev/demo",
				UUID: "be7f0c1e-7c1c-3c5e-b7e6-4f3d5ca12345", App: true}},
			{1, Image{Base: 0x100b00000, Size: 0x8000, Name: "Demo Helper Framework", Version: "1.0",
				Path: "/Users/dev/Demo Helper Framework.framework/Demo Helper Framework",
				UUID: "5a6b7c8d-9e0f-3a1b-8c2d-3e4f5a6b7c8d"}},
		},
		metadata: map[string]string{
			"Kernel Triage":  "VM - (arg = 0x0) pmap_enter retried due to resource shortage",
			"VM Region Info": "0 is not in any region.  Bytes before following region: 4305436672",
		},
	},
	{
		file: "macos13_arm64.ips",
		header: header{
			Format: "ips", BugType: "309", IncidentID: "6A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
			Process: "demo", PID: 5555, Path: "/Users/dev/Demo.app/Contents/MacOS/demo",
			Identifier: "com.example.demo", Version: "1.0 (1)", ParentProcess: "launchd",
			CodeType: "ARM-64", Arch: "arm64", OSName: "macOS", OSVersion: "13.1", OSBuild: "22C65",
			HardwareModel: "MacBookPro18,3",
			Time:          mustTime("2023-01-02 03:04:05.6789 +0100"),
			LaunchTime:    mustTime("2023-01-02 03:04:01.1234 +0100"),
			ExceptionType: "EXC_CRASH", ExceptionCodes: "0x0000000000000000, 0x0000000000000000", Signal: "SIGABRT",
			Termination:   "Namespace SIGNAL, Code 6 Abort trap: 6",
			ASI:           "custom message\nabort() called",
			CrashedThread: 0, Threads: 3, Images: 7,
		},
		threads: []threadWant{
			{Pos: 0, Index: 0, ID: 1234567, Queue: "com.apple.main-thread", Crashed: true, NumFrames: 8, Frames: []Frame{
				{Index: 0, Module: "libsystem_kernel.dylib", Address: 0x1a50d8764, ImageOffset: 34660, Symbol: "__pthread_kill", SymbolOffset: 8},
				{Index: 1, Module: "libsystem_pthread.dylib", Address: 0x1a5111d3c, ImageOffset: 23868, Symbol: "pthread_kill", SymbolOffset: 288},
				{Index: 2, Module: "libsystem_c.dylib", Address: 0x1a5048970, ImageOffset: 493936, Symbol: "abort", SymbolOffset: 180},
				{Index: 3, Module: "demo", Address: 0x100a03f2c, ImageOffset: 16172, Symbol: "main", SymbolOffset: 44, File: "demo.c", Line: 12},
				{Index: 4, Module: "demo", Address: 0x100a03f20, ImageOffset: 16160, Symbol: "crash_now", File: "demo.c", Line: 7, Inline: true},
				{Index: 5, Module: "dyld", Address: 0x1a4d6fe50, ImageOffset: 24144, Symbol: "start", SymbolOffset: 2544},
				{Index: 6, Module: "???", Address: 0},
				{Index: 7, Module: "???", Address: 0, ImageOffset: 100},
			}, NumRegs: 36, Registers: map[string]uint64{
				"x0": 0, "x4": 6225374280, "x8": 6112812420358201586, "x28": 6100565776,
				"fp": 6100565568, "lr": 0x1a5111d3c, "sp": 6100565536, "pc": 0x1a50d8764,
				"cpsr": 1073741824, "far": 4305534976, "esr": 1442840704,
			}},
			{Pos: 1, Index: 1, ID: 1234570, Name: "com.apple.NSEventThread", NumFrames: 2, Frames: []Frame{
				{Index: 0, Module: "libsystem_kernel.dylib", Address: 0x1a50d0db4, ImageOffset: 3508, Symbol: "mach_msg2_trap", SymbolOffset: 8},
				{Index: 1, Module: "AppKit", Address: 0x1a904d687, ImageOffset: 1234567, Symbol: "_NSEventThread", SymbolOffset: 132},
			}},
			{Pos: 2, Index: 2, ID: 1234571, NumFrames: 1},
		},
		images: []imageWant{
			{0, Image{Base: 0x100a00000, Size: 16384, Name: "demo", Path: "/Users/dev/Demo.app/Contents/MacOS/demo", Arch: "arm64",
				Version: "1.0", BundleID: "com.example.demo", UUID: "be7f0c1e-7c1c-3c5e-b7e6-4f3d5ca12345", App: true}},
			{5, Image{}},
			{6, Image{Base: 0x1a8f20000, Size: 12582912, Name: "AppKit", Arch: "arm64e",
				Path:    "/System/Library/Frameworks/AppKit.framework/Versions/C/AppKit",
				Version: "6.9", BundleID: "com.apple.AppKit", UUID: "ab5f1b59-0e7c-3a2e-8b1d-2c3d4e5f6071", App: true}},
		},
		metadata: map[string]string{"bug_type": "309", "platform": "1", "os_version": "macOS 13.1 (22C65)", "adam_id": "0"},
	},
	{
		file: "macos_x86_64.ips",
		header: header{
			Format: "ips", BugType: "309", IncidentID: "0F0E0D0C-0B0A-4909-8807-060504030201",
			Process: "Demo", PID: 987, Path: "/Applications/Demo.app/Contents/MacOS/Demo",
			Identifier: "com.example.Demo", Version: "3.1 (310)", ParentProcess: "launchd",
			CodeType: "X86-64", Arch: "x86_64", OSName: "macOS", OSVersion: "12.6", OSBuild: "21G115",
			HardwareModel: "MacBookPro16,1",
			Time:          mustTime("2022-10-05 09:08:07.25 -0700"),
			LaunchTime:    mustTime("2022-10-05 09:07:59.5 -0700"),
			ExceptionType: "EXC_BAD_ACCESS", ExceptionCodes: "0x0000000000000001, 0x0000000000000000",
			ExceptionSubtype: "KERN_INVALID_ADDRESS at 0x0000000000000000", Signal: "SIGSEGV",
			Termination:   "Namespace SIGNAL, Code 11 Segmentation fault: 11",
			CrashedThread: 1, Threads: 2, Images: 3,
		},
		threads: []threadWant{
			{Pos: 0, Index: 0, ID: 5001, Queue: "com.apple.main-thread", NumFrames: 1},
			{Pos: 1, Index: 1, ID: 5002, Name: "worker", Crashed: true, NumFrames: 3, Frames: []Frame{
				{Index: 0, Module: "Demo", Address: 0x10a8f3f2c, ImageOffset: 7980},
				{Index: 1, Module: "libsystem_pthread.dylib", Address: 0x7ff80e3e4008, ImageOffset: 8200, Symbol: "_pthread_start", SymbolOffset: 125},
			}, NumRegs: 19, Registers: map[string]uint64{
				"rax": 0, "rbx": 140702053818056, "rbp": 140702053818016, "rsp": 140702053818000,
				"rip": 0x10a8f3f2c, "rflags": 66118, "cr2": 0, "r8": 8, "r15": 15,
			}},
		},
		images: []imageWant{
			{1, Image{Base: 0x7ff80e3a9000, Size: 229376, Name: "libsystem_kernel.dylib", Arch: "x86_64",
				Path: "/usr/lib/system/libsystem_kernel.dylib", UUID: "1a2b3c4d-5e6f-3a7b-8c9d-0e1f2a3b4c5d", App: true}},
		},
	},
	{
		file: "legacy109.ips",
		header: header{
			Format: "ips", BugType: "109", IncidentID: "11223344-5566-4778-899A-ABBCCDDEEFF0",
			Process: "Demo", PID: 302,
			Path:       "/private/var/containers/Bundle/Application/0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D/Demo.app/Demo",
			Identifier: "com.example.Demo", Version: "7 (1.2)", ParentProcess: "launchd",
			CodeType: "ARM-64", Arch: "arm64", OSName: "iPhone OS", OSVersion: "14.0", OSBuild: "18A373",
			HardwareModel: "iPhone12,1",
			Time:          mustTime("2020-09-30 10:11:12.3456 -0700"),
			LaunchTime:    mustTime("2020-09-30 10:11:01 -0700"),
			ExceptionType: "EXC_BAD_ACCESS", ExceptionSubtype: "KERN_INVALID_ADDRESS at 0x0000000000000010",
			Signal: "SIGSEGV", Termination: "Namespace SIGNAL, Code 0xb",
			CrashedThread: 0, Threads: 2, Images: 4,
		},
		threads: []threadWant{
			{Pos: 0, Index: 0, Queue: "com.apple.main-thread", Crashed: true, NumFrames: 3, Frames: []Frame{
				{Index: 0, Module: "Demo", Address: 0x100c14a10, ImageOffset: 18960},
				{Index: 1, Module: "UIKitCore", Address: 0x184e3c8b4, ImageOffset: 3262644},
			}, NumRegs: 35, Registers: map[string]uint64{"x1": 0x10, "x8": 0x10, "pc": 0x100c14a10, "esr": 0x92000006, "cpsr": 0x80000000}},
		},
		images: []imageWant{
			{0, Image{Base: 0x100c10000, Size: 0x8000, Name: "Demo", Arch: "arm64",
				Path: "/var/containers/Bundle/Application/0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D/Demo.app/Demo",
				UUID: "01234567-89ab-cdef-0123-456789abcdef"}},
		},
		metadata: map[string]string{
			"bug_type": "109", "share_with_app_devs": "false", "Report Version": "104",
			"Terminating Process": "exc handler [302]",
		},
	},
}

func TestParseFiles(t *testing.T) {
	for _, tt := range fileTests {
		t.Run(tt.file, func(t *testing.T) {
			r := parseFile(t, tt.file)
			if got := headerOf(r); got != tt.header {
				t.Errorf("header:\n got %+v\nwant %+v", got, tt.header)
			}
			for _, tw := range tt.threads {
				if tw.Pos >= len(r.Threads) {
					t.Errorf("no thread at %d", tw.Pos)
					continue
				}
				th := r.Threads[tw.Pos]
				if th.Index != tw.Index || th.ID != tw.ID || th.Name != tw.Name || th.Queue != tw.Queue ||
					th.Crashed != tw.Crashed || len(th.Frames) != tw.NumFrames {
					t.Errorf("thread %d: got index %d id %d name %q queue %q crashed %v frames %d; want %+v",
						tw.Pos, th.Index, th.ID, th.Name, th.Queue, th.Crashed, len(th.Frames), tw)
				}
				for i, f := range tw.Frames {
					if i < len(th.Frames) && th.Frames[i] != f {
						t.Errorf("thread %d frame %d:\n got %+v\nwant %+v", tw.Pos, i, th.Frames[i], f)
					}
				}
				if tw.Registers == nil {
					if th.Registers != nil {
						t.Errorf("thread %d: unexpected registers %v", tw.Pos, th.Registers)
					}
				} else {
					if len(th.Registers) != tw.NumRegs {
						t.Errorf("thread %d: %d registers, want %d: %v", tw.Pos, len(th.Registers), tw.NumRegs, th.Registers)
					}
					for name, v := range tw.Registers {
						if got, ok := th.Registers[name]; !ok || got != v {
							t.Errorf("thread %d register %s = %#x (present %v), want %#x", tw.Pos, name, got, ok, v)
						}
					}
				}
			}
			for _, iw := range tt.images {
				if iw.Pos >= len(r.Images) {
					t.Errorf("no image at %d", iw.Pos)
					continue
				}
				if got := r.Images[iw.Pos]; got != iw.Image {
					t.Errorf("image %d:\n got %+v\nwant %+v", iw.Pos, got, iw.Image)
				}
			}
			if tt.leb != nil && !reflect.DeepEqual(r.LastExceptionBacktrace, tt.leb) {
				t.Errorf("last exception backtrace:\n got %+v\nwant %+v", r.LastExceptionBacktrace, tt.leb)
			}
			for k, v := range tt.metadata {
				if got, ok := r.Metadata[k]; !ok || got != v {
					t.Errorf("Metadata[%q] = %q (present %v), want %q", k, got, ok, v)
				}
			}
		})
	}
}

// TestFramesInImages checks every fixture for internal consistency through
// ImageAt: each frame with an address lies in an image whose name is the
// frame's module, and a stated image offset leads back to the image base.
func TestFramesInImages(t *testing.T) {
	for _, tt := range fileTests {
		r := parseFile(t, tt.file)
		frames := append([]Frame(nil), r.LastExceptionBacktrace...)
		for _, th := range r.Threads {
			frames = append(frames, th.Frames...)
		}
		for _, f := range frames {
			if f.Address == 0 {
				continue
			}
			im := r.ImageAt(f.Address)
			if im == nil {
				t.Errorf("%s: frame %+v: no image", tt.file, f)
				continue
			}
			if im.Name != f.Module {
				t.Errorf("%s: frame %+v in image %q", tt.file, f, im.Name)
			}
			if f.ImageOffset != 0 && im.Base+f.ImageOffset != f.Address {
				t.Errorf("%s: frame %+v: image base %#x + offset != address", tt.file, f, im.Base)
			}
		}
	}
}

func TestImageAt(t *testing.T) {
	r := parseFile(t, "macos_x86_64.crash")
	for _, tt := range []struct {
		addr uint64
		name string
	}{
		{0x10a8f2000, "com.example.demo"},
		{0x10a8f5fff, "com.example.demo"},
		{0x10a8f6000, "???"}, // only the catch-all range holds it
		{0x7fff22e4b000, "com.apple.AppKit"},
		{0x7fff23873fff, "com.apple.AppKit"},
		{0, "???"},
	} {
		im := r.ImageAt(tt.addr)
		if im == nil || im.Name != tt.name {
			t.Errorf("ImageAt(%#x) = %+v, want %s", tt.addr, im, tt.name)
		}
	}
	r = parseFile(t, "ios_arm64.crash")
	for _, addr := range []uint64{0, 0x102a13fff, 0x102a20000, ^uint64(0)} {
		if im := r.ImageAt(addr); im != nil {
			t.Errorf("ImageAt(%#x) = %q, want nil", addr, im.Name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { r.ImageAt(0x1b6d8e7c8) }); n != 0 {
		t.Errorf("ImageAt allocates %v times", n)
	}
}

func TestArm64eRefinement(t *testing.T) {
	// Code Type says ARM-64 for arm64e processes too; the main image decides.
	data := strings.Replace(string(readTestdata(t, "ios_arm64.crash")), "Demo arm64  <", "Demo arm64e  <", 1)
	r, err := ParseText([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if r.Arch != "arm64e" || r.CodeType != "ARM-64" {
		t.Errorf("Arch %q CodeType %q, want arm64e ARM-64", r.Arch, r.CodeType)
	}
}

func TestBadInput(t *testing.T) {
	for _, tt := range []struct {
		name  string
		data  string
		isErr error // checked with errors.Is
		text  string
	}{
		{"garbage", string(readTestdata(t, "garbage.bin")), ErrNotAReport, ""},
		{"empty", "", ErrNotAReport, ""},
		{"blank", "\n\n  \n", ErrNotAReport, ""},
		{"unknown keys", "Hello: world\nFoo: bar\n", ErrNotAReport, ""},
		{"bad json", "{not json", ErrNotAReport, "ips header"},
		{"truncated ips", string(readTestdata(t, "truncated.ips")), io.ErrUnexpectedEOF, "applecrash: ips body"},
		{"header only", `{"bug_type":"309","name":"x"}`, io.ErrUnexpectedEOF, "missing after header"},
		{"body syntax", "{\"bug_type\":\"309\"}\n{\"threads\": [}", nil, "applecrash: ips body: byte 33"},
		{"not a crash body", "{\"bug_type\":\"288\"}\n{\"foo\": 1}", ErrNotAReport, "no threads"},
		{"109 garbage body", "{\"bug_type\":\"109\"}\nhello\n", ErrNotAReport, "ips text body"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(strings.NewReader(tt.data), 0)
			if err == nil {
				t.Fatalf("no error, report %+v", r)
			}
			if tt.isErr != nil && !errors.Is(err, tt.isErr) {
				t.Errorf("error %v is not %v", err, tt.isErr)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not mention %q", err, tt.text)
			}
		})
	}
}

func TestTruncatedText(t *testing.T) {
	// A text report cut short keeps what was read before the cut.
	r := parseFile(t, "truncated.crash")
	if r.Process != "demo" || r.CrashedThread != 0 || len(r.Threads) != 2 || len(r.Images) != 0 {
		t.Fatalf("got process %q crashed %d threads %d images %d", r.Process, r.CrashedThread, len(r.Threads), len(r.Images))
	}
	if n := len(r.Threads[1].Frames); n != 2 {
		t.Errorf("thread 1 has %d frames, want 2 (the cut line has no address)", n)
	}
}

func TestTooLarge(t *testing.T) {
	data := readTestdata(t, "ios_arm64.crash")
	if _, err := Parse(strings.NewReader(string(data)), int64(len(data))); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, err := Parse(strings.NewReader(string(data)), int64(len(data)-1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v, want ErrTooLarge", err)
	}
}

func TestIPSVariants(t *testing.T) {
	data := readTestdata(t, "macos13_arm64.ips")
	i := strings.IndexByte(string(data), '\n')
	// A body without its header line, with a BOM and leading blank lines.
	r, err := Parse(strings.NewReader("\ufeff\n\n"+string(data[i+1:])), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Process != "demo" || r.BugType != "" || len(r.Threads) != 3 || len(r.Metadata) != 0 {
		t.Errorf("body only: process %q bug type %q threads %d metadata %v", r.Process, r.BugType, len(r.Threads), r.Metadata)
	}
	// Values of unexpected types are skipped, not fatal.
	odd := `{"bug_type":309}
{"procName":"x","pid":"12","threads":[{"frames":[{"imageIndex":0,"imageOffset":-1},{"imageIndex":0,"imageOffset":16}],
"threadState":{"x":[{"value":1},{"value":"a"},{}],"pc":{"value":true},"lr":7,"sp":{"value":16}}}],
"usedImages":[{"base":4096,"size":"big","name":"a"}],"faultingThread":-3,"asi":{"a":"not a list"}}`
	r, err = ParseIPS([]byte(odd))
	if err != nil {
		t.Fatal(err)
	}
	if r.BugType != "309" || r.Process != "x" || r.PID != 0 || r.CrashedThread != -1 {
		t.Errorf("odd: %+v", headerOf(r))
	}
	th := r.Threads[0]
	wantRegs := map[string]uint64{"x0": 1, "sp": 16}
	if !reflect.DeepEqual(th.Registers, wantRegs) {
		t.Errorf("odd registers %v, want %v", th.Registers, wantRegs)
	}
	if len(th.Frames) != 2 || th.Frames[1].Address != 4096+16 || th.Frames[1].Module != "a" {
		t.Errorf("odd frames %+v", th.Frames)
	}
}

func TestHelpers(t *testing.T) {
	for _, tt := range []struct{ in, name, version, build string }{
		{"macOS 13.1 (22C65)", "macOS", "13.1", "22C65"},
		{"iPhone OS 16.2 (20C65)", "iPhone OS", "16.2", "20C65"},
		{"Mac OS X 10.15.7 (19H2)", "Mac OS X", "10.15.7", "19H2"},
		{"Mac OS X Version 10.6.8 (Build 10K549)", "Mac OS X", "10.6.8", "10K549"},
		{"iOS 17.0", "iOS", "17.0", ""},
		{"macOS", "macOS", "", ""},
		{"", "", "", ""},
	} {
		n, v, b := parseOS(tt.in)
		if n != tt.name || v != tt.version || b != tt.build {
			t.Errorf("parseOS(%q) = %q %q %q", tt.in, n, v, b)
		}
	}
	for in, want := range map[string]string{
		"0123456789ABCDEF0123456789ABCDEF":     "01234567-89ab-cdef-0123-456789abcdef",
		"01234567-89AB-CDEF-0123-456789ABCDEF": "01234567-89ab-cdef-0123-456789abcdef",
		"00000000-0000-0000-0000-000000000000": "",
		"0123456789abcdef0123456789abcde":      "",
		"0123456789abcdef0123456789abcdef0":    "",
		"0123456789abcdef0123456789abcdeg":     "",
	} {
		if got := normalizeUUID(in); got != want {
			t.Errorf("normalizeUUID(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"ARM-64 (Native)": "arm64", "ARM-64": "arm64", "X86-64 (Native)": "x86_64", "X86-64 (Translated)": "x86_64",
		"X86": "x86", "ARM": "arm", "arm64e": "arm64e", "armv7s": "arm", "PPC": "",
	} {
		if got := normalizeArch(in); got != want {
			t.Errorf("normalizeArch(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string][2]any{
		"demo.c:12":    {"demo.c", 12},
		"demo.c:12:5":  {"demo.c", 12},
		"C:\\x.c:3":    {"C:\\x.c", 3},
		"demo.c":       {"", 0},
		"demo.c:x":     {"", 0},
		"anonymous ns": {"", 0},
	} {
		file, line, _ := splitFileLine(in)
		if file != want[0] || line != want[1] {
			t.Errorf("splitFileLine(%q) = %q %d, want %v", in, file, line, want)
		}
	}
	for _, tt := range []struct {
		in    string
		parse bool
	}{
		{"2023-01-02 03:04:05.678 +0100", true},
		{"2023-01-02 03:04:05 +0100", true},
		{"2023-01-02 03:04:05.6780 -0700", true},
		{"2023-01-02 03:04:05", true},
		{"yesterday", false},
	} {
		if got := !parseTime(tt.in).IsZero(); got != tt.parse {
			t.Errorf("parseTime(%q) parsed = %v", tt.in, got)
		}
	}
}
