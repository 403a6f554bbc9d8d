package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/testtools"
)

// TestStackwalkGoldenOutput runs `cairn stackwalk` on every peer dump with
// Breakpad's outputs and compares them byte for byte: --machine with
// minidump_stackwalk -m, the default report with its human output. Cairn
// is told to look for symbols as Breakpad does (--store-only,
// --breakpad-inline-order; the symbolicator/stackwalk tests cover what
// the defaults change and why). The two dumps without a thread list make
// both tools fail.
func TestStackwalkGoldenOutput(t *testing.T) {
	peers := testtools.PeersDir(t)
	goldens, err := filepath.Glob(filepath.Join(peers, "golden", "breakpad", "*.machine.txt"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no goldens: %v", err)
	}
	for _, g := range goldens {
		base := strings.TrimSuffix(filepath.Base(g), ".machine.txt")
		dir, name, _ := strings.Cut(base, "_")
		dump := filepath.Join(peers, dir, name+".dmp")
		if _, err := os.Stat(dump); err != nil {
			continue
		}
		t.Run(base, func(t *testing.T) {
			symbols := filepath.Join(peers, dir, "symbols")
			for _, mode := range []struct{ flag, golden string }{{"--machine", g}, {"", strings.TrimSuffix(g, ".machine.txt") + ".txt"}} {
				want, err := os.ReadFile(mode.golden)
				if err != nil {
					t.Fatal(err)
				}
				args := []string{"stackwalk", "--store-only", "--breakpad-inline-order"}
				if mode.flag != "" {
					args = append(args, mode.flag)
				}
				got, err := run(t, append(args, dump, symbols)...)
				if len(want) == 0 {
					if err == nil {
						t.Errorf("%s: Breakpad fails on this dump, Cairn printed:\n%s", mode.golden, got)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", mode.flag, err)
				}
				if got != string(want) {
					t.Errorf("%s differs from %s:\n%s", strings.Join(args, " "), filepath.Base(mode.golden), firstDiff(string(want), got))
				}
			}
		})
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return ""
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// TestStackwalkJSON compares the JSON output with rust-minidump's snapshot
// of the same dump and symbols (test.dmp with test_app.sym): every frame
// of the crashing thread and every module field the two share.
//
// One difference is by design: rust-minidump lists the thread that wrote
// the dump (with no frames) in "threads"; Cairn, like Breakpad, leaves it
// out, so thread_count is 1 where rust-minidump has 2.
func TestStackwalkJSON(t *testing.T) {
	peers := testtools.PeersDir(t)
	rust := filepath.Join(peers, "rust-minidump")
	out, err := run(t, "stackwalk", "--json", filepath.Join(rust, "test.dmp"), filepath.Join(rust, "symbols"))
	if err != nil {
		t.Fatal(err)
	}
	type frame struct {
		File           *string `json:"file"`
		Frame          int     `json:"frame"`
		Function       *string `json:"function"`
		FunctionOffset *string `json:"function_offset"`
		Line           *int    `json:"line"`
		MissingSymbols bool    `json:"missing_symbols"`
		Module         *string `json:"module"`
		ModuleOffset   *string `json:"module_offset"`
		Offset         string  `json:"offset"`
		Trust          string  `json:"trust"`
	}
	type module struct {
		BaseAddr       string `json:"base_addr"`
		EndAddr        string `json:"end_addr"`
		CodeID         string `json:"code_id"`
		DebugFile      string `json:"debug_file"`
		DebugID        string `json:"debug_id"`
		Filename       string `json:"filename"`
		LoadedSymbols  bool   `json:"loaded_symbols"`
		MissingSymbols bool   `json:"missing_symbols"`
	}
	type doc struct {
		CrashInfo struct {
			Address        string `json:"address"`
			CrashingThread int    `json:"crashing_thread"`
			Type           string `json:"type"`
		} `json:"crash_info"`
		CrashingThread struct {
			Frames []frame `json:"frames"`
		} `json:"crashing_thread"`
		Modules    []module `json:"modules"`
		SystemInfo struct {
			CPUArch  string `json:"cpu_arch"`
			CPUCount int    `json:"cpu_count"`
			CPUInfo  string `json:"cpu_info"`
			OS       string `json:"os"`
			OSVer    string `json:"os_ver"`
		} `json:"system_info"`
	}
	var got, want doc
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, out)
	}
	snap, err := os.ReadFile(filepath.Join(rust, "minidump-stackwalk", "tests", "snapshots", "test_minidump_stackwalk__json-pretty-symbols.snap"))
	if err != nil {
		t.Fatal(err)
	}
	body := string(snap)
	body = body[strings.Index(body, "\n---\n")+5:]
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	if js(got.CrashInfo) != js(want.CrashInfo) {
		t.Errorf("crash_info %s, rust-minidump %s", js(got.CrashInfo), js(want.CrashInfo))
	}
	if js(got.SystemInfo) != js(want.SystemInfo) {
		t.Errorf("system_info %s, rust-minidump %s", js(got.SystemInfo), js(want.SystemInfo))
	}
	if js(got.CrashingThread.Frames) != js(want.CrashingThread.Frames) {
		t.Errorf("frames\n%s\nrust-minidump\n%s", js(got.CrashingThread.Frames), js(want.CrashingThread.Frames))
	}
	if js(got.Modules) != js(want.Modules) {
		t.Errorf("modules\n%s\nrust-minidump\n%s", js(got.Modules), js(want.Modules))
	}
}

// TestStackwalkCacheDir converts symbols into a cache directory and walks
// again from it alone.
func TestStackwalkCacheDir(t *testing.T) {
	peers := testtools.PeersDir(t)
	dump := filepath.Join(peers, "breakpad", "minidump2.dmp")
	cache := t.TempDir()
	first, err := run(t, "stackwalk", "--machine", "--cache-dir", cache, dump, filepath.Join(peers, "breakpad", "symbols"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.symcache", "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.cficache"} {
		if _, err := os.Stat(filepath.Join(cache, f)); err != nil {
			t.Errorf("cache file %s: %v", f, err)
		}
	}
	second, err := run(t, "stackwalk", "--machine", "--cache-dir", cache, dump)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("walk from the cache differs:\n%s\n---\n%s", first, second)
	}
	if !strings.Contains(second, "0|1|test_app.exe|main|c:\\test_app.cc|65|") {
		t.Errorf("no symbolized main:\n%s", second)
	}
}

// TestStackwalkErrors checks the command's refusals.
func TestStackwalkErrors(t *testing.T) {
	if _, err := run(t, "stackwalk"); err == nil {
		t.Error("no arguments: no error")
	}
	notDump := filepath.Join(t.TempDir(), "x.dmp")
	if err := os.WriteFile(notDump, []byte("not a minidump"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "stackwalk", notDump); err == nil || !strings.Contains(err.Error(), "minidump") {
		t.Errorf("not a dump: %v", err)
	}
	if _, err := run(t, "stackwalk", "--machine", "--json", notDump); err == nil {
		t.Error("--machine with --json: no error")
	}
}
