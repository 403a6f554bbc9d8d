//go:build !cairncli

package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/internal/upload"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/web"
)

// cairn upload against the real server: ELF, a fat dSYM bundle, and a PE
// whose PDB comes along; every object reaches ok, sentry-cli's own check
// agrees on the debug ids, and a second run sends nothing.
func TestUploadCommand(t *testing.T) {
	s, _ := startTestServer(t)
	tok, _, err := web.CreateToken(context.Background(), s.stores.meta, "default", "ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyFile := func(src, dst string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(dst), 0o755)
		}
		if err == nil {
			err = os.WriteFile(dst, b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	copyFile(fixtures.Get(t, "elf-x86_64-gcc-O2"), filepath.Join(dir, "build", "demo"))
	mac := fixtures.GetDir(t, "macho-fat")
	copyFile(filepath.Join(mac, "demo.dSYM", "Contents", "Resources", "DWARF", "demo"), filepath.Join(dir, "build", "demo.dSYM", "Contents", "Resources", "DWARF", "demo"))
	pe := fixtures.GetDir(t, "pe-x86_64-clang-O2")
	copyFile(filepath.Join(pe, "demo.exe"), filepath.Join(dir, "win", "demo.exe"))
	copyFile(filepath.Join(pe, "demo.pdb"), filepath.Join(dir, "win", "demo.pdb"))
	copyFile("upload.go", filepath.Join(dir, "build", "notes.go"))

	args := []string{"upload", "--url", s.URL, "--token", tok, "--config", "", "--wait", "--json",
		filepath.Join(dir, "build"), filepath.Join(dir, "win", "demo.exe")}
	out, err := runOut(t, args...)
	if err != nil {
		t.Fatalf("cairn upload: %v\n%s", err, out)
	}
	var results []upload.Result
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	names := map[string]upload.Result{}
	for _, r := range results {
		if r.State != "ok" || r.Existed {
			t.Errorf("%s: state %q existed %v %s", r.Path, r.State, r.Existed, r.Detail)
		}
		names[filepath.Base(r.Path)+"@"+filepath.Base(filepath.Dir(r.Path))] = r
	}
	if len(results) != 4 {
		t.Fatalf("uploaded %d files, want 4 (ELF, dSYM, exe, pdb beside it): %+v", len(results), results)
	}
	cli := testtools.SentryCLI(t)
	for _, r := range results {
		check, err := exec.Command(cli, "debug-files", "check", "--json", r.Path).Output()
		if err != nil {
			t.Fatalf("sentry-cli check %s: %v", r.Path, err)
		}
		var rep struct {
			Variants []struct {
				DebugID string `json:"debug_id"`
			} `json:"variants"`
		}
		if err := json.Unmarshal(check, &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Variants) != len(r.DebugIDs) {
			t.Errorf("%s: sentry-cli sees %d objects, cairn uploaded %d", r.Path, len(rep.Variants), len(r.DebugIDs))
		}
		for _, v := range rep.Variants {
			got, err := s.stores.meta.ListDebugFiles(context.Background(), s.ProjectID, meta.DebugFileQuery{DebugID: v.DebugID})
			if err != nil || len(got) == 0 {
				t.Errorf("%s: debug id %s (sentry-cli) not in the index: %v", r.Path, v.DebugID, err)
			}
		}
	}

	// A second run finds everything and sends no bytes.
	out, err = runOut(t, args...)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	results = nil
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Existed || r.SentBytes != 0 {
			t.Errorf("second run %s: existed %v, sent %d", r.Path, r.Existed, r.SentBytes)
		}
	}

	// The table form names every debug id.
	out, err = runOut(t, "upload", "--url", s.URL, "--token", tok, "--config", "", filepath.Join(dir, "win"))
	if err != nil || !strings.Contains(out, "DEBUG ID") || !strings.Contains(out, "already uploaded") {
		t.Fatalf("table: %v\n%s", err, out)
	}
}

// runOut runs the command and returns its standard output alone.
func runOut(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut strings.Builder
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return out.String(), err
}
