package minidump

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/cairn-dev/cairn/minidump/minidumptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

// Oracles used below:
//   - golden/breakpad/<dir>_<name>.dump.txt: Breakpad's minidump_dump (npm
//     minidump@0.26.0). It prints the Linux text streams raw (each NUL shown
//     as `\0` plus a newline), the module list, and MDRawCrashpadInfo.
//   - rust-minidump's minidump-stackwalk snapshots (linux map count, absence
//     of mac crash info in the macOS dump).
// Breakpad prints neither the auxv nor the DSO debug stream, so those are
// checked against what it does print: the maps (mapping addresses) and the
// module list (load addresses).

// extOpen opens a dump under the peers directory with Open (mmap).
func extOpen(t *testing.T, rel string) *File {
	t.Helper()
	f, err := Open(filepath.Join(peersDir(t), rel))
	if err != nil {
		t.Fatalf("Open(%s): %v", rel, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// extGolden reads golden/breakpad/<name>.dump.txt.
func extGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(peersDir(t), "golden", "breakpad", name+".dump.txt"))
	if err != nil {
		t.Fatalf("golden: %v", err)
	}
	return string(b)
}

// extGoldenRaw recovers a stream's bytes from minidump_dump's DumpRawStream
// output: "Stream NAME:\n", the bytes with each NUL printed as "\0\n", then
// "\n\n". It reports false when minidump_dump printed no such stream.
func extGoldenRaw(golden, name string) (string, bool) {
	head := "Stream " + name + ":\n"
	i := strings.Index(golden, head)
	if i < 0 {
		return "", false
	}
	s := golden[i+len(head):]
	if j := strings.Index(s, "\nStream "); j >= 0 {
		s = s[:j+1]
	}
	s = strings.TrimSuffix(s, "\n\n")
	return strings.ReplaceAll(s, "\\0\n", "\x00"), true
}

// extGoldenModuleBases lists base_of_image of every MDRawModule printed.
func extGoldenModuleBases(t *testing.T, golden string) []uint64 {
	t.Helper()
	var out []uint64
	for _, line := range strings.Split(golden, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "base_of_image" {
			n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(v), "0x"), 16, 64)
			if err != nil {
				t.Fatalf("golden base_of_image %q: %v", v, err)
			}
			out = append(out, n)
		}
	}
	return out
}

// extGoldenLinuxDumps pairs every golden dump of a Linux Breakpad dump with
// its file.
func extGoldenLinuxDumps(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{"rust-minidump_linux-mini": "rust-minidump/linux-mini.dmp"}
	paths, _ := filepath.Glob(filepath.Join(peersDir(t), "golden", "breakpad", "breakpad_linux_*.dump.txt"))
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".dump.txt")
		if name == "breakpad_linux_inline" { // a Crashpad dump without Linux streams
			continue
		}
		out[name] = "breakpad/" + strings.TrimPrefix(name, "breakpad_") + ".dmp"
	}
	if len(out) < 20 {
		t.Fatalf("found only %d Linux golden dumps", len(out))
	}
	return out
}

// TestLinuxTextStreamsMatchMinidumpDump checks every Linux dump's text
// streams against minidump_dump's raw printout of the same stream.
func TestLinuxTextStreamsMatchMinidumpDump(t *testing.T) {
	for golden, dump := range extGoldenLinuxDumps(t) {
		t.Run(golden, func(t *testing.T) {
			g := extGolden(t, golden)
			f := extOpen(t, dump)

			for _, c := range []struct {
				name string
				get  func() ([]string, error)
			}{{"MD_LINUX_CMD_LINE", f.LinuxCmdLine}, {"MD_LINUX_ENVIRON", f.LinuxEnviron}} {
				raw, ok := extGoldenRaw(g, c.name)
				if !ok {
					t.Fatalf("golden has no %s", c.name)
				}
				got, err := c.get()
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				// minidump_dump shows the list NUL-terminated: the elements
				// are what precedes each NUL.
				want := strings.Split(strings.TrimSuffix(raw, "\x00"), "\x00")
				if !slices.Equal(got, want) {
					t.Errorf("%s = %q, minidump_dump shows %q", c.name, got, want)
				}
			}

			raw, ok := extGoldenRaw(g, "MD_LINUX_MAPS")
			if !ok {
				t.Fatal("golden has no MD_LINUX_MAPS")
			}
			maps, err := f.LinuxMaps()
			lines := strings.Split(strings.TrimSuffix(raw, "\n"), "\n")
			if !strings.HasSuffix(raw, "\n") {
				// minidump_dump shows the stream ending mid-line (the file was
				// edited after it was written): the complete lines are
				// returned with an error for the cut one.
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Errorf("LinuxMaps on a stream cut mid-line: err = %v, want a *FormatError", err)
				}
				lines = lines[:len(lines)-1]
			} else if err != nil {
				t.Fatalf("LinuxMaps: %v", err)
			}
			if len(maps) != len(lines) {
				t.Fatalf("LinuxMaps: %d entries, minidump_dump shows %d lines", len(maps), len(lines))
			}
			for i, line := range lines {
				// Paths are the sixth field on: "[not stack]" has a space.
				fs := strings.Fields(line)
				if len(fs) > 6 {
					fs = append(fs[:5], strings.Join(fs[5:], " "))
				}
				m := maps[i]
				got := []string{fmt.Sprintf("%08x-%08x", m.Start, m.End), m.Perms, fmt.Sprintf("%08x", m.Offset),
					fmt.Sprintf("%02x:%02x", m.DevMajor, m.DevMinor), strconv.FormatUint(m.Inode, 10)}
				// Fields drops the trailing space of the edited dump's
				// "[stack] ", which LinuxMaps keeps as file names may end in one.
				if p := strings.TrimSpace(m.Path); p != "" {
					got = append(got, p)
				}
				if !slices.Equal(got, fs) {
					t.Errorf("maps[%d] = %q, minidump_dump shows %q", i, got, fs)
				}
			}

			raw, ok = extGoldenRaw(g, "MD_LINUX_CPU_INFO")
			if !ok {
				t.Fatal("golden has no MD_LINUX_CPU_INFO")
			}
			cpus, err := f.LinuxCPUInfo()
			if err != nil {
				t.Fatalf("LinuxCPUInfo: %v", err)
			}
			if n := strings.Count("\n"+raw, "\nprocessor\t"); len(cpus) != n {
				t.Errorf("LinuxCPUInfo: %d blocks, minidump_dump shows %d processor lines", len(cpus), n)
			}
			for i, c := range cpus {
				if p, _ := c.Get("processor"); p != strconv.Itoa(i) {
					t.Errorf("cpu block %d: processor = %q", i, p)
				}
			}

			raw, ok = extGoldenRaw(g, "MD_LINUX_PROC_STATUS")
			if !ok {
				t.Fatal("golden has no MD_LINUX_PROC_STATUS")
			}
			status, err := f.LinuxProcStatus()
			if err != nil {
				t.Fatalf("LinuxProcStatus: %v", err)
			}
			if n := strings.Count(raw, ":\t"); len(status) != n {
				t.Errorf("LinuxProcStatus: %d pairs, minidump_dump shows %d \"key:\\t\" lines", len(status), n)
			}

			lsb, err := f.LinuxLSBRelease()
			raw, ok = extGoldenRaw(g, "MD_LINUX_LSB_RELEASE")
			switch {
			case !ok && !errors.Is(err, ErrNoStream):
				t.Errorf("LinuxLSBRelease: err = %v, want ErrNoStream (minidump_dump prints no such stream)", err)
			case ok && err != nil:
				t.Errorf("LinuxLSBRelease: %v", err)
			case ok:
				n := 0
				for _, l := range strings.Split(raw, "\n") {
					if strings.Contains(l, "=") && !strings.HasPrefix(l, "#") {
						n++
					}
				}
				if len(lsb) != n {
					t.Errorf("LinuxLSBRelease: %d pairs, minidump_dump shows %d KEY=value lines", len(lsb), n)
				}
			}
		})
	}
}

func extKV(kvs []KeyValue, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// TestLinuxStreamValues spells out values for two dumps. Expected values are
// copied from golden/breakpad/breakpad_linux_divide_by_zero.dump.txt and
// golden/breakpad/rust-minidump_linux-mini.dump.txt (minidump_dump), except
// where noted.
func TestLinuxStreamValues(t *testing.T) {
	tests := []struct {
		dump      string
		cmdline   []string
		envCount  int
		envFirst  string
		status    map[string]string
		lsb       map[string]string
		cpus      int
		modelName string
		cpuLast   map[string]string // fields of the last cpu block
		maps      int               // linux-mini: also rust-minidump's "Linux memory map count: 35"
		mapsFirst MapsEntry
		mapsLast  MapsEntry
	}{
		{
			dump:     "breakpad/linux_divide_by_zero.dmp",
			cmdline:  []string{"./driver"},
			envCount: 80,
			envFirst: "AUTO_PROXY=https://proxyconfig.corp.google.com/proxy.pac",
			status: map[string]string{
				"Name": "driver", "State": "t (tracing stop)", "Uid": "315716\t315716\t315716\t315716",
				"VmPeak": "14924 kB", "Cpus_allowed_list": "0-143", "nonvoluntary_ctxt_switches": "1",
				"Groups": "4 20 24 25 44 46 106 126 999 5001 5762 5902 26024 70967 70970 77056 82193 83042",
			},
			lsb: map[string]string{
				"DISTRIB_DESCRIPTION": "Ubuntu 14.04 LTS", "DISTRIB_CODENAME": "trusty",
				"GOOGLE_RELEASE": "14.04 201506TD2", "GOOGLE_ROLE": "desktop",
			},
			cpus:      12,
			modelName: "Intel(R) Xeon(R) CPU E5-1650 v3 @ 3.50GHz",
			cpuLast:   map[string]string{"processor": "11", "initial apicid": "11", "power management": "", "cpuid level": "15"},
			maps:      35,
			mapsFirst: MapsEntry{Start: 0x400000, End: 0x417000, Perms: "r-xp", DevMajor: 0xfc, DevMinor: 2, Inode: 23856536,
				Path: "/usr/local/google/home/liuandrew/Documents/breakpad_test/driver"},
			mapsLast: MapsEntry{Start: 0xffffffffff600000, End: 0xffffffffff601000, Perms: "r-xp", Path: "[vsyscall]"},
		},
		{
			dump:     "rust-minidump/linux-mini.dmp",
			cmdline:  []string{"./crash"},
			envCount: 9,
			envFirst: "HOSTNAME=6deb9e1e1648",
			status:   map[string]string{"Name": "crash", "Umask": "0022", "Groups": "", "VmRSS": "1520 kB", "Cpus_allowed": "f"},
			// rust-minidump's linux_json_pretty snapshot agrees: id Ubuntu,
			// release 16.04, codename xenial, description "Ubuntu 16.04.3 LTS".
			lsb: map[string]string{
				"DISTRIB_ID": "Ubuntu", "DISTRIB_RELEASE": "16.04", "DISTRIB_CODENAME": "xenial",
				"DISTRIB_DESCRIPTION": "Ubuntu 16.04.3 LTS",
			},
			cpus:      4, // rust-minidump's snapshot: "4 CPUs"
			modelName: "Intel(R) Core(TM) i7-4960HQ CPU @ 2.60GHz",
			cpuLast:   map[string]string{"processor": "3", "bugs": "", "bogomips": "5208.46", "address sizes": "39 bits physical, 48 bits virtual"},
			maps:      35,
			mapsFirst: MapsEntry{Start: 0x400000, End: 0x41a000, Perms: "r-xp", DevMinor: 0x47, Inode: 8612374361, Path: "/work/linux/build/crash"},
		},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.dump), func(t *testing.T) {
			f := extOpen(t, tc.dump)
			cmd, err := f.LinuxCmdLine()
			if err != nil || !slices.Equal(cmd, tc.cmdline) {
				t.Errorf("LinuxCmdLine = %q, %v; want %q", cmd, err, tc.cmdline)
			}
			env, err := f.LinuxEnviron()
			if err != nil || len(env) != tc.envCount || env[0] != tc.envFirst {
				t.Errorf("LinuxEnviron: %d entries (first %q), %v; want %d (first %q)", len(env), env[0], err, tc.envCount, tc.envFirst)
			}
			status, err := f.LinuxProcStatus()
			if err != nil {
				t.Fatalf("LinuxProcStatus: %v", err)
			}
			for k, want := range tc.status {
				if got, ok := extKV(status, k); !ok || got != want {
					t.Errorf("status %s = %q (present %v), want %q", k, got, ok, want)
				}
			}
			lsb, err := f.LinuxLSBRelease()
			if err != nil {
				t.Fatalf("LinuxLSBRelease: %v", err)
			}
			for k, want := range tc.lsb {
				if got, ok := extKV(lsb, k); !ok || got != want {
					t.Errorf("lsb %s = %q (present %v), want %q", k, got, ok, want)
				}
			}
			cpus, err := f.LinuxCPUInfo()
			if err != nil || len(cpus) != tc.cpus {
				t.Fatalf("LinuxCPUInfo: %d blocks, %v; want %d", len(cpus), err, tc.cpus)
			}
			if got, _ := cpus[0].Get("model name"); got != tc.modelName {
				t.Errorf("cpu 0 model name = %q, want %q", got, tc.modelName)
			}
			for k, want := range tc.cpuLast {
				if got, ok := cpus[len(cpus)-1].Get(k); !ok || got != want {
					t.Errorf("last cpu %s = %q (present %v), want %q", k, got, ok, want)
				}
			}
			maps, err := f.LinuxMaps()
			if err != nil || len(maps) != tc.maps {
				t.Fatalf("LinuxMaps: %d entries, %v; want %d", len(maps), err, tc.maps)
			}
			if maps[0] != tc.mapsFirst {
				t.Errorf("maps[0] = %+v, want %+v", maps[0], tc.mapsFirst)
			}
			if tc.mapsLast.Perms != "" && maps[len(maps)-1] != tc.mapsLast {
				t.Errorf("last map = %+v, want %+v", maps[len(maps)-1], tc.mapsLast)
			}
			if m := maps[0]; !m.Readable() || m.Writable() || !m.Executable() || m.Shared() {
				t.Errorf("maps[0] permission predicates wrong for %q", m.Perms)
			}
		})
	}
}

// extMapContaining returns the golden maps line covering addr.
func extMapContaining(t *testing.T, golden string, addr uint64) (start uint64, perms, path string) {
	t.Helper()
	raw, _ := extGoldenRaw(golden, "MD_LINUX_MAPS")
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		fs := strings.Fields(line)
		lo, hi, _ := strings.Cut(fs[0], "-")
		s, _ := strconv.ParseUint(lo, 16, 64)
		e, _ := strconv.ParseUint(hi, 16, 64)
		if s <= addr && addr < e {
			if len(fs) > 5 {
				path = strings.Join(fs[5:], " ")
			}
			return s, fs[1], path
		}
	}
	t.Errorf("no mapping in minidump_dump's maps covers %#x", addr)
	return 0, "", ""
}

// TestLinuxAuxvAndDSODebugAgainstMaps checks the auxv and DSO debug streams
// of every Linux dump against the maps and module list minidump_dump prints:
// the dynamic linker's AT_BASE and r_ldbase are where it maps ld.so, the
// vDSO is at AT_SYSINFO_EHDR, the program headers and entry point lie in the
// executable's text, and each named link-map object sits at a module base.
func TestLinuxAuxvAndDSODebugAgainstMaps(t *testing.T) {
	for golden, dump := range extGoldenLinuxDumps(t) {
		t.Run(golden, func(t *testing.T) {
			g := extGolden(t, golden)
			f := extOpen(t, dump)
			auxv, err := f.LinuxAuxv()
			if err != nil {
				t.Fatalf("LinuxAuxv: %v", err)
			}
			at := map[uint64]uint64{}
			for _, e := range auxv {
				if e.Name() == "" {
					t.Errorf("auxv type %d has no name", e.Type)
				}
				at[e.Type] = e.Value
			}
			if at[AuxvPageSize] != 4096 {
				t.Errorf("AT_PAGESZ = %d", at[AuxvPageSize])
			}
			if s, perms, path := extMapContaining(t, g, at[AuxvBase]); s != at[AuxvBase] || perms != "r-xp" || !strings.Contains(path, "/ld-") {
				t.Errorf("AT_BASE %#x: mapping %#x %s %s, want the start of ld.so's text", at[AuxvBase], s, perms, path)
			}
			// The _alt_name dump's maps leave the vDSO unnamed; its module
			// list still has a module there.
			if s, _, _ := extMapContaining(t, g, at[AuxvSysinfoEHDR]); s != at[AuxvSysinfoEHDR] || !slices.Contains(extGoldenModuleBases(t, g), s) {
				t.Errorf("AT_SYSINFO_EHDR %#x: mapping at %#x, want the start of the vDSO mapping and module", at[AuxvSysinfoEHDR], s)
			}
			_, _, exe := extMapContaining(t, g, at[AuxvPHDR])
			for _, typ := range []uint64{AuxvPHDR, AuxvEntryPoint} {
				if _, perms, path := extMapContaining(t, g, at[typ]); perms != "r-xp" || path != exe || exe == "" {
					t.Errorf("%s %#x lies in %s %s, want the executable's text", AuxvEntry{Type: typ}.Name(), at[typ], perms, path)
				}
			}

			dd, err := f.LinuxDSODebug()
			if golden == "breakpad_linux_executable_stack" {
				// This file was edited after Breakpad wrote it: minidump_dump
				// shows its maps stream cut mid-line, and the bytes at the DSO
				// debug stream's RVA are text, not an r_debug. The garbage
				// link-map RVA and count must be refused.
				if err == nil {
					t.Errorf("LinuxDSODebug on the edited dump = %+v, want an error", dd)
				}
				return
			}
			if err != nil {
				t.Fatalf("LinuxDSODebug: %v", err)
			}
			if dd.Version != 1 || dd.LDBase != at[AuxvBase] || int(dd.DSOCount) != len(dd.LinkMaps) {
				t.Errorf("DSO debug version %d ldbase %#x count %d/%d; want version 1, ldbase = AT_BASE %#x",
					dd.Version, dd.LDBase, dd.DSOCount, len(dd.LinkMaps), at[AuxvBase])
			}
			if _, perms, path := extMapContaining(t, g, dd.Brk); perms != "r-xp" || !strings.Contains(path, "/ld-") {
				t.Errorf("r_brk %#x lies in %s %s, want ld.so's text", dd.Brk, perms, path)
			}
			// PT_DYNAMIC is in the executable's RELRO segment, so its page is
			// read-only by the time of the crash.
			if _, perms, path := extMapContaining(t, g, dd.Dynamic); perms[0] != 'r' || path != exe {
				t.Errorf("dynamic %#x lies in %s %s, want the executable's data", dd.Dynamic, perms, path)
			}
			if len(dd.DynamicSection) == 0 || len(dd.DynamicSection)%16 != 0 {
				t.Errorf("dynamic section copy is %d bytes, want whole Elf64_Dyn entries", len(dd.DynamicSection))
			}
			bases := extGoldenModuleBases(t, g)
			named := 0
			for _, lm := range dd.LinkMaps {
				if lm.Name == "" {
					continue
				}
				named++
				if !slices.Contains(bases, lm.Addr) {
					t.Errorf("link map %s at %#x is not a module base minidump_dump lists (%#x)", lm.Name, lm.Addr, bases)
				}
			}
			if named == 0 {
				t.Error("no named link map entries")
			}
		})
	}
}

// TestLinuxDSODebugValues pins one dump's values. The r_debug fields and
// names were decoded independently (Python struct.unpack of the stream
// bytes with the natural-alignment MDRawDebug64/MDRawLinkMap64 layouts);
// the addresses are also load addresses in minidump_dump's module list for
// linux_divide_by_zero.dmp (libpthread 0x7f3f0e91b000, ..., ld 0x7f3f0eb39000).
func TestLinuxDSODebugValues(t *testing.T) {
	f := extOpen(t, "breakpad/linux_divide_by_zero.dmp")
	dd, err := f.LinuxDSODebug()
	if err != nil {
		t.Fatal(err)
	}
	if dd.Version != 1 || dd.MapRVA != 0x92f8 || dd.DSOCount != 8 || dd.Brk != 0x7f3f0eb49970 ||
		dd.LDBase != 0x7f3f0eb39000 || dd.Dynamic != 0x616de8 || len(dd.DynamicSection) != 432 {
		t.Errorf("DSO debug header = %+v", *dd)
	}
	want := []LinkMap{
		{0, 0, "", 0x616de8},
		{0x7ffd83c1d000, 0, "", 0x7ffd8331d468},
		{0x7f3f0e91b000, 0, "/lib/x86_64-linux-gnu/libpthread.so.0", 0x7f3f0eb33d50},
		{0x7f3f0e617000, 0, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", 0x7f3f0e9034d8},
		{0x7f3f0e401000, 0, "/lib/x86_64-linux-gnu/libgcc_s.so.1", 0x7f3f0e616460},
		{0x7f3f0e03c000, 0, "/lib/x86_64-linux-gnu/libc.so.6", 0x7f3f0e3f9ba0},
		{0x7f3f0eb39000, 0, "/lib64/ld-linux-x86-64.so.2", 0x7f3f0ed5be70},
		{0x7f3f0dd36000, 0, "/lib/x86_64-linux-gnu/libm.so.6", 0x7f3f0e03ada8},
	}
	if len(dd.LinkMaps) != len(want) {
		t.Fatalf("%d link maps, want %d", len(dd.LinkMaps), len(want))
	}
	for i, w := range want {
		got := dd.LinkMaps[i]
		got.NameRVA = 0
		if got != w {
			t.Errorf("link map %d = %+v, want %+v", i, got, w)
		}
	}

	// The auxv of the same dump, decoded the same independent way.
	auxv, err := f.LinuxAuxv()
	if err != nil {
		t.Fatal(err)
	}
	wantAuxv := []AuxvEntry{
		{33, 0x7ffd8331d000}, {16, 0xbfebfbff}, {6, 4096}, {17, 100}, {3, 0x400040}, {4, 56}, {5, 9},
		{7, 0x7f3f0eb39000}, {8, 0}, {9, 0x401df4}, {11, 315716}, {12, 315716}, {13, 5762}, {14, 5762},
		{23, 0}, {25, 0x7ffd83300cb9}, {31, 0x7ffd83302fef}, {15, 0x7ffd83300cc9},
	}
	if !slices.Equal(auxv, wantAuxv) {
		t.Errorf("LinuxAuxv = %v\nwant %v", auxv, wantAuxv)
	}
	if auxv[0].Name() != "AT_SYSINFO_EHDR" || auxv[4].Name() != "AT_PHDR" || (AuxvEntry{Type: 9999}).Name() != "" {
		t.Errorf("auxv names: %q %q", auxv[0].Name(), auxv[4].Name())
	}
}

// TestCrashpadInfo compares the Crashpad info stream with minidump_dump's
// MDRawCrashpadInfo printout (golden/breakpad/*.dump.txt). minidump_dump
// prints simple annotations sorted by key (it keeps a std::map); this
// package keeps file order, so they are compared as sets.
func TestCrashpadInfo(t *testing.T) {
	type module struct {
		index       uint32
		list        []string
		simple      []KeyValue
		annotations []string // name (type) = value, as minidump_dump prints them
	}
	tests := []struct {
		dump             string
		report, client   string
		simple           []KeyValue
		modules          []module
		wantNoModuleInfo bool
	}{
		{
			dump:   "breakpad/minidump_crashpad_annotation.dmp",
			report: "725058a6-7289-480f-8a41-517bd0ba216b", client: "051a4158-d7ae-4c3c-882e-cd6380d95137",
			simple: []KeyValue{{"crashpad", "yes"}, {"plat", "iOS"}, {"prod", "xcuitest"}, {"ver", "1"}},
			modules: []module{
				{index: 1, annotations: []string{
					`exceptionReason (1) = *** -[__NSArray0 objectAtIndex:]: index 42 beyond bounds for empty NSArray`,
					`exceptionName (1) = NSRangeException`,
					`firstexception_bt (1) = 0x1030e7a8d 0x7ff80004dba3 0x7ff800304c83 0x1030d375b 0x10bc722f2 0x10bc7bddd 0x10bc78b8c 0x10bc77f3f 0x10bc66aec 0x10bc65792 0x10c2bc43b 0x10c28fcae 0x10c338861 0x10c33af69 0x10c3312a1 0x7ff800387fe5 0x7ff800387f24 0x7ff800387721 0x7ff800381e23 0x7ff8003816a7 0x7ff809cb128a 0x10c26ead3 0x10c2739ef 0x1030d7528`,
					`firstexception (1) = NSRangeException reason *** -[__NSArray0 objectAtIndex:]: index 42 beyond bounds for empty NSArray`,
					`CounterAnnotation (32810) = 01000000`,
				}},
				{index: 100, list: []string{"CoreSimulator 857.14 - Device: iPhone 14 Pro Max (C7B1E81C-20E5-4B32-BF67-DDCC43DB665D) - Runtime: iOS 16.2 (20C52) - DeviceType: iPhone 14 Pro Max"}},
			},
		},
		{
			dump:   "rust-minidump/simple-crashpad.dmp",
			report: "42f9de72-518a-43dd-97d7-8ddc328d3662", client: "6fd2b3b9-9833-4b2f-bbf7-0bcf501bad7e",
			simple: []KeyValue{{"hello", "world"}},
			modules: []module{
				{index: 16, list: []string{"abort() called"}},
				{index: 39, list: []string{"dyld2 mode"}},
			},
		},
		{
			dump:   "breakpad/linux_inline.dmp",
			report: "83e6ce16-f67b-456c-ad43-22cb77180419", client: "ce727023-e35c-4883-a418-747f93336c5c",
		},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.dump), func(t *testing.T) {
			ci, err := extOpen(t, tc.dump).CrashpadInfo()
			if err != nil {
				t.Fatal(err)
			}
			// Every dump's stream is the 52-byte version without address_mask,
			// which minidump_dump then prints as 0.
			if ci.Version != 1 || ci.ReportID.String() != tc.report || ci.ClientID.String() != tc.client || ci.AddressMask != 0 {
				t.Errorf("version %d report %s client %s mask %d; want 1 %s %s 0", ci.Version, ci.ReportID, ci.ClientID, ci.AddressMask, tc.report, tc.client)
			}
			sortKV := func(kvs []KeyValue) []KeyValue {
				s := slices.Clone(kvs)
				slices.SortFunc(s, func(a, b KeyValue) int { return strings.Compare(a.Key, b.Key) })
				return s
			}
			if !slices.Equal(sortKV(ci.SimpleAnnotations), tc.simple) {
				t.Errorf("simple annotations = %q, want %q", ci.SimpleAnnotations, tc.simple)
			}
			if len(ci.Modules) != len(tc.modules) {
				t.Fatalf("%d modules, want %d", len(ci.Modules), len(tc.modules))
			}
			for i, w := range tc.modules {
				m := ci.Modules[i]
				var ann []string
				for _, a := range m.Annotations {
					ann = append(ann, fmt.Sprintf("%s (%d) = %s", a.Name, a.Type, a))
				}
				if m.ModuleIndex != w.index || m.Version != 1 || !slices.Equal(m.ListAnnotations, w.list) ||
					!slices.Equal(sortKV(m.SimpleAnnotations), w.simple) || !slices.Equal(ann, w.annotations) {
					t.Errorf("module %d = index %d version %d list %q simple %q annotations %q\nwant index %d list %q simple %q annotations %q",
						i, m.ModuleIndex, m.Version, m.ListAnnotations, m.SimpleAnnotations, ann, w.index, w.list, w.simple, w.annotations)
				}
			}
		})
	}
}

// TestMacCrashInfoAbsentAndHostile: no fixture carries a well-formed mac
// crash info stream. The macOS dump has none (rust-minidump's
// macos_inlines_json_pretty snapshot reports "mac_crash_info": null and
// "mac_boot_args": null), and rust-minidump's invalid-record-count.dmp is a
// fuzzer-made file whose 0x4d7a0001 stream must be rejected without panic.
func TestMacCrashInfoAbsentAndHostile(t *testing.T) {
	f := extOpen(t, "rust-minidump/pipeline-inlines-macos-segv.dmp")
	if _, err := f.MacCrashInfo(); !errors.Is(err, ErrNoStream) {
		t.Errorf("MacCrashInfo on the macOS dump: err = %v, want ErrNoStream", err)
	}
	if _, err := f.MacBootargs(); !errors.Is(err, ErrNoStream) {
		t.Errorf("MacBootargs on the macOS dump: err = %v, want ErrNoStream", err)
	}
	f = extOpen(t, "rust-minidump/invalid-record-count.dmp")
	if _, ok := f.Stream(MozMacOSCrashInfo); !ok {
		t.Fatal("invalid-record-count.dmp has no MozMacOSCrashInfo stream")
	}
	if recs, err := f.MacCrashInfo(); err == nil {
		t.Errorf("MacCrashInfo on invalid-record-count.dmp = %+v, want an error", recs)
	}
}

// extDump assembles a small minidump for layouts no fixture covers.
type extDump struct{ *minidumptest.Builder }

func newExtDump() *extDump { return &extDump{minidumptest.New()} }

func (b *extDump) blob(p []byte) uint32                 { return b.Blob(p) }
func (b *extDump) stream(t StreamType, p []byte) uint32 { return b.Stream(uint32(t), p) }
func (b *extDump) finish() []byte                       { return b.Bytes() }

func extLE32(b []byte, vs ...uint32) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func extLE64(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func extSystemInfo(arch ProcessorArch, platform PlatformID) []byte {
	p := make([]byte, 56)
	binary.LittleEndian.PutUint16(p, uint16(arch))
	binary.LittleEndian.PutUint32(p[20:], uint32(platform))
	return p
}

func extMDString(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := extLE32(nil, uint32(2*len(u)))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return append(b, 0, 0)
}

// extMacDump builds a dump with a two-record mac crash info stream laid out
// as Mozilla's minidump_format.h defines it (MDRawMacCrashInfo with 20
// record locations; records of five u64 then five NUL-terminated strings at
// record_start_size 40) and a boot args stream in rust-minidump's packed
// layout (u32 stream_type, u64 RVA of a MINIDUMP_STRING).
func extMacDump() []byte {
	b := newExtDump()
	b.stream(SystemInfoStream, extSystemInfo(ArchARM64, PlatformMacOS))
	rec := func(version, thread, dialog, abort uint64, strs ...string) Location {
		p := extLE64(nil, uint64(MozMacOSCrashInfo), version, thread, dialog, abort)
		for _, s := range strs {
			p = append(append(p, s...), 0)
		}
		return Location{DataSize: uint32(len(p)), RVA: b.blob(p)}
	}
	r0 := rec(5, 0x103, 0, 6, "/usr/lib/system/libsystem_c.dylib", "abort() called", "", "", "")
	r1 := rec(4, 7, 1, 99, "/System/Library/Frameworks/Foundation.framework/Foundation", "", "sig", "bt line 1\nbt line 2", "m2")
	h := extLE32(nil, uint32(MozMacOSCrashInfo), 2, 40)
	h = extLE32(h, r0.DataSize, r0.RVA, r1.DataSize, r1.RVA)
	h = append(h, make([]byte, 18*8)...)
	b.stream(MozMacOSCrashInfo, h)
	args := b.blob(extMDString("-v debug=0x144"))
	b.stream(MozMacOSBootargs, extLE64(extLE32(nil, uint32(MozMacOSBootargs)), uint64(args)))
	return b.finish()
}

func TestMacCrashInfoSynthetic(t *testing.T) {
	f, err := FromBytes(extMacDump())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := f.MacCrashInfo()
	if err != nil {
		t.Fatal(err)
	}
	want := []MacCrashInfoRecord{
		{StreamType: uint64(MozMacOSCrashInfo), Version: 5, Thread: 0x103, AbortCause: 6,
			ModulePath: "/usr/lib/system/libsystem_c.dylib", Message: "abort() called"},
		// Version 4 has no abort_cause: the slot's 99 is not reported.
		{StreamType: uint64(MozMacOSCrashInfo), Version: 4, Thread: 7, DialogMode: 1,
			ModulePath: "/System/Library/Frameworks/Foundation.framework/Foundation", SignatureString: "sig",
			Backtrace: "bt line 1\nbt line 2", Message2: "m2"},
	}
	if !slices.Equal(recs, want) {
		t.Errorf("MacCrashInfo = %+v\nwant %+v", recs, want)
	}
	if args, err := f.MacBootargs(); err != nil || args != "-v debug=0x144" {
		t.Errorf("MacBootargs = %q, %v", args, err)
	}

	// The same header as a C compiler lays it out unpacked: 4 bytes of
	// padding put the RVA at offset 8 of a 16-byte stream.
	b := newExtDump()
	args := b.blob(extMDString("keepsyms=1"))
	b.stream(MozMacOSBootargs, extLE64(extLE32(nil, uint32(MozMacOSBootargs), 0), uint64(args)))
	if f, err = FromBytes(b.finish()); err != nil {
		t.Fatal(err)
	}
	if got, err := f.MacBootargs(); err != nil || got != "keepsyms=1" {
		t.Errorf("MacBootargs (padded) = %q, %v", got, err)
	}
}

// TestMacCrashInfoMalformed: each corruption must yield an error.
func TestMacCrashInfoMalformed(t *testing.T) {
	base := extMacDump()
	f, _ := FromBytes(base)
	e, _ := f.Stream(MozMacOSCrashInfo)
	hdr := int(e.Location.RVA)
	for name, mutate := range map[string]func(b []byte){
		"count over 20":          func(b []byte) { binary.LittleEndian.PutUint32(b[hdr+4:], 21) },
		"start below fixed":      func(b []byte) { binary.LittleEndian.PutUint32(b[hdr+8:], 24) },
		"start past record":      func(b []byte) { binary.LittleEndian.PutUint32(b[hdr+8:], 4000) },
		"record outside file":    func(b []byte) { binary.LittleEndian.PutUint32(b[hdr+16:], 0xfffffff0) },
		"unterminated strings":   func(b []byte) { binary.LittleEndian.PutUint32(b[hdr+12:], 40+5) },
		"record shorter than 16": func(b []byte) { binary.LittleEndian.PutUint32(b[hdr+12:], 12) },
	} {
		b := slices.Clone(base)
		mutate(b)
		f, err := FromBytes(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := f.MacCrashInfo(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestLinux32BitLayouts builds an x86 dump, whose auxv words are 4 bytes and
// whose MDRawDebug32/MDRawLinkMap32 have no padding (minidump_format.h).
func TestLinux32BitLayouts(t *testing.T) {
	b := newExtDump()
	b.stream(SystemInfoStream, extSystemInfo(ArchX86, PlatformLinux))
	b.stream(LinuxAuxvStream, extLE32(nil, 6, 4096, 7, 0xb7f00000, 9, 0x8048400, 0, 0))
	name := b.blob(extMDString("/lib/libc.so.6"))
	maps := b.blob(extLE32(nil, 0, 0, 0x8049f14, 0xb7d00000, name, 0xb7ec4d7c))
	dyn := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	b.stream(LinuxDSODebugStream, append(extLE32(nil, 1, maps, 2, 0xb7f0f6d0, 0xb7f00000, 0x8049f14), dyn...))
	b.stream(LinuxCmdLineStream, []byte("a\x00\x00b c\x00"))
	f, err := FromBytes(b.finish())
	if err != nil {
		t.Fatal(err)
	}
	auxv, err := f.LinuxAuxv()
	want := []AuxvEntry{{AuxvPageSize, 4096}, {AuxvBase, 0xb7f00000}, {AuxvEntryPoint, 0x8048400}}
	if err != nil || !slices.Equal(auxv, want) {
		t.Errorf("LinuxAuxv = %v, %v; want %v", auxv, err, want)
	}
	dd, err := f.LinuxDSODebug()
	if err != nil {
		t.Fatal(err)
	}
	wantDD := DSODebug{Version: 1, MapRVA: maps, DSOCount: 2, Brk: 0xb7f0f6d0, LDBase: 0xb7f00000, Dynamic: 0x8049f14,
		LinkMaps:       []LinkMap{{0, 0, "", 0x8049f14}, {0xb7d00000, name, "/lib/libc.so.6", 0xb7ec4d7c}},
		DynamicSection: dyn}
	if dd.Version != wantDD.Version || dd.MapRVA != wantDD.MapRVA || dd.Brk != wantDD.Brk || dd.LDBase != wantDD.LDBase ||
		dd.Dynamic != wantDD.Dynamic || !slices.Equal(dd.LinkMaps, wantDD.LinkMaps) || !bytes.Equal(dd.DynamicSection, dyn) {
		t.Errorf("LinuxDSODebug = %+v\nwant %+v", *dd, wantDD)
	}
	// An empty argument in the middle survives; only the final NUL goes.
	if cmd, err := f.LinuxCmdLine(); err != nil || !slices.Equal(cmd, []string{"a", "", "b c"}) {
		t.Errorf("LinuxCmdLine = %q, %v", cmd, err)
	}
	if _, err := f.LinuxEnviron(); !errors.Is(err, ErrNoStream) {
		t.Errorf("LinuxEnviron without the stream: %v, want ErrNoStream", err)
	}

	// Without a known architecture the word size is unknown: an error, not a guess.
	b = newExtDump()
	b.stream(SystemInfoStream, extSystemInfo(ArchUnknown, PlatformLinux))
	b.stream(LinuxAuxvStream, extLE32(nil, 6, 4096, 0, 0))
	b.stream(LinuxDSODebugStream, make([]byte, 40))
	f, _ = FromBytes(b.finish())
	if _, err := f.LinuxAuxv(); err == nil {
		t.Error("LinuxAuxv with an unknown architecture: no error")
	}
	if _, err := f.LinuxDSODebug(); err == nil {
		t.Error("LinuxDSODebug with an unknown architecture: no error")
	}
}

// TestLinuxMapsLines covers maps lines the fixtures lack. Their shape is the
// kernel's (fs/proc/task_mmu.c show_map_vma: the path is padded to column 73
// and "deleted" files get " (deleted)" appended).
func TestLinuxMapsLines(t *testing.T) {
	good := []struct {
		line string
		want MapsEntry
	}{
		{"7f0000001000-7f0000002000 rw-s 00001000 103:05 1234                       /dev/shm/my file (1) (deleted)",
			MapsEntry{Start: 0x7f0000001000, End: 0x7f0000002000, Perms: "rw-s", Offset: 0x1000, DevMajor: 0x103, DevMinor: 5,
				Inode: 1234, Path: "/dev/shm/my file (1)", Deleted: true}},
		{"00400000-00401000 r--p 00000000 00:00 0", MapsEntry{Start: 0x400000, End: 0x401000, Perms: "r--p"}},
		{"00400000-00401000 ---p 00000000 00:00 0 ", MapsEntry{Start: 0x400000, End: 0x401000, Perms: "---p"}},
		{"7ffd8331d000-7ffd8331f000 r-xp 00000000 00:00 0    [vdso]",
			MapsEntry{Start: 0x7ffd8331d000, End: 0x7ffd8331f000, Perms: "r-xp", Path: "[vdso]"}},
	}
	for _, g := range good {
		got, err := parseMapsLine(g.line)
		if err != nil || got != g.want {
			t.Errorf("parseMapsLine(%q) = %+v, %v\nwant %+v", g.line, got, err, g.want)
		}
	}
	for _, bad := range []string{
		"garbage", "00400000 r-xp 0 00:00 0", "00400000-zz r-xp 0 00:00 0", "00400000-00401000 rx 0 00:00 0",
		"00400000-00401000 r-xp 0 0000 0", "00400000-00401000 r-xp 0 00:00 x", "00400000-00401000 r-xp q 00:00 0",
	} {
		if _, err := parseMapsLine(bad); err == nil {
			t.Errorf("parseMapsLine(%q): no error", bad)
		}
	}

	// A malformed line keeps the entries before it and reports its offset.
	b := newExtDump()
	rva := b.stream(LinuxMapsStream, []byte("00400000-00401000 r-xp 00000000 00:00 0 /bin/x\nbroken\n"))
	f, _ := FromBytes(b.finish())
	maps, err := f.LinuxMaps()
	var fe *FormatError
	if len(maps) != 1 || !errors.As(err, &fe) || fe.Offset != int64(rva)+47 {
		t.Errorf("LinuxMaps with a bad line = %v, %v; want one entry and a FormatError at %#x", maps, err, int64(rva)+47)
	}
}

// extAccessors calls every accessor of these files, reporting each error by
// the stream it reads.
func extAccessors(f *File) map[StreamType]error {
	errs := map[StreamType]error{}
	_, errs[LinuxCmdLineStream] = f.LinuxCmdLine()
	_, errs[LinuxEnvironStream] = f.LinuxEnviron()
	_, errs[LinuxAuxvStream] = f.LinuxAuxv()
	_, errs[LinuxProcStatusStream] = f.LinuxProcStatus()
	_, errs[LinuxLSBReleaseStream] = f.LinuxLSBRelease()
	_, errs[LinuxCPUInfoStream] = f.LinuxCPUInfo()
	_, errs[LinuxMapsStream] = f.LinuxMaps()
	_, errs[LinuxDSODebugStream] = f.LinuxDSODebug()
	_, errs[CrashpadInfoStream] = f.CrashpadInfo()
	_, errs[MozMacOSCrashInfo] = f.MacCrashInfo()
	_, errs[MozMacOSBootargs] = f.MacBootargs()
	return errs
}

// extReaderAt hides the byte slice so NewFile takes the io.ReaderAt path.
type extReaderAt struct{ r *bytes.Reader }

func (e extReaderAt) ReadAt(p []byte, off int64) (int, error) { return e.r.ReadAt(p, off) }

// TestTruncatedExtStreams cuts real dumps at many sizes, including inside
// and at the edges of each stream these accessors read, and calls every
// accessor. None may panic, and a stream cut short must be an error.
func TestTruncatedExtStreams(t *testing.T) {
	dir := peersDir(t)
	files := map[string][]byte{"synthetic mac": extMacDump()}
	for _, rel := range []string{
		"breakpad/linux_divide_by_zero.dmp", "rust-minidump/linux-mini.dmp", "breakpad/linux_inline.dmp",
		"breakpad/minidump_crashpad_annotation.dmp", "rust-minidump/simple-crashpad.dmp",
		"rust-minidump/invalid-record-count.dmp", "rust-minidump/invalid-range.dmp",
	} {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		files[rel] = b
	}
	for name, full := range files {
		whole, err := FromBytes(full)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := len(full)
		sizes := []int{0, 1, 31, 32, 33, 64, n / 8, n / 4, n / 2, 3 * n / 4, n - 1}
		for _, e := range whole.Directory {
			rva, size := int(e.Location.RVA), int(e.Location.DataSize)
			sizes = append(sizes, rva, rva+1, rva+4, rva+size/2, rva+size-1, rva+size, rva+size+7)
		}
		slices.Sort(sizes)
		sizes = slices.Compact(sizes)
		for _, k := range sizes {
			if k < 0 || k > n {
				continue
			}
			b := full[:k:k]
			for _, open := range []func() (*File, error){
				func() (*File, error) { return FromBytes(b) },
				func() (*File, error) { return NewFile(extReaderAt{bytes.NewReader(b)}, int64(k)) },
			} {
				f, err := open()
				if err != nil {
					continue // the directory itself was cut
				}
				for typ, err := range extAccessors(f) {
					e, ok := f.Stream(typ)
					if ok && uint64(e.Location.RVA)+uint64(e.Location.DataSize) > uint64(k) && err == nil {
						t.Errorf("%s cut at %d: %s extends past the end but its accessor returned no error", name, k, typ)
					}
				}
			}
		}
	}
}

// FuzzLinuxCrashpadMacStreams runs every accessor over arbitrary bytes; the
// seeds are the small synthetic dumps of this file.
func FuzzLinuxCrashpadMacStreams(f *testing.F) {
	f.Add(extMacDump())
	b := newExtDump()
	b.stream(SystemInfoStream, extSystemInfo(ArchAMD64, PlatformLinux))
	b.stream(LinuxAuxvStream, extLE64(nil, 6, 4096, 0, 0))
	b.stream(LinuxMapsStream, []byte("00400000-00401000 r-xp 00000000 00:00 0 /bin/x\n"))
	b.stream(LinuxCPUInfoStream, []byte("processor\t: 0\n\nprocessor\t: 1\n"))
	b.stream(LinuxDSODebugStream, extLE32(nil, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0))
	f.Add(b.finish())
	f.Fuzz(func(t *testing.T, data []byte) {
		if file, err := FromBytes(data); err == nil {
			extAccessors(file)
		}
	})
}
