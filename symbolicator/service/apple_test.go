package service

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/symoracle"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// appleFixture is the macho-arm64 program as a crash report shows it.
type appleFixture struct {
	bin, dsym string
	uuid      string // 8-4-4-4-12
	load      uint64
	// frames are absolute addresses in the report (innermost first), and
	// lookups what a symbolizer must be asked for each (callers moved back
	// into their call).
	frames, lookups []uint64
	src             sources.Source
}

const appleBase = 0x104a2c000

func newAppleFixture(t *testing.T) *appleFixture {
	dir := fixtures.GetDir(t, "macho-arm64")
	f := &appleFixture{bin: filepath.Join(dir, "demo"), dsym: filepath.Join(dir, "demo.dSYM/Contents/Resources/DWARF/demo")}
	a, err := loader.Open(f.bin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	obj := a.Objects[0]
	f.uuid, f.load = obj.DebugID().String(), obj.LoadAddress()
	syms, err := fixtures.FunctionSymbols(f.bin)
	if err != nil || len(syms) < 6 {
		t.Fatalf("symbols of %s: %v", f.bin, err)
	}
	for i, sym := range syms[:6] {
		// The crashing frame at an instruction, callers at a return
		// address after a call (arm64 instructions are 4 bytes).
		off := min(sym.Size-4, 8) &^ 3
		addr := appleBase + sym.Addr - f.load + off
		f.frames = append(f.frames, addr)
		lookup := sym.Addr + off
		if i > 0 {
			lookup -= 4
		}
		f.lookups = append(f.lookups, lookup)
	}
	root := t.TempDir()
	id := sources.FileID{DebugID: obj.DebugID(), CodeFile: "demo", DebugFile: "demo", Object: sources.ObjectMachO}
	place(t, root, sources.DirectoryLayout{Type: sources.LayoutNative}, sources.FileMachDebug, id, f.dsym)
	f.src = sources.NewFilesystem("dsyms", root, sources.DirectoryLayout{Type: sources.LayoutNative}, sources.Filters{})
	return f
}

func (f *appleFixture) text() string {
	var b strings.Builder
	b.WriteString(`Incident Identifier: 5C2A9F0E-1B7D-4E53-9A61-0D9C44B1E2F7
Hardware Model:      MacBookPro18,3
Process:             demo [4242]
Path:                /Applications/Demo.app/Contents/MacOS/demo
Identifier:          com.example.demo
Version:             1.0 (1)
Code Type:           ARM-64 (Native)
Date/Time:           2026-11-20 10:11:12.345 +0100
OS Version:          macOS 13.4 (22F66)
Report Version:      12

Exception Type:  EXC_BAD_ACCESS (SIGSEGV)
Exception Codes: KERN_INVALID_ADDRESS at 0x0000000000000000
Crashed Thread:  0  Dispatch queue: com.apple.main-thread

Thread 0 Crashed:: Dispatch queue: com.apple.main-thread
`)
	for i, a := range f.frames {
		fmt.Fprintf(&b, "%-4d%-30s0x%016x 0x%x + %d\n", i, "demo", a, uint64(appleBase), a-appleBase)
	}
	fmt.Fprintf(&b, "%-4d%-30s0x%016x 0x%x + %d\n", len(f.frames), "libdyld.dylib", uint64(0x1a2b3c4d0), uint64(0x1a2b30000), 0xc4d0)
	fmt.Fprintf(&b, "\nThread 0 crashed with ARM Thread State (64-bit):\n    x0: 0x0000000000000000   x1: 0x0000000000000001\n    fp: 0x000000016fdff2a0   lr: 0x%016x\n    sp: 0x000000016fdff280   pc: 0x%016x cpsr: 0x60001000\n\n", f.frames[1], f.frames[0])
	fmt.Fprintf(&b, "Binary Images:\n       0x%x -        0x%x +demo arm64  <%s> /Applications/Demo.app/Contents/MacOS/demo\n", uint64(appleBase), uint64(appleBase+0xfffff), strings.ReplaceAll(f.uuid, "-", ""))
	b.WriteString("       0x1a2b30000 -        0x1a2b3ffff libdyld.dylib arm64e  <00112233445566778899aabbccddeeff> /usr/lib/system/libdyld.dylib\n")
	return b.String()
}

func (f *appleFixture) ips(t *testing.T) string {
	header := `{"app_name":"demo","timestamp":"2026-11-20 10:11:12.00 +0100","app_version":"1.0","slice_uuid":"` + f.uuid + `","build_version":"1","platform":1,"bundleID":"com.example.demo","bug_type":"309","os_version":"macOS 13.4 (22F66)","incident_id":"5C2A9F0E-1B7D-4E53-9A61-0D9C44B1E2F7","name":"demo"}`
	var frames []map[string]any
	for _, a := range f.frames {
		frames = append(frames, map[string]any{"imageOffset": a - appleBase, "imageIndex": 0})
	}
	frames = append(frames, map[string]any{"imageOffset": 0xc4d0, "imageIndex": 1})
	body := map[string]any{
		"procName": "demo", "procPath": "/Applications/Demo.app/Contents/MacOS/demo", "pid": 4242, "cpuType": "ARM-64",
		"modelCode": "MacBookPro18,3", "captureTime": "2026-11-20 10:11:12.3450 +0100",
		"osVersion":      map[string]any{"train": "macOS 13.4", "build": "22F66", "releaseType": "User"},
		"exception":      map[string]any{"type": "EXC_BAD_ACCESS", "signal": "SIGSEGV", "subtype": "KERN_INVALID_ADDRESS at 0x0000000000000000"},
		"faultingThread": 0,
		"threads": []any{map[string]any{"id": 77, "triggered": true, "queue": "com.apple.main-thread", "frames": frames,
			"threadState": map[string]any{"pc": map[string]any{"value": f.frames[0]}, "lr": map[string]any{"value": f.frames[1]}}}},
		"usedImages": []any{
			map[string]any{"source": "P", "arch": "arm64", "base": appleBase, "size": 0x100000, "uuid": f.uuid, "name": "demo", "path": "/Applications/Demo.app/Contents/MacOS/demo"},
			map[string]any{"source": "S", "arch": "arm64e", "base": 0x1a2b30000, "size": 0x10000, "uuid": "00112233-4455-6677-8899-aabbccddeeff", "name": "libdyld.dylib", "path": "/usr/lib/system/libdyld.dylib"},
		},
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return header + "\n" + string(b)
}

// TestAppleCrashReport symbolicates a text and a JSON crash report of the
// macho-arm64 fixture against its dSYM and compares every frame with
// llvm-symbolizer-14 on the same addresses; the system library without a
// dSYM is reported missing.
func TestAppleCrashReport(t *testing.T) {
	f := newAppleFixture(t)
	want := symoracle.Symbolize(t, f.bin, f.lookups)
	for _, format := range []string{"crash", "ips"} {
		t.Run(format, func(t *testing.T) {
			report := f.text()
			if format == "ips" {
				report = f.ips(t)
			}
			s := newService(t, f.src)
			resp, err := s.AppleCrashReport(context.Background(), []byte(report), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Stacktraces) != 1 || resp.Stacktraces[0].IsRequesting == nil || !*resp.Stacktraces[0].IsRequesting {
				t.Fatalf("stacktraces %+v", resp.Stacktraces)
			}
			byIndex := map[int][]Frame{}
			for _, fr := range resp.Stacktraces[0].Frames {
				byIndex[*fr.OriginalIndex] = append(byIndex[*fr.OriginalIndex], fr)
			}
			for i := range f.frames {
				got, w := byIndex[i], want[i]
				if len(w) == 0 || w[0].FunctionName == "" {
					t.Fatalf("frame %d: llvm-symbolizer knows nothing at %#x", i, f.lookups[i])
				}
				if len(got) != len(w) {
					t.Errorf("frame %d: %d frames, llvm-symbolizer %d: %+v vs %+v", i, len(got), len(w), got, w)
					continue
				}
				for j := range got {
					if got[j].Symbol != w[j].FunctionName || got[j].Lineno != w[j].Line || got[j].AbsPath != w[j].FileName {
						t.Errorf("frame %d.%d: %s %s:%d; llvm-symbolizer %s %s:%d", i, j, got[j].Symbol, got[j].AbsPath, got[j].Lineno, w[j].FunctionName, w[j].FileName, w[j].Line)
					}
				}
			}
			last := byIndex[len(f.frames)]
			if len(last) != 1 || last[0].Status != frameMissing || last[0].Package != "/usr/lib/system/libdyld.dylib" {
				t.Errorf("system frame %+v, want missing in libdyld", last)
			}
			mods := map[string]Module{}
			for _, m := range resp.Modules {
				mods[filepath.Base(m.CodeFile)] = m
			}
			if m := mods["demo"]; m.DebugStatus != "found" || m.DebugID != f.uuid {
				t.Errorf("demo module %+v", m)
			}
			if m := mods["libdyld.dylib"]; m.DebugStatus != "missing" || len(m.Candidates) == 0 {
				t.Errorf("libdyld module %+v", m)
			}
			if resp.System == nil || resp.System.OSName != "macOS" || resp.System.OSVersion != "13.4" || resp.System.OSBuild != "22F66" || resp.System.CPUArch != "arm64" {
				t.Errorf("system %+v", resp.System)
			}
			if resp.CrashReason != "EXC_BAD_ACCESS" || resp.Timestamp == nil {
				t.Errorf("crash reason %q timestamp %v", resp.CrashReason, resp.Timestamp)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		s := newService(t)
		if _, err := s.AppleCrashReport(context.Background(), []byte("hello"), nil); err == nil || !strings.Contains(err.Error(), "bad input") {
			t.Errorf("err = %v, want bad input", err)
		}
	})
}
