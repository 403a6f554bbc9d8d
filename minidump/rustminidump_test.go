package minidump

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRustMinidumpModules compares module identities with rust-minidump's
// expected JSON output (its minidump-stackwalk snapshots), a second
// independent reader: the Sentry-form code id, the Breakpad-form debug id,
// the debug file and the address range of every module.
func TestRustMinidumpModules(t *testing.T) {
	peers := peersDir(t)
	snaps := filepath.Join(peers, "rust-minidump", "minidump-stackwalk", "tests", "snapshots")
	cases := []struct{ snap, dump string }{
		{"test_minidump_stackwalk__json-pretty.snap", "test.dmp"},
		{"test_minidump_stackwalk__linux_json_pretty.snap", "linux-mini.dmp"},
		{"test_minidump_stackwalk__macos_inlines_json_pretty.snap", "pipeline-inlines-macos-segv.dmp"},
	}
	for _, c := range cases {
		t.Run(c.dump, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(snaps, c.snap))
			if err != nil {
				t.Fatal(err)
			}
			// An insta snapshot: a "---" front matter block, then the JSON.
			i := bytes.Index(raw, []byte("\n---\n"))
			if i < 0 {
				t.Fatal("snapshot has no front matter")
			}
			var want struct {
				Modules []struct {
					BaseAddr  string  `json:"base_addr"`
					EndAddr   string  `json:"end_addr"`
					CodeID    *string `json:"code_id"`
					DebugFile *string `json:"debug_file"`
					DebugID   *string `json:"debug_id"`
					Version   *string `json:"version"`
				} `json:"modules"`
			}
			if err := json.Unmarshal(raw[i+5:], &want); err != nil {
				t.Fatal(err)
			}
			f, err := Open(filepath.Join(peers, "rust-minidump", c.dump))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			si, err := f.SystemInfo()
			if err != nil {
				t.Fatal(err)
			}
			mods, err := f.Modules()
			if err != nil {
				t.Fatal(err)
			}
			if len(mods) != len(want.Modules) {
				t.Fatalf("%d modules, rust-minidump %d", len(mods), len(want.Modules))
			}
			str := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			for j, w := range want.Modules {
				m := &mods[j]
				base, _ := strconv.ParseUint(w.BaseAddr, 0, 64)
				end, _ := strconv.ParseUint(w.EndAddr, 0, 64)
				if m.BaseOfImage != base || m.End() != end {
					t.Errorf("module %d: range %#x-%#x, rust-minidump %#x-%#x", j, m.BaseOfImage, m.End(), base, end)
				}
				if got := m.CodeID(si.PlatformID); got != str(w.CodeID) {
					t.Errorf("module %d (%s): code id %q, rust-minidump %q", j, m.Name, got, str(w.CodeID))
				}
				if got := m.BreakpadDebugID(); got != str(w.DebugID) {
					t.Errorf("module %d (%s): debug id %q, rust-minidump %q", j, m.Name, got, str(w.DebugID))
				}
				// rust-minidump prints only the base name of the debug file.
				if got := baseName(m.DebugFile()); got != str(w.DebugFile) {
					t.Errorf("module %d: debug file %q, rust-minidump %q", j, got, str(w.DebugFile))
				}
			}
		})
	}
}

// baseName strips a Windows or POSIX directory.
func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' || p[i] == '\\' {
			return p[i+1:]
		}
	}
	return p
}
